/* scheduler.c - the scheduler thread; see scheduler.h for what it does and
 * mta-queue(5) for why each file operation comes in the order it does */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bounce.h"
#include "deliver.h"
#include "job.h"
#include "jobtab.h"
#include "log.h"
#include "scheduler.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
enum { DELIVERY_STACK = 2 * 1024 * 1024 };
#else
enum { DELIVERY_STACK = 256 * 1024 };
#endif

enum { EXPLODE_RETRY = 10 };   /* seconds before retrying a failed explode */

/* one failed recipient waiting to be reported (jt_msg.fails) */
struct failure {
	struct failure *next;
	struct jt_job *job;
	struct status st;
	char rcpt[ADDR_MAX];
	char remote_mta[DNS_NAME_MAX];
	char diag[SMTP_REPLY_TEXT_MAX];
};

/* jobs of one domain waiting for a delivery slot (--max-per-dest) */
struct parking {
	struct parking *next;
	struct jt_job **jobs;        /* first in, first out */
	size_t head, n, cap;
	char domain[DNS_NAME_MAX];
};

struct sched {
	const struct config *cfg;
	struct queue *q;             /* bounces are queued through it */
	struct remote_ctx remote;
	struct destlimit *dests;     /* shared with delivery threads */
	struct parking *parked;      /* scheduler thread only */
	int tmp_fd, new_fd, mess_fd, rcpt_fd, bad_fd;
	int ino_fd, wd_new, wd_rcpt;
	int wake_fd;                 /* eventfd: completions or stop */
	atomic_int stopping;
	pthread_t thread;

	pthread_mutex_t done_lock;   /* guards done */
	struct delivery *done;       /* completed deliveries, newest first */

	/* everything below: the scheduler thread only */
	struct jobtab *t;
	unsigned running;
	unsigned long seq;
	long long next_rescan;
	struct jt_job **missing;     /* jobs whose file vanished, to confirm */
	size_t nmissing, missing_cap;
	char (*arrived)[ENVELOPE_ID_MAX]; /* new/ names seen by inotify */
	size_t narrived, arrived_cap;
};

/* job_file - the name of job j */
static void job_file(const struct jt_job *j, char *buf)
{
	struct job_name jn;

	jn.due = j->due;
	jn.n = j->n;
	memcpy(jn.id, j->msg->id, sizeof jn.id);
	job_name_format(&jn, buf);
}

/* quarantine - move dir/name aside into bad/ (kept, never delivered) */
static void quarantine(struct sched *s, int dir_fd, const char *dir,
                       const char *name, const char *why)
{
	char target[NAME_MAX + 16];

	snprintf(target, sizeof target, "%s.%s", dir, name);
	if (renameat(dir_fd, name, s->bad_fd, target) < 0 && errno != ENOENT)
		log_event("queue-error", "op=quarantine file=%s/%s error=\"%s\"",
		          dir, name, strerror(errno));
	else
		log_event("quarantine", "file=%s/%s to=bad/%s reason=\"%s\"", dir,
		          name, target, why);
}

/* message_done - the last job of m has gone: remove its file */
static void message_done(struct sched *s, const char *id)
{
	if (unlinkat(s->mess_fd, id, 0) < 0 && errno != ENOENT)
		log_event("queue-error", "op=unlink file=mess/%s error=\"%s\"", id,
		          strerror(errno));
	else
		log_event("message-done", "id=%s", id);
}

/* forget_job - drop j from memory; removes the message file with the
 * last job */
static void forget_job(struct sched *s, struct jt_job *j)
{
	char id[ENVELOPE_ID_MAX];

	memcpy(id, j->msg->id, sizeof id);
	if (jobtab_remove(s->t, j) == 0)
		message_done(s, id);
}

