/* test_smtp_dialog_auth - AUTH in the client engine (smtp_dialog.h),
 * fed by hand: PLAIN with its initial response, LOGIN when PLAIN is not
 * offered, after STARTTLS and not before, every failure noted as
 * temporary and the connection ended, no credentials in the clear unless
 * allowed. */
#include <criterion/criterion.h>
#include <string.h>

#include "smtp_dialog.h"

static struct smtp_dialog D;
static int notes;
static struct smtp_result note;
static char wire[1 << 16];

static void a_rcpt(void *ctx, size_t i, const struct smtp_result *r)
{
	(void)ctx; (void)i; (void)r;
}

static void a_done(void *ctx, const struct smtp_result *res, int answered)
{
	(void)ctx; (void)res; (void)answered;
}

static void a_note(void *ctx, const struct smtp_result *r)
{
	(void)ctx;
	notes++;
	note = *r;
}

static const struct smtp_dialog_ops OPS = { a_rcpt, a_done, a_note, NULL };

static const char *out(void)
{
	const char *p;
	size_t n;

	smtp_dialog_output(&D, &p, &n);
	cr_assert_lt(n, sizeof wire);
	memcpy(wire, p, n);
	wire[n] = '\0';
	smtp_dialog_wrote(&D, n);
	return wire;
}

static int in(const char *s)
{
	return smtp_dialog_input(&D, s, strlen(s));
}

/* start - greeted, credentials given (insecure: may go in plaintext),
 * EHLO said */
static void start(int insecure, int starttls)
{
	notes = 0;
	memset(&note, 0, sizeof note);
	smtp_dialog_start(&D, SMTP_DIALOG_SMTP, &OPS, "client.example",
	                  "192.0.2.1:587");
	if (starttls)
		smtp_dialog_use_starttls(&D);
	smtp_dialog_use_auth(&D, "alice@example.org", "s3cret pass", insecure);
	cr_assert_eq(in("220 smarthost ESMTP\r\n"), 0);
	cr_assert_str_eq(out(), "EHLO client.example\r\n");
}

/* base64("\0alice@example.org\0s3cret pass") */
#define PLAIN_RESP "AGFsaWNlQGV4YW1wbGUub3JnAHMzY3JldCBwYXNz"

Test(smtp_dialog_auth, plain_with_initial_response_then_ready)
{
	start(1, 0);
	cr_assert_eq(in("250-smarthost\r\n250-AUTH LOGIN PLAIN CRAM-MD5\r\n"
	                "250 8BITMIME\r\n"), 0);
	cr_assert_str_eq(out(), "AUTH PLAIN " PLAIN_RESP "\r\n");
	cr_assert_not(smtp_dialog_ready(&D), "not ready before 235");
	cr_assert_eq(smtp_dialog_stage(&D), SMTP_STAGE_AUTH);
	cr_assert_eq(in("235 2.7.0 Authentication successful\r\n"), 0);
	cr_assert(smtp_dialog_ready(&D));
	cr_assert(smtp_dialog_authed(&D));
	cr_assert_eq(notes, 0);
	cr_assert_str_eq(out(), "");
}

Test(smtp_dialog_auth, old_auth_equals_form_is_understood)
{
	start(1, 0);
	cr_assert_eq(in("250-smarthost\r\n250 AUTH=PLAIN\r\n"), 0);
	cr_assert_str_eq(out(), "AUTH PLAIN " PLAIN_RESP "\r\n");
}

/* a 334 to PLAIN's initial response: the response once more */
Test(smtp_dialog_auth, plain_334_gets_the_response_again)
{
	start(1, 0);
	cr_assert_eq(in("250-smarthost\r\n250 AUTH PLAIN\r\n"), 0);
	out();
	cr_assert_eq(in("334 \r\n"), 0);
	cr_assert_str_eq(out(), PLAIN_RESP "\r\n");
	cr_assert_eq(in("235 ok\r\n"), 0);
	cr_assert(smtp_dialog_ready(&D));
}

Test(smtp_dialog_auth, login_when_plain_is_not_offered)
{
	start(1, 0);
	cr_assert_eq(in("250-smarthost\r\n250 AUTH LOGIN\r\n"), 0);
	cr_assert_str_eq(out(), "AUTH LOGIN\r\n");
	cr_assert_eq(in("334 VXNlcm5hbWU6\r\n"), 0);
	cr_assert_str_eq(out(), "YWxpY2VAZXhhbXBsZS5vcmc=\r\n");
	cr_assert_eq(in("334 UGFzc3dvcmQ6\r\n"), 0);
	cr_assert_str_eq(out(), "czNjcmV0IHBhc3M=\r\n");
	cr_assert_not(smtp_dialog_ready(&D));
	cr_assert_eq(in("235 2.7.0 ok\r\n"), 0);
	cr_assert(smtp_dialog_ready(&D));
	cr_assert_eq(notes, 0);
}

/* a third 334 to LOGIN: cancelled with "*", then noted and QUIT */
Test(smtp_dialog_auth, login_asking_too_much_is_cancelled)
{
	start(1, 0);
	cr_assert_eq(in("250-smarthost\r\n250 AUTH LOGIN\r\n"), 0);
	out();
	in("334 VXNlcm5hbWU6\r\n");
	out();
	in("334 UGFzc3dvcmQ6\r\n");
	out();
	cr_assert_eq(in("334 more?\r\n"), 0);
	cr_assert_str_eq(out(), "*\r\n");
	cr_assert_eq(in("501 5.7.0 cancelled\r\n"), 0);
	cr_assert_eq(notes, 1);
	cr_assert_eq(note.st.kind, ST_TEMP);
	cr_assert_eq(note.stage, SMTP_STAGE_AUTH);
	cr_assert_str_eq(out(), "QUIT\r\n");
	cr_assert_eq(in("221 bye\r\n"), -1);
}

