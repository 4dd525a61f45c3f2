/* session_auth.c - AUTH (RFC 4954) in the SMTP server session: the
 * PLAIN (RFC 4616) and LOGIN mechanisms, their 334 continuations and
 * the failures that count; see session_priv.h
 *
 * The session decodes and splits the credentials; whether they are good
 * is the caller's (ops->auth_check), so no password file, socket or hash
 * is seen here.  Credentials live only in this file's stack buffers and
 * the session's, and are wiped once checked.
 *
 *   AUTH offered only under TLS (cfg->auth_offered); in the clear 538 5.7.11
 *   AUTH again after success, or inside a transaction: 503 5.5.1
 *   unknown mechanism: 504 5.5.4; undecodable answer: 501 5.5.2
 *   "*" cancels: 501 5.0.0; an answer over cfg->max_line: 500 5.5.6
 *   good: 235 2.7.0; bad: 535 5.7.8 (an error and an auth failure; the
 *   max_auth_failures-th ends the session, 421 4.7.0); the credential
 *   source failing: 454 4.7.0 (the server's condition: no error)
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "session_priv.h"

/* The longest decoded answer: a PLAIN triple of an authzid, a login and
 * a password (the line limit cuts the base64 well before). */
enum { AUTH_DECODED_MAX = 1024 };

/* b64_value - the 6-bit value of a base64 digit, or -1 */
static int b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* b64_decode - strict base64 (RFC 4648 4, padding required) of in into
 * out (NUL-terminated, at most size - 1 octets); the decoded length, or
 * -1 when in is not base64 or too long.  "=" alone is the empty answer
 * (RFC 4954 4). */
static long b64_decode(const char *in, char *out, size_t size)
{
	size_t n = strlen(in), i, o = 0;

	if (n == 0)
		return -1;      /* the empty answer is "=" */
	if (strcmp(in, "=") == 0) {
		out[0] = '\0';
		return 0;
	}
	if (n % 4 != 0 || n / 4 * 3 >= size)
		return -1;
	for (i = 0; i < n; i += 4) {
		int v[4], k, pad = 0;

		for (k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)in[i + k];

			if (c == '=' && i + 4 == n && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			if (pad > 0 || (v[k] = b64_value(c)) < 0)
				return -1;
		}
		out[o++] = (char)(v[0] << 2 | v[1] >> 4);
		if (pad < 2)
			out[o++] = (char)((v[1] & 15) << 4 | v[2] >> 2);
		if (pad < 1)
			out[o++] = (char)((v[2] & 3) << 6 | v[3]);
	}
	out[o] = '\0';
	return (long)o;
}

/* wipe - forget a secret (the compiler may not drop it) */
static void wipe(void *p, size_t n)
{
	explicit_bzero(p, n);
}

/* sess_auth_ehlo - EHLO offers AUTH only where it would be accepted:
 * offered, under TLS, not yet authenticated */
const char *sess_auth_ehlo(const struct session *s)
{
	if (!s->cfg->auth_offered || !s->tls || s->authenticated)
		return NULL;
	return "AUTH PLAIN LOGIN";
}

/* sess_auth_check - AUTH mechanism [initial-response] */
int sess_auth_check(struct session *s, const char *arg, struct cmd_args *a)
{
	const char *sp;
	size_t n;

	if (!s->cfg->auth_offered) {
		snprintf(a->text, sizeof a->text, "5.5.1 AUTH not implemented");
		return 502;
	}
	if (!s->tls) {
		snprintf(a->text, sizeof a->text, "5.7.11 Encryption required for "
		         "requested authentication mechanism");
		return 538;
	}
	if (!s->helo[0]) {
		snprintf(a->text, sizeof a->text, "5.5.1 Send EHLO first");
		return 503;
	}
	if (s->authenticated) {
		snprintf(a->text, sizeof a->text, "5.5.1 Already authenticated");
		return 503;
	}
	if (s->in_mail) {
		snprintf(a->text, sizeof a->text, "5.5.1 MAIL transaction in progress");
		return 503;
	}
	sp = strchr(arg, ' ');
	n = sp ? (size_t)(sp - arg) : strlen(arg);
	if (n == 5 && strncasecmp(arg, "PLAIN", 5) == 0)
		a->mech = 'P';
	else if (n == 5 && strncasecmp(arg, "LOGIN", 5) == 0)
		a->mech = 'L';
	else if (n == 0) {
		snprintf(a->text, sizeof a->text, "5.5.4 Syntax: AUTH mechanism");
		return 501;
	} else {
		snprintf(a->text, sizeof a->text, "5.5.4 Unrecognized authentication "
		         "type (PLAIN and LOGIN are)");
		return 504;
	}
	a->initial = NULL;
	if (sp != NULL) {
		while (*sp == ' ')
			sp++;
		if (*sp)
			a->initial = sp;
	}
	return 0;
}

/* failed - a 535: an error, a pause that grows with each failure, and
 * the end after max_auth_failures of them */
