/* mbox - append one message to an mbox file (mboxo), under both an
 * fcntl lock and a dotlock.
 *
 * Locking, in this order, for the whole append:
 *   1. an fcntl write lock on the whole file, an open file description
 *      lock (F_OFD_SETLK).  Classic F_SETLK locks belong to the process,
 *      so they would not keep this process's own delivery threads apart;
 *      OFD locks belong to the open file, and every delivery opens the
 *      file itself, so they exclude other threads here as well as other
 *      programs: on Linux OFD locks and classic POSIX locks (what MUAs and
 *      other MDAs take) conflict with each other.
 *   2. the dotlock NAME.lock next to the mbox, created O_EXCL, holding
 *      "PID mta-smtpd\n" (MBOX_LOCK_TAG).  While it exists, retry every
 *      100 ms.  A dotlock of ours (a regular file with one link and
 *      exactly that text) older than MBOX_DOTLOCK_STALE seconds is left
 *      over from a crash: it is removed and the removal logged (event
 *      mbox_stale_lock kind=ours).  So is an empty one as old
 *      (kind=empty): a writer that died between creating and writing it,
 *      or a lock of ours whose name a power cut kept but whose text it
 *      lost; removing an empty file loses nothing.  Anything else there
 *      is never removed, however old (logged once per delivery as
 *      mbox_foreign_lock): another program's lock, or a file that is not
 *      a lock at all.  No mailbox can be named NAME.lock (policy.h), and
 *      a mailbox that was, from before that rule, starts "From ": it is
 *      not ours, so it stays.
 * The wait for both locks together is bounded: `wait` seconds after the
 * delivery began (--mbox-lock-wait, MBOX_LOCK_WAIT by default), an mbox
 * still locked by another program gives up with ST_TEMP, "still locked
 * by another program after N s", and the job is retried later.  A
 * program that keeps an mbox locked thus holds a delivery thread for at
 * most that long (and deliver.h gives one mailbox a small share of the
 * threads).  F_OFD_SETLKW cannot be given a time limit: the lock is
 * tried without waiting, with pauses of 5 ms doubling up to 100 ms.
 *
 * Both locks are released on every path, the dotlock first, and only if
 * it is still the file we created.  Because the fcntl lock comes first,
 * two deliveries (of this or another program that also locks in this
 * order) never race to break the same stale dotlock.
 *
 * After locking, the file is checked to still be the one at NAME (a MUA
 * may have replaced it by rename while we waited); if not, the delivery
 * starts over on the new file.
 *
 * Entry: "From SENDER DATE" (SENDER "MAILER-DAEMON" for the null sender;
 * DATE the local time in asctime() form, "Mon Nov 23 08:14:27 2026"),
 * Return-Path:, Delivered-To:, the message with "From " lines quoted as
 * ">From " (mboxo, as Postfix's local(8) writes; see local_io.h), a
 * newline if the message did not end with one, and an empty line.  The
 * file is fsync'ed before unlocking; if anything failed it is truncated
 * back to its length before the append.  An mbox found empty under the fcntl
 * lock has the mail root fsync'ed before the dotlock and the append: another delivery
 * may have just made it without having synced its name yet.
 *
 * The mbox is opened O_NOFOLLOW and must be a regular file with one link:
 * a symlink or a hard link where the mbox should be is ST_TEMP, never
 * written through.  A new mbox is created 0600, owned per local_owner.
 *
 * Contract: thread-safe (no shared state in this process: the kernel's
 * OFD locks serialize appends to one mbox).
 */
#ifndef MTA_MBOX_H
#define MTA_MBOX_H

#include <stddef.h>
#include <time.h>

#include "local_io.h"
#include "status.h"

/* what follows the pid in a dotlock of ours */
#define MBOX_LOCK_TAG "mta-smtpd"

enum {
	MBOX_LOCK_WAIT = 5,         /* default seconds to wait for the locks */
	MBOX_DOTLOCK_STALE = 300,   /* a dotlock older than this is broken */
	MBOX_DATE_MAX = 32          /* room for an asctime()-style date */
};

/* mbox_deliver - append m to rootfd/name (name has no '/'); own (not
 * NULL) says who gets a newly created mbox; wait is the most seconds to
 * wait for the locks (0: MBOX_LOCK_WAIT) */
struct status mbox_deliver(int rootfd, const char *name,
                           const struct local_msg *m,
                           const struct local_owner *own, unsigned wait);

/* mbox_date - t as local time in asctime() form, without the newline,
 * into buf[MBOX_DATE_MAX]; thread-safe (localtime_r) */
void mbox_date(time_t t, char *buf);

#endif
