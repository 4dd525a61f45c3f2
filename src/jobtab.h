/* jobtab - the scheduler's memory: queued messages, their recipient jobs,
 * and a min-heap of the jobs waiting for their due time.
 *
 * Pure data structure: no I/O, no clock, no threads.  A message is known
 * by its queue ID and counts its jobs; a job is (message, recipient
 * number N, due time; jobs due at the same time leave in the order they
 * were made) and is either waiting (in the heap) or out of the heap
 * (running, parked or failed: enum jt_state) until the scheduler stops it.
 * Memory: about 56 bytes per job plus 8 in the heap, and about 88 per
 * message (see README, Benchmarks); the scheduler's route of a job (its
 * transport, next hop and recipient) adds about 16 bytes and two names.
 *
 * Contract: owned and used by the scheduler thread only; not thread-safe.
 * Pointers to jobs and messages stay valid until jobtab_remove() of the
 * job (a message is freed with its last job, or by jobtab_drop_msg()).
 */
#ifndef MTA_JOBTAB_H
#define MTA_JOBTAB_H

#include <stddef.h>

#include "envelope.h"

struct jobtab;
struct jt_msg;

/* where a job is in its life: waiting in the heap, or out of it in one
 * of the other states (jobtab_start takes it out as JT_RUNNING; the
 * scheduler moves it on to JT_PARKED or JT_FAILED; jobtab_stop puts it
 * back as JT_WAITING) */
enum jt_state {
	JT_WAITING,                /* in the heap until its due time */
	JT_RUNNING,                /* a delivery thread has it */
	JT_PARKED,                 /* in a line for a slot (destlimit.h) */
	JT_FAILED                  /* failed for good, waiting for its report */
};

struct jt_job {
	long long due;             /* epoch seconds; also the file name's DUE */
	struct jt_msg *msg;
	struct jt_job *next;       /* the message's other jobs */
	unsigned n;                /* recipient number */
	unsigned heap_pos;         /* index in the heap while waiting */
	unsigned age;              /* order of making: of two jobs due in the
	                            * same second, the older goes first */
	unsigned char state;       /* enum jt_state */
	/* independent of the state: */
	unsigned char missing;     /* its file vanished; confirm before forgetting */
	unsigned char gone;        /* deleted while out of the heap: forget it
	                            * when it comes back */
	unsigned char listed;      /* on the scheduler's list of missing jobs */
	unsigned char forced;      /* due time set by jobtab_set_due (an
	                            * operator's rename): tried at once even
	                            * when its next hop is known dead */
	void *route;               /* the scheduler's, malloc'd: how the job is
	                            * delivered (NULL: not known yet); freed
	                            * with the job */
};

struct jt_msg {
	struct jt_msg *hnext;      /* hash chain */
	struct jt_job *jobs;
	unsigned pending;          /* jobs of this message */
	unsigned char held;        /* a job of it went to bad/: never unlinked */
	unsigned char in_new;      /* the scheduler's: its file is still new/ID
	                            * (its first attempt), not mess/ID */
	unsigned char unfiled;     /* the scheduler's: its jobs have no files
	                            * (in_new: the file in new/ keeps every
	                            * recipient pending) */
	unsigned char filing;      /* the scheduler's: job files made, its move
	                            * to mess/ queued (sched_file_batch) */
	unsigned char synced;      /* the scheduler's, while filing: its job
	                            * files made durable by an fsync of rcpt/ */
	unsigned char in_batch;    /* the scheduler's: queued for its explode
	                            * batch by a job file found before it */
	unsigned char named;       /* the scheduler's: names seen in a scan, */
	unsigned named_gen;        /* valid in the scan of this number */
	void *fails;               /* the scheduler's failures to report */
	long long arrival;         /* the scheduler's: from the envelope, when
	                            * a job of it was routed (0: not yet) */
	char id[ENVELOPE_ID_MAX];
};

/* jobtab_new - an empty table, or NULL */
struct jobtab *jobtab_new(void);
/* jobtab_free - free everything */
void jobtab_free(struct jobtab *t);

/* jobtab_msg - the message with this ID, or NULL */
struct jt_msg *jobtab_msg(struct jobtab *t, const char *id);
/* jobtab_add_msg - the message with this ID, created (no jobs) if new */
struct jt_msg *jobtab_add_msg(struct jobtab *t, const char *id);
/* jobtab_drop_msg - forget a message that has no jobs */
void jobtab_drop_msg(struct jobtab *t, struct jt_msg *m);
/* jobtab_job - the job N of message m, or NULL */
struct jt_job *jobtab_job(struct jt_msg *m, unsigned n);
/* jobtab_add - a new waiting job; NULL if out of memory or it exists */
struct jt_job *jobtab_add(struct jobtab *t, struct jt_msg *m, unsigned n,
                          long long due);
/* jobtab_remove - forget a job; returns the jobs its message has left
 * (when 0 the message is freed too) */
unsigned jobtab_remove(struct jobtab *t, struct jt_job *j);
/* jobtab_set_due - move a waiting job to another due time, which the
 * scheduler did not choose: marks it forced */
void jobtab_set_due(struct jobtab *t, struct jt_job *j, long long due);

/* jobtab_next - the waiting job due first, or NULL */
struct jt_job *jobtab_next(const struct jobtab *t);
/* jobtab_start - the job leaves the heap: JT_RUNNING, a delivery thread
 * has it (the scheduler may make it JT_PARKED or JT_FAILED after) */
void jobtab_start(struct jobtab *t, struct jt_job *j);
/* jobtab_stop - a job out of the heap waits again (JT_WAITING), due at due */
void jobtab_stop(struct jobtab *t, struct jt_job *j, long long due);

/* jobtab_jobs / jobtab_waiting / jobtab_messages - counts */
size_t jobtab_jobs(const struct jobtab *t);
size_t jobtab_waiting(const struct jobtab *t);
size_t jobtab_messages(const struct jobtab *t);

/* jobtab_each_msg - call fn for every message (fn may drop it) */
void jobtab_each_msg(struct jobtab *t, void (*fn)(void *arg, struct jt_msg *m),
                     void *arg);

#endif
