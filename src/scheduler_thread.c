/* scheduler_thread.c - the scheduler thread: its loop, taking the
 * outcomes of deliveries, start-up recovery, start and stop.  See
 * scheduler.h for what it does and mta-queue(5) for why each file
 * operation comes in the order it does.  Its files call each other one
 * way only, from the top:
 *
 *   scheduler_thread.c   the thread: its loop, completions, start, stop
 *   scheduler_dispatch.c starting deliveries: routes, limits, dead hops
 *   scheduler_files.c    reading the queue: scans, inotify events
 *   scheduler_outcome.c  applying outcomes: defer, finish, bounces, slots
 *   scheduler_notice.c   delay warnings and success reports (bounce.h)
 *   scheduler_explode.c  new messages into jobs; filing first attempts
 *                        that wait into job files and mess/, in batches
 *   scheduler_route.c    each job's transport and next hop, made at
 *                        explode and kept with the job; the siblings
 *                        that ride along in a job's delivery
 *   scheduler.c          memory against files: forgetting jobs,
 *                        releasing messages, jobs gone missing, names in
 *                        bad/ (scheduler_priv.h: the state they share)
 *
 * and below them all sched_policy.h (the decisions: no I/O) and queue.h
 * (the store: every file operation; the scheduler never builds a path).
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "scheduler.h"
#include "scheduler_dispatch.h"
#include "scheduler_explode.h"
#include "scheduler_files.h"
#include "scheduler_outcome.h"
#include "scheduler_route.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
enum { DELIVERY_STACK = 2 * 1024 * 1024 };
#else
enum { DELIVERY_STACK = 256 * 1024 };
#endif

enum { START_TRIES = 3 };      /* reads of the queue at start-up */

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
		delivery_free(d);
	}
}

/* poll_timeout - milliseconds until there is something to do */
static int poll_timeout(struct sched *s)
{
	long long now = (long long)time(NULL), until = s->next_rescan, ms;
	long long young = sched_young_wait(s), filing = sched_filing_at(s);
	struct jt_job *j = jobtab_next(s->t);

	if (atomic_load(&s->stopping))
		return 200;
	/* a filing retry has its own time: a rescan in between moves
	 * next_rescan on, not it */
	if (filing >= 0 && filing < until)
		until = filing;
	if (j && s->running < s->cfg->max_deliveries) {
		long long start = j->due > s->paused_until ? j->due : s->paused_until;

		if (start < until)
			until = start;
	}
	if (until <= now)
		return 0;
	/* due times are whole seconds: wake at the start of that second */
	ms = until - now < INT_MAX / 1000 ? (until - now) * 1000 : INT_MAX;
	return (int)(young >= 0 && young < ms ? young : ms);
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
	pthread_setname_np(pthread_self(), "mta-sched");
	/* joinable: the delivery pool joins its threads once they end */
	pthread_attr_init(&attr);
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
		/* first attempts that take long, and the deferrals of first
		 * attempts just recorded: into job files and mess/ */
		sched_file_young(s);
		sched_file_batch(s);
		if (!stopping && (long long)time(NULL) >= s->next_rescan) {
			destlimit_prune(s->dests, (long long)time(NULL));
			sched_rescan(s);
			sched_recheck_lines(s);  /* a line stalled, were it missed */
		}
		if (stopping == 2)
			break;          /* grace time over */
	}
	sched_file_batch(s);        /* the last outcomes' */
	pthread_attr_destroy(&attr);
	return NULL;
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
	if (s->ino_fd >= 0)
		close(s->ino_fd);
	if (s->wake_fd >= 0)
		close(s->wake_fd);
	if (remote_up)
		remote_ctx_free(&s->remote);
	if (s->dests)
		destlimit_free(s->dests);
	jobtab_free(s->t);
	free(s->arrived);
	free(s->freed);
	free(s->created);
	free(s->filing);
	free(s->young);
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
		if (sched_recover_mess(s) == 0) {
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
	s->ino_fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	s->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->ino_fd < 0 || s->wake_fd < 0) {
		snprintf(err, errlen, "scheduler set-up in %s: %s", cfg->queue, strerror(errno));
		return start_failed(s, 1);
	}
	/* Watch before scanning: a file renamed in during the scan is then
	 * seen by the scan, by an event, or by both (handled idempotently). */
	/* IN_CREATE: a message linked in where renameat2 cannot refuse to
	 * replace (queue_rename_excl); IN_CLOSE_WRITE: a receiver's commit
	 * decided (a file renamed in before its fdatasync is left alone
	 * until then: queue_msg_committing) */
	s->wd_new = watch(s, "new", IN_MOVED_TO | IN_CREATE | IN_CLOSE_WRITE);
	s->wd_rcpt = watch(s, "rcpt", IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE);
	/* local submissions: mta-send renames each into place */
	s->wd_maildrop = watch(s, "maildrop", IN_MOVED_TO);
	/* a receiver's close where its rename into new/ was a link (the
	 * descriptor's name is then tmp/ID, unlinked): its commit decided */
	s->wd_tmp = watch(s, "tmp", IN_CLOSE_WRITE);
	if (s->wd_new < 0 || s->wd_rcpt < 0 || s->wd_maildrop < 0 || s->wd_tmp < 0) {
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
	if (s->running == 0) {
		remote_ctx_free(&s->remote);
		sched_pool_end();
	} else {
		sched_pool_reap();
	}
}

