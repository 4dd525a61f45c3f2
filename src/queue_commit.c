/* queue_commit.c - the queue store receiving a message: tmp/ID written
 * through a buffer, fdatasync, rename into new/, and the fsync of new/
 * shared by every committer (group commit); see queue.h for the protocol
 * and mta-queue(5) for the crash argument */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "queue_priv.h"

enum { MSG_BUF = 65536, ID_TRIES = 1000 };

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

/* id_in_use - is id taken by a message in new/ or mess/?  An ID made of
 * the time can come round again when the clock was set back (a restored
 * snapshot, a corrected clock) across a restart. */
static int id_in_use(struct queue *q, const char *id)
{
	return faccessat(q->fd[QUEUE_NEW], id, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
	       faccessat(q->fd[QUEUE_MESS], id, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
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

/* msg_open - queue_msg_open, under the ID fixed when it is not NULL */
static struct status msg_open(struct queue *q, struct envelope *env,
                              const char *fixed, struct queue_msg **mp)
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
	/* A fresh ID until one is free in tmp/ (O_EXCL), new/ and mess/; a
	 * fixed one is tried once. */
	for (tries = 0; ; tries++) {
		if (fixed)
			snprintf(m->id, sizeof m->id, "%s", fixed);
		else
			queue_new_id(q, m->id);
		if (id_in_use(q, m->id)) {
			log_event("queue-id-in-use", "id=%s action=%s", m->id,
			          fixed ? "refuse" : "next-id");
			m->fd = -1;
			errno = EEXIST;
		} else {
			m->fd = openat(q->fd[QUEUE_TMP], m->id,
			               O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		}
		if (m->fd >= 0 || errno != EEXIST || tries == ID_TRIES || fixed)
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

/* queue_msg_open - a message under a fresh ID */
struct status queue_msg_open(struct queue *q, struct envelope *env,
                             struct queue_msg **mp)
{
	return msg_open(q, env, NULL, mp);
}

/* queue_msg_open_as - a message under the ID given */
struct status queue_msg_open_as(struct queue *q, struct envelope *env,
                                const char *id, struct queue_msg **mp)
{
	return msg_open(q, env, id, mp);
}

/* queue_msg_abort - forget the message */
void queue_msg_abort(struct queue_msg *m)
{
	if (m->fd >= 0)
		close(m->fd);
	unlinkat(m->q->fd[QUEUE_TMP], m->id, 0);
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
		e = q->sync(q->fd[QUEUE_NEW]) < 0 ? errno : 0;
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
	if (queue_rename_excl(q->sync, q->fd[QUEUE_TMP], m->id, q->fd[QUEUE_NEW], m->id) < 0) {
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
		unlinkat(q->fd[QUEUE_NEW], m->id, 0);
		free(m);
		return storage_status(e);
	}
	free(m);
	return status_ok();
}
