/* dovecot_auth.c - a client of Dovecot's auth-client socket; see
 * dovecot_auth.h
 *
 * The exchange (lines end in LF, fields are separated by TABs):
 *
 *   we:     VERSION 1 2 / CPID n                  (sent at once)
 *   server: VERSION 1 x / MECH name... / SPID / CUID / COOKIE / DONE
 *   we:     AUTH 1 PLAIN service=smtp [secured] [rip=IP] resp=B64
 *   server: OK 1 ... [nologin] | FAIL 1 ... [temp] [code=...] [reason=...]
 *           | CONT 1 B64
 *
 * The CPID names the client process to Dovecot (its own login processes
 * send their pid; the auth master's lookups go by it).  Each call sends
 * a number of its own, so that concurrent connections of ours are never
 * taken for one client: bit 31 set (above any pid, which Linux keeps
 * below 2^22: never a real login process's), our pid, and a counter of
 * calls.  (Dovecot 2.3.19 was seen to accept 40 simultaneous connections
 * with one CPID too; the distinct numbers are a precaution.)
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <textcode.h>
#include <unistd.h>

#include "dovecot_auth.h"
#include "monotonic.h"

/* calls made: the low byte of each CPID; atomic, so no lock (the one
 * mutable file-scope variable here) */
static atomic_uint calls;

struct dconn {
	int fd;
	long long deadline;                  /* monotonic ms */
	char in[DOVECOT_AUTH_LINE_MAX + 1];
	size_t len;                          /* bytes in in[] */
	size_t used;                         /* of them, lines already taken */
};

