/* scheduler.c - the scheduler thread: its loop, taking the outcomes of
 * deliveries, start and stop (dispatch: scheduler_dispatch.c).  See
 * scheduler.h for what it does, scheduler_priv.h for how the parts share
 * work, and mta-queue(5) for why each file operation comes in the order
 * it does. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
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
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "scheduler_priv.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
enum { DELIVERY_STACK = 2 * 1024 * 1024 };
#else
enum { DELIVERY_STACK = 256 * 1024 };
#endif

enum { START_TRIES = 3 };      /* reads of the queue at start-up */

/* sched_job_file - the name of job j */
void sched_job_file(const struct jt_job *j, char *buf)
{
	struct job_name jn;

	jn.due = j->due;
	jn.n = j->n;
	memcpy(jn.id, j->msg->id, sizeof jn.id);
	job_name_format(&jn, buf);
}

/* sched_quarantine - move dir/name aside into bad/ (kept, never
 * delivered), as bad/DIR.NAME, or DIR.NAME.1, .2, ... if that is taken */
void sched_quarantine(struct sched *s, int dir_fd, const char *dir,
                       const char *name, const char *why)
{
	char target[NAME_MAX + 24], from[NAME_MAX + 24], to[NAME_MAX + 32];
	/* a name in the queue may be anything an operator's mv made it */
	char qname[LOG_VALUE_MAX], qtarget[LOG_VALUE_MAX], qwhy[LOG_VALUE_MAX];
	unsigned k;
	int r;

	snprintf(target, sizeof target, "%s.%s", dir, name);
	for (k = 1; (r = queue_rename_excl(dir_fd, name, s->bad_fd, target)) < 0 &&
	            errno == EEXIST && k < 1000; k++)
		snprintf(target, sizeof target, "%s.%s.%u", dir, name, k);
	snprintf(from, sizeof from, "%s/%s", dir, name);
	snprintf(to, sizeof to, "bad/%s", target);
	if (r < 0 && errno != ENOENT)
		log_event("queue-error", "op=quarantine file=%s error=\"%s\"",
		          log_quote(qname, sizeof qname, from), strerror(errno));
	else
		log_event("quarantine", "file=%s to=%s reason=%s",
		          log_quote(qname, sizeof qname, from),
		          log_quote(qtarget, sizeof qtarget, to),
		          log_quote(qwhy, sizeof qwhy, why));
}

/* sched_message_done - the last job of m has gone: remove its file */
void sched_message_done(struct sched *s, const char *id)
{
	if (unlinkat(s->mess_fd, id, 0) < 0 && errno != ENOENT)
		log_event("queue-error", "op=unlink file=mess/%s error=\"%s\"", id,
		          strerror(errno));
	else
		log_event("message-done", "id=%s", id);
}

/* names_id - is id one of the dot-separated parts of name? */
static int names_id(const char *name, const char *id)
{
	size_t n = strlen(id);
	const char *p = name;

	while ((p = strstr(p, id)) != NULL) {
		if ((p == name || p[-1] == '.') && (p[n] == '\0' || p[n] == '.'))
			return 1;
		p++;
	}
	return 0;
}

/* each_name - call fn for every name in dir_fd that starts with prefix
 * (the prefix skipped); stops when fn returns nonzero.  0, or -1 with
 * errno set when the directory could not be read to its end: its names
 * are not known then (a failed readdir() is no end of the directory). */
static int each_name(int dir_fd, const char *prefix,
                     int (*fn)(void *arg, const char *name), void *arg)
{
	struct dirent *de;
	int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	size_t n = strlen(prefix);
	int e;

	if (d == NULL) {
		e = errno;
		if (fd >= 0)
			close(fd);
		errno = e;
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (strncmp(de->d_name, prefix, n) == 0 && fn(arg, de->d_name + n)) {
			errno = 0;
			break;
		}
	}
	e = errno;
	closedir(d);
	errno = e;
	return e == 0 ? 0 : -1;
}

/* struct lookfor - named_in at work */
struct lookfor {
	const char *id;
	int found;
};

/* has_id - does name name the ID looked for?  (stops the walk if so) */
static int has_id(void *arg, const char *name)
{
	struct lookfor *lf = arg;

	return lf->found = names_id(name, lf->id);
}

/* named_in - does a name in dir_fd starting with prefix name id?  1, 0,
 * or -1 (errno set) when the directory could not be read */
static int named_in(int dir_fd, const char *prefix, const char *id)
{
	struct lookfor lf = { id, 0 };

	if (each_name(dir_fd, prefix, has_id, &lf) < 0 && !lf.found)
		return -1;
	return lf.found;
}

/* struct marking - sched_mark_names at work */
struct marking {
	struct sched *s;
	unsigned char bit;
};

