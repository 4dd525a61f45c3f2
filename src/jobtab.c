/* jobtab.c - messages, jobs and the due-time heap; see jobtab.h */
#include <stdlib.h>
#include <string.h>

#include "jobtab.h"

struct jobtab {
	struct jt_msg **buckets;   /* hash of messages by ID */
	size_t nbuckets, nmsgs, njobs;
	struct jt_job **heap;      /* min-heap of waiting jobs by due, then age */
	size_t nheap, heap_cap;
	unsigned next_age;         /* jt_job.age of the next job made */
};

/* hash - FNV-1a of the ID */
static size_t hash(const char *id)
{
	size_t h = 2166136261u;

	while (*id)
		h = (h ^ (unsigned char)*id++) * 16777619u;
	return h;
}

/* jobtab_new - an empty table */
struct jobtab *jobtab_new(void)
{
	struct jobtab *t = calloc(1, sizeof *t);

	if (t == NULL)
		return NULL;
	t->nbuckets = 1024;
	t->buckets = calloc(t->nbuckets, sizeof *t->buckets);
	if (t->buckets == NULL) {
		free(t);
		return NULL;
	}
	return t;
}

/* jobtab_free - everything */
void jobtab_free(struct jobtab *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nbuckets; i++) {
		struct jt_msg *m = t->buckets[i], *mnext;

		for (; m; m = mnext) {
			struct jt_job *j = m->jobs, *jnext;

			for (; j; j = jnext) {
				jnext = j->next;
				free(j->route);
				free(j);
			}
			mnext = m->hnext;
			free(m);
		}
	}
	free(t->buckets);
	free(t->heap);
	free(t);
}

/* grow_buckets - double the hash when it gets crowded */
static void grow_buckets(struct jobtab *t)
{
	size_t n = t->nbuckets * 2, i;
	struct jt_msg **b = calloc(n, sizeof *b);

	if (b == NULL)
		return;                 /* longer chains, still correct */
	for (i = 0; i < t->nbuckets; i++) {
		struct jt_msg *m = t->buckets[i], *next;

		for (; m; m = next) {
			size_t k = hash(m->id) & (n - 1);

			next = m->hnext;
			m->hnext = b[k];
			b[k] = m;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

/* jobtab_msg - find a message */
struct jt_msg *jobtab_msg(struct jobtab *t, const char *id)
{
	struct jt_msg *m = t->buckets[hash(id) & (t->nbuckets - 1)];

	while (m && strcmp(m->id, id) != 0)
		m = m->hnext;
	return m;
}

/* jobtab_add_msg - find or create a message */
struct jt_msg *jobtab_add_msg(struct jobtab *t, const char *id)
{
	struct jt_msg *m = jobtab_msg(t, id);
	size_t k;

	if (m)
		return m;
	if (strlen(id) >= sizeof m->id || (m = calloc(1, sizeof *m)) == NULL)
		return NULL;
	strcpy(m->id, id);
	if (t->nmsgs >= t->nbuckets)
		grow_buckets(t);
	k = hash(id) & (t->nbuckets - 1);
	m->hnext = t->buckets[k];
	t->buckets[k] = m;
	t->nmsgs++;
	return m;
}

/* jobtab_drop_msg - unlink and free a message without jobs */
void jobtab_drop_msg(struct jobtab *t, struct jt_msg *m)
{
	struct jt_msg **pp = &t->buckets[hash(m->id) & (t->nbuckets - 1)];

	while (*pp && *pp != m)
		pp = &(*pp)->hnext;
	if (*pp == NULL)
		return;
	*pp = m->hnext;
	t->nmsgs--;
	free(m);
}

/* jobtab_job - job N of m */
struct jt_job *jobtab_job(struct jt_msg *m, unsigned n)
{
	struct jt_job *j = m->jobs;

	while (j && j->n != n)
		j = j->next;
	return j;
}

/* heap_set - place j at index i */
static void heap_set(struct jobtab *t, size_t i, struct jt_job *j)
{
	t->heap[i] = j;
	j->heap_pos = (unsigned)i;
}

/* before - is a due before b?  Jobs due in the same second go oldest
 * first: a job let out of a waiting line, due long ago, then starts
 * ahead of the jobs made since, instead of losing its turn to them and
 * going back to the end of the line (due times are whole seconds, so a
 * busy second has thousands of ties).  Ages wrap: compared as a
 * difference, right while less than 2^31 jobs apart. */
static int before(const struct jt_job *a, const struct jt_job *b)
{
	if (a->due != b->due)
		return a->due < b->due;
	return (int)(a->age - b->age) < 0;
}

/* heap_up - restore order from i towards the root */
static void heap_up(struct jobtab *t, size_t i)
{
	struct jt_job *j = t->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!before(j, t->heap[parent]))
			break;
		heap_set(t, i, t->heap[parent]);
		i = parent;
	}
	heap_set(t, i, j);
}

/* heap_down - restore order from i towards the leaves */
static void heap_down(struct jobtab *t, size_t i)
{
	struct jt_job *j = t->heap[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= t->nheap)
			break;
		if (c + 1 < t->nheap && before(t->heap[c + 1], t->heap[c]))
			c++;
		if (!before(t->heap[c], j))
			break;
		heap_set(t, i, t->heap[c]);
		i = c;
	}
	heap_set(t, i, j);
}

