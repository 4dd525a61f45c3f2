/* session.c - the SMTP server dialogue's engine; see session.h and
 * session_priv.h
 *
 * Input is consumed byte-exactly: in command mode bytes collect into one
 * line of at most cfg->max_line octets (more is discarded up to the LF and
 * answered 500), which the command table (session_cmd.c) runs; in DATA
 * mode they go to the DATA automaton (session_data.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_priv.h"

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

/* close_421 - the server ends the session: any open message dropped,
 * 421 "status hostname text" */
static void close_421(struct session *s, const char *status, const char *text)
{
	if (s->done)
		return;
	session_abort(s);
	sess_reply(s, 421, "%s %s %s", status, s->cfg->hostname, text);
	s->done = 1;
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

/* session_local_user - a local submission, not a network client */
void session_local_user(struct session *s, unsigned long uid)
{
	s->local = 1;
	s->uid = uid;
}

/* session_timeout - idle too long */
void session_timeout(struct session *s)
{
	close_421(s, "4.4.2", "Timeout, closing connection");
}

/* session_shutdown - the server is stopping */
void session_shutdown(struct session *s)
{
	close_421(s, "4.3.2", "Service shutting down");
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
/* session_login - the authenticated login */
const char *session_login(const struct session *s)
{
	return s->authenticated ? s->login : NULL;
}

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
	if (s->auth != A_NONE) {
		/* an answer to 334, not a command; bad octets are undecodable */
		int too_long = s->line_too_long;

		s->line_too_long = 0;
		if (n > 0 && s->line[n - 1] == '\r')
			n--;
		if (too_long || memchr(s->line, '\0', n) != NULL ||
		    memchr(s->line, '\r', n) != NULL)
			n = 0;
		s->line[n] = '\0';
		sess_auth_line(s, s->line, too_long);
		explicit_bzero(s->line, n);
		return;
	}
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
	 * HELO name, not an authentication, not a transaction (STARTTLS is
	 * refused inside one, so there is none), not part of a line
	 * (STARTTLS ended the last). */
	sess_tx_reset(s);
	s->authenticated = 0;
	s->login[0] = '\0';
	s->auth = A_NONE;
	s->helo[0] = '\0';
	s->esmtp = 0;
	s->line_len = 0;
	s->line_too_long = 0;
}
