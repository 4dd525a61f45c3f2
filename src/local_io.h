/* local_io - what Maildir and mbox delivery share: the message being
 * delivered, a buffered writer with a sticky error, the copy of the queued
 * message into a mailbox (optionally with mbox quoting), directories
 * opened without following symlinks, and mailbox errors as a status.
 *
 * Writer: a wbuf (wbuf.h) on the mailbox file: local_io_put() never
 * reports an error; the first failed write(2) (or pread(2) of the
 * message) is kept in w->out.err and every later put is skipped, so a
 * caller writes everything and checks once, at local_io_flush().  w->last
 * is the last byte handed to the writer (0 when none), so mbox can tell
 * whether the message ended with a newline.
 *
 * mbox quoting (local_io_copy with quote != 0), the "mboxo" variant that
 * Postfix's local(8) and python's mailbox write: every line starting with
 * "From " gets a '>' in front; nothing else changes (">From " stays as it
 * is).  Readers that do not unquote (mutt, Dovecot, python's mailbox) then
 * show every body line as it was sent except a "From " line, shown as
 * ">From ".  mboxrd (quoting /^>*From /) would let an unquoting reader get
 * ">From " lines back exactly, but the common readers do not unquote, so
 * they would show every ">From " line changed as well.  The quoting works
 * on a stream: a line may be cut anywhere between two reads.
 *
 * Contract: a struct local_io belongs to one thread; its buffers are
 * malloc'ed by local_io_init() and released by local_io_free().  The
 * message fd is only read with pread(), so it may be shared.  The other
 * functions are thread-safe.
 */
#ifndef MTA_LOCAL_IO_H
#define MTA_LOCAL_IO_H

#include <stddef.h>
#include <sys/types.h>

#include "status.h"
#include "wbuf.h"

struct queue;

enum { LOCAL_IO_BUF = 65536 };   /* write and read buffer, each */

/* The message to deliver and the envelope facts it is delivered with. */
struct local_msg {
	const char *rcpt;      /* Delivered-To: */
	const char *sender;    /* Return-Path: <sender>; "" = null sender */
	int fd;                /* the queue file; read with pread() only */
	off_t offset;          /* first byte of the message in fd */
	const struct queue *queue; /* fd's queue when its journal may stand in
	                        * for a mailbox directory's fsync
	                        * (queue_journal_orders); NULL: never */
};

/* Who owns what delivery creates (--system-users as root); chown == 0
 * leaves new files and directories to the current user. */
struct local_owner {
	int chown;
	uid_t uid;
	gid_t gid;
};

struct local_io {
	struct wbuf out;       /* on the mailbox file being written */
	int read_failed;       /* out.err came from reading the message */
	unsigned char last;    /* last byte put, 0 = none yet */
	char *buf;             /* LOCAL_IO_BUF bytes: out's buffer */
	char *rbuf;            /* LOCAL_IO_BUF bytes: message input */
};

/* local_io_init - a writer on fd; 0, or -1 (ENOMEM) */
int local_io_init(struct local_io *w, int fd);
/* local_io_free - release the buffers (unflushed output is dropped) */
void local_io_free(struct local_io *w);
/* local_io_put - append p[0..n) (skipped after an error) */
void local_io_put(struct local_io *w, const char *p, size_t n);
/* local_io_puts - append a C string */
void local_io_puts(struct local_io *w, const char *s);
/* local_io_flush - write out the buffer; 0, or -1 with errno = the first
 * error since local_io_init() */
int local_io_flush(struct local_io *w);
/* local_io_header - put "Return-Path: <SENDER>" and "Delivered-To: RCPT" */
void local_io_header(struct local_io *w, const struct local_msg *m);
/* local_io_copy - put the message m->fd[m->offset..EOF), mbox-quoted
 * when quote != 0; 0, or -1 with errno (a read error is sticky too) */
int local_io_copy(struct local_io *w, const struct local_msg *m, int quote);

/* local_io_opendir - open dirfd/name as a directory, never through a
 * symlink (then -1 with errno ELOOP; ENOTDIR when it is something else
 * that is not a directory).  When create != 0 a missing directory is made
 * (0700, owned per own, its parent fsync'ed so it survives a crash); a
 * concurrent mkdir of the same name is harmless.  A directory found there
 * has its parent fsync'ed too, unless this process knows its name durable
 * (durable_dirs.h: another thread may have made it and not synced it
 * yet), so that what is delivered into it survives a power cut; only the
 * first use of each directory in a process pays.  Returns an O_CLOEXEC fd
 * or -1 with errno. */
int local_io_opendir(int dirfd, const char *name, int create,
                     const struct local_owner *own);

/* local_io_dir_known - 1 when dirfd/name is a directory (a symlink is
 * not followed: then 0) that this process knows durable (durable_dirs.h),
 * found with one statx and no open; else 0 (missing, not a directory,
 * not known yet, or no birth time): the caller then opens it with
 * local_io_opendir, which makes, checks and syncs as needed */
int local_io_dir_known(int dirfd, const char *name);

/* local_io_status - the status for a failed mailbox operation: ENOSPC and
 * EDQUOT are 4.2.2 (mailbox full), ELOOP 4.2.0 (symlink), ENOTDIR and
 * EISDIR 4.2.0, anything else 4.3.0; text "WHAT: reason", WHAT
 * printf-formatted.  Always ST_TEMP: the job is tried again later. */
struct status local_io_status(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* local_io_error - the status for w's sticky error: reading the queued
 * message failed (4.3.0, whatever the errno), or writing WHAT failed
 * (mapped by local_io_status) */
struct status local_io_error(const struct local_io *w, const char *what);

#endif