/* mark_one - every known message whose ID is a part of name */
static int mark_one(void *arg, const char *name)
{
	struct marking *mk = arg;
	const char *p = name;

	while (*p) {
		size_t n = strcspn(p, ".");
		char part[ENVELOPE_ID_MAX];
		struct jt_msg *m;

		if (n < sizeof part) {
			memcpy(part, p, n);
			part[n] = '\0';
			if (job_id_valid(part, n) && (m = jobtab_msg(mk->s->t, part)) != NULL) {
				if (m->named_gen != mk->s->name_gen) {
					m->named_gen = mk->s->name_gen;
					m->named = 0;
				}
				m->named |= mk->bit;
			}
		}
		p += n;
		if (*p == '.')
			p++;
	}
	return 0;
}

/* sched_mark_names - one pass over bad/rcpt.* */
int sched_mark_names(struct sched *s)
{
	struct marking mk = { s, NAMED_BAD };

	s->name_gen++;
	if (each_name(s->bad_fd, "rcpt.", mark_one, &mk) < 0) {
		log_event("queue-error", "op=scan dir=bad error=\"%s\"", strerror(errno));
		return -1;
	}
	return 0;
}

/* sched_release_message - message id has no job left in memory.  Unlink
 * it, unless a job of it was moved to bad/ (held, or a name in bad/ names
 * it): then the message follows it to bad/.  A job file in rcpt/ that
 * names it is always known by now: rcpt/ is watched for created files
 * too, and the events of a batch are read before its removals settle. */
void sched_release_message(struct sched *s, const char *id, int held, int named)
{
	if (named == NAMED_LOOK) {
		int r = named_in(s->bad_fd, "rcpt.", id);

		if (r < 0)
			log_event("queue-error", "op=scan dir=bad error=\"%s\"", strerror(errno));
		named = r < 0 ? NAMED_UNKNOWN : r ? NAMED_BAD : 0;
	}
	if (held || (named & NAMED_BAD)) {
		sched_quarantine(s, s->mess_fd, "mess", id, "a job of it is in bad/");
		return;
	}
	if (named & NAMED_UNKNOWN) {
		/* a job of it may be in bad/: not removed on a guess */
		log_event("message-kept", "id=%s reason=\"bad/ could not be read\"", id);
		return;
	}
	sched_message_done(s, id);
}

/* sched_unlist - take j off the list of missing jobs */
void sched_unlist(struct sched *s, struct jt_job *j)
{
	size_t i;

	if (!j->listed)
		return;
	for (i = 0; i < s->nmissing; i++)
		if (s->missing[i].job == j) {
			s->missing[i] = s->missing[--s->nmissing];
			break;
		}
	j->listed = j->missing = 0;
}

/* sched_forget_job - drop j from memory; the message with its last job */
void sched_forget_job(struct sched *s, struct jt_job *j)
{
	char id[ENVELOPE_ID_MAX];
	int held = j->msg->held;

	memcpy(id, j->msg->id, sizeof id);
	if (jobtab_remove(s->t, j) == 0)
		sched_release_message(s, id, held, 0);
}

/* sched_drop_removed - forget j, whose file an operator removed or
 * renamed away; with its last job its message is unlinked, or follows a
 * job file of it in bad/ there */
void sched_drop_removed(struct sched *s, struct jt_job *j, int named)
{
	char id[ENVELOPE_ID_MAX];
	int held = j->msg->held;

	memcpy(id, j->msg->id, sizeof id);
	if (jobtab_remove(s->t, j) == 0)
		sched_release_message(s, id, held, named);
}

