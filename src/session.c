/* session.c - the SMTP server dialogue as a state machine; see session.h
 *
 * Input is consumed byte-exactly: in command mode bytes collect into one
 * line of at most cfg->max_line octets (more is discarded up to the LF and
 * answered 500); in DATA mode a small automaton finds line ends, removes
 * dot-stuffing and recognises the end of the message, which is CRLF "."
 * CRLF and nothing else (a line ended by a bare LF is a line, but it can
 * never be followed by the end marker: no SMTP smuggling).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <stralloc.h>

#include "header.h"
#include "session.h"

/* DATA automaton states; "bol" = at the beginning of a line */
enum data_state { D_BOL, D_DOT, D_DOT_CR, D_MID, D_CR };

struct session {
	const struct session_config *cfg;
	const struct session_ops *ops;
	void *ctx;
	time_t (*now)(void);
	stralloc out;               /* replies not yet sent */

	char client_ip[ENVELOPE_CLIENT_MAX];
	char helo[ENVELOPE_HELO_MAX]; /* "" until HELO/EHLO */
	int esmtp;
	int done;
	unsigned errors;
	unsigned junk;              /* junk commands since the last message */
	unsigned long long pause;   /* ms to wait before the output goes out */

	/* command mode */
	char *line;                 /* cfg->max_line octets */
	size_t line_len;
	int line_too_long;
	int line_crlf;              /* the last command line ended with CRLF */

	/* the transaction: valid from MAIL to its end */
	int in_mail;
	struct envelope env;
	unsigned over_rcpt;         /* RCPT refused 452 for being over max_rcpt */

	/* DATA mode */
	int in_data;
	enum data_state dstate;
	int crlf_before;            /* the previous line ended with CRLF */
	int oversize;
	unsigned long long size;
	struct header hdr;
	struct header_info hinfo;
};

/* reply_line - queue one reply line "CODE" sep "text" CRLF, cut to the
 * 512 octets of RFC 5321 4.5.3.1.5; sep is '-' for all but a reply's last */
static void reply_line(struct session *s, int code, char sep, const char *fmt,
                       va_list ap)
	__attribute__((format(printf, 4, 0)));
static void reply_line(struct session *s, int code, char sep, const char *fmt,
                       va_list ap)
{
	char buf[512];
	int n, m, i;

	n = snprintf(buf, sizeof buf, "%03d%c", code, sep);
	m = vsnprintf(buf + n, sizeof buf - (size_t)n - 2, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof buf - 3)
		n = sizeof buf - 3;
	/* Text is HT and printable ASCII (RFC 5321 4.2): octets a client sent
	 * and a reply quotes (a MAIL parameter) never reach it raw. */
	for (i = 4; i < n; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c != '\t' && (c < 32 || c > 126))
			buf[i] = '?';
	}
	buf[n++] = '\r';
	buf[n++] = '\n';
	/* Out of memory: the reply is lost and the client times out; the
	 * session cannot do better and must not crash. */
	(void)stralloc_catb(&s->out, buf, (size_t)n);
}

