/* queue_maildrop.c - maildrop/: local users' submissions, written by
 * mta-send (queue_maildrop_put, run as the submitting user) and read,
 * moved aside or removed by the daemon; see queue.h for the permission
 * model and mta-queue(5) for the format and the crash argument.
 *
 * The writer's order: tmp.ID created O_EXCL, written, fsync'd, renamed
 * to ID (never over a file), maildrop/ fsync'd; only then does mta-send
 * exit 0.  A writer killed before the rename leaves a tmp.ID that nobody
 * reads (the daemon removes it after a day: queue_maildrop_stale).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "job.h"
#include "log.h"
#include "queue_priv.h"

/* new_name - the time in microseconds, then 64 random bits: sorts by
 * arrival like the queue's IDs, and cannot be guessed by another user
 * (who cannot list maildrop/); 0, or -1 (no randomness) */
static int new_name(char *id)
{
	unsigned long long r;
	ssize_t n;

	do
		n = getrandom(&r, sizeof r, 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof r) {
		if (n >= 0)
			errno = EIO;
		return -1;
	}
	snprintf(id, ENVELOPE_ID_MAX, "%013llX%016llX", queue_clock_real(), r);
	return 0;
}

/* write_all - every piece of iov to fd; 0, or -1 with errno */
static int write_all(int fd, const struct iovec *iov, int iovcnt)
{
	int i;

	for (i = 0; i < iovcnt; i++) {
		const char *p = iov[i].iov_base;
		size_t left = iov[i].iov_len;

		while (left > 0) {
			ssize_t w = write(fd, p, left);

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -1;
			p += w;
			left -= (size_t)w;
		}
	}
	return 0;
}

/* the kernel's binary form of an access ACL (system.posix_acl_access),
 * so that no library is needed: a version word, then entries sorted by
 * tag */
struct acl_entry { uint16_t tag, perm; uint32_t id; };
enum { ACL_VERSION = 2, ACL_USER_OBJ = 1, ACL_USER = 2, ACL_GROUP_OBJ = 4,
       ACL_MASK = 0x10, ACL_OTHER = 0x20, ACL_R = 4, ACL_W = 2 };

/* readable_by - let the daemon (owner of maildrop/, uid) and nobody else
 * but the owner read fd: mode 0600, and where the daemon is another user
 * than root and the submitter, an ACL entry granting it read; where the
 * file system has no ACLs, 0644 (the name is the secret then: nobody can
 * list maildrop/).  0, or -1 with errno. */
static int readable_by(int fd, uid_t daemon)
{
	struct {
		uint32_t version;
		struct acl_entry e[5];
	} __attribute__((packed)) acl = {
		ACL_VERSION, {
			{ ACL_USER_OBJ, ACL_R | ACL_W, UINT32_MAX },
			{ ACL_USER, ACL_R, (uint32_t)daemon },
			{ ACL_GROUP_OBJ, 0, UINT32_MAX },
			{ ACL_MASK, ACL_R, UINT32_MAX },
			{ ACL_OTHER, 0, UINT32_MAX },
		}
	};

	if (fchmod(fd, 0600) < 0)
		return -1;
	if (daemon == 0 || daemon == geteuid())
		return 0;
	if (fsetxattr(fd, "system.posix_acl_access", &acl, sizeof acl, 0) == 0)
		return 0;
	if (errno != EOPNOTSUPP)
		return -1;
	return fchmod(fd, 0644);
}

