/* destlimit.c - per-domain delivery counts; see destlimit.h */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "destlimit.h"

/* One busy domain.  Entries are few (domains being delivered to right
 * now) and removed when their count drops to 0, so a list will do. */
struct dest {
	struct dest *next;
	unsigned active;
	char domain[];
};

struct destlimit {
	pthread_mutex_t lock;      /* guards list and every count */
	struct dest *list;
	unsigned limit;
};

/* destlimit_new - an empty table */
struct destlimit *destlimit_new(unsigned limit)
{
	struct destlimit *t = calloc(1, sizeof *t);

	if (t == NULL)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	t->limit = limit;
	return t;
}

/* destlimit_free - the table */
void destlimit_free(struct destlimit *t)
{
	struct dest *d, *next;

	if (t == NULL)
		return;
	for (d = t->list; d; d = next) {
		next = d->next;
		free(d);
	}
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* find - the entry for domain, lock held */
static struct dest **find(struct destlimit *t, const char *domain)
{
	struct dest **pp = &t->list;

	while (*pp && strcasecmp((*pp)->domain, domain) != 0)
		pp = &(*pp)->next;
	return pp;
}

/* destlimit_acquire - take a slot within the table's limit */
int destlimit_acquire(struct destlimit *t, const char *domain)
{
	return destlimit_acquire_upto(t, domain, t->limit);
}

/* destlimit_acquire_upto - take a slot within limit */
int destlimit_acquire_upto(struct destlimit *t, const char *domain,
                           unsigned limit)
{
	struct dest **pp, *d;
	int ok = -1;

	pthread_mutex_lock(&t->lock);
	pp = find(t, domain);
	if (*pp == NULL) {
		size_t n = strlen(domain) + 1;

		if ((d = malloc(sizeof *d + n)) != NULL) {
			d->next = NULL;
			d->active = 0;
			memcpy(d->domain, domain, n);
			*pp = d;
		}
	}
	if (*pp && (*pp)->active < limit) {
		(*pp)->active++;
		ok = 0;
	}
	pthread_mutex_unlock(&t->lock);
	return ok;
}

/* destlimit_release - give a slot back */
void destlimit_release(struct destlimit *t, const char *domain)
{
	struct dest **pp, *d;

	pthread_mutex_lock(&t->lock);
	pp = find(t, domain);
	if ((d = *pp) != NULL && d->active > 0 && --d->active == 0) {
		*pp = d->next;
		free(d);
	}
	pthread_mutex_unlock(&t->lock);
}

/* destlimit_active - slots taken now */
unsigned destlimit_active(struct destlimit *t, const char *domain)
{
	struct dest *d;
	unsigned n;

	pthread_mutex_lock(&t->lock);
	d = *find(t, domain);
	n = d ? d->active : 0;
	pthread_mutex_unlock(&t->lock);
	return n;
}
