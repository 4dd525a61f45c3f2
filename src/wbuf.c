/* wbuf.c - the sticky-error buffered writer; see wbuf.h */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "wbuf.h"

/* wbuf_init - a writer on fd */
void wbuf_init(struct wbuf *w, int fd, char *buf, size_t size)
{
	w->fd = fd;
	w->err = 0;
	w->len = 0;
	w->size = size;
	w->buf = buf;
}

/* write_all - write p[0..n) to w->fd, recording the first error */
static void write_all(struct wbuf *w, const char *p, size_t n)
{
	ssize_t r;

	while (n > 0 && w->err == 0) {
		r = write(w->fd, p, n);
		if (r < 0) {
			if (errno != EINTR)
				w->err = errno;
			continue;
		}
		if (r == 0) {              /* no progress and no reason: give up */
			w->err = EIO;
			break;
		}
		p += r;
		n -= (size_t)r;
	}
}

/* wbuf_put - append p[0..n) */
void wbuf_put(struct wbuf *w, const char *p, size_t n)
{
	size_t k;

	while (n > 0 && w->err == 0) {
		if (w->len == 0 && n >= w->size) {
			write_all(w, p, n);    /* big piece: skip the copy */
			return;
		}
		k = w->size - w->len;
		if (k > n)
			k = n;
		memcpy(w->buf + w->len, p, k);
		w->len += k;
		p += k;
		n -= k;
		if (w->len == w->size) {
			write_all(w, w->buf, w->len);
			w->len = 0;
		}
	}
}

/* wbuf_puts - append a C string */
void wbuf_puts(struct wbuf *w, const char *s)
{
	wbuf_put(w, s, strlen(s));
}

/* wbuf_fail - an error from elsewhere, sticky like a write's */
void wbuf_fail(struct wbuf *w, int err)
{
	if (w->err == 0)
		w->err = err;
}

/* wbuf_flush - write out what is buffered; report the sticky error */
int wbuf_flush(struct wbuf *w)
{
	if (w->err == 0 && w->len > 0)
		write_all(w, w->buf, w->len);
	w->len = 0;
	if (w->err != 0) {
		errno = w->err;
		return -1;
	}
	return 0;
}
