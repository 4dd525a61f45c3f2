/* queue_list.c - the queue store's listing of a queue (mta-queue's view
 * of it), built on the one directory reader (queue_scan); see queue.h */
#include <stdlib.h>
#include <string.h>

#include "queue_priv.h"

/* a growing array of elements of one size */
struct vec {
	void *p;
	size_t n, cap, size;
};

/* the state of queue_list's scans */
struct collect {
	struct vec *v;
	enum queue_dir d;
	queue_skip_fn *skip;
	void *arg;
};

/* vec_push - room for one more element at the end; its address, or NULL
 * (errno ENOMEM) */
static void *vec_push(struct vec *v)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 64;
		void *p = reallocarray(v->p, cap, v->size);

		if (p == NULL)
			return NULL;
		v->p = p;
		v->cap = cap;
	}
	return (char *)v->p + v->n++ * v->size;
}

/* add_msg - collect a name seen in new/ or mess/ */
static int add_msg(void *arg, const char *name, unsigned char type)
{
	struct collect *c = arg;
	struct queue_entry *m;
	size_t n = strlen(name);

	(void)type;
	if (!job_id_valid(name, n)) {
		c->skip(c->arg, c->d, name);
		return 0;
	}
	if ((m = vec_push(c->v)) == NULL)
		return -1;
	memset(m, 0, sizeof *m);
	memcpy(m->id, name, n + 1);
	m->where = c->d;
	return 0;
}

/* add_job - collect a name seen in rcpt/ */
static int add_job(void *arg, const char *name, unsigned char type)
{
	struct collect *c = arg;
	struct queue_entry_job *j;
	struct job_name jn;
	size_t n = strlen(name);

	(void)type;
	if (n >= JOB_NAME_MAX || job_name_parse(name, &jn) < 0) {
		c->skip(c->arg, QUEUE_RCPT, name);
		return 0;
	}
	if ((j = vec_push(c->v)) == NULL)
		return -1;
	memset(j, 0, sizeof *j);
	j->jn = jn;
	memcpy(j->name, name, n + 1);
	return 0;
}

/* cmp_msg_id - by ID; of two files with one ID (caught moving from new/
 * to mess/ during the scan), the one in mess/ first */
static int cmp_msg_id(const void *a, const void *b)
{
	const struct queue_entry *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c ? c : (y->where == QUEUE_MESS) - (x->where == QUEUE_MESS);
}

/* cmp_job - by ID, then recipient number, then due time */
static int cmp_job(const void *a, const void *b)
{
	const struct queue_entry_job *x = a, *y = b;
	int c = strcmp(x->jn.id, y->jn.id);

	if (c)
		return c;
	if (x->jn.n != y->jn.n)
		return x->jn.n < y->jn.n ? -1 : 1;
	return x->jn.due < y->jn.due ? -1 : x->jn.due > y->jn.due;
}

/* list - queue_list, or with messages 0 queue_list_jobs */
static int list(const struct queue *q, struct queue_listing *l, int messages,
                queue_skip_fn *skip, void *arg)
{
	struct vec msgs = { NULL, 0, 0, sizeof(struct queue_entry) };
	struct vec jobs = { NULL, 0, 0, sizeof(struct queue_entry_job) };
	struct collect c = { &msgs, QUEUE_NEW, skip, arg };
	struct queue_entry *m;
	struct queue_entry_job *jv;
	size_t i, k = 0, n = 0;
	int rc = -1;

	memset(l, 0, sizeof *l);
	/* the order a message moves in: new/, mess/, then its jobs */
	if (messages && queue_scan(q, QUEUE_NEW, add_msg, &c) < 0)
		goto done;
	c.d = QUEUE_MESS;
	if (messages && queue_scan(q, QUEUE_MESS, add_msg, &c) < 0)
		goto done;
	c.v = &jobs;
	c.d = QUEUE_RCPT;
	if (queue_scan(q, QUEUE_RCPT, add_job, &c) < 0)
		goto done;
	m = msgs.p;
	jv = jobs.p;
	if (msgs.n)
		qsort(m, msgs.n, sizeof *m, cmp_msg_id);
	if (jobs.n)
		qsort(jv, jobs.n, sizeof *jv, cmp_job);
	/* one entry per ID (mess/ sorts first), each with its run of jobs */
	for (i = 0; i < msgs.n; i++) {
		size_t start;

		if (n > 0 && strcmp(m[n - 1].id, m[i].id) == 0)
			continue;
		m[n] = m[i];
		while (k < jobs.n && strcmp(jv[k].jn.id, m[n].id) < 0)
			k++;
		for (start = k; k < jobs.n && strcmp(jv[k].jn.id, m[n].id) == 0; k++)
			jv[k].claimed = 1;
		m[n].job = start;
		m[n].njobs = k - start;
		n++;
	}
	msgs.n = n;
	rc = 0;
done:
	l->msgs = msgs.p;
	l->nmsgs = msgs.n;
	l->jobs = jobs.p;
	l->njobs = jobs.n;
	return rc;
}

/* queue_list - new/, mess/, then rcpt/; each message once */
int queue_list(const struct queue *q, struct queue_listing *l,
               queue_skip_fn *skip, void *arg)
{
	return list(q, l, 1, skip, arg);
}

/* queue_list_jobs - rcpt/ alone */
int queue_list_jobs(const struct queue *q, struct queue_listing *l,
                    queue_skip_fn *skip, void *arg)
{
	return list(q, l, 0, skip, arg);
}

/* queue_listing_free - free a listing */
void queue_listing_free(struct queue_listing *l)
{
	free(l->msgs);
	free(l->jobs);
	memset(l, 0, sizeof *l);
}
