/* stream.c - a connection's byte stream; see stream.h */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "monotonic.h"
#include "stream.h"
#include "tls.h"

/* plain_read - the socket's own bytes */
static ssize_t plain_read(struct stream *s, void *buf, size_t n)
{
	ssize_t r;

	while ((r = recv(s->fd, buf, n, 0)) < 0 && errno == EINTR)
		;
	return r;
}

/* plain_write - to the socket; a peer gone is EPIPE, never SIGPIPE */
static ssize_t plain_write(struct stream *s, const void *buf, size_t n)
{
	ssize_t w;

	while ((w = send(s->fd, buf, n, MSG_NOSIGNAL)) < 0 && errno == EINTR)
		;
	return w;
}

/* tls_read - decrypted bytes */
static ssize_t tls_read(struct stream *s, void *buf, size_t n)
{
	return tls_conn_read(s->tls, buf, n);
}

/* tls_write - bytes to encrypt */
static ssize_t tls_write(struct stream *s, const void *buf, size_t n)
{
	return tls_conn_write(s->tls, buf, n);
}

/* stream_init - a stream over fd with the plain functions */
void stream_init(struct stream *s, int fd)
{
	s->fd = fd;
	s->read = plain_read;
	s->write = plain_write;
	s->tls = NULL;
	s->tls_next = NULL;
}

/* stream_open - is there a connection? */
int stream_open(const struct stream *s)
{
	return s->fd >= 0;
}

/* stream_nonblock - O_NONBLOCK on or off */
int stream_nonblock(struct stream *s, int on)
{
	int fl = fcntl(s->fd, F_GETFL);

	if (fl < 0)
		return -1;
	fl = on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK;
	return fcntl(s->fd, F_SETFL, fl);
}

/* stream_close - close, and back to the plain functions */
void stream_close(struct stream *s)
{
	tls_conn_free(s->tls);
	tls_conn_free(s->tls_next);
	if (s->fd >= 0)
		close(s->fd);
	stream_init(s, -1);
}

/* stream_read - one attempt */
ssize_t stream_read(struct stream *s, void *buf, size_t n)
{
	if (s->fd < 0) {
		errno = EBADF;
		return -1;
	}
	return s->read(s, buf, n);
}

/* stream_write - one attempt */
ssize_t stream_write(struct stream *s, const void *buf, size_t n)
{
	if (s->fd < 0) {
		errno = EBADF;
		return -1;
	}
	return s->write(s, buf, n);
}

/* stream_pending - decrypted bytes waiting */
size_t stream_pending(const struct stream *s)
{
	return s->tls ? tls_conn_pending(s->tls) : 0;
}

/* stream_poll_events - the readiness that lets an operation go on */
short stream_poll_events(const struct stream *s, short events)
{
	return s->tls && tls_conn_want(s->tls) ? tls_conn_want(s->tls) : events;
}

/* stream_wait - poll until ready or the deadline */
int stream_wait(struct stream *s, short events, long long deadline)
{
	if (s->tls && (events & POLLIN) && tls_conn_pending(s->tls) > 0)
		return 0;
	events = stream_poll_events(s, events);
	for (;;) {
		struct pollfd pfd;
		long long left = deadline - monotonic_ms();
		int r;

		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		pfd.fd = s->fd;
		pfd.events = events;
		pfd.revents = 0;
		r = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (r > 0)
			return 0;   /* POLLERR/POLLHUP: the next call reports it */
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (errno != EINTR)
			return -1;
	}
}

