/* test_smtp_dialog - the client engine fed by hand: what it writes for
 * each reply, SMTP and LMTP, pipelined and not, and each recipient's
 * fate. */
#include <criterion/criterion.h>
#include <string.h>

#include "smtp_dialog.h"

enum { NR = 8, WIRE_MAX = 1 << 16 };

struct rec {
	int fates[NR];                  /* how often each was decided */
	struct smtp_result fate[NR];
	int dones, answered;
	struct smtp_result done;
	int notes;
	struct smtp_result note;
};

static struct rec R;
static struct smtp_dialog D;
static char wire[WIRE_MAX];

static void r_rcpt(void *ctx, size_t i, const struct smtp_result *r)
{
	(void)ctx;
	cr_assert_lt(i, NR);
	R.fates[i]++;
	R.fate[i] = *r;
}

static void r_done(void *ctx, const struct smtp_result *res, int answered)
{
	(void)ctx;
	R.dones++;
	R.done = *res;
	R.answered = answered;
}

static void r_note(void *ctx, const struct smtp_result *r)
{
	(void)ctx;
	R.notes++;
	R.note = *r;
}

static const struct smtp_dialog_ops OPS = { r_rcpt, r_done, r_note, NULL };

/* out - everything the engine has to write now, as a string */
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

/* in_bytewise - the server says s one byte at a time */
static int in_bytewise(const char *s)
{
	int rc = 0;

	for (; *s && rc == 0; s++)
		rc = smtp_dialog_input(&D, s, 1);
	return rc;
}

/* open_ops - a new connection reporting to ops, greeted, hello answered
 * with ehlo */
static void open_ops(enum smtp_dialog_mode mode,
                     const struct smtp_dialog_ops *ops, const char *ehlo)
{
	memset(&R, 0, sizeof R);
	smtp_dialog_start(&D, mode, ops, "client.test", "192.0.2.1:25");
	cr_assert_str_eq(out(), "");
	cr_assert_eq(in("220 server ESMTP\r\n"), 0);
	cr_assert_str_eq(out(), mode == SMTP_DIALOG_LMTP ? "LHLO client.test\r\n"
	                 : "EHLO client.test\r\n");
	cr_assert_eq(in_bytewise(ehlo), 0);
	cr_assert(smtp_dialog_ready(&D));
}

/* open_with - the same, reporting to OPS (into R) */
static void open_with(enum smtp_dialog_mode mode, const char *ehlo)
{
	open_ops(mode, &OPS, ehlo);
}

/* lines - how many CRLF-ended lines w holds */
static size_t lines(const char *w)
{
	size_t k = 0;

	for (; (w = strstr(w, "\r\n")) != NULL; w += 2)
		k++;
	return k;
}

/* body - push the whole message, then its dot */
static void body(const char *m)
{
	cr_assert(smtp_dialog_wants_body(&D));
	cr_assert_geq(smtp_dialog_body_room(&D), strlen(m));
	smtp_dialog_body(&D, m, strlen(m));
	smtp_dialog_body_end(&D);
	cr_assert(!smtp_dialog_wants_body(&D));
}

static const char EHLO_PIPE[] = "250-server\r\n250-PIPELINING\r\n"
	"250-8BITMIME\r\n250 SIZE 1000\r\n";
static const char EHLO_PLAIN[] = "250-server\r\n250 SIZE 1000\r\n";
static const char *const RC3[] = { "b@y.test", "c@y.test", "d@y.test" };

static struct smtp_tx tx3(void)
{
	struct smtp_tx t;

	memset(&t, 0, sizeof t);
	t.sender = "a@x.test";
	t.rcpt = RC3;
	t.nrcpt = 3;
	t.data = ".hi\nthere";
	t.len = 9;
	t.fd = -1;
	t.body_8bit = 1;
	return t;
}

