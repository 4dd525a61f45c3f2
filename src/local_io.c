/* local_io.c - the writer, the message copy with mbox (mboxo) quoting, safe
 * directory opening and error statuses shared by maildir.c and mbox.c;
 * see local_io.h */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable_dirs.h"
#include "local_io.h"

/* What a quoted line starts with; its length is FROM_LEN. */
static const char from_[] = "From ";
enum { FROM_LEN = sizeof from_ - 1 };

/* local_io_init - a writer on fd */
int local_io_init(struct local_io *w, int fd)
{
	memset(w, 0, sizeof *w);
	w->buf = malloc(LOCAL_IO_BUF);
	w->rbuf = malloc(LOCAL_IO_BUF);
	if (w->buf == NULL || w->rbuf == NULL) {
		local_io_free(w);
		errno = ENOMEM;
		return -1;
	}
	wbuf_init(&w->out, fd, w->buf, LOCAL_IO_BUF);
	return 0;
}

/* local_io_free - release the buffers */
void local_io_free(struct local_io *w)
{
	free(w->buf);
	free(w->rbuf);
	w->buf = w->rbuf = NULL;
	w->out.len = 0;
	w->out.buf = NULL;
}

/* local_io_put - append p[0..n) */
void local_io_put(struct local_io *w, const char *p, size_t n)
{
	if (w->out.err != 0 || n == 0)
		return;
	w->last = (unsigned char)p[n - 1];
	wbuf_put(&w->out, p, n);
}

/* local_io_puts - append a C string */
void local_io_puts(struct local_io *w, const char *s)
{
	local_io_put(w, s, strlen(s));
}

/* local_io_flush - write out what is buffered; report the sticky error */
int local_io_flush(struct local_io *w)
{
	return wbuf_flush(&w->out);
}

/* local_io_header - the two lines final delivery adds (RFC 5321 4.4) */
void local_io_header(struct local_io *w, const struct local_msg *m)
{
	local_io_puts(w, "Return-Path: <");
	local_io_puts(w, m->sender);
	local_io_puts(w, ">\nDelivered-To: ");
	local_io_puts(w, m->rcpt);
	local_io_puts(w, "\n");
}

/* quote_chunk - put p[0..n) with mboxo quoting; *match carries the line
 * state between chunks: -1 = past the point where a line can still turn
 * out to start with "From ", 0..FROM_LEN-1 = that many bytes of "From "
 * seen at the start of the line and held back. */
static void quote_chunk(struct local_io *w, const char *p, size_t n, int *match)
{
	const char *end = p + n, *nl, *q;
	int m = *match;

	while (p < end) {
		if (m < 0) {               /* rest of the line: copy it as is */
			nl = memchr(p, '\n', (size_t)(end - p));
			q = (nl != NULL) ? nl + 1 : end;
			local_io_put(w, p, (size_t)(q - p));
			p = q;
			if (nl != NULL)
				m = 0;
			continue;
		}
		if (*p == from_[m]) {
			p++;
			if (++m == FROM_LEN) {
				local_io_put(w, ">From ", FROM_LEN + 1);
				m = -1;
			}
			continue;
		}
		/* Not a From_ line after all: release what was held; the byte
		 * at p is handled as ordinary text (a newline resets m). */
		local_io_put(w, from_, (size_t)m);
		m = -1;
	}
	*match = m;
}

/* local_io_copy - stream the message from the queue file */
int local_io_copy(struct local_io *w, const struct local_msg *m, int quote)
{
	off_t off = m->offset;
	int match = 0;             /* the message starts at a line start */
	ssize_t r;

	while (w->out.err == 0) {
		r = pread(m->fd, w->rbuf, LOCAL_IO_BUF, off);
		if (r < 0) {
			if (errno != EINTR) {
				wbuf_fail(&w->out, errno);
				w->read_failed = 1;
			}
			continue;
		}
		if (r == 0)
			break;
		off += r;
		if (quote)
			quote_chunk(w, w->rbuf, (size_t)r, &match);
		else
			local_io_put(w, w->rbuf, (size_t)r);
	}
	if (match > 0)             /* the message ended inside "From" */
		local_io_put(w, from_, (size_t)match);
	if (w->out.err != 0) {
		errno = w->out.err;
		return -1;
	}
	return 0;
}