/* heap_push - add a waiting job; -1 when out of memory */
static int heap_push(struct jobtab *t, struct jt_job *j)
{
	if (t->nheap == t->heap_cap) {
		size_t cap = t->heap_cap ? t->heap_cap * 2 : 1024;
		struct jt_job **h = realloc(t->heap, cap * sizeof *h);

		if (h == NULL)
			return -1;
		t->heap = h;
		t->heap_cap = cap;
	}
	heap_set(t, t->nheap++, j);
	heap_up(t, t->nheap - 1);
	return 0;
}

/* heap_remove - take a waiting job out of the heap */
static void heap_remove(struct jobtab *t, struct jt_job *j)
{
	size_t i = j->heap_pos, last = --t->nheap;

	if (i != last) {
		heap_set(t, i, t->heap[last]);
		heap_up(t, i);
		heap_down(t, t->heap[i]->heap_pos);
	}
}

/* jobtab_add - a new waiting job */
struct jt_job *jobtab_add(struct jobtab *t, struct jt_msg *m, unsigned n,
                          long long due)
{
	struct jt_job *j;

	if (jobtab_job(m, n) != NULL || (j = calloc(1, sizeof *j)) == NULL)
		return NULL;
	j->due = due;
	j->msg = m;
	j->n = n;
	j->age = t->next_age++;
	if (heap_push(t, j) < 0) {
		free(j);
		return NULL;
	}
	j->next = m->jobs;
	m->jobs = j;
	m->pending++;
	t->njobs++;
	return j;
}

/* jobtab_remove - forget a job, and its message with the last job */
unsigned jobtab_remove(struct jobtab *t, struct jt_job *j)
{
	struct jt_msg *m = j->msg;
	struct jt_job **pp = &m->jobs;
	unsigned left;

	if (j->state == JT_WAITING)
		heap_remove(t, j);
	while (*pp != j)
		pp = &(*pp)->next;
	*pp = j->next;
	free(j->route);
	free(j);
	t->njobs--;
	left = --m->pending;
	if (left == 0)
		jobtab_drop_msg(t, m);
	return left;
}

/* jobtab_set_due - reschedule a waiting job (a running one just records
 * the time, used when it stops) */
void jobtab_set_due(struct jobtab *t, struct jt_job *j, long long due)
{
	long long old = j->due;

	j->due = due;
	j->forced = 1;
	if (j->state != JT_WAITING)
		return;
	if (due < old)
		heap_up(t, j->heap_pos);
	else
		heap_down(t, j->heap_pos);
}

/* jobtab_next - the earliest waiting job */
struct jt_job *jobtab_next(const struct jobtab *t)
{
	return t->nheap ? t->heap[0] : NULL;
}

/* jobtab_start - a delivery thread takes the job */
void jobtab_start(struct jobtab *t, struct jt_job *j)
{
	heap_remove(t, j);
	j->state = JT_RUNNING;
}

/* jobtab_stop - the job waits again.  The heap slot it left is free, so
 * the push cannot need memory beyond what the heap already had. */
void jobtab_stop(struct jobtab *t, struct jt_job *j, long long due)
{
	j->state = JT_WAITING;
	j->due = due;
	heap_push(t, j);
}

/* counts */
size_t jobtab_jobs(const struct jobtab *t) { return t->njobs; }
size_t jobtab_waiting(const struct jobtab *t) { return t->nheap; }
size_t jobtab_messages(const struct jobtab *t) { return t->nmsgs; }

/* jobtab_each_msg - visit every message; fn may drop the one it is given */
void jobtab_each_msg(struct jobtab *t, void (*fn)(void *arg, struct jt_msg *m),
                     void *arg)
{
	size_t i;

	for (i = 0; i < t->nbuckets; i++) {
		struct jt_msg *m = t->buckets[i], *next;

		for (; m; m = next) {
			next = m->hnext;
			fn(arg, m);
		}
	}
}
