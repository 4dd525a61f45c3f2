/* dir_sync - one fsync of a directory shared by every thread that renamed
 * a file into it and waits for that rename to be durable (group commit,
 * as queue_commit.c does for the queue's new/, but for any directory:
 * a Maildir's new/).
 *
 * A thread renames its file into the directory, then calls dir_sync_wait()
 * with its own open fd of that directory.  It returns only after an fsync
 * of the directory that *started after* the call began has succeeded: that
 * fsync covers the rename, whoever made it.  While one fsync runs, every
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
 * A failed fsync fails every waiter that had arrived before it returned
 * and that no earlier fsync had covered, those that came while it ran
 * included (a failed fsync may consume the error, so a later success
 * proves nothing for them): too many errors, never a rename reported
 * durable that is not.
 * A caller that cannot be grouped (fstat fails, or no memory) fsyncs its
 * own fd, as it would without this module.
 *
 * Contract: thread-safe (one mutex over the groups, no I/O under it); a
 * group lives while a thread waits in it.
 */
#ifndef MTA_DIR_SYNC_H
#define MTA_DIR_SYNC_H

/* dir_sync_wait - make the entries renamed into the directory open at fd
 * before this call durable; 0, or -1 with errno (the fsync's error) */
int dir_sync_wait(int fd);

/* dir_sync_hook - the fsync used (tests); NULL restores fsync(2) */
void dir_sync_hook(int (*sync)(int fd));

#endif
