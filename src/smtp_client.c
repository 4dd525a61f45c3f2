/* smtp_client.c - blocking SMTP client with deadlines; see smtp_client.h
 *
 * This file: the connection, its I/O, and the commands outside a
 * transaction; smtp_client_tx.c has the transaction.
 *
 * I/O: through the stream c->io (stream.h) on a non-blocking socket: every
 * read or write is tried first and waits only when the kernel says EAGAIN,
 * against a deadline fixed when the wait for a reply (or the write of a
 * block) began.
 */
#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "monotonic.h"
#include "netaddr.h"
#include "smtp_client.h"
#include "smtp_client_priv.h"

/* smtp_timeouts_default - the RFC 5321 4.5.3.2 values */
void smtp_timeouts_default(struct smtp_timeouts *to)
{
	to->connect = 30 * 1000;
	to->greeting = 5 * 60 * 1000;
	to->hello = 5 * 60 * 1000;
	to->mail = 5 * 60 * 1000;
	to->rcpt = 5 * 60 * 1000;
	to->data = 2 * 60 * 1000;
	to->block = 3 * 60 * 1000;
	to->dot = 10 * 60 * 1000;
	to->other = 5 * 60 * 1000;
}

/* smtp_timeouts_all - every limit set to ms */
void smtp_timeouts_all(struct smtp_timeouts *to, int ms)
{
	to->connect = to->greeting = to->hello = to->mail = to->rcpt = ms;
	to->data = to->block = to->dot = to->other = ms;
}

/* smtp_client_init - an unconnected client */
void smtp_client_init(struct smtp_client *c, const struct smtp_timeouts *to)
{
	memset(c, 0, sizeof *c);
	stream_init(&c->io, -1);
	if (to)
		c->to = *to;
	else
		smtp_timeouts_default(&c->to);
	smtp_reply_init(&c->parser);
	c->opened_ms = monotonic_ms();
}

/* smtp_client_connected - true while the connection is usable */
int smtp_client_connected(const struct smtp_client *c)
{
	return stream_open(&c->io);
}

/* smtp_client_close - close the connection without a word */
void smtp_client_close(struct smtp_client *c)
{
	stream_close(&c->io);
	c->in_pos = c->in_len = c->out_len = 0;
	c->need_rset = c->esmtp = 0;
	c->ext = 0;
	c->size_max = 0;
	smtp_reply_init(&c->parser);
}

/* smtp_stage_name - what was going on, for messages */
const char *smtp_stage_name(enum smtp_stage stage)
{
	switch (stage) {
	case SMTP_STAGE_NONE:     return "idle";
	case SMTP_STAGE_CONNECT:  return "connect";
	case SMTP_STAGE_GREETING: return "greeting";
	case SMTP_STAGE_HELLO:    return "EHLO/HELO";
	case SMTP_STAGE_MAIL:     return "MAIL FROM";
	case SMTP_STAGE_RCPT:     return "RCPT TO";
	case SMTP_STAGE_DATA:     return "DATA";
	case SMTP_STAGE_DOT:      return "end of data";
	case SMTP_STAGE_RSET:     return "RSET";
	case SMTP_STAGE_QUIT:     return "QUIT";
	}
	return "unknown stage";
}

/* smtpc_reply_clear - no reply */
void smtpc_reply_clear(struct smtp_reply *r)
{
	r->code = 0;
	r->error = SMTP_REPLY_OK;
	r->enh_class = r->enh_subject = r->enh_detail = 0;
	r->lines = 0;
	r->truncated = 0;
	r->len = 0;
	r->text[0] = '\0';
}

/* smtp_reply_status - what a server reply means */
struct status smtp_reply_status(const struct smtp_reply *r)
{
	enum status_kind kind;
	char enh[24] = "";

	kind = r->code < 400 ? ST_OK : r->code < 500 ? ST_TEMP : ST_PERM;
	if (r->enh_class)
		snprintf(enh, sizeof enh, "%d.%d.%d ", r->enh_class,
		         r->enh_subject, r->enh_detail);
	return status_make(kind, r->enh_subject, r->enh_detail, "%d %s%s",
	                   r->code, enh, r->text);
}

