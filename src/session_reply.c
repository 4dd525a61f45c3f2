/* session_reply.c - what every part of the SMTP server session does to
 * it: queue reply lines, count refused and junk commands (the count that
 * slows and then ends a session), forget the transaction; see
 * session_priv.h
 *
 * The session's other files all call these, and none of these calls
 * back: the engine (session.c) runs the commands (session_cmd.c), which
 * start DATA (session_data.c), and all three rest on this file.
 */
#include <stdarg.h>
#include <stdio.h>

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
