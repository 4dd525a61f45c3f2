/* destlimit.c - the scheduler's limits; see destlimit.h */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "destlimit.h"

enum { BUCKETS = 256 };

/* a line of waiting jobs, first in, first out */
struct line {
	void **jobs;
	size_t head, n, cap;
};

/* one next hop with deliveries, waiting jobs or dead time */
struct hop {
	struct hop *next;          /* hash chain */
	unsigned active;
	enum transport_id tr;      /* of the job last put in its line */
	long long dead_until;      /* epoch seconds; 0: not dead */
	struct line waiting;
	char key[];
};

struct destlimit {
	struct hop *buckets[BUCKETS];
	unsigned running[TRANSPORT_COUNT];
	struct line waiting[TRANSPORT_COUNT];
};

/* line_push - append; 0 or -1 */
static int line_push(struct line *l, void *job)
{
	if (l->head + l->n == l->cap) {
		if (l->head > 0) {
			memmove(l->jobs, l->jobs + l->head, l->n * sizeof *l->jobs);
			l->head = 0;
		} else {
			size_t cap = l->cap ? l->cap * 2 : 16;
			void **a = realloc(l->jobs, cap * sizeof *a);

			if (a == NULL)
				return -1;
			l->jobs = a;
			l->cap = cap;
		}
	}
	l->jobs[l->head + l->n++] = job;
	return 0;
}

/* line_pop - the first, or NULL */
static void *line_pop(struct line *l)
{
	void *job;

	if (l->n == 0)
		return NULL;
	job = l->jobs[l->head++];
	if (--l->n == 0)
		l->head = 0;
	return job;
}

/* hash - FNV-1a of the key in lower case */
static unsigned hash(const char *key)
{
	unsigned h = 2166136261u;

	for (; *key; key++) {
		unsigned char c = (unsigned char)*key;

		h = (h ^ (c >= 'A' && c <= 'Z' ? c + 32u : c)) * 16777619u;
	}
	return h % BUCKETS;
}

/* find - where the entry for key is, or would be linked */
static struct hop **find(struct destlimit *t, const char *key)
{
	struct hop **pp = &t->buckets[hash(key)];

	while (*pp && strcasecmp((*pp)->key, key) != 0)
		pp = &(*pp)->next;
	return pp;
}

/* get - the entry for key, created; NULL when out of memory */
static struct hop *get(struct destlimit *t, const char *key)
{
	struct hop **pp = find(t, key);
	size_t n;

	if (*pp)
		return *pp;
	n = strlen(key) + 1;
	if ((*pp = calloc(1, sizeof **pp + n)) != NULL)
		memcpy((*pp)->key, key, n);
	return *pp;
}

/* tidy - free *pp when it keeps nothing (a dead time, even one over,
 * is kept until destlimit_prune) */
static void tidy(struct hop **pp)
{
	struct hop *h = *pp;

	if (h->active > 0 || h->waiting.n > 0 || h->dead_until != 0)
		return;
	*pp = h->next;
	free(h->waiting.jobs);
	free(h);
}

/* destlimit_new - empty */
struct destlimit *destlimit_new(void)
{
	return calloc(1, sizeof(struct destlimit));
}

/* destlimit_free - everything */
void destlimit_free(struct destlimit *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < BUCKETS; i++) {
		struct hop *h, *next;

		for (h = t->buckets[i]; h; h = next) {
			next = h->next;
			free(h->waiting.jobs);
			free(h);
		}
	}
	for (i = 0; i < TRANSPORT_COUNT; i++)
		free(t->waiting[i].jobs);
	free(t);
}

/* destlimit_check - the decision */
enum dl_verdict destlimit_check(struct destlimit *t, enum transport_id tr,
                                const char *hop, unsigned transport_limit,
                                unsigned hop_limit, long long now)
{
	struct hop *h = *find(t, hop);

	if (h && now != DL_IGNORE_DEAD && h->dead_until > now)
		return DL_DEAD;
	if (h && h->active >= hop_limit)
		return DL_HOP;
	if (t->running[tr] >= transport_limit)
		return DL_TRANSPORT;
	return DL_GO;
}

