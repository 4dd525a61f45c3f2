/* scheduler_priv.h - what the scheduler's files share: its state and
 * the helpers every part uses.  Private to scheduler*.c.
 *
 *   scheduler.c          the thread: dispatch, completions, start, stop
 *   scheduler_files.c    reading the queue: scans, explode, inotify events
 *   scheduler_dispatch.c starting deliveries: routes (made at explode,
 *                        kept with the job), limits, dead hops
 *   scheduler_outcome.c  applying outcomes: defer, finish, bounces, slots
 *
 * Everything here is touched by the scheduler thread only, except the
 * completion list (done, under done_lock) and wake_fd.
 */
#ifndef MTA_SCHEDULER_PRIV_H
#define MTA_SCHEDULER_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "deliver.h"
#include "destlimit.h"
#include "dns.h"
#include "job.h"
#include "jobtab.h"
#include "queue.h"
#include "remote.h"
#include "scheduler.h"

enum { EXPLODE_RETRY = 10 };   /* seconds before retrying a failed explode */
enum { SCAN_RETRY = 2 };       /* seconds before a failed scan is tried again */

/* one failed recipient waiting to be reported (jt_msg.fails) */
struct failure {
	struct failure *next;
	struct jt_job *job;
	struct status st;
	char rcpt[ADDR_MAX];
	char remote_mta[DNS_NAME_MAX];
	char diag[SMTP_REPLY_TEXT_MAX];
};

/* a job whose file vanished (sched.missing) and the inotify cookie of
 * the rename that took it away (0: removed, or not known) */
struct missing {
	struct jt_job *job;
	uint32_t cookie;
};

/* a next hop whose slot came free in this batch of completions */
struct freed_hop {
	enum transport_id tr;
	char hop[TRANSPORT_HOP_MAX];
};

struct sched {
	const struct config *cfg;
	struct queue *q;             /* bounces are queued through it */
	struct remote_ctx remote;
	struct destlimit *dests;     /* limits and waiting lines */
	int tmp_fd, new_fd, mess_fd, rcpt_fd, bad_fd;
	int ino_fd, wd_new, wd_rcpt;
	int wake_fd;                 /* eventfd: completions or stop */
	atomic_int stopping;
	pthread_t thread;

	pthread_mutex_t done_lock;   /* guards done */
	struct delivery *done;       /* completed deliveries, newest first */

	/* everything below: the scheduler thread only */
	struct jobtab *t;
	unsigned running;
	unsigned long seq;
	long long next_rescan;
	long long paused_until;      /* no new deliveries before (queue error) */
	int scan_owed;               /* the last scan of rcpt/ failed */
	const char *scan_dir;        /* the last scan that failed: of what */
	int scan_error;              /* and its errno */
	int names_unread;            /* start-up could not read bad/ */
	unsigned name_gen;           /* number of the last sched_mark_names */
	struct missing *missing;     /* jobs whose file vanished, to confirm */
	size_t nmissing, missing_cap;
	struct freed_hop *freed;     /* hops with a slot come free, to let */
	size_t nfreed, freed_cap;    /* their lines go (sched_release_freed) */
	char (*arrived)[ENVELOPE_ID_MAX]; /* new/ names seen by inotify */
	unsigned char *created;      /* for each: seen created, not renamed */
	size_t narrived, arrived_cap;
};


/* sched_postpone - a job taken from the heap waits again until due, its
 * file renamed to match; 0, or -1 (logged) when it keeps its old name */
int sched_postpone(struct sched *s, struct jt_job *j, long long due);
/* sched_job_file - the file name of job j into buf[JOB_NAME_MAX] */
void sched_job_file(const struct jt_job *j, char *buf);
/* sched_quarantine - move dir/name into bad/ (kept, never delivered) */
void sched_quarantine(struct sched *s, int dir_fd, const char *dir,
                      const char *name, const char *why);
