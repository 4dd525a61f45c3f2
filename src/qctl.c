/* qctl.c - mta-queue's hold, release, requeue, bounce and delete over a
 * selection of messages; see qctl.h */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"
#include "qctl.h"

enum { QCTL_PASSES = 10 };  /* bounded: the daemon may rename under us */

/* one pass's state */
struct pass {
	struct qlist *ql;
	enum qctl_op op;
	const struct qselect *sel;
	long long now;
	struct qctl_done *res;
	int raced;                  /* a chosen job vanished: pass again */
	int found;                  /* a message the selection picks */
};

/* target_due - the DUE op gives job jn, or -1 when it leaves it alone
 * (already there, or not the op's to move: requeue leaves held and
 * returned jobs, release only releases held ones) */
static long long target_due(enum qctl_op op, const struct job_name *jn,
                            long long now)
{
	int held = jn->due >= JOB_DUE_HELD, returned = jn->due == JOB_DUE_BOUNCE;

	switch (op) {
	case QCTL_HOLD:
		return held || returned ? -1 : JOB_DUE_HELD;
	case QCTL_RELEASE:
		return held ? now : -1;
	case QCTL_REQUEUE:
		return held || returned || jn->due <= now ? -1 : now;
	case QCTL_BOUNCE:
		return returned ? -1 : JOB_DUE_BOUNCE;
	default:
		return -1;
	}
}

/* steer_job - do p->op to job j; 1 changed, 0 nothing to do or gone
 * (p->raced set), -1 failed (warned) */
static int steer_job(struct pass *p, const struct queue_entry_job *j)
{
	struct queue *q = qlist_queue(p->ql);
	struct job_name jn = j->jn;
	char to[JOB_NAME_MAX];
	int r;

	if (p->op == QCTL_DELETE) {
		r = queue_unlink(q, QUEUE_RCPT, j->name);
	} else {
		long long due = target_due(p->op, &j->jn, p->now);

		if (due < 0)
			return 0;
		jn.due = due;
		job_name_format(&jn, to);
		r = queue_job_rename(q, j->name, to);
	}
	if (r == 0)
		return 1;
	if (errno == ENOENT) {
		/* renamed by the daemon (a deferral) or finished: see again */
		p->raced = 1;
		return 0;
	}
	qlist_warn(p->ql, "cannot %s rcpt/%s: %s", p->op == QCTL_DELETE ? "remove" : "rename",
	           j->name, strerror(errno));
	p->res->failed++;
	return -1;
}

/* whole_message - delete message id, jobs and file (qlist_delete) */
static void whole_message(struct pass *p, const char *id)
{
	struct qlist_deleted d;

	if (qlist_delete(p->ql, id, &d) == 0) {
		p->res->msgs++;
		p->res->whole++;
		p->res->jobs += d.jobs;
	} else if (errno != ENOENT) {
		p->res->failed++;
	}
}

/* steer_message - do p->op to the picked recipients of listed message e
 * (its jobs l->jobs[e->job ..]) */
static int steer_message(struct pass *p, const struct queue_listing *l,
                         const struct queue_entry *e)
{
	struct envelope env;
	long long size;
	size_t i, picked = 0, changed = 0;

	if (qlist_read_envelope(p->ql, e->where, e->id, &env, &size) != 0) {
		/* listed in new/ but taken by the daemon since (explode moved
		 * it to mess/ and made its jobs): not to be passed over, the
		 * next pass finds it in mess/ with its jobs */
		if (e->where == QUEUE_NEW &&
		    queue_exists(qlist_queue(p->ql), QUEUE_MESS, e->id))
			p->raced = 1;
		goto done;
	}
	if ((picked = qselect_picked(p->sel, &env)) == 0)
		goto done;
	p->found = 1;
	if (p->op == QCTL_DELETE && picked == env.nrcpt) {
		whole_message(p, e->id);
		goto done;
	}
	/* in new/ with jobs listed: the daemon is exploding it (jobs first,
	 * then its name in mess/), and may dispatch them any moment; they
	 * are steered like any other (explode keeps a job it finds under
	 * any DUE) */
	if (e->where == QUEUE_NEW && e->njobs == 0) {
		p->res->unscheduled++;
		goto done;
	}
	for (i = 0; i < e->njobs; i++) {
		const struct queue_entry_job *j = &l->jobs[e->job + i];

		if (j->jn.n < env.nrcpt && qselect_rcpt(p->sel, env.rcpt[j->jn.n].text) &&
		    steer_job(p, j) == 1)
			changed++;
	}
	if (changed) {
		p->res->msgs++;
		p->res->jobs += (unsigned)changed;
	}
done:
	envelope_free(&env);
	return 0;
}

/* quiet - a name no listing can use: the daemon moves it to bad/; the
 * operation says nothing about it */
static void quiet(void *arg, enum queue_dir d, const char *name)
{
	(void)arg;
	(void)d;
	(void)name;
}

/* one_pass - list the queue and steer what is picked; 0, or -1 */
static int one_pass(struct pass *p, const char *id)
{
	struct queue_listing l;
	size_t i;
	int e;

	if (queue_list(qlist_queue(p->ql), &l, quiet, NULL) < 0) {
		e = errno;
		queue_listing_free(&l);
		errno = e;
		return -1;
	}
	for (i = 0; i < l.nmsgs; i++)
		if (id == NULL || strcmp(l.msgs[i].id, id) == 0)
			steer_message(p, &l, &l.msgs[i]);
	queue_listing_free(&l);
	return 0;
}

/* qctl_apply - passes until none of them lost a race */
int qctl_apply(struct qlist *ql, enum qctl_op op, const char *id,
               const struct qselect *sel, long long now, struct qctl_done *res)
{
	struct pass p = { ql, op, sel, now, res, 0, 0 };
	int pass, found = 0;

	memset(res, 0, sizeof *res);
	if (id != NULL && !job_id_valid(id, strlen(id))) {
		errno = EINVAL;
		return -1;
	}
	for (pass = 0; pass < QCTL_PASSES; pass++) {
		p.raced = 0;
		p.found = 0;
		if (one_pass(&p, id) < 0)
			return -1;
		found |= p.found;
		if (!p.raced)
			break;
	}
	if (pass == QCTL_PASSES)
		qlist_warn(ql, "jobs kept moving under the operation; run it again");
	if (id != NULL && !found) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}
