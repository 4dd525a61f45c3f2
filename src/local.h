/* local - final delivery of one queued message to one local mailbox.
 *
 * Maildir (default): MAILROOT/NAME/{tmp,new,cur} created on demand (0700);
 * the message is written to tmp/UNIQUE, fsync'ed, and renamed into
 * new/UNIQUE, then new/ is fsync'ed (unless the queue's journal orders
 * the rename: maildir.h); the tmp file is removed on any error.
 * UNIQUE = "SECONDS.M<usec>P<pid>Q<seq>.HOST" (maildir(5) style; '/' and
 * ':' in HOST written as \057 and \072), unique across threads (atomic
 * sequence) and restarts (time and pid).
 * mbox (--mbox): MAILROOT/NAME, appended under an fcntl (OFD) lock on the
 * file and then a dotlock MAILROOT/NAME.lock (created O_EXCL; a dotlock
 * of ours older than 5 minutes is stale, broken and logged), waiting for
 * them at most lock_wait seconds in all (mbox.h); the entry is
 * "From SENDER DATE" (asctime-style date, sender "MAILER-DAEMON" for <>),
 * the message with lines beginning "From " quoted as ">From " (mboxo:
 * ">From " lines stay as they are), and an
 * empty line; fsync before unlocking; on a failed append the file is
 * truncated back to its old length.
 * Virtual domains (local_config.domain): MAILROOT/DOMAIN/NAME/ (Maildir)
 * or MAILROOT/DOMAIN/NAME (mbox), DOMAIN created on demand (0700); never
 * a system user's, whatever --system-users says.
 * System users (--system-users): ~USER/Maildir/, created owned by the user;
 * only accounts that receive mail (sysuser.h: not system accounts such as
 * bin or daemon), and postmaster is root.
 *
 * Every delivery prepends "Return-Path: <SENDER>" and "Delivered-To: RCPT"
 * (RCPT as the caller gives it: the address the client sent at RCPT).
 * Nothing outside the mail root is ever written: the mailbox name comes
 * from policy_mailbox_name() (no '/', no leading '.'), and every path
 * component under the root is opened with O_NOFOLLOW, so a symlink where a
 * directory or mbox should be is an error (temporary), never followed.
 *
 * Results: ST_OK delivered; ST_TEMP for anything that may pass later
 * (ENOSPC, EDQUOT, EACCES, a symlink, a lock timeout...): the job is
 * retried, never bounced at once; ST_PERM only for a user that does not
 * exist or does not receive mail (--system-users; a failed lookup of the
 * user is ST_TEMP).
 *
 * Contract: thread-safe; many threads may deliver to the same mailbox at
 * once (Maildir: unique names; mbox: the locks).  The message is read from
 * fd from offset (the byte after the envelope) to end of file; fd is
 * borrowed and read with pread(), so one fd may serve several threads.
 */
#ifndef MTA_LOCAL_H
#define MTA_LOCAL_H

#include <sys/types.h>

#include "addr.h"
#include "status.h"

struct local_config {
	const char *mailroot;
	const char *hostname;
	int mbox;
	int system_users;
	unsigned lock_wait;     /* mbox: seconds for the locks; 0 = default */
	const char *domain;     /* a virtual domain (lower case): the mailbox
	                         * is under MAILROOT/DOMAIN/; NULL = none */
	const struct queue *queue; /* the message's queue, whose journal may
	                         * order a Maildir's rename before the queue
	                         * forgets the message (maildir.h); NULL:
	                         * new/ is always fsynced */
};

/* local_deliver - deliver the message in fd[offset..EOF) to mailbox
 * `name` (from policy_mailbox_name) for recipient rcpt from sender ("" =
 * null sender) */
struct status local_deliver(const struct local_config *cfg, const char *name,
                            const char *rcpt, const char *sender,
                            int fd, off_t offset);

#endif
