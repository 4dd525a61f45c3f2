/* queue_priv.h - the queue store's state, shared by queue*.c only.
 * See queue.h for the contract. */
#ifndef MTA_QUEUE_PRIV_H
#define MTA_QUEUE_PRIV_H

#include <pthread.h>
#include <stdatomic.h>

#include "group_sync.h"
#include "queue.h"

enum { QUEUE_COMMITTED_RING = 256 };

enum { QUEUE_PATH_MAX = 4096 };

struct queue {
	char dir[QUEUE_PATH_MAX];
	int lock_fd;                  /* -1: attached, not the owner */
	int fd[QUEUE_NDIRS];          /* the directories, for *at(); -1: absent */
	atomic_ulong seq;             /* ID sequence number */
	/* The highest time (in microseconds, an ID's first 13 digits) of any
	 * name seen in new/ or mess/ that this process may not have made: an
	 * ID made while the clock is not past it is looked for there before
	 * use (queue_id_in_use); one made later cannot name an older message.
	 * Raised at start-up and by every read of a message (queue_note_id),
	 * through the pointer: a cache beside the files, which the readers'
	 * const does not cover.  ULLONG_MAX: always look (a queue attached,
	 * not opened). */
	atomic_ullong *id_floor;      /* &id_floor_at */
	atomic_ullong id_floor_at;
	queue_clock_fn *clock;        /* microseconds for IDs (tests: fixed) */
	queue_sync_fn *sync;          /* directory fsync (tests: failing) */
	int journal_syncs_new;        /* a file's fsync makes its rename into
	                               * new/ durable: new/ is not fsynced
	                               * (queue_trust_journal) */
	dev_t journal_dev;            /* new/'s file system, when trusted */

	struct group_sync new_sync;   /* the group commit of new/ */
	/* committing and the committed ring: under sync_lock */
	pthread_mutex_t sync_lock;
	struct queue_msg *committing; /* renamed into new/, commit undecided */
	/* IDs whose commit succeeded here, not yet exploded (a ring: the
	 * oldest is forgotten, and then only checked again: safe) */
	char committed[QUEUE_COMMITTED_RING][ENVELOPE_ID_MAX];
	unsigned committed_next;
};

#endif
