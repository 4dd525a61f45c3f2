/* session.c - the SMTP server dialogue's engine; see session.h and
 * session_priv.h
 *
 * Input is consumed byte-exactly: in command mode bytes collect into one
 * line of at most cfg->max_line octets (more is discarded up to the LF and
 * answered 500), which the command table (session_cmd.c) runs; in DATA
 * mode they go to the DATA automaton (session_data.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_priv.h"

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

/* sess_reply - queue a reply's last (or only) line "CODE X.Y.Z text" */
void sess_reply(struct session *s, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_line(s, code, ' ', fmt, ap);
	va_end(ap);
}

/* sess_reply_more - queue a line of a multi-line reply, not the last */
void sess_reply_more(struct session *s, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	reply_line(s, code, '-', fmt, ap);
	va_end(ap);
}

/* sess_reply_status - queue the reply for a failed status; perm_code and
 * temp_code are this command's usual codes for each kind */
void sess_reply_status(struct session *s, const struct status *st,
                       int perm_code, int temp_code)
{
	int cls = st->kind == ST_PERM ? 5 : 4;

	sess_reply(s, st->kind == ST_PERM ? perm_code : temp_code, "%d.%u.%u %s",
	           cls, st->subject, st->detail, st->text);
}

/* sess_temp_code - the 4xx for a temporary failure: 452 "insufficient
 * system storage" only when storage ran out (X.3.1), 451 "local error in
 * processing" for the other mail-system errors (X.3.x), else usual */
int sess_temp_code(const struct status *st, int usual)
{
	if (st->subject == 3)
		return st->detail == 1 ? 452 : 451;
	return usual;
}

/* sess_error - a refused command (its reply already queued): too many
 * end the session; past soft_errors each one slows the client down */
void sess_error(struct session *s)
{
	unsigned long long ms;
	unsigned k;

	if (s->cfg->max_errors == 0 || s->done)
		return;
	if (++s->errors >= s->cfg->max_errors) {
		sess_reply(s, 421, "4.7.0 %s Too many errors, closing connection",
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

/* sess_junk - a command that moves no mail (NOOP, RSET, VRFY, HELP;
 * reply queued): past max_junk since the last message each is an error */
void sess_junk(struct session *s)
{
	if (s->cfg->max_junk && ++s->junk > s->cfg->max_junk)
		sess_error(s);
}

/* sess_tx_reset - forget the transaction (RSET, HELO, after DATA) */
void sess_tx_reset(struct session *s)
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
	s->tls = cfg->tls_implicit;
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
	sess_tx_reset(s);
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
	sess_reply(s, 220, "%s ESMTP mta", s->cfg->hostname);
}

/* session_tls_info - the TLS in use, for Received: */
void session_tls_info(struct session *s, const struct tls_info *info)
{
	s->tls_info = *info;
}

/* session_timeout - idle too long */
void session_timeout(struct session *s)
{
	if (s->done)
		return;
	session_abort(s);
	sess_reply(s, 421, "4.4.2 %s Timeout, closing connection", s->cfg->hostname);
	s->done = 1;
}

/* session_shutdown - the server is stopping */
void session_shutdown(struct session *s)
{
	if (s->done)
		return;
	session_abort(s);
	sess_reply(s, 421, "4.3.2 %s Service shutting down", s->cfg->hostname);
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

/* dispatch - run one complete command line (no CRLF, NUL-free): the
 * table's flags, then the command's check step, then its proceed step */
static void dispatch(struct session *s, char *line)
{
	const struct session_cmd *c;
	struct cmd_args a;
	const char *arg;
	char verb[12];
	size_t n, i;
	int code;

	for (n = 0; line[n] && line[n] != ' '; n++)
		;
	arg = line + n;
	if (*arg == ' ')
		arg++;
	/* Trailing spaces are tolerated everywhere. */
	for (i = strlen(line); i > n && line[i - 1] == ' '; i--)
		line[i - 1] = '\0';
	c = NULL;
	if (n > 0 && n < sizeof verb) {
		memcpy(verb, line, n);
		verb[n] = '\0';
		c = sess_cmd_find(verb);
	}
	if (c == NULL) {
		sess_reply(s, 500, "5.5.2 Command unrecognized");
		sess_error(s);
		return;
	}
	if (s->cfg->tls_required && !s->tls && !(c->flags & CMD_PRE_TLS)) {
		sess_reply(s, 530, "5.7.0 Must issue a STARTTLS command first");
		sess_error(s);
		return;
	}
	if (s->cfg->auth_required && !s->authenticated && (c->flags & CMD_AUTH)) {
		sess_reply(s, 530, "5.7.0 Authentication required");
		sess_error(s);
		return;
	}
	a.verb = c->verb;
	a.text[0] = '\0';
	a.not_error = 0;
	code = c->check ? c->check(s, arg, &a) : 0;
	if (code != 0) {
		sess_reply(s, code, "%s", a.text);
		if (!a.not_error)
			sess_error(s);
		return;
	}
	c->proceed(s, &a);
	if (c->flags & CMD_JUNK)
		sess_junk(s);
}

/* line_complete - a command line ended (at LF) */
static void line_complete(struct session *s)
{
	size_t n = s->line_len;

	s->line_len = 0;
	if (s->line_too_long) {
		s->line_too_long = 0;
		sess_reply(s, 500, "5.5.2 Line too long (limit %zu octets)",
		           s->cfg->max_line);
		sess_error(s);
		return;
	}
	s->line_crlf = n > 0 && s->line[n - 1] == '\r';
	if (s->line_crlf)
		n--;
	if (memchr(s->line, '\0', n) != NULL || memchr(s->line, '\r', n) != NULL) {
		sess_reply(s, 500, "5.5.2 Syntax error: control characters in command");
		sess_error(s);
		return;
	}
	s->line[n] = '\0';
	dispatch(s, s->line);
}

/* session_feed - process client bytes, up to what the caller must act on */
enum session_action session_feed(struct session *s, const char *p, size_t n,
                                 size_t *used)
{
	size_t i = 0;

	while (i < n && !s->done && !s->tls_pending) {
		if (s->in_data) {
			i += sess_data_feed(s, p + i, n - i);
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
	*used = i;
	if (s->done)
		return SESSION_CLOSE;
	return s->tls_pending ? SESSION_START_TLS : SESSION_CONTINUE;
}

/* session_tls_started - TLS is up: back to just after the greeting */
void session_tls_started(struct session *s)
{
	if (!s->tls_pending || s->done)
		return;
	s->tls_pending = 0;
	s->tls = 1;
	/* Nothing learnt in the clear survives (RFC 3207 4.2): not the
	 * HELO name, not a transaction (STARTTLS is refused inside one, so
	 * there is none), not part of a line (STARTTLS ended the last). */
	sess_tx_reset(s);
	s->helo[0] = '\0';
	s->esmtp = 0;
	s->line_len = 0;
	s->line_too_long = 0;
}
