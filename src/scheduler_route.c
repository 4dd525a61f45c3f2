/* scheduler_route.c - the scheduler's routes: how each job is delivered
 * (its transport and next hop, transport.h), made once from its
 * message's envelope and kept with the job.  See scheduler_route.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "scheduler_route.h"

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

/* route_from_file - route m's jobs from its file (in mess/, or new/ in
 * its first attempt).  A message
 * that cannot be read leaves them unknown: the delivery finds out what
 * is wrong and says so (deliver.h), under the global limit only. */
static void route_from_file(struct sched *s, struct jt_msg *m)
{
	struct envelope env;
	long long offset;
	int fd = queue_msg_read(s->q, sched_where(m), m->id, &env, &offset);

	if (fd >= 0)
		sched_route_message(s, m, &env);
	envelope_free(&env);
	if (fd >= 0)
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

/* sched_use_route - d's transport, next hop, recipient and arrival from
 * its job's route (routed now if it has none); d->transport -1 if unknown */
void sched_use_route(struct sched *s, struct jt_job *j, struct delivery *d)
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
	snprintf(d->r[0].rcpt, sizeof d->r[0].rcpt, "%s", r->rcpt);
	d->arrival = j->msg->arrival;
}

/* same_route - does job route b go the way of a?  The same transport and
 * next hop, and for a transport that groups by domain the same domain
 * (the part after the last '@', without case) */
static int same_route(const struct job_route *a, const struct job_route *b)
{
	const char *da, *db;

	if (b == NULL || a->transport != b->transport || strcasecmp(a->text, b->text) != 0)
		return 0;
	if (!transport_table[a->transport].group_domain)
		return 1;
	da = strrchr(a->rcpt, '@');
	db = strrchr(b->rcpt, '@');
	return da != NULL && db != NULL && strcasecmp(da, db) == 0;
}

/* joins - may k ride along with a delivery on route r carrying carried */
static int joins(const struct jt_job *k, const struct job_route *r,
                 long long now, size_t carried, unsigned group)
{
	struct sp_sibling f = {
		k->state == JT_WAITING, k->due, k->missing, k->gone,
		same_route(r, k->route)
	};

	return sched_policy_joins(&f, now, (unsigned)carried, group);
}

/* by_number - qsort: recipients in the order of the envelope */
static int by_number(const void *a, const void *b)
{
	const struct delivery_rcpt *x = a, *y = b;

	return x->n < y->n ? -1 : x->n > y->n;
}

/* sched_group - j's siblings on its route join its delivery d */
struct delivery *sched_group(struct sched *s, struct jt_job *j,
                             struct delivery *d, long long now)
{
	const struct job_route *r = j->route;
	struct delivery *g;
	struct jt_job *k;
	unsigned group;
	size_t count = 1;

	if (r == NULL || d->transport != (int)r->transport ||
	    (group = transport_table[r->transport].group) <= 1)
		return d;
	for (k = j->msg->jobs; k; k = k->next)
		if (k != j && joins(k, r, now, count, group))
			count++;
	if (count == 1 || (g = delivery_grow(d, count)) == NULL)
		return d;
	d = g;
	for (k = j->msg->jobs; k && d->nrcpt < count; k = k->next) {
		struct delivery_rcpt *x;

		if (k == j || !joins(k, r, now, d->nrcpt, group))
			continue;
		jobtab_start(s->t, k);
		k->forced = 0;
		x = &d->r[d->nrcpt++];
		x->n = k->n;
		x->job = k;
		snprintf(x->rcpt, sizeof x->rcpt, "%s",
		         ((const struct job_route *)k->route)->rcpt);
	}
	qsort(d->r, d->nrcpt, sizeof d->r[0], by_number);
	return d;
}

/* sched_rides_with - k is j's sibling on j's route, and it groups */
int sched_rides_with(const struct jt_job *k, const struct jt_job *j)
{
	const struct job_route *r = j->route;

	return k != j && k->msg == j->msg && r != NULL &&
	       transport_table[r->transport].group > 1 && same_route(r, k->route);
}
