/* sched_policy - the scheduler's decisions, as functions of the facts it
 * hands them: what an attempt came to, how often and how long a recipient
 * has been tried, whether siblings still run, what names a message.  The
 * scheduler gathers the facts (its memory, the queue store) and applies
 * the decision through the store (queue.h); nothing here does either.
 *
 * Contract: pure functions; no I/O, no clock (now is a fact handed in),
 * no threads, no state: callable from anywhere, tested without a file
 * system (t/unit/test_sched_policy.c).
 */
#ifndef MTA_SCHED_POLICY_H
#define MTA_SCHED_POLICY_H

#include "status.h"

/* the settings the decisions depend on (config.h names them --retry,
 * --attempts, --max-queue-time, --dead-hop-time) */
struct sp_limits {
	unsigned retry;            /* seconds between attempts */
	unsigned attempts;         /* counted rounds before a recipient fails */
	unsigned max_queue_time;   /* seconds a message may be queued */
	unsigned dead_hop_time;    /* seconds a silent next hop is skipped */
};

/* what a finished attempt means for its job */
enum sp_outcome {
	SP_DROP,                   /* its file was removed meanwhile: forget it */
	SP_BAD_JOB,                /* the job is unusable: to bad/ */
	SP_BAD_MESSAGE,            /* its message is unusable: both to bad/ */
	SP_DONE,                   /* delivered: the recipient is done */
	SP_RETRY,                  /* a temporary failure: sched_policy_retry */
	SP_FAIL                    /* failed for good: report it */
};
/* how the delivery was marked unusable (deliver.h's bad) */
enum sp_bad { SP_SOUND, SP_JOB_UNUSABLE, SP_MESSAGE_UNUSABLE };
/* sched_policy_outcome - the fate of a job whose attempt ended with a
 * status of kind, bad as the delivery found it; gone: its file was
 * removed while it ran */
enum sp_outcome sched_policy_outcome(enum status_kind kind, enum sp_bad bad, int gone);

/* the verdict on a temporary failure */
struct sp_retry {
	enum { SP_DEFER, SP_GIVE_UP, SP_EXPIRED } verdict;
	unsigned attempts;         /* rounds counted, this one included */
	long long first;           /* first failed attempt (epoch seconds) */
	long long due;             /* SP_DEFER: the next attempt */
};
/* sched_policy_retry - after a temporary failure at now: attempts rounds
 * were counted before, the first failed at first (0: none yet); an
 * uncounted round (no verdict reached: DNS, a dead next hop) is not
 * counted.  The recipient gives up after l->attempts rounds, or expires
 * once its message (arrived at arrival; 0: not known) has been queued
 * l->max_queue_time; else it is deferred --retry seconds. */
struct sp_retry sched_policy_retry(const struct sp_limits *l, unsigned attempts,
                                   long long first, int uncounted,
                                   long long arrival, long long now);

/* sched_policy_report_now - may the failed recipients of a message be
 * reported (one bounce for all)?  Only once none of its other jobs is
 * being delivered, or waits for a slot: their failures join the report */
int sched_policy_report_now(int failures, int siblings_running);

/* what becomes of a message left without jobs */
enum sp_release {
	SP_RELEASE_UNLINK,         /* done: unlink mess/ID */
	SP_RELEASE_BAD,            /* a job of it is in bad/: it follows */
	SP_RELEASE_KEEP            /* bad/ could not be read: kept, looked at
	                            * again at start-up */
};
/* the names of a message found in bad/ */
enum { SP_NAMED_BAD = 2, SP_NAMED_UNKNOWN = 4 };
/* sched_policy_release - held: a job of it went to bad/ while known;
 * named: SP_NAMED_* bits a scan of bad/ found (or could not) */
enum sp_release sched_policy_release(int held, int named);

/* what a due job does when its limits have been checked */
enum sp_admit {
	SP_GO,                     /* start its delivery */
	SP_PARK,                   /* wait in the line of what is full */
	SP_DEAD_DEFER,             /* its next hop is dead: defer, uncounted */
	SP_IGNORE_DEAD             /* dead, but an operator made it due: check
	                            * the limits again without the dead mark */
};
/* sched_policy_admit - the fate of a due job whose limits (destlimit.h)
 * found its next hop dead, or found its hop or transport full (full);
 * forced: an operator's rename made it due */
enum sp_admit sched_policy_admit(int dead, int full, int forced);

/* what is known of a sibling of a job about to start, for grouping */
struct sp_sibling {
	int waiting;               /* in the heap (jt_state JT_WAITING) */
	long long due;             /* its due time */
	int missing, gone;         /* its file vanished, or was removed */
	int same_route;            /* same transport and next hop as the
	                            * delivery (and domain, when the
	                            * transport groups by domain) */
};
/* sched_policy_joins - may a sibling ride along in the delivery of a job
 * of its message starting at now, which carries carried recipients of at
 * most group (the transport's, transport.h)?  Only a job waiting and due
 * (not one returned by an operator, DUE 0: it is bounced untried, not
 * delivered; not one whose file went away) on the same route, while
 * there is room.  A held job is never due. */
int sched_policy_joins(const struct sp_sibling *k, long long now,
                       unsigned carried, unsigned group);

/* sched_policy_dead_time - how long a next hop that did not answer is
 * remembered: --dead-hop-time, never longer than --retry, so that the
 * job that found it dead is tried at its own next due time */
unsigned sched_policy_dead_time(const struct sp_limits *l);

#endif
