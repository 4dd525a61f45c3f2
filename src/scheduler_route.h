/* scheduler_route - the route of each job (transport, next hop and
 * recipient), made from its message's envelope once, at explode or at
 * the first dispatch of a job a scan found, and kept with the job
 * (jt_job.route), so that dispatching reads no file.  A new
 * configuration forgets every route.  Routes also say which jobs may
 * share a delivery (sched_group, sched_rides_with).  Private to
 * scheduler*.c; the scheduler thread only. */
#ifndef MTA_SCHEDULER_ROUTE_H
#define MTA_SCHEDULER_ROUTE_H

#include "scheduler_priv.h"

/* sched_route_message - route every job of m without a route (its
 * transport, next hop, recipient) from its envelope, kept with the job */
void sched_route_message(struct sched *s, struct jt_msg *m, const struct envelope *env);
/* sched_forget_routes - a new configuration: routes are made again */
void sched_forget_routes(struct sched *s);
/* sched_use_route - d's transport, next hop, recipient and arrival from
 * job j's route, routed now (from mess/) if it has none; d->transport is
 * -1 when it cannot be known: the delivery finds out why */
void sched_use_route(struct sched *s, struct jt_job *j, struct delivery *d);

/* sched_rides_with - may k (parked, say) go in a delivery of j, route-
 * wise?  A sibling of j on j's route, for a transport that groups */
int sched_rides_with(const struct jt_job *k, const struct jt_job *j);
/* sched_group - d is about to carry job j (admitted, its route in d):
 * the other jobs of j's message that may ride along
 * (sched_policy_joins: waiting, due at now, same transport, next hop and,
 * when the transport says, domain; up to its group) leave the heap
 * (JT_RUNNING) and join d->r[], which is put in recipient order.  Returns
 * d, moved when it grew; out of memory, d as it was (j alone). */
struct delivery *sched_group(struct sched *s, struct jt_job *j,
                             struct delivery *d, long long now);

#endif
