/* scheduler - the scheduler thread: turns queued messages into recipient
 * jobs, starts a delivery thread for each job when it is due, and applies
 * the outcomes to the queue (mta-queue(5) has the file protocol).
 *
 *   start-up: watch queue/new and queue/rcpt (inotify) FIRST, then scan:
 *     mess/ -> known messages; rcpt/ -> jobs (a name that does not parse,
 *     or a job whose message is nowhere, goes to bad/); new/ -> explode;
 *     finally unlink mess/ files that have no jobs left.
 *   explode (new/ID): parse its envelope (unparseable -> bad/) and make
 *     a job in memory per recipient: the first attempt runs from new/ID,
 *     writing nothing; done, new/ID is unlinked.  A job file is made
 *     only when the message is filed: at a deferral, or when its first
 *     attempt has run for FILE_AFTER_MS (for the operator to see): an
 *     empty job file rcpt/DUE.ID.N for each job it still has, fsync
 *     rcpt/, link new/ID as mess/ID, fsync mess/, unlink new/ID (never a
 *     rename: see mta-queue(5)).  A message found in new/ with job files
 *     (a crash while it was filed) gets one for every recipient that has
 *     none (under any DUE) and is taken the same way before any delivery.
 *     Done in batches, so one directory fsync covers many messages.
 *   dispatch: while fewer than --max-deliveries run, route each job
 *     whose DUE has come (transport and next hop, transport.h) and check
 *     its limits (destlimit.h): within them, start a detached delivery
 *     thread, which for a transport that groups (transport.h) carries
 *     the job's waiting, due siblings on the same route too (one thread,
 *     one slot, several recipients, each outcome its own job's); over one, the job waits in a line, out of the heap, until a
 *     slot frees; for a next hop known dead, defer it at once, uncounted.
 *   outcome (from a delivery thread, through the completion queue):
 *     delivered -> unlink the job; deferred -> rename it to now+--retry
 *     and record attempts and the error in it; after --attempts rounds, or
 *     a permanent failure -> the recipient waits (out of the heap) until no
 *     other delivery of its message runs, then all failed recipients of
 *     the message go into one report (bounce.h) and their jobs are
 *     unlinked; the last job of a message gone -> unlink mess/ID (new/ID
 *     in its first attempt).
 *   operators: a job renamed to another DUE is rescheduled; a job removed
 *     is forgotten (its message too, with its last job).  IN_Q_OVERFLOW and
 *     a timer every SCHED_RESCAN seconds (scheduler_priv.h) rescan the
 *     directories.
 * It sleeps in poll() until the next due time, an inotify event, or a
 * completion: it never busy-waits.
 *
 * Threads: the scheduler thread alone owns the job table (jobtab.h) and
 * has job files renamed and unlinked (by the queue store, queue.h: the
 * scheduler decides, sched_policy.h, the store does).  Delivery threads only read the message,
 * deliver, and post their outcome to the completion queue (a list under
 * done_lock, plus an eventfd the scheduler polls).
 */
#ifndef MTA_SCHEDULER_H
#define MTA_SCHEDULER_H

#include <stddef.h>

#include "config.h"
#include "queue.h"

struct sched;

/* sched_start - recover the queue and start the scheduler thread; bounces
 * are queued through q (borrowed); cfg is a reference the scheduler takes
 * over: each round it takes the current snapshot instead (config.h), and
 * each delivery keeps the one it started with; 0, or -1 with err set */
int sched_start(struct sched **s, const struct config *cfg, struct queue *q,
                char *err, size_t errlen);
/* sched_stop - start no more deliveries, wait up to grace_seconds for
 * running ones to report, stop the thread */
void sched_stop(struct sched *s, unsigned grace_seconds);

#endif