Test(smtp_dialog, pipelined_several_recipients_each_with_its_fate)
{
	struct smtp_tx t = tx3();

	open_with(SMTP_DIALOG_SMTP, EHLO_PIPE);
	cr_assert_eq(smtp_dialog_send(&D, &t), 0);
	cr_assert_str_eq(out(), "MAIL FROM:<a@x.test> SIZE=9 BODY=8BITMIME\r\n"
	                 "RCPT TO:<b@y.test>\r\nRCPT TO:<c@y.test>\r\n"
	                 "RCPT TO:<d@y.test>\r\nDATA\r\n");
	cr_assert_eq(in("250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n"
	                "250 ok\r\n354 go\r\n"), 0);
	cr_assert_eq(R.fates[1], 1, "c is decided at its refusal");
	cr_assert_eq(R.fate[1].st.kind, ST_PERM);
	cr_assert_eq(R.fate[1].stage, SMTP_STAGE_RCPT);
	body(t.data);
	cr_assert_str_eq(out(), "..hi\r\nthere\r\n.\r\n");
	cr_assert_eq(in("250 2.0.0 queued\r\n"), 0);
	cr_assert_eq(R.dones, 1);
	cr_assert_eq(R.done.st.kind, ST_OK);
	cr_assert(R.answered);
	cr_assert_eq(R.fates[0], 1);
	cr_assert_eq(R.fates[2], 1);
	cr_assert_eq(R.fate[0].stage, SMTP_STAGE_DOT);
	cr_assert_eq(R.fate[2].reply.code, 250);
	cr_assert_eq(R.fates[1], 1, "decided once");
	cr_assert(smtp_dialog_ready(&D));
	smtp_dialog_quit(&D);
	cr_assert_str_eq(out(), "QUIT\r\n");
	cr_assert_eq(in("221 bye\r\n"), -1);
}

Test(smtp_dialog, one_at_a_time_and_the_rset_owed_after_a_refusal)
{
	static const char *const one[] = { "b@y.test" };
	struct smtp_tx t = tx3();

	t.rcpt = one;
	t.nrcpt = 1;
	t.body_8bit = 0;
	open_with(SMTP_DIALOG_SMTP, EHLO_PLAIN);
	cr_assert_eq(smtp_dialog_send(&D, &t), 0);
	cr_assert_str_eq(out(), "MAIL FROM:<a@x.test> SIZE=9\r\n");
	cr_assert_eq(in("250 ok\r\n"), 0);
	cr_assert_str_eq(out(), "RCPT TO:<b@y.test>\r\n");
	cr_assert_eq(in("450 4.2.0 busy\r\n"), 0);
	cr_assert_str_eq(out(), "", "no DATA for nobody");
	cr_assert_eq(R.dones, 1);
	cr_assert_eq(R.done.st.kind, ST_TEMP);
	cr_assert_eq(R.fate[0].reply.code, 450);
	/* MAIL was accepted: the next transaction begins with RSET, alone */
	cr_assert_eq(smtp_dialog_send(&D, &t), 0);
	cr_assert_str_eq(out(), "RSET\r\n");
	cr_assert_eq(in("250 reset\r\n"), 0);
	cr_assert_str_eq(out(), "MAIL FROM:<a@x.test> SIZE=9\r\n");
	cr_assert_eq(in("250 ok\r\n"), 0);
	cr_assert_str_eq(out(), "RCPT TO:<b@y.test>\r\n");
	cr_assert_eq(in("250 ok\r\n"), 0);
	cr_assert_str_eq(out(), "DATA\r\n");
	cr_assert_eq(in("354 go\r\n"), 0);
	body("x\n");
	cr_assert_str_eq(out(), "x\r\n.\r\n");
	cr_assert_eq(in("554 5.7.1 no thanks\r\n"), 0);
	cr_assert_eq(R.dones, 2);
	cr_assert_eq(R.done.st.kind, ST_PERM);
	cr_assert_eq(R.fate[0].reply.code, 554);
}

