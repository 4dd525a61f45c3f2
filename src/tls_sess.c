/* tls_sess.c - the client's TLS session cache; see tls_sess.h */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tls_sess.h"

struct slot {
	char key[TLS_SESS_KEY_MAX];
	SSL_SESSION *s;               /* NULL: a free slot */
	time_t until;                 /* expiry, by the wall clock as the
	                               * session's own time is */
};

struct tls_sess_cache {
	pthread_mutex_t mu;
	struct slot slot[TLS_SESS_MAX];
};

/* tls_sess_cache_new - empty */
struct tls_sess_cache *tls_sess_cache_new(void)
{
	struct tls_sess_cache *c = calloc(1, sizeof *c);

	if (c != NULL && pthread_mutex_init(&c->mu, NULL) != 0) {
		free(c);
		return NULL;
	}
	return c;
}

/* tls_sess_cache_free - all given back */
void tls_sess_cache_free(struct tls_sess_cache *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < TLS_SESS_MAX; i++)
		SSL_SESSION_free(c->slot[i].s);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* clear - empty slot p (under the mutex) */
static void clear(struct slot *p)
{
	SSL_SESSION_free(p->s);
	p->s = NULL;
	p->key[0] = '\0';
}

/* find - key's slot, or NULL (under the mutex); an expired one is
 * cleared on the way */
static struct slot *find(struct tls_sess_cache *c, const char *key, time_t now)
{
	size_t i;

	for (i = 0; i < TLS_SESS_MAX; i++) {
		struct slot *p = &c->slot[i];

		if (p->s != NULL && p->until <= now)
			clear(p);
		if (p->s != NULL && strcmp(p->key, key) == 0)
			return p;
	}
	return NULL;
}

/* tls_sess_put - the newest session of key */
void tls_sess_put(struct tls_sess_cache *c, const char *key, SSL_SESSION *s)
{
	time_t now = time(NULL), until;
	struct slot *p, *oldest = NULL;
	size_t i;

	if (c == NULL || strlen(key) >= TLS_SESS_KEY_MAX ||
	    !SSL_SESSION_is_resumable(s)) {
		SSL_SESSION_free(s);
		return;
	}
	/* the server's lifetime for it, from when it was made, within ours */
	until = (time_t)SSL_SESSION_get_time(s) + (time_t)SSL_SESSION_get_timeout(s);
	if (until > now + TLS_SESS_LIFETIME)
		until = now + TLS_SESS_LIFETIME;
	pthread_mutex_lock(&c->mu);
	if ((p = find(c, key, now)) == NULL)
		for (i = 0; i < TLS_SESS_MAX && p == NULL; i++) {
			if (c->slot[i].s == NULL)
				p = &c->slot[i];
			else if (oldest == NULL || c->slot[i].until < oldest->until)
				oldest = &c->slot[i];
		}
	if (p == NULL)
		p = oldest;
	clear(p);
	strcpy(p->key, key);
	p->s = s;
	p->until = until;
	pthread_mutex_unlock(&c->mu);
}

/* tls_sess_get - a reference to key's session */
SSL_SESSION *tls_sess_get(struct tls_sess_cache *c, const char *key)
{
	SSL_SESSION *s = NULL;
	struct slot *p;

	if (c == NULL)
		return NULL;
	pthread_mutex_lock(&c->mu);
	if ((p = find(c, key, time(NULL))) != NULL) {
		s = p->s;
		if (SSL_SESSION_get_protocol_version(s) >= TLS1_3_VERSION) {
			p->s = NULL;          /* the slot's reference is the caller's */
			p->key[0] = '\0';
		} else {
			SSL_SESSION_up_ref(s);
		}
	}
	pthread_mutex_unlock(&c->mu);
	return s;
}

/* tls_sess_drop - forget it */
void tls_sess_drop(struct tls_sess_cache *c, const char *key)
{
	struct slot *p;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	if ((p = find(c, key, time(NULL))) != NULL)
		clear(p);
	pthread_mutex_unlock(&c->mu);
}
