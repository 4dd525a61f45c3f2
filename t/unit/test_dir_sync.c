/* test_dir_sync.c - the shared fsync of a directory: concurrent waiters
 * on one directory share fsyncs; a waiter is covered only by an fsync
 * that started after it arrived; a failed fsync fails every waiter that
 * had arrived, and every caller whose ticket (taken before its rename)
 * came before it returned; different directories are synced apart;
 * waiters that keep coming all return; concurrent Maildir deliveries into
 * one mailbox share the fsync of new/. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dir_sync.h"
#include "maildir.h"

enum { THREADS = 8 };

static atomic_int syncs;               /* hooked fsyncs started */
static atomic_int quick;               /* the hook does not sleep */
static atomic_int fail_with;           /* errno the hook fails with, 0 none */
static atomic_int fail_only;           /* only this call fails (1..), 0 all */
static atomic_llong last_start_ns;     /* when the last hooked fsync began */
static atomic_int gate;                /* 1: the first fsync waits for 2 */
static ino_t synced_ino[64];           /* the directories synced, in order */
static pthread_mutex_t synced_lock = PTHREAD_MUTEX_INITIALIZER;

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* slow_sync - an fsync that takes 50 ms, counted, maybe failing */
static int slow_sync(int fd)
{
	struct stat sb;
	int n = atomic_fetch_add(&syncs, 1), e;

	atomic_store(&last_start_ns, now_ns());
	if (fstat(fd, &sb) == 0 && n < 64) {
		pthread_mutex_lock(&synced_lock);
		synced_ino[n] = sb.st_ino;
		pthread_mutex_unlock(&synced_lock);
	}
	if (n == 0 && atomic_load(&gate) == 1)     /* at most 10 s */
		for (int i = 0; i < 10000 && atomic_load(&gate) == 1; i++)
			usleep(1000);
	usleep(atomic_load(&quick) ? 100 : 50000);
	e = atomic_load(&fail_with);
	if (e != 0 && (atomic_load(&fail_only) == 0 || atomic_load(&fail_only) == n + 1)) {
		errno = e;
		return -1;
	}
	return fsync(fd);
}

static char dir[] = "/tmp/mta-unit-ds.XXXXXX";

static void setup(void)
{
	cr_assert_not_null(mkdtemp(dir));
	dir_sync_hook(slow_sync);
}

static void teardown(void)
{
	char cmd[64];

	dir_sync_hook(NULL);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(dir_sync, .init = setup, .fini = teardown, .timeout = 30);

static pthread_barrier_t start;

/* sync_once - a ticket, then the wait, as a caller with nothing to
 * rename between them */
static int sync_once(int fd)
{
	struct dir_sync_ticket t;

	dir_sync_enter(fd, &t);
	return dir_sync_wait(fd, &t);
}

/* waiter - open the directory arg names, wait at the barrier, sync */
static void *waiter(void *arg)
{
	int fd = open(arg, O_RDONLY | O_DIRECTORY), r;

	cr_assert_geq(fd, 0);
	pthread_barrier_wait(&start);
	r = sync_once(fd);
	close(fd);
	return (void *)(long)(r < 0 ? errno : 0);
}

/* run - THREADS waiters on paths[i % npaths]; each one's result in res */
static void run(char **paths, int npaths, long *res)
{
	pthread_t t[THREADS];
	void *r;
	int i;

	pthread_barrier_init(&start, NULL, THREADS);
	for (i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, waiter, paths[i % npaths]), 0);
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], &r);
		res[i] = (long)r;
	}
	pthread_barrier_destroy(&start);
}

Test(dir_sync, concurrent_waiters_share)
{
	char *paths[] = { dir };
	long res[THREADS];
	int i;

	run(paths, 1, res);
	for (i = 0; i < THREADS; i++)
		cr_assert_eq(res[i], 0);
	/* the first may sync alone; all who came during it share the next */
	cr_assert_geq(atomic_load(&syncs), 1);
	cr_assert_leq(atomic_load(&syncs), 3, "%d fsyncs for %d waiters",
	              atomic_load(&syncs), THREADS);
}

Test(dir_sync, different_directories_apart)
{
	char a[64], b[64], *paths[] = { a, b };
	struct stat sa, sb;
	long res[THREADS];
	int i, seen_a = 0, seen_b = 0;

	snprintf(a, sizeof a, "%s/a", dir);
	snprintf(b, sizeof b, "%s/b", dir);
	cr_assert_eq(mkdir(a, 0700), 0);
	cr_assert_eq(mkdir(b, 0700), 0);
	stat(a, &sa);
	stat(b, &sb);
	run(paths, 2, res);
	for (i = 0; i < THREADS; i++)
		cr_assert_eq(res[i], 0);
	for (i = 0; i < atomic_load(&syncs) && i < 64; i++) {
		seen_a |= synced_ino[i] == sa.st_ino;
		seen_b |= synced_ino[i] == sb.st_ino;
	}
	cr_assert(seen_a && seen_b, "each directory synced on its own");
}