Test(smtp_dialog, pipelined_rset_rides_with_the_next_mail)
{
	struct smtp_tx t = tx3();

	open_with(SMTP_DIALOG_SMTP, EHLO_PIPE);
	cr_assert_eq(smtp_dialog_send(&D, &t), 0);
	out();
	cr_assert_eq(in("250 ok\r\n550 no\r\n551 no\r\n452 full\r\n"
	                "554 no valid recipients\r\n"), 0);
	cr_assert_eq(R.dones, 1);
	cr_assert_eq(R.done.st.kind, ST_TEMP, "a 4xx among them: temporary");
	cr_assert_eq(R.done.reply.code, 452);
	cr_assert_eq(smtp_dialog_send(&D, &t), 0);
	cr_assert(strncmp(out(), "RSET\r\nMAIL FROM:", 16) == 0);
}

Test(smtp_dialog, mail_refused_decides_every_recipient)
{
	struct smtp_tx t = tx3();

	open_with(SMTP_DIALOG_SMTP, EHLO_PIPE);
	cr_assert_eq(smtp_dialog_send(&D, &t), 0);
	out();
	cr_assert_eq(in("451 4.3.0 try later\r\n503 no\r\n503 no\r\n503 no\r\n"
	                "503 no\r\n"), 0);
	cr_assert_eq(R.done.reply.code, 451);
	cr_assert_eq(R.fate[0].reply.code, 451);
	cr_assert_eq(R.fate[2].reply.code, 451);
	cr_assert_eq(smtp_dialog_send(&D, &t), 0);
	cr_assert(strncmp(out(), "MAIL FROM:", 10) == 0, "no RSET owed");
}

Test(smtp_dialog, helo_after_ehlo_refused_and_no_extensions)
{
	struct smtp_tx t = tx3();

	memset(&R, 0, sizeof R);
	smtp_dialog_start(&D, SMTP_DIALOG_SMTP, &OPS, "client.test", "p");
	cr_assert_eq(in("220 old\r\n"), 0);
	cr_assert_str_eq(out(), "EHLO client.test\r\n");
	cr_assert_eq(in("502 what\r\n"), 0);
	cr_assert_str_eq(out(), "HELO client.test\r\n");
	cr_assert_eq(in("250 hi\r\n"), 0);
	cr_assert(smtp_dialog_ready(&D));
	cr_assert_eq(smtp_dialog_send(&D, &t), 0);
	cr_assert_str_eq(out(), "MAIL FROM:<a@x.test>\r\n", "no SIZE, no BODY");
}

Test(smtp_dialog, refused_greeting_is_noted_then_quit)
{
	memset(&R, 0, sizeof R);
	smtp_dialog_start(&D, SMTP_DIALOG_SMTP, &OPS, "client.test", "p");
	cr_assert_eq(in("554 go away\r\n"), 0);
	cr_assert_eq(R.notes, 1);
	cr_assert_eq(R.note.st.kind, ST_PERM, "the driver decides how bad");
	cr_assert_eq(R.note.stage, SMTP_STAGE_GREETING);
	cr_assert_str_eq(out(), "QUIT\r\n");
	cr_assert_eq(in("221 bye\r\n"), -1);
}

Test(smtp_dialog, a_421_in_rcpt_ends_it_all_temporarily)
{
	struct smtp_tx t = tx3();

	open_with(SMTP_DIALOG_SMTP, EHLO_PIPE);
	cr_assert_eq(smtp_dialog_send(&D, &t), 0);
	out();
	cr_assert_eq(in("250 ok\r\n250 ok\r\n421 4.3.2 shutting down\r\n"), -1);
	cr_assert_eq(R.dones, 1);
	cr_assert_eq(R.done.st.kind, ST_TEMP);
	cr_assert_eq(R.done.reply.code, 421);
	cr_assert_eq(R.fates[0], 1);
	cr_assert_eq(R.fates[1], 1);
	cr_assert_eq(R.fates[2], 1);
	cr_assert_eq(R.fate[0].st.kind, ST_TEMP, "accepted, never delivered");
}

