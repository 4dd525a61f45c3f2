/* queue.c - queue directory set-up and the durable message write; see
 * queue.h for the protocol and mta-queue(5) for the crash argument */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "log.h"
#include "queue.h"

enum { QUEUE_PATH_MAX = 4096, MSG_BUF = 65536, ID_TRIES = 1000 };

struct queue {
	char dir[QUEUE_PATH_MAX];
	int lock_fd;
	int tmp_fd, new_fd, mess_fd;  /* queue/tmp, new and mess, for *at() */
	atomic_ulong seq;             /* ID sequence number */
	queue_clock_fn *clock;        /* microseconds for IDs (tests: fixed) */

	/* group commit of queue/new: all under sync_lock */
	pthread_mutex_t sync_lock;
	pthread_cond_t sync_done;
	unsigned long registered;     /* committers numbered before their rename */
	unsigned long renames;        /* renames into new/ so far (tickets) */
	unsigned long failed_upto;    /* committers numbered up to here fail */
	int failed_err;               /* ... with this errno */
	struct sync_waiter *waiters;  /* committers whose fsync is not decided */
	int syncing;                  /* a directory fsync is running */
};

/* one committer waiting for the directory fsync that decides its fate */
struct sync_waiter {
	struct sync_waiter *next;
	unsigned long seq;            /* taken before its rename into new/ */
	unsigned long ticket;         /* taken after its rename into new/ */
	int done, err;                /* decided; 0 or the fsync's errno */
};

struct queue_msg {
	struct queue *q;
	int fd;
	int err;                      /* sticky errno of the first failure */
	size_t len;
	char id[ENVELOPE_ID_MAX];
	char buf[MSG_BUF];
};

static const char *const subdirs[] = { "tmp", "new", "mess", "rcpt", "bad" };

/* remove_stale_tmp - nothing in tmp/ survives a restart (mta-queue(5)) */
static void remove_stale_tmp(struct queue *q)
{
	struct dirent *de;
	int fd = dup(q->tmp_fd);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			log_event("stale-tmp", "file=tmp/%s removed", de->d_name);
	}
	closedir(d);
}

/* syncdir - fsync of directory path */
static int syncdir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r, e;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	e = errno;
	close(fd);
	errno = e;
	return r;
}

/* queue_mkdir_durable - mkdir, then fsync of the directory above */
int queue_mkdir_durable(const char *path, mode_t mode)
{
	char parent[QUEUE_PATH_MAX];
	char *slash;

	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -1;
	if (strlen(path) >= sizeof parent) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(parent, path);
	/* the name's last component: trailing slashes are not part of it */
	for (slash = parent + strlen(parent); slash > parent + 1 && slash[-1] == '/'; )
		*--slash = '\0';
	slash = strrchr(parent, '/');
	if (slash == NULL)
		strcpy(parent, ".");
	else if (slash == parent)
		parent[1] = '\0';
	else
		*slash = '\0';
	return syncdir(parent);
}

