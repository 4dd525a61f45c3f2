/* queue_job.c - the queue store's file operations after a message is
 * committed: reading messages, explode's steps (jobs, link, sync,
 * unlink), job files and their content, moves to bad/.  See queue.h for
 * the contract and mta-queue(5) for why each step comes where it does. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "queue_priv.h"

/* queue_msg_open_read - a message file, to read */
int queue_msg_open_read(const struct queue *q, enum queue_dir d, const char *id)
{
	int fd = openat(q->fd[d], id, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd >= 0)
		queue_note_id(q, id);
	return fd;
}

/* queue_msg_read - a message's descriptor and envelope */
int queue_msg_read(const struct queue *q, enum queue_dir d, const char *id,
                   struct envelope *env, long long *offset)
{
	int fd, e;

	envelope_init(env);
	if ((fd = queue_msg_open_read(q, d, id)) < 0)
		return -1;
	if (envelope_read(fd, env, offset) < 0) {
		e = errno ? errno : EINVAL;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* queue_read_new - what explode finds under new/id */
enum queue_new_state queue_read_new(const struct queue *q, const char *id,
                                    struct envelope *env)
{
	return queue_read_new_as(q, id, env, 0);
}

/* queue_read_new_as - the same; synced: its commit was seen to succeed */
enum queue_new_state queue_read_new_as(const struct queue *q, const char *id,
                                       struct envelope *env, int synced)
{
	struct stat a, b;
	long long offset;
	int fd, e;

	envelope_init(env);
	fd = openat(q->fd[QUEUE_NEW], id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ELOOP ? QUEUE_NEW_LINK      /* put there after it was seen */
		     : errno == ENOENT ? QUEUE_NEW_GONE : QUEUE_NEW_ERROR;
	queue_note_id(q, id);
	if (queue_exists(q, QUEUE_MESS, id)) {
		/* Two messages under one ID: never merge them, never replace.
		 * One file under both names is a crash between the link and the
		 * unlink of a rename done as link + unlink: it has been taken
		 * already. */
		int same = fstat(fd, &a) == 0 &&
		           fstatat(q->fd[QUEUE_MESS], id, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
		           a.st_dev == b.st_dev && a.st_ino == b.st_ino;

		close(fd);
		return same ? QUEUE_NEW_TAKEN : QUEUE_NEW_CLASH;
	}
	/* A sealed file whose data a power cut lost (its writer's fdatasync
	 * unfinished: never acknowledged) fails its seal: bad, not exploded. */
	if (envelope_read(fd, env, &offset) < 0 || strcmp(env->id, id) != 0) {
		e = errno;
		close(fd);
		errno = e;
		return e == EINVAL || e == 0 ? QUEUE_NEW_BAD : QUEUE_NEW_ERROR;
	}
	if (synced) {
		close(fd);
		return QUEUE_NEW_READ;
	}
	if (envelope_verify(fd, env) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return e == EINVAL ? QUEUE_NEW_UNSEALED : QUEUE_NEW_ERROR;
	}
	/* Whole now, and synced before it is linked into mess/: so mess/
	 * holds only durable data whoever wrote new/ID (a receiver's file is
	 * synced already, and this costs it no I/O), and no reader of mess/
	 * (delivery, bounces, reports) needs the seal again (mta-queue(5)). */
	if (fdatasync(fd) < 0) {
		e = errno;
		close(fd);
		errno = e;
		return QUEUE_NEW_UNSYNCED;
	}
	close(fd);
	return QUEUE_NEW_READ;
}

/* queue_take - new/id gets its name in mess/ (never a rename where a
 * link can be made: see explode in mta-queue(5)) */
int queue_take(struct queue *q, const char *id)
{
	int nfd = q->fd[QUEUE_NEW], mfd = q->fd[QUEUE_MESS];
	struct stat a, b;

	if (linkat(nfd, id, mfd, id, 0) == 0)
		return 1;
	if (errno == EEXIST && fstatat(nfd, id, &a, AT_SYMLINK_NOFOLLOW) == 0 &&
	    fstatat(mfd, id, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		return 0;
	if (errno == EPERM || errno == EOPNOTSUPP || errno == ENOSYS) {
		/* No hard links here: a rename, whose two sides a crash may
		 * tear apart where new/ is synced before mess/. */
		if (queue_rename_excl(q->sync, nfd, id, mfd, id) == 0)
			return 2;
	}
	return -1;
}

/* queue_sync - fsync of directory d */
int queue_sync(struct queue *q, enum queue_dir d)
{
	return q->sync(q->fd[d]);
}

/* queue_unlink - unlink d/name */
int queue_unlink(struct queue *q, enum queue_dir d, const char *name)
{
	return unlinkat(q->fd[d], name, 0);
}

/* queue_quarantine - move d/name aside into bad/ */
void queue_quarantine(struct queue *q, enum queue_dir d, const char *name,
                      const char *why)
{
	char target[NAME_MAX + 24], from[NAME_MAX + 24], to[NAME_MAX + 32];
	/* a name in the queue may be anything an operator's mv made it */
	char qname[LOG_VALUE_MAX], qtarget[LOG_VALUE_MAX], qwhy[LOG_VALUE_MAX];
	const char *dir = queue_dir_name[d];
	unsigned k;
	int r;

	snprintf(target, sizeof target, "%s.%s", dir, name);
	for (k = 1; (r = queue_rename_excl(q->sync, q->fd[d], name, q->fd[QUEUE_BAD],
	                                   target)) < 0 && errno == EEXIST && k < 1000; k++)
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

/* queue_job_create - an empty job file: nothing to fsync but rcpt/ */
int queue_job_create(struct queue *q, const struct job_name *jn)
{
	char name[JOB_NAME_MAX];
	int fd;

	job_name_format(jn, name);
	fd = openat(q->fd[QUEUE_RCPT], name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno == EEXIST ? 0 : -1;
	close(fd);
	return 0;
}

/* queue_job_rename - a job to another name, never over a file */
int queue_job_rename(struct queue *q, const char *from, const char *to)
{
	return queue_rename_excl(q->sync, q->fd[QUEUE_RCPT], from, q->fd[QUEUE_RCPT], to);
}

/* queue_job_read - a job's content */
enum queue_job_state queue_job_read(const struct queue *q, const char *name,
                                    struct job_info *info, int regular_only)
{
	char buf[JOB_FILE_MAX];
	struct stat st;
	ssize_t r;
	int fd, e;

	memset(info, 0, sizeof *info);
	fd = openat(q->fd[QUEUE_RCPT], name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? QUEUE_JOB_GONE : QUEUE_JOB_ERROR;
	if (regular_only && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	                     st.st_size >= JOB_FILE_MAX)) {
		close(fd);
		return QUEUE_JOB_NOT_FILE;
	}
	/* a regular file smaller than buf: one read() has it all */
	r = read(fd, buf, sizeof buf);
	e = errno;
	close(fd);
	if (r < 0) {
		errno = e;
		return QUEUE_JOB_ERROR;
	}
	if (job_info_parse(buf, (size_t)r, info) < 0) {
		memset(info, 0, sizeof *info);
		return QUEUE_JOB_BAD;
	}
	return QUEUE_JOB_READ;
}

/* queue_job_write - new content under the job's name (tmp + rename) */
int queue_job_write(struct queue *q, const char *name, const struct job_info *info)
{
	char text[JOB_ERROR_MAX + JOB_TLS_MAX + 128], tmp[JOB_NAME_MAX + 8];
	int len = job_info_format(info, text, sizeof text), fd, e = 0;

	if (len < 0)
		return -1;
	snprintf(tmp, sizeof tmp, "job.%s", name);
	fd = openat(q->fd[QUEUE_TMP], tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (write(fd, text, (size_t)len) != len || fdatasync(fd) < 0)
		e = errno ? errno : EIO;
	close(fd);
	/* Swapped with the job's old content, not renamed over it: an
	 * operator (mta-queue --hold) may have renamed the job away since the
	 * scheduler named it, and a rename would make it again under the old
	 * name, a second job for one recipient.  The exchange fails (ENOENT)
	 * when the name is gone.  Where the file system cannot exchange
	 * (EINVAL), the replacing rename: the one rename that replaces. */
	if (e == 0 && renameat2(q->fd[QUEUE_TMP], tmp, q->fd[QUEUE_RCPT], name,
	                        RENAME_EXCHANGE) < 0 &&
	    (errno != EINVAL ||
	     renameat(q->fd[QUEUE_TMP], tmp, q->fd[QUEUE_RCPT], name) < 0))
		e = errno;
	/* the old content, after an exchange; nothing after a rename */
	unlinkat(q->fd[QUEUE_TMP], tmp, 0);
	if (e != 0) {
		errno = e;
		return -1;
	}
	return 0;
}
