/* authguard.c - the table of failed logins per address; see authguard.h */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "authguard.h"

struct slot {
	char ip[64];                /* "" = free */
	unsigned failures;          /* in the window that began at first */
	long long first, last, blocked_until;
};

/* the table and its lock: shared by every connection thread */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot slots[AUTHGUARD_SLOTS];

/* expired - does s hold nothing worth keeping at now? */
static int expired(const struct slot *s, long long now)
{
	return s->ip[0] == '\0' ||
	       (s->first + AUTHGUARD_WINDOW <= now && s->blocked_until <= now);
}

/* find - ip's slot or NULL; lock held */
static struct slot *find(const char *ip, long long now)
{
	size_t i;

	for (i = 0; i < AUTHGUARD_SLOTS; i++)
		if (slots[i].ip[0] && strcmp(slots[i].ip, ip) == 0)
			return expired(&slots[i], now) ? NULL : &slots[i];
	return NULL;
}

/* authguard_blocked - the block left for ip */
long long authguard_blocked(const char *ip, long long now)
{
	struct slot *s;
	long long left = 0;

	pthread_mutex_lock(&lock);
	if ((s = find(ip, now)) != NULL && s->blocked_until > now)
		left = s->blocked_until - now;
	pthread_mutex_unlock(&lock);
	return left;
}

/* authguard_failed - count a failure: a free or expired slot, else the
 * one seen longest ago */
unsigned authguard_failed(const char *ip, long long now)
{
	struct slot *s;
	unsigned n;
	size_t i;

	pthread_mutex_lock(&lock);
	if ((s = find(ip, now)) == NULL) {
		for (i = 0; i < AUTHGUARD_SLOTS; i++) {
			if (expired(&slots[i], now)) {
				s = &slots[i];
				break;
			}
			if (s == NULL || slots[i].last < s->last)
				s = &slots[i];
		}
		memset(s, 0, sizeof *s);
		snprintf(s->ip, sizeof s->ip, "%s", ip);
		s->first = now;
	}
	if (s->first + AUTHGUARD_WINDOW <= now) {    /* a new window */
		s->first = now;
		s->failures = 0;
	}
	s->last = now;
	n = ++s->failures;
	if (n >= AUTHGUARD_FAILURES && s->blocked_until <= now)
		s->blocked_until = now + AUTHGUARD_BLOCK;
	pthread_mutex_unlock(&lock);
	return n;
}

/* authguard_reset - empty the table */
void authguard_reset(void)
{
	pthread_mutex_lock(&lock);
	memset(slots, 0, sizeof slots);
	pthread_mutex_unlock(&lock);
}
