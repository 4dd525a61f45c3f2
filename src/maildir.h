/* maildir - deliver one message into a Maildir (maildir(5)).
 *
 * The Maildir, its tmp/ and its new/ are open already (maildir_dirs.h:
 * made on demand, 0700, owned per struct local_owner, no symlinks, their
 * names durable; perhaps kept open since an earlier delivery).  cur/ is
 * checked at every delivery: made when missing, opened without following
 * a symlink as the others are (or, when it is a directory known durable,
 * only looked at with one statx, see local_io_dir_known).  The message
 * goes to tmp/UNIQUE (O_EXCL, 0600), is fsync'ed and closed, then
 * renamed to new/UNIQUE without replacing anything (renameat2
 * RENAME_NOREPLACE), and new/ is fsync'ed:
 * by an fsync that started after the rename, shared with the other
 * deliveries into the same new/ at that moment (dir_sync.h), so that
 * concurrent deliveries into one mailbox do not each pay one.  Except
 * where the message's queue (local_msg.queue) is on the same file system
 * and its journal commits every change there in order
 * (queue_journal_orders): the queue forgets a delivered message only by
 * a later change of its own (an unlink), which cannot be durable before
 * the rename is, so new/ is not fsynced (a crash before the journal's
 * next commit keeps the message queued, to be delivered again).
 * Any failure before the rename removes tmp/UNIQUE.  A failure of the
 * final fsync of new/ is reported as ST_TEMP with the message already in
 * new/: a retry may then deliver it twice (at-least-once), never lose it.
 *
 * UNIQUE = "SECONDS.M<usec>P<pid>Q<seq>.HOST": seq is a process-wide
 * atomic counter (unique between threads), seconds, microseconds and pid
 * make it unique across restarts; in HOST '/' is written "\057" and ':'
 * "\072" (':' starts the info part of a Maildir name), and HOST is cut
 * short so that the name fits NAME_MAX.
 *
 * Contract: thread-safe; the shared state is the atomic counter and
 * dir_sync's groups.
 */
#ifndef MTA_MAILDIR_H
#define MTA_MAILDIR_H

#include <stddef.h>

#include "local_io.h"
#include "maildir_dirs.h"
#include "status.h"

/* maildir_deliver - deliver m into the Maildir open in dirs (borrowed);
 * what names the mailbox in error texts; host goes into the file name;
 * own (not NULL) says who gets what is created */
struct status maildir_deliver(const struct maildir_dirs *dirs, const char *what,
                              const char *host, const struct local_msg *m,
                              const struct local_owner *own);

/* maildir_unique - a fresh UNIQUE name into buf[len]; its length, or -1
 * when len is too small for the fixed part */
int maildir_unique(char *buf, size_t len, const char *host);

#endif
