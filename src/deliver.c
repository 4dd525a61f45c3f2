/* deliver.c - one delivery attempt; see deliver.h */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "deliver.h"
#include "log.h"
#include "monotonic.h"
#include "queue.h"

/* delivery_new - zeroed, room for cap recipients */
struct delivery *delivery_new(size_t cap)
{
	struct delivery *d;

	if (cap < 1)
		cap = 1;
	d = calloc(1, sizeof *d + cap * sizeof d->r[0]);
	if (d == NULL)
		return NULL;
	d->cap = cap;
	d->nrcpt = 1;
	return d;
}

/* delivery_grow - more room in r[] */
struct delivery *delivery_grow(struct delivery *d, size_t cap)
{
	struct delivery *g;

	if (cap <= d->cap)
		return d;
	if ((g = realloc(d, sizeof *d + cap * sizeof d->r[0])) == NULL)
		return NULL;
	memset(&g->r[g->cap], 0, (cap - g->cap) * sizeof g->r[0]);
	g->cap = cap;
	return g;
}

/* delivery_free - free it */
void delivery_free(struct delivery *d)
{
	free(d);
}

/* settle_all - the message failed every recipient alike: st, bad */
static void settle_all(struct delivery *d, struct status st, enum delivery_bad bad)
{
	char qerr[LOG_LINE_MAX / 2];
	size_t i;

	for (i = 0; i < d->nrcpt; i++) {
		d->r[i].result = st;
		d->r[i].bad = bad;
		log_event("delivery-error", "id=%s n=%u error=%s", d->id, d->r[i].n,
		          log_quote(qerr, sizeof qerr, st.text));
	}
}

/* pick - the recipients of env named in d->r[]: each one's address; one
 * the envelope does not have is settled (a bad job) and moved behind the
 * others, which keep their order; d->ntry counts those left to try */
static void pick(struct delivery *d, const struct envelope *env)
{
	char qerr[LOG_LINE_MAX / 2];
	size_t i, k = 0;

	for (i = 0; i < d->nrcpt; i++) {
		struct delivery_rcpt r = d->r[i];

		if (r.n < env->nrcpt) {
			memcpy(r.rcpt, env->rcpt[r.n].text, sizeof r.rcpt);
			memmove(&d->r[k + 1], &d->r[k], (i - k) * sizeof d->r[0]);
			d->r[k++] = r;
			continue;
		}
		d->r[i].result = status_make(ST_PERM, 3, 0, "Job names a recipient "
		                             "message %s does not have", d->id);
		d->r[i].bad = DELIVERY_BAD_JOB;
		log_event("delivery-error", "id=%s n=%u error=%s", d->id, r.n,
		          log_quote(qerr, sizeof qerr, d->r[i].result.text));
	}
	d->ntry = k;
}

/* deliver_run - the attempt */
void deliver_run(struct delivery *d)
{
	struct envelope env;
	long long start, offset;
	const char *how;
	/* client-supplied addresses and texts, quoted for the log */
	char qrcpt[LOG_VALUE_MAX], qfrom[LOG_VALUE_MAX], qerr[LOG_LINE_MAX / 2];
	size_t i;
	int fd;
	enum queue_dir where = d->in_new ? QUEUE_NEW : QUEUE_MESS;

	log_set_tag("d%lu", d->seq);
	start = monotonic_ms();    /* a wall clock set back makes no negative time */
	d->unreachable = 0;
	d->uncounted = 0;
	d->arrival = 0;
	d->ntry = 0;
	for (i = 0; i < d->nrcpt; i++) {
		d->r[i].bad = DELIVERY_SOUND;
		d->r[i].rcpt[0] = d->r[i].remote_mta[0] = '\0';
		d->r[i].diag[0] = d->r[i].tls[0] = '\0';
	}
	/* A symbolic link in mess/ is no message of ours: never followed.
	 * In its first attempt the message is in new/, unless a deferral of
	 * a sibling has moved it to mess/ since (never the other way). */
	fd = queue_msg_open_read(d->q, where, d->id);
	if (fd < 0 && errno == ENOENT && where == QUEUE_NEW) {
		where = QUEUE_MESS;
		fd = queue_msg_open_read(d->q, where, d->id);
	}
	if (fd < 0) {
		int e = errno;

		settle_all(d, status_make(ST_TEMP, 3, 0, "Cannot open queue file %s/%s: %s",
		                          queue_dir_name[where], d->id, strerror(e)),
		           e == ENOENT ? DELIVERY_BAD_JOB      /* a job without message */
		           : e == ELOOP ? DELIVERY_BAD_MESSAGE : DELIVERY_SOUND);
		return;
	}
	envelope_init(&env);
	if (envelope_read(fd, &env, &offset) < 0 && errno != EINVAL) {
		int e = errno;

		/* EIO, ENOMEM: the file may well be good; try again later */
		settle_all(d, status_make(ST_TEMP, 3, 0, "Cannot read queue file %s/%s: %s",
		                          queue_dir_name[where], d->id, strerror(e)),
		           DELIVERY_SOUND);
		envelope_free(&env);
		close(fd);
		return;
	}
	if (env.nrcpt == 0) {
		settle_all(d, status_make(ST_PERM, 3, 0, "Queue file %s/%s is damaged",
		                          queue_dir_name[where], d->id), DELIVERY_BAD_MESSAGE);
		envelope_free(&env);
		close(fd);
		return;
	}
	pick(d, &env);
	d->arrival = (long long)env.arrival;
	if (d->ntry == 0) {
		envelope_free(&env);
		close(fd);
		return;
	}
	for (i = 0; i < d->ntry; i++)
		log_event("delivery-start", "id=%s rcpt=%s from=%s", d->id,
		          log_addr(qrcpt, sizeof qrcpt, d->r[i].rcpt),
		          log_addr(qfrom, sizeof qfrom, env.sender.text));
	if (d->transport < 0 || d->transport >= TRANSPORT_COUNT)
		d->transport = (int)transport_route(d->cfg, &env.rcpt[d->r[0].n], d->hop);
	how = transport_table[d->transport].name;
	transport_table[d->transport].deliver(d, &env, fd, offset);
	for (i = 0; i < d->ntry; i++) {
		const struct delivery_rcpt *r = &d->r[i];

		log_event(r->result.kind == ST_OK ? "delivered"
		          : r->result.kind == ST_TEMP ? "deferred" : "failed",
		          "id=%s rcpt=%s via=%s time=%ldms%s%s", d->id,
		          log_addr(qrcpt, sizeof qrcpt, r->rcpt), how,
		          (long)(monotonic_ms() - start), r->result.kind == ST_OK ? "" : " error=",
		          r->result.kind == ST_OK ? "" :
		          log_quote(qerr, sizeof qerr, r->result.text));
	}
	envelope_free(&env);
	close(fd);
}
