/* mbox.c - mbox delivery: fcntl lock, then dotlock, append, fsync,
 * unlock; see mbox.h */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "mbox.h"
#include "monotonic.h"
#include "policy.h"

enum {
	REOPEN_TRIES = 5,          /* times to follow a mbox replaced under us */
	OPEN_TRIES = 5,            /* create/open races with another creator */
	DOTLOCK_NAP_MS = 100,      /* pause between dotlock attempts */
	FCNTL_NAP_MIN_MS = 5,      /* pauses between fcntl lock attempts: */
	FCNTL_NAP_MAX_MS = 100     /* doubling from MIN up to MAX */
};

static const char wdays[7][4] = {
	"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
};
static const char months[12][4] = {
	"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
};

/* mbox_date - asctime() layout, our own code: asctime() is not
 * thread-safe */
void mbox_date(time_t t, char *buf)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL || tm.tm_wday < 0 || tm.tm_wday > 6 ||
	    tm.tm_mon < 0 || tm.tm_mon > 11) {
		snprintf(buf, MBOX_DATE_MAX, "Thu Jan  1 00:00:00 1970");
		return;
	}
	snprintf(buf, MBOX_DATE_MAX, "%s %s %2d %02d:%02d:%02d %d",
	         wdays[tm.tm_wday], months[tm.tm_mon], tm.tm_mday, tm.tm_hour,
	         tm.tm_min, tm.tm_sec, tm.tm_year + 1900);
}

/* open_mbox - open rootfd/name for appending, creating it (0600, owned
 * per own) when missing; never through a symlink.  fd or -1 with errno. */
static int open_mbox(int rootfd, const char *name,
                     const struct local_owner *own)
{
	/* O_NONBLOCK: opening a FIFO planted at NAME must not hang us; it is
	 * refused below as not a regular file. */
	const int flags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK |
	                  O_CLOEXEC;
	int fd, i, err;

	for (i = 0; i < OPEN_TRIES; i++) {
		fd = openat(rootfd, name, flags);
		if (fd >= 0 || errno != ENOENT)
			return fd;
		fd = openat(rootfd, name, flags | O_CREAT | O_EXCL, 0600);
		if (fd < 0) {
			if (errno == EEXIST)   /* another creator was first */
				continue;
			return -1;
		}
		/* New: give it to its user, and make its name durable. */
		if ((own->chown && fchown(fd, own->uid, own->gid) < 0) ||
		    fsync(rootfd) < 0) {
			err = errno;
			close(fd);
			errno = err;
			return -1;
		}
		return fd;
	}
	errno = EEXIST;
	return -1;
}