Test(smtp_dialog, lost_in_the_message_fails_every_open_recipient)
{
	struct smtp_tx t = tx3();

	open_with(SMTP_DIALOG_SMTP, EHLO_PIPE);
	cr_assert_eq(smtp_dialog_send(&D, &t), 0);
	out();
	cr_assert_eq(in("250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"), 0);
	smtp_dialog_lost(&D, 0, 1000);
	cr_assert_eq(R.dones, 1);
	cr_assert_eq(R.done.st.kind, ST_TEMP);
	cr_assert_eq(R.done.stage, SMTP_STAGE_DOT);
	cr_assert(strstr(R.done.st.text, "closed by the server") != NULL);
	cr_assert_eq(R.fates[1], 1);
}

Test(smtp_dialog, a_reply_before_the_dot_ends_it)
{
	struct smtp_tx t = tx3();

	open_with(SMTP_DIALOG_SMTP, EHLO_PIPE);
	cr_assert_eq(smtp_dialog_send(&D, &t), 0);
	out();
	cr_assert_eq(in("250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"), 0);
	cr_assert(smtp_dialog_wants_body(&D));
	cr_assert_eq(in("552 5.3.4 too big\r\n"), -1);
	cr_assert_eq(R.done.st.kind, ST_PERM);
	cr_assert_eq(R.done.reply.code, 552);
}

Test(smtp_dialog, local_refusals_need_no_command)
{
	static const char *const bad[] = { "x@y.test>\r\nRSET", "ok@y.test" };
	struct smtp_tx t = tx3();

	open_with(SMTP_DIALOG_SMTP, EHLO_PIPE);
	t.size = 5000;                     /* over SIZE 1000 */
	cr_assert_eq(smtp_dialog_send(&D, &t), -1);
	cr_assert_eq(R.done.st.kind, ST_PERM);
	cr_assert_eq(R.fates[0] + R.fates[1] + R.fates[2], 3);
	cr_assert_str_eq(out(), "");
	t.size = 0;
	t.rcpt = bad;
	t.nrcpt = 2;
	cr_assert_eq(smtp_dialog_send(&D, &t), 0);
	cr_assert_eq(R.fate[0].st.kind, ST_PERM, "refused here at once");
	cr_assert_str_eq(out(), "MAIL FROM:<a@x.test> SIZE=9 BODY=8BITMIME\r\n"
	                 "RCPT TO:<ok@y.test>\r\nDATA\r\n");
}

Test(smtp_dialog, long_lines_split_unless_asked_not_to)
{
	static char line[1200];
	struct smtp_tx t = tx3();
	const char *w;

	memset(line, 'a', sizeof line - 2);
	line[sizeof line - 2] = '\n';
	t.data = line;
	t.len = strlen(line);
	t.size = 0;
	open_with(SMTP_DIALOG_SMTP, "250-server\r\n250 PIPELINING\r\n");
	cr_assert_eq(smtp_dialog_send(&D, &t), 0);
	out();
	cr_assert_eq(in("250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"), 0);
	body(line);
	w = out();
	cr_assert(strstr(w, "\r\n a") != NULL, "split with CRLF SP");
	cr_assert_eq(in("250 ok\r\n"), 0);
	t.long_lines = 1;
	cr_assert_eq(smtp_dialog_send(&D, &t), 0);
	out();
	cr_assert_eq(in("250 ok\r\n250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"), 0);
	body(line);
	w = out();
	cr_assert_eq(strlen(w), sizeof line - 2 + 2 + 3, "one long line");
}

