/* authguard.c - the table of failed logins per address; see authguard.h */
#include <arpa/inet.h>
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

/* guard_key - what ip's failures count against: an IPv6 address's /64
 * (one host is given a whole /64 and may take any address in it, so a
 * count per address would never block it), an IPv4 address itself;
 * key has room for 64 octets */
static void guard_key(const char *ip, char *key)
{
	struct in6_addr a;

	if (strchr(ip, ':') != NULL && inet_pton(AF_INET6, ip, &a) == 1 &&
	    !IN6_IS_ADDR_V4MAPPED(&a)) {
		char text[INET6_ADDRSTRLEN];

		memset(a.s6_addr + 8, 0, 8);
		if (inet_ntop(AF_INET6, &a, text, sizeof text) != NULL) {
			snprintf(key, 64, "%s/64", text);
			return;
		}
	}
	snprintf(key, 64, "%s", ip);
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
	char key[64];

	guard_key(ip, key);
	pthread_mutex_lock(&lock);
	if ((s = find(key, now)) != NULL && s->blocked_until > now)
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
	char key[64];

	guard_key(ip, key);
	pthread_mutex_lock(&lock);
	if ((s = find(key, now)) == NULL) {
		for (i = 0; i < AUTHGUARD_SLOTS; i++) {
			if (expired(&slots[i], now)) {
				s = &slots[i];
				break;
			}
			if (s == NULL || slots[i].last < s->last)
				s = &slots[i];
		}
		memset(s, 0, sizeof *s);
		snprintf(s->ip, sizeof s->ip, "%s", key);
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