/* destlimit_take - count a delivery */
int destlimit_take(struct destlimit *t, enum transport_id tr, const char *hop)
{
	struct hop *h = get(t, hop);

	if (h == NULL)
		return -1;
	h->active++;
	t->running[tr]++;
	return 0;
}

/* destlimit_give - uncount it */
void destlimit_give(struct destlimit *t, enum transport_id tr, const char *hop)
{
	struct hop **pp = find(t, hop);

	if (t->running[tr] > 0)
		t->running[tr]--;
	if (*pp == NULL)
		return;
	if ((*pp)->active > 0)
		(*pp)->active--;
	tidy(pp);
}

/* destlimit_running - per transport */
unsigned destlimit_running(const struct destlimit *t, enum transport_id tr)
{
	return t->running[tr];
}

/* destlimit_hop_running - per hop */
unsigned destlimit_hop_running(struct destlimit *t, const char *hop)
{
	struct hop *h = *find(t, hop);

	return h ? h->active : 0;
}

/* destlimit_wait - into a line */
int destlimit_wait(struct destlimit *t, enum dl_verdict why,
                   enum transport_id tr, const char *hop, void *job)
{
	struct hop *h;

	if (why == DL_TRANSPORT)
		return line_push(&t->waiting[tr], job);
	if ((h = get(t, hop)) == NULL)
		return -1;
	h->tr = tr;
	if (line_push(&h->waiting, job) == 0)
		return 0;
	tidy(find(t, hop));
	return -1;
}

/* destlimit_unwait_hop - out of hop's line */
void *destlimit_unwait_hop(struct destlimit *t, const char *hop)
{
	struct hop **pp = find(t, hop);
	void *job;

	if (*pp == NULL)
		return NULL;
	job = line_pop(&(*pp)->waiting);
	tidy(pp);
	return job;
}

/* destlimit_unwait_transport - out of tr's line */
void *destlimit_unwait_transport(struct destlimit *t, enum transport_id tr)
{
	return line_pop(&t->waiting[tr]);
}

/* line_first - the first, left in the line, or NULL */
static void *line_first(const struct line *l)
{
	return l->n > 0 ? l->jobs[l->head] : NULL;
}

/* destlimit_first_hop - the first of hop's line */
void *destlimit_first_hop(struct destlimit *t, const char *hop)
{
	struct hop **pp = find(t, hop);

	return *pp != NULL ? line_first(&(*pp)->waiting) : NULL;
}

/* destlimit_first_transport - the first of tr's line */
void *destlimit_first_transport(struct destlimit *t, enum transport_id tr)
{
	return line_first(&t->waiting[tr]);
}

/* destlimit_each_line - the hops with a line */
void destlimit_each_line(struct destlimit *t,
                         void (*fn)(void *arg, enum transport_id tr, const char *hop),
                         void *arg)
{
	size_t i;
	struct hop *h;

	for (i = 0; i < BUCKETS; i++)
		for (h = t->buckets[i]; h; h = h->next)
			if (h->waiting.n > 0)
				fn(arg, h->tr, h->key);
}

/* destlimit_set_dead - remember */
void destlimit_set_dead(struct destlimit *t, const char *hop, long long until)
{
	struct hop *h = get(t, hop);

	if (h != NULL)              /* out of memory: not remembered, still safe */
		h->dead_until = until;
}

/* destlimit_dead_until - as set */
long long destlimit_dead_until(struct destlimit *t, const char *hop)
{
	struct hop *h = *find(t, hop);

	return h ? h->dead_until : 0;
}

/* destlimit_prune - dead times over */
void destlimit_prune(struct destlimit *t, long long now)
{
	size_t i;

	for (i = 0; i < BUCKETS; i++) {
		struct hop **pp = &t->buckets[i];

		while (*pp) {
			struct hop *h = *pp;

			if (h->dead_until <= now)
				h->dead_until = 0;
			tidy(pp);
			if (*pp == h)
				pp = &h->next;
		}
	}
}