Test(smtp_dialog, lmtp_one_reply_per_accepted_recipient)
{
	struct smtp_tx t = tx3();

	open_with(SMTP_DIALOG_LMTP, "250-lmtp\r\n250 PIPELINING\r\n");
	cr_assert_eq(smtp_dialog_send(&D, &t), 0);
	cr_assert_str_eq(out(), "MAIL FROM:<a@x.test>\r\nRCPT TO:<b@y.test>\r\n"
	                 "RCPT TO:<c@y.test>\r\nRCPT TO:<d@y.test>\r\nDATA\r\n");
	cr_assert_eq(in("250 ok\r\n250 ok\r\n550 5.1.1 unknown\r\n250 ok\r\n"
	                "354 go\r\n"), 0);
	body("hi\n");
	cr_assert_str_eq(out(), "hi\r\n.\r\n");
	cr_assert_eq(in("250 2.0.0 b delivered\r\n"), 0);
	cr_assert_eq(R.dones, 0, "d's reply is still to come");
	cr_assert_eq(R.fate[0].reply.code, 250);
	cr_assert_eq(in("452 4.2.2 d over quota\r\n"), 0);
	cr_assert_eq(R.dones, 1);
	cr_assert_eq(R.done.st.kind, ST_OK, "accepted for b");
	cr_assert_eq(R.fate[1].reply.code, 550);
	cr_assert_eq(R.fate[2].reply.code, 452);
	cr_assert_eq(R.fate[2].st.kind, ST_TEMP);
	cr_assert_eq(R.fate[2].stage, SMTP_STAGE_DOT);
	cr_assert_eq(R.fates[0] + R.fates[1] + R.fates[2], 3);
	cr_assert(smtp_dialog_ready(&D));
}

Test(smtp_dialog, lmtp_every_final_reply_refused_and_no_helo_fallback)
{
	static const char *const two[] = { "b@y.test", "c@y.test" };
	struct smtp_tx t = tx3();

	t.rcpt = two;
	t.nrcpt = 2;
	open_with(SMTP_DIALOG_LMTP, "250 lmtp\r\n");
	cr_assert_eq(smtp_dialog_send(&D, &t), 0);
	cr_assert_str_eq(out(), "MAIL FROM:<a@x.test>\r\n");
	cr_assert_eq(in("250 ok\r\n"), 0);
	cr_assert_str_eq(out(), "RCPT TO:<b@y.test>\r\n");
	cr_assert_eq(in("250 ok\r\n"), 0);
	cr_assert_str_eq(out(), "RCPT TO:<c@y.test>\r\n");
	cr_assert_eq(in("250 ok\r\n"), 0);
	cr_assert_str_eq(out(), "DATA\r\n");
	cr_assert_eq(in("354 go\r\n"), 0);
	body("hi\n");
	out();
	cr_assert_eq(in("550 5.2.1 b disabled\r\n450 4.2.1 c busy\r\n"), 0);
	cr_assert_eq(R.dones, 1);
	cr_assert_eq(R.done.st.kind, ST_TEMP, "the first temporary refusal");
	cr_assert_eq(R.fate[0].st.kind, ST_PERM);
	cr_assert_eq(R.fate[1].st.kind, ST_TEMP);

	memset(&R, 0, sizeof R);
	smtp_dialog_start(&D, SMTP_DIALOG_LMTP, &OPS, "client.test", "p");
	cr_assert_eq(in("220 lmtp\r\n"), 0);
	cr_assert_str_eq(out(), "LHLO client.test\r\n");
	cr_assert_eq(in("500 what\r\n"), 0);
	cr_assert_eq(R.notes, 1);
	cr_assert_str_eq(out(), "QUIT\r\n", "LMTP has no HELO");
}

Test(smtp_dialog, reply_to_no_command_and_malformed_close)
{
	open_with(SMTP_DIALOG_SMTP, EHLO_PIPE);
	cr_assert_eq(in("250 what?\r\n"), -1);
	cr_assert_eq(R.notes, 1);
	cr_assert(strstr(R.note.st.text, "a reply to no command") != NULL);
	open_with(SMTP_DIALOG_SMTP, EHLO_PIPE);
	smtp_dialog_rset(&D);
	cr_assert_str_eq(out(), "RSET\r\n");
	cr_assert_eq(in("2x0 garbage\r\n"), -1);
	cr_assert_eq(R.note.st.kind, ST_TEMP);
}

enum { MANY = SMTP_DIALOG_RCPT_MAX + 2 };
static int many_fates[MANY];
static enum status_kind many_kind[MANY];

