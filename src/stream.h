/* stream - a connection's byte stream: a socket, and the functions that
 * move its bytes.
 *
 * Every socket byte of the daemon's connections (conn.c), of remote
 * delivery (smtp_client.c) and of the mail gun (gun_loop.c) goes through
 * a struct stream.  The stream carries its own read and write functions:
 * today they are the plain socket calls; STARTTLS will swap in TLS ones
 * (stream_start_tls), so nothing above the stream needs to know whether
 * the bytes are encrypted.
 *
 * Two ways to use it:
 *   - event-driven (the gun, the daemon's poll loop): stream_read() and
 *     stream_write() make one attempt each on a non-blocking socket and
 *     fail with EAGAIN when the kernel has nothing or takes nothing; the
 *     caller waits with its own poll/epoll on s->fd;
 *   - blocking with deadlines (delivery): stream_read_deadline() and
 *     stream_write_all_deadline() try first and stream_wait() only when
 *     the kernel says EAGAIN, against a deadline on the monotonic clock
 *     (monotonic_ms()) fixed by the caller when its wait began; bytes
 *     trickling in do not move it.
 *
 * Errors: 0/-1 with errno.  A stream never raises SIGPIPE (MSG_NOSIGNAL):
 * a peer gone is EPIPE.  EINTR is retried inside.
 *
 * Contract: one struct stream per connection, used by one thread at a
 * time; no allocation, no globals.  The stream owns s->fd from
 * stream_init() to stream_close().
 */
#ifndef MTA_STREAM_H
#define MTA_STREAM_H

#include <stddef.h>
#include <sys/types.h>

struct stream {
	int fd;                      /* -1: closed */
	/* one attempt each: bytes moved (0 from read: end of stream), or -1
	 * with errno (EAGAIN: try again when poll says so) */
	ssize_t (*read)(struct stream *s, void *buf, size_t n);
	ssize_t (*write)(struct stream *s, const void *buf, size_t n);
	void *tls;                   /* the TLS layer once started; NULL */
};

/* stream_init - a stream over the connected socket fd (or -1: closed),
 * with the plain socket functions */
void stream_init(struct stream *s, int fd);
/* stream_open - is there a connection? */
int stream_open(const struct stream *s);
/* stream_nonblock - make the socket non-blocking (on) or blocking; 0/-1 */
int stream_nonblock(struct stream *s, int on);
/* stream_close - close the socket (and, later, the TLS layer); the
 * stream is then closed, and stream_close is harmless again */
void stream_close(struct stream *s);

/* stream_read - at most n bytes, one attempt: >0, 0 at the end of the
 * stream, -1 with errno (EAGAIN when nothing is there yet) */
ssize_t stream_read(struct stream *s, void *buf, size_t n);
/* stream_write - at most n bytes, one attempt: >0, or -1 with errno
 * (EAGAIN when the kernel takes nothing now) */
ssize_t stream_write(struct stream *s, const void *buf, size_t n);

/* stream_wait - wait until the socket is ready for events (POLLIN,
 * POLLOUT), an error or hang-up counts as ready (the next call reports
 * it); deadline: monotonic ms.  0, or -1 with errno (ETIMEDOUT) */
int stream_wait(struct stream *s, short events, long long deadline);

/* stream_read_deadline - at most n bytes, waiting until deadline for
 * some: >0, 0 at the end of the stream, -1 with errno (ETIMEDOUT) */
ssize_t stream_read_deadline(struct stream *s, void *buf, size_t n,
                             long long deadline);
/* stream_write_all_deadline - all n bytes by deadline; 0, or -1 with
 * errno (ETIMEDOUT, EPIPE...) and an unknown part written */
int stream_write_all_deadline(struct stream *s, const void *buf, size_t n,
                              long long deadline);

/* stream_start_tls - where STARTTLS (and implicit TLS) will put a TLS
 * layer under the stream: handshake by deadline with tls_ctx's settings
 * in role server (1) or client (0), then swap s->read and s->write for
 * the TLS ones.  Not there yet: -1 with ENOTSUP, the stream unchanged. */
int stream_start_tls(struct stream *s, void *tls_ctx, int server,
                     long long deadline);

#endif
