/* scheduler_dispatch.c - the scheduler starting deliveries: each due job
 * is routed (transport and next hop, transport.h), then the limits are
 * checked before any thread starts (destlimit.h): a job over a limit
 * waits in a line, out of the heap and keeping its file name, until a
 * delivery that holds a slot it needs ends; a job for a dead next hop is
 * deferred at once, not counted as an attempt.  See scheduler_priv.h. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "scheduler_priv.h"

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

/* A job's route, made once from its message's envelope and kept with
 * the job (jt_job.route), so that dispatching reads no file: at explode,
 * which has the envelope in hand, or at the first dispatch of a job a
 * scan found (start-up, a rescan, a job file put back by hand).  The
 * recipient is kept for the log lines of a job that waits for a slot or
 * is deferred without a thread.  A new configuration forgets every route
 * (sched_forget_routes): routes and domains may have changed. */
struct job_route {
	unsigned char transport;   /* enum transport_id */
	const char *rcpt;          /* in text, after the hop */
	char text[];               /* next hop NUL recipient NUL */
};

/* route_job - j's route for recipient rcpt; 0, or -1 (out of memory: it
 * stays unknown and the delivery routes it) */
static int route_job(struct sched *s, struct jt_job *j, const struct mailbox *rcpt)
{
	char hop[TRANSPORT_HOP_MAX];
	enum transport_id tr = transport_route(s->cfg, rcpt, hop);
	size_t hlen = strlen(hop), rlen = strlen(rcpt->text);
	struct job_route *r = malloc(sizeof *r + hlen + 1 + rlen + 1);

	if (r == NULL)
		return -1;
	r->transport = (unsigned char)tr;
	memcpy(r->text, hop, hlen + 1);
	memcpy(r->text + hlen + 1, rcpt->text, rlen + 1);
	r->rcpt = r->text + hlen + 1;
	free(j->route);
	j->route = r;
	return 0;
}

/* sched_route_message - route every job of m that has no route yet, from
 * its envelope */
void sched_route_message(struct sched *s, struct jt_msg *m, const struct envelope *env)
{
	struct jt_job *j;

	m->arrival = (long long)env->arrival;
	for (j = m->jobs; j; j = j->next)
		if (j->route == NULL && j->n < env->nrcpt)
			route_job(s, j, &env->rcpt[j->n]);
}

/* route_from_file - route m's jobs from its file in mess/.  A message
 * that cannot be read leaves them unknown: the delivery finds out what
 * is wrong and says so (deliver.h), under the global limit only. */