static void m_rcpt(void *ctx, size_t i, const struct smtp_result *r)
{
	(void)ctx;
	cr_assert_lt(i, MANY);
	many_fates[i]++;
	many_kind[i] = r->st.kind;
}

/* send_many - a pipelined connection whose ops record the fate of each
 * recipient (m_rcpt), and one transaction to MANY recipients */
static void send_many(void)
{
	static const struct smtp_dialog_ops ops = { m_rcpt, r_done, r_note, NULL };
	static const char *many[MANY];
	static struct smtp_tx t;        /* borrowed until the transaction ends */
	size_t i;

	t = tx3();
	for (i = 0; i < MANY; i++)
		many[i] = "b@y.test";
	t.rcpt = many;
	t.nrcpt = MANY;
	memset(many_fates, 0, sizeof many_fates);
	open_ops(SMTP_DIALOG_SMTP, &ops, EHLO_PIPE);
	cr_assert_eq(smtp_dialog_send(&D, &t), 0);
}

Test(smtp_dialog, recipients_past_the_limit_fail_temporarily)
{
	size_t i, cmds = 0;

	send_many();
	while (!smtp_dialog_wants_body(&D)) {
		size_t k = lines(out());

		cr_assert_gt(k, 0);
		cmds += k;
		while (k-- > 0)
			cr_assert_eq(in(smtp_dialog_stage(&D) == SMTP_STAGE_DATA ?
			             "354 go\r\n" : "250 ok\r\n"), 0);
	}
	cr_assert_eq(cmds, 1 + SMTP_DIALOG_RCPT_MAX + 1, "MAIL, RCPTs, DATA");
	body("x\n");
	out();
	cr_assert_eq(in("250 ok\r\n"), 0);
	cr_assert_eq(R.dones, 1);
	cr_assert_eq(R.done.st.kind, ST_OK);
	for (i = 0; i < MANY; i++)
		cr_assert_eq(many_fates[i], 1, "recipient %zu", i);
	cr_assert_eq(many_kind[0], ST_OK);
	cr_assert_eq(many_kind[MANY - 1], ST_TEMP, "past the limit: later");
	cr_assert_eq(many_kind[MANY - 2], ST_TEMP);
	cr_assert_eq(many_kind[MANY - 3], ST_OK);
}

Test(smtp_dialog, mail_refused_decides_recipients_past_the_limit_too)
{
	size_t i, k;

	send_many();
	k = lines(out());
	cr_assert_eq(in("550 5.7.1 not you\r\n"), 0);
	while (--k > 0)
		cr_assert_eq(in("503 5.5.1 MAIL first\r\n"), 0);
	cr_assert_eq(R.dones, 1);
	cr_assert_eq(R.done.reply.code, 550);
	for (i = 0; i < MANY; i++)
		cr_assert_eq(many_fates[i], 1, "recipient %zu", i);
	cr_assert_eq(many_kind[MANY - 1], ST_PERM);
}

static const char EHLO_TLS[] = "250-server\r\n250-PIPELINING\r\n"
	"250-STARTTLS\r\n250 SIZE 1000\r\n";

/* starttls_open - greeted, asked to use STARTTLS, EHLO answered with ehlo */
static void starttls_open(const char *ehlo)
{
	memset(&R, 0, sizeof R);
	smtp_dialog_start(&D, SMTP_DIALOG_SMTP, &OPS, "client.test", "192.0.2.1:25");
	smtp_dialog_use_starttls(&D);
	cr_assert_eq(in("220 server ESMTP\r\n"), 0);
	cr_assert_str_eq(out(), "EHLO client.test\r\n");
	cr_assert_eq(in_bytewise(ehlo), 0);
}

/* STARTTLS when offered; the 220 stops the reading (the server's bytes
 * behind it in the clear are dropped); EHLO again after the handshake,
 * the first EHLO's extensions forgotten; STARTTLS not said twice */
