/* maildir_dirs - a Maildir's directories open for a delivery (the Maildir,
 * its tmp/ and its new/), and the set each thread keeps open for its next
 * delivery into the same Maildir.
 *
 * Opening a Maildir afresh costs an open, a statx and a close for each of
 * the mail root, the Maildir, tmp/ and new/, and on a busy mailbox many
 * delivery threads do it at once, meeting on the same directory entries.
 * A delivery thread mostly delivers into the Maildir it delivered into
 * last, so it keeps that one open (maildir_dirs_keep).  Its next delivery
 * there takes the set back only once it is still what the path names
 * (maildir_dirs_reuse): the Maildir at its path (a statx of the path; its
 * last component not followed, the directories above it followed as the
 * fresh open follows the mail root or a home directory), the directory
 * between the mail root and it when there is one (a virtual domain's:
 * a statx of its path, not followed, as the fresh open does not follow
 * it), and tmp/ and new/ in the Maildir (a statx of each, not followed),
 * each the same directory as when it was opened: device, inode number
 * and birth time (durable_dirs.h).  Anything else (the Maildir or its
 * domain moved away, removed or made again, a tmp/ or new/ replaced, a
 * symlink put in place of one) closes the kept set, and the caller opens
 * the Maildir afresh: a Maildir renamed by its owner takes the next
 * message at the path, made again there, exactly as without the kept
 * set.  The directories kept were opened, and their names synced, by
 * maildir_dirs_open: what they hold is as durable as what a fresh open
 * would give.  cur/ is not kept: maildir.c checks it at every delivery.
 *
 * A thread keeps at most one set (three descriptors, which
 * config_fds_needed counts for every delivery, since a delivery thread
 * may go on to deliver elsewhere with its set kept).  It is closed when
 * the thread next delivers into another Maildir, after a delivery with
 * it failed, or when the thread ends (a thread-specific key's
 * destructor; an idle delivery thread ends after POOL_IDLE seconds,
 * scheduler_dispatch.c).  Until then the Maildir stays open, moved away
 * or removed as it may be (nothing is written into it then), and keeps
 * its file system busy for an unmount.
 *
 * Contract: thread-safe; the kept set is the calling thread's own.  A
 * struct maildir_dirs belongs to one caller at a time, which either
 * keeps it or closes it.
 */
#ifndef MTA_MAILDIR_DIRS_H
#define MTA_MAILDIR_DIRS_H

#include <stddef.h>
#include <sys/types.h>

#include "durable_dirs.h"
#include "local_io.h"
#include "status.h"

struct maildir_dirs {
	int box, tmp, new;          /* descriptors, -1 when not open */
	dev_t dev;                  /* new/'s file system (st_dev) */
	int known;                  /* who they are is below (kept before) */
	struct durable_dir box_id, tmp_id, new_id;
	struct durable_dir upper_id;  /* and the directory above, if checked */
};

/* maildir_dirs_open - tmp/ and new/ of the Maildir open at box, made when
 * missing (0700, owned per own), none a symlink, their names durable
 * (local_io_opendir); d takes box.  0, or -1 with *st a temporary status
 * (what names the mailbox in it) and everything closed, box too */
int maildir_dirs_open(int box, const char *what, const struct local_owner *own,
                      struct maildir_dirs *d, struct status *st);

/* maildir_dirs_reuse - the calling thread's kept set, when it was kept
 * for path (and upper) and is path's still (see above): 1 with the set in
 * *d (the caller's now); otherwise 0, and a set kept (for path or
 * another) is closed, so that a thread never holds two.  Either way
 * nothing is kept any more.  upper: how much of path names the directory
 * between the mail root and the Maildir (MAILROOT/DOMAIN), 0 for none */
int maildir_dirs_reuse(const char *path, size_t upper, struct maildir_dirs *d);

/* maildir_dirs_keep - d, open for the Maildir at path (upper as above),
 * becomes the calling thread's kept set (closing the one kept before);
 * when it cannot be (path too long, no birth time to tell the
 * directories by, the upper directory a symlink, no memory) d is closed
 * instead.  Either way d is no longer the caller's. */
void maildir_dirs_keep(const char *path, size_t upper, struct maildir_dirs *d);

/* maildir_dirs_close - close what d holds open */
void maildir_dirs_close(struct maildir_dirs *d);

#endif