/* early - one waiter that starts the first fsync */
static void *early(void *arg)
{
	int fd = open(arg, O_RDONLY | O_DIRECTORY), r;

	r = sync_once(fd);
	close(fd);
	return (void *)(long)r;
}

Test(dir_sync, covered_only_by_a_later_fsync)
{
	pthread_t t;
	long long arrived;
	int fd;

	cr_assert_eq(pthread_create(&t, NULL, early, dir), 0);
	while (atomic_load(&syncs) == 0)   /* the first fsync is running */
		usleep(1000);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	arrived = now_ns();
	cr_assert_eq(sync_once(fd), 0);
	close(fd);
	pthread_join(t, NULL);
	/* the fsync already running when we came cannot cover our rename */
	cr_assert_eq(atomic_load(&syncs), 2);
	cr_assert_gt(atomic_load(&last_start_ns), arrived);
}

Test(dir_sync, failure_fails_every_waiter)
{
	char *paths[] = { dir };
	long res[THREADS];
	int i, fd;

	atomic_store(&fail_with, EIO);
	run(paths, 1, res);
	for (i = 0; i < THREADS; i++)
		cr_assert_eq(res[i], EIO, "waiter %d: %ld", i, res[i]);
	/* later waiters are judged by a new fsync */
	atomic_store(&fail_with, 0);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	cr_assert_eq(sync_once(fd), 0);
	close(fd);
}

/* errno is the fsync's after a failure and left as it was after a
 * success (a caller that reads errno after a success must not find a 0
 * or a stale error put there by dir_sync_wait) */
Test(dir_sync, errno_set_only_on_failure)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	cr_assert_geq(fd, 0);
	atomic_store(&quick, 1);
	errno = ENOTTY;
	cr_assert_eq(sync_once(fd), 0);
	cr_assert_eq(errno, ENOTTY, "errno after a success: %d", errno);
	atomic_store(&fail_with, EROFS);
	errno = 0;
	cr_assert_eq(sync_once(fd), -1);
	cr_assert_eq(errno, EROFS, "errno after a failure: %d", errno);
	close(fd);
}

/* first_fsync_failing - a thread's fsync of the directory runs (in *t)
 * and will fail with EIO; an fd of the directory */
static int first_fsync_failing(pthread_t *t)
{
	int fd;

	atomic_store(&fail_with, EIO);
	atomic_store(&fail_only, 1);
	cr_assert_eq(pthread_create(t, NULL, early, dir), 0);
	while (atomic_load(&syncs) == 0)   /* the first fsync is running */
		usleep(1000);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(fd, 0);
	return fd;
}

/* The first fsync fails while a second waiter arrives: the failure
 * fails it too (it may have taken its rename's error along), though that
 * fsync began before it came and the next would succeed. */
Test(dir_sync, a_failure_fails_a_waiter_that_came_while_it_ran)
{
	pthread_t t;
	int fd, r;
	void *rr;

	fd = first_fsync_failing(&t);
	r = sync_once(fd);
	cr_assert_eq(r, -1, "the waiter that came while it ran fails");
	cr_assert_eq(errno, EIO);
	close(fd);
	pthread_join(t, &rr);
	cr_assert_eq((long)rr, -1, "the one whose fsync failed");
	cr_assert_eq(atomic_load(&syncs), 1, "decided by the failure: no second fsync");
}

/* A ticket taken while the first fsync runs, its wait only after that
 * fsync failed: it fails too (its rename, made meanwhile, may have lost
 * its error to that fsync), with no fsync of its own; a ticket taken
 * after the failure gets a new fsync. */
Test(dir_sync, a_failure_fails_a_ticket_taken_before_it_returned)
{
	struct dir_sync_ticket before, after;
	pthread_t t;
	int fd;
	void *rr;

	atomic_store(&gate, 1);            /* the failing fsync waits for it */
	fd = first_fsync_failing(&t);
	cr_assert_geq(fd, 0);
	dir_sync_enter(fd, &before);
	atomic_store(&gate, 2);
	pthread_join(t, &rr);
	cr_assert_eq((long)rr, -1, "the one whose fsync failed");
	dir_sync_enter(fd, &after);
	errno = 0;
	cr_assert_eq(dir_sync_wait(fd, &before), -1, "the ticket taken before the failure returned fails");
	cr_assert_eq(errno, EIO);
	cr_assert_eq(atomic_load(&syncs), 1, "decided by the failure: no fsync of its own");
	cr_assert_eq(dir_sync_wait(fd, &after), 0, "a ticket taken after it gets a new fsync");
	cr_assert_eq(atomic_load(&syncs), 2);
	close(fd);
}

/* no_errno_fail - a sync that fails and leaves errno as it was (0) */
static int no_errno_fail(int fd)
{
	(void)fd;
	atomic_fetch_add(&syncs, 1);
	return -1;
}