/* reply - queue a reply's last (or only) line "CODE X.Y.Z text" */
static void reply(struct session *s, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void reply(struct session *s, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_line(s, code, ' ', fmt, ap);
	va_end(ap);
}

/* reply_more - queue a line of a multi-line reply, not the last */
static void reply_more(struct session *s, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void reply_more(struct session *s, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_line(s, code, '-', fmt, ap);
	va_end(ap);
}

/* reply_status - queue the reply for a failed status; perm_code and
 * temp_code are this command's usual codes for each kind */
static void reply_status(struct session *s, const struct status *st,
                         int perm_code, int temp_code)
{
	int cls = st->kind == ST_PERM ? 5 : 4;

	reply(s, st->kind == ST_PERM ? perm_code : temp_code, "%d.%u.%u %s",
	      cls, st->subject, st->detail, st->text);
}

/* temp_code - the 4xx for a temporary failure: 452 "insufficient system
 * storage" only when storage ran out (X.3.1), 451 "local error in
 * processing" for the other mail-system errors (X.3.x), else usual */
static int temp_code(const struct status *st, int usual)
{
	if (st->subject == 3)
		return st->detail == 1 ? 452 : 451;
	return usual;
}

/* count_error - a refused command (its reply already queued): too many
 * end the session; past soft_errors each one slows the client down */
static void count_error(struct session *s)
{
	unsigned long long ms;
	unsigned k;

	if (s->cfg->max_errors == 0 || s->done)
		return;
	if (++s->errors >= s->cfg->max_errors) {
		reply(s, 421, "4.7.0 %s Too many errors, closing connection",
		      s->cfg->hostname);
		s->done = 1;
		return;
	}
	if (s->errors <= s->cfg->soft_errors)
		return;
	/* A pause that doubles with each error makes probing (which
	 * recipients exist? may I relay?) cost time; the caller waits it out,
	 * only this client's thread sleeps. */
	k = s->errors - s->cfg->soft_errors - 1;
	ms = k < 20 ? (unsigned long long)s->cfg->error_delay << k : SESSION_PAUSE_MAX;
	s->pause += ms < SESSION_PAUSE_MAX ? ms : SESSION_PAUSE_MAX;
}

/* count_junk - a command that moves no mail (NOOP, RSET, VRFY, HELP;
 * reply queued): past max_junk since the last message each is an error */
static void count_junk(struct session *s)
{
	if (s->cfg->max_junk && ++s->junk > s->cfg->max_junk)
		count_error(s);
}

/* tx_reset - forget the transaction (RSET, HELO, after DATA) */
static void tx_reset(struct session *s)
{
	envelope_free(&s->env);
	s->in_mail = 0;
	s->over_rcpt = 0;
}

/* session_new - a session for one connection */
struct session *session_new(const struct session_config *cfg,
                            const struct session_ops *ops, void *ctx,
                            const char *client_ip, time_t (*now)(void))
{
	struct session *s = calloc(1, sizeof *s);

	if (s == NULL)
		return NULL;
	s->line = malloc(cfg->max_line);
	if (s->line == NULL) {
		free(s);
		return NULL;
	}
	s->cfg = cfg;
	s->ops = ops;
	s->ctx = ctx;
	s->now = now;
	stralloc_init(&s->out);
	snprintf(s->client_ip, sizeof s->client_ip, "%s", client_ip);
	envelope_init(&s->env);
	return s;
}

/* session_abort - the connection is gone: drop any open message */
void session_abort(struct session *s)
{
	if (s->in_data) {
		s->ops->tx_abort(s->ctx);
		s->in_data = 0;
	}
	tx_reset(s);
}

/* session_free - release everything */
void session_free(struct session *s)
{
	if (s == NULL)
		return;
	session_abort(s);
	stralloc_free(&s->out);
	free(s->line);
	free(s);
}

/* session_greet - the 220 greeting */
void session_greet(struct session *s)
{
	reply(s, 220, "%s ESMTP mta", s->cfg->hostname);
}

/* session_timeout - idle too long */
void session_timeout(struct session *s)
{
	if (s->done)
		return;
	session_abort(s);
	reply(s, 421, "4.4.2 %s Timeout, closing connection", s->cfg->hostname);
	s->done = 1;
}

/* session_shutdown - the server is stopping */
void session_shutdown(struct session *s)
{
	if (s->done)
		return;
	session_abort(s);
	reply(s, 421, "4.3.2 %s Service shutting down", s->cfg->hostname);
	s->done = 1;
}

/* session_output - replies waiting to be sent */
const char *session_output(const struct session *s, size_t *len)
{
	*len = s->out.len;
	return s->out.s;
}

/* session_output_done - drop the first n bytes of output */
void session_output_done(struct session *s, size_t n)
{
	if (n >= s->out.len) {
		s->out.len = 0;
		return;
	}
	memmove(s->out.s, s->out.s + n, s->out.len - n);
	s->out.len -= n;
}

/* session_done - wants the connection closed */
int session_done(const struct session *s) { return s->done; }
/* session_in_data - receiving a message */
int session_in_data(const struct session *s) { return s->in_data; }

/* session_pause - take the pause owed before the output goes out */
unsigned long long session_pause(struct session *s)
{
	unsigned long long ms = s->pause;

	s->pause = 0;
	return ms;
}

/* ---- DATA ---- */

/* data_put - pass a piece of the message on, minding the size limit */
static void data_put(struct session *s, const char *p, size_t n, int eol)
{
	if (s->oversize)
		return;
	s->size += n + (eol ? 1 : 0);
	if (s->size > s->cfg->max_size) {
		s->oversize = 1;
		return;
	}
	header_feed(&s->hdr, p, n, eol);
}

/* hdr_out - the header module's output goes to the queue */
static void hdr_out(void *ctx, const char *p, size_t n)
{
	struct session *s = ctx;

	s->ops->tx_write(s->ctx, p, n);
}

/* data_begin - DATA accepted: open the message and start the header */
static void data_begin(struct session *s)
{
	struct status st;

	s->env.arrival = s->now();
	snprintf(s->env.helo, sizeof s->env.helo, "%s", s->helo);
	snprintf(s->env.client, sizeof s->env.client, "%s", s->client_ip);
	st = s->ops->tx_open(s->ctx, &s->env);
	if (st.kind != ST_OK) {
		reply_status(s, &st, 554, temp_code(&st, 451));
		return;
	}
	s->hinfo.hostname = s->cfg->hostname;
	s->hinfo.helo = s->helo;
	s->hinfo.client_ip = s->client_ip;
	s->hinfo.id = s->env.id;
	s->hinfo.sender = s->env.sender.text;
	s->hinfo.rcpt = s->env.nrcpt == 1 ? s->env.rcpt[0].text : NULL;
	s->hinfo.esmtp = s->esmtp;
	s->hinfo.arrival = s->env.arrival;
	s->hinfo.max_received = s->cfg->max_received;
	header_begin(&s->hdr, &s->hinfo, hdr_out, s);
	s->in_data = 1;
	s->dstate = D_BOL;
	/* "DATA" CRLF counts: an immediate "." CRLF ends the message.  After
	 * "DATA" and a bare LF it does not, as after any bare LF. */
	s->crlf_before = s->line_crlf;
	s->oversize = 0;
	s->size = 0;
	reply(s, 354, "End data with <CR><LF>.<CR><LF>");
}

/* data_end - the end marker arrived: accept or refuse the message */
static void data_end(struct session *s)
{
	enum header_result hr;
	struct status st;

	s->in_data = 0;
	if (s->oversize) {
		s->ops->tx_abort(s->ctx);
		reply(s, 552, "5.3.4 Message too big (limit %llu octets)",
		      s->cfg->max_size);
		count_error(s);
		goto out;
	}
	hr = header_end(&s->hdr);
	if (hr != HEADER_OK) {
		s->ops->tx_abort(s->ctx);
		if (hr == HEADER_LOOP)
			reply(s, 554, "5.4.6 Too many Received: fields, mail loop");
		else
			reply(s, 554, "5.6.0 No From: field and null sender");
		count_error(s);
		goto out;
	}
	st = s->ops->tx_commit(s->ctx);
	if (st.kind == ST_OK) {
		reply(s, 250, "2.0.0 Ok: queued as %s", s->env.id);
		s->junk = 0;         /* a client that sends mail is no idler */
	} else
		reply_status(s, &st, 554, temp_code(&st, 451));
out:
	tx_reset(s);
}

/* data_feed - run the DATA automaton over p[0..n); returns bytes used
 * (less than n only when the end marker was found) */
static size_t data_feed(struct session *s, const char *p, size_t n)
{
	size_t i = 0, run;

	while (i < n) {
		char c = p[i];

		switch (s->dstate) {
		case D_BOL:
			if (c == '.') {
				s->dstate = D_DOT;
				i++;
				continue;
			}
			s->dstate = D_MID;
			__attribute__((fallthrough));  /* an ordinary line */
		case D_MID:
			/* the hot path: copy a run of ordinary bytes at once */
			for (run = i; run < n && p[run] != '\r' && p[run] != '\n'; run++)
				;
			if (run > i)
				data_put(s, p + i, run - i, 0);
			i = run;
			if (i == n)
				break;
			if (p[i] == '\n') {
				/* "" not NULL: header_feed computes p + i even for n 0,
				 * and NULL + 0 is undefined in C */
				data_put(s, "", 0, 1);      /* bare LF ends a line */
				s->crlf_before = 0;
				s->dstate = D_BOL;
			} else {
				s->dstate = D_CR;
			}
			i++;
			break;
		case D_CR:
			if (c == '\n') {
				data_put(s, "", 0, 1);
				s->crlf_before = 1;
				s->dstate = D_BOL;
			} else if (c == '\r') {
				data_put(s, "\r", 1, 0);   /* the earlier CR was bare */
			} else {
				data_put(s, "\r", 1, 0);
				data_put(s, &c, 1, 0);
				s->dstate = D_MID;
			}
			i++;
			break;
		case D_DOT:
			if (c == '\r') {
				s->dstate = D_DOT_CR;
			} else if (c == '\n') {
				/* "." ended by a bare LF: a line holding one dot */
				data_put(s, ".", 1, 1);
				s->crlf_before = 0;
				s->dstate = D_BOL;
			} else {
				/* a stuffed dot: drop it, keep the rest */
				data_put(s, &c, 1, 0);
				s->dstate = D_MID;
			}
			i++;
			break;
		case D_DOT_CR:
			i++;
			if (c == '\n') {
				if (s->crlf_before) {
					data_end(s);
					return i;
				}
				/* "." CRLF after a bare LF: a line, not the end */
				data_put(s, ".", 1, 1);
				s->crlf_before = 1;
				s->dstate = D_BOL;
			} else if (c == '\r') {
				/* ".\r\r": the dot was stuffing, the first CR is bare */
				data_put(s, "\r", 1, 0);
				s->dstate = D_CR;
			} else {
				data_put(s, "\r", 1, 0);
				data_put(s, &c, 1, 0);
				s->dstate = D_MID;
			}
			break;
		}
	}
	return i;
}

/* ---- commands ---- */

/* skip_spaces - past any SP in a command argument */
static const char *skip_spaces(const char *p)
{
	while (*p == ' ')
		p++;
	return p;
}

/* helo_valid - is arg an acceptable HELO/EHLO argument?  A domain, an
 * address literal, or (tolerated, as many clients send it) a name with
 * underscores; never anything that could break the Received: field. */
static int helo_valid(const char *arg)
{
	size_t n = strlen(arg), i;

	if (n == 0 || n >= ENVELOPE_HELO_MAX)
		return 0;
	if (arg[0] == '[')
		return addr_literal_valid(arg, n);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)arg[i];

		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    !(c >= '0' && c <= '9') && c != '-' && c != '.' && c != '_')
			return 0;
	}
	return 1;
}