static void route_from_file(struct sched *s, struct jt_msg *m)
{
	struct envelope env;
	long long offset;
	int fd = openat(s->mess_fd, m->id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return;
	envelope_init(&env);
	if (envelope_read(fd, &env, &offset) == 0)
		sched_route_message(s, m, &env);
	envelope_free(&env);
	close(fd);
}

/* forget_route - jobtab_each_msg: drop the routes of m's jobs */
static void forget_route(void *arg, struct jt_msg *m)
{
	struct jt_job *j;

	(void)arg;
	for (j = m->jobs; j; j = j->next) {
		free(j->route);
		j->route = NULL;
	}
}

/* sched_forget_routes - a new configuration: every job is routed again
 * when it is next dispatched */
void sched_forget_routes(struct sched *s)
{
	jobtab_each_msg(s->t, forget_route, NULL);
}

/* use_route - d's transport, next hop, recipient and arrival from its
 * job's route (routed now if it has none); d->transport -1 if unknown */
static void use_route(struct sched *s, struct jt_job *j, struct delivery *d)
{
	const struct job_route *r;

	if (j->route == NULL)
		route_from_file(s, j->msg);
	r = j->route;
	d->transport = -1;
	if (r == NULL)
		return;
	d->transport = r->transport;
	snprintf(d->hop, sizeof d->hop, "%s", r->text);
	snprintf(d->rcpt, sizeof d->rcpt, "%s", r->rcpt);
	d->arrival = j->msg->arrival;
}

/* hand_on - a job that may have left a line of transport tr for a free
 * slot takes none (it waits for its hop, or its hop is dead): the next
 * job waiting for tr goes instead, or that slot could stay unused */
static void hand_on(struct sched *s, enum transport_id tr,
                    const struct config *cfg)
{
	if (destlimit_running(s->dests, tr) < transport_limit(cfg, tr))
		sched_unwait(s, destlimit_unwait_transport(s->dests, tr));
}

/* dead_hop_defer - j's next hop did not answer lately: defer j now,
 * without a thread and without counting an attempt */
static void dead_hop_defer(struct sched *s, struct jt_job *j, struct delivery *d)
{
	char qrcpt[LOG_VALUE_MAX], qerr[LOG_LINE_MAX / 2];

	d->result = status_make(ST_TEMP, 4, 4, "Not tried: next hop %s did not "
	                        "answer lately (remembered until %lld)", d->hop,
	                        destlimit_dead_until(s->dests, d->hop));
	d->uncounted = UNCOUNTED_DEAD_HOP;
	log_event("deferred", "id=%s rcpt=%s via=%s time=0ms error=%s", d->id,
	          log_addr(qrcpt, sizeof qrcpt, d->rcpt),
	          transport_table[d->transport].name,
	          log_quote(qerr, sizeof qerr, d->result.text));
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

	log_addr(qrcpt, sizeof qrcpt, d->rcpt);
	if (why == DL_HOP)
		log_event("delivery-busy", "id=%s rcpt=%s dest=%s", d->id, qrcpt,
		          log_quote(qhop, sizeof qhop, d->hop));
	else
		log_event("transport-busy", "id=%s rcpt=%s via=%s", d->id, qrcpt,
		          transport_table[tr].name);
	jobtab_start(s->t, j);
	j->parked = 1;
	if (destlimit_wait(s->dests, why, tr, d->hop, j) < 0) {
		j->parked = 0;
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
		struct delivery *d = calloc(1, sizeof *d);
		pthread_t t;

		if (d == NULL)
			break;
		d->owner = s;
		/* the delivery keeps this round's snapshot to its end */
		d->cfg = config_hold(s->cfg);
		remote_ctx_derive(&d->own_remote, &s->remote, d->cfg);
		d->remote = &d->own_remote;
		d->mess_fd = s->mess_fd;
		memcpy(d->id, j->msg->id, sizeof d->id);
		d->n = j->n;
		d->job = j;
		use_route(s, j, d);
		if (d->transport >= 0) {
			enum transport_id tr = (enum transport_id)d->transport;
			enum dl_verdict v = destlimit_check(s->dests, tr, d->hop,
			                                    transport_limit(d->cfg, tr),
			                                    transport_hop_limit(d->cfg, tr), now);

			if (v == DL_DEAD && j->forced)   /* asked for: tried */
				v = destlimit_check(s->dests, tr, d->hop,
				                    transport_limit(d->cfg, tr),
				                    transport_hop_limit(d->cfg, tr), DL_IGNORE_DEAD);
			if (v == DL_DEAD) {
				dead_hop_defer(s, j, d);
				hand_on(s, tr, s->cfg);
				config_put(d->cfg);
				free(d);
				/* a job found gone is back in the heap, due, until the
				 * events of its removal are read: not again before */
				if (s->nmissing > 0)
					break;
				continue;
			}
			if (v != DL_GO) {
				wait_for_slot(s, j, d, v, now);
				config_put(d->cfg);
				free(d);
				continue;
			}
			d->slotted = destlimit_take(s->dests, tr, d->hop) == 0;
		}
		d->seq = ++s->seq;
		j->forced = 0;
		jobtab_start(s->t, j);
		if (pthread_create(&t, attr, delivery_thread, d) != 0) {
			log_event("sched-error", "error=\"cannot start a delivery thread\"");
			if (d->slotted)
				destlimit_give(s->dests, (enum transport_id)d->transport, d->hop);
			sched_postpone(s, j, now + 1);
			config_put(d->cfg);
			free(d);
			break;
		}
		s->running++;
	}
}
