/* queue_commit.c - the queue store receiving a message: tmp/ID written
 * through a buffer with its seal (seal.h: size and CRC-32C, filled in
 * at the end), rename into new/, fdatasync of the file, and the fsync of
 * new/ shared by every committer (group commit), or where the journal
 * carries the rename an fsync of the file alone; see queue.h for the
 * protocol and mta-queue(5) for the crash argument.
 *
 * Why the rename comes before the fdatasync: on ext4 with a journal (and
 * the like) a file's fdatasync is one journal commit, which then carries
 * the rename made before it, so the fsync of new/ after it costs no
 * second commit: one commit per message instead of two in a row.  Where
 * that is known to hold (queue_trust_journal, fs_journal.h) the file is
 * fsynced instead, and new/ not at all.  The price: a power cut between
 * the rename and the end of the file's sync can leave new/ID (or, once
 * the scheduler took it, mess/ID and its jobs) with its data lost, empty
 * or cut short or zeroed.  Such a message was never answered 250; its
 * seal fails, and explode checks the seal (envelope_verify) and
 * quarantines it to bad/, never delivering or bouncing it.  A maildrop
 * pickup (queue_msg_open_as) keeps the order data first: its maildrop
 * copy is unlinked at restart once new/ID exists (maildrop.c). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "seal.h"
#include "queue_priv.h"

enum { MSG_BUF = 65536, ID_TRIES = 1000 };

struct queue_msg {
	struct queue *q;
	int fd;
	int err;                      /* sticky errno of the first failure */
	size_t len;
	unsigned long long total;     /* bytes written so far, buffer included */
	uint32_t crc;                 /* seal_crc of those after the seal line */
	struct queue_msg *next_committing;  /* q->committing, under sync_lock */
	int sync_first;               /* fdatasync before the rename (maildrop) */
	char id[ENVELOPE_ID_MAX];
	char buf[MSG_BUF];
};

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