/* A sync that fails without saying why is a failure all the same: EIO,
 * never the success a leftover errno of 0 would make of it. */
Test(dir_sync, a_failure_without_errno_is_eio)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	cr_assert_geq(fd, 0);
	dir_sync_hook(no_errno_fail);
	errno = 0;
	cr_assert_eq(sync_once(fd), -1);
	cr_assert_eq(errno, EIO, "errno %d", errno);
	cr_assert_eq(atomic_load(&syncs), 1);
	close(fd);
}

/* A ticket given back unused (its rename failed) leaves the group as it
 * was: the next caller's wait runs and succeeds. */
Test(dir_sync, a_ticket_given_back)
{
	struct dir_sync_ticket t;
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	cr_assert_geq(fd, 0);
	atomic_store(&quick, 1);
	dir_sync_enter(fd, &t);
	dir_sync_leave(&t);
	cr_assert_eq(sync_once(fd), 0);
	cr_assert_eq(atomic_load(&syncs), 1);
	close(fd);
}

/* many_waits - ROUNDS waits one after another on the directory arg
 * names; how many failed */
enum { ROUNDS = 300 };
static void *many_waits(void *arg)
{
	int fd = open(arg, O_RDONLY | O_DIRECTORY), i;
	long failed = 0;

	cr_assert_geq(fd, 0);
	pthread_barrier_wait(&start);
	for (i = 0; i < ROUNDS; i++)
		failed += sync_once(fd) < 0;
	close(fd);
	return (void *)failed;
}

/* Waiters keep arriving while fsyncs run, on two directories whose
 * groups empty and fill again: every wait returns (a leader hands the
 * next fsync on, nobody is left asleep), none fails, and they share. */
Test(dir_sync, steady_arrivals_all_return_and_share)
{
	char a[64], b[64];
	pthread_t t[THREADS];
	void *r;
	int i;

	atomic_store(&quick, 1);
	snprintf(a, sizeof a, "%s/a", dir);
	snprintf(b, sizeof b, "%s/b", dir);
	cr_assert_eq(mkdir(a, 0700), 0);
	cr_assert_eq(mkdir(b, 0700), 0);
	pthread_barrier_init(&start, NULL, THREADS);
	for (i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, many_waits, i % 2 ? a : b), 0);
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], &r);
		cr_assert_eq((long)r, 0, "thread %d: %ld waits failed", i, (long)r);
	}
	pthread_barrier_destroy(&start);
	atomic_store(&quick, 0);
	cr_assert_lt(atomic_load(&syncs), THREADS * ROUNDS, "%d fsyncs for %d waits",
	             atomic_load(&syncs), THREADS * ROUNDS);
}

/* deliver_one - one Maildir delivery into dir/box of the file arg */
static int msgfd;
static void *deliver_one(void *arg)
{
	struct local_msg m = { "user@example.org", "sender@example.org", msgfd, 0, NULL };
	struct local_owner own = { 0, 0, 0 };
	struct maildir_dirs dirs;
	struct status st;
	int boxfd = open(arg, O_RDONLY | O_DIRECTORY);

	cr_assert_geq(boxfd, 0);
	cr_assert_eq(maildir_dirs_open(boxfd, "box", &own, &dirs, &st), 0, "%s", st.text);
	pthread_barrier_wait(&start);
	st = maildir_deliver(&dirs, "box", "host.example", &m, &own);
	maildir_dirs_close(&dirs);
	return (void *)(long)st.kind;
}

Test(dir_sync, maildir_deliveries_share_the_fsync_of_new)
{
	char box[64], path[96], tmpl[] = "/tmp/mta-unit-dsmsg.XXXXXX";
	pthread_t t[THREADS];
	void *r;
	int i, n = 0;
	DIR *d;

	msgfd = mkstemp(tmpl);
	cr_assert_geq(msgfd, 0);
	unlink(tmpl);
	cr_assert_eq(write(msgfd, "Subject: x\n\nbody\n", 17), 17);
	snprintf(box, sizeof box, "%s/box", dir);
	cr_assert_eq(mkdir(box, 0700), 0);
	pthread_barrier_init(&start, NULL, THREADS);
	for (i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, deliver_one, box), 0);
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], &r);
		cr_assert_eq((long)r, ST_OK);
	}
	pthread_barrier_destroy(&start);
	snprintf(path, sizeof path, "%s/new", box);
	cr_assert_not_null(d = opendir(path));
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	cr_assert_eq(n - 2, THREADS, "every message in new/");
	cr_assert_geq(atomic_load(&syncs), 1, "new/ synced through dir_sync");
	cr_assert_lt(atomic_load(&syncs), THREADS, "%d fsyncs of new/ for %d deliveries",
	             atomic_load(&syncs), THREADS);
	close(msgfd);
}
