/* group_sync - one fsync of a directory shared by every thread that
 * renamed a file into it and waits for that rename to be durable (group
 * commit): the queue's new/ (queue_commit.c) and a Maildir's new/
 * (dir_sync.h) both take their fsyncs from here.
 *
 * A thread takes a ticket (group_sync_enter), renames its file into the
 * directory, then calls group_sync_wait() with an open fd of it.  That
 * returns only after an fsync of the directory that *started after* the
 * call began has succeeded: that fsync covers the rename, whoever made
 * it.  While one fsync runs, every thread that arrives waits; when it
 * ends, the thread that ran it wakes those it covered and hands the next
 * fsync to one of the rest, which covers all of them: N concurrent
 * renames into one directory pay about two fsyncs between them instead
 * of N, and each waiter is woken once (a semaphore of its own), not at
 * every fsync.
 *
 * A failed fsync fails every caller that took its ticket before it
 * returned and that no earlier fsync had covered: those that came to
 * wait while it ran, and those still renaming, which come after it
 * (Linux reports a lost write to an open file once, so a failed fsync
 * may consume the error, and a later success proves nothing for their
 * renames): too many errors, never a rename reported durable that is
 * not.
 *
 * Every fd passed for one group must be of the same directory; the
 * fsync runs through the leader's fd with the leader's sync function.
 *
 * Contract: thread-safe (one mutex per group, no I/O under it); no
 * allocation.
 */
#ifndef MTA_GROUP_SYNC_H
#define MTA_GROUP_SYNC_H

#include <pthread.h>

struct group_sync_waiter;

/* one directory's fsyncs; the fields are this module's */
struct group_sync {
	pthread_mutex_t lock;
	int syncing;                  /* an fsync runs */
	unsigned long entered;        /* tickets so far, numbered 1.. */
	unsigned long arrived;        /* waiters so far, numbered 1.. */
	unsigned long covered;        /* arrivals 1..covered: an fsync
	                               * succeeded after they came */
	unsigned long failed;         /* tickets 1..failed: a failed fsync
	                               * returned after they were taken */
	int err;                      /* that fsync's errno */
	struct group_sync_waiter *waiting;  /* undecided, asleep */
};

void group_sync_init(struct group_sync *g);
void group_sync_destroy(struct group_sync *g);

/* group_sync_enter - a ticket, before the rename */
unsigned long group_sync_enter(struct group_sync *g);

/* group_sync_wait - after the rename: wait for, or run with sync on fd,
 * an fsync that starts after now; 0, or -1 with errno (the fsync's
 * error) */
int group_sync_wait(struct group_sync *g, unsigned long ticket, int fd,
                    int (*sync)(int fd));

#endif