/* sched_file_exists - does dir_fd/name exist? */
int sched_file_exists(int dir_fd, const char *name)
{
	return faccessat(dir_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
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
		sched_completed(s, d);
		config_put(d->cfg);
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
	if (j && s->running < s->cfg->max_deliveries) {
		long long start = j->due > s->paused_until ? j->due : s->paused_until;

		if (start < until)
			until = start;
	}
	if (until <= now)
		return 0;
	/* due times are whole seconds: wake at the start of that second */
	return (int)((until - now) * 1000);
}

/* refresh_config - this round's snapshot: SIGHUP may have published a
 * new one (config.h); the settings that need a restart are the same in
 * every snapshot */
static void refresh_config(struct sched *s)
{
	const struct config *fresh = config_get();

	if (fresh == NULL)
		return;
	if (fresh != s->cfg && s->t != NULL)
		sched_forget_routes(s);  /* routes and domains may differ now */
	config_put(s->cfg);
	s->cfg = fresh;
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
		refresh_config(s);
		if (!stopping)
			sched_dispatch(s, &attr);
		if (poll(pfd, 2, poll_timeout(s)) < 0 && errno != EINTR)
			log_event("sched-error", "op=poll error=\"%s\"", strerror(errno));
		if (pfd[1].revents & POLLIN)
			take_completions(s);
		/* after completions always: a job whose file an outcome found
		 * gone is settled with the events of its removal, which are
		 * queued by then, before anything is dispatched */
		if (pfd[0].revents & POLLIN || pfd[1].revents & POLLIN)
			sched_read_events(s);
		if (!stopping && (long long)time(NULL) >= s->next_rescan) {
			destlimit_prune(s->dests, (long long)time(NULL));
			sched_rescan(s);
		}
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

/* start_failed - undo a sched_start that failed half-way; -1 */
static int start_failed(struct sched *s, int remote_up)
{
	int *fds[] = { &s->tmp_fd, &s->new_fd, &s->mess_fd, &s->rcpt_fd,
	               &s->bad_fd, &s->ino_fd, &s->wake_fd };
	size_t i;

	for (i = 0; i < sizeof fds / sizeof fds[0]; i++)
		if (*fds[i] >= 0)
			close(*fds[i]);
	if (remote_up)
		remote_ctx_free(&s->remote);
	if (s->dests)
		destlimit_free(s->dests);
	jobtab_free(s->t);
	free(s->arrived);
	free(s->freed);
	free(s->created);
	free(s->missing);
	free(s);
	return -1;
}

/* recover - read the queue into memory (scheduler.h, start-up), up to
 * START_TRIES times while a directory cannot be read to its end: a job
 * not seen would leave its message looking jobless, and jobless messages
 * are removed.  Refusing to start is better than that.  0, or -1 with
 * err set. */
static int recover(struct sched *s, char *err, size_t errlen)
{
	unsigned tries;

	for (tries = 1; ; tries++) {
		if (sched_scan_dir(s, s->mess_fd, sched_found_mess) == 0) {
			if (sched_rescan(s) == 0)
				break;
		} else {
			s->scan_dir = "mess";
			s->scan_error = errno;
			log_event("queue-error", "op=scan dir=mess error=\"%s\" action=retry seconds=1",
			          strerror(errno));
		}
		if (tries == START_TRIES) {
			snprintf(err, errlen, "cannot read %s/%s: %s (%u tries); not starting, "
			         "rather than take its messages for done", s->cfg->queue,
			         s->scan_dir, strerror(s->scan_error), tries);
			return -1;
		}
		sleep(1);
	}
	s->paused_until = 0;        /* the retries' pause is over */
	jobtab_each_msg(s->t, sched_drop_jobless, s);
	return 0;
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
	s->tmp_fd = s->new_fd = s->mess_fd = s->rcpt_fd = s->bad_fd = -1;
	s->ino_fd = s->wake_fd = -1;
	s->cfg = cfg;
	s->q = q;
	switch (remote_ctx_init(&s->remote, cfg)) {
	case 0:
		break;
	case -1:
		snprintf(err, errlen, "bad --dns '%s' (want an IPv4 ADDR[:PORT])", cfg->dns);
		return start_failed(s, 0);
	default:
		snprintf(err, errlen, "cannot set up the SMTP connection cache");
		return start_failed(s, 0);
	}
	if ((s->dests = destlimit_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		return start_failed(s, 1);
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
		return start_failed(s, 1);
	}
	/* Watch before scanning: a file renamed in during the scan is then
	 * seen by the scan, by an event, or by both (handled idempotently). */
	/* IN_CREATE: a message linked in where renameat2 cannot refuse to
	 * replace (queue_rename_excl) */
	s->wd_new = watch(s, "new", IN_MOVED_TO | IN_CREATE);
	s->wd_rcpt = watch(s, "rcpt", IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE);
	if (s->wd_new < 0 || s->wd_rcpt < 0) {
		snprintf(err, errlen, "inotify on %s: %s", cfg->queue, strerror(errno));
		return start_failed(s, 1);
	}
	pthread_mutex_init(&s->done_lock, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (recover(s, err, errlen) < 0) {
		pthread_mutex_destroy(&s->done_lock);
		return start_failed(s, 1);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	log_event("recovered", "messages=%zu jobs=%zu time=%ldms",
	          jobtab_messages(s->t), jobtab_jobs(s->t),
	          (long)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000));
	if (pthread_create(&s->thread, NULL, sched_thread, s) != 0) {
		snprintf(err, errlen, "cannot start the scheduler thread");
		return start_failed(s, 1);
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
			break;
		nanosleep(&tick, NULL);
	}
	if (waited == grace_seconds * 10) {
		atomic_store(&s->stopping, 2);
		pthread_join(s->thread, NULL);
	}
	/* Deliveries still running keep using s: it is not freed (the process
	 * is about to exit, and their jobs are retried after the restart). */
	if (s->running == 0)
		remote_ctx_free(&s->remote);
}