/* queue_maildrop_put - a submission, durable when it returns 0 */
int queue_maildrop_put(const char *dir, const struct iovec *iov, int iovcnt,
                       char *id)
{
	char path[QUEUE_PATH_MAX + 16], tmp[ENVELOPE_ID_MAX + 8];
	int dfd, fd = -1, e, renamed = 0;
	struct stat dst;

	if (snprintf(path, sizeof path, "%s/maildrop", dir) >= (int)sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	/* O_PATH: the submitter may search maildrop/, not read it (1733);
	 * O_NOFOLLOW: maildrop/ itself is never a link someone put there */
	dfd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	if (fstat(dfd, &dst) < 0)
		goto fail;
	if (new_name(id) < 0)
		goto fail;
	snprintf(tmp, sizeof tmp, "%s%s", QUEUE_MAILDROP_TMP, id);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	            0600);
	if (fd < 0)
		goto fail;
	/* the daemon is maildrop/'s owner, whatever user it runs as */
	if (readable_by(fd, dst.st_uid) < 0 || write_all(fd, iov, iovcnt) < 0 ||
	    fsync(fd) < 0)
		goto fail;
	if (renameat2(dfd, tmp, dfd, id, RENAME_NOREPLACE) < 0) {
		if (errno != EINVAL && errno != ENOSYS)
			goto fail;
		/* no RENAME_NOREPLACE here: the name is 64 random bits fresh */
		if (faccessat(dfd, id, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
			errno = EEXIST;
			goto fail;
		}
		if (renameat(dfd, tmp, dfd, id) < 0)
			goto fail;
	}
	renamed = 1;
	/* The new name is durable at a sync of maildrop/, which the
	 * submitter cannot open to fsync (no read permission): syncfs of the
	 * file system it is on covers it. */
	if (syncfs(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	close(dfd);
	return 0;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	/* Not durable: take it back.  A file renamed into place may be read
	 * by the daemon meanwhile; then the caller's exit 75 and its retry
	 * make two copies, the price of never losing one. */
	unlinkat(dfd, renamed ? id : tmp, 0);
	close(dfd);
	errno = e;
	return -1;
}

/* queue_maildrop_name - a submission's name: an ID */
int queue_maildrop_name(const char *name)
{
	return job_id_valid(name, strlen(name));
}

/* open_beneath - name in dfd, never through a mount point: a user may
 * mount a FUSE file system of theirs on a file they put in maildrop/,
 * and an open (or read) there waits on their server as long as it
 * likes; on a kernel without openat2 (before 5.6), a plain openat */
static int open_beneath(int dfd, const char *name, int flags)
{
	struct open_how how = {
		.flags = (unsigned long long)flags,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_XDEV | RESOLVE_NO_SYMLINKS |
		           RESOLVE_NO_MAGICLINKS
	};
	long fd = syscall(SYS_openat2, dfd, name, &how, sizeof how);

	if (fd < 0 && errno == ENOSYS)
		return openat(dfd, name, flags);
	return (int)fd;
}

/* queue_maildrop_open - a submission to read, checked */
int queue_maildrop_open(const struct queue *q, const char *name, struct stat *st)
{
	int fd, e;

	fd = open_beneath(q->fd[QUEUE_MAILDROP], name,
	                  O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fstat(fd, st) < 0)
		goto fail;
	if (!S_ISREG(st->st_mode)) {
		errno = EINVAL;
		goto fail;
	}
	/* a second link: a file of someone else's (or of the queue) linked
	 * in, which its owner did not submit */
	if (st->st_nlink != 1) {
		errno = EMLINK;
		goto fail;
	}
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* queue_maildrop_remove - the submission is taken */
int queue_maildrop_remove(struct queue *q, const char *name)
{
	if (unlinkat(q->fd[QUEUE_MAILDROP], name, 0) < 0)
		return -1;
	return q->sync(q->fd[QUEUE_MAILDROP]);
}

struct stale {
	struct queue *q;
	time_t before;
};

/* unlink_stale - one tmp.* name older than the limit (queue_scan) */
static int unlink_stale(void *arg, const char *name, unsigned char type)
{
	struct stale *st = arg;
	struct stat sb;
	int dfd = st->q->fd[QUEUE_MAILDROP], fd;

	(void)type;
	if (strncmp(name, QUEUE_MAILDROP_TMP, strlen(QUEUE_MAILDROP_TMP)) != 0)
		return 0;
	/* not a stat by name: a mount point there would ask its server */
	if ((fd = open_beneath(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return 0;
	if (fstat(fd, &sb) < 0 || sb.st_mtime >= st->before) {
		close(fd);
		return 0;
	}
	close(fd);
	if (unlinkat(dfd, name, S_ISDIR(sb.st_mode) ? AT_REMOVEDIR : 0) == 0) {
		char qname[LOG_VALUE_MAX];

		log_event("stale-tmp", "file=maildrop/%s uid=%lu removed",
		          log_quote(qname, sizeof qname, name), (unsigned long)sb.st_uid);
	}
	return 0;
}

/* queue_maildrop_stale - writers killed half-way, long ago */
void queue_maildrop_stale(struct queue *q, long age)
{
	struct stale st = { q, time(NULL) - age };

	if (q->fd[QUEUE_MAILDROP] >= 0 &&
	    queue_scan(q, QUEUE_MAILDROP, unlink_stale, &st) < 0) {
		/* what is left is tried again at the next rescan */
	}
}

/* queue_maildrop_taken - see queue.h */
int queue_maildrop_taken(struct queue *q, const char *name)
{
	struct envelope env;
	enum queue_new_state st;

	/* The maildrop copy goes once this returns 1: the name in mess/ or
	 * new/ must be durable first (a pickup killed before its fsync of
	 * new/, or an explode before its fsync of mess/, left it maybe not) */
	if (queue_exists(q, QUEUE_MESS, name))
		return queue_sync(q, QUEUE_MESS) < 0 ? -1 : 1;
	st = queue_read_new(q, name, &env);
	envelope_free(&env);
	switch (st) {
	case QUEUE_NEW_GONE:
		return 0;
	case QUEUE_NEW_ERROR:
		return -1;
	case QUEUE_NEW_BAD:
	case QUEUE_NEW_UNSEALED:
	case QUEUE_NEW_UNSYNCED:
		log_event("maildrop-taken-before", "id=%s action=retake reason=\"new/%s not whole\"",
		          name, name);
		queue_quarantine(q, QUEUE_NEW, name, st == QUEUE_NEW_BAD ? "bad envelope" :
		                 st == QUEUE_NEW_UNSEALED ?
		                 "incomplete: seal not met, never acknowledged" :
		                 "its fdatasync failed: data may not be on disk");
		if (queue_exists(q, QUEUE_NEW, name)) {
			errno = EIO;
			return -1;
		}
		return 0;
	case QUEUE_NEW_READ:
		return queue_sync(q, QUEUE_NEW) < 0 ? -1 : 1;
	default:
		return 1;
	}
}