/* smtp_result_from_reply - fill res from a server reply at stage */
void smtp_result_from_reply(struct smtp_result *res, enum smtp_stage stage,
                            const struct smtp_reply *r)
{
	if (r != &res->reply)
		res->reply = *r;
	res->stage = stage;
	res->st = smtp_reply_status(r);
}

/* smtpc_local_result - an outcome decided here, without a server reply */
void smtpc_local_result(struct smtp_result *res, enum smtp_stage stage,
                         enum status_kind kind, int subject, int detail,
                         const char *text)
{
	smtpc_reply_clear(&res->reply);
	res->stage = stage;
	res->st = status_make(kind, subject, detail, "%s", text);
}

/* net_fail - the connection broke (err 0: closed by the server): close
 * it, describe it, return -1 with errno set */
static int net_fail(struct smtp_client *c, struct smtp_result *res,
                    enum smtp_stage stage, int err, int timeout_ms)
{
	char eb[128];

	smtpc_reply_clear(&res->reply);
	res->stage = stage;
	if (err == ETIMEDOUT)
		res->st = status_make(ST_TEMP, 4, 2, "%s: %s: no answer within %d s",
		                      c->peer, smtp_stage_name(stage),
		                      timeout_ms / 1000);
	else if (err == 0)
		res->st = status_make(ST_TEMP, 4, 2,
		                      "%s: %s: connection closed by the server",
		                      c->peer, smtp_stage_name(stage));
	else
		res->st = status_make(ST_TEMP, 4, 2, "%s: %s: %s", c->peer,
		                      smtp_stage_name(stage),
		                      strerror_r(err, eb, sizeof eb));
	smtp_client_close(c);
	errno = err ? err : ECONNRESET;
	return -1;
}

/* smtpc_not_connected - a call on a closed client */
int smtpc_not_connected(struct smtp_result *res, enum smtp_stage stage)
{
	smtpc_local_result(res, stage, ST_TEMP, 4, 2, "not connected");
	errno = ENOTCONN;
	return -1;
}

enum { REASON_WAIT_MS = 1000 };  /* for a reply after a failed write */

static int read_reply(struct smtp_client *c, int timeout_ms,
                      struct smtp_reply *r);

/* smtpc_flush - send the output buffer; 0, or -1 (connection closed,
 * res set) */
int smtpc_flush(struct smtp_client *c, enum smtp_stage stage,
                 int timeout_ms, struct smtp_result *res)
{
	int err;

	if (c->out_len == 0 ||
	    stream_write_all_deadline(&c->io, c->out, c->out_len,
	                              monotonic_ms() + timeout_ms) == 0) {
		c->out_len = 0;
		return 0;
	}
	err = errno;
	/* A server that refuses in mid-message (552 too big) and hangs up:
	 * its reason may still be readable, and beats "broken pipe". */
	if ((err == EPIPE || err == ECONNRESET) &&
	    read_reply(c, REASON_WAIT_MS, &res->reply) == 0 &&
	    res->reply.error == SMTP_REPLY_OK && res->reply.code >= 400) {
		smtp_result_from_reply(res, stage, &res->reply);
		smtp_client_close(c);
		errno = err;
		return -1;
	}
	return net_fail(c, res, stage, err, timeout_ms);
}

/* smtpc_printf - queue a command; -1 (EOVERFLOW) when it does not fit */
int smtpc_printf(struct smtp_client *c, const char *fmt, ...)
{
	size_t room = sizeof c->out - c->out_len;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(c->out + c->out_len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room) {
		errno = EOVERFLOW;
		return -1;
	}
	c->out_len += (size_t)n;
	return 0;
}

/* read_reply - the next complete reply within timeout_ms; 0, or -1 with
 * errno (0 when the server closed the connection) */
static int read_reply(struct smtp_client *c, int timeout_ms,
                      struct smtp_reply *r)
{
	long long deadline = monotonic_ms() + timeout_ms;

