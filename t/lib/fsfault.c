/* fsfault.c - an LD_PRELOAD library that makes the daemon meet the
 * faults and races of t/66-queue-races.t at a chosen instant, by
 * environment variables (each off when unset):
 *
 *   FSFAULT_USEC=N       gettimeofday() always says N microseconds since
 *                        the epoch: a clock that stands still, so a
 *                        restarted daemon makes the IDs it made before
 *   FSFAULT_BACKWARDS=S  each gettimeofday() is S seconds earlier than
 *                        the one before (call k: the real time - k*S): a
 *                        wall clock that keeps being set back
 *   FSFAULT_FSYNC_DIR=P  fsync() of the directory P (its real path) is
 *                        counted; its call number FSFAULT_FSYNC_HOLD
 *                        creates $FSFAULT_CTL/held and waits (at most
 *                        60 s) for $FSFAULT_CTL/release before it runs;
 *                        its call number FSFAULT_FSYNC_FAIL runs and then
 *                        fails with EIO (a lost writeback, reported once)
 *   FSFAULT_RENAME_DIR=P renames into the directory P (its real path)
 *                        are counted; call number FSFAULT_RENAME_HOLD
 *                        renames, then creates $FSFAULT_CTL/rheld and
 *                        waits (at most 60 s) for $FSFAULT_CTL/rrelease
 *                        before it returns: a receiver that has renamed
 *                        but not yet come to wait for its fsync
 *   FSFAULT_NOREPLACE=1  renameat2() with flags fails with EINVAL, as on
 *                        a file system without RENAME_NOREPLACE
 *   FSFAULT_NOLINK=1     linkat() fails with EPERM (no hard links)
 *   FSFAULT_CTL=DIR      control files; a rename of a queue file whose
 *                        old name contains the text of $DIR/vanish finds
 *                        that file removed just before (an operator's rm
 *                        racing the rename); vanish is then removed
 *
 * Test code only: no locking beyond an atomic counter. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static atomic_int fsyncs, renames;
static atomic_long clock_calls;

int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
	static int (*real)(struct timeval *restrict, void *restrict);
	const char *u = getenv("FSFAULT_USEC");

	if (u != NULL) {
		unsigned long long v = strtoull(u, NULL, 10);

		tv->tv_sec = (time_t)(v / 1000000);
		tv->tv_usec = (suseconds_t)(v % 1000000);
		return 0;
	}
	if (real == NULL)
		real = (int (*)(struct timeval *restrict, void *restrict))dlsym(RTLD_NEXT, "gettimeofday");
	if ((u = getenv("FSFAULT_BACKWARDS")) != NULL) {
		long k = atomic_fetch_add(&clock_calls, 1) + 1;
		int r = real(tv, tz);

		tv->tv_sec -= (time_t)(k * strtol(u, NULL, 10));
		return r;
	}
	return real(tv, tz);
}

static int ctl_path(char *buf, size_t len, const char *name)
{
	const char *d = getenv("FSFAULT_CTL");

	return d != NULL && snprintf(buf, len, "%s/%s", d, name) < (int)len;
}

int fsync(int fd)
{
	static int (*real)(int);
	const char *dir = getenv("FSFAULT_FSYNC_DIR");
	char proc[64], path[4096], ctl[4096];
	ssize_t n;
	int call, r, i;

	if (real == NULL)
		real = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
	if (dir == NULL || (n = readlink(proc, path, sizeof path - 1)) < 0)
		return real(fd);
	path[n] = '\0';
	if (strcmp(path, dir) != 0)
		return real(fd);
	call = atomic_fetch_add(&fsyncs, 1) + 1;
	if (getenv("FSFAULT_FSYNC_HOLD") && call == atoi(getenv("FSFAULT_FSYNC_HOLD")) &&
	    ctl_path(ctl, sizeof ctl, "held")) {
		close(open(ctl, O_WRONLY | O_CREAT, 0600));
		ctl_path(ctl, sizeof ctl, "release");
		for (i = 0; i < 6000 && access(ctl, F_OK) != 0; i++)
			usleep(10000);
	}
	r = real(fd);
	if (getenv("FSFAULT_FSYNC_FAIL") && call == atoi(getenv("FSFAULT_FSYNC_FAIL"))) {
		errno = EIO;
		return -1;
	}
	return r;
}

/* rename_hold - after a rename into newdir: the hold of
 * FSFAULT_RENAME_HOLD, when this is that call into FSFAULT_RENAME_DIR */
static void rename_hold(int newdir)
{
	const char *dir = getenv("FSFAULT_RENAME_DIR"), *hold = getenv("FSFAULT_RENAME_HOLD");
	char proc[64], path[4096], ctl[4096];
	ssize_t n;
	int i;

	if (dir == NULL || hold == NULL)
		return;
	snprintf(proc, sizeof proc, "/proc/self/fd/%d", newdir);
	if ((n = readlink(proc, path, sizeof path - 1)) < 0)
		return;
	path[n] = '\0';
	if (strcmp(path, dir) != 0 || atomic_fetch_add(&renames, 1) + 1 != atoi(hold) ||
	    !ctl_path(ctl, sizeof ctl, "rheld"))
		return;
	close(open(ctl, O_WRONLY | O_CREAT, 0600));
	ctl_path(ctl, sizeof ctl, "rrelease");
	for (i = 0; i < 6000 && access(ctl, F_OK) != 0; i++)
		usleep(10000);
}

/* vanish - remove olddir/old first if its name contains the text of
 * $FSFAULT_CTL/vanish */
static void vanish(int olddir, const char *old)
{
	char ctl[4096], want[256];
	FILE *f;

	if (!ctl_path(ctl, sizeof ctl, "vanish") || (f = fopen(ctl, "r")) == NULL)
		return;
	if (fgets(want, sizeof want, f) != NULL) {
		want[strcspn(want, "\n")] = '\0';
		if (want[0] && strstr(old, want) != NULL) {
			unlinkat(olddir, old, 0);
			unlink(ctl);
		}
	}
	fclose(f);
}

int renameat(int olddir, const char *old, int newdir, const char *new)
{
	static int (*real)(int, const char *, int, const char *);
	int r;

	if (real == NULL)
		real = (int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT, "renameat");
	vanish(olddir, old);
	r = real(olddir, old, newdir, new);
	if (r == 0)
		rename_hold(newdir);
	return r;
}

int renameat2(int olddir, const char *old, int newdir, const char *new, unsigned flags)
{
	static int (*real)(int, const char *, int, const char *, unsigned);
	int r;

	if (real == NULL)
		real = (int (*)(int, const char *, int, const char *, unsigned))dlsym(RTLD_NEXT, "renameat2");
	vanish(olddir, old);
	if (flags != 0 && getenv("FSFAULT_NOREPLACE")) {
		errno = EINVAL;
		return -1;
	}
	r = real(olddir, old, newdir, new, flags);
	if (r == 0)
		rename_hold(newdir);
	return r;
}

int linkat(int olddir, const char *old, int newdir, const char *new, int flags)
{
	static int (*real)(int, const char *, int, const char *, int);

	if (real == NULL)
		real = (int (*)(int, const char *, int, const char *, int))dlsym(RTLD_NEXT, "linkat");
	if (getenv("FSFAULT_NOLINK")) {
		errno = EPERM;
		return -1;
	}
	return real(olddir, old, newdir, new, flags);
}
