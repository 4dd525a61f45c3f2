/* stream.c - a connection's byte stream; see stream.h */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "monotonic.h"
#include "stream.h"

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

/* stream_init - a stream over fd with the plain functions */
void stream_init(struct stream *s, int fd)
{
	s->fd = fd;
	s->read = plain_read;
	s->write = plain_write;
	s->tls = NULL;
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

/* stream_wait - poll until ready or the deadline */
int stream_wait(struct stream *s, short events, long long deadline)
{
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

/* stream_start_tls - the TLS issue fills this in: the handshake, then
 * s->tls set and s->read/s->write swapped for functions that go through
 * it (and stream_close shutting it down first) */
int stream_start_tls(struct stream *s, void *tls_ctx, int server,
                     long long deadline)
{
	(void)s;
	(void)tls_ctx;
	(void)server;
	(void)deadline;
	errno = ENOTSUP;
	return -1;
}