Test(smtp_dialog, starttls_when_offered_then_ehlo_again)
{
	struct smtp_tx t = tx3();

	starttls_open(EHLO_TLS);
	cr_assert(!smtp_dialog_ready(&D));
	cr_assert_str_eq(out(), "STARTTLS\r\n");
	cr_assert_eq(smtp_dialog_stage(&D), SMTP_STAGE_HELLO);
	cr_assert_eq(in("220 2.0.0 go ahead\r\n250 injected in the clear\r\n"), 0);
	cr_assert(smtp_dialog_tls_wanted(&D));
	cr_assert_str_eq(out(), "");
	cr_assert_eq(R.notes, 0);
	smtp_dialog_tls_started(&D);
	cr_assert(!smtp_dialog_tls_wanted(&D));
	cr_assert_str_eq(out(), "EHLO client.test\r\n");
	cr_assert_eq(D.ext, 0, "nothing of the first EHLO is kept");
	cr_assert_eq(in(EHLO_PLAIN), 0);
	cr_assert(smtp_dialog_ready(&D), "STARTTLS is not said twice");
	cr_assert_str_eq(out(), "");
	cr_assert(D.tls);
	/* no PIPELINING after TLS: one command at a time */
	cr_assert_eq(smtp_dialog_send(&D, &t), 0);
	cr_assert_str_eq(out(), "MAIL FROM:<a@x.test> SIZE=9\r\n");
}

/* not offered: on in the clear; not asked for: offered but not said */
Test(smtp_dialog, starttls_only_when_offered_and_asked)
{
	starttls_open(EHLO_PIPE);
	cr_assert(smtp_dialog_ready(&D));
	cr_assert_str_eq(out(), "");
	open_with(SMTP_DIALOG_SMTP, EHLO_TLS);
	cr_assert(smtp_dialog_ready(&D));
	cr_assert_str_eq(out(), "");
}

/* refused (454): noted, and on in the clear; a failed handshake: noted,
 * closed */
Test(smtp_dialog, starttls_refused_or_handshake_failed)
{
	starttls_open(EHLO_TLS);
	cr_assert_str_eq(out(), "STARTTLS\r\n");
	cr_assert_eq(in("454 4.7.0 TLS not available\r\n"), 0);
	cr_assert(smtp_dialog_ready(&D));
	cr_assert_eq(R.notes, 1);
	cr_assert_eq(R.note.st.kind, ST_TEMP);
	cr_assert_eq(R.note.reply.code, 454);
	starttls_open(EHLO_TLS);
	cr_assert_str_eq(out(), "STARTTLS\r\n");
	cr_assert_eq(in("220 go\r\n"), 0);
	smtp_dialog_tls_failed(&D, "wrong version number");
	cr_assert_eq(R.notes, 1);
	cr_assert(strstr(R.note.st.text, "TLS handshake: wrong version number"),
	          "%s", R.note.st.text);
	cr_assert_eq(smtp_dialog_input(&D, "250 x\r\n", 7), -1, "closed");
}

static const char EHLO_DSN[] = "250-server\r\n250-PIPELINING\r\n"
	"250-DSN\r\n250 SIZE 1000\r\n";

Test(smtp_dialog, dsn_requests_go_out_only_when_dsn_is_offered)
{
	struct smtp_tx t = tx3();

	t.nrcpt = 1;
	t.body_8bit = 0;
	t.dsn_notify = "SUCCESS,FAILURE";
	t.dsn_ret = "HDRS";
	t.dsn_envid = "id+2B1";
	open_with(SMTP_DIALOG_SMTP, EHLO_DSN);
	cr_assert_eq(smtp_dialog_send(&D, &t), 0);
	cr_assert_str_eq(out(), "MAIL FROM:<a@x.test> SIZE=9 RET=HDRS ENVID=id+2B1\r\n"
	                 "RCPT TO:<b@y.test> NOTIFY=SUCCESS,FAILURE\r\nDATA\r\n");
	open_with(SMTP_DIALOG_SMTP, EHLO_PIPE);
	cr_assert_eq(smtp_dialog_send(&D, &t), 0);
	cr_assert_str_eq(out(), "MAIL FROM:<a@x.test> SIZE=9\r\n"
	                 "RCPT TO:<b@y.test>\r\nDATA\r\n",
	                 "no DSN offered: the requests are dropped");
}