/* sched_message_done - remove a message file whose jobs are all gone */
void sched_message_done(struct sched *s, const char *id);
/* how a message is named by files that are not its jobs (jt_msg.named):
 * NAMED_BAD, a job file in bad/ names it; NAMED_UNKNOWN, bad/ could not
 * be read (the message is kept) */
enum { NAMED_BAD = 2, NAMED_UNKNOWN = 4, NAMED_LOOK = -1 };
/* sched_release_message - a message left without jobs in memory: unlink
 * it, or move it to bad/ after a job of it (held, or named has NAMED_BAD;
 * named is NAMED_LOOK to read bad/ now), or keep it in mess/ (logged) if
 * bad/ could not be read (NAMED_UNKNOWN): start-up looks at it again */
void sched_release_message(struct sched *s, const char *id, int held, int named);
/* sched_mark_names - one pass over bad/: every known message
 * that a name there names (as a dot-separated part) gets its named bits,
 * valid while named_gen == name_gen; 0, or -1 (logged) when bad/ could
 * not be read to its end */
int sched_mark_names(struct sched *s);
/* sched_unlist - take j off the list of missing jobs, if it is there */
void sched_unlist(struct sched *s, struct jt_job *j);
/* sched_forget_job - drop j from memory, its message with its last job */
void sched_forget_job(struct sched *s, struct jt_job *j);
/* sched_drop_removed - the same for a job whose file an operator removed
 * or renamed away: the message follows a job file of it in bad/ (named
 * as for sched_release_message) */
void sched_drop_removed(struct sched *s, struct jt_job *j, int named);
/* sched_note_missing - j's file is not under its name: confirm (and
 * forget it) after the next batch of inotify events */
void sched_note_missing(struct sched *s, struct jt_job *j);
/* sched_file_exists - does dir_fd/name exist? */
int sched_file_exists(int dir_fd, const char *name);
/* sched_scan_dir - call fn for every entry of dir_fd; 0, or -1 with
 * errno set when it could not be read to its end */
int sched_scan_dir(struct sched *s, int dir_fd,
                   void (*fn)(struct sched *s, const char *name,
                              unsigned char type));
/* sched_found_mess - a message file in mess/ at start-up; type is its
 * d_type (anything but a regular file goes to bad/) */
void sched_found_mess(struct sched *s, const char *name, unsigned char type);
/* sched_drop_jobless - remove a message without jobs (jobtab_each_msg) */
void sched_drop_jobless(void *arg, struct jt_msg *m);
/* sched_rescan - bring memory in line with the directories; 0, or -1
 * (logged) when rcpt/ or new/ could not be read: then no job is taken
 * for gone, and it is tried again within SCAN_RETRY seconds */
int sched_rescan(struct sched *s);
/* sched_read_events - drain inotify and act on what it says */
void sched_read_events(struct sched *s);
/* sched_route_message - route every job of m without a route (its
 * transport, next hop, recipient) from its envelope, kept with the job */
void sched_route_message(struct sched *s, struct jt_msg *m, const struct envelope *env);
/* sched_forget_routes - a new configuration: routes are made again */
void sched_forget_routes(struct sched *s);
/* sched_dispatch - start deliveries for due jobs while there is room */
void sched_dispatch(struct sched *s, pthread_attr_t *attr);
/* sched_report_failures - report m's failed recipients in one bounce
 * once none of m's deliveries is running (or parked) any more */
void sched_report_failures(struct sched *s, struct jt_msg *m);
/* sched_unwait - a job out of a waiting line (destlimit.h) goes now; NULL
 * is nothing */
void sched_unwait(struct sched *s, struct jt_job *j);
/* sched_release_freed - let go the jobs waiting for the hop slots that
 * came free since the last call (once per hop: see scheduler_outcome.c) */
void sched_release_freed(struct sched *s);
/* sched_completed - apply one delivery's outcome */
void sched_completed(struct sched *s, struct delivery *d);

#endif
