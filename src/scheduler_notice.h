/* scheduler_notice - the scheduler's reports to a sender that are not
 * bounces (bounce.h composes them all): a delay warning once a recipient
 * has waited --delay-warning, a success report for NOTIFY=SUCCESS.
 * Private to scheduler*.c; the scheduler thread only.  Both read the
 * message from mess/, so they are called while its job still holds it.
 */
#ifndef MTA_SCHEDULER_NOTICE_H
#define MTA_SCHEDULER_NOTICE_H

#include "scheduler_priv.h"

/* sched_warn_delay - d's recipient x deferred at now, its job's record
 * info: send the delay warning if it is due and was not sent
 * (info->warned); 1 when it is done with (sent, or none wanted: null sender, NOTIFY= without
 * DELAY): the caller marks the job warned; 0 when not due, or not
 * written (tried again at the next deferral) */
int sched_warn_delay(struct sched *s, const struct delivery *d,
                     const struct delivery_rcpt *x,
                     const struct job_info *info, long long now);
/* sched_warn_group - before d's outcomes are applied: the delay warnings
 * due for two or more of its recipients in one report, each of them
 * marked warned_now (defer() records it); nothing for fewer.  now: the
 * same clock reading the outcomes are applied with, so that the group
 * and its recipients agree on whether a warning is due */
void sched_warn_group(struct sched *s, struct delivery *d, long long now);
/* sched_report_success - d's recipient x delivered: a "delivered" or
 * "relayed" report when it asked for NOTIFY=SUCCESS and the server that took
 * it does not report itself (no DSN); failures are logged only */
void sched_report_success(struct sched *s, const struct delivery *d,
                          const struct delivery_rcpt *x);

#endif