/* per recipient: NOTIFY= in place of the shared one, and ORCPT= (a
 * relayed queue file's recipients each carry their own) */
Test(smtp_dialog, dsn_per_recipient_notify_and_orcpt)
{
	struct smtp_tx t = tx3();
	const char *notify[] = { "NEVER", NULL };
	const char *orcpt[] = { NULL, "rfc822;C+2Bx@y.test" };

	t.nrcpt = 2;
	t.body_8bit = 0;
	t.dsn_notify = "FAILURE";
	t.dsn_rcpt_notify = notify;
	t.dsn_orcpt = orcpt;
	open_with(SMTP_DIALOG_SMTP, EHLO_DSN);
	cr_assert_eq(smtp_dialog_send(&D, &t), 0);
	cr_assert_str_eq(out(), "MAIL FROM:<a@x.test> SIZE=9\r\n"
	                 "RCPT TO:<b@y.test> NOTIFY=NEVER\r\n"
	                 "RCPT TO:<c@y.test> NOTIFY=FAILURE ORCPT=rfc822;C+2Bx@y.test\r\n"
	                 "DATA\r\n");
	open_with(SMTP_DIALOG_SMTP, EHLO_PIPE);
	cr_assert_eq(smtp_dialog_send(&D, &t), 0);
	cr_assert_str_eq(out(), "MAIL FROM:<a@x.test> SIZE=9\r\n"
	                 "RCPT TO:<b@y.test>\r\nRCPT TO:<c@y.test>\r\nDATA\r\n",
	                 "no DSN offered: none of them");
}

/* a 452 4.5.3 (or a bare 452) to RCPT is "too many recipients": the
 * delivery sends that recipient in a next transaction; a 452 with another
 * code, a 451, or a 452 at another stage is not */
Test(smtp_dialog, a_452_to_rcpt_means_too_many)
{
	struct smtp_tx t = tx3();

	open_with(SMTP_DIALOG_SMTP, EHLO_PIPE);
	cr_assert_eq(smtp_dialog_send(&D, &t), 0);
	out();
	cr_assert_eq(in("250 ok\r\n250 ok\r\n452 4.5.3 too many recipients\r\n"
	                "452 4.2.2 mailbox full\r\n354 go\r\n"), 0);
	cr_assert_eq(R.fate[1].st.kind, ST_TEMP);
	cr_assert(smtp_result_too_many(&R.fate[1]), "452 4.5.3");
	cr_assert_not(smtp_result_too_many(&R.fate[2]), "452 4.2.2 is the mailbox's");
	body(t.data);
	out();
	cr_assert_eq(in("250 2.0.0 queued\r\n"), 0);
	cr_assert_not(smtp_result_too_many(&R.fate[0]), "delivered");
	{
		struct smtp_result r;
		struct smtp_reply rep;

		memset(&rep, 0, sizeof rep);
		rep.code = 452;
		smtp_result_from_reply(&r, SMTP_STAGE_RCPT, &rep);
		cr_assert(smtp_result_too_many(&r), "a bare 452 to RCPT");
		smtp_result_from_reply(&r, SMTP_STAGE_MAIL, &rep);
		cr_assert_not(smtp_result_too_many(&r), "452 to MAIL");
		rep.code = 451;
		smtp_result_from_reply(&r, SMTP_STAGE_RCPT, &rep);
		cr_assert_not(smtp_result_too_many(&r), "451");
		rep.code = 552;
		smtp_result_from_reply(&r, SMTP_STAGE_RCPT, &rep);
		cr_assert_not(smtp_result_too_many(&r), "a bare 552 may be a full mailbox");
		rep.enh_class = 5;
		rep.enh_subject = 5;
		rep.enh_detail = 3;
		smtp_result_from_reply(&r, SMTP_STAGE_RCPT, &rep);
		cr_assert(smtp_result_too_many(&r), "552 5.5.3, RFC 821's too many");
	}
}
