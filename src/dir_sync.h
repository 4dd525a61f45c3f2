/* dir_sync - one fsync of a directory shared by every thread that renamed
 * a file into it and waits for that rename to be durable (group commit,
 * as queue_commit.c does for the queue's new/, but for any directory:
 * a Maildir's new/).
 *
 * A thread takes a ticket (dir_sync_enter) with its own open fd of the
 * directory, renames its file into it, then calls dir_sync_wait().  That
 * returns only after an fsync of the directory that *started after* the
 * call began has succeeded: that fsync covers the rename, whoever made
 * it.  While one fsync runs, every
 * thread that arrives waits; when it ends, the thread that ran it wakes
 * those it covered and hands the next fsync to one of the rest, which
 * covers all of them: N concurrent deliveries into one directory pay
 * about two fsyncs between them instead of N, and each waiter is woken
 * once (a semaphore of its own), not at every fsync.
 *
 * Waiters are grouped by the directory's device and inode number, taken
 * with fstat on the caller's fd.  A removed directory's number cannot go
 * to a new directory while any fd of it is open, and every waiter of a
 * group holds its fd open while it waits, and the syncing thread fsyncs
 * through its own: so all the fds of one group, at any time, are one
 * directory, and whichever of them is fsynced, it is the right one.
 *
 * A failed fsync fails every caller that took its ticket before it
 * returned and that no earlier fsync had covered: those that came to wait
 * while it ran, and those still renaming, which come after it (a failed
 * fsync may consume the error, so a later success proves nothing for
 * their renames): too many errors, never a rename reported durable that
 * is not.  (The queue's new/ keeps the same rule: queue_commit.c.)
 * A caller that cannot be grouped (fstat fails, or no memory) fsyncs its
 * own fd, as it would without this module.
 *
 * Contract: thread-safe (one mutex over the groups, no I/O under it); a
 * group lives while a thread holds a ticket of it.
 */
#ifndef MTA_DIR_SYNC_H
#define MTA_DIR_SYNC_H

/* a caller's place, taken before its rename; its fields are the
 * module's */
struct dir_sync_ticket {
	void *group;                  /* NULL: not grouped */
	unsigned long seq;
};

/* dir_sync_enter - before a rename into the directory open at fd (held
 * open until dir_sync_wait or dir_sync_leave) */
void dir_sync_enter(int fd, struct dir_sync_ticket *t);

/* dir_sync_wait - after the rename: make the entries renamed into the
 * directory open at fd before this call durable; 0, or -1 with errno
 * (the fsync's error).  Gives the ticket back. */
int dir_sync_wait(int fd, struct dir_sync_ticket *t);

/* dir_sync_leave - the rename was not made: the ticket back unused */
void dir_sync_leave(struct dir_sync_ticket *t);

/* dir_sync_hook - the fsync used (tests); NULL restores fsync(2) */
void dir_sync_hook(int (*sync)(int fd));

#endif
