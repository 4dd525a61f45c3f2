/* test_session_auth - AUTH PLAIN and LOGIN in the SMTP server session,
 * driven without sockets: every state of the exchange (initial response,
 * 334 continuations, cancel, over-long answer, undecodable answer), the
 * refusals (in the clear, twice, in a transaction, unknown mechanism,
 * not offered), the credential verdicts (235, 535, 454), the failure
 * limit, the sender binding, MAIL before AUTH, and the Received: field.
 * Input is fed whole and byte by byte: the replies must be the same.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"

#define HOST "mx.test.example"

/* One session and what its ops saw. */
struct afx {
	struct session_config cfg;
	struct session *s;
	int bytes;                 /* feed one byte at a time */
	int checks;                /* auth_check calls */
	char mech[16], login[300], password[300];
	int temp;                  /* auth_check says ST_TEMP */
	char msg[8192];            /* the stored message */
	size_t msglen;
	char codes[2048];          /* "250 334 235" of the last talk */
	char out[8192];            /* the raw replies of the last talk */
	unsigned long long pause;
};

static time_t fixed_now(void) { return 1700000000; }

/* ax_auth - alice/secret is good; "tempfail" is the source failing */
static struct status ax_auth(void *ctx, const char *mech, const char *login,
                             const char *password)
{
	struct afx *x = ctx;

	x->checks++;
	snprintf(x->mech, sizeof x->mech, "%s", mech);
	snprintf(x->login, sizeof x->login, "%s", login);
	snprintf(x->password, sizeof x->password, "%s", password);
	if (x->temp)
		return status_make(ST_TEMP, 7, 0, "credential source down");
	if (strcmp(login, "alice@test.example") == 0 && strcmp(password, "secret") == 0)
		return status_ok();
	return status_make(ST_PERM, 7, 8, "bad");
}

/* ax_sender - a login may send only as itself */
static struct status ax_sender(void *ctx, const char *login,
                               const struct mailbox *sender)
{
	(void)ctx;
	if (strcmp(login, sender->text) == 0)
		return status_ok();
	return status_make(ST_PERM, 7, 1, "Sender address not owned by the login");
}

static struct status ax_rcpt(void *ctx, const struct mailbox *rcpt)
{
	(void)ctx;
	(void)rcpt;
	return status_ok();
}

static struct status ax_open(void *ctx, struct envelope *env)
{
	struct afx *x = ctx;

	x->msglen = 0;
	snprintf(env->id, sizeof env->id, "ID1");
	return status_ok();
}

static void ax_write(void *ctx, const char *p, size_t n)
{
	struct afx *x = ctx;

	if (x->msglen + n < sizeof x->msg) {
		memcpy(x->msg + x->msglen, p, n);
		x->msglen += n;
		x->msg[x->msglen] = '\0';
	}
}

static struct status ax_commit(void *ctx) { (void)ctx; return status_ok(); }
static void ax_abort(void *ctx) { (void)ctx; }

static const struct session_ops ops = {
	.check_rcpt = ax_rcpt, .tx_open = ax_open, .tx_write = ax_write,
	.tx_commit = ax_commit, .tx_abort = ax_abort,
	.auth_check = ax_auth, .check_sender = ax_sender,
};

/* start - a submission session already under TLS (implicit), greeted */
static void start(struct afx *x, int bytes)
{
	memset(x, 0, sizeof *x);
	setenv("TZ", "UTC", 1);
	tzset();
	x->bytes = bytes;
	x->cfg.hostname = HOST;
	x->cfg.max_line = 512;
	x->cfg.max_size = 100000;
	x->cfg.max_rcpt = 10;
	x->cfg.max_received = 10;
	x->cfg.max_errors = 20;
	x->cfg.soft_errors = 10;
	x->cfg.error_delay = 100;
	x->cfg.tls_implicit = 1;
	x->cfg.auth_required = 1;
	x->cfg.auth_offered = 1;
	x->cfg.max_auth_failures = 3;
	x->cfg.auth_delay = 1000;
}