/* queue_open - set up and lock the queue */
int queue_open(struct queue **qp, const char *dir, char *err, size_t errlen)
{
	char path[QUEUE_PATH_MAX];
	struct queue *q;
	size_t i;
	int existed;

	if (strlen(dir) + 16 >= QUEUE_PATH_MAX) {
		snprintf(err, errlen, "queue directory name too long");
		return -1;
	}
	if ((q = calloc(1, sizeof *q)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	strcpy(q->dir, dir);
	q->lock_fd = q->tmp_fd = q->new_fd = q->mess_fd = -1;
	q->clock = queue_clock_real;
	/* The queue's own name durable first, then its subdirectories' names
	 * (fsync of the queue below): a queue made here and lost at a power
	 * cut would take every message accepted into it along.  A queue that
	 * existed gets the fsync above it too (an earlier start may have been
	 * killed before it), but a parent this user cannot read is then no
	 * reason to refuse to start. */
	existed = access(dir, F_OK) == 0;
	if (queue_mkdir_durable(dir, 0700) < 0 && !existed) {
		snprintf(err, errlen, "cannot create queue %s: %s", dir, strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof path, "%s/lock", dir);
	q->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (q->lock_fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		goto fail;
	}
	if (flock(q->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, errno == EWOULDBLOCK
		         ? "queue %s is in use by another mta-smtpd (%s is locked)"
		         : "cannot lock queue %s (%s): %s", dir, path, strerror(errno));
		goto fail;
	}
	for (i = 0; i < sizeof subdirs / sizeof subdirs[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, subdirs[i]);
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
			goto fail;
		}
	}
	if (syncdir(dir) < 0) {
		snprintf(err, errlen, "cannot fsync queue %s: %s", dir, strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof path, "%s/tmp", dir);
	q->tmp_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(path, sizeof path, "%s/new", dir);
	q->new_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(path, sizeof path, "%s/mess", dir);
	q->mess_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (q->tmp_fd < 0 || q->new_fd < 0 || q->mess_fd < 0) {
		snprintf(err, errlen, "cannot open %s/tmp, new or mess: %s", dir, strerror(errno));
		goto fail;
	}
	remove_stale_tmp(q);
	pthread_mutex_init(&q->sync_lock, NULL);
	pthread_cond_init(&q->sync_done, NULL);
	*qp = q;
	return 0;
fail:
	if (q->lock_fd >= 0)
		close(q->lock_fd);
	if (q->tmp_fd >= 0)
		close(q->tmp_fd);
	if (q->new_fd >= 0)
		close(q->new_fd);
	if (q->mess_fd >= 0)
		close(q->mess_fd);
	free(q);
	return -1;
}

/* queue_close - release the queue */
void queue_close(struct queue *q)
{
	if (q == NULL)
		return;
	close(q->tmp_fd);
	close(q->new_fd);
	close(q->mess_fd);
	close(q->lock_fd);
	pthread_mutex_destroy(&q->sync_lock);
	pthread_cond_destroy(&q->sync_done);
	free(q);
}

/* queue_dir - the directory */
const char *queue_dir(const struct queue *q) { return q->dir; }

/* queue_clock_real - the wall clock in microseconds */
unsigned long long queue_clock_real(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (unsigned long long)tv.tv_sec * 1000000ULL + (unsigned long long)tv.tv_usec;
}

/* queue_set_clock - where IDs take their time from */
void queue_set_clock(struct queue *q, queue_clock_fn *clock) { q->clock = clock; }

/* queue_new_id - time in microseconds, then the sequence number */
void queue_new_id(struct queue *q, char *id)
{
	unsigned long n = atomic_fetch_add(&q->seq, 1);

	snprintf(id, ENVELOPE_ID_MAX, "%013llX%lX", q->clock(), n);
}

/* queue_rename_excl - rename, never over an existing name */
int queue_rename_excl(int odir, const char *old, int ndir, const char *new)
{
	int e, fd;

	if (renameat2(odir, old, ndir, new, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* A file system that cannot refuse to replace in a rename: a link
	 * can.  The new name is made durable before the old one goes, so a
	 * crash leaves the file under one name or both, never under none
	 * (mta-queue(5), CRASH SAFETY). */
	if (linkat(odir, old, ndir, new, 0) < 0) {
		if (errno != EPERM && errno != EOPNOTSUPP && errno != ENOSYS)
			return -1;
		/* No hard links either (some FUSE and FAT file systems): look,
		 * then rename.  Only a name made between the two by someone
		 * else could be replaced; the daemon makes none there. */
		if (faccessat(ndir, new, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
			errno = EEXIST;
			return -1;
		}
		return renameat(odir, old, ndir, new);
	}
	/* On a descriptor of its own: Linux reports a lost directory write
	 * once per open file, and an fsync of the caller's shared ndir here
	 * would take the report from the group commit of new/ (which must
	 * fail every receiver it lost). */
	if ((fd = openat(ndir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    fsync(fd) < 0) {
		e = errno;
		if (fd >= 0)
			close(fd);
		unlinkat(ndir, new, 0);
		errno = e;
		return -1;
	}
	close(fd);
	if (unlinkat(odir, old, 0) < 0 && errno != ENOENT) {
		e = errno;
		unlinkat(ndir, new, 0);
		errno = e;
		return -1;
	}
	return 0;
}

/* id_in_use - is id taken by a message in new/ or mess/?  An ID made of
 * the time can come round again when the clock was set back (a restored
 * snapshot, a corrected clock) across a restart. */
static int id_in_use(struct queue *q, const char *id)
{
	return faccessat(q->new_fd, id, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
	       faccessat(q->mess_fd, id, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* storage_status - the status for a failed queue write */
static struct status storage_status(int err)
{
	if (err == ENOSPC || err == EDQUOT)
		return status_make(ST_TEMP, 3, 1, "Insufficient system storage");
	return status_make(ST_TEMP, 3, 0, "Local error writing the queue: %s",
	                   strerror(err));
}

/* flush - write out the buffer; keeps the first error */
static void flush(struct queue_msg *m)
{
	size_t off = 0;

	while (off < m->len && !m->err) {
		ssize_t w = write(m->fd, m->buf + off, m->len - off);

		if (w < 0) {
			if (errno != EINTR)
				m->err = errno;
			continue;
		}
		off += (size_t)w;
	}
	m->len = 0;
}

/* queue_msg_write - buffered append */
void queue_msg_write(struct queue_msg *m, const char *p, size_t n)
{
	while (n > 0 && !m->err) {
		size_t room = sizeof m->buf - m->len, k = n < room ? n : room;

		memcpy(m->buf + m->len, p, k);
		m->len += k;
		p += k;
		n -= k;
		if (m->len == sizeof m->buf)
			flush(m);
	}
}

/* queue_msg_open - new ID, tmp file, envelope */
struct status queue_msg_open(struct queue *q, struct envelope *env,
                             struct queue_msg **mp)
{
	struct queue_msg *m;
	char *text;
	size_t len;
	unsigned tries;

	if ((m = malloc(sizeof *m)) == NULL)
		return status_make(ST_TEMP, 3, 0, "Out of memory");
	m->q = q;
	m->err = 0;
	m->len = 0;
	/* A fresh ID until one is free in tmp/ (O_EXCL), new/ and mess/. */
	for (tries = 0; ; tries++) {
		queue_new_id(q, m->id);
		if (id_in_use(q, m->id)) {
			log_event("queue-id-in-use", "id=%s action=next-id", m->id);
			m->fd = -1;
			errno = EEXIST;
		} else {
			m->fd = openat(q->tmp_fd, m->id,
			               O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		}
		if (m->fd >= 0 || errno != EEXIST || tries == ID_TRIES)
			break;
	}
	memcpy(env->id, m->id, sizeof env->id);
	if (m->fd < 0) {
		int e = errno;

		log_event("queue-error", "op=create file=tmp/%s error=\"%s\"", m->id, strerror(e));
		free(m);
		return storage_status(e);
	}
	if (envelope_format(env, &text, &len) < 0) {
		queue_msg_abort(m);
		return status_make(ST_TEMP, 3, 0, "Out of memory");
	}
	queue_msg_write(m, text, len);
	free(text);
	*mp = m;
	return status_ok();
}

/* queue_msg_abort - forget the message */
void queue_msg_abort(struct queue_msg *m)
{
	if (m->fd >= 0)
		close(m->fd);
	unlinkat(m->q->tmp_fd, m->id, 0);
	free(m);
}

/* sync_new_dir - wait until the directory fsync of new/ that decides w
 * has finished: the first that started after w's rename and ended well
 * (0), or one that failed after w was numbered (its errno).  A failed
 * fsync fails every committer numbered before it returned, those still
 * renaming or not yet waiting included: Linux reports a writeback error
 * once per open file, so an fsync tried again on the same directory says
 * 0 for entries the failed one lost.  Those numbered after the failure
 * wait for a new fsync. */
static int sync_new_dir(struct queue *q, struct sync_waiter *w)
{
	pthread_mutex_lock(&q->sync_lock);
	w->ticket = ++q->renames;
	if (w->seq <= q->failed_upto) {
		/* numbered before a failed fsync returned, whenever it renamed */
		w->done = 1;
		w->err = q->failed_err;
	} else {
		w->next = q->waiters;
		q->waiters = w;
	}
	while (!w->done) {
		struct sync_waiter **pp;
		unsigned long covers;
		int e;

		if (q->syncing) {
			pthread_cond_wait(&q->sync_done, &q->sync_lock);
			continue;
		}
		/* Nobody is syncing: this thread does it for everyone renamed
		 * so far, including itself. */
		covers = q->renames;
		q->syncing = 1;
		pthread_mutex_unlock(&q->sync_lock);
		e = fsync(q->new_fd) < 0 ? errno : 0;
		pthread_mutex_lock(&q->sync_lock);
		q->syncing = 0;
		if (e != 0) {
			q->failed_upto = q->registered;
			q->failed_err = e;
		}
		for (pp = &q->waiters; *pp; ) {
			struct sync_waiter *x = *pp;

			if (e != 0 ? x->seq <= q->failed_upto : x->ticket <= covers) {
				x->done = 1;
				x->err = e;
				*pp = x->next;
			} else {
				pp = &x->next;
			}
		}
		pthread_cond_broadcast(&q->sync_done);
	}
	pthread_mutex_unlock(&q->sync_lock);
	return w->err;
}

/* queue_msg_commit - fdatasync, rename into new/, directory fsync */
struct status queue_msg_commit(struct queue_msg *m)
{
	struct queue *q = m->q;
	struct sync_waiter w = { NULL, 0, 0, 0, 0 };
	int e;

	flush(m);
	if (!m->err && fdatasync(m->fd) < 0)
		m->err = errno;
	if (m->err) {
		e = m->err;
		log_event("queue-error", "op=write id=%s error=\"%s\"", m->id, strerror(e));
		queue_msg_abort(m);
		return storage_status(e);
	}
	if (close(m->fd) < 0) {
		e = errno;
		m->fd = -1;
		log_event("queue-error", "op=close id=%s error=\"%s\"", m->id, strerror(e));
		queue_msg_abort(m);
		return storage_status(e);
	}
	m->fd = -1;
	/* Numbered before the rename: an fsync of new/ that fails from now
	 * on fails this committer too, even if it has not come to wait yet. */
	pthread_mutex_lock(&q->sync_lock);
	w.seq = ++q->registered;
	pthread_mutex_unlock(&q->sync_lock);
	/* Never over another message: its ID was free when tmp/ID was made,
	 * so a name here now was put there by hand; the client tries again
	 * and its message gets a fresh ID. */
	if (queue_rename_excl(q->tmp_fd, m->id, q->new_fd, m->id) < 0) {
		e = errno;
		log_event("queue-error", "op=rename id=%s error=\"%s\"", m->id, strerror(e));
		queue_msg_abort(m);
		return storage_status(e);
	}
	e = sync_new_dir(q, &w);
	if (e != 0) {
		/* The rename may or may not survive a crash: refuse with 4xx and
		 * take the file back out, so the client's retry is the only copy
		 * (if the scheduler already took it, a duplicate is possible:
		 * at-least-once, never lost). */
		log_event("queue-error", "op=fsync-dir id=%s error=\"%s\"", m->id, strerror(e));
		unlinkat(q->new_fd, m->id, 0);
		free(m);
		return storage_status(e);
	}
	free(m);
	return status_ok();
}
