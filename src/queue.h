/* queue - the on-disk queue directory (mta-queue(5)) and the crash-safe
 * way a new message enters it.
 *
 *   queue/tmp/ID      being written; only its writer ever opens it
 *   queue/new/ID      complete and durable, waiting for the scheduler
 *   queue/mess/ID     taken by the scheduler
 *   queue/rcpt/DUE.ID.N, queue/bad/, queue/lock
 *
 * A message enters by: create tmp/ID (O_EXCL), write envelope and message
 * through a buffer, fdatasync, close, rename to new/ID, fsync new/.  Only
 * when queue_msg_commit() returns ST_OK may the client hear 250.  The
 * directory fsync is shared (group commit): a committer waits for a
 * directory fsync that *started after* its rename, so one fsync can cover
 * many concurrent renames.
 *
 * IDs: 13 upper-case hex digits of the creation time in microseconds,
 * then a per-process sequence number in hex: letters and digits only,
 * unique across threads (atomic counter) and across restarts (time moves
 * on; queue_open() holds the lock that keeps a second daemon away).
 *
 * Thread safety: struct queue is shared by every thread after
 * queue_open(); its only mutable state is the ID counter (atomic) and the
 * group-commit state (under its own mutex).  A struct queue_msg belongs
 * to the one receiver thread that opened it.
 */
#ifndef MTA_QUEUE_H
#define MTA_QUEUE_H

#include <stddef.h>

#include "envelope.h"
#include "status.h"

struct queue;
struct queue_msg;

/* queue_open - create the directories if needed, take queue/lock (a
 * second daemon fails here), remove stale tmp/ files.  0, or -1 with a
 * message in err. */
int queue_open(struct queue **q, const char *dir, char *err, size_t errlen);
/* queue_close - release the lock and memory */
void queue_close(struct queue *q);
/* queue_dir - the queue's directory as given */
const char *queue_dir(const struct queue *q);
/* queue_new_id - a fresh message ID into id[ENVELOPE_ID_MAX] */
void queue_new_id(struct queue *q, char *id);

/* queue_msg_open - give env a new ID, create tmp/ID, write the envelope */
struct status queue_msg_open(struct queue *q, struct envelope *env,
                             struct queue_msg **m);
/* queue_msg_write - append message bytes; an error is kept for commit */
void queue_msg_write(struct queue_msg *m, const char *p, size_t n);
/* queue_msg_commit - make the message durable in new/; frees m */
struct status queue_msg_commit(struct queue_msg *m);
/* queue_msg_abort - remove the tmp file; frees m */
void queue_msg_abort(struct queue_msg *m);

#endif
