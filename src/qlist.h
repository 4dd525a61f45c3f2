/* qlist - a queue directory seen from outside the daemon: list its
 * messages and their pending recipients, make every job due now, delete
 * one message.  This is mta-queue(1); the format is mta-queue(5).
 *
 * It never takes queue/lock, so it works with or without a running
 * mta-smtpd.  Every change it makes is one rename() or unlink() of a job
 * or message file, exactly what an operator's mv or rm would do, and the
 * daemon's scheduler picks it up through inotify the same way.
 *
 * A listing is a snapshot of a queue that keeps moving: a file that
 * vanishes between readdir() and open() is finished work and is skipped
 * silently; a file that cannot be parsed (bad name, bad envelope, bad job
 * content, not a regular file) is skipped with a warning.  The
 * directories are read in the order the daemon moves a message through
 * them (new/, then mess/, then rcpt/), so a message that moves during the
 * scan is seen at least once, and a job is never reported without its
 * message unless it really has none.
 *
 * Contract: a struct qlist is used by one thread; it owns its directory
 * descriptors (all O_CLOEXEC).  Warnings go to the stream given to
 * qlist_open() as "mta-queue: warning: ..." lines; results go to the
 * stream given to each call.  Nothing here exits or prints to stdout on
 * its own.
 */
#ifndef MTA_QLIST_H
#define MTA_QLIST_H

#include <stddef.h>
#include <stdio.h>

#include "envelope.h"
#include "queue.h"

struct qlist;

/* what qlist_flush() did */
struct qlist_flushed {
	unsigned moved;      /* renamed to DUE = now */
	unsigned already;    /* already due: left alone */
	unsigned held;       /* held (job.h, JOB_DUE_HELD): left alone */
	unsigned failed;     /* rename failed (warned) */
};

/* what qlist_delete() did */
struct qlist_deleted {
	unsigned jobs;       /* job files removed */
	const char *from;    /* "mess" or "new": the message file removed, or
	                        NULL: there was none (only jobs) */
};

/* qlist_open - open the queue at dir (new/, mess/ and rcpt/ must exist;
 * bad/ may not); 0, or -1 with a message in err */
int qlist_open(struct qlist **ql, const char *dir, FILE *warn, char *err,
               size_t errlen);
/* qlist_close - close the directories and free ql */
void qlist_close(struct qlist *ql);

/* qlist_queue - the queue store ql is attached to (borrowed) */
struct queue *qlist_queue(struct qlist *ql);
/* qlist_warn - one "mta-queue: warning: ..." line on ql's warning
 * stream, control characters shown as '?' */
void qlist_warn(struct qlist *ql, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* qlist_read_envelope - the envelope of message d/id (new/ or mess/)
 * into env (envelope_free it in any case) and the message's size
 * without it; 0, or 1 when it is gone or unusable (warned unless gone:
 * not a regular file, no valid envelope, another ID's) */
int qlist_read_envelope(struct qlist *ql, enum queue_dir d, const char *id,
                        struct envelope *env, long long *size);

/* qlist_print - the listing of mta-queue(1), OUTPUT, to out, ages and
 * due times relative to now (epoch seconds); 0, or -1 with errno (a
 * directory could not be read, or out of memory) */
int qlist_print(struct qlist *ql, FILE *out, long long now);
/* qlist_flush - rename every job due after now to DUE = now, but those
 * held (job.h: JOB_DUE_HELD); 0, or -1
 * with errno when rcpt/ cannot be read (single failed renames are
 * counted in res and warned about, not fatal) */
int qlist_flush(struct qlist *ql, long long now, struct qlist_flushed *res);
/* qlist_delete - unlink the jobs of message id, then its message file
 * (mess/ID or new/ID), then any job of id that appeared meanwhile; res
 * says what was removed.  0; -1 with errno ENOENT when there is no such
 * message (no file removed) or EINVAL when id is not a queue ID; -1 with
 * another errno when rcpt/ cannot be read or an unlink fails (warned) */
int qlist_delete(struct qlist *ql, const char *id, struct qlist_deleted *res);

#endif