/* 535: a temporary failure (a changed password must not bounce mail),
 * the server's words kept for the log, QUIT */
Test(smtp_dialog_auth, refused_535_is_temporary_and_quits)
{
	start(1, 0);
	cr_assert_eq(in("250-smarthost\r\n250 AUTH PLAIN LOGIN\r\n"), 0);
	out();
	cr_assert_eq(in("535 5.7.8 Authentication credentials invalid\r\n"), 0);
	cr_assert_eq(notes, 1);
	cr_assert_eq(note.st.kind, ST_TEMP, "535 must not bounce");
	cr_assert_eq(note.stage, SMTP_STAGE_AUTH);
	cr_assert_eq(note.reply.code, 535);
	cr_assert(strstr(note.st.text, "535 5.7.8") != NULL, "%s", note.st.text);
	cr_assert_str_eq(out(), "QUIT\r\n");
	cr_assert_not(smtp_dialog_ready(&D));
	cr_assert_eq(in("221 bye\r\n"), -1);
}

Test(smtp_dialog_auth, refused_454_is_temporary)
{
	start(1, 0);
	in("250-smarthost\r\n250 AUTH PLAIN\r\n");
	out();
	in("454 4.7.0 Temporary authentication failure\r\n");
	cr_assert_eq(notes, 1);
	cr_assert_eq(note.st.kind, ST_TEMP);
	cr_assert_str_eq(out(), "QUIT\r\n");
}

/* credentials configured, no AUTH offered: noted (temporary), nothing
 * sent but QUIT; HELO (no ESMTP) the same */
Test(smtp_dialog_auth, no_auth_offered_is_temporary)
{
	start(1, 0);
	cr_assert_eq(in("250-smarthost\r\n250 AUTH CRAM-MD5\r\n"), 0);
	cr_assert_eq(notes, 1);
	cr_assert_eq(note.st.kind, ST_TEMP);
	cr_assert(strstr(note.st.text, "neither AUTH PLAIN nor AUTH LOGIN") != NULL,
	          "%s", note.st.text);
	cr_assert_str_eq(out(), "QUIT\r\n");

	start(1, 0);
	cr_assert_eq(in("502 no EHLO\r\n"), 0);
	cr_assert_str_eq(out(), "HELO client.example\r\n");
	cr_assert_eq(in("250 hi\r\n"), 0);
	cr_assert_eq(notes, 1);
	cr_assert_str_eq(out(), "QUIT\r\n");
}

/* not allowed in the clear: no STARTTLS offered (or it is refused) means
 * nothing of the credentials leaves */
Test(smtp_dialog_auth, never_in_plaintext_unless_allowed)
{
	start(0, 1);
	cr_assert_eq(in("250-smarthost\r\n250 AUTH PLAIN\r\n"), 0);
	cr_assert_eq(notes, 1);
	cr_assert_eq(note.st.kind, ST_TEMP);
	cr_assert(strstr(note.st.text, "only over TLS") != NULL, "%s", note.st.text);
	cr_assert_str_eq(out(), "QUIT\r\n");

	start(0, 1);
	cr_assert_eq(in("250-smarthost\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n"), 0);
	cr_assert_str_eq(out(), "STARTTLS\r\n");
	cr_assert_eq(in("454 4.7.0 TLS not available\r\n"), 0);
	cr_assert_str_eq(out(), "QUIT\r\n", "no AUTH after a refused STARTTLS");
	cr_assert_eq(notes, 2);
	cr_assert(strstr(note.st.text, "only over TLS") != NULL, "%s", note.st.text);
}

/* with STARTTLS: AUTH after the second EHLO, never before the handshake,
 * offered or not in the first one */
Test(smtp_dialog_auth, after_starttls_and_not_before)
{
	start(0, 1);
	cr_assert_eq(in("250-smarthost\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n"), 0);
	cr_assert_str_eq(out(), "STARTTLS\r\n");
	cr_assert_eq(in("220 go ahead\r\n"), 0);
	cr_assert(smtp_dialog_tls_wanted(&D));
	smtp_dialog_tls_started(&D);
	cr_assert_str_eq(out(), "EHLO client.example\r\n");
	cr_assert_eq(in("250-smarthost\r\n250 AUTH LOGIN PLAIN\r\n"), 0);
	cr_assert_str_eq(out(), "AUTH PLAIN " PLAIN_RESP "\r\n");
	cr_assert_eq(in("235 ok\r\n"), 0);
	cr_assert(smtp_dialog_ready(&D));
	cr_assert_eq(notes, 0);
}

/* the password's wire form does not stay in the output buffer */
Test(smtp_dialog_auth, response_wiped_after_the_reply)
{
	start(1, 0);
	in("250-smarthost\r\n250 AUTH PLAIN\r\n");
	out();
	in("235 ok\r\n");
	cr_assert_null(memmem(D.out, sizeof D.out, PLAIN_RESP, strlen(PLAIN_RESP)));
}

/* a 421 during AUTH ends the connection, noted */
Test(smtp_dialog_auth, closing_421_during_auth)
{
	start(1, 0);
	in("250-smarthost\r\n250 AUTH PLAIN\r\n");
	out();
	cr_assert_eq(in("421 4.3.2 shutting down\r\n"), -1);
	cr_assert_eq(notes, 1);
	cr_assert_eq(note.st.kind, ST_TEMP);
}