/* file_exists - does dir_fd/name exist? */
static int file_exists(int dir_fd, const char *name)
{
	return faccessat(dir_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* add_job_file - a job file found on disk (scan or inotify) */
static void add_job_file(struct sched *s, const char *name)
{
	struct job_name jn;
	struct jt_msg *m;
	struct jt_job *j;

	if (job_name_parse(name, &jn) < 0) {
		quarantine(s, s->rcpt_fd, "rcpt", name, "not a job name");
		return;
	}
	m = jobtab_msg(s->t, jn.id);
	if (m == NULL) {
		/* Its message must be waiting in new/ or taken in mess/. */
		if (!file_exists(s->mess_fd, jn.id) && !file_exists(s->new_fd, jn.id)) {
			quarantine(s, s->rcpt_fd, "rcpt", name, "no such message");
			return;
		}
		if ((m = jobtab_add_msg(s->t, jn.id)) == NULL)
			goto nomem;
	}
	j = jobtab_job(m, jn.n);
	if (j == NULL) {
		if (jobtab_add(s->t, m, jn.n, jn.due) == NULL)
			goto nomem;
		return;
	}
	j->missing = 0;
	if (j->due == jn.due)
		return;                 /* our own rename, or nothing new */
	if (j->running) {
		j->due = jn.due;        /* the outcome will use the new name */
		return;
	}
	/* Moved by someone else.  If the old name still exists too, two files
	 * claim one recipient: keep the earlier, quarantine the other. */
	{
		char old[JOB_NAME_MAX];

		job_file(j, old);
		if (file_exists(s->rcpt_fd, old)) {
			if (jn.due < j->due) {
				quarantine(s, s->rcpt_fd, "rcpt", old, "duplicate job");
				jobtab_set_due(s->t, j, jn.due);
			} else {
				quarantine(s, s->rcpt_fd, "rcpt", name, "duplicate job");
			}
			return;
		}
	}
	jobtab_set_due(s->t, j, jn.due);
	log_event("rescheduled", "job=%s", name);
	return;
nomem:
	log_event("sched-error", "error=\"out of memory\" job=%s", name);
}

/* scan_dir - call fn for every entry of dir (not . and ..) */
static int scan_dir(struct sched *s, int dir_fd,
                    void (*fn)(struct sched *s, const char *name))
{
	struct dirent *de;
	int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			fn(s, de->d_name);
	closedir(d);
	return 0;
}

/* found_mess - a message file in mess/ at start-up */
static void found_mess(struct sched *s, const char *name)
{
	if (!job_id_valid(name, strlen(name))) {
		quarantine(s, s->mess_fd, "mess", name, "not a queue ID");
		return;
	}
	if (jobtab_add_msg(s->t, name) == NULL)
		log_event("sched-error", "error=\"out of memory\" id=%s", name);
}

/* found_new - a message in new/: explode it with the next batch */
static void found_new(struct sched *s, const char *name)
{
	if (!job_id_valid(name, strlen(name))) {
		quarantine(s, s->new_fd, "new", name, "not a queue ID");
		return;
	}
	if (s->narrived == s->arrived_cap) {
		size_t cap = s->arrived_cap ? s->arrived_cap * 2 : 64;
		void *a = realloc(s->arrived, cap * sizeof *s->arrived);

		if (a == NULL) {
			s->next_rescan = time(NULL) + EXPLODE_RETRY;
			return;
		}
		s->arrived = a;
		s->arrived_cap = cap;
	}
	snprintf(s->arrived[s->narrived++], ENVELOPE_ID_MAX, "%s", name);
}

/* found_job - a job file in rcpt/ */
static void found_job(struct sched *s, const char *name)
{
	add_job_file(s, name);
}

/* create_jobs - the job files and table entries for message id in new/;
 * 0, or -1 (the message stays in new/ and is tried again later) */
static int create_jobs(struct sched *s, const char *id)
{
	struct envelope env;
	struct jt_msg *m;
	long long offset;
	size_t n;
	int fd = openat(s->new_fd, id, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return errno == ENOENT ? 1 : -1;   /* already taken: nothing to do */
	envelope_init(&env);
	if (envelope_read(fd, &env, &offset) < 0 || strcmp(env.id, id) != 0) {
		int e = errno;

		close(fd);
		envelope_free(&env);
		if (e == EINVAL || e == 0) {
			quarantine(s, s->new_fd, "new", id, "bad envelope");
			return 1;
		}
		return -1;
	}
	close(fd);
	if ((m = jobtab_add_msg(s->t, id)) == NULL)
		goto fail;
	for (n = 0; n < env.nrcpt; n++) {
		struct job_name jn;
		char name[JOB_NAME_MAX];
		int jfd;

		if (jobtab_job(m, (unsigned)n) != NULL)
			continue;           /* exists under some DUE: idempotent */
		jn.due = (long long)env.arrival;
		jn.n = (unsigned)n;
		memcpy(jn.id, id, sizeof jn.id);
		job_name_format(&jn, name);
		/* An empty file is a whole job: nothing to fsync but rcpt/. */
		jfd = openat(s->rcpt_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (jfd < 0 && errno != EEXIST) {
			log_event("queue-error", "op=create file=rcpt/%s error=\"%s\"",
			          name, strerror(errno));
			goto fail;
		}
		if (jfd >= 0)
			close(jfd);
		if (jobtab_add(s->t, m, (unsigned)n, jn.due) == NULL)
			goto fail;
	}
	log_event("explode", "id=%s rcpts=%zu from=<%s>", id, env.nrcpt, env.sender.text);
	envelope_free(&env);
	return 0;
fail:
	/* Forget this message's jobs in memory (their files stay and are
	 * found again by the next attempt).  Nothing can have started. */
	if ((m = jobtab_msg(s->t, id)) != NULL) {
		while (m->jobs && m->pending > 1)
			jobtab_remove(s->t, m->jobs);
		if (m->jobs)
			jobtab_remove(s->t, m->jobs);
		else
			jobtab_drop_msg(s->t, m);
	}
	envelope_free(&env);
	s->next_rescan = time(NULL) + EXPLODE_RETRY;
	return -1;
}

/* explode_arrived - turn every message seen in new/ into jobs, with one
 * fsync of rcpt/ and one of mess/ for the whole batch */
static void explode_arrived(struct sched *s)
{
	size_t i, ok = 0;

	for (i = 0; i < s->narrived; i++) {
		int r = create_jobs(s, s->arrived[i]);

		if (r == 0)
			memcpy(s->arrived[ok++], s->arrived[i], ENVELOPE_ID_MAX);
	}
	s->narrived = 0;
	if (ok == 0)
		return;
	if (fsync(s->rcpt_fd) < 0)
		log_event("queue-error", "op=fsync dir=rcpt error=\"%s\"", strerror(errno));
	for (i = 0; i < ok; i++)
		if (renameat(s->new_fd, s->arrived[i], s->mess_fd, s->arrived[i]) < 0)
			log_event("queue-error", "op=rename file=new/%s error=\"%s\"",
			          s->arrived[i], strerror(errno));
	/* Until this fsync a crash may put the message back in new/; it is
	 * exploded again then, finding its jobs already there. */
	if (fsync(s->mess_fd) < 0)
		log_event("queue-error", "op=fsync dir=mess error=\"%s\"", strerror(errno));
}

/* drop_jobless - unlink a message file whose jobs are all gone */
static void drop_jobless(void *arg, struct jt_msg *m)
{
	struct sched *s = arg;

	if (m->pending == 0 && !file_exists(s->new_fd, m->id)) {
		message_done(s, m->id);
		jobtab_drop_msg(s->t, m);
	}
}

/* rescan - bring memory in line with the directories (start-up, inotify
 * overflow, and every SCHED_RESCAN seconds as a backstop) */
static void rescan(struct sched *s)
{
	scan_dir(s, s->rcpt_fd, found_job);
	scan_dir(s, s->new_fd, found_new);
	explode_arrived(s);
	s->next_rescan = time(NULL) + SCHED_RESCAN;
}

/* note_missing - a job's file was renamed away or removed: confirm after
 * this batch of events (a rename shows up as a pair of events) */
static void note_missing(struct sched *s, const char *name)
{
	struct job_name jn;
	struct jt_msg *m;
	struct jt_job *j;
	char current[JOB_NAME_MAX];

	if (job_name_parse(name, &jn) < 0 || (m = jobtab_msg(s->t, jn.id)) == NULL ||
	    (j = jobtab_job(m, jn.n)) == NULL)
		return;
	job_file(j, current);
	if (strcmp(current, name) != 0 || j->missing)
		return;                 /* not its current name: our own rename */
	if (s->nmissing == s->missing_cap) {
		size_t cap = s->missing_cap ? s->missing_cap * 2 : 16;
		void *a = realloc(s->missing, cap * sizeof *s->missing);

		if (a == NULL) {
			s->next_rescan = 0;  /* let a rescan sort it out */
			return;
		}
		s->missing = a;
		s->missing_cap = cap;
	}
	j->missing = 1;
	s->missing[s->nmissing++] = j;
}

/* settle_missing - jobs still missing after their events: forgotten */
static void settle_missing(struct sched *s)
{
	size_t i;

	for (i = 0; i < s->nmissing; i++) {
		struct jt_job *j = s->missing[i];
		char name[JOB_NAME_MAX];

		if (!j->missing)
			continue;           /* it reappeared under a new name */
		j->missing = 0;
		job_file(j, name);
		if (file_exists(s->rcpt_fd, name))
			continue;
		log_event("job-removed", "job=%s by=operator", name);
		if (j->running)
			j->gone = 1;        /* its delivery finishes; then forget it */
		else
			forget_job(s, j);
	}
	s->nmissing = 0;
}

/* read_events - drain inotify */
static void read_events(struct sched *s)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	while ((n = read(s->ino_fd, buf, sizeof buf)) > 0) {
		char *p = buf;

		while (p < buf + n) {
			struct inotify_event *ev = (struct inotify_event *)p;

			p += sizeof *ev + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				s->next_rescan = 0;
				continue;
			}
			if (ev->len == 0)
				continue;
			if (ev->wd == s->wd_new && (ev->mask & IN_MOVED_TO))
				found_new(s, ev->name);
			else if (ev->wd == s->wd_rcpt && (ev->mask & IN_MOVED_TO))
				add_job_file(s, ev->name);
			else if (ev->wd == s->wd_rcpt)
				note_missing(s, ev->name);
		}
	}
	settle_missing(s);
	explode_arrived(s);
}

/* delivery_thread - body of a delivery thread */
static void *delivery_thread(void *arg)
{
	struct delivery *d = arg;
	struct sched *s = d->owner;
	uint64_t one = 1;

	deliver_run(d);
	pthread_mutex_lock(&s->done_lock);
	d->next = s->done;
	s->done = d;
	pthread_mutex_unlock(&s->done_lock);
	if (write(s->wake_fd, &one, sizeof one) < 0) {
		/* an eventfd write only fails on counter overflow: it is awake */
	}
	return NULL;
}

/* dispatch - start deliveries for due jobs while there is room */
static void dispatch(struct sched *s, pthread_attr_t *attr)
{
	long long now = (long long)time(NULL);
	struct jt_job *j;

	while (s->running < s->cfg->max_deliveries &&
	       (j = jobtab_next(s->t)) != NULL && j->due <= now) {
		struct delivery *d = calloc(1, sizeof *d);
		pthread_t t;

		if (d == NULL)
			break;
		d->owner = s;
		d->cfg = s->cfg;
		d->remote = &s->remote;
		d->dests = s->dests;
		d->mess_fd = s->mess_fd;
		memcpy(d->id, j->msg->id, sizeof d->id);
		d->n = j->n;
		d->seq = ++s->seq;
		d->job = j;
		jobtab_start(s->t, j);
		if (pthread_create(&t, attr, delivery_thread, d) != 0) {
			log_event("sched-error", "error=\"cannot start a delivery thread\"");
			jobtab_stop(s->t, j, now + 1);
			free(d);
			break;
		}
		s->running++;
	}
}

/* write_job_info - replace the content of job file name (tmp + rename) */
static int write_job_info(struct sched *s, const char *name,
                          const struct job_info *info)
{
	char text[JOB_ERROR_MAX + 128], tmp[JOB_NAME_MAX + 8];
	int len = job_info_format(info, text, sizeof text), fd, e = 0;

	if (len < 0)
		return -1;
	snprintf(tmp, sizeof tmp, "job.%s", name);
	fd = openat(s->tmp_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (write(fd, text, (size_t)len) != len || fdatasync(fd) < 0)
		e = errno ? errno : EIO;
	close(fd);
	if (e == 0 && renameat(s->tmp_fd, tmp, s->rcpt_fd, name) < 0)
		e = errno;
	if (e != 0) {
		unlinkat(s->tmp_fd, tmp, 0);
		errno = e;
		return -1;
	}
	return 0;
}

/* read_job_info - the content of job file name (empty = never tried) */
static void read_job_info(struct sched *s, const char *name, struct job_info *info)
{
	char text[JOB_ERROR_MAX + 128];
	ssize_t n = 0;
	int fd = openat(s->rcpt_fd, name, O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		n = read(fd, text, sizeof text);
		close(fd);
	}
	if (n < 0 || job_info_parse(text, (size_t)(n > 0 ? n : 0), info) < 0)
		memset(info, 0, sizeof *info);
}

/* defer - a round failed for a while: rename the job to its next DUE,
 * then record the attempt in it.  Returns 0, or -1 when the attempts are
 * used up (the caller fails the recipient). */
static int defer(struct sched *s, struct jt_job *j, const struct delivery *d)
{
	long long now = (long long)time(NULL), due = now + s->cfg->retry;
	char old[JOB_NAME_MAX], name[JOB_NAME_MAX];
	struct job_info info;

	job_file(j, old);
	read_job_info(s, old, &info);
	info.attempts++;
	if (info.first == 0)
		info.first = now;
	snprintf(info.error, sizeof info.error, "%s", d->result.text);
	if (info.attempts >= s->cfg->attempts)
		return -1;
	j->due = due;
	job_file(j, name);
	/* Rename first: a crash after it leaves the old content under the new
	 * name (one attempt uncounted), never two files for one recipient. */
	if (renameat(s->rcpt_fd, old, s->rcpt_fd, name) < 0) {
		log_event("queue-error", "op=rename file=rcpt/%s error=\"%s\"", old,
		          strerror(errno));
		j->due = now + s->cfg->retry;
	} else if (write_job_info(s, name, &info) < 0) {
		log_event("queue-error", "op=write file=rcpt/%s error=\"%s\"", name,
		          strerror(errno));
	}
	jobtab_stop(s->t, j, due);
	log_event("retry", "id=%s rcpt=<%s> attempt=%u next=%lld", d->id, d->rcpt,
	          info.attempts, due);
	return 0;
}

/* finish_job - the recipient is done (delivered or failed): unlink it */
static void finish_job(struct sched *s, struct jt_job *j)
{
	char name[JOB_NAME_MAX];

	job_file(j, name);
	if (unlinkat(s->rcpt_fd, name, 0) < 0 && errno != ENOENT)
		log_event("queue-error", "op=unlink file=rcpt/%s error=\"%s\"", name,
		          strerror(errno));
	forget_job(s, j);
}

/* running_siblings - jobs of m other than j still being delivered */
static int running_siblings(const struct jt_msg *m, const struct jt_job *j)
{
	const struct jt_job *k;

	for (k = m->jobs; k; k = k->next)
		if (k != j && k->running && !k->failed)
			return 1;
	return 0;
}

/* report_failures - once no delivery of m is running, tell the sender
 * about every failed recipient in one report, then drop their jobs */
static void report_failures(struct sched *s, struct jt_msg *m)
{
	struct failure *f, *list = m->fails, *next;
	struct bounce_rcpt *br;
	struct envelope env;
	long long offset;
	struct status st;
	size_t n = 0, i;
	int fd, ok = 0;

	if (list == NULL || running_siblings(m, NULL))
		return;
	m->fails = NULL;
	for (f = list; f; f = f->next)
		n++;
	br = calloc(n, sizeof *br);
	envelope_init(&env);
	fd = openat(s->mess_fd, m->id, O_RDONLY | O_CLOEXEC);
	if (br != NULL && fd >= 0 && envelope_read(fd, &env, &offset) == 0) {
		for (f = list, i = 0; f; f = f->next, i++)
			br[i] = (struct bounce_rcpt){ f->rcpt, f->st, f->remote_mta, f->diag };
		if (env.sender.text[0] == '\0') {
			/* a bounce that bounced: log it, never bounce it again */
			for (f = list; f; f = f->next)
				log_event("bounce-dropped", "id=%s rcpt=<%s> reason=null-sender",
				          m->id, f->rcpt);
			ok = 1;
		} else if (bounce_send(s->q, s->cfg->hostname, &env, fd, offset, br, n, &st) == 0) {
			log_event("bounce", "id=%s to=<%s> rcpts=%zu", m->id,
			          env.sender.text, n);
			ok = 1;
		} else {
			log_event("bounce-error", "id=%s error=\"%s\"", m->id, st.text);
		}
	}
	if (fd >= 0)
		close(fd);
	envelope_free(&env);
	free(br);
	for (f = list; f; f = next) {
		next = f->next;
		f->job->failed = 0;
		if (ok) {
			finish_job(s, f->job);   /* may free m with its last job */
		} else {
			/* No report was written: deliver again later, and report
			 * then if it fails again. */
			jobtab_stop(s->t, f->job, (long long)time(NULL) + s->cfg->retry);
		}
		free(f);
	}
}

/* fail_job - a recipient failed for good: keep it until reported */
static void fail_job(struct sched *s, struct jt_job *j, const struct delivery *d)
{
	struct failure *f = calloc(1, sizeof *f);

	log_event("failed-rcpt", "id=%s rcpt=<%s> error=\"%s\"", d->id, d->rcpt,
	          d->result.text);
	if (f == NULL) {
		jobtab_stop(s->t, j, (long long)time(NULL) + s->cfg->retry);
		return;
	}
	f->job = j;
	f->st = d->result;
	if (f->st.kind == ST_OK)
		f->st.kind = ST_PERM;
	memcpy(f->rcpt, d->rcpt, sizeof f->rcpt);
	memcpy(f->remote_mta, d->remote_mta, sizeof f->remote_mta);
	memcpy(f->diag, d->diag, sizeof f->diag);
	j->failed = 1;               /* stays out of the heap: still "running" */
	f->next = j->msg->fails;
	j->msg->fails = f;
}

/* parking_for - the parking list of domain, created when create is set */
static struct parking *parking_for(struct sched *s, const char *domain, int create)
{
	struct parking *p;

	for (p = s->parked; p; p = p->next)
		if (strcasecmp(p->domain, domain) == 0)
			return p;
	if (!create || (p = calloc(1, sizeof *p)) == NULL)
		return NULL;
	snprintf(p->domain, sizeof p->domain, "%s", domain);
	p->next = s->parked;
	s->parked = p;
	return p;
}

/* park - a job found no slot for its domain: it waits, out of the heap,
 * until a delivery to that domain finishes.  If none is running any more
 * (it finished before this report came) the job goes again at once. */
static void park(struct sched *s, struct jt_job *j, const char *domain)
{
	struct parking *p;

	if (destlimit_active(s->dests, domain) == 0 ||
	    (p = parking_for(s, domain, 1)) == NULL) {
		jobtab_stop(s->t, j, (long long)time(NULL));
		return;
	}
	if (p->head + p->n == p->cap) {
		if (p->head > 0) {
			memmove(p->jobs, p->jobs + p->head, p->n * sizeof *p->jobs);
			p->head = 0;
		} else {
			size_t cap = p->cap ? p->cap * 2 : 16;
			void *a = realloc(p->jobs, cap * sizeof *p->jobs);

			if (a == NULL) {
				jobtab_stop(s->t, j, (long long)time(NULL) + 1);
				return;
			}
			p->jobs = a;
			p->cap = cap;
		}
	}
	j->parked = 1;
	p->jobs[p->head + p->n++] = j;
}

/* unpark - a delivery to domain finished: the next parked job may go */
static void unpark(struct sched *s, const char *domain)
{
	struct parking *p = parking_for(s, domain, 0), **pp;

	while (p && p->n > 0) {
		struct jt_job *j = p->jobs[p->head++];

		p->n--;
		j->parked = 0;
		if (j->gone) {
			forget_job(s, j);    /* removed while it waited */
			continue;
		}
		jobtab_stop(s->t, j, (long long)time(NULL));
		break;
	}
	if (p && p->n == 0) {
		for (pp = &s->parked; *pp != p; pp = &(*pp)->next)
			;
		*pp = p->next;
		free(p->jobs);
		free(p);
	}
}

/* completed - apply one delivery's outcome */
static void completed(struct sched *s, struct delivery *d)
{
	struct jt_job *j = d->job;
	struct jt_msg *m = j->msg;
	char name[JOB_NAME_MAX];

	s->running--;
	if (d->busy) {
		park(s, j, d->dest);
		return;
	}
	if (d->dest[0])
		unpark(s, d->dest);
	/* j is still marked running here: removing it must not touch the
	 * heap, which it left when it started. */
	if (j->gone) {
		forget_job(s, j);      /* removed by an operator meanwhile */
		return;
	}
	if (d->bad) {
		job_file(j, name);
		quarantine(s, s->rcpt_fd, "rcpt", name, d->result.text);
		if (d->bad == DELIVERY_BAD_MESSAGE) {
			if (file_exists(s->mess_fd, d->id))
				quarantine(s, s->mess_fd, "mess", d->id, d->result.text);
			jobtab_remove(s->t, j);
		} else {
			forget_job(s, j);  /* a sound message goes with its last job */
		}
		return;
	}
	if (d->result.kind == ST_OK) {
		/* The message outlives this job while failed recipients of it
		 * wait for their report (they are jobs too). */
		finish_job(s, j);
		if ((m = jobtab_msg(s->t, d->id)) != NULL)
			report_failures(s, m);
		return;
	}
	if (d->result.kind == ST_TEMP && defer(s, j, d) == 0) {
		report_failures(s, m);
		return;
	}
	fail_job(s, j, d);
	report_failures(s, m);
}

/* take_completions - apply every outcome posted so far */
static void take_completions(struct sched *s)
{
	struct delivery *d, *next;
	uint64_t count;

	if (read(s->wake_fd, &count, sizeof count) < 0) {
		/* EAGAIN: nothing new; the list is checked anyway */
	}
	pthread_mutex_lock(&s->done_lock);
	d = s->done;
	s->done = NULL;
	pthread_mutex_unlock(&s->done_lock);
	for (; d; d = next) {
		next = d->next;
		completed(s, d);
		free(d);
	}
}

/* poll_timeout - milliseconds until there is something to do */
static int poll_timeout(struct sched *s)
{
	long long now = (long long)time(NULL), until = s->next_rescan;
	struct jt_job *j = jobtab_next(s->t);

	if (atomic_load(&s->stopping))
		return 200;
	if (j && s->running < s->cfg->max_deliveries && j->due < until)
		until = j->due;
	if (until <= now)
		return 0;
	/* due times are whole seconds: wake at the start of that second */
	return (int)((until - now) * 1000);
}

/* sched_thread - the scheduler's loop */
static void *sched_thread(void *arg)
{
	struct sched *s = arg;
	pthread_attr_t attr;

	log_set_tag("sched");
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, DELIVERY_STACK);
	for (;;) {
		struct pollfd pfd[2] = {
			{ s->ino_fd, POLLIN, 0 }, { s->wake_fd, POLLIN, 0 }
		};
		int stopping = atomic_load(&s->stopping);

		if (stopping && s->running == 0)
			break;
		if (!stopping)
			dispatch(s, &attr);
		if (poll(pfd, 2, poll_timeout(s)) < 0 && errno != EINTR)
			log_event("sched-error", "op=poll error=\"%s\"", strerror(errno));
		if (pfd[1].revents & POLLIN)
			take_completions(s);
		if (pfd[0].revents & POLLIN)
			read_events(s);
		if (!stopping && (long long)time(NULL) >= s->next_rescan)
			rescan(s);
		if (stopping == 2)
			break;          /* grace time over */
	}
	pthread_attr_destroy(&attr);
	return NULL;
}

/* open_dir - open queue/NAME */
static int open_dir(const char *queue, const char *name)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/%s", queue, name);
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* watch - add an inotify watch on queue/NAME */
static int watch(struct sched *s, const char *name, uint32_t mask)
{
	char path[4096];

	snprintf(path, sizeof path, "%s/%s", s->cfg->queue, name);
	return inotify_add_watch(s->ino_fd, path, mask | IN_ONLYDIR);
}

/* sched_start - recovery, then the thread */
int sched_start(struct sched **sp, const struct config *cfg, struct queue *q,
                char *err, size_t errlen)
{
	struct sched *s = calloc(1, sizeof *s);
	struct timespec t0, t1;

	if (s == NULL || (s->t = jobtab_new()) == NULL) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->cfg = cfg;
	s->q = q;
	if (remote_ctx_init(&s->remote, cfg) < 0) {
		snprintf(err, errlen, "bad --dns '%s' (want an IPv4 ADDR[:PORT])", cfg->dns);
		return -1;
	}
	if ((s->dests = destlimit_new(cfg->max_per_dest)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->tmp_fd = open_dir(cfg->queue, "tmp");
	s->new_fd = open_dir(cfg->queue, "new");
	s->mess_fd = open_dir(cfg->queue, "mess");
	s->rcpt_fd = open_dir(cfg->queue, "rcpt");
	s->bad_fd = open_dir(cfg->queue, "bad");
	s->ino_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->tmp_fd < 0 || s->new_fd < 0 || s->mess_fd < 0 || s->rcpt_fd < 0 ||
	    s->bad_fd < 0 || s->ino_fd < 0 || s->wake_fd < 0) {
		snprintf(err, errlen, "scheduler set-up in %s: %s", cfg->queue, strerror(errno));
		return -1;
	}
	/* Watch before scanning: a file renamed in during the scan is then
	 * seen by the scan, by an event, or by both (handled idempotently). */
	s->wd_new = watch(s, "new", IN_MOVED_TO);
	s->wd_rcpt = watch(s, "rcpt", IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE);
	if (s->wd_new < 0 || s->wd_rcpt < 0) {
		snprintf(err, errlen, "inotify on %s: %s", cfg->queue, strerror(errno));
		return -1;
	}
	pthread_mutex_init(&s->done_lock, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	scan_dir(s, s->mess_fd, found_mess);
	rescan(s);
	jobtab_each_msg(s->t, drop_jobless, s);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_event("recovered", "messages=%zu jobs=%zu time=%ldms",
	          jobtab_messages(s->t), jobtab_jobs(s->t),
	          (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
	if (pthread_create(&s->thread, NULL, sched_thread, s) != 0) {
		snprintf(err, errlen, "cannot start the scheduler thread");
		return -1;
	}
	*sp = s;
	return 0;
}

/* sched_stop - no new deliveries; wait a while for running ones */
void sched_stop(struct sched *s, unsigned grace_seconds)
{
	uint64_t one = 1;
	unsigned waited;

	atomic_store(&s->stopping, 1);
	if (write(s->wake_fd, &one, sizeof one) < 0) {
		/* it wakes within 200 ms anyway */
	}
	for (waited = 0; waited < grace_seconds * 10; waited++) {
		struct timespec tick = { 0, 100 * 1000 * 1000 };

		if (pthread_tryjoin_np(s->thread, NULL) == 0)
			return;
		nanosleep(&tick, NULL);
	}
	atomic_store(&s->stopping, 2);
	pthread_join(s->thread, NULL);
	/* Deliveries still running keep using s: it is not freed (the process
	 * is about to exit, and their jobs are retried after the restart). */
}
