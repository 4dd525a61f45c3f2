/* fs_journal - does an fsync of a file make the rename that brought it
 * into its directory durable, with no fsync of the directory?
 *
 * POSIX promises a new name only after an fsync of its directory.  On
 * ext4 with a journal (ext3 too, mounted by the ext4 driver) more holds:
 * every change of metadata, directory entries included, goes into one
 * journal whose transactions commit in order, and a rename also sets the
 * changed time of the file it moves, so the file's inode is in the
 * rename's transaction.  An fsync of the file waits for the commit of the
 * last transaction that changed its inode: the rename's, or a later one,
 * which cannot commit before it.  So an fsync of the file after its
 * rename makes the rename durable as well, and an fsync of the directory
 * after that only costs the disk one more cache flush (a tenth to a
 * quarter of the rate of accepting mail, measured: t/bench/README).
 * (fdatasync is not enough: it waits for the inode's last change of
 * data, which may be older than the rename.)
 *
 * (Fast commits, where a file system has them, write every directory
 * change since the last full commit in the order made, so they should
 * keep both; their replay is younger code, and they are not counted on.)
 *
 * fs_journal_carries_renames says yes only when it is sure: statfs says
 * the ext2/3/4 family, /proc/fs/jbd2 lists a journal for the device of
 * the file system (an internal journal is named DEVICE-INODE there:
 * "sda1-8", "loop0-8"), and no sign of fast commits: none in
 * /proc/fs/ext4/DEVICE/options, and none in the superblock, read from
 * /dev/DEVICE (the only place every kernel shows them; it needs the
 * right to read the device, so root).  ext4 without a journal, an
 * external journal, fast commits, any other file system, a /proc not
 * mounted, a device node missing, or anything it cannot read: no, and
 * the caller fsyncs the directory as everywhere else.
 *
 * Contract: no state; thread-safe; reads /sys, /proc and the device.
 */
#ifndef MTA_FS_JOURNAL_H
#define MTA_FS_JOURNAL_H

#include <stddef.h>

/* fs_journal_carries_renames - 1 if, on the file system of the open
 * directory dirfd, an fsync of a file renamed into it makes the rename
 * durable, with the journal's name ("loop0-8") in journal[len] when
 * journal is not NULL; else 0 (not sure counts as no) */
int fs_journal_carries_renames(int dirfd, char *journal, size_t len);

#endif
