/* conncache.c - open SMTP client connections kept between deliveries;
 * see conncache.h */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conncache.h"
#include "monotonic.h"
#include "netaddr.h"

struct entry {
	struct smtp_client *c;       /* NULL: a free slot */
	char ip[NETADDR_TEXT_MAX];
	unsigned port;
	char tls[CONNCACHE_TLS_MAX + 1];  /* the TLS policy it was opened with */
	long long given_ms;          /* monotonic, when it was given back */
};

struct conncache {
	pthread_mutex_t lock;
	pthread_cond_t wake;         /* for the reaper: a change, or the end */
	pthread_t reaper;
	int stopping;
	unsigned max_idle, idle_ms;
	struct entry *e;             /* max_idle slots */
};

/* say_goodbye - QUIT with a short wait for the 221, close, free */
static void say_goodbye(struct smtp_client *c)
{
	struct smtp_result r;

	if (smtp_client_connected(c)) {
		if (c->to.other > CONNCACHE_QUIT_MS)  /* a stuck server holds no one long */
			c->to.other = CONNCACHE_QUIT_MS;
		smtp_client_quit(c, &r);
	}
	smtp_client_close(c);
	free(c);
}

/* reaper - close connections past the idle limit, sleeping in between
 * until the oldest one is due */
static void *reaper(void *arg)
{
	struct conncache *cc = arg;

	pthread_mutex_lock(&cc->lock);
	while (!cc->stopping) {
		long long now = monotonic_ms(), next = 0;
		struct smtp_client *expired = NULL;
		unsigned i;

		for (i = 0; i < cc->max_idle && expired == NULL; i++) {
			struct entry *e = &cc->e[i];

			if (e->c == NULL)
				continue;
			if (now - e->given_ms >= cc->idle_ms) {
				expired = e->c;
				e->c = NULL;
			} else if (next == 0 || e->given_ms + cc->idle_ms < next) {
				next = e->given_ms + cc->idle_ms;
			}
		}
		if (expired != NULL) {
			/* QUIT outside the lock: deliveries go on meanwhile */
			pthread_mutex_unlock(&cc->lock);
			say_goodbye(expired);
			pthread_mutex_lock(&cc->lock);
			continue;
		}
		if (next == 0) {
			pthread_cond_wait(&cc->wake, &cc->lock);
		} else {
			struct timespec until = { next / 1000, (next % 1000) * 1000000 };

			pthread_cond_timedwait(&cc->wake, &cc->lock, &until);
		}
	}
	pthread_mutex_unlock(&cc->lock);
	return NULL;
}

/* conncache_new - an empty cache and its reaper */
struct conncache *conncache_new(unsigned max_idle, unsigned idle_seconds)
{
	struct conncache *cc = calloc(1, sizeof *cc);
	pthread_condattr_t ca;
	pthread_attr_t attr;
	int err;

	if (cc == NULL)
		return NULL;
	cc->max_idle = max_idle;
	cc->idle_ms = idle_seconds * 1000;
	if (max_idle > 0 && (cc->e = calloc(max_idle, sizeof *cc->e)) == NULL) {
		free(cc);
		return NULL;
	}
	pthread_mutex_init(&cc->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&cc->wake, &ca);
	pthread_condattr_destroy(&ca);
	/* the reaper says QUIT and waits for a reply: a small stack will do */
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	err = pthread_create(&cc->reaper, &attr, reaper, cc);
	pthread_attr_destroy(&attr);
	if (err != 0) {
		pthread_cond_destroy(&cc->wake);
		pthread_mutex_destroy(&cc->lock);
		free(cc->e);
		free(cc);
		return NULL;
	}
	return cc;
}

/* conncache_take - the most recently given connection to ip:port: the
 * freshest is the least likely to have been closed by the server */
struct smtp_client *conncache_take(struct conncache *cc, const char *ip,
                                   unsigned port, const char *tls)
{
	struct smtp_client *c = NULL;
	struct entry *best = NULL;
	unsigned i;

	pthread_mutex_lock(&cc->lock);
	for (i = 0; i < cc->max_idle; i++) {
		struct entry *e = &cc->e[i];

		if (e->c != NULL && e->port == port && strcmp(e->ip, ip) == 0 &&
		    strcmp(e->tls, tls) == 0 && (best == NULL || e->given_ms > best->given_ms))
			best = e;
	}
	if (best != NULL) {
		c = best->c;
		best->c = NULL;
	}
	pthread_mutex_unlock(&cc->lock);
	return c;
}

/* conncache_give - keep c in a free slot, or let it go */
void conncache_give(struct conncache *cc, const char *ip, unsigned port,
                    const char *tls, struct smtp_client *c)
{
	unsigned i;

	if (smtp_client_connected(c) && strlen(ip) < sizeof cc->e[0].ip &&
	    strlen(tls) < sizeof cc->e[0].tls &&
	    monotonic_ms() - c->opened_ms < CONNCACHE_MAX_AGE_MS) {
		pthread_mutex_lock(&cc->lock);
		for (i = 0; i < cc->max_idle; i++) {
			struct entry *e = &cc->e[i];

			if (e->c == NULL) {
				e->c = c;
				snprintf(e->ip, sizeof e->ip, "%s", ip);
				snprintf(e->tls, sizeof e->tls, "%s", tls);
				e->port = port;
				e->given_ms = monotonic_ms();
				pthread_cond_signal(&cc->wake);
				pthread_mutex_unlock(&cc->lock);
				return;
			}
		}
		pthread_mutex_unlock(&cc->lock);
	}
	say_goodbye(c);
}

/* conncache_idle - connections kept now */
unsigned conncache_idle(struct conncache *cc)
{
	unsigned i, n = 0;

	pthread_mutex_lock(&cc->lock);
	for (i = 0; i < cc->max_idle; i++)
		n += cc->e[i].c != NULL;
	pthread_mutex_unlock(&cc->lock);
	return n;
}

/* conncache_free - the reaper stops first, so no one else holds a kept
 * connection when they are closed here */
void conncache_free(struct conncache *cc)
{
	unsigned i;

	pthread_mutex_lock(&cc->lock);
	cc->stopping = 1;
	pthread_cond_signal(&cc->wake);
	pthread_mutex_unlock(&cc->lock);
	pthread_join(cc->reaper, NULL);
	/* at shutdown a server that does not answer at once is not waited
	 * for: up to max_idle of them would add up */
	for (i = 0; i < cc->max_idle; i++)
		if (cc->e[i].c != NULL) {
			cc->e[i].c->to.other = CONNCACHE_SHUTDOWN_MS;
			say_goodbye(cc->e[i].c);
		}
	pthread_cond_destroy(&cc->wake);
	pthread_mutex_destroy(&cc->lock);
	free(cc->e);
	free(cc);
}