/* open_session - make the session after the test changed cfg */
static void open_session(struct afx *x)
{
	size_t len;

	x->s = session_new(&x->cfg, &ops, x, "192.0.2.7", fixed_now);
	cr_assert_not_null(x->s);
	session_greet(x->s);
	(void)session_output(x->s, &len);
	session_output_done(x->s, len);
}

/* talk - feed in, collect the replies' codes ("250 334") and raw text */
static const char *talk(struct afx *x, const char *in)
{
	size_t n = strlen(in), off = 0, len, used;
	const char *o, *p;

	x->codes[0] = x->out[0] = '\0';
	while (off < n && !session_done(x->s)) {
		size_t k = x->bytes ? 1 : n - off;

		(void)session_feed(x->s, in + off, k, &used);
		off += k;
	}
	o = session_output(x->s, &len);
	cr_assert_lt(len, sizeof x->out);
	memcpy(x->out, o, len);
	x->out[len] = '\0';
	session_output_done(x->s, len);
	x->pause = session_pause(x->s);
	for (p = x->out; *p; ) {
		const char *eol = strstr(p, "\r\n");

		cr_assert_not_null(eol, "reply not ended by CRLF");
		if (p[3] == ' ') {
			size_t l = strlen(x->codes);

			cr_assert_lt(l + 5, sizeof x->codes);
			snprintf(x->codes + l, sizeof x->codes - l, "%s%.3s",
			         l ? " " : "", p);
		}
		p = eol + 2;
	}
	return x->codes;
}

/* "\0alice@test.example\0secret" and friends, in base64 */
#define PLAIN_GOOD  "AGFsaWNlQHRlc3QuZXhhbXBsZQBzZWNyZXQ="
#define PLAIN_BAD   "AGFsaWNlQHRlc3QuZXhhbXBsZQB3cm9uZw=="      /* wrong */
#define PLAIN_AUTHZ "Ym9iQHRlc3QuZXhhbXBsZQBhbGljZUB0ZXN0LmV4YW1wbGUAc2VjcmV0"
#define USER_B64    "YWxpY2VAdGVzdC5leGFtcGxl"                  /* alice@test.example */
#define PASS_B64    "c2VjcmV0"                                  /* secret */
#define EHLO        "EHLO client.example\r\n"