/* queue_msg_write - buffered append, the seal's CRC kept up to date */
void queue_msg_write(struct queue_msg *m, const char *p, size_t n)
{
	if (m->total + n > ENVELOPE_SEAL_END) {
		size_t skip = m->total < ENVELOPE_SEAL_END ?
		              (size_t)(ENVELOPE_SEAL_END - m->total) : 0;

		m->crc = seal_crc(m->crc, p + skip, n - skip);
	}
	m->total += n;
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
	m->total = 0;
	m->crc = 0;
	/* A maildrop pickup (a fixed ID) keeps the old order, data synced
	 * before the rename: at start-up maildrop/ID is unlinked as taken
	 * once new/ID exists (maildrop.c), which is safe only if new/ID's
	 * data is durable whenever its name is.  Network receivers have no
	 * second copy to lose and take the one-commit order. */
	m->sync_first = fixed != NULL;
	/* A fresh ID until one is free in tmp/ (O_EXCL), new/ and mess/; a
	 * fixed one is tried once. */
	for (tries = 0; ; tries++) {
		if (fixed) {
			snprintf(m->id, sizeof m->id, "%s", fixed);
			/* a submitter may choose a name like the daemon's IDs:
			 * receivers look that time up from now on */
			queue_note_id(q, m->id);
		} else {
			queue_new_id(q, m->id);
		}
		/* An ID made of the time can come round again when the clock
		 * was set back (a restored snapshot, a corrected clock) across a
		 * restart; a fixed one is whatever its submitter chose. */
		if (queue_id_in_use(q, m->id, !fixed)) {
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

/* uncommitting - m's commit is decided (ok: it succeeded, its data is
 * durable, so explode need not check nor sync it: queue_msg_committed):
 * off q->committing */
static void uncommitting(struct queue_msg *m, int ok)
{
	struct queue_msg **pp;

	pthread_mutex_lock(&m->q->sync_lock);
	if (ok) {
		memcpy(m->q->committed[m->q->committed_next], m->id, sizeof m->id);
		m->q->committed_next = (m->q->committed_next + 1) % QUEUE_COMMITTED_RING;
	}
	for (pp = &m->q->committing; *pp; pp = &(*pp)->next_committing)
		if (*pp == m) {
			*pp = m->next_committing;
			break;
		}
	pthread_mutex_unlock(&m->q->sync_lock);
}

/* queue_msg_committing - a receiver of this process between its rename
 * into new/ and the decision of its commit? */
int queue_msg_committing(struct queue *q, const char *id)
{
	struct queue_msg *m;
	int found = 0;

	pthread_mutex_lock(&q->sync_lock);
	for (m = q->committing; m && !found; m = m->next_committing)
		found = strcmp(m->id, id) == 0;
	pthread_mutex_unlock(&q->sync_lock);
	return found;
}

/* queue_msg_committed - did a commit of id succeed here (and id was not
 * asked for since)?  Forgets it. */
int queue_msg_committed(struct queue *q, const char *id)
{
	unsigned i;
	int found = 0;

	pthread_mutex_lock(&q->sync_lock);
	for (i = 0; i < QUEUE_COMMITTED_RING && !found; i++)
		if (q->committed[i][0] && strcmp(q->committed[i], id) == 0) {
			q->committed[i][0] = '\0';
			found = 1;
		}
	pthread_mutex_unlock(&q->sync_lock);
	return found;
}

/* seal - fill in the seal the envelope reserved (envelope.h): in the
 * buffer while it still holds the file's head, else in the file */
static void seal(struct queue_msg *m)
{
	char line[SEAL_LINE_LEN + 1];
	size_t off = 0;

	seal_format(line, m->total, m->crc);
	if (m->total == m->len) {
		memcpy(m->buf + ENVELOPE_SEAL_AT, line, SEAL_LINE_LEN);
		return;
	}
	while (off < SEAL_LINE_LEN && !m->err) {
		ssize_t w = pwrite(m->fd, line + off, SEAL_LINE_LEN - off,
		                   (off_t)(ENVELOPE_SEAL_AT + off));

		if (w < 0) {
			if (errno != EINTR)
				m->err = errno;
			continue;
		}
		off += (size_t)w;
	}
}

/* queue_msg_commit - seal, rename into new/, fdatasync, directory fsync.
 * The rename comes before the fdatasync: on a journaled file system the
 * one journal commit that fdatasync forces carries the rename too, and
 * the fsync of new/ after it finds nothing left to commit (one commit per
 * message, not two), though the disk is still sent a cache flush for it.
 * Where that is known to hold (queue_trust_journal) the file is fsynced
 * and new/ is not; anywhere else the fsync of new/ makes the name
 * durable.  Until the file's sync returns, a power cut may keep the
 * name with its data lost: no 250 was given, and the seal makes the
 * file fail explode's check (mta-queue(5), CRASH SAFETY, 2).
 *
 * The scheduler sees new/ID at the rename, before the commit is decided:
 * it leaves it alone while the committer is on q->committing
 * (queue_msg_committing) and takes it at the close of the descriptor
 * (IN_CLOSE_WRITE), which comes after the committer left that list.  So
 * nothing is exploded, let alone delivered, before its 250 may be sent,
 * and a message refused with 4xx is never delivered. */
struct status queue_msg_commit(struct queue_msg *m)
{
	struct queue *q = m->q;
	const char *op = "write";     /* a failed fdatasync: a write error */
	unsigned long ticket;
	int e;

	if (!m->err)
		seal(m);
	flush(m);
	if (!m->err && m->sync_first && fdatasync(m->fd) < 0)
		m->err = errno;
	if (m->err) {
		e = m->err;
		log_event("queue-error", "op=write id=%s error=\"%s\"", m->id, strerror(e));
		queue_msg_abort(m);
		return storage_status(e);
	}
	/* A ticket before the rename: an fsync of new/ that fails from now
	 * on fails this committer too, even if it has not come to wait yet
	 * (group_sync.h).  Listed as committing before the rename too: the
	 * scheduler never sees new/ID undecided without knowing it. */
	ticket = group_sync_enter(&q->new_sync);
	pthread_mutex_lock(&q->sync_lock);
	m->next_committing = q->committing;
	q->committing = m;
	pthread_mutex_unlock(&q->sync_lock);
	/* Never over another message: its ID was free when tmp/ID was made,
	 * so a name here now was put there by hand; the client tries again
	 * and its message gets a fresh ID. */
	if (queue_rename_excl(q->sync, q->fd[QUEUE_TMP], m->id, q->fd[QUEUE_NEW], m->id) < 0) {
		e = errno;
		log_event("queue-error", "op=rename id=%s error=\"%s\"", m->id, strerror(e));
		uncommitting(m, 0);
		queue_msg_abort(m);
		return storage_status(e);
	}
	if (m->sync_first) {
		e = 0;                /* its data was synced before the rename */
	} else if (q->journal_syncs_new) {
		/* fsync, not fdatasync: it waits for the journal's commit
		 * that carries the rename (fs_journal.h), and new/ needs none */
		e = fsync(m->fd) < 0 ? errno : 0;
		op = "fsync";
	} else {
		e = fdatasync(m->fd) < 0 ? errno : 0;
	}
	if (e == 0 && (m->sync_first || !q->journal_syncs_new) &&
	    group_sync_wait(&q->new_sync, ticket, q->fd[QUEUE_NEW], q->sync) < 0) {
		e = errno;
		op = "fsync-dir";
	}
	if (e != 0) {
		/* The rename may or may not survive a crash, the data may not:
		 * refuse with 4xx and take the file back out (the scheduler has
		 * left it alone), so the client's retry is the only copy; should
		 * a cut keep the name and lose the data, the seal fails. */
		log_event("queue-error", "op=%s id=%s error=\"%s\"", op, m->id, strerror(e));
		/* Should the unlink fail too, bad/ at least: left in new/, the
		 * close would bring it to explode, whose own fdatasync would
		 * say 0 (a writeback error is reported once) and deliver what
		 * the client was told was refused. */
		if (unlinkat(q->fd[QUEUE_NEW], m->id, 0) < 0 && errno != ENOENT)
			queue_quarantine(q, QUEUE_NEW, m->id,
			                 "refused with 4xx: its sync failed");
	}
	uncommitting(m, e == 0);
	/* Decided: this close tells the scheduler (IN_CLOSE_WRITE).  An error
	 * here changes nothing: the data was synced already. */
	if (close(m->fd) < 0)
		log_event("queue-error", "op=close id=%s error=\"%s\" action=none",
		          m->id, strerror(errno));
	free(m);
	return e != 0 ? storage_status(e) : status_ok();
}
