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
 * A directory is known by device and inode number (struct stat): the
 * same directory under any name.  A directory removed and another made
 * by some other program that gets its inode number would be taken for
 * known: mta never removes mailboxes, and one made by mta itself is
 * synced when it is made.  The set holds at most DURABLE_DIRS_MAX
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

/* durable_dirs_known - 1 if the directory st describes was noted, else 0 */
int durable_dirs_known(const struct stat *st);

/* durable_dirs_note - the directory st describes has a durable name now */
void durable_dirs_note(const struct stat *st);

#endif
