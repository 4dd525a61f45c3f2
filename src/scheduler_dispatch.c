/* scheduler_dispatch.c - the scheduler starting deliveries: each due job
 * takes its route (scheduler_route.c: transport and next hop, made at
 * explode and kept with the job), then the limits are
 * checked before any thread starts (destlimit.h): a job over a limit
 * waits in a line, out of the heap and keeping its file name, until a
 * delivery that holds a slot it needs ends; a job for a dead next hop is
 * deferred at once, not counted as an attempt.  A job of a transport
 * that groups (transport.h) takes the other due jobs of its message on
 * its route along in its delivery (sched_group): one thread, one slot,
 * several recipients.  See scheduler_priv.h. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "scheduler_dispatch.h"
#include "scheduler_outcome.h"
#include "scheduler_route.h"

/* delivery_thread - body of a delivery thread */
static void *delivery_thread(void *arg)
{
	struct delivery *d = arg;
	struct sched *s = d->owner;
	uint64_t one = 1;

	deliver_run(d);
	pthread_mutex_lock(&s->done_lock);
	d->next = s->done;
	s->done = d;
	pthread_mutex_unlock(&s->done_lock);
	if (write(s->wake_fd, &one, sizeof one) < 0) {
		/* an eventfd write only fails on counter overflow: it is awake */
	}
	return NULL;
}

/* The delivery threads that stay alive between deliveries.  A thread
 * that finished its delivery waits here up to POOL_IDLE seconds for the
 * next one, instead of exiting and letting the next delivery pay a
 * thread's start and end (clone, exit, a wake-up of the new thread).  It
 * is still one thread per delivery in flight: a delivery is handed over
 * only when an idle thread is there to take it alone (pool_free counts
 * the idle threads that no delivery has claimed yet); otherwise a new
 * thread starts.  Deliveries handed over wait in pool_queue (linked by
 * d->next, unused until the completion list takes it).  Process-wide:
 * the threads know no scheduler (a delivery names its own, d->owner).
 * Idle threads end on their own after POOL_IDLE seconds, or at once when
 * the daemon stops (sched_pool_end).  They are joinable: one that ended
 * leaves its record on pool_ended, and the next thread started, or the
 * daemon's stop (sched_pool_end, sched_pool_reap), joins it, so that at
 * exit none is left half gone for a leak checker to count.  They are
 * named "mta-delivery" (ps -L). */
enum { POOL_IDLE = 10, POOL_END_WAIT = 2 };

/* a pool thread, for its join once it has ended */
struct pool_member {
	pthread_t id;
	struct delivery *first;       /* its first delivery */
	struct pool_member *next;     /* on pool_ended */
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t pool_work = PTHREAD_COND_INITIALIZER;
static pthread_cond_t pool_gone = PTHREAD_COND_INITIALIZER;
static struct delivery *pool_queue;   /* handed over, not yet taken */
static unsigned pool_free;            /* idle threads not yet claimed */
static unsigned pool_threads;         /* pool threads not yet ended */
static int pool_ending;               /* idle threads end now */
static struct pool_member *pool_ended;  /* ended, not yet joined */

/* pool_thread - deliveries, one after the other, until idle too long */
static void *pool_thread(void *arg)
{
	struct pool_member *me = arg;
	struct delivery *d = me->first;
	struct timespec until;

	/* for ps -L and top -H (at most 15 bytes) */
	pthread_setname_np(pthread_self(), "mta-delivery");
	pthread_mutex_lock(&pool_lock);
	for (;;) {
		pthread_mutex_unlock(&pool_lock);
		delivery_thread(d);
		pthread_mutex_lock(&pool_lock);
		pool_free++;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += POOL_IDLE;
		while (pool_queue == NULL && !pool_ending &&
		       pthread_cond_timedwait(&pool_work, &pool_lock, &until) == 0)
			;
		if (pool_queue == NULL) {   /* idle too long, or stopping */
			pool_free--;
			break;
		}
		/* pool_free was taken when this delivery was handed over */
		d = pool_queue;
		pool_queue = d->next;
		d->next = NULL;
	}
	me->next = pool_ended;
	pool_ended = me;
	if (--pool_threads == 0)
		pthread_cond_broadcast(&pool_gone);
	pthread_mutex_unlock(&pool_lock);
	return NULL;
}

/* join_members - join and free the ended threads of list m (taken off
 * pool_ended under the lock) */
static void join_members(struct pool_member *m)
{
	while (m != NULL) {
		struct pool_member *next = m->next;

		pthread_join(m->id, NULL);
		free(m);
		m = next;
	}
}

/* sched_pool_reap - see scheduler_dispatch.h (each ended thread is at
 * most returning from pool_thread: a short wait) */
void sched_pool_reap(void)
{
	struct pool_member *m;

	pthread_mutex_lock(&pool_lock);
	m = pool_ended;
	pool_ended = NULL;
	pthread_mutex_unlock(&pool_lock);
	join_members(m);
}

/* sched_pool_end - see scheduler_dispatch.h */
void sched_pool_end(void)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += POOL_END_WAIT;
	pthread_mutex_lock(&pool_lock);
	pool_ending = 1;
	pthread_cond_broadcast(&pool_work);
	while (pool_threads > 0 &&
	       pthread_cond_timedwait(&pool_gone, &pool_lock, &until) == 0)
		;
	/* a scheduler started again in this process has its pool again */
	if (pool_threads == 0)
		pool_ending = 0;
	pthread_mutex_unlock(&pool_lock);
	sched_pool_reap();
}