static void failed(struct session *s)
{
	unsigned k = s->auth_failures++;
	unsigned long long ms;

	sess_reply(s, 535, "5.7.8 Authentication credentials invalid");
	ms = k < 16 ? (unsigned long long)s->cfg->auth_delay << k : SESSION_PAUSE_MAX;
	s->pause += ms < SESSION_PAUSE_MAX ? ms : SESSION_PAUSE_MAX;
	if (s->cfg->max_auth_failures &&
	    s->auth_failures >= s->cfg->max_auth_failures) {
		s->pause = s->pause < SESSION_PAUSE_MAX ? s->pause : SESSION_PAUSE_MAX;
		sess_reply(s, 421, "4.7.0 %s Too many authentication failures, "
		           "closing connection", s->cfg->hostname);
		s->done = 1;
		return;
	}
	sess_error(s);
}

/* verify - the credentials to the caller, and the reply */
static void verify(struct session *s, const char *mech, const char *login,
                   const char *password)
{
	struct status st;

	s->auth = A_NONE;
	if (login[0] == '\0' || strlen(login) >= sizeof s->login) {
		failed(s);
		return;
	}
	if (s->ops->auth_check == NULL)
		st = status_make(ST_TEMP, 7, 0, "No credential source");
	else
		st = s->ops->auth_check(s->ctx, mech, login, password);
	if (st.kind == ST_OK) {
		s->authenticated = 1;
		snprintf(s->login, sizeof s->login, "%s", login);
		sess_reply(s, 235, "2.7.0 Authentication successful");
	} else if (st.kind == ST_TEMP) {
		sess_reply(s, 454, "4.7.0 Temporary authentication failure: %s",
		           st.text);
	} else {
		failed(s);
	}
}

/* plain - a PLAIN answer: authzid NUL authcid NUL password; an authzid
 * other than the login itself asks to act for someone else, which no
 * one may */
static void plain(struct session *s, const char *b64)
{
	char d[AUTH_DECODED_MAX];
	long n = b64_decode(b64, d, sizeof d);
	const char *authcid, *pass;

	if (n < 0) {
		s->auth = A_NONE;
		sess_reply(s, 501, "5.5.2 Cannot decode the response");
		sess_error(s);
		return;
	}
	authcid = memchr(d, '\0', (size_t)n);
	pass = authcid ? memchr(authcid + 1, '\0', (size_t)(d + n - authcid - 1)) : NULL;
	if (pass == NULL || memchr(pass + 1, '\0', (size_t)(d + n - pass - 1)) != NULL) {
		s->auth = A_NONE;
		sess_reply(s, 501, "5.5.2 Malformed PLAIN response");
		sess_error(s);
		wipe(d, sizeof d);
		return;
	}
	authcid++;
	pass++;
	if (d[0] != '\0' && strcmp(d, authcid) != 0) {
		s->auth = A_NONE;
		failed(s);
	} else {
		verify(s, "PLAIN", authcid, pass);
	}
	wipe(d, sizeof d);
}

/* login_step - a LOGIN answer: the login, then the password */
static void login_step(struct session *s, const char *b64)
{
	char d[AUTH_DECODED_MAX];
	long n = b64_decode(b64, d, sizeof d);

	if (n < 0 || memchr(d, '\0', (size_t)n) != NULL) {
		s->auth = A_NONE;
		s->login[0] = '\0';
		sess_reply(s, 501, "5.5.2 Cannot decode the response");
		sess_error(s);
		wipe(d, sizeof d);
		return;
	}
	if (s->auth == A_LOGIN_USER) {
		if ((size_t)n >= sizeof s->login) {
			s->auth = A_NONE;
			failed(s);
			return;
		}
		memcpy(s->login, d, (size_t)n + 1);
		s->auth = A_LOGIN_PASS;
		sess_reply(s, 334, "UGFzc3dvcmQ6");        /* "Password:" */
		return;
	}
	{
		char login[SESSION_LOGIN_MAX];

		memcpy(login, s->login, sizeof login);
		s->login[0] = '\0';
		verify(s, "LOGIN", login, d);
	}
	wipe(d, sizeof d);
}

/* sess_auth_proceed - start the exchange */
void sess_auth_proceed(struct session *s, struct cmd_args *a)
{
	if (a->mech == 'P') {
		s->auth = A_PLAIN;
		if (a->initial != NULL)
			plain(s, a->initial);
		else
			sess_reply(s, 334, "%s", "");  /* "334 ": send it */
		return;
	}
	s->auth = A_LOGIN_USER;
	if (a->initial != NULL)
		login_step(s, a->initial);
	else
		sess_reply(s, 334, "VXNlcm5hbWU6");        /* "Username:" */
}

/* sess_auth_line - the client's answer to a 334 */
void sess_auth_line(struct session *s, const char *line, int too_long)
{
	if (too_long) {
		s->auth = A_NONE;
		s->login[0] = '\0';
		sess_reply(s, 500, "5.5.6 Authentication exchange line is too long");
		sess_error(s);
		return;
	}
	if (strcmp(line, "*") == 0) {
		s->auth = A_NONE;
		s->login[0] = '\0';
		sess_reply(s, 501, "5.0.0 Authentication cancelled");
		sess_error(s);
		return;
	}
	if (s->auth == A_PLAIN)
		plain(s, line);
	else
		login_step(s, line);
}