/* stream_read_deadline - try, and wait only when there is nothing yet */
ssize_t stream_read_deadline(struct stream *s, void *buf, size_t n,
                             long long deadline)
{
	for (;;) {
		ssize_t r = stream_read(s, buf, n);

		if (r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return r;
		if (stream_wait(s, POLLIN, deadline) < 0)
			return -1;
	}
}

/* stream_write_all_deadline - all of it, waiting when the kernel is full */
int stream_write_all_deadline(struct stream *s, const void *buf, size_t n,
                              long long deadline)
{
	const char *p = buf;

	while (n > 0) {
		ssize_t w = stream_write(s, p, n);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (w == 0)
			errno = EAGAIN;  /* no progress: wait for room */
		if (stream_wait(s, POLLOUT, deadline) < 0)
			return -1;
	}
	return 0;
}

/* stream_tls_prepare - the TLS object, made ahead */
int stream_tls_prepare(struct stream *s, struct tls_ctx *ctx, int server)
{
	if (stream_tls_begin(s, ctx, server) < 0)
		return -1;
	/* made, not begun */
	s->tls_next = s->tls;
	s->tls = NULL;
	return 0;
}

/* stream_tls_client - a client's TLS object, made ahead with its host */
int stream_tls_client(struct stream *s, struct tls_ctx *ctx, const char *host,
                      int verify)
{
	if (s->fd < 0 || s->tls != NULL || s->tls_next != NULL) {
		errno = EINVAL;
		return -1;
	}
	s->tls_next = tls_conn_client(ctx, s->fd, host, verify);
	return s->tls_next ? 0 : -1;
}

/* stream_tls_dane - TLSA records on the TLS object made ahead */
int stream_tls_dane(struct stream *s, const char *host, const struct tls_dane *d)
{
	if (s->tls_next == NULL) {
		errno = EINVAL;
		return -1;
	}
	return tls_conn_dane(s->tls_next, host, d);
}

/* stream_tls_resume - a session offered by the TLS object made ahead */
int stream_tls_resume(struct stream *s, const char *key)
{
	if (s->tls_next == NULL) {
		errno = EINVAL;
		return -1;
	}
	return tls_conn_resume(s->tls_next, key);
}

/* stream_tls_verified - the certificate's check, under TLS */
int stream_tls_verified(const struct stream *s, char *why, size_t len)
{
	if (s->tls == NULL) {
		snprintf(why, len, "no TLS");
		return 0;
	}
	return tls_conn_verified(s->tls, why, len);
}

/* stream_tls_begin - the TLS object in place, no byte moved yet */
int stream_tls_begin(struct stream *s, struct tls_ctx *ctx, int server)
{
	if (s->fd < 0 || s->tls != NULL) {
		errno = EINVAL;
		return -1;
	}
	if (s->tls_next == NULL && (s->tls_next = tls_conn_new(ctx, s->fd, server)) == NULL)
		return -1;
	/* the TLS layer's waits are stream_wait's (stream_poll_events):
	 * s->tls is set from the first step; the plain functions stay until
	 * the handshake is done */
	s->tls = s->tls_next;
	s->tls_next = NULL;
	return 0;
}

/* stream_tls_step - one step of the handshake */
int stream_tls_step(struct stream *s, char *err, size_t errlen)
{
	struct tls_conn *t = s->tls;
	int e;

	if (t == NULL) {
		snprintf(err, errlen, "no handshake under way");
		errno = EINVAL;
		return -1;
	}
	if (tls_conn_handshake(t) == 0) {
		s->read = tls_read;
		s->write = tls_write;
		return 0;
	}
	e = errno;
	if (e == EAGAIN)
		return -1;
	stream_tls_abandon(s, err, errlen, e);
	errno = e;
	return -1;
}

/* stream_tls_abandon - the handshake failed (err: an errno value): why,
 * and the stream plain again */
void stream_tls_abandon(struct stream *s, char *err, size_t errlen, int e)
{
	struct tls_conn *t = s->tls;

	if (t == NULL)
		return;
	snprintf(err, errlen, "%s", e == ETIMEDOUT ? "handshake timed out"
	         : *tls_conn_error(t) ? tls_conn_error(t) : strerror(e));
	s->tls = NULL;
	s->read = plain_read;
	s->write = plain_write;
	tls_conn_free(t);
}

/* stream_start_tls - the handshake step by step, each wait bounded by
 * the deadline; then the TLS functions */
int stream_start_tls(struct stream *s, struct tls_ctx *ctx, int server,
                     long long deadline, char *err, size_t errlen)
{
	if (stream_tls_begin(s, ctx, server) < 0) {
		snprintf(err, errlen, "%s", errno == EINVAL ?
		         (s->fd < 0 ? "not connected" : "TLS already on") : "out of memory");
		return -1;
	}
	while (stream_tls_step(s, err, errlen) < 0) {
		int e;

		if (errno != EAGAIN)
			return -1;
		if (stream_wait(s, POLLIN, deadline) < 0) {
			e = errno;
			stream_tls_abandon(s, err, errlen, e);
			errno = e;
			return -1;
		}
	}
	return 0;
}

/* stream_tls_info - version and cipher, when TLS is on */
int stream_tls_info(const struct stream *s, struct tls_info *info)
{
	if (s->tls == NULL)
		return 0;
	tls_conn_info(s->tls, info);
	return 1;
}
