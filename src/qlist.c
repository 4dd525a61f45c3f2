/* qlist.c - mta-queue's reading and steering of a queue directory; see
 * qlist.h for the contract and mta-queue(5) for the format.
 *
 * A listing is built in four steps: collect the names in new/, mess/ and
 * rcpt/ (in that order, qlist.h says why); read each message's envelope
 * once (arrival, size, sender, and the text of just the recipients that
 * will be shown); sort by arrival; print, reading each job's content
 * only when its line is printed.  No message body is ever read: memory
 * is a few dozen bytes per file plus the addresses shown.
 */
#include <dirent.h>
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
	QL_PATH_MAX = 4096,
	JOB_CONTENT_MAX = 8192,   /* job_info_format() never writes 600 bytes */
	DELETE_PASSES = 10,       /* bounded: the daemon may rename under us */
	NOW_SLACK = 60            /* a job less overdue than this is "due now" */
};

/* the subdirectories read, in the order a message moves through them */
enum { QD_NEW, QD_MESS, QD_RCPT, QD_BAD, QD_N };
static const char *const qd_name[QD_N] = { "new", "mess", "rcpt", "bad" };

struct qlist {
	char dir[QL_PATH_MAX];
	int fd[QD_N];               /* fd[QD_BAD] -1: there is no bad/ */
	FILE *warn;
};

/* a job file seen in rcpt/ */
struct ql_job {
	struct job_name jn;
	char name[JOB_NAME_MAX];
	int claimed;                /* a message file of its ID was seen */
};

/* a message file seen in new/ or mess/ */
struct ql_msg {
	char id[ENVELOPE_ID_MAX];
	int in_new;                 /* 1: new/ (not yet scheduled), 0: mess/ */
	int live;                   /* its envelope was read: it is shown */
	long long arrival, size;
	char *sender;
	char **rcpt;                /* [N]: recipient N if shown, else NULL */
	size_t nrcpt;
	struct ql_job *jobs;        /* mess/ only: its run of the sorted jobs */
	size_t njobs;
};

/* a growing array of elements of one size */
struct vec {
	void *p;
	size_t n, cap, size;
};

/* the state of a directory scan that collects names */
struct collect {
	struct qlist *ql;
	struct vec *v;
	int in_new;
};

/* the state of one --delete pass over rcpt/ */
struct del_pass {
	struct qlist *ql;
	const char *id;
	unsigned seen, removed;
	int err;                    /* errno of the first failed unlink */
};

/* warn - one warning line; file names may hold anything, so control
 * characters become '?' */
static void __attribute__((format(printf, 2, 3)))
warn(struct qlist *ql, const char *fmt, ...)
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
 * "overdue 2h" (the daemon is not running, or is behind) */
static void due_text(char *buf, size_t len, long long due, long long now)
{
	char s[32];

	if (due > now) {
		span(s, sizeof s, due - now);
		snprintf(buf, len, "due in %s", s);
	} else if (now - due < NOW_SLACK) {
		snprintf(buf, len, "due now");
	} else {
		span(s, sizeof s, now - due);
		snprintf(buf, len, "overdue %s", s);
	}
}

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

/* each_name - call fn(arg, name) for every name in directory dfd but
 * "." and ".." (any other name is a file the daemon must judge, so it is
 * ours to judge too); stops when fn returns -1.  0, or -1 with errno */
static int each_name(int dfd, int (*fn)(void *arg, const char *name), void *arg)
{
	/* a fresh open file description: a dup() would share the offset */
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0, e;
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;

	if (d == NULL) {
		e = errno;
		if (fd >= 0)
			close(fd);
		errno = e;
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL) {
			rc = errno ? -1 : 0;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (fn(arg, de->d_name) < 0) {
			rc = -1;
			break;
		}
	}
	e = errno;
	closedir(d);
	errno = e;
	return rc;
}