#define BOTH(name) \
	static void name##_run(int bytes); \
	Test(session_auth, name) { name##_run(0); name##_run(1); } \
	static void name##_run(int bytes)

BOTH(ehlo_offers_auth_under_tls_only)
{
	struct afx x;

	start(&x, bytes);
	open_session(&x);
	talk(&x, EHLO);
	cr_assert(strstr(x.out, "250-AUTH PLAIN LOGIN\r\n"), "%s", x.out);
	session_free(x.s);

	start(&x, bytes);
	x.cfg.tls_implicit = 0;
	x.cfg.tls_available = 1;
	open_session(&x);
	talk(&x, EHLO);
	cr_assert_null(strstr(x.out, "AUTH"), "AUTH offered in the clear: %s", x.out);
	cr_assert_str_eq(talk(&x, "AUTH PLAIN " PLAIN_GOOD "\r\n"), "538");
	cr_assert(strstr(x.out, "538 5.7.11 "), "%s", x.out);
	cr_assert_eq(x.checks, 0, "credentials checked in the clear");
	session_free(x.s);

	start(&x, bytes);
	x.cfg.auth_offered = 0;
	open_session(&x);
	talk(&x, EHLO);
	cr_assert_null(strstr(x.out, "AUTH"));
	cr_assert_str_eq(talk(&x, "AUTH PLAIN " PLAIN_GOOD "\r\n"), "502");
	session_free(x.s);
}

BOTH(plain_initial_response)
{
	struct afx x;

	start(&x, bytes);
	open_session(&x);
	cr_assert_str_eq(talk(&x, EHLO "AUTH PLAIN " PLAIN_GOOD "\r\n"), "250 235");
	cr_assert(strstr(x.out, "235 2.7.0 "));
	cr_assert_str_eq(x.mech, "PLAIN");
	cr_assert_str_eq(x.login, "alice@test.example");
	cr_assert_str_eq(x.password, "secret");
	cr_assert_str_eq(session_login(x.s), "alice@test.example");
	/* no second AUTH; EHLO no longer offers it */
	cr_assert_str_eq(talk(&x, "AUTH PLAIN " PLAIN_GOOD "\r\n"), "503");
	talk(&x, EHLO);
	cr_assert_null(strstr(x.out, "AUTH"));
	session_free(x.s);
}

BOTH(plain_continuation_and_lower_case)
{
	struct afx x;

	start(&x, bytes);
	open_session(&x);
	cr_assert_str_eq(talk(&x, EHLO "auth plain\r\n"), "250 334");
	cr_assert(strstr(x.out, "334 \r\n"), "%s", x.out);
	cr_assert_str_eq(talk(&x, PLAIN_GOOD "\r\n"), "235");
	session_free(x.s);
}

BOTH(login_both_steps_and_initial)
{
	struct afx x;

	start(&x, bytes);
	open_session(&x);
	cr_assert_str_eq(talk(&x, EHLO "AUTH LOGIN\r\n"), "250 334");
	cr_assert(strstr(x.out, "334 VXNlcm5hbWU6\r\n"));
	cr_assert_str_eq(talk(&x, USER_B64 "\r\n"), "334");
	cr_assert(strstr(x.out, "334 UGFzc3dvcmQ6\r\n"));
	cr_assert_str_eq(talk(&x, PASS_B64 "\r\n"), "235");
	cr_assert_str_eq(x.mech, "LOGIN");
	cr_assert_str_eq(session_login(x.s), "alice@test.example");
	session_free(x.s);

	start(&x, bytes);
	open_session(&x);
	cr_assert_str_eq(talk(&x, EHLO "AUTH LOGIN " USER_B64 "\r\n" PASS_B64 "\r\n"),
	                 "250 334 235");
	session_free(x.s);
}

BOTH(bad_credentials_pause_and_close)
{
	struct afx x;

	start(&x, bytes);
	open_session(&x);
	cr_assert_str_eq(talk(&x, EHLO "AUTH PLAIN " PLAIN_BAD "\r\n"), "250 535");
	cr_assert(strstr(x.out, "535 5.7.8 "), "%s", x.out);
	cr_assert_eq(x.pause, 1000);
	cr_assert_null(session_login(x.s));
	cr_assert_str_eq(talk(&x, "AUTH LOGIN " USER_B64 "\r\nd3Jvbmc=\r\n"), "334 535");
	cr_assert_eq(x.pause, 2000, "the pause grows");
	cr_assert(!session_done(x.s));
	cr_assert_str_eq(talk(&x, "AUTH PLAIN " PLAIN_BAD "\r\nNOOP\r\n"), "535 421");
	cr_assert(strstr(x.out, "421 4.7.0 "), "%s", x.out);
	cr_assert(session_done(x.s));
	session_free(x.s);
}

BOTH(authzid_other_than_login_refused)
{
	struct afx x;

	start(&x, bytes);
	open_session(&x);
	cr_assert_str_eq(talk(&x, EHLO "AUTH PLAIN " PLAIN_AUTHZ "\r\n"), "250 535");
	cr_assert_eq(x.checks, 0);
	session_free(x.s);
}

BOTH(temporary_failure_is_454_not_an_error)
{
	struct afx x;

	start(&x, bytes);
	x.cfg.max_auth_failures = 1;
	open_session(&x);
	x.temp = 1;
	cr_assert_str_eq(talk(&x, EHLO "AUTH PLAIN " PLAIN_GOOD "\r\n"), "250 454");
	cr_assert(strstr(x.out, "454 4.7.0 "), "%s", x.out);
	cr_assert(!session_done(x.s));
	x.temp = 0;
	cr_assert_str_eq(talk(&x, "AUTH PLAIN " PLAIN_GOOD "\r\n"), "235");
	session_free(x.s);
}

BOTH(cancel_undecodable_and_unknown)
{
	struct afx x;

	start(&x, bytes);
	open_session(&x);
	cr_assert_str_eq(talk(&x, EHLO "AUTH PLAIN\r\n*\r\n"), "250 334 501");
	cr_assert(strstr(x.out, "501 5.0.0 "), "%s", x.out);
	cr_assert_str_eq(talk(&x, "AUTH LOGIN\r\n" USER_B64 "\r\n*\r\n"), "334 334 501");
	cr_assert_str_eq(talk(&x, "AUTH PLAIN\r\n!!notbase64\r\n"), "334 501");
	cr_assert(strstr(x.out, "501 5.5.2 "), "%s", x.out);
	/* base64 of "no-nul-inside": not a PLAIN triple */
	cr_assert_str_eq(talk(&x, "AUTH PLAIN bm8tbnVsLWluc2lkZQ==\r\n"), "501");
	cr_assert_str_eq(talk(&x, "AUTH CRAM-MD5\r\n"), "504");
	cr_assert_str_eq(talk(&x, "AUTH\r\n"), "501");
	cr_assert_eq(x.checks, 0);
	/* the session goes on: commands are commands again */
	cr_assert_str_eq(talk(&x, "NOOP\r\n"), "250");
	cr_assert_str_eq(talk(&x, "AUTH PLAIN " PLAIN_GOOD "\r\n"), "235");
	session_free(x.s);
}

BOTH(over_long_answer)
{
	struct afx x;
	char line[2000];

	start(&x, bytes);
	open_session(&x);
	memset(line, 'A', sizeof line);
	memcpy(line + sizeof line - 3, "\r\n", 3);
	cr_assert_str_eq(talk(&x, EHLO "AUTH PLAIN\r\n"), "250 334");
	cr_assert_str_eq(talk(&x, line), "500");
	cr_assert(strstr(x.out, "500 5.5.6 "), "%s", x.out);
	cr_assert_str_eq(talk(&x, "NOOP\r\n"), "250", "back in command mode");
	session_free(x.s);
}

BOTH(mail_before_auth_and_in_transaction)
{
	struct afx x;

	start(&x, bytes);
	open_session(&x);
	cr_assert_str_eq(talk(&x, EHLO "MAIL FROM:<alice@test.example>\r\n"), "250 530");
	cr_assert(strstr(x.out, "530 5.7.0 Authentication required"), "%s", x.out);
	cr_assert_str_eq(talk(&x, "AUTH PLAIN " PLAIN_GOOD "\r\n"
	                 "MAIL FROM:<alice@test.example>\r\n"), "235 250");
	cr_assert_str_eq(talk(&x, "RSET\r\n"), "250");
	session_free(x.s);

	/* a port-25 session offering AUTH: a transaction blocks AUTH */
	start(&x, bytes);
	x.cfg.auth_required = 0;
	open_session(&x);
	cr_assert_str_eq(talk(&x, EHLO "MAIL FROM:<bob@example.org>\r\n"
	                 "AUTH PLAIN " PLAIN_GOOD "\r\n"), "250 250 503");
	session_free(x.s);
}

BOTH(sender_bound_to_login)
{
	struct afx x;

	start(&x, bytes);
	open_session(&x);
	cr_assert_str_eq(talk(&x, EHLO "AUTH PLAIN " PLAIN_GOOD "\r\n"
	                 "MAIL FROM:<mallory@test.example>\r\n"
	                 "MAIL FROM:<>\r\nRSET\r\n"
	                 "MAIL FROM:<alice@test.example>\r\n"), "250 235 553 250 250 250");
	cr_assert(strstr(x.out, "553 5.7.1 Sender address not owned"), "%s", x.out);
	session_free(x.s);
}

BOTH(received_esmtpsa_and_hidden_client)
{
	struct afx x;

	start(&x, bytes);
	open_session(&x);
	cr_assert_str_eq(talk(&x, EHLO "AUTH PLAIN " PLAIN_GOOD "\r\n"
	                 "MAIL FROM:<alice@test.example>\r\nRCPT TO:<r@example.org>\r\n"
	                 "DATA\r\nSubject: x\r\n\r\nhi\r\n.\r\n"),
	                 "250 235 250 250 354 250");
	cr_assert(strstr(x.msg, "Received: from client.example ([192.0.2.7])\n"), "%s", x.msg);
	cr_assert(strstr(x.msg, " with ESMTPSA id ID1"), "%s", x.msg);
	*strstr(x.msg, "Subject:") = '\0';
	cr_assert_null(strstr(x.msg, "alice"), "the login is in Received: %s", x.msg);
	session_free(x.s);

	start(&x, bytes);
	x.cfg.hide_client = 1;
	open_session(&x);
	talk(&x, EHLO "AUTH PLAIN " PLAIN_GOOD "\r\nMAIL FROM:<alice@test.example>\r\n"
	     "RCPT TO:<r@example.org>\r\nDATA\r\nSubject: x\r\n\r\nhi\r\n.\r\n");
	cr_assert(strstr(x.msg, "Received: from client.example\n"), "%s", x.msg);
	cr_assert_null(strstr(x.msg, "192.0.2.7"), "%s", x.msg);
	session_free(x.s);
}

BOTH(starttls_then_auth)
{
	struct afx x;

	start(&x, bytes);
	x.cfg.tls_implicit = 0;
	x.cfg.tls_available = 1;
	open_session(&x);
	cr_assert_str_eq(talk(&x, EHLO "STARTTLS\r\n"), "250 220");
	session_tls_started(x.s);
	talk(&x, EHLO);
	cr_assert(strstr(x.out, "250-AUTH PLAIN LOGIN\r\n"), "%s", x.out);
	cr_assert_str_eq(talk(&x, "AUTH PLAIN " PLAIN_GOOD "\r\n"), "235");
	session_free(x.s);
}

/* the message's own From: must be the login's too (550 5.7.1), folded,
 * with display names, several fields; none at all is fine (the added
 * one is the envelope sender) */
BOTH(from_field_bound_to_login)
{
	static const struct { const char *hdr; const char *codes; } cases[] = {
		{ "From: Alice <alice@test.example>\r\n", "250" },
		{ "From: \"A, Lice\"\r\n <alice@test.example> (me)\r\n", "250" },
		{ "Subject: no From at all\r\n", "250" },
		{ "From: Mallory <mallory@test.example>\r\n", "550" },
		{ "From: alice@test.example, mallory@test.example\r\n", "550" },
		{ "From: alice@test.example\r\nFrom: mallory@test.example\r\n", "550" },
		{ "From: (alice@test.example)\r\n <mallory@test.example>\r\n", "550" },
		{ "From: undisclosed:;\r\n", "550" },
	};
	char in[1000], want[64];
	size_t i;
	struct afx x;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		start(&x, bytes);
		open_session(&x);
		talk(&x, EHLO "AUTH PLAIN " PLAIN_GOOD "\r\n");
		snprintf(in, sizeof in, "MAIL FROM:<alice@test.example>\r\n"
		         "RCPT TO:<r@example.org>\r\nDATA\r\n%s\r\nbody\r\n.\r\n",
		         cases[i].hdr);
		snprintf(want, sizeof want, "250 250 354 %s", cases[i].codes);
		cr_assert_str_eq(talk(&x, in), want, "case %zu: %s", i, x.out);
		if (cases[i].codes[0] == '5')
			cr_assert(strstr(x.out, "550 5.7.1 "), "%s", x.out);
		session_free(x.s);
	}
}
