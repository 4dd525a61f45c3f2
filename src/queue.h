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
 * many concurrent renames.  A directory fsync that fails fails every
 * committer whose rename came before it returned (every committer that
 * took its number, just before its rename, by then: also those that had
 * not yet come to wait); they take their files back out of new/ and
 * answer 4xx.
 *
 * IDs: 13 upper-case hex digits of the creation time in microseconds,
 * then a per-process sequence number in hex: letters and digits only,
 * unique across threads (atomic counter).  Across restarts the clock may
 * have been set back, so an ID is only taken when no message in new/ or
 * mess/ has it (the next one is tried), and no rename ever replaces a
 * name (queue_rename_excl); queue_open() holds the lock that keeps a
 * second daemon away.
 *
 * Thread safety: struct queue is shared by every thread after
 * queue_open(); its only mutable state is the ID counter (atomic) and the
 * group-commit state (under its own mutex).  A struct queue_msg belongs
 * to the one receiver thread that opened it.
 */
#ifndef MTA_QUEUE_H
#define MTA_QUEUE_H

#include <stddef.h>
#include <sys/types.h>

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
/* queue_new_id - a fresh message ID into id[ENVELOPE_ID_MAX] (not
 * checked against the directories: queue_msg_open does that) */
void queue_new_id(struct queue *q, char *id);

/* the source of an ID's time: microseconds since the epoch */
typedef unsigned long long queue_clock_fn(void);
/* queue_clock_real - gettimeofday(), the default */
unsigned long long queue_clock_real(void);
/* queue_set_clock - replace the clock of IDs (for tests: a clock set
 * back); call before any other thread uses q */
void queue_set_clock(struct queue *q, queue_clock_fn *clock);

/* queue_rename_excl - renameat(odir, old, ndir, new) that never replaces
 * an existing new (-1 with EEXIST instead): renameat2(RENAME_NOREPLACE),
 * or where the file system lacks it (EINVAL), link, fsync of ndir (on a
 * descriptor of its own, so that ndir's own fsync still reports a lost
 * write), unlink of old; without hard links either, a check that new is free, then
 * renameat().  Every rename that gives a queue file a new name goes through
 * it.  0, or -1 with errno.  Thread-safe. */
int queue_rename_excl(int odir, const char *old, int ndir, const char *new);

/* queue_mkdir_durable - make directory path (mode) unless it exists, and
 * fsync the directory above it, so that its name survives a power cut
 * with whatever is put in it later (a name is durable only at fsync of
 * its directory).  The fsync is done when path already existed too: a
 * racing thread may have made it and not synced yet.  0, or -1 with
 * errno.  Thread-safe. */
int queue_mkdir_durable(const char *path, mode_t mode);

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
