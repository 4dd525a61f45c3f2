/* dir_sync - one fsync of a directory shared by every thread that renamed
 * a file into it and waits for that rename to be durable, for any
 * directory (a Maildir's new/): group_sync.h's group commit, with a group
 * for each directory in use, found from an fd of it.
 *
 * A thread takes a ticket (dir_sync_enter) with its own open fd of the
 * directory, renames its file into it, then calls dir_sync_wait(); the
 * rules of what an fsync covers and what its failure fails are
 * group_sync.h's.
 *
 * Waiters are grouped by the directory's device and inode number, taken
 * with fstat on the caller's fd.  A removed directory's number cannot go
 * to a new directory while any fd of it is open, and every thread with a
 * ticket of a group holds its fd open until it gives the ticket back
 * (dir_sync_wait or dir_sync_leave), and the syncing thread fsyncs
 * through its own: so all the fds of one group, at any time, are one
 * directory, and whichever of them is fsynced, it is the right one.
 * A caller that cannot be grouped (fstat fails, or no memory) fsyncs its
 * own fd, as it would without this module.
 *
 * Contract: thread-safe (one mutex over the groups, and group_sync's
 * own in each, no I/O under either); a group lives while a thread holds a
 * ticket of it.
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