	for (;;) {
		ssize_t n;

		if (c->in_pos < c->in_len) {
			size_t used;
			int done = smtp_reply_feed(&c->parser, c->in + c->in_pos,
			                           c->in_len - c->in_pos, &used, r);

			c->in_pos += used;
			if (done)
				return 0;
		}
		c->in_pos = c->in_len = 0;
		n = stream_read_deadline(&c->io, c->in, sizeof c->in, deadline);
		if (n > 0) {
			c->in_len = (size_t)n;
			continue;
		}
		if (n == 0)
			errno = 0;
		return -1;
	}
}

/* smtpc_get_reply - read the reply to the command of stage into res;
 * returns its code, or -1 when none came or it was malformed (closed) */
int smtpc_get_reply(struct smtp_client *c, enum smtp_stage stage,
                     int timeout_ms, struct smtp_result *res)
{
	if (!smtp_client_connected(c))
		return smtpc_not_connected(res, stage);
	if (read_reply(c, timeout_ms, &res->reply) < 0)
		return net_fail(c, res, stage, errno, timeout_ms);
	if (res->reply.error != SMTP_REPLY_OK) {
		res->stage = stage;
		res->st = status_make(ST_TEMP, 5, 0, "%s: %s: %s: %d %s",
		                      c->peer, smtp_stage_name(stage),
		                      smtp_reply_error_text(res->reply.error),
		                      res->reply.code, res->reply.text);
		smtp_client_close(c);
		errno = EPROTO;
		return -1;
	}
	smtp_result_from_reply(res, stage, &res->reply);
	if (res->reply.code == 421)      /* the server is closing */
		smtp_client_close(c);
	return res->reply.code;
}

/* smtp_resolve - host's addresses for port */
int smtp_resolve(const char *host, const char *port, struct addrinfo **ai,
                 struct status *why)
{
	struct addrinfo hints;
	char h[256];
	size_t n = strlen(host);
	int rc;

	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		host++;
		n -= 2;
	}
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
	smtpc_reply_clear(&res->reply);
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

/* smtp_client_greeting - read the greeting */
int smtp_client_greeting(struct smtp_client *c, struct smtp_result *res)
{
	struct smtp_result q;
	int code;

	code = smtpc_get_reply(c, SMTP_STAGE_GREETING, c->to.greeting, res);
	if (code < 0)
		return -1;
	if (code / 100 == 2)
		return 0;
	if (res->st.kind == ST_OK)       /* a 3xx greeting: nonsense */
		res->st = status_make(ST_TEMP, 5, 0, "%d %s", code,
		                      res->reply.text);
	if (smtp_client_connected(c))
		smtp_client_quit(c, &q);
	errno = ECONNREFUSED;
	return -1;
}

/* smtp_ehlo_parse - the extensions an EHLO reply offers */
void smtp_ehlo_parse(const struct smtp_reply *r, unsigned *ext,
                     unsigned long long *size_max)
{
	char line[SMTP_REPLY_LINE_MAX];
	unsigned i;

	*ext = 0;
	*size_max = 0;
	for (i = 1; i < r->lines; i++) {
		if (smtp_reply_line(r, i, line, sizeof line) < 0)
			break;
		if (strcasecmp(line, "PIPELINING") == 0)
			*ext |= SMTP_EXT_PIPELINING;
		else if (strcasecmp(line, "8BITMIME") == 0)
			*ext |= SMTP_EXT_8BITMIME;
		else if (strcasecmp(line, "ENHANCEDSTATUSCODES") == 0)
			*ext |= SMTP_EXT_ENHANCED;
		else if (strcasecmp(line, "SMTPUTF8") == 0)
			*ext |= SMTP_EXT_SMTPUTF8;
		else if (strncasecmp(line, "SIZE", 4) == 0 &&
		         (line[4] == '\0' || line[4] == ' ')) {
			*ext |= SMTP_EXT_SIZE;
			if (line[4] == ' ')
				*size_max = strtoull(line + 5, NULL, 10);
		}
	}
}