/* cmd_helo - HELO and EHLO: (re)start the session */
static void cmd_helo(struct session *s, const char *arg, int esmtp)
{
	const char *end;
	char name[ENVELOPE_HELO_MAX];
	size_t n;

	arg = skip_spaces(arg);
	for (end = arg; *end && *end != ' '; end++)
		;
	n = (size_t)(end - arg);
	if (n == 0 || n >= sizeof name || *skip_spaces(end) != '\0') {
		reply(s, 501, "5.5.4 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
		count_error(s);
		return;
	}
	memcpy(name, arg, n);
	name[n] = '\0';
	if (!helo_valid(name)) {
		reply(s, 501, "5.5.2 Invalid domain name in %s", esmtp ? "EHLO" : "HELO");
		count_error(s);
		return;
	}
	/* A second HELO/EHLO is allowed: it ends any transaction (RFC 5321
	 * 4.1.4) and replaces the name. */
	tx_reset(s);
	memcpy(s->helo, name, n + 1);
	s->esmtp = esmtp;
	if (!esmtp) {
		reply(s, 250, "%s", s->cfg->hostname);
		return;
	}
	/* Line by line: a long hostname and HELO name cut the first line
	 * (within 512 octets) instead of losing the whole reply. */
	reply_more(s, 250, "%s Hello %s [%s]", s->cfg->hostname, name, s->client_ip);
	reply_more(s, 250, "PIPELINING");
	reply_more(s, 250, "SIZE %llu", s->cfg->max_size);
	reply_more(s, 250, "8BITMIME");
	reply_more(s, 250, "ENHANCEDSTATUSCODES");
	reply(s, 250, "HELP");
}

/* path_arg - after "FROM:" / "TO:": check the keyword, return the path */
static const char *path_arg(const char *arg, const char *keyword)
{
	size_t k = strlen(keyword);

	if (strncasecmp(arg, keyword, k) != 0)
		return NULL;
	return skip_spaces(arg + k);
}

/* parse_mail_params - the ESMTP parameters of MAIL; 0 ok, else replied */
static int parse_mail_params(struct session *s, const char *p)
{
	while (*(p = skip_spaces(p))) {
		const char *end = p;
		char word[64];
		size_t n;

		while (*end && *end != ' ')
			end++;
		n = (size_t)(end - p);
		if (n >= sizeof word)
			goto bad;
		memcpy(word, p, n);
		word[n] = '\0';
		if (strncasecmp(word, "SIZE=", 5) == 0) {
			char *stop;
			unsigned long long v;

			if (word[5] < '0' || word[5] > '9')
				goto bad;
			errno = 0;
			v = strtoull(word + 5, &stop, 10);
			if (*stop)
				goto bad;
			/* Digits past 2^64-1 (RFC 1870 allows 20 of them) are a
			 * size, just a large one. */
			if (errno == ERANGE || v > s->cfg->max_size) {
				reply(s, 552, "5.3.4 Message too big (limit %llu octets)",
				      s->cfg->max_size);
				count_error(s);
				return -1;
			}
		} else if (strcasecmp(word, "BODY=7BIT") == 0 ||
		           strcasecmp(word, "BODY=8BITMIME") == 0) {
			s->env.body_8bit = word[5] == '8';   /* kept in the queue */
		} else {
			reply(s, 555, "5.5.4 Unsupported parameter %.40s", word);
			count_error(s);
			return -1;
		}
		p = end;
	}
	return 0;
bad:
	reply(s, 501, "5.5.4 Bad MAIL parameter syntax");
	count_error(s);
	return -1;
}

/* cmd_mail - MAIL FROM:<path> [SIZE=n] [BODY=...] */
static void cmd_mail(struct session *s, const char *arg)
{
	struct mailbox mb;
	enum addr_error e;
	const char *p;
	size_t used;

	if (!s->helo[0]) {
		reply(s, 503, "5.5.1 Send HELO or EHLO first");
		count_error(s);
		return;
	}
	if (s->in_mail) {
		reply(s, 503, "5.5.1 Nested MAIL command");
		count_error(s);
		return;
	}
	p = path_arg(arg, "FROM:");
	if (p == NULL) {
		reply(s, 501, "5.5.4 Syntax: MAIL FROM:<address>");
		count_error(s);
		return;
	}
	e = addr_parse_path(p, strlen(p), &mb, &used, 1, 0);
	if (e != ADDR_OK) {
		reply(s, 501, "5.1.7 Bad sender address: %s", addr_error_text(e));
		count_error(s);
		return;
	}
	if (p[used] != '\0' && p[used] != ' ') {
		reply(s, 501, "5.1.7 Bad sender address syntax");
		count_error(s);
		return;
	}
	if (!s->esmtp && *skip_spaces(p + used) != '\0') {
		reply(s, 501, "5.5.4 MAIL parameters need EHLO");
		count_error(s);
		return;
	}
	s->env.body_8bit = 0;
	if (s->esmtp && parse_mail_params(s, p + used) != 0)
		return;
	s->env.sender = mb;
	s->in_mail = 1;
	reply(s, 250, "2.1.0 Ok");
}

/* cmd_rcpt - RCPT TO:<path> */
static void cmd_rcpt(struct session *s, const char *arg)
{
	struct mailbox mb;
	struct status st;
	enum addr_error e;
	const char *p;
	size_t used;

	if (!s->in_mail) {
		reply(s, 503, "5.5.1 Need MAIL before RCPT");
		count_error(s);
		return;
	}
	p = path_arg(arg, "TO:");
	if (p == NULL) {
		reply(s, 501, "5.5.4 Syntax: RCPT TO:<address>");
		count_error(s);
		return;
	}
	e = addr_parse_path(p, strlen(p), &mb, &used, 0, 1);
	if (e != ADDR_OK) {
		reply(s, 501, "5.1.3 Bad recipient address: %s", addr_error_text(e));
		count_error(s);
		return;
	}
	/* "<a@b>junk" is a bad address, not a parameter (as in MAIL) */
	if (p[used] != '\0' && p[used] != ' ') {
		reply(s, 501, "5.1.3 Bad recipient address syntax");
		count_error(s);
		return;
	}
	if (*skip_spaces(p + used) != '\0') {
		reply(s, 555, "5.5.4 RCPT parameters not supported");
		count_error(s);
		return;
	}
	if (s->env.nrcpt >= s->cfg->max_rcpt) {
		reply(s, 452, "4.5.3 Too many recipients");
		/* a client that sends its recipients in several transactions,
		 * as it should (RFC 5321 4.5.3.1.10), errs only past as many
		 * again */
		if (++s->over_rcpt > s->cfg->max_rcpt)
			count_error(s);
		return;
	}
	st = s->ops->check_rcpt(s->ctx, &mb);
	if (st.kind != ST_OK) {
		int perm = st.subject == 7 ? 554
		         : (st.subject == 1 && st.detail == 3) ? 553 : 550;

		reply_status(s, &st, perm, temp_code(&st, 450));
		/* Every refused recipient is an error, or probing for mailboxes
		 * (250 or 550?) and for relaying would be free; a temporary
		 * failure is our own state, not the client's fault. */
		if (st.kind == ST_PERM)
			count_error(s);
		return;
	}
	if (envelope_add_rcpt(&s->env, &mb) < 0) {
		reply(s, 452, "4.3.0 Out of memory");
		return;
	}
	reply(s, 250, "2.1.5 Ok");
}

/* cmd_data - DATA */
static void cmd_data(struct session *s, const char *arg)
{
	if (*skip_spaces(arg)) {
		reply(s, 501, "5.5.4 Syntax: DATA");
		count_error(s);
	} else if (!s->in_mail) {
		reply(s, 503, "5.5.1 Need MAIL command");
		count_error(s);
	} else if (s->env.nrcpt == 0) {
		reply(s, 503, "5.5.1 Need RCPT command (no valid recipients)");
		count_error(s);
	} else {
		data_begin(s);
	}
}

/* cmd_rset - RSET */
static void cmd_rset(struct session *s, const char *arg)
{
	if (*skip_spaces(arg)) {
		reply(s, 501, "5.5.4 Syntax: RSET");
		count_error(s);
		return;
	}
	tx_reset(s);
	reply(s, 250, "2.0.0 Ok");
	count_junk(s);
}

/* cmd_vrfy - VRFY: never reveal mailboxes (RFC 5321 3.5.3) */
static void cmd_vrfy(struct session *s, const char *arg)
{
	if (!*skip_spaces(arg)) {
		reply(s, 501, "5.5.4 Syntax: VRFY address");
		count_error(s);
		return;
	}
	reply(s, 252, "2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
	count_junk(s);
}

/* cmd_dispatch - run one complete command line (no CRLF, NUL-free) */
static void cmd_dispatch(struct session *s, char *line)
{
	static const char *const not_impl[] = {
		"EXPN", "TURN", "ETRN", "BDAT", "STARTTLS", "AUTH", "SEND", "SOML",
		"SAML", NULL
	};
	const char *arg;
	char verb[12];
	size_t n, i;

	for (n = 0; line[n] && line[n] != ' '; n++)
		;
	arg = line + n;
	if (n == 0 || n >= sizeof verb) {
		reply(s, 500, "5.5.2 Command unrecognized");
		count_error(s);
		return;
	}
	memcpy(verb, line, n);
	verb[n] = '\0';
	if (*arg == ' ')
		arg++;
	/* Trailing spaces are tolerated everywhere. */
	for (i = strlen(line); i > n && line[i - 1] == ' '; i--)
		line[i - 1] = '\0';

	if (strcasecmp(verb, "EHLO") == 0)      cmd_helo(s, arg, 1);
	else if (strcasecmp(verb, "HELO") == 0) cmd_helo(s, arg, 0);
	else if (strcasecmp(verb, "MAIL") == 0) cmd_mail(s, arg);
	else if (strcasecmp(verb, "RCPT") == 0) cmd_rcpt(s, arg);
	else if (strcasecmp(verb, "DATA") == 0) cmd_data(s, arg);
	else if (strcasecmp(verb, "RSET") == 0) cmd_rset(s, arg);
	else if (strcasecmp(verb, "VRFY") == 0) cmd_vrfy(s, arg);
	else if (strcasecmp(verb, "NOOP") == 0) {
		reply(s, 250, "2.0.0 Ok");
		count_junk(s);
	} else if (strcasecmp(verb, "HELP") == 0) {
		reply(s, 214, "2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP");
		count_junk(s);
	} else if (strcasecmp(verb, "QUIT") == 0) {
		reply(s, 221, "2.0.0 %s Bye", s->cfg->hostname);
		s->done = 1;
	} else {
		for (i = 0; not_impl[i]; i++)
			if (strcasecmp(verb, not_impl[i]) == 0)
				break;
		if (not_impl[i])
			reply(s, 502, "5.5.1 %s not implemented", not_impl[i]);
		else
			reply(s, 500, "5.5.2 Command unrecognized");
		count_error(s);
	}
}

/* line_complete - a command line ended (at LF) */
static void line_complete(struct session *s)
{
	size_t n = s->line_len;

	s->line_len = 0;
	if (s->line_too_long) {
		s->line_too_long = 0;
		reply(s, 500, "5.5.2 Line too long (limit %zu octets)", s->cfg->max_line);
		count_error(s);
		return;
	}
	s->line_crlf = n > 0 && s->line[n - 1] == '\r';
	if (s->line_crlf)
		n--;
	if (memchr(s->line, '\0', n) != NULL || memchr(s->line, '\r', n) != NULL) {
		reply(s, 500, "5.5.2 Syntax error: control characters in command");
		count_error(s);
		return;
	}
	s->line[n] = '\0';
	cmd_dispatch(s, s->line);
}

/* session_feed - process client bytes */
void session_feed(struct session *s, const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && !s->done) {
		if (s->in_data) {
			i += data_feed(s, p + i, n - i);
			continue;
		}
		/* command mode: collect up to LF; max_line counts the CRLF, and
		 * one octet stays free for the terminating NUL */
		const char *lf = memchr(p + i, '\n', n - i);
		size_t take = (lf ? (size_t)(lf - (p + i)) : n - i);

		if (!s->line_too_long) {
			if (s->line_len + take > s->cfg->max_line - 1) {
				s->line_too_long = 1;
			} else {
				memcpy(s->line + s->line_len, p + i, take);
				s->line_len += take;
			}
		}
		i += take;
		if (lf) {
			i++;
			line_complete(s);
		}
	}
}
