/* wbuf - a buffered writer with a sticky error, for files written in one
 * go and checked once (a mailbox being delivered to, a queue file).
 *
 * wbuf_put() never reports an error: the first failed write(2) is kept in
 * w->err and every later put is skipped, so a caller writes everything
 * and checks once, at wbuf_flush().  A write(2) interrupted by a signal
 * is resumed; one that makes no progress without a reason counts as EIO.
 * A piece at least as large as the buffer, arriving when the buffer is
 * empty, is written directly (no copy).  wbuf_fail() records an error
 * from elsewhere (reading what is being copied, an fdatasync) the same
 * sticky way.
 *
 * Contract: a struct wbuf belongs to one thread.  The buffer is the
 * caller's (size > 0 bytes, alive as long as the wbuf is used); wbuf
 * allocates nothing and never closes the fd.
 */
#ifndef MTA_WBUF_H
#define MTA_WBUF_H

#include <stddef.h>

struct wbuf {
	int fd;
	int err;               /* first errno; 0 = no error so far */
	size_t len;            /* bytes waiting in buf */
	size_t size;           /* buf's capacity */
	char *buf;
};

/* wbuf_init - a writer on fd with buf[0..size) as its buffer */
void wbuf_init(struct wbuf *w, int fd, char *buf, size_t size);
/* wbuf_put - append p[0..n) (skipped after an error) */
void wbuf_put(struct wbuf *w, const char *p, size_t n);
/* wbuf_puts - append a C string */
void wbuf_puts(struct wbuf *w, const char *s);
/* wbuf_fail - keep err (non-zero) as the error, unless one is kept already */
void wbuf_fail(struct wbuf *w, int err);
/* wbuf_flush - write out the buffer (dropped after an error); 0, or -1
 * with errno = the first error since wbuf_init() */
int wbuf_flush(struct wbuf *w);

#endif
