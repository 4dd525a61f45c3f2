/* gun.c - many messages, many sessions, one server; see gun.h
 *
 * Shared state (struct gun): the message index and the counters are
 * atomics, each written by any session thread; the latency array has one
 * slot per message index, written only by the one thread that took that
 * index and read only after every thread was joined; `running` and the
 * first error texts are guarded by g->mu.  The configuration and the
 * messages are read-only for the whole run.
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gun.h"

enum { LAT_NONE = UINT32_MAX };
enum outcome { O_SENT, O_REFUSED, O_FAILED };

struct gun {
	const struct gun_config *cfg;
	unsigned long long total;
	atomic_ullong next;            /* the next message index to take */
	atomic_ullong sent, refused, failed, connects;
	atomic_int stop;               /* take no more messages */
	uint32_t *lat_us;              /* [total]: one writer per slot */
	struct timespec start;
	pthread_mutex_t mu;            /* guards running, errors */
	pthread_cond_t cv;             /* signalled when running drops */
	unsigned running;
	struct gun_stats errors;       /* only the have_/first_ fields */
};

/* elapsed_since - seconds from *t0 to now (monotonic) */
static double elapsed_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	       (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* now_us - monotonic microseconds */
static unsigned long long now_us(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (unsigned long long)t.tv_sec * 1000000ull +
	       (unsigned long long)t.tv_nsec / 1000ull;
}

/* note_error - keep the first refusal and the first failure */
static void note_error(struct gun *g, enum outcome o, const struct status *st)
{
	pthread_mutex_lock(&g->mu);
	if (o == O_REFUSED && !g->errors.have_refusal) {
		g->errors.first_refusal = *st;
		g->errors.have_refusal = 1;
	} else if (o == O_FAILED && !g->errors.have_failure) {
		g->errors.first_failure = *st;
		g->errors.have_failure = 1;
	}
	pthread_mutex_unlock(&g->mu);
}

/* count - one message's outcome */
static void count(struct gun *g, enum outcome o, const struct status *why)
{
	if (o == O_SENT)
		atomic_fetch_add(&g->sent, 1);
	else if (o == O_REFUSED)
		atomic_fetch_add(&g->refused, 1);
	else
		atomic_fetch_add(&g->failed, 1);
	if (o != O_SENT)
		note_error(g, o, why);
}

/* classify - sent, refused or failed, and why */
static enum outcome classify(int rc, const struct smtp_result *rres,
                             size_t n, const struct smtp_result *res,
                             const struct status **why)
{
	const struct status *perm = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		if (rres[i].st.kind == ST_TEMP) {
			*why = &rres[i].st;
			return O_FAILED;
		}
		if (rres[i].st.kind == ST_PERM && perm == NULL)
			perm = &rres[i].st;
	}
	if (rc < 0) {
		*why = &res->st;
		return res->st.kind == ST_PERM ? O_REFUSED : O_FAILED;
	}
	*why = perm;
	return perm ? O_REFUSED : O_SENT;
}

