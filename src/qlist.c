/* qlist.c - mta-queue's reading and steering of a queue directory,
 * through the queue store (queue.h); see qlist.h for the contract and
 * mta-queue(5) for the format.
 *
 * A listing is built in four steps: the store lists the names in new/,
 * mess/ and rcpt/ (queue_list: each message once); read each message's envelope
 * once (arrival, size, sender, and the text of just the recipients that
 * will be shown); sort by arrival; print, reading each job's content
 * only when its line is printed.  No message body is ever read: memory
 * is a few dozen bytes per file plus the addresses shown.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "envelope.h"
#include "job.h"
#include "qlist.h"
#include "queue.h"

enum {
	DELETE_PASSES = 10,       /* bounded: the daemon may rename under us */
	NOW_SLACK = 60            /* a job less overdue than this is "due now" */
};

struct qlist {
	struct queue *q;            /* attached: no lock taken */
	FILE *warn;
};

/* a message file seen in new/ or mess/, and what its envelope says */
struct ql_msg {
	char id[ENVELOPE_ID_MAX];
	int in_new;                 /* 1: new/ (not yet scheduled), 0: mess/ */
	int live;                   /* its envelope was read: it is shown */
	long long arrival, size;
	char *sender;
	char **rcpt;                /* [N]: recipient N if shown, else NULL */
	size_t nrcpt;
	struct queue_entry_job *jobs; /* mess/ only: its run of the sorted jobs */
	size_t njobs;
};

/* the state of one --delete pass over rcpt/ */
struct del_pass {
	struct qlist *ql;
	const char *id;
	unsigned seen, removed;
	int err;                    /* errno of the first failed unlink */
};

/* qlist_warn - one warning line; file names may hold anything, so
 * control characters become '?' */
void qlist_warn(struct qlist *ql, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	size_t i;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	for (i = 0; line[i]; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	fprintf(ql->warn, "mta-queue: warning: %s\n", line);
}

/* put_text - s on out with control characters shown as '?': a queue
 * file must never be able to drive the operator's terminal */
static void put_text(FILE *out, const char *s)
{
	for (; *s; s++)
		putc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, out);
}

/* span - a duration as its two largest units: "45s", "3m12s", "2h", "1d4h" */
static void span(char *buf, size_t len, long long s)
{
	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, len, "%llds", s);
	else if (s < 3600)
		snprintf(buf, len, s % 60 ? "%lldm%llds" : "%lldm", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, len, s % 3600 / 60 ? "%lldh%lldm" : "%lldh",
		         s / 3600, s % 3600 / 60);
	else
		snprintf(buf, len, s % 86400 / 3600 ? "%lldd%lldh" : "%lldd",
		         s / 86400, s % 86400 / 3600);
}

/* due_text - when a job is due, relative to now: "due in 4m", "due now",
 * "overdue 2h" (the daemon is not running, or is behind); "held", or "to
 * be returned to the sender" for the two DUEs that say so (job.h) */
static void due_text(char *buf, size_t len, long long due, long long now)
{
	char s[32];

	if (due >= JOB_DUE_HELD) {
		snprintf(buf, len, "held");
	} else if (due == JOB_DUE_BOUNCE) {
		snprintf(buf, len, "to be returned to the sender");
	} else if (due > now) {
		span(s, sizeof s, due - now);
		snprintf(buf, len, "due in %s", s);
	} else if (now - due < NOW_SLACK) {
		snprintf(buf, len, "due now");
	} else {
		span(s, sizeof s, now - due);
		snprintf(buf, len, "overdue %s", s);
	}
}

