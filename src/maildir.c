/* maildir.c - Maildir delivery: tmp/ -> fsync -> new/ -> fsync new/
 * (shared with concurrent deliveries), into directories maildir_dirs
 * opened;
 * see maildir.h */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dir_sync.h"
#include "maildir.h"
#include "queue.h"

/* Q<seq> in file names.  Atomic, so it needs no lock: two threads never
 * get the same value within one process. */
static atomic_ulong maildir_seq;

enum { NAME_TRIES = 5 };   /* fresh names to try after a clash */

/* maildir_unique - "SECONDS.M<usec>P<pid>Q<seq>.HOST" */
int maildir_unique(char *buf, size_t len, const char *host)
{
	struct timespec ts;
	unsigned long seq;
	size_t n;
	int r;

	clock_gettime(CLOCK_REALTIME, &ts);
	seq = atomic_fetch_add(&maildir_seq, 1);
	r = snprintf(buf, len, "%lld.M%06ldP%ldQ%lu.", (long long)ts.tv_sec,
	             ts.tv_nsec / 1000, (long)getpid(), seq);
	if (r < 0 || (size_t)r >= len)
		return -1;
	n = (size_t)r;
	/* Each host byte may take 4 bytes ("\057"); stop before one would
	 * not fit, so an escape is never cut in half. */
	for (; *host != '\0' && n + 4 < len; host++) {
		if (*host == '/') {
			memcpy(buf + n, "\\057", 4);
			n += 4;
		} else if (*host == ':') {
			memcpy(buf + n, "\\072", 4);
			n += 4;
		} else {
			buf[n++] = *host;
		}
	}
	buf[n] = '\0';
	return (int)n;
}

/* create_tmp - create tmp/UNIQUE exclusively; its fd, or -1 with errno */
static int create_tmp(int tmpfd, char *name, size_t len, const char *host)
{
	int fd, i;

	for (i = 0; i < NAME_TRIES; i++) {
		if (maildir_unique(name, len, host) < 0) {
			errno = ENAMETOOLONG;
			return -1;
		}
		fd = openat(tmpfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		            O_CLOEXEC, 0600);
		if (fd >= 0 || errno != EEXIST)
			return fd;
	}
	return -1;                 /* errno is still EEXIST */
}

/* move_to_new - rename tmp/NAME to new/NAME, never over an existing file */
static int move_to_new(int tmpfd, int newfd, const char *name)
{
	if (renameat2(tmpfd, name, newfd, name, RENAME_NOREPLACE) == 0)
		return 0;
	/* A file system without RENAME_NOREPLACE: the name is unique by
	 * construction, so a plain rename is still safe. */
	if (errno == EINVAL || errno == ENOSYS)
		return renameat(tmpfd, name, newfd, name);
	return -1;
}

/* maildir_deliver - one message into the new/ of dirs */
struct status maildir_deliver(const struct maildir_dirs *dirs, const char *what,
                              const char *host, const struct local_msg *m,
                              const struct local_owner *own)
{
	char name[NAME_MAX + 1], desc[2 * NAME_MAX + 64];
	struct local_io w;
	struct status st = status_ok();
	struct dir_sync_ticket ticket;
	int boxfd = dirs->box, tmpfd = dirs->tmp, newfd = dirs->new;
	int curfd = -1, fd = -1, winit = 0, intmp = 0;
	int journal;

	/* cur/ is for the reader; it must exist for the Maildir to be one.
	 * Nothing is written into it: when it is there, a directory and
	 * known durable, one statx says so; otherwise it is opened (made,
	 * refused if a symlink, its name synced) as tmp/ and new/ are. */
	if (!local_io_dir_known(boxfd, "cur") &&
	    (curfd = local_io_opendir(boxfd, "cur", 1, own)) < 0) {
		st = local_io_status(errno, "%s/cur", what);
		goto out;
	}
	fd = create_tmp(tmpfd, name, sizeof name, host);
	if (fd < 0) {
		st = local_io_status(errno, "%s: creating a file in tmp/", what);
		goto out;
	}
	intmp = 1;
	if (own->chown && fchown(fd, own->uid, own->gid) < 0) {
		st = local_io_status(errno, "%s: chown tmp/%s", what, name);
		goto out;
	}
	if (local_io_init(&w, fd) < 0) {
		st = local_io_status(errno, "%s", what);
		goto out;
	}
	winit = 1;
	local_io_header(&w, m);
	if (local_io_copy(&w, m, 0) < 0 || local_io_flush(&w) < 0) {
		snprintf(desc, sizeof desc, "%s: writing tmp/%s", what, name);
		st = local_io_error(&w, desc);
		goto out;
	}
	if (fsync(fd) < 0) {
		st = local_io_status(errno, "%s: fsync tmp/%s", what, name);
		goto out;
	}
	/* close() can report a deferred write error (NFS): check it. */
	if (close(fd) < 0) {
		fd = -1;
		st = local_io_status(errno, "%s: close tmp/%s", what, name);
		goto out;
	}
	fd = -1;
	/* The delivery is durable once the new/ entry is on disk: one
	 * fsync of new/ shared with the deliveries into this Maildir that
	 * renamed at the same time (dir_sync.h).  It must be so before the
	 * queue forgets the message, and no sooner: on the queue's own
	 * file system, where its journal commits every change in order
	 * (queue_journal_orders), the queue's unlink that forgets it cannot
	 * be durable before this rename is, and new/ needs no fsync.  The
	 * ticket comes before the rename: a failed fsync of new/ by another
	 * delivery meanwhile may have taken this rename's error along. */
	journal = m->queue && queue_journal_orders(m->queue, dirs->dev);
	if (!journal)
		dir_sync_enter(newfd, &ticket);
	if (move_to_new(tmpfd, newfd, name) < 0) {
		st = local_io_status(errno, "%s: rename tmp/%s to new/", what, name);
		if (!journal)
			dir_sync_leave(&ticket);
		goto out;
	}
	intmp = 0;
	if (!journal && dir_sync_wait(newfd, &ticket) < 0)
		st = local_io_status(errno, "%s: fsync new/", what);
out:
	if (winit)
		local_io_free(&w);
	if (fd >= 0)
		close(fd);
	if (intmp)
		unlinkat(tmpfd, name, 0);
	if (curfd >= 0)
		close(curfd);
	return st;
}