/* session_main - one session thread: take messages until none are left */
static void *session_main(void *arg)
{
	struct gun *g = arg;
	const struct gun_config *cfg = g->cfg;
	struct smtp_client *c = malloc(sizeof *c);
	struct smtp_result *rres = NULL, res;
	size_t rcap = 0;
	int tries = 0;

	if (c != NULL)
		smtp_client_init(c, &cfg->timeouts);
	while (c != NULL && !atomic_load(&g->stop)) {
		unsigned long long idx = atomic_fetch_add(&g->next, 1), t0;
		const struct gun_msg *m;
		const struct status *why;
		struct smtp_tx tx;
		enum outcome o;
		int rc;

		if (idx >= g->total)
			break;
		m = &cfg->msgs[idx % cfg->nmsgs];
		if (m->nrcpt == 0) {
			struct status st = status_make(ST_PERM, 5, 1,
			                               "a message without recipients");

			count(g, O_FAILED, &st);
			continue;
		}
		if (m->nrcpt > rcap) {
			struct smtp_result *r = realloc(rres, m->nrcpt * sizeof *r);

			if (r == NULL) {
				struct status st = status_make(ST_TEMP, 3, 0,
				                               "out of memory");

				count(g, O_FAILED, &st);
				continue;
			}
			rres = r;
			rcap = m->nrcpt;
		}
		if (!smtp_client_connected(c)) {
			if (smtp_client_open(c, cfg->host, cfg->port, cfg->helo,
			                     &res) < 0) {
				count(g, O_FAILED, &res.st);
				if (++tries >= GUN_CONNECT_TRIES)
					break;
				continue;
			}
			tries = 0;
			atomic_fetch_add(&g->connects, 1);
		}
		memset(&tx, 0, sizeof tx);
		tx.sender = m->sender;
		tx.rcpt = m->rcpt;
		tx.nrcpt = m->nrcpt;
		tx.data = m->data;
		tx.len = m->len;
		tx.fd = -1;
		tx.body_8bit = m->body_8bit;
		t0 = now_us();
		rc = smtp_client_send(c, &tx, rres, &res);
		o = classify(rc, rres, m->nrcpt, &res, &why);
		if (o != O_FAILED && res.reply.code != 0) {
			unsigned long long us = now_us() - t0;

			g->lat_us[idx] = us >= LAT_NONE ? LAT_NONE - 1 : (uint32_t)us;
		}
		count(g, o, why);
	}
	if (c != NULL && smtp_client_connected(c))
		smtp_client_quit(c, &res);
	free(c);
	free(rres);
	pthread_mutex_lock(&g->mu);
	g->running--;
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

/* snapshot - the counters now */
static void snapshot(struct gun *g, struct gun_stats *st)
{
	memset(st, 0, sizeof *st);
	st->total = g->total;
	st->sent = atomic_load(&g->sent);
	st->refused = atomic_load(&g->refused);
	st->failed = atomic_load(&g->failed);
	st->connects = atomic_load(&g->connects);
	st->elapsed = elapsed_since(&g->start);
	pthread_mutex_lock(&g->mu);
	st->have_refusal = g->errors.have_refusal;
	st->have_failure = g->errors.have_failure;
	st->first_refusal = g->errors.first_refusal;
	st->first_failure = g->errors.first_failure;
	pthread_mutex_unlock(&g->mu);
}

/* cmp_u32 - qsort: ascending */
static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* percentiles - p50 and p99 of the latencies (nearest rank), in place */
static void percentiles(struct gun *g, struct gun_stats *st)
{
	unsigned long long i, n = 0, r50, r99;

	for (i = 0; i < g->total; i++)
		if (g->lat_us[i] != LAT_NONE)
			g->lat_us[n++] = g->lat_us[i];
	st->answered = n;
	if (n == 0)
		return;
	qsort(g->lat_us, n, sizeof *g->lat_us, cmp_u32);
	r50 = (n * 50 + 99) / 100;
	r99 = (n * 99 + 99) / 100;
	st->p50_ms = g->lat_us[(r50 ? r50 : 1) - 1] / 1000.0;
	st->p99_ms = g->lat_us[(r99 ? r99 : 1) - 1] / 1000.0;
}

/* wait_sessions - until every session is done: a look at should_stop
 * every GUN_POLL_MS, progress every cfg->progress_ms */
static void wait_sessions(struct gun *g)
{
	const struct gun_config *cfg = g->cfg;
	struct timespec tick;
	struct gun_stats st;
	int since = 0;

	clock_gettime(CLOCK_MONOTONIC, &tick);
	pthread_mutex_lock(&g->mu);
	while (g->running > 0) {
		struct timespec now;

		tick.tv_nsec += GUN_POLL_MS * 1000000L;
		tick.tv_sec += tick.tv_nsec / 1000000000L;
		tick.tv_nsec %= 1000000000L;
		do {
			pthread_cond_timedwait(&g->cv, &g->mu, &tick);
			clock_gettime(CLOCK_MONOTONIC, &now);
		} while (g->running > 0 && (now.tv_sec < tick.tv_sec ||
		         (now.tv_sec == tick.tv_sec && now.tv_nsec < tick.tv_nsec)));
		if (g->running == 0)
			break;
		pthread_mutex_unlock(&g->mu);
		if (cfg->should_stop && cfg->should_stop(cfg->ctx))
			atomic_store(&g->stop, 1);
		since += GUN_POLL_MS;
		if (cfg->progress && since >= cfg->progress_ms) {
			since = 0;
			snapshot(g, &st);
			cfg->progress(cfg->ctx, &st, 0);
		}
		pthread_mutex_lock(&g->mu);
	}
	pthread_mutex_unlock(&g->mu);
}

/* gun_run - fire every message */
int gun_run(const struct gun_config *cfg, struct gun_stats *st)
{
	pthread_condattr_t ca;
	pthread_attr_t ta;
	pthread_t *tid = NULL;
	struct gun *g;
	unsigned long long i, nthreads;
	unsigned created = 0;
	int err = 0;

	if (cfg->nmsgs == 0 || cfg->repeat == 0 || cfg->sessions == 0 ||
	    cfg->progress_ms <= 0 || cfg->nmsgs > ULLONG_MAX / cfg->repeat) {
		errno = EINVAL;
		return -1;
	}
	g = calloc(1, sizeof *g);
	if (g == NULL)
		return -1;
	g->cfg = cfg;
	g->total = (unsigned long long)cfg->nmsgs * cfg->repeat;
	nthreads = cfg->sessions < g->total ? cfg->sessions : g->total;
	if (g->total > SIZE_MAX / sizeof *g->lat_us ||
	    (g->lat_us = malloc(g->total * sizeof *g->lat_us)) == NULL ||
	    (tid = calloc(nthreads, sizeof *tid)) == NULL) {
		err = ENOMEM;
		goto out;
	}
	for (i = 0; i < g->total; i++)
		g->lat_us[i] = LAT_NONE;
	pthread_mutex_init(&g->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_attr_init(&ta);
	pthread_attr_setstacksize(&ta, GUN_STACK_SIZE > PTHREAD_STACK_MIN ?
	                          GUN_STACK_SIZE : PTHREAD_STACK_MIN);

	clock_gettime(CLOCK_MONOTONIC, &g->start);
	pthread_mutex_lock(&g->mu);
	for (; created < nthreads; created++) {
		err = pthread_create(&tid[created], &ta, session_main, g);
		if (err != 0)
			break;
		g->running++;
	}
	pthread_mutex_unlock(&g->mu);
	pthread_attr_destroy(&ta);
	if (created > 0) {
		err = 0;        /* fewer sessions than asked is still a run */
		wait_sessions(g);
	}
	for (i = 0; i < created; i++)
		pthread_join(tid[i], NULL);

	snapshot(g, st);
	/* whatever was never answered either way failed */
	st->failed = st->total - st->sent - st->refused;
	percentiles(g, st);
	if (created > 0 && cfg->progress)
		cfg->progress(cfg->ctx, st, 1);
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
out:
	free(tid);
	free(g->lat_us);
	free(g);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}