/* qlist_open - attach to the queue */
int qlist_open(struct qlist **qlp, const char *dir, FILE *warnf, char *err,
               size_t errlen)
{
	struct qlist *ql;

	if ((ql = malloc(sizeof *ql)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	ql->warn = warnf;
	if (queue_attach(&ql->q, dir, err, errlen) < 0) {
		free(ql);
		return -1;
	}
	*qlp = ql;
	return 0;
}

/* qlist_queue - see qlist.h */
struct queue *qlist_queue(struct qlist *ql)
{
	return ql->q;
}

/* qlist_close - close and free */
void qlist_close(struct qlist *ql)
{
	if (ql == NULL)
		return;
	queue_close(ql->q);
	free(ql);
}

/* skipped - a name the listing leaves out (queue_list) */
static void skipped(void *arg, enum queue_dir d, const char *name)
{
	struct qlist *ql = arg;

	if (d == QUEUE_RCPT)
		qlist_warn(ql, "skipping rcpt/%s: not a job name (DUE.ID.N)", name);
	else
		qlist_warn(ql, "skipping %s/%s: not a queue ID", queue_dir_name[d], name);
}

/* cmp_msg_arrival - shown messages by arrival, then ID; the rest last */
static int cmp_msg_arrival(const void *a, const void *b)
{
	const struct ql_msg *x = a, *y = b;

	if (x->live != y->live)
		return y->live - x->live;
	if (x->arrival != y->arrival)
		return x->arrival < y->arrival ? -1 : 1;
	return strcmp(x->id, y->id);
}

/* qlist_read_envelope - see qlist.h */
int qlist_read_envelope(struct qlist *ql, enum queue_dir d, const char *id,
                        struct envelope *env, long long *size)
{
	const char *where = queue_dir_name[d];
	struct stat st;
	long long off;
	int fd;

	envelope_init(env);
	fd = queue_msg_open_read(ql->q, d, id);
	if (fd < 0) {
		if (errno != ENOENT)   /* ENOENT: done or moved since the scan */
			qlist_warn(ql, "skipping %s/%s: %s", where, id, strerror(errno));
		return 1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		qlist_warn(ql, "skipping %s/%s: not a regular file", where, id);
		close(fd);
		return 1;
	}
	if (envelope_read(fd, env, &off) < 0) {
		qlist_warn(ql, "skipping %s/%s: %s", where, id,
		           errno == EINVAL ? "no valid envelope" : strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	if (strcmp(env->id, id) != 0) {
		qlist_warn(ql, "skipping %s/%s: its envelope says id %s", where, id, env->id);
		return 1;
	}
	*size = (long long)st.st_size - off;
	return 0;
}

/* read_msg - read m's envelope: arrival, size, sender and the recipients
 * that will be shown; 0 (m->live set), 1 when it is gone or unusable
 * (warned), -1 when out of memory */
static int read_msg(struct qlist *ql, struct ql_msg *m)
{
	struct envelope env;
	size_t i;

	if (qlist_read_envelope(ql, m->in_new ? QUEUE_NEW : QUEUE_MESS, m->id,
	                        &env, &m->size) != 0) {
		envelope_free(&env);
		return 1;
	}
	m->arrival = env.arrival;
	m->nrcpt = env.nrcpt;
	if ((m->sender = strdup(env.sender.text)) == NULL ||
	    (m->rcpt = calloc(env.nrcpt, sizeof *m->rcpt)) == NULL)
		goto nomem;
	/* new/: every recipient is shown; mess/: those with a job */
	for (i = 0; i < (m->in_new ? env.nrcpt : m->njobs); i++) {
		size_t r = m->in_new ? i : m->jobs[i].jn.n;

		if (r >= env.nrcpt)
			qlist_warn(ql, "rcpt/%s: message %s has no recipient %zu",
			           m->jobs[i].name, m->id, r);
		else if (!m->rcpt[r] && !(m->rcpt[r] = strdup(env.rcpt[r].text)))
			goto nomem;
	}
	m->live = 1;
	envelope_free(&env);
	return 0;
nomem:
	envelope_free(&env);
	errno = ENOMEM;
	return -1;
}

/* warn_orphans - jobs whose ID had no message file in the scan: silent
 * if the message has appeared since (it arrived during the scan) or the
 * job is gone; otherwise the job really has no message */
static void warn_orphans(struct qlist *ql, const struct queue_entry_job *jobs,
                         size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct queue_entry_job *j = &jobs[i];

		if (j->claimed || queue_exists(ql->q, QUEUE_NEW, j->jn.id) ||
		    queue_exists(ql->q, QUEUE_MESS, j->jn.id) ||
		    !queue_exists(ql->q, QUEUE_RCPT, j->name))
			continue;
		qlist_warn(ql, "rcpt/%s: no message %s in new/ or mess/ (orphan job)",
		     j->name, j->jn.id);
	}
}

/* read_job - the content of job j into info; 0, 1 when the job is gone
 * (delivered since the scan), -1 when it is unusable (warned) */
static int read_job(struct qlist *ql, const struct queue_entry_job *j,
                    struct job_info *info)
{
	switch (queue_job_read(ql->q, j->name, info, 1)) {
	case QUEUE_JOB_READ:
		return 0;
	case QUEUE_JOB_GONE:
		return 1;
	case QUEUE_JOB_NOT_FILE:
		qlist_warn(ql, "rcpt/%s: not a job file (not regular, or too large)", j->name);
		return -1;
	case QUEUE_JOB_BAD:
		qlist_warn(ql, "rcpt/%s: content is not job lines (mta-queue(5))", j->name);
		return -1;
	default:
		qlist_warn(ql, "rcpt/%s: %s", j->name, strerror(errno));
		return -1;
	}
}

/* print_job - the line of one pending recipient; 1, or 0 when the job is
 * gone since the scan (nothing printed) */
static int print_job(struct qlist *ql, FILE *out, const struct ql_msg *m,
                     const struct queue_entry_job *j, long long now)
{
	const char *rcpt = j->jn.n < m->nrcpt ? m->rcpt[j->jn.n] : NULL;
	struct job_info info;
	char due[48];
	int r = read_job(ql, j, &info);

	if (r == 1)
		return 0;
	due_text(due, sizeof due, j->jn.due, now);
	fputs("  to ", out);
	if (rcpt) {
		putc('<', out);
		put_text(out, rcpt);
		putc('>', out);
	} else {
		fprintf(out, "(recipient %u: not in the envelope)", j->jn.n);
	}
	if (r < 0) {
		fprintf(out, "  attempts ?, %s, job content unreadable\n", due);
		return 1;
	}
	fprintf(out, "  attempts %u, %s", info.attempts, due);
	if (info.error[0]) {
		fputs(", last error: ", out);
		put_text(out, info.error);
	}
	putc('\n', out);
	return 1;
}

/* print_msg - one message and its pending recipients; how many shown */
static size_t print_msg(struct qlist *ql, FILE *out, const struct ql_msg *m,
                        long long now)
{
	char age[32];
	size_t i, shown = 0;

	span(age, sizeof age, now - m->arrival);
	fprintf(out, "%s  age %s  %lld bytes  from <", m->id, age, m->size);
	put_text(out, m->sender);
	fputs(m->in_new ? ">  (not yet scheduled)\n" : ">\n", out);
	if (m->in_new) {
		for (i = 0; i < m->nrcpt; i++) {
			fputs("  to <", out);
			put_text(out, m->rcpt[i]);
			fputs(">  pending\n", out);
		}
		return m->nrcpt;
	}
	for (i = 0; i < m->njobs; i++)
		shown += (size_t)print_job(ql, out, m, &m->jobs[i], now);
	if (shown == 0)
		fputs("  (no recipients pending: the daemon removes it)\n", out);
	return shown;
}

/* count_name - a name in bad/ (queue_scan) */
static int count_name(void *arg, const char *name, unsigned char type)
{
	(void)name;
	(void)type;
	++*(size_t *)arg;
	return 0;
}

/* count_drop - a submission waiting in maildrop/ (queue_scan): not
 * one still being written */
static int count_drop(void *arg, const char *name, unsigned char type)
{
	(void)type;
	if (queue_maildrop_name(name))
		++*(size_t *)arg;
	return 0;
}

/* free_msgs - the n messages of m and what they hold */
static void free_msgs(struct ql_msg *m, size_t n)
{
	size_t i, k;

	for (i = 0; i < n; i++) {
		for (k = 0; m[i].rcpt && k < m[i].nrcpt; k++)
			free(m[i].rcpt[k]);
		free(m[i].rcpt);
		free(m[i].sender);
	}
	free(m);
}

/* qlist_print - the listing */
int qlist_print(struct qlist *ql, FILE *out, long long now)
{
	struct queue_listing l;
	struct ql_msg *m = NULL;
	size_t i, pending = 0, shown = 0, nbad = 0, ndrop = 0;
	int rc = -1, e;

	if (queue_list(ql->q, &l, skipped, ql) < 0 ||
	    (l.nmsgs && (m = calloc(l.nmsgs, sizeof *m)) == NULL))
		goto done;
	for (i = 0; i < l.nmsgs; i++) {
		memcpy(m[i].id, l.msgs[i].id, sizeof m[i].id);
		m[i].in_new = l.msgs[i].where == QUEUE_NEW;
		m[i].jobs = l.jobs + l.msgs[i].job;
		m[i].njobs = l.msgs[i].njobs;
	}
	for (i = 0; i < l.nmsgs; i++)
		if (read_msg(ql, &m[i]) < 0)
			goto done;
	warn_orphans(ql, l.jobs, l.njobs);

	if (l.nmsgs)
		qsort(m, l.nmsgs, sizeof *m, cmp_msg_arrival);
	for (i = 0; i < l.nmsgs && m[i].live; i++, shown++)
		pending += print_msg(ql, out, &m[i], now);
	fprintf(out, "%zu message%s, %zu recipient%s pending\n", shown,
	        shown == 1 ? "" : "s", pending, pending == 1 ? "" : "s");
	if (queue_has_dir(ql->q, QUEUE_BAD) &&
	    queue_scan(ql->q, QUEUE_BAD, count_name, &nbad) == 0 && nbad)
		fprintf(out, "%zu file%s in %s/bad (never delivered; see mta-queue(5))\n",
		        nbad, nbad == 1 ? "" : "s", queue_dir(ql->q));
	if (queue_has_dir(ql->q, QUEUE_MAILDROP) &&
	    queue_scan(ql->q, QUEUE_MAILDROP, count_drop, &ndrop) == 0 && ndrop)
		fprintf(out, "%zu submission%s in %s/maildrop, not yet taken by "
		        "mta-smtpd (mta-queue(5), MAILDROP)\n", ndrop,
		        ndrop == 1 ? "" : "s", queue_dir(ql->q));
	rc = 0;
done:
	e = errno;
	if (m != NULL)
		free_msgs(m, l.nmsgs);
	queue_listing_free(&l);
	errno = e;
	return rc;
}

/* move_job - rename job j to DUE = now, never over another file (it
 * would be a second job of the same recipient); 0, 1 when j is gone,
 * -1 with errno */
static int move_job(struct qlist *ql, const struct queue_entry_job *j, long long now)
{
	struct job_name jn = j->jn;
	char to[JOB_NAME_MAX];

	jn.due = now;
	job_name_format(&jn, to);
	if (queue_job_rename(ql->q, j->name, to) == 0)
		return 0;
	return errno == ENOENT ? 1 : -1;
}

/* qlist_flush - every job due after now becomes due now, but a held one */
int qlist_flush(struct qlist *ql, long long now, struct qlist_flushed *res)
{
	struct queue_listing l;
	size_t i;
	int e;

	memset(res, 0, sizeof *res);
	/* names first, renames after: a renamed job must not be met twice */
	if (queue_list_jobs(ql->q, &l, skipped, ql) < 0) {
		e = errno;
		queue_listing_free(&l);
		errno = e;
		return -1;
	}
	for (i = 0; i < l.njobs; i++) {
		if (l.jobs[i].jn.due <= now) {
			res->already++;
			continue;
		}
		if (l.jobs[i].jn.due >= JOB_DUE_HELD) {
			res->held++;
			continue;
		}
		switch (move_job(ql, &l.jobs[i], now)) {
		case 0:
			res->moved++;
			break;
		case 1:
			break;   /* delivered or deleted meanwhile */
		default:
			qlist_warn(ql, "cannot rename rcpt/%s: %s", l.jobs[i].name, strerror(errno));
			res->failed++;
		}
	}
	queue_listing_free(&l);
	return 0;
}

/* del_job - a name in rcpt/ (queue_scan): unlink it if it is a job of
 * the message being deleted */
static int del_job(void *arg, const char *name, unsigned char type)
{
	struct del_pass *p = arg;
	struct job_name jn;

	(void)type;
	if (strlen(name) >= JOB_NAME_MAX || job_name_parse(name, &jn) < 0 ||
	    strcmp(jn.id, p->id) != 0)
		return 0;
	p->seen++;
	if (queue_unlink(p->ql->q, QUEUE_RCPT, name) == 0) {
		p->removed++;
	} else if (errno != ENOENT) {
		qlist_warn(p->ql, "cannot remove rcpt/%s: %s", name, strerror(errno));
		if (!p->err)
			p->err = errno;
	}
	return 0;
}

/* qlist_delete - jobs first, then the message, then the jobs again */
int qlist_delete(struct qlist *ql, const char *id, struct qlist_deleted *res)
{
	static const enum queue_dir msg_dirs[] = { QUEUE_NEW, QUEUE_MESS };
	struct del_pass p = { ql, id, 0, 0, 0 };
	int found = 0, pass;
	size_t d;

	res->jobs = 0;
	res->from = NULL;
	if (!job_id_valid(id, strlen(id))) {
		errno = EINVAL;
		return -1;
	}
	/* noted now: the daemon may unlink mess/ID itself once we have
	 * removed the last job, and our unlink then finds nothing */
	for (d = 0; d < 2; d++)
		if (queue_exists(ql->q, msg_dirs[d], id))
			res->from = queue_dir_name[msg_dirs[d]];
	/* Jobs before the message: while a job exists its message must, or
	 * the daemon would take the job for an orphan.  The daemon may be
	 * renaming a job (deferral) or creating them (explode) meanwhile, so
	 * repeat until a pass after the message went finds no job. */
	for (pass = 0; pass < DELETE_PASSES; pass++) {
		p.seen = 0;
		if (queue_scan(ql->q, QUEUE_RCPT, del_job, &p) < 0)
			return -1;
		found |= p.seen > 0;
		if (pass > 0 && p.seen == 0)
			break;
		for (d = 0; d < 2; d++) {
			if (queue_unlink(ql->q, msg_dirs[d], id) == 0) {
				res->from = queue_dir_name[msg_dirs[d]];
			} else if (errno != ENOENT) {
				qlist_warn(ql, "cannot remove %s/%s: %s", queue_dir_name[msg_dirs[d]],
				     id, strerror(errno));
				return -1;
			}
		}
	}
	if (pass == DELETE_PASSES)
		qlist_warn(ql, "jobs of %s kept reappearing; run mta-queue --delete %s again",
		     id, id);
	res->jobs = p.removed;
	if (p.err) {
		errno = p.err;
		return -1;
	}
	if (!found && res->from == NULL) {
		errno = ENOENT;
		return -1;
	}
	return 0;
}