/* pool_start - d to an idle delivery thread, or to a new one (attr:
 * joinable); 0, or -1 when no thread could be started */
static int pool_start(struct delivery *d, pthread_attr_t *attr)
{
	struct pool_member *m, *ended;

	pthread_mutex_lock(&pool_lock);
	if (pool_free > 0) {
		pool_free--;
		d->next = pool_queue;
		pool_queue = d;
		pthread_mutex_unlock(&pool_lock);
		/* after the unlock: the woken thread need not wait for it */
		pthread_cond_signal(&pool_work);
		return 0;
	}
	/* a new thread: first join those that ended (off the hot path of a
	 * hand-over, and bounded by how many threads there ever were) */
	ended = pool_ended;
	pool_ended = NULL;
	pool_threads++;
	pthread_mutex_unlock(&pool_lock);
	join_members(ended);
	if ((m = malloc(sizeof *m)) != NULL) {
		m->first = d;
		m->next = NULL;
		if (pthread_create(&m->id, attr, pool_thread, m) == 0)
			return 0;
		free(m);
	}
	pthread_mutex_lock(&pool_lock);
	if (--pool_threads == 0)
		pthread_cond_broadcast(&pool_gone);
	pthread_mutex_unlock(&pool_lock);
	return -1;
}

/* hand_on - a job that may have left a line of transport tr for a free
 * slot takes none (it waits for its hop, or its hop is dead): the next
 * job waiting for tr goes instead, or that slot could stay unused */
static void hand_on(struct sched *s, enum transport_id tr,
                    const struct config *cfg)
{
	if (destlimit_running(s->dests, tr) < transport_limit(cfg, tr))
		sched_unwait_transport(s, tr);
}

/* dead_hop_defer - j's next hop did not answer lately: defer j now,
 * without a thread and without counting an attempt */
static void dead_hop_defer(struct sched *s, struct jt_job *j, struct delivery *d)
{
	char qrcpt[LOG_VALUE_MAX], qerr[LOG_LINE_MAX / 2];

	d->r[0].result = status_make(ST_TEMP, 4, 4, "Not tried: next hop %s did "
	                             "not answer lately (remembered until %lld)",
	                             d->hop, destlimit_dead_until(s->dests, d->hop));
	d->uncounted = UNCOUNTED_DEAD_HOP;
	log_event("deferred", "id=%s rcpt=%s via=%s time=0ms error=%s", d->id,
	          log_addr(qrcpt, sizeof qrcpt, d->r[0].rcpt),
	          transport_table[d->transport].name,
	          log_quote(qerr, sizeof qerr, d->r[0].result.text));
	jobtab_start(s->t, j);
	s->running++;               /* as if it ran: sched_completed counts it off */
	sched_completed(s, d);
}

/* returned_by_operator - j was renamed to DUE JOB_DUE_BOUNCE (mta-queue
 * --bounce): it fails now, untried, and its sender gets the bounce */
static void returned_by_operator(struct sched *s, struct jt_job *j,
                                 struct delivery *d)
{
	d->r[0].result = sched_returned_status();
	jobtab_start(s->t, j);
	s->running++;               /* as if it ran: sched_completed counts it off */
	sched_completed(s, d);
}