/* exists - is there a file name in directory dfd? */
static int exists(int dfd, const char *name)
{
	struct stat st;

	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* qlist_open - open the queue's directories */
int qlist_open(struct qlist **qlp, const char *dir, FILE *warnf, char *err,
               size_t errlen)
{
	struct qlist *ql;
	int dfd = -1, i;

	if (strlen(dir) >= QL_PATH_MAX) {
		snprintf(err, errlen, "queue directory name too long");
		return -1;
	}
	if ((ql = malloc(sizeof *ql)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	strcpy(ql->dir, dir);
	ql->warn = warnf;
	for (i = 0; i < QD_N; i++)
		ql->fd[i] = -1;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "no queue at %s: %s", dir, strerror(errno));
		goto fail;
	}
	for (i = 0; i < QD_N; i++) {
		ql->fd[i] = openat(dfd, qd_name[i], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (ql->fd[i] < 0 && i != QD_BAD) {
			snprintf(err, errlen, "%s is not a queue: %s/%s: %s", dir, dir,
			         qd_name[i], strerror(errno));
			goto fail;
		}
	}
	close(dfd);
	*qlp = ql;
	return 0;
fail:
	if (dfd >= 0)
		close(dfd);
	qlist_close(ql);
	return -1;
}

/* qlist_close - close and free */
void qlist_close(struct qlist *ql)
{
	int i;

	if (ql == NULL)
		return;
	for (i = 0; i < QD_N; i++)
		if (ql->fd[i] >= 0)
			close(ql->fd[i]);
	free(ql);
}

/* add_msg - collect a name seen in new/ or mess/ */
static int add_msg(void *arg, const char *name)
{
	struct collect *c = arg;
	struct ql_msg *m;
	size_t n = strlen(name);

	if (!job_id_valid(name, n)) {
		warn(c->ql, "skipping %s/%s: not a queue ID", qd_name[!c->in_new], name);
		return 0;
	}
	if ((m = vec_push(c->v)) == NULL)
		return -1;
	memset(m, 0, sizeof *m);
	memcpy(m->id, name, n + 1);
	m->in_new = c->in_new;
	return 0;
}

/* add_job - collect a name seen in rcpt/ */
static int add_job(void *arg, const char *name)
{
	struct collect *c = arg;
	struct job_name jn;
	struct ql_job *j;
	size_t n = strlen(name);

	if (n >= JOB_NAME_MAX || job_name_parse(name, &jn) < 0) {
		warn(c->ql, "skipping rcpt/%s: not a job name (DUE.ID.N)", name);
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
	const struct ql_msg *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c ? c : x->in_new - y->in_new;
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

/* cmp_job - by ID, then recipient number, then due time */
static int cmp_job(const void *a, const void *b)
{
	const struct ql_job *x = a, *y = b;
	int c = strcmp(x->jn.id, y->jn.id);

	if (c)
		return c;
	if (x->jn.n != y->jn.n)
		return x->jn.n < y->jn.n ? -1 : 1;
	return x->jn.due < y->jn.due ? -1 : x->jn.due > y->jn.due;
}

/* read_msg - read m's envelope: arrival, size, sender and the recipients
 * that will be shown; 0 (m->live set), 1 when it is gone or unusable
 * (warned), -1 when out of memory */
static int read_msg(struct qlist *ql, struct ql_msg *m)
{
	const char *where = qd_name[m->in_new ? QD_NEW : QD_MESS];
	struct envelope env;
	struct stat st;
	long long off;
	size_t i;
	int fd;

	fd = openat(m->in_new ? ql->fd[QD_NEW] : ql->fd[QD_MESS], m->id,
	            O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		if (errno != ENOENT)   /* ENOENT: done or moved since the scan */
			warn(ql, "skipping %s/%s: %s", where, m->id, strerror(errno));
		return 1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		warn(ql, "skipping %s/%s: not a regular file", where, m->id);
		close(fd);
		return 1;
	}
	if (envelope_read(fd, &env, &off) < 0) {
		warn(ql, "skipping %s/%s: %s", where, m->id,
		     errno == EINVAL ? "no valid envelope" : strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	if (strcmp(env.id, m->id) != 0) {
		warn(ql, "skipping %s/%s: its envelope says id %s", where, m->id, env.id);
		envelope_free(&env);
		return 1;
	}
	m->arrival = env.arrival;
	m->size = (long long)st.st_size - off;
	m->nrcpt = env.nrcpt;
	if ((m->sender = strdup(env.sender.text)) == NULL ||
	    (m->rcpt = calloc(env.nrcpt, sizeof *m->rcpt)) == NULL)
		goto nomem;
	/* new/: every recipient is shown; mess/: those with a job */
	for (i = 0; i < (m->in_new ? env.nrcpt : m->njobs); i++) {
		size_t r = m->in_new ? i : m->jobs[i].jn.n;

		if (r >= env.nrcpt)
			warn(ql, "rcpt/%s: message %s has no recipient %zu",
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
static void warn_orphans(struct qlist *ql, const struct ql_job *jobs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct ql_job *j = &jobs[i];

		if (j->claimed || exists(ql->fd[QD_NEW], j->jn.id) ||
		    exists(ql->fd[QD_MESS], j->jn.id) || !exists(ql->fd[QD_RCPT], j->name))
			continue;
		warn(ql, "rcpt/%s: no message %s in new/ or mess/ (orphan job)",
		     j->name, j->jn.id);
	}
}

/* read_job - the content of job j into info; 0, 1 when the job is gone
 * (delivered since the scan), -1 when it is unusable (warned) */
static int read_job(struct qlist *ql, const struct ql_job *j,
                    struct job_info *info)
{
	char buf[JOB_CONTENT_MAX];
	struct stat st;
	ssize_t r;
	int fd;

	fd = openat(ql->fd[QD_RCPT], j->name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT)
			return 1;
		warn(ql, "rcpt/%s: %s", j->name, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    st.st_size >= JOB_CONTENT_MAX) {
		warn(ql, "rcpt/%s: not a job file (not regular, or too large)", j->name);
		close(fd);
		return -1;
	}
	/* a regular file smaller than buf: one read() has it all */
	r = read(fd, buf, sizeof buf);
	close(fd);
	if (r < 0 || job_info_parse(buf, (size_t)r, info) < 0) {
		warn(ql, "rcpt/%s: content is not job lines (mta-queue(5))", j->name);
		return -1;
	}
	return 0;
}

/* print_job - the line of one pending recipient; 1, or 0 when the job is
 * gone since the scan (nothing printed) */
static int print_job(struct qlist *ql, FILE *out, const struct ql_msg *m,
                     const struct ql_job *j, long long now)
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

/* count_name - each_name() callback counting names */
static int count_name(void *arg, const char *name)
{
	(void)name;
	++*(size_t *)arg;
	return 0;
}

/* qlist_print - the listing */
int qlist_print(struct qlist *ql, FILE *out, long long now)
{
	struct vec msgs = { NULL, 0, 0, sizeof(struct ql_msg) };
	struct vec jobs = { NULL, 0, 0, sizeof(struct ql_job) };
	struct collect c = { ql, &msgs, 1 };
	struct ql_msg *m;
	struct ql_job *jv;
	size_t i, k = 0, n = 0, pending = 0, shown = 0, nbad = 0;
	int rc = -1, e;

	/* the order a message moves in: new/, mess/, then its jobs */
	if (each_name(ql->fd[QD_NEW], add_msg, &c) < 0)
		goto done;
	c.in_new = 0;
	if (each_name(ql->fd[QD_MESS], add_msg, &c) < 0)
		goto done;
	c.v = &jobs;
	if (each_name(ql->fd[QD_RCPT], add_job, &c) < 0)
		goto done;
	m = msgs.p;
	jv = jobs.p;
	if (msgs.n)
		qsort(m, msgs.n, sizeof *m, cmp_msg_id);
	if (jobs.n)
		qsort(jv, jobs.n, sizeof *jv, cmp_job);

	/* drop duplicate IDs (mess/ sorts first), give each message its jobs */
	for (i = 0; i < msgs.n; i++) {
		size_t start;

		if (n > 0 && strcmp(m[n - 1].id, m[i].id) == 0)
			continue;
		m[n] = m[i];
		while (k < jobs.n && strcmp(jv[k].jn.id, m[n].id) < 0)
			k++;
		for (start = k; k < jobs.n && strcmp(jv[k].jn.id, m[n].id) == 0; k++)
			jv[k].claimed = 1;
		m[n].jobs = jv + start;
		m[n].njobs = k - start;
		n++;
	}
	msgs.n = n;
	for (i = 0; i < msgs.n; i++)
		if (read_msg(ql, &m[i]) < 0)
			goto done;
	warn_orphans(ql, jv, jobs.n);

	if (msgs.n)
		qsort(m, msgs.n, sizeof *m, cmp_msg_arrival);
	for (i = 0; i < msgs.n && m[i].live; i++, shown++)
		pending += print_msg(ql, out, &m[i], now);
	fprintf(out, "%zu message%s, %zu recipient%s pending\n", shown,
	        shown == 1 ? "" : "s", pending, pending == 1 ? "" : "s");
	if (ql->fd[QD_BAD] >= 0 && each_name(ql->fd[QD_BAD], count_name, &nbad) == 0 && nbad)
		fprintf(out, "%zu file%s in %s/bad (never delivered; see mta-queue(5))\n",
		        nbad, nbad == 1 ? "" : "s", ql->dir);
	rc = 0;
done:
	e = errno;
	for (i = 0, m = msgs.p; i < msgs.n; i++) {
		for (k = 0; m[i].rcpt && k < m[i].nrcpt; k++)
			free(m[i].rcpt[k]);
		free(m[i].rcpt);
		free(m[i].sender);
	}
	free(msgs.p);
	free(jobs.p);
	errno = e;
	return rc;
}

/* move_job - rename job j to DUE = now, never over another file (it
 * would be a second job of the same recipient); 0, 1 when j is gone,
 * -1 with errno */
static int move_job(struct qlist *ql, const struct ql_job *j, long long now)
{
	struct job_name jn = j->jn;
	char to[JOB_NAME_MAX];

	jn.due = now;
	job_name_format(&jn, to);
	if (queue_rename_excl(ql->fd[QD_RCPT], j->name, ql->fd[QD_RCPT], to) == 0)
		return 0;
	return errno == ENOENT ? 1 : -1;
}

/* qlist_flush - every job due after now becomes due now */
int qlist_flush(struct qlist *ql, long long now, struct qlist_flushed *res)
{
	struct vec jobs = { NULL, 0, 0, sizeof(struct ql_job) };
	struct collect c = { ql, &jobs, 0 };
	struct ql_job *jv;
	size_t i;
	int e;

	memset(res, 0, sizeof *res);
	/* names first, renames after: a renamed job must not be met twice */
	if (each_name(ql->fd[QD_RCPT], add_job, &c) < 0) {
		e = errno;
		free(jobs.p);
		errno = e;
		return -1;
	}
	for (i = 0, jv = jobs.p; i < jobs.n; i++) {
		if (jv[i].jn.due <= now) {
			res->already++;
			continue;
		}
		switch (move_job(ql, &jv[i], now)) {
		case 0:
			res->moved++;
			break;
		case 1:
			break;   /* delivered or deleted meanwhile */
		default:
			warn(ql, "cannot rename rcpt/%s: %s", jv[i].name, strerror(errno));
			res->failed++;
		}
	}
	free(jobs.p);
	return 0;
}

/* del_job - each_name() callback: unlink the name if it is a job of the
 * message being deleted */
static int del_job(void *arg, const char *name)
{
	struct del_pass *p = arg;
	struct job_name jn;

	if (strlen(name) >= JOB_NAME_MAX || job_name_parse(name, &jn) < 0 ||
	    strcmp(jn.id, p->id) != 0)
		return 0;
	p->seen++;
	if (unlinkat(p->ql->fd[QD_RCPT], name, 0) == 0) {
		p->removed++;
	} else if (errno != ENOENT) {
		warn(p->ql, "cannot remove rcpt/%s: %s", name, strerror(errno));
		if (!p->err)
			p->err = errno;
	}
	return 0;
}

/* qlist_delete - jobs first, then the message, then the jobs again */
int qlist_delete(struct qlist *ql, const char *id, struct qlist_deleted *res)
{
	struct del_pass p = { ql, id, 0, 0, 0 };
	int found = 0, pass, d;

	res->jobs = 0;
	res->from = NULL;
	if (!job_id_valid(id, strlen(id))) {
		errno = EINVAL;
		return -1;
	}
	/* noted now: the daemon may unlink mess/ID itself once we have
	 * removed the last job, and our unlink then finds nothing */
	for (d = QD_NEW; d <= QD_MESS; d++)
		if (exists(ql->fd[d], id))
			res->from = qd_name[d];
	/* Jobs before the message: while a job exists its message must, or
	 * the daemon would take the job for an orphan.  The daemon may be
	 * renaming a job (deferral) or creating them (explode) meanwhile, so
	 * repeat until a pass after the message went finds no job. */
	for (pass = 0; pass < DELETE_PASSES; pass++) {
		p.seen = 0;
		if (each_name(ql->fd[QD_RCPT], del_job, &p) < 0)
			return -1;
		found |= p.seen > 0;
		if (pass > 0 && p.seen == 0)
			break;
		for (d = QD_NEW; d <= QD_MESS; d++) {
			if (unlinkat(ql->fd[d], id, 0) == 0) {
				res->from = qd_name[d];
			} else if (errno != ENOENT) {
				warn(ql, "cannot remove %s/%s: %s", qd_name[d], id,
				     strerror(errno));
				return -1;
			}
		}
	}
	if (pass == DELETE_PASSES)
		warn(ql, "jobs of %s kept reappearing; run mta-queue --delete %s again",
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
