/* gun.c - many messages, many sessions, one server; see gun.h
 *
 * This file: the run as a whole - the server's addresses, the loop
 * threads (gun_loop.c) and the sessions they share out, the feed the
 * dialogues take messages from and report to, progress, and the final
 * counts and latencies.  Shared state is struct gun (gun_priv.h).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gun.h"
#include "gun_priv.h"
#include "monotonic.h"
#include "smtp_client.h"   /* smtp_resolve */

enum { LAT_NONE = UINT32_MAX };

/* note_error - keep the first refusal and the first failure */
static void note_error(struct gun *g, enum gun_outcome o,
                       const struct status *st)
{
	pthread_mutex_lock(&g->mu);
	if (o == GUN_REFUSED && !g->errors.have_refusal) {
		g->errors.first_refusal = *st;
		g->errors.have_refusal = 1;
	} else if (o == GUN_FAILED && !g->errors.have_failure) {
		g->errors.first_failure = *st;
		g->errors.have_failure = 1;
	}
	pthread_mutex_unlock(&g->mu);
}

/* feed_take - the next message index, shared by every session */
static int feed_take(void *ctx, const struct gun_msg **m,
                     unsigned long long *idx)
{
	struct gun *g = ctx;
	unsigned long long i;

	if (atomic_load(&g->stop))
		return -1;
	i = atomic_fetch_add(&g->next, 1);
	if (i >= g->total)
		return -1;
	*m = &g->cfg->msgs[i % g->cfg->nmsgs];
	*idx = i;
	return 0;
}

/* feed_done - one message's outcome and latency */
static void feed_done(void *ctx, unsigned long long idx, enum gun_outcome o,
                      const struct status *why, long long latency_us)
{
	struct gun *g = ctx;

	if (o == GUN_SENT)
		atomic_fetch_add(&g->sent, 1);
	else if (o == GUN_REFUSED)
		atomic_fetch_add(&g->refused, 1);
	else
		atomic_fetch_add(&g->failed, 1);
	if (o != GUN_SENT)
		note_error(g, o, why);
	if (latency_us >= 0)
		g->lat_us[idx] = latency_us >= LAT_NONE ? LAT_NONE - 1 :
		                 (uint32_t)latency_us;
}

/* feed_note - a failure outside any message */
static void feed_note(void *ctx, const struct status *why)
{
	note_error(ctx, GUN_FAILED, why);
}

/* feed_now_us - the dialogues' clock */
static unsigned long long feed_now_us(void *ctx)
{
	(void)ctx;
	return monotonic_us();
}

/* resolve - the server's addresses into g->addrs; -1 when there are none
 * (the reason noted as the first failure) */
static int resolve(struct gun *g)
{
	struct status why;

	if (smtp_resolve(g->cfg->host, g->cfg->port, &g->addrs, &why) == 0)
		return 0;
	g->addrs = NULL;
	note_error(g, GUN_FAILED, &why);
	return -1;
}

/* usable_cpus - the CPUs this process may run on (taskset and cpusets
 * count; CPU quotas cannot be seen) */
static long usable_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof set, &set) == 0)
		return CPU_COUNT(&set);
	return sysconf(_SC_NPROCESSORS_ONLN);
}

/* loop_count - how many loop threads: cfg->threads, or one per
 * GUN_CPUS_PER_LOOP CPUs (at least one); never more than sessions */
static unsigned loop_count(const struct gun_config *cfg, unsigned sessions,
                           long cpus)
{
	unsigned n = cfg->threads;

	if (n == 0)
		n = cpus >= 2 * GUN_CPUS_PER_LOOP ?
		    (unsigned)(cpus / GUN_CPUS_PER_LOOP) : 1;
	if (n > GUN_LOOPS_MAX)
		n = GUN_LOOPS_MAX;
	return n < sessions ? n : sessions;
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
	st->tls_connects = atomic_load(&g->tls_connects);
	st->elapsed = (double)(monotonic_us() - g->start_us) / 1e6;
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
		if (cfg->should_stop) {
			int stop = cfg->should_stop(cfg->ctx);

			if (stop > atomic_load(&g->stop))
				atomic_store(&g->stop, stop > 2 ? 2 : stop);
		}
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
	struct gun_loop_job *jobs = NULL;
	pthread_condattr_t ca;
	pthread_attr_t ta;
	pthread_t *tid = NULL;
	struct gun *g;
	unsigned long long i;
	unsigned nloops = 0, created = 0;
	long cpus;
	int err = 0;

	if (cfg->nmsgs == 0 || cfg->repeat == 0 || cfg->sessions == 0 ||
	    cfg->progress_ms <= 0 || cfg->nmsgs > ULLONG_MAX / cfg->repeat ||
	    !smtp_helo_ok(cfg->helo) ||
	    (cfg->tls != GUN_TLS_NONE && cfg->tls_ctx == NULL)) {
		errno = EINVAL;
		return -1;
	}
	g = calloc(1, sizeof *g);
	if (g == NULL)
		return -1;
	g->cfg = cfg;
	g->feed.take = feed_take;
	g->feed.done = feed_done;
	g->feed.note = feed_note;
	g->feed.now_us = feed_now_us;
	g->feed.ctx = g;
	g->total = (unsigned long long)cfg->nmsgs * cfg->repeat;
	cpus = usable_cpus();
	nloops = loop_count(cfg, cfg->sessions < g->total ? cfg->sessions :
	                         (unsigned)g->total, cpus);
	if (g->total > SIZE_MAX / sizeof *g->lat_us ||
	    (g->lat_us = malloc(g->total * sizeof *g->lat_us)) == NULL ||
	    (tid = calloc(nloops, sizeof *tid)) == NULL ||
	    (jobs = calloc(nloops, sizeof *jobs)) == NULL) {
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

	g->start_us = monotonic_us();
	if (resolve(g) == 0) {
		/* never more sessions than messages; shared out evenly */
		unsigned long long sessions = cfg->sessions < g->total ?
		                              cfg->sessions : g->total;

		pthread_mutex_lock(&g->mu);
		for (; created < nloops; created++) {
			jobs[created].g = g;
			/* polling before a sleep only where it takes no CPU
			 * from anyone else: a CPU left over for every loop */
			jobs[created].spin_us = cpus > (long)nloops ? GUN_SPIN_US : 0;
			jobs[created].sessions = (unsigned)(sessions / nloops +
			                         (created < sessions % nloops));
			err = pthread_create(&tid[created], &ta, gun_loop_main,
			                     &jobs[created]);
			if (err != 0)
				break;
			g->running++;
		}
		pthread_mutex_unlock(&g->mu);
		if (created > 0) {
			err = 0;    /* fewer sessions than asked is still a run */
			wait_sessions(g);
		}
	}
	pthread_attr_destroy(&ta);
	for (i = 0; i < created; i++)
		pthread_join(tid[i], NULL);

	snapshot(g, st);
	/* whatever was never answered either way failed */
	st->failed = st->total - st->sent - st->refused;
	percentiles(g, st);
	if (cfg->progress && err == 0)
		cfg->progress(cfg->ctx, st, 1);
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
out:
	if (g->addrs)
		freeaddrinfo(g->addrs);
	free(jobs);
	free(tid);
	free(g->lat_us);
	free(g);
	if (err != 0) {
		errno = err;
		return -1;
	}
	return 0;
}