/* nap - sleep ms milliseconds */
static void nap(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* fcntl_lock - whole-file OFD write lock (F_WRLCK), tried until the
 * monotonic deadline (ms), or unlock (F_UNLCK).  0; 1 when the deadline
 * passed with the lock still held by another; -1 with errno.
 * F_OFD_SETLKW cannot be given a time limit, so the lock is tried without
 * waiting, with naps in between (short at first: most locks are brief). */
static int fcntl_lock(int fd, short type, long long deadline)
{
	struct flock fl;
	long nap_ms = FCNTL_NAP_MIN_MS;

	memset(&fl, 0, sizeof fl);     /* OFD locks need l_pid == 0 */
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = 0;
	fl.l_len = 0;                  /* to the end of the file, however long */
	while (fcntl(fd, F_OFD_SETLK, &fl) < 0) {
		if (errno == EINTR)
			continue;
		if (type == F_UNLCK || (errno != EAGAIN && errno != EACCES))
			return -1;
		if (monotonic_ms() >= deadline)
			return 1;
		nap(nap_ms);
		if (nap_ms < FCNTL_NAP_MAX_MS)
			nap_ms *= 2;
	}
	return 0;
}

/* Kinds of file found at a dotlock's name (lock_kind) */
enum lock_kind {
	LOCK_FOREIGN,   /* anything else: never removed */
	LOCK_OURS,      /* "PID mta-smtpd\n": a dotlock this program made */
	LOCK_EMPTY      /* an empty file: created, never written */
};

/* lock_kind - what sits at rootfd/lock: a regular file with one link
 * holding exactly "PID MBOX_LOCK_TAG\n" is LOCK_OURS, one holding nothing
 * LOCK_EMPTY, anything else LOCK_FOREIGN (a mailbox starts "From ",
 * another program's lock says what it says); *sb is its stat.  -1 error
 * with errno (ENOENT: gone).
 *
 * LOCK_EMPTY is a dotlock whose writer stopped between creating it and
 * writing it (ours or another program's), or one of ours whose name a
 * power cut kept but whose text it lost: the name is made durable by any
 * later fsync of the mail root, the text never is (a lock is not worth
 * an fsync).  Removing an empty file loses nothing; and a program that
 * holds an empty dotlock for minutes is not protected by it elsewhere
 * either (other MDAs break any dotlock that old, whatever it holds). */
static int lock_kind(int rootfd, const char *lock, struct stat *sb)
{
	char buf[64], want[64];
	ssize_t n;
	long pid;
	int fd, err, len;

	/* O_NONBLOCK: whatever sits there, opening it must not hang us */
	fd = openat(rootfd, lock, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? LOCK_FOREIGN : -1;
	if (fstat(fd, sb) < 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	if (!S_ISREG(sb->st_mode) || sb->st_nlink != 1 ||
	    sb->st_size >= (off_t)sizeof buf) {
		close(fd);
		return LOCK_FOREIGN;
	}
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n == 0 && sb->st_size == 0)
		return LOCK_EMPTY;
	if (n <= 0)
		return LOCK_FOREIGN;
	buf[n] = '\0';
	if (sscanf(buf, "%ld", &pid) != 1 || pid <= 0)
		return LOCK_FOREIGN;
	len = snprintf(want, sizeof want, "%ld " MBOX_LOCK_TAG "\n", pid);
	return len == n && memcmp(buf, want, (size_t)n) == 0 ? LOCK_OURS
	                                                      : LOCK_FOREIGN;
}

/* break_stale - remove rootfd/lock, a dotlock of ours or an empty one
 * older than MBOX_DOTLOCK_STALE seconds (left by a crash, see lock_kind),
 * and log it.  Anything else there is left alone: 1 when it was removed
 * (or is gone), 0 when it stays, -1 error with errno. */
static int break_stale(int rootfd, const char *lock, const char *name,
                       int *told)
{
	char qn[LOG_VALUE_MAX], ql[LOG_VALUE_MAX];
	struct stat sb, now;
	long long age;
	int r;

	r = lock_kind(rootfd, lock, &sb);
	if (r < 0)
		return errno == ENOENT ? 1 : -1;
	age = (long long)time(NULL) - (long long)sb.st_mtime;
	if (age <= MBOX_DOTLOCK_STALE)
		return 0;
	if (r == LOCK_FOREIGN) {
		if (!*told)
			log_event("mbox_foreign_lock", "mailbox=%s lock=%s age=%llds "
			          "action=kept", log_quote(qn, sizeof qn, name),
			          log_quote(ql, sizeof ql, lock), age);
		*told = 1;
		return 0;
	}
	/* Still the file we read (not replaced meanwhile by a program that
	 * does not take the fcntl lock first)? */
	if (fstatat(rootfd, lock, &now, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 1 : -1;
	if (now.st_dev != sb.st_dev || now.st_ino != sb.st_ino)
		return 0;
	if (unlinkat(rootfd, lock, 0) < 0)
		return errno == ENOENT ? 1 : -1;
	log_event("mbox_stale_lock", "mailbox=%s lock=%s age=%llds kind=%s",
	          log_quote(qn, sizeof qn, name), log_quote(ql, sizeof ql, lock),
	          age, r == LOCK_EMPTY ? "empty" : "ours");
	return 1;
}

/* dotlock_take - create rootfd/lock exclusively, waiting for another
 * holder until the monotonic deadline (ms; wait seconds after the
 * delivery began) and breaking a stale one of ours; *made is the lock's
 * identity, to remove only that file later */
static struct status dotlock_take(int rootfd, const char *lock,
                                  const char *name, long long deadline,
                                  unsigned wait, struct stat *made)
{
	char text[64];
	int fd, n, r, told = 0;

	for (;;) {
		fd = openat(rootfd, lock, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		            O_CLOEXEC, 0600);
		if (fd >= 0) {
			/* The text makes it recognizably ours, so that only
			 * our own leftovers (and empty files, lock_kind) are
			 * ever broken as stale.  The lock is its existence: a
			 * failed write (nothing written) still locks, and is
			 * broken as empty after a crash. */
			n = snprintf(text, sizeof text, "%ld " MBOX_LOCK_TAG "\n",
			             (long)getpid());
			if (write(fd, text, (size_t)n) != n) {
				/* see above */
			}
			if (fstat(fd, made) < 0) {
				int err = errno;

				close(fd);
				unlinkat(rootfd, lock, 0);
				return local_io_status(err, "mbox %s: fstat %s", name,
				                       lock);
			}
			close(fd);
			return status_ok();
		}
		if (errno != EEXIST)
			return local_io_status(errno, "mbox %s: creating %s", name,
			                       lock);
		if (monotonic_ms() >= deadline)
			return status_make(ST_TEMP, 2, 0, "mbox %s: still locked by "
			                   "another program after %u s (dotlock %s)",
			                   name, wait, lock);
		r = break_stale(rootfd, lock, name, &told);
		if (r < 0)
			return local_io_status(errno, "mbox %s: checking %s", name,
			                       lock);
		if (r == 0)
			nap(DOTLOCK_NAP_MS);
	}
}

/* dotlock_release - remove our dotlock, unless someone replaced it */
static void dotlock_release(int rootfd, const char *lock, const char *name,
                            const struct stat *made)
{
	char ebuf[128], qn[LOG_VALUE_MAX], ql[LOG_VALUE_MAX];
	struct stat sb;

	if (fstatat(rootfd, lock, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (sb.st_dev != made->st_dev || sb.st_ino != made->st_ino)) {
		log_event("mbox_unlock_failed", "mailbox=%s lock=%s error=\"not "
		          "ours any more: left alone\"", log_quote(qn, sizeof qn, name),
		          log_quote(ql, sizeof ql, lock));
		return;
	}
	if (unlinkat(rootfd, lock, 0) < 0)
		log_event("mbox_unlock_failed", "mailbox=%s lock=%s error=\"%s\"",
		          log_quote(qn, sizeof qn, name), log_quote(ql, sizeof ql, lock),
		          strerror_r(errno, ebuf, sizeof ebuf));
}

/* append - write the entry at the end of fd; on failure cut the file
 * back to where it was */
static struct status append(int fd, const char *name, const struct local_msg *m)
{
	char date[MBOX_DATE_MAX];
	char ebuf[128], desc[NAME_MAX + 32], qn[LOG_VALUE_MAX];
	struct local_io w;
	struct stat sb;
	struct status st = status_ok();

	/* The length is only meaningful now that we hold both locks. */
	if (fstat(fd, &sb) < 0)
		return local_io_status(errno, "mbox %s: fstat", name);
	if (local_io_init(&w, fd) < 0)
		return local_io_status(errno, "mbox %s", name);
	mbox_date(time(NULL), date);
	local_io_puts(&w, "From ");
	local_io_puts(&w, m->sender[0] != '\0' ? m->sender : "MAILER-DAEMON");
	local_io_puts(&w, " ");
	local_io_puts(&w, date);
	local_io_puts(&w, "\n");
	local_io_header(&w, m);
	local_io_copy(&w, m, 1);   /* its error is sticky: flush reports it */
	if (w.last != '\n')
		local_io_puts(&w, "\n");
	local_io_puts(&w, "\n");   /* the empty line before the next From_ */
	if (local_io_flush(&w) < 0) {
		snprintf(desc, sizeof desc, "mbox %s: append", name);
		st = local_io_error(&w, desc);
	} else if (fsync(fd) < 0) {
		st = local_io_status(errno, "mbox %s: fsync", name);
	}
	local_io_free(&w);
	if (st.kind != ST_OK) {
		/* No half entry may stay behind: readers would take what
		 * follows it for part of this message. */
		if (ftruncate(fd, sb.st_size) < 0 || fsync(fd) < 0)
			log_event("mbox_truncate_failed", "mailbox=%s size=%lld "
			          "error=\"%s\"", log_quote(qn, sizeof qn, name),
			          (long long)sb.st_size,
			          strerror_r(errno, ebuf, sizeof ebuf));
	}
	return st;
}

/* still_there - is fd still the file rootfd/name (not replaced by a MUA
 * while we waited for the locks)? 1 yes, 0 no, -1 error */
static int still_there(int rootfd, const char *name, int fd)
{
	struct stat a, b;

	if (fstat(fd, &a) < 0)
		return -1;
	if (fstatat(rootfd, name, &b, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -1;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

/* try_append - lock (by the deadline), check, append, unlock; returns 1
 * when the mbox was replaced meanwhile (nothing written: try again), else
 * 0 and *st */
static int try_append(int rootfd, const char *name, const char *lock,
                      const struct local_msg *m, const struct local_owner *own,
                      long long deadline, unsigned wait, struct status *st)
{
	struct stat sb, made;
	int fd, fl, locked = 0, dotlocked = 0, again = 0, r;

	fd = open_mbox(rootfd, name, own);
	if (fd < 0) {
		*st = local_io_status(errno, "mbox %s: open", name);
		goto out;
	}
	if (fstat(fd, &sb) < 0) {
		*st = local_io_status(errno, "mbox %s: fstat", name);
		goto out;
	}
	if (!S_ISREG(sb.st_mode) || sb.st_nlink != 1) {
		*st = status_make(ST_TEMP, 2, 0, "mbox %s: not a regular file "
		                  "with one link: not written", name);
		goto out;
	}
	fl = fcntl(fd, F_GETFL);       /* a regular file: O_NONBLOCK off again */
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		*st = local_io_status(errno, "mbox %s: fcntl", name);
		goto out;
	}
	r = fcntl_lock(fd, F_WRLCK, deadline);
	if (r < 0) {
		*st = local_io_status(errno, "mbox %s: fcntl lock", name);
		goto out;
	}
	if (r > 0) {
		*st = status_make(ST_TEMP, 2, 0, "mbox %s: still locked by another "
		                  "program after %u s (fcntl lock)", name, wait);
		goto out;
	}
	locked = 1;
	/* Empty under the fcntl lock (no delivery of ours appends without
	 * it): perhaps just made by another delivery that has not yet synced
	 * its name.  Sync it here, before the entry (and our job's removal)
	 * can depend on it; only new mailboxes pay.  Before the dotlock: an
	 * fsync of the mail root while we hold it would make the dotlock's
	 * name durable, and after a power cut that lock would hold the
	 * mailbox until it counts as stale. */
	if (fstat(fd, &sb) < 0) {
		*st = local_io_status(errno, "mbox %s: fstat", name);
		goto out;
	}
	if (sb.st_size == 0 && fsync(rootfd) < 0) {
		*st = local_io_status(errno, "mbox %s: fsync of the mail root", name);
		goto out;
	}
	*st = dotlock_take(rootfd, lock, name, deadline, wait, &made);
	if (st->kind != ST_OK)
		goto out;
	dotlocked = 1;
	r = still_there(rootfd, name, fd);
	if (r < 0) {
		*st = local_io_status(errno, "mbox %s: stat", name);
		goto out;
	}
	if (r == 0) {
		again = 1;
		goto out;
	}
	*st = append(fd, name, m);
out:
	if (dotlocked)
		dotlock_release(rootfd, lock, name, &made);
	if (locked)
		fcntl_lock(fd, F_UNLCK, 0);   /* close() would release it too */
	if (fd >= 0)
		close(fd);
	return again;
}

/* mbox_deliver - append one entry to rootfd/name */
struct status mbox_deliver(int rootfd, const char *name,
                           const struct local_msg *m,
                           const struct local_owner *own, unsigned wait)
{
	char lock[NAME_MAX + 1];
	struct status st = status_ok();
	long long deadline;
	int n, i;

	if (wait == 0)
		wait = MBOX_LOCK_WAIT;
	deadline = monotonic_ms() + (long long)wait * 1000;
	n = snprintf(lock, sizeof lock, "%s" POLICY_LOCK_SUFFIX, name);
	if (n < 0 || (size_t)n >= sizeof lock)
		return local_io_status(ENAMETOOLONG, "mbox %s", name);
	for (i = 0; i < REOPEN_TRIES; i++)
		if (try_append(rootfd, name, lock, m, own, deadline, wait, &st) == 0)
			return st;
	return status_make(ST_TEMP, 2, 0, "mbox %s: replaced again and again "
	                   "while we waited for its lock", name);
}
