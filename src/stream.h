/* stream - a connection's byte stream: a socket, and the functions that
 * move its bytes.
 *
 * Every socket byte of the daemon's connections (conn.c), of remote
 * delivery (smtp_client.c) and of the mail gun (gun_loop.c) goes through
 * a struct stream.  The stream carries its own read and write functions:
 * the plain socket calls, until stream_start_tls() (STARTTLS, implicit
 * TLS) swaps in TLS ones (tls.h), so nothing above the stream needs to
 * know whether the bytes are encrypted.  Under TLS one thing shows:
 * decrypted bytes can wait inside the stream while the socket has
 * nothing; whoever polls the socket itself asks stream_pending() first
 * (stream_wait does).
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
 * Errors: 0/-1 with errno.  A plain stream never raises SIGPIPE
 * (MSG_NOSIGNAL): a peer gone is EPIPE; under TLS the writes are
 * OpenSSL's and the process must ignore SIGPIPE (tls.h).  EINTR is
 * retried inside.  Under TLS, EAGAIN may mean the socket must become
 * writable for a read (or readable for a write): stream_wait() waits for
 * what the TLS layer needs, whatever events the caller names.
 *
 * Contract: one struct stream per connection, used by one thread at a
 * time; no globals; the TLS layer is its only allocation.  The stream
 * owns s->fd from stream_init() to stream_close(), and the TLS layer
 * from stream_start_tls() to stream_close().
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
	struct tls_conn *tls;        /* the TLS layer once started; NULL */
	struct tls_conn *tls_next;   /* made by stream_tls_prepare, not yet
	                              * started; NULL */
};

struct tls_ctx;
struct tls_conn;

/* stream_init - a stream over the connected socket fd (or -1: closed),
 * with the plain socket functions */
void stream_init(struct stream *s, int fd);
/* stream_open - is there a connection? */
int stream_open(const struct stream *s);
/* stream_nonblock - make the socket non-blocking (on) or blocking; 0/-1 */
int stream_nonblock(struct stream *s, int on);
/* stream_close - end the TLS layer (a close_notify if it goes at once)
 * and close the socket; the stream is then closed, and stream_close is
 * harmless again */
void stream_close(struct stream *s);

/* stream_read - at most n bytes, one attempt: >0, 0 at the end of the
 * stream, -1 with errno (EAGAIN when nothing is there yet) */
ssize_t stream_read(struct stream *s, void *buf, size_t n);
/* stream_write - at most n bytes, one attempt: >0, or -1 with errno
 * (EAGAIN when the kernel takes nothing now) */
ssize_t stream_write(struct stream *s, const void *buf, size_t n);

/* stream_wait - wait until the socket is ready for events (POLLIN,
 * POLLOUT), an error or hang-up counts as ready (the next call reports
 * it); deadline: monotonic ms.  Under TLS: at once when decrypted bytes
 * wait and POLLIN is asked; and the readiness the TLS layer's last
 * EAGAIN needs instead of events.  0, or -1 with errno (ETIMEDOUT) */
int stream_wait(struct stream *s, short events, long long deadline);

/* stream_read_deadline - at most n bytes, waiting until deadline for
 * some: >0, 0 at the end of the stream, -1 with errno (ETIMEDOUT) */
ssize_t stream_read_deadline(struct stream *s, void *buf, size_t n,
                             long long deadline);
/* stream_write_all_deadline - all n bytes by deadline; 0, or -1 with
 * errno (ETIMEDOUT, EPIPE...) and an unknown part written */
int stream_write_all_deadline(struct stream *s, const void *buf, size_t n,
                              long long deadline);

/* stream_poll_events - what to poll the socket for, to go on with an
 * operation that failed with EAGAIN while waiting for events: events
 * for a plain stream, the TLS layer's need under TLS */
short stream_poll_events(const struct stream *s, short events);
/* stream_pending - bytes that a read returns without the socket being
 * readable (decrypted, held by the TLS layer); 0 for a plain stream */
size_t stream_pending(const struct stream *s);

/* stream_tls_prepare - make the TLS object of a stream_start_tls to come
 * now, so that a server can refuse STARTTLS (454) instead of failing
 * after its 220; 0, or -1 with errno (ENOMEM).  Harmless twice. */
int stream_tls_prepare(struct stream *s, struct tls_ctx *ctx, int server);
/* stream_tls_client - make the client's TLS object of the
 * stream_start_tls (role client) to come, for host (SNI and the name its
 * certificate is checked against; verify: a failed check fails the
 * handshake) (tls.h tls_conn_client); 0, or -1 with errno (EINVAL: closed,
 * or one made already; ENOMEM) */
int stream_tls_client(struct stream *s, struct tls_ctx *ctx, const char *host,
                      int verify);
/* stream_tls_dane - after stream_tls_client (verify 1): the TLSA records
 * (borrowed for the call) the certificate must match (tls.h
 * tls_conn_dane); 0, or -1 with errno (EINVAL: no TLS object made) */
struct tls_dane;
int stream_tls_dane(struct stream *s, const char *host, const struct tls_dane *d);
/* stream_tls_resume - after stream_tls_client: resume by key (tls.h
 * tls_conn_resume); 1, 0, or -1 with errno (EINVAL: no TLS object made) */
int stream_tls_resume(struct stream *s, const char *key);
/* stream_tls_verified - under TLS: 1 when the server's certificate was
 * found trusted and valid for the host, else 0; why "ok" or the reason
 * ("no TLS" without it) */
int stream_tls_verified(const struct stream *s, char *why, size_t len);
/* stream_start_tls - put a TLS layer under the stream (STARTTLS, or
 * implicit TLS from the first byte): the handshake with ctx's settings
 * in role server (1) or client (0) (or the prepared one), by deadline, then s->read and
 * s->write swapped for the TLS ones.  The socket must be non-blocking.
 * 0; or -1 with errno (ETIMEDOUT, EPROTO: the handshake failed, ENOMEM)
 * and why in err, the stream plain again (the caller closes it: what
 * came in the clear cannot go on). */
int stream_start_tls(struct stream *s, struct tls_ctx *ctx, int server,
                     long long deadline, char *err, size_t errlen);
/* For event loops, the same handshake one step at a time:
 * stream_tls_begin - put the TLS object (the prepared one, or a new one
 * from ctx in role server or client) under the stream; no byte moves yet.
 * 0, or -1 with errno (EINVAL: closed or TLS already on; ENOMEM).
 * stream_tls_step - one step: 0 when the handshake is done (s->read and
 * s->write are the TLS ones now); -1 with EAGAIN: poll for
 * stream_poll_events(s, POLLIN) and step again; -1 with another errno
 * (EPROTO...): failed, why in err, the stream plain again.
 * stream_tls_abandon - give a handshake under way up (err: the errno
 * value that made the caller do so, ETIMEDOUT for its deadline): why in
 * err, the stream plain again. */
int stream_tls_begin(struct stream *s, struct tls_ctx *ctx, int server);
int stream_tls_step(struct stream *s, char *err, size_t errlen);
void stream_tls_abandon(struct stream *s, char *err, size_t errlen, int e);

/* stream_tls_info - what the TLS layer agreed (NULL-safe: 0 = no TLS,
 * 1 = info filled) */
struct tls_info;
int stream_tls_info(const struct stream *s, struct tls_info *info);

#endif
