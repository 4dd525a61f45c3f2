/* smtp_client_connect.c - the client engine's connections: name and
 * address lookup, a TCP connect with a deadline, the LMTP server's unix
 * socket, connect and hello in one call (smtp_client_open), and
 * "host:port" parsing; see smtp_client.h */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "monotonic.h"
#include "netaddr.h"
#include "smtp_client.h"
#include "smtp_client_priv.h"

/* smtp_resolve - host's addresses for port */
int smtp_resolve(const char *host, const char *port, struct addrinfo **ai,
                 struct status *why)
{
	struct addrinfo hints;
	char h[256];
	size_t n;
	int rc;

	host = netaddr_unliteral(host, strlen(host), &n);
	if (n == 0 || n >= sizeof h) {
		*why = status_make(ST_PERM, 1, 2, "bad host name");
		errno = EINVAL;
		return -1;
	}
	memcpy(h, host, n);
	h[n] = '\0';
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(h, port, &hints, ai);
	if (rc == 0)
		return 0;
	*why = status_make(rc == EAI_NONAME ? ST_PERM : ST_TEMP,
	                   rc == EAI_NONAME ? 1 : 4, 2, "%s: %s", h,
	                   gai_strerror(rc));
	errno = rc == EAI_SYSTEM ? errno : rc == EAI_AGAIN ? EAGAIN : ENOENT;
	return -1;
}

/* connect_one - connect to one address within timeout_ms: fd or -1 */
static int connect_one(const struct addrinfo *a, int timeout_ms)
{
	int fd, err, one = 1;
	socklen_t elen = sizeof err;
	struct stream s;

	fd = socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -1;
	stream_init(&s, fd);
	if (connect(fd, a->ai_addr, a->ai_addrlen) < 0) {
		if (errno != EINPROGRESS)
			goto fail;
		if (stream_wait(&s, POLLOUT, monotonic_ms() + timeout_ms) < 0)
			goto fail;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0)
			goto fail;
		if (err != 0) {
			errno = err;
			goto fail;
		}
	}
	/* Commands and data are gathered into whole writes already. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return fd;
fail:
	err = errno;
	close(fd);
	errno = err;
	return -1;
}

/* smtp_client_connect - connect to host:port, each address in turn */
int smtp_client_connect(struct smtp_client *c, const char *host,
                        const char *port, struct smtp_result *res)
{
	struct addrinfo *ai = NULL, *a;
	char eb[128];
	int err = EHOSTUNREACH;

	smtp_client_close(c);
	smtp_reply_clear(&res->reply);
	res->stage = SMTP_STAGE_CONNECT;
	if (smtp_resolve(host, port, &ai, &res->st) < 0)
		return -1;
	for (a = ai; a != NULL; a = a->ai_next) {
		netaddr_text(a->ai_addr, c->peer, sizeof c->peer);
		stream_init(&c->io, connect_one(a, c->to.connect));
		if (smtp_client_connected(c))
			break;
		err = errno;
	}
	freeaddrinfo(ai);
	if (smtp_client_connected(c)) {
		c->opened_ms = monotonic_ms();
		res->st = status_ok();
		return 0;
	}
	res->st = status_make(ST_TEMP, 4, 1, "connect to %s: %s", c->peer,
	                      strerror_r(err, eb, sizeof eb));
	errno = err;
	return -1;
}

/* smtp_client_connect_unix - connect to a local stream socket.  A
 * listener's backlog full (EAGAIN on a non-blocking socket) is a server
 * too busy now: temporary, as a refused TCP connection. */
int smtp_client_connect_unix(struct smtp_client *c, const char *path,
                             struct smtp_result *res)
{
	struct sockaddr_un sun;
	char eb[128];
	int fd, err;

	smtp_client_close(c);
	smtp_reply_clear(&res->reply);
	res->stage = SMTP_STAGE_CONNECT;
	snprintf(c->peer, sizeof c->peer, "unix:%s", path);
	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		res->st = status_make(ST_PERM, 4, 2, "socket path too long: %s", path);
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0) {
		stream_init(&c->io, fd);
		c->opened_ms = monotonic_ms();
		res->st = status_ok();
		return 0;
	}
	err = errno;
	if (fd >= 0)
		close(fd);
	res->st = status_make(ST_TEMP, 4, 1, "connect to %s: %s", c->peer,
	                      strerror_r(err, eb, sizeof eb));
	errno = err;
	return -1;
}

/* smtp_client_open - connect and handshake in one */
int smtp_client_open(struct smtp_client *c, const char *host,
                     const char *port, const char *helo,
                     struct smtp_result *res)
{
	if (smtp_client_connect(c, host, port, res) < 0)
		return -1;
	return smtp_client_handshake(c, helo, res);
}

/* copy_part - s[0..n) into buf of size len as a string; 0 or -1 */
static int copy_part(const char *s, size_t n, char *buf, size_t len)
{
	size_t i;

	if (n == 0 || n >= len)
		return -1;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] > 0x7e ||
		    s[i] == '/' || s[i] == '[' || s[i] == ']')
			return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return 0;
}

/* smtp_parse_hostport - split "host:port", "[v6]:port", "host", "[v6]" */
int smtp_parse_hostport(const char *s, const char *default_port, char *host,
                        size_t hostlen, char *port, size_t portlen)
{
	const char *colon, *p = NULL, *h = s;
	size_t hn;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (close == NULL || (close[1] != '\0' && close[1] != ':'))
			goto bad;
		h = s + 1;
		hn = (size_t)(close - h);
		if (close[1] == ':')
			p = close + 2;
	} else {
		colon = strchr(s, ':');
		if (colon && strchr(colon + 1, ':'))
			colon = NULL;           /* a bare IPv6 address */
		hn = colon ? (size_t)(colon - s) : strlen(s);
		if (colon)
			p = colon + 1;
	}
	if (p == NULL)
		p = default_port;
	if (copy_part(h, hn, host, hostlen) < 0 ||
	    copy_part(p, strlen(p), port, portlen) < 0)
		goto bad;
	return 0;
bad:
	errno = EINVAL;
	return -1;
}