/* wait_for_slot - j waits in the line of what is full (why) */
static void wait_for_slot(struct sched *s, struct jt_job *j,
                          const struct delivery *d, enum dl_verdict why,
                          long long now)
{
	char qrcpt[LOG_VALUE_MAX], qhop[LOG_VALUE_MAX];
	enum transport_id tr = (enum transport_id)d->transport;

	log_addr(qrcpt, sizeof qrcpt, d->r[0].rcpt);
	if (why == DL_HOP)
		log_event("delivery-busy", "id=%s rcpt=%s dest=%s", d->id, qrcpt,
		          log_quote(qhop, sizeof qhop, d->hop));
	else
		log_event("transport-busy", "id=%s rcpt=%s via=%s", d->id, qrcpt,
		          transport_table[tr].name);
	jobtab_start(s->t, j);
	j->state = JT_PARKED;
	if (destlimit_wait(s->dests, why, tr, d->hop, j) < 0) {
		j->state = JT_RUNNING;  /* out of the heap, in no line */
		sched_postpone(s, j, now + 1);
		return;
	}
	if (why == DL_HOP)
		hand_on(s, tr, d->cfg);
}

/* sched_dispatch - start deliveries for due jobs while there is room */
void sched_dispatch(struct sched *s, pthread_attr_t *attr)
{
	long long now = (long long)time(NULL);
	size_t budget;
	struct jt_job *j;

	sched_release_freed(s);
	budget = jobtab_jobs(s->t) + 1;   /* each job decided once */

	while (budget-- > 0 && now >= s->paused_until &&
	       s->running < s->cfg->max_deliveries &&
	       (j = jobtab_next(s->t)) != NULL && j->due <= now) {
		struct delivery *d;
		char qhop[LOG_VALUE_MAX];

		if (sched_reserve_freed(s) < 0 || (d = delivery_new(1)) == NULL)
			break;
		d->owner = s;
		/* the delivery keeps this round's snapshot to its end */
		d->cfg = config_hold(s->cfg);
		remote_ctx_derive(&d->own_remote, &s->remote, d->cfg);
		d->q = s->q;
		memcpy(d->id, j->msg->id, sizeof d->id);
		d->in_new = j->msg->in_new;
		d->r[0].n = j->n;
		d->r[0].job = j;
		sched_use_route(s, j, d);
		if (j->due == JOB_DUE_BOUNCE && d->transport >= 0) {
			returned_by_operator(s, j, d);
			config_put(d->cfg);
			delivery_free(d);
			if (s->nmissing > 0)
				break;
			continue;
		}
		if (d->transport >= 0) {
			enum transport_id tr = (enum transport_id)d->transport;
			enum dl_verdict v = destlimit_check(s->dests, tr, d->hop,
			                                    transport_limit(d->cfg, tr),
			                                    transport_hop_limit(d->cfg, tr), now);
			enum sp_admit a = sched_policy_admit(v == DL_DEAD, v != DL_GO, j->forced);

			if (a == SP_IGNORE_DEAD) {
				v = destlimit_check(s->dests, tr, d->hop,
				                    transport_limit(d->cfg, tr),
				                    transport_hop_limit(d->cfg, tr), DL_IGNORE_DEAD);
				a = sched_policy_admit(0, v != DL_GO, j->forced);
			}
			if (a == SP_DEAD_DEFER) {
				dead_hop_defer(s, j, d);
				hand_on(s, tr, s->cfg);
				config_put(d->cfg);
				delivery_free(d);
				/* a job found gone is back in the heap, due, until the
				 * events of its removal are read: not again before */
				if (s->nmissing > 0)
					break;
				continue;
			}
			if (a == SP_PARK) {
				wait_for_slot(s, j, d, v, now);
				config_put(d->cfg);
				delivery_free(d);
				continue;
			}
			/* one slot for the delivery, however many it carries */
			d->slotted = destlimit_take(s->dests, tr, d->hop) == 0;
		}
		d->seq = ++s->seq;
		j->forced = 0;
		jobtab_start(s->t, j);
		d = sched_group(s, j, d, now);
		d->remote = &d->own_remote;   /* where d is now */
		if (d->nrcpt > 1)
			log_event("delivery-group", "id=%s rcpts=%zu via=%s dest=%s", d->id,
			          d->nrcpt, transport_table[d->transport].name,
			          log_quote(qhop, sizeof qhop, d->hop));
		if (pool_start(d, attr) < 0) {
			size_t i;

			log_event("sched-error", "error=\"cannot start a delivery thread\"");
			if (d->slotted)
				destlimit_give(s->dests, (enum transport_id)d->transport, d->hop);
			for (i = 0; i < d->nrcpt; i++)
				sched_postpone(s, d->r[i].job, now + 1);
			config_put(d->cfg);
			delivery_free(d);
			break;
		}
		s->running++;
	}
	/* every job let go is running or back in a line: are the hops
	 * freed still idle with jobs waiting? */
	if (now >= s->paused_until && s->running < s->cfg->max_deliveries &&
	    ((j = jobtab_next(s->t)) == NULL || j->due > now))
		sched_recheck_freed(s);
}
