/* scheduler_dispatch - the scheduler starting deliveries within the
 * limits.  Private to scheduler*.c; the scheduler thread only, but for
 * sched_pool_end (sched_stop's). */
#ifndef MTA_SCHEDULER_DISPATCH_H
#define MTA_SCHEDULER_DISPATCH_H

#include <pthread.h>

#include "scheduler_priv.h"


/* sched_dispatch - start deliveries for due jobs while there is room */
void sched_dispatch(struct sched *s, pthread_attr_t *attr);

/* sched_pool_end - the idle delivery threads end now, waited for a
 * moment (at most 2 s) and joined; for the daemon's stop, once no
 * delivery runs */
void sched_pool_end(void);

/* sched_pool_reap - join the delivery threads that have ended; for the
 * daemon's stop while deliveries still run (those are left running) */
void sched_pool_reap(void);

#endif
