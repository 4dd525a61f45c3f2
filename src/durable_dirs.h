/* durable_dirs - the directories this process knows to have a durable
 * name: it made them and synced the directory above, or it synced the
 * directory above after it found them (local_io_opendir).  A mailbox
 * directory found already there may have just been made by another
 * delivery thread that has not synced its name yet; delivering into it
 * before that name is durable would let a power cut take the message
 * after the queue forgot it.  So the first use of a directory in a
 * process syncs the directory above, and only the first: each later
 * delivery finds it here.
 *
 * A directory is known by device, inode number and birth time (statx
 * STATX_BTIME): the same directory under any name.  The inode number
 * alone is not enough: a directory removed and made again by another
 * program (rm -rf Maildir; mkdir Maildir) gets the same number at once on
 * ext4, and its new name would be taken for durable.  Where the file
 * system gives no birth time, nothing is noted: each use syncs.  (Birth
 * times have the file system's clock granularity: one removed and made
 * again within the same tick is still taken for the old one.)  mta never
 * removes mailboxes, and one made by mta itself is synced when it is
 * made.  The set holds at most DURABLE_DIRS_MAX
 * directories; past that nothing more is noted, and a directory not
 * noted costs a sync at each use: slower, never less safe.
 *
 * Contract: thread-safe (one mutex, held for a lookup or an insert, no
 * I/O under it); the set lives as long as the process.
 */
#ifndef MTA_DURABLE_DIRS_H
#define MTA_DURABLE_DIRS_H

#include <sys/stat.h>

enum { DURABLE_DIRS_MAX = 1 << 20 };

/* a directory's identity: device, inode number, birth time */
struct durable_dir {
	dev_t dev;
	ino_t ino;
	long long btime_sec;
	unsigned btime_nsec;
};

/* durable_dirs_id - the identity of the directory open as fd; 0, or -1
 * when it cannot be told (no birth time): then it is not to be noted */
int durable_dirs_id(int fd, struct durable_dir *id);

/* durable_dirs_id_at - the identity of dirfd/name, a symlink not
 * followed; 0, or -1 when it is no directory (or a symlink), or its
 * identity cannot be told */
int durable_dirs_id_at(int dirfd, const char *name, struct durable_dir *id);

/* durable_dirs_same - one directory? */
int durable_dirs_same(const struct durable_dir *a, const struct durable_dir *b);

/* durable_dirs_known - 1 if the directory id was noted, else 0 */
int durable_dirs_known(const struct durable_dir *id);

/* durable_dirs_note - the directory id has a durable name now */
void durable_dirs_note(const struct durable_dir *id);

#endif
