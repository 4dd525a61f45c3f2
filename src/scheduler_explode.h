/* scheduler_explode - the scheduler taking new messages into jobs, in
 * batches (one fsync of rcpt/ and one of mess/ for many messages).
 * Private to scheduler*.c; the scheduler thread only. */
#ifndef MTA_SCHEDULER_EXPLODE_H
#define MTA_SCHEDULER_EXPLODE_H

#include "scheduler_priv.h"


/* sched_arrived - a message in new/ (created: seen by IN_CREATE, made by
 * a link or written in place by hand): explode it with the next batch
 * (type: its d_type, or DT_UNKNOWN), unless a receiver is still
 * committing it (queue_msg_committing: its close brings it back); 0, or
 * -1 when out of memory (a rescan comes soon) */
int sched_arrived(struct sched *s, const char *name, unsigned char type,
                  unsigned char created);
/* sched_closed_new - a receiver's close of new/name (IN_CLOSE_WRITE):
 * its commit decided, explode it with the next batch unless queued
 * already; as sched_arrived */
int sched_closed_new(struct sched *s, const char *name);
/* sched_forget_untaken - forget the jobs in memory of message id, not
 * (or no longer) taken into mess/: none of them has started */
void sched_forget_untaken(struct sched *s, const char *id);
/* sched_explode - turn every message that arrived into jobs, with one
 * fsync of rcpt/ and one of mess/ for the whole batch */
void sched_explode(struct sched *s);

#endif