/* say - a line for the caller's err; ret passes through */
static int say(char *err, size_t errlen, int ret, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int say(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

/* why - errno's text, from strerror_r (strerror is not thread-safe) */
static const char *why(int e, char *buf, size_t len)
{
	return strerror_r(e, buf, len);
}

/* printable - s for a log line: at most len - 1 octets, controls as '?' */
static const char *printable(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < len; i++)
		buf[i] = (unsigned char)s[i] < 32 || s[i] == 127 ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

/* left - ms to the deadline, at least 0 */
static int left(const struct dconn *c)
{
	long long ms = c->deadline - monotonic_ms();

	return ms > 0 ? (int)ms : 0;
}

/* send_all - write n bytes before the deadline; 0 or -1 (errno) */
static int send_all(struct dconn *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return -1;
		struct pollfd pf = { .fd = c->fd, .events = POLLOUT };
		int ms = left(c), r = ms > 0 ? poll(&pf, 1, ms) : 0;
		if (r == 0)
			errno = ETIMEDOUT;
		if (r == 0 || (r < 0 && errno != EINTR))
			return -1;
	}
	return 0;
}

/* read_line - the next line from the server, its LF replaced by a NUL,
 * in *line; 1, or 0 when the server closed, -1 on an error (errno;
 * ETIMEDOUT: the deadline, EMSGSIZE: a line too long) */
static int read_line(struct dconn *c, char **line)
{
	for (;;) {
		char *nl = memchr(c->in + c->used, '\n', c->len - c->used);

		if (nl != NULL) {
			*nl = '\0';
			*line = c->in + c->used;
			c->used = (size_t)(nl - c->in) + 1;
			return 1;
		}
		if (c->used > 0) {            /* keep the partial line in front */
			memmove(c->in, c->in + c->used, c->len - c->used);
			c->len -= c->used;
			c->used = 0;
		}
		if (c->len >= DOVECOT_AUTH_LINE_MAX) {
			errno = EMSGSIZE;
			return -1;
		}
		struct pollfd pf = { .fd = c->fd, .events = POLLIN };
		int ms = left(c), r;
		if (ms == 0 || (r = poll(&pf, 1, ms)) == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		ssize_t n = recv(c->fd, c->in + c->len, DOVECOT_AUTH_LINE_MAX - c->len,
		                 MSG_DONTWAIT);
		if (n == 0)
			return 0;
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -1;
		}
		c->len += (size_t)n;
	}
}

/* field - the i-th TAB-separated field of line (0: the command) into
 * buf; 0, or -1 when there is none */
static int field(const char *line, int i, char *buf, size_t len)
{
	size_t n;

	for (; i > 0; i--) {
		if ((line = strchr(line, '\t')) == NULL)
			return -1;
		line++;
	}
	n = strcspn(line, "\t");
	if (n >= len)
		n = len - 1;
	memcpy(buf, line, n);
	buf[n] = '\0';
	return 0;
}

/* has_param - does the reply line carry the optional parameter name
 * (a boolean, or name=... when value is NULL; name=value else)? */
static int has_param(const char *line, const char *name, const char *value)
{
	size_t nl = strlen(name);

	while ((line = strchr(line, '\t')) != NULL) {
		line++;
		if (strncmp(line, name, nl) != 0)
			continue;
		if (line[nl] == '\t' || line[nl] == '\0')
			return value == NULL;
		if (line[nl] != '=')
			continue;
		if (value == NULL)
			return 1;
		size_t vl = strlen(value);
		if (strncmp(line + nl + 1, value, vl) == 0 &&
		    (line[nl + 1 + vl] == '\t' || line[nl + 1 + vl] == '\0'))
			return 1;
	}
	return 0;
}

/* ip_ok - may s go into rip=?  an address literal's characters only */
static int ip_ok(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && n < 64 && strspn(s, "0123456789abcdefABCDEF.:") == n;
}

/* handshake - the server's lines up to DONE: version 1, PLAIN offered;
 * 0, or -1 with err set */
static int handshake(struct dconn *c, char *err, size_t errlen)
{
	int version = 0, plain = 0;
	char eb[96];

	for (;;) {
		char *line, word[32], arg[32];
		int r = read_line(c, &line);

		if (r <= 0)
			return say(err, errlen, -1, "dovecot auth: handshake: %s",
			           r == 0 ? "connection closed" : why(errno, eb, sizeof eb));
		if (field(line, 0, word, sizeof word) < 0)
			continue;
		if (strcmp(word, "VERSION") == 0) {
			if (field(line, 1, arg, sizeof arg) < 0 || strcmp(arg, "1") != 0)
				return say(err, errlen, -1, "dovecot auth: protocol "
				           "version %.20s, not 1", line + 8);
			version = 1;
		} else if (strcmp(word, "MECH") == 0) {
			if (field(line, 1, arg, sizeof arg) == 0 &&
			    strcasecmp(arg, "PLAIN") == 0)
				plain = 1;
		} else if (strcmp(word, "DONE") == 0) {
			break;
		}                             /* SPID, CUID, COOKIE, ...: skipped */
	}
	if (!version)
		return say(err, errlen, -1, "dovecot auth: no VERSION in the handshake");
	if (!plain)
		return say(err, errlen, -1, "dovecot auth: the server does not offer "
		           "PLAIN");
	return 0;
}

/* answer - the server's reply to AUTH 1; 1 (the user= of an OK into
 * user when there is one and it is printable, else left alone), 0 or -1
 * with err set */
static int answer(struct dconn *c, const char *login, char *user,
                  size_t userlen, char *err, size_t errlen)
{
	char eb[96], lb[65];

	printable(login, lb, sizeof lb);
	for (;;) {
		char *line, word[16], id[16], reason[256];
		int r = read_line(c, &line);

		if (r <= 0)
			return say(err, errlen, -1, "dovecot auth: no answer: %s",
			           r == 0 ? "connection closed" : why(errno, eb, sizeof eb));
		if (field(line, 0, word, sizeof word) < 0 ||
		    field(line, 1, id, sizeof id) < 0 || strcmp(id, "1") != 0)
			continue;             /* not about our request */
		/* An OK flagged nologin is Dovecot saying the password matched
		 * but the user may not log in (a suspended account, one to be
		 * proxied or referred elsewhere): a refusal, as Dovecot's own
		 * login processes take it. */
		if (strcmp(word, "OK") == 0 && !has_param(line, "nologin", NULL)) {
			char u[DOVECOT_AUTH_FIELD_MAX + 6];
			size_t k;

			for (int i = 2; user != NULL && field(line, i, u, sizeof u) == 0; i++) {
				if (strncmp(u, "user=", 5) != 0 || u[5] == '\0')
					continue;
				for (k = 5; u[k] && (unsigned char)u[k] > 32 && u[k] != 127; k++)
					;
				/* a name that does not fit is no name to bind the
				 * senders to: refused rather than the login kept */
				if (u[k] != '\0' || k - 5 >= userlen || k - 5 >= sizeof u - 6)
					return say(err, errlen, 0, "dovecot auth: refused for "
					           "%s: its user name from Dovecot is unusable", lb);
				memcpy(user, u + 5, k - 4);
				break;
			}
			return 1;
		}
		if (strcmp(word, "CONT") == 0)
			return say(err, errlen, -1, "dovecot auth: the server asked for "
			           "more than PLAIN gives (CONT)");
		if (strcmp(word, "FAIL") != 0 && strcmp(word, "OK") != 0)
			return say(err, errlen, -1, "dovecot auth: unexpected reply %.15s",
			           word);
		reason[0] = '\0';
		for (int i = 2; field(line, i, reason, sizeof reason) == 0; i++)
			if (strncmp(reason, "reason=", 7) == 0)
				break;
		if (strncmp(reason, "reason=", 7) != 0)
			strcpy(reason, "reason=");
		for (char *p = reason; *p; p++)      /* a log line: no controls */
			if ((unsigned char)*p < 32 || *p == 127)
				*p = '?';
		if (strcmp(word, "OK") == 0)
			return say(err, errlen, 0, "dovecot auth: refused for %s "
			           "(nologin)%s%s", lb, reason[7] ? ": " : "", reason + 7);
		if (has_param(line, "temp", NULL) ||
		    has_param(line, "code", "temp_fail"))
			return say(err, errlen, -1, "dovecot auth: temporary failure "
			           "for %s%s%s", lb, reason[7] ? ": " : "", reason + 7);
		return say(err, errlen, 0, "dovecot auth: refused for %s%s%s",
		           lb, reason[7] ? ": " : "", reason + 7);
	}
}

/* dovecot_auth_check - dovecot_auth_verify without the user name */
int dovecot_auth_check(const char *socket_path, const char *login,
                       const char *password, const char *client_ip,
                       int secured, char *err, size_t errlen)
{
	return dovecot_auth_verify(socket_path, login, password, client_ip,
	                           secured, NULL, 0, err, errlen);
}

/* dovecot_auth_verify - one request on a connection of its own */
int dovecot_auth_verify(const char *socket_path, const char *login,
                        const char *password, const char *client_ip,
                        int secured, char *user, size_t userlen,
                        char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct dconn c;
	size_t nl = strlen(login), np = strlen(password), n;
	/* "\0login\0password" and its base64, and the request around it */
	char plain[2 * DOVECOT_AUTH_FIELD_MAX + 2];
	char req[4 * (sizeof plain / 3 + 1) + 256];
	unsigned cpid;
	int ret, len;
	char eb[96];

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (nl == 0 || nl > DOVECOT_AUTH_FIELD_MAX || np > DOVECOT_AUTH_FIELD_MAX)
		return say(err, errlen, 0, "dovecot auth: login or password empty "
		           "or too long");
	if (client_ip != NULL && !ip_ok(client_ip))
		client_ip = NULL;            /* not for Dovecot's log: left out */
	if (strlen(socket_path) >= sizeof sa.sun_path)
		return say(err, errlen, -1, "dovecot auth: socket path too long");
	strcpy(sa.sun_path, socket_path);

	c.len = c.used = 0;
	c.deadline = monotonic_ms() + DOVECOT_AUTH_TIMEOUT_MS;
	if ((c.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return say(err, errlen, -1, "dovecot auth: socket: %s", why(errno, eb, sizeof eb));
	/* connecting to a unix socket does not block for long: the kernel
	 * refuses at once when the listener's backlog is full (EAGAIN) */
	if (connect(c.fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		ret = say(err, errlen, -1, "dovecot auth: %s: %s", socket_path,
		          why(errno, eb, sizeof eb));
		goto out;
	}
	cpid = 0x80000000u | ((unsigned)getpid() & 0x3fffff) << 8 |
	       (atomic_fetch_add(&calls, 1) & 0xff);
	len = snprintf(req, sizeof req, "VERSION\t1\t2\nCPID\t%u\n", cpid);
	if (send_all(&c, req, (size_t)len) < 0) {
		ret = say(err, errlen, -1, "dovecot auth: handshake: %s",
		          why(errno, eb, sizeof eb));
		goto out;
	}
	if ((ret = handshake(&c, err, errlen)) < 0)
		goto out;

	/* PLAIN (RFC 4616): no authorization identity, the login, the password */
	plain[0] = '\0';
	memcpy(plain + 1, login, nl);
	plain[nl + 1] = '\0';
	memcpy(plain + nl + 2, password, np);
	len = snprintf(req, sizeof req, "AUTH\t1\tPLAIN\tservice=smtp%s%s%s\tresp=",
	               secured ? "\tsecured" : "", client_ip ? "\trip=" : "",
	               client_ip ? client_ip : "");
	n = (size_t)len + fmt_base64(req + len, plain, nl + np + 2);
	req[n++] = '\n';
	ret = send_all(&c, req, n);
	explicit_bzero(plain, sizeof plain);
	explicit_bzero(req, sizeof req);
	if (ret < 0) {
		ret = say(err, errlen, -1, "dovecot auth: request: %s", why(errno, eb, sizeof eb));
		goto out;
	}
	if (user != NULL && userlen > 0)
		snprintf(user, userlen, "%s", login);
	ret = answer(&c, login, user, userlen, err, errlen);
out:
	close(c.fd);
	return ret;
}
