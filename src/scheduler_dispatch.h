/* scheduler_dispatch - the scheduler starting deliveries within the
 * limits.  Private to scheduler*.c; the scheduler thread only. */
#ifndef MTA_SCHEDULER_DISPATCH_H
#define MTA_SCHEDULER_DISPATCH_H

#include <pthread.h>

#include "scheduler_priv.h"


/* sched_dispatch - start deliveries for due jobs while there is room */
void sched_dispatch(struct sched *s, pthread_attr_t *attr);

#endif
