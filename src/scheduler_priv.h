/* scheduler_priv.h - what the scheduler's files share: its state, and
 * the helpers of scheduler.c, the lowest of them (its memory held
 * against the files: forgetting jobs, releasing their messages, jobs
 * whose file went missing, names in bad/).  Private to scheduler*.c;
 * scheduler_thread.c's top comment has how the files call each other
 * (one way, from the thread down to scheduler.c).
 *
 * Everything here is touched by the scheduler thread only, except the
 * completion list (done, under done_lock) and wake_fd.
 */
#ifndef MTA_SCHEDULER_PRIV_H
#define MTA_SCHEDULER_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "config.h"
#include "deliver.h"
#include "destlimit.h"
#include "dns.h"
#include "job.h"
#include "jobtab.h"
#include "queue.h"
#include "remote.h"
#include "sched_policy.h"

enum { SCHED_RESCAN = 300 };  /* seconds between whole rescans */
enum { EXPLODE_RETRY = 10 };   /* seconds before retrying a failed explode */
enum { SCAN_RETRY = 2 };       /* seconds before a failed scan is tried again */
enum { FILE_AFTER_MS = 1000 }; /* a first attempt still under way after
                                * this long gets its job files, so that
                                * an operator can see and steer it */

/* one failed recipient waiting to be reported (jt_msg.fails) */
struct failed_rcpt {
	struct failed_rcpt *next;
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

/* a message whose first attempt began at ms (monotonic_ms): filed at
 * ms + FILE_AFTER_MS if it is still under way (sched_file_young) */
struct first_attempt {
	long long ms;
	char id[ENVELOPE_ID_MAX];
};

/* a next hop whose slot came free in this batch of completions */
struct freed_hop {
	enum transport_id tr;
	int released;                /* its line was let go since it came free */
	char hop[TRANSPORT_HOP_MAX];
};

struct sched {
	const struct config *cfg;
	struct queue *q;             /* the queue store; bounces go in by it */
	struct remote_ctx remote;
	struct destlimit *dests;     /* limits and waiting lines */
	int ino_fd, wd_new, wd_rcpt, wd_maildrop, wd_tmp;
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
	char (*filing)[ENVELOPE_ID_MAX]; /* messages whose job files were made
	                             * in their first attempt, to move to mess/ */
	size_t nfiling, filing_cap;
	long long filing_retry;      /* no sched_file_batch before (an error) */
	struct first_attempt *young; /* first attempts in explode order, to */
	size_t young_head, nyoung, young_cap;  /* file after FILE_AFTER_MS */
};


/* sched_limits - the settings of the policy's decisions, from s->cfg */
struct sp_limits sched_limits(const struct sched *s);
/* sched_job_file - the file name of job j into buf[JOB_NAME_MAX] */
void sched_job_file(const struct jt_job *j, char *buf);
/* sched_msg_where - where message id's file is: new/ while the table
 * has it in its first attempt (jt_msg.in_new), else mess/ */
enum queue_dir sched_msg_where(struct sched *s, const char *id);
/* sched_where - the same for a message in hand */
enum queue_dir sched_where(const struct jt_msg *m);
/* sched_message_done - remove a message file (in where: new/ or mess/)
 * whose jobs are all gone */
void sched_message_done(struct sched *s, const char *id, enum queue_dir where);
/* how a message is named by files that are not its jobs (jt_msg.named):
 * SP_NAMED_BAD, a job file in bad/ names it; SP_NAMED_UNKNOWN, bad/
 * could not be read (the message is kept); NAMED_LOOK: read bad/ now */
enum { NAMED_LOOK = -1 };
/* sched_release_message - a message left without jobs in memory: unlink
 * it, or move it to bad/ after a job of it (held, or named has
 * SP_NAMED_BAD; named is NAMED_LOOK to read bad/ now), or keep it in
 * mess/ (logged) if bad/ could not be read: start-up looks at it again
 * (sched_policy_release); where: its file's directory (sched_where) */
void sched_release_message(struct sched *s, const char *id, enum queue_dir where,
                           int held, int named);
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
/* sched_note_missing - j's file is not under its name (taken away by the
 * rename of inotify cookie, 0: removed or not known): confirm, and
 * forget it, after the next batch of inotify events (settle_missing) */
void sched_note_missing(struct sched *s, struct jt_job *j, uint32_t cookie);

#endif