/* is_symlink - is dirfd/name a symbolic link? */
static int is_symlink(int dirfd, const char *name)
{
	struct stat sb;

	return fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISLNK(sb.st_mode);
}

/* open_nofollow - open dirfd/name as a directory; ELOOP for a symlink */
static int open_nofollow(int dirfd, const char *name)
{
	int fd, err;

	fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && (errno == ENOTDIR || errno == ELOOP)) {
		/* Linux says ENOTDIR for a symlink under O_DIRECTORY: tell
		 * the two apart so the error names the real problem. */
		err = is_symlink(dirfd, name) ? ELOOP : ENOTDIR;
		errno = err;
	}
	return fd;
}

/* sync_and_note - fsync dirfd, the directory above fd, and note fd's
 * directory as durable (durable_dirs.h); fd, or -1 with errno (fd closed) */
static int sync_and_note(int dirfd, int fd)
{
	struct durable_dir id;
	int err;

	if (fsync(dirfd) < 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	if (durable_dirs_id(fd, &id) == 0)
		durable_dirs_note(&id);
	return fd;
}

/* sync_first_use - fd, a directory in dirfd found there, is about to be
 * delivered into: another thread may have just made it and not yet
 * synced its name, so unless its name is known durable, dirfd is synced
 * first (once per directory and process); fd, or -1 (fd closed) */
static int sync_first_use(int dirfd, int fd)
{
	struct durable_dir id;

	if (durable_dirs_id(fd, &id) == 0 && durable_dirs_known(&id))
		return fd;
	return sync_and_note(dirfd, fd);
}

/* local_io_dir_known - is dirfd/name, not followed if a symlink, a
 * directory whose name is known durable?  One statx, no open */
int local_io_dir_known(int dirfd, const char *name)
{
	struct durable_dir id;

	return durable_dirs_id_at(dirfd, name, &id) == 0 && durable_dirs_known(&id);
}

/* local_io_opendir - open (and maybe create) a directory, no symlinks */
int local_io_opendir(int dirfd, const char *name, int create,
                     const struct local_owner *own)
{
	int fd, made = 0, err;

	fd = open_nofollow(dirfd, name);
	if (fd >= 0)
		return sync_first_use(dirfd, fd);
	if (errno != ENOENT || !create)
		return fd;
	if (mkdirat(dirfd, name, 0700) == 0)
		made = 1;
	else if (errno != EEXIST)  /* EEXIST: another thread was first */
		return -1;
	fd = open_nofollow(dirfd, name);
	if (fd < 0 || !made)
		return fd < 0 ? fd : sync_first_use(dirfd, fd);
	/* chown the directory we opened, not the name: the name could have
	 * been replaced in between. */
	if (own != NULL && own->chown && fchown(fd, own->uid, own->gid) < 0) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return sync_and_note(dirfd, fd);
}

/* local_io_status - a mailbox error as a temporary status */
struct status local_io_status(int err, const char *fmt, ...)
{
	char what[160], ebuf[128];
	const char *reason;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	switch (err) {
	case ENOSPC:
	case EDQUOT:
		return status_make(ST_TEMP, 2, 2, "mailbox full: %s: %s", what,
		                   strerror_r(err, ebuf, sizeof ebuf));
	case ELOOP:
		return status_make(ST_TEMP, 2, 0, "%s: is a symbolic link "
		                   "(not followed)", what);
	case ENOTDIR:
	case EISDIR:
		reason = strerror_r(err, ebuf, sizeof ebuf);
		return status_make(ST_TEMP, 2, 0, "%s: %s", what, reason);
	default:
		reason = strerror_r(err, ebuf, sizeof ebuf);
		return status_make(ST_TEMP, 3, 0, "%s: %s", what, reason);
	}
}

/* local_io_error - the status for the writer's sticky error */
struct status local_io_error(const struct local_io *w, const char *what)
{
	char ebuf[128];

	if (w->read_failed)
		return status_make(ST_TEMP, 3, 0, "reading the queued message: %s",
		                   strerror_r(w->out.err, ebuf, sizeof ebuf));
	return local_io_status(w->out.err, "%s", what);
}