/* smtp_text_ok - may s go into a command line?  printable ASCII, no
 * angle brackets, at most max octets */
int smtp_text_ok(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7e ||
		    s[n] == '<' || s[n] == '>' || n >= max)
			return 0;
	return 1;
}

/* smtp_helo_ok - a name fit for EHLO/HELO */
int smtp_helo_ok(const char *name)
{
	return name[0] != '\0' && strchr(name, ' ') == NULL &&
	       smtp_text_ok(name, 255);
}

/* smtp_client_hello - EHLO, falling back to HELO */
int smtp_client_hello(struct smtp_client *c, const char *name,
                      struct smtp_result *res)
{
	int code;

	if (!smtp_client_connected(c))
		return smtpc_not_connected(res, SMTP_STAGE_HELLO);
	if (!smtp_helo_ok(name)) {
		smtpc_local_result(res, SMTP_STAGE_HELLO, ST_PERM, 5, 2,
		             "bad EHLO name");
		errno = EINVAL;
		return -1;
	}
	if (smtpc_printf(c, "EHLO %s\r\n", name) < 0 ||
	    smtpc_flush(c, SMTP_STAGE_HELLO, c->to.hello, res) < 0)
		return -1;
	code = smtpc_get_reply(c, SMTP_STAGE_HELLO, c->to.hello, res);
	if (code < 0)
		return -1;
	if (code / 100 == 2) {
		c->esmtp = 1;
		smtp_ehlo_parse(&res->reply, &c->ext, &c->size_max);
		return 0;
	}
	if (code / 100 == 5) {
		if (smtpc_printf(c, "HELO %s\r\n", name) < 0 ||
		    smtpc_flush(c, SMTP_STAGE_HELLO, c->to.hello, res) < 0)
			return -1;
		code = smtpc_get_reply(c, SMTP_STAGE_HELLO, c->to.hello, res);
		if (code < 0)
			return -1;
		if (code / 100 == 2) {
			c->esmtp = 0;
			c->ext = 0;
			return 0;
		}
	}
	if (res->st.kind == ST_OK)
		res->st.kind = ST_TEMP;
	errno = ECONNREFUSED;
	return -1;
}

/* smtp_client_open - connect, greeting and hello in one */
int smtp_client_open(struct smtp_client *c, const char *host,
                     const char *port, const char *helo,
                     struct smtp_result *res)
{
	struct smtp_result q;

	if (smtp_client_connect(c, host, port, res) < 0 ||
	    smtp_client_greeting(c, res) < 0)
		return -1;
	if (smtp_client_hello(c, helo, res) < 0) {
		if (smtp_client_connected(c))
			smtp_client_quit(c, &q);
		return -1;
	}
	return 0;
}

/* command - a command without arguments (RSET, QUIT) and its reply code;
 * -1 when it could not be sent or no reply came */
static int command(struct smtp_client *c, const char *verb, enum smtp_stage stage,
                   struct smtp_result *res)
{
	if (!smtp_client_connected(c))
		return smtpc_not_connected(res, stage);
	if (smtpc_printf(c, "%s\r\n", verb) < 0 ||
	    smtpc_flush(c, stage, c->to.other, res) < 0)
		return -1;
	return smtpc_get_reply(c, stage, c->to.other, res);
}

/* smtp_client_rset - RSET now */
int smtp_client_rset(struct smtp_client *c, struct smtp_result *res)
{
	int code = command(c, "RSET", SMTP_STAGE_RSET, res);

	if (code / 100 == 2) {
		c->need_rset = 0;
		return 0;
	}
	if (code >= 0)
		errno = EPROTO;
	return -1;
}

/* smtp_client_quit - QUIT, then close */
int smtp_client_quit(struct smtp_client *c, struct smtp_result *res)
{
	int code = command(c, "QUIT", SMTP_STAGE_QUIT, res);

	smtp_client_close(c);
	return code == 221 ? 0 : -1;
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
