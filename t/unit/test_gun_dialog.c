/* test_gun_dialog - the mail gun's SMTP dialogue, driven by hand: what it
 * writes for each reply, with and without PIPELINING, and the outcome it
 * reports for every message. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gun_dialog.h"

enum { MAXMSG = 8, WIRE_MAX = 1 << 20 };

struct fake {
	const struct gun_msg *msgs;
	size_t n, next;
	int outcome[MAXMSG];            /* -1: not reported */
	int reports[MAXMSG];            /* how often */
	char why[MAXMSG][200];
	long long lat[MAXMSG];
	int notes;
	char note[200];
	unsigned long long clock;
};

static int f_take(void *ctx, const struct gun_msg **m, unsigned long long *idx)
{
	struct fake *f = ctx;

	if (f->next >= f->n)
		return -1;
	*m = &f->msgs[f->next];
	*idx = f->next++;
	return 0;
}

static void f_done(void *ctx, unsigned long long idx, enum gun_outcome o,
                   const struct status *why, long long lat)
{
	struct fake *f = ctx;

	cr_assert_lt(idx, MAXMSG);
	f->outcome[idx] = (int)o;
	f->reports[idx]++;
	snprintf(f->why[idx], sizeof f->why[idx], "%s", why ? why->text : "");
	f->lat[idx] = lat;
}

static void f_note(void *ctx, const struct status *why)
{
	struct fake *f = ctx;

	f->notes++;
	snprintf(f->note, sizeof f->note, "%s", why->text);
}

static unsigned long long f_now(void *ctx)
{
	struct fake *f = ctx;

	return f->clock += 10;
}

static struct fake F;
static struct gun_feed FEED = { f_take, f_done, f_note, f_now, &F };
static struct gun_dialog D;
static char wire[WIRE_MAX];

static const char *const RCPT2[] = { "b@y.example", "c@y.example" };
static const char *const RCPT1[] = { "b@y.example" };

/* setup - the dialogue of a new connection over msgs */
static void setup(const struct gun_msg *msgs, size_t n)
{
	size_t i;

	memset(&F, 0, sizeof F);
	F.msgs = msgs;
	F.n = n;
	for (i = 0; i < MAXMSG; i++)
		F.outcome[i] = -1;
	memset(&D, 0, sizeof D);         /* as gun_dialog_start wants it first */
	gun_dialog_start(&D, &FEED, "gun.test", "192.0.2.1:25");
}

/* out - everything the dialogue has to write now, as a string */
static const char *out(void)
{
	size_t len = 0;

	for (;;) {
		const char *p;
		size_t n;

		gun_dialog_output(&D, &p, &n);
		if (n == 0)
			break;
		cr_assert_lt(len + n, sizeof wire);
		memcpy(wire + len, p, n);
		len += n;
		gun_dialog_wrote(&D, n);
	}
	wire[len] = '\0';
	return wire;
}

/* in - the server says s (whole); the dialogue's answer code */
static int in(const char *s)
{
	return gun_dialog_input(&D, s, strlen(s));
}

/* in_bytewise - the server says s one byte at a time */
static int in_bytewise(const char *s)
{
	int rc = 0;

	for (; *s && rc == 0; s++)
		rc = gun_dialog_input(&D, s, 1);
	return rc;
}

static const char EHLO_PIPE[] =
	"250-sink.example\r\n250-PIPELINING\r\n250-8BITMIME\r\n250 SIZE 100000\r\n";
static const char EHLO_PLAIN[] = "250-sink.example\r\n250 SIZE 100000\r\n";

/* greet - greeting and EHLO with the given EHLO reply */
static void greet(const char *ehlo_reply)
{
	cr_assert_str_eq(out(), "");
	cr_assert_eq(in("220 sink ESMTP\r\n"), 0);
	cr_assert_str_eq(out(), "EHLO gun.test\r\n");
	cr_assert_eq(in(ehlo_reply), 0);
	cr_assert(gun_dialog_opened(&D));
}

Test(gun_dialog, one_command_at_a_time_without_pipelining)
{
	struct gun_msg m = { "Subject: x\n\n.dot\nend", 20, "a@x.example",
	                     RCPT2, 2, 0 };

	setup(&m, 1);
	greet(EHLO_PLAIN);
	cr_assert_str_eq(out(), "MAIL FROM:<a@x.example> SIZE=20\r\n");
	cr_assert_eq(in("250 2.1.0 ok\r\n"), 0);
	cr_assert_str_eq(out(), "RCPT TO:<b@y.example>\r\n");
	cr_assert_eq(in("250 ok\r\n"), 0);
	cr_assert_str_eq(out(), "RCPT TO:<c@y.example>\r\n");
	cr_assert_eq(in("250 ok\r\n"), 0);
	cr_assert_str_eq(out(), "DATA\r\n");
	cr_assert_eq(in("354 go\r\n"), 0);
	cr_assert_str_eq(out(), "Subject: x\r\n\r\n..dot\r\nend\r\n.\r\n");
	cr_assert_eq(F.outcome[0], -1, "no outcome before the final reply");
	cr_assert_eq(in("250 2.0.0 queued\r\n"), 0);
	cr_assert_eq(F.outcome[0], GUN_SENT);
	cr_assert_geq(F.lat[0], 0);
	cr_assert_str_eq(out(), "QUIT\r\n", "no message left: QUIT");
	cr_assert(gun_dialog_finished(&D));
	cr_assert_eq(in("221 bye\r\n"), -1, "the reply to QUIT ends it");
	cr_assert_eq(F.reports[0], 1);
}

Test(gun_dialog, pipelined_group_and_a_refused_recipient)
{
	struct gun_msg m = { "x\n", 2, "a@x.example", RCPT2, 2, 1 };

	setup(&m, 1);
	greet(EHLO_PIPE);
	cr_assert_str_eq(out(), "MAIL FROM:<a@x.example> SIZE=2 BODY=8BITMIME\r\n"
	                 "RCPT TO:<b@y.example>\r\nRCPT TO:<c@y.example>\r\n"
	                 "DATA\r\n");
	cr_assert_eq(in_bytewise("250 ok\r\n250 ok\r\n550 5.1.1 no such user\r\n"
	                         "354 go\r\n"), 0);
	cr_assert_str_eq(out(), "x\r\n.\r\n");
	cr_assert_eq(in("250 ok\r\n"), 0);
	cr_assert_eq(F.outcome[0], GUN_REFUSED, "one recipient refused: refused");
	cr_assert_str_eq(F.why[0], "550 5.1.1 no such user");
	cr_assert_geq(F.lat[0], 0, "the server answered: a latency");
}

Test(gun_dialog, rset_owed_goes_with_the_next_mail_when_pipelining)
{
	struct gun_msg m[2] = {
		{ "x\n", 2, "a@x.example", RCPT1, 1, 0 },
		{ "y\n", 2, "a@x.example", RCPT1, 1, 0 } };

	setup(m, 2);
	greet(EHLO_PIPE);
	out();
	cr_assert_eq(in("250 ok\r\n550 5.1.1 no\r\n554 5.5.1 no valid recipients\r\n"),
	             0);
	cr_assert_eq(F.outcome[0], GUN_REFUSED);
	cr_assert_str_eq(out(), "RSET\r\nMAIL FROM:<a@x.example> SIZE=2\r\n"
	                 "RCPT TO:<b@y.example>\r\nDATA\r\n");
	cr_assert_eq(in("250 ok\r\n250 ok\r\n250 ok\r\n354 go\r\n"), 0);
	cr_assert_str_eq(out(), "y\r\n.\r\n");
	cr_assert_eq(in("250 ok\r\n"), 0);
	cr_assert_eq(F.outcome[1], GUN_SENT);
}

Test(gun_dialog, rset_owed_is_answered_first_without_pipelining)
{
	struct gun_msg m[2] = {
		{ "x\n", 2, "a@x.example", RCPT1, 1, 0 },
		{ "y\n", 2, "a@x.example", RCPT1, 1, 0 } };

	setup(m, 2);
	greet(EHLO_PLAIN);
	out();
	cr_assert_eq(in("250 ok\r\n"), 0);
	out();
	cr_assert_eq(in("450 4.2.0 mailbox busy\r\n"), 0);
	cr_assert_eq(F.outcome[0], GUN_FAILED, "a 4xx to RCPT: failed");
	cr_assert_str_eq(out(), "RSET\r\n");
	cr_assert_eq(in("250 ok\r\n"), 0);
	cr_assert_str_eq(out(), "MAIL FROM:<a@x.example> SIZE=2\r\n");
}

Test(gun_dialog, helo_after_ehlo_refused_and_no_esmtp_parameters)
{
	struct gun_msg m = { "x\n", 2, "a@x.example", RCPT1, 1, 1 };

	setup(&m, 1);
	cr_assert_eq(in("220 old\r\n"), 0);
	cr_assert_str_eq(out(), "EHLO gun.test\r\n");
	cr_assert_eq(in("500 what\r\n"), 0);
	cr_assert_str_eq(out(), "HELO gun.test\r\n");
	cr_assert_eq(in("250 old\r\n"), 0);
	cr_assert_str_eq(out(), "MAIL FROM:<a@x.example>\r\n");
}

Test(gun_dialog, refused_greeting_is_noted_and_quits)
{
	struct gun_msg m = { "x\n", 2, "a@x.example", RCPT1, 1, 0 };

	setup(&m, 1);
	cr_assert_eq(in("554 5.7.1 go away\r\n"), 0);
	cr_assert_eq(F.notes, 1);
	cr_assert_str_eq(F.note, "554 5.7.1 go away");
	cr_assert_str_eq(out(), "QUIT\r\n");
	cr_assert_eq(in("221 bye\r\n"), -1);
	cr_assert(!gun_dialog_opened(&D));
	cr_assert(!gun_dialog_finished(&D));
	cr_assert_eq(F.next, 0, "no message was taken");
}

Test(gun_dialog, a_421_fails_the_message_and_closes)
{
	struct gun_msg m = { "x\n", 2, "a@x.example", RCPT1, 1, 0 };

	setup(&m, 1);
	greet(EHLO_PIPE);
	out();
	cr_assert_eq(in("421 4.3.2 shutting down\r\n"), -1);
	cr_assert_eq(F.outcome[0], GUN_FAILED);
	cr_assert_str_eq(F.why[0], "421 4.3.2 shutting down");
	cr_assert_eq(F.lat[0], -1, "no latency for a failure");
	cr_assert(!gun_dialog_finished(&D), "messages may remain: reconnect");
}

Test(gun_dialog, connection_lost_in_data_fails_the_message_once)
{
	struct gun_msg m = { "x\n", 2, "a@x.example", RCPT1, 1, 0 };

	setup(&m, 1);
	greet(EHLO_PIPE);
	out();
	cr_assert_eq(in("250 ok\r\n250 ok\r\n354 go\r\n"), 0);
	out();
	gun_dialog_lost(&D, 0, 5000);
	cr_assert_eq(F.outcome[0], GUN_FAILED);
	cr_assert_str_eq(F.why[0], "192.0.2.1:25: end of data: connection closed "
	                 "by the server");
	gun_dialog_lost(&D, ECONNRESET, 5000);
	cr_assert_eq(F.reports[0], 1, "reported exactly once");
}

Test(gun_dialog, silence_is_a_timeout_with_the_stage)
{
	struct gun_msg m = { "x\n", 2, "a@x.example", RCPT1, 1, 0 };
	struct smtp_timeouts to;

	smtp_timeouts_all(&to, 7000);
	to.greeting = 3000;
	setup(&m, 1);
	cr_assert_eq(gun_dialog_timeout(&D, &to), 3000);
	gun_dialog_lost(&D, ETIMEDOUT, 3000);
	cr_assert_eq(F.notes, 1);
	cr_assert_str_eq(F.note, "192.0.2.1:25: greeting: no answer within 3 s");
}

Test(gun_dialog, a_server_that_stops_reading_is_named_as_such)
{
	struct gun_msg m = { "x\n", 2, "a@x.example", RCPT1, 1, 0 };

	setup(&m, 1);
	greet(EHLO_PIPE);
	out();
	cr_assert_eq(in("250 ok\r\n250 ok\r\n354 go\r\n"), 0);
	gun_dialog_lost(&D, EAGAIN, 180000);
	cr_assert_eq(F.outcome[0], GUN_FAILED);
	cr_assert_str_eq(F.why[0], "192.0.2.1:25: end of data: the server took "
	                 "nothing more for 180 s");
}

Test(gun_dialog, over_the_size_limit_refused_without_a_command)
{
	static char big[200001];
	struct gun_msg m[2] = {
		{ big, sizeof big - 1, "a@x.example", RCPT1, 1, 0 },
		{ "y\n", 2, "a@x.example", RCPT1, 1, 0 } };

	memset(big, 'x', sizeof big - 1);
	setup(m, 2);
	greet(EHLO_PIPE);
	cr_assert_eq(F.outcome[0], GUN_REFUSED);
	cr_assert(strstr(F.why[0], "exceeds the server's limit of 100000"));
	cr_assert_eq(F.lat[0], -1);
	cr_assert_str_eq(out(), "MAIL FROM:<a@x.example> SIZE=2\r\n"
	                 "RCPT TO:<b@y.example>\r\nDATA\r\n", "the next one goes");
}

Test(gun_dialog, a_reply_in_mid_message_ends_it)
{
	static char big[300000];
	struct gun_msg m = { big, sizeof big, "a@x.example", RCPT1, 1, 0 };
	const char *p;
	size_t n;

	memset(big, 'x', sizeof big);
	setup(&m, 1);
	greet("250-sink\r\n250 PIPELINING\r\n");
	out();
	cr_assert_eq(in("250 ok\r\n250 ok\r\n354 go\r\n"), 0);
	gun_dialog_output(&D, &p, &n);
	cr_assert_gt(n, 0);
	gun_dialog_wrote(&D, n);        /* one block out, more to come */
	cr_assert_eq(in("552 5.3.4 too big for me\r\n"), -1);
	cr_assert_eq(F.outcome[0], GUN_REFUSED);
	cr_assert_str_eq(F.why[0], "552 5.3.4 too big for me");
}

Test(gun_dialog, malformed_reply_fails_and_closes)
{
	struct gun_msg m = { "x\n", 2, "a@x.example", RCPT1, 1, 0 };

	setup(&m, 1);
	greet(EHLO_PLAIN);
	out();
	cr_assert_eq(in("2x0 what\r\n"), -1);
	cr_assert_eq(F.outcome[0], GUN_FAILED);
	cr_assert(strstr(F.why[0], "MAIL FROM"), "%s", F.why[0]);
}

Test(gun_dialog, bad_addresses_refused_here)
{
	static const char *const bad[] = { "b@y.example", "evil>\r\nDATA" };
	struct gun_msg m[2] = {
		{ "x\n", 2, "a@x.example", bad, 2, 0 },
		{ "x\n", 2, "bad sender\r\n", RCPT1, 1, 0 } };

	setup(m, 2);
	greet(EHLO_PIPE);
	cr_assert_eq(F.outcome[1], -1);
	cr_assert_str_eq(out(), "MAIL FROM:<a@x.example> SIZE=2\r\n"
	                 "RCPT TO:<b@y.example>\r\nDATA\r\n",
	                 "the bad recipient never reaches the wire");
	cr_assert_eq(in("250 ok\r\n250 ok\r\n354 go\r\n"), 0);
	out();
	cr_assert_eq(in("250 ok\r\n"), 0);
	cr_assert_eq(F.outcome[0], GUN_REFUSED);
	cr_assert_str_eq(F.why[0], "bad recipient address syntax");
	cr_assert_eq(F.outcome[1], GUN_REFUSED);
	cr_assert_str_eq(F.why[1], "bad sender address syntax");
	cr_assert_str_eq(out(), "QUIT\r\n");
}

Test(gun_dialog, many_recipients_go_in_groups)
{
	enum { N = 150 };
	static char names[N][32];
	static const char *rc[N];
	struct gun_msg m = { "x\n", 2, "a@x.example", rc, N, 0 };
	char replies[N * 8 + 16];
	size_t i, cmds = 0;
	const char *w;

	for (i = 0; i < N; i++) {
		snprintf(names[i], sizeof names[i], "r%zu@y.example", i);
		rc[i] = names[i];
	}
	setup(&m, 1);
	greet(EHLO_PIPE);
	for (w = out(); (w = strstr(w, "\r\n")) != NULL; w += 2)
		cmds++;
	cr_assert_eq(cmds, SMTP_DIALOG_RCPT_GROUP + 2, "MAIL and a group");
	replies[0] = '\0';
	for (i = 0; i < cmds; i++)
		strcat(replies, "250 ok\r\n");
	cr_assert_eq(in(replies), 0);
	cmds = 0;
	for (w = out(); (w = strstr(w, "\r\n")) != NULL; w += 2)
		cmds++;
	cr_assert_eq(cmds, SMTP_DIALOG_RCPT_GROUP + 2, "the next group");
}

Test(gun_dialog, a_reply_before_the_dot_is_written_ends_it)
{
	struct gun_msg m[2] = {
		{ "x\n", 2, "a@x.example", RCPT1, 1, 0 },
		{ "y\n", 2, "a@x.example", RCPT1, 1, 0 } };
	const char *p;
	size_t n;

	setup(m, 2);
	greet(EHLO_PIPE);
	out();
	cr_assert_eq(in("250 ok\r\n250 ok\r\n354 go\r\n"), 0);
	gun_dialog_output(&D, &p, &n);
	cr_assert_eq(n, 6, "x CR LF . CR LF");
	gun_dialog_wrote(&D, 1);        /* the kernel took one byte */
	cr_assert_eq(in("250 2.0.0 ok?\r\n"), -1,
	             "an answer to a dot not yet sent: the connection is done");
	cr_assert_eq(F.outcome[0], GUN_FAILED, "not sent: the dot never went");
	cr_assert_eq(F.outcome[1], -1, "the next message waits for a new connection");
	cr_assert_eq(F.next, 1);
}

/* one_message - a pipelined transaction of one recipient, all accepted */
static void one_message(void)
{
	cr_assert_str_eq(out(), "MAIL FROM:<a@x.example> SIZE=2\r\n"
	                 "RCPT TO:<b@y.example>\r\nDATA\r\n");
	cr_assert_eq(in("250 ok\r\n250 ok\r\n354 go\r\n"), 0);
	cr_assert_str_eq(out(), "x\r\n.\r\n");
	cr_assert_eq(in("250 ok\r\n"), 0);
}

Test(gun_dialog, per_connection_limit_quits_holding_the_next_message)
{
	struct gun_msg m[3] = {
		{ "x\n", 2, "a@x.example", RCPT1, 1, 0 },
		{ "x\n", 2, "a@x.example", RCPT1, 1, 0 },
		{ "x\n", 2, "a@x.example", RCPT1, 1, 0 },
	};

	setup(m, 3);
	gun_dialog_per_connection(&D, 2);
	greet(EHLO_PIPE);
	one_message();
	one_message();
	cr_assert_eq(F.outcome[1], GUN_SENT);
	cr_assert_str_eq(out(), "QUIT\r\n", "two on this connection: QUIT");
	cr_assert(gun_dialog_held(&D), "the third taken for the next connection");
	cr_assert_eq(F.next, 3);
	cr_assert(!gun_dialog_finished(&D), "the session goes on");
	cr_assert_eq(in("221 bye\r\n"), -1);

	gun_dialog_start(&D, &FEED, "gun.test", "192.0.2.1:25");
	gun_dialog_per_connection(&D, 2);
	cr_assert(gun_dialog_held(&D), "kept through the new start");
	greet(EHLO_PIPE);
	one_message();
	cr_assert_eq(F.outcome[2], GUN_SENT, "the held message goes first");
	cr_assert_str_eq(out(), "QUIT\r\n");
	cr_assert(gun_dialog_finished(&D), "nothing left to hold: finished");
	cr_assert(!gun_dialog_held(&D));
	cr_assert_eq(F.reports[0] + F.reports[1] + F.reports[2], 3);
}

Test(gun_dialog, connect_only_reports_the_hello_and_quits)
{
	struct gun_msg m[2] = {
		{ "x\n", 2, "a@x.example", RCPT1, 1, 0 },
		{ "x\n", 2, "a@x.example", RCPT1, 1, 0 },
	};

	setup(m, 2);
	cr_assert_eq(gun_dialog_reserve(&D, &FEED), 0, "the first, before connecting");
	gun_dialog_connect_only(&D);
	greet(EHLO_PLAIN);
	cr_assert_eq(F.outcome[0], GUN_SENT, "the hello done: counted");
	cr_assert_gt(F.lat[0], 0, "its latency from the start");
	cr_assert_str_eq(out(), "QUIT\r\n", "and nothing of the message sent");
	cr_assert(gun_dialog_held(&D));
	cr_assert_eq(in("221 bye\r\n"), -1);

	gun_dialog_start(&D, &FEED, "gun.test", "192.0.2.1:25");
	gun_dialog_connect_only(&D);
	greet(EHLO_PLAIN);
	cr_assert_eq(F.outcome[1], GUN_SENT);
	cr_assert_str_eq(out(), "QUIT\r\n");
	cr_assert(gun_dialog_finished(&D));
	cr_assert_eq(gun_dialog_reserve(&D, &FEED), -1, "the feed is dry");
	cr_assert(!gun_dialog_held(&D));
}

/* up_to_starttls - a dialogue with STARTTLS: greeting, EHLO offering it,
 * STARTTLS said; not open yet */
static void up_to_starttls(const struct gun_msg *m)
{
	setup(m, 1);
	gun_dialog_use_starttls(&D);
	cr_assert_eq(in("220 sink ESMTP\r\n"), 0);
	cr_assert_str_eq(out(), "EHLO gun.test\r\n");
	cr_assert_eq(in("250-sink.example\r\n250 STARTTLS\r\n"), 0);
	cr_assert_str_eq(out(), "STARTTLS\r\n");
	cr_assert(!gun_dialog_opened(&D), "not open before TLS");
}

/* With STARTTLS the connection is open for mail only after the EHLO over
 * TLS: a handshake that fails after the first EHLO is a failed attempt
 * (the gun would otherwise reconnect for ever) */
Test(gun_dialog, starttls_opens_only_after_the_ehlo_over_tls)
{
	struct gun_msg m = { "x\n", 2, "a@x.example", RCPT1, 1, 0 };

	up_to_starttls(&m);
	cr_assert_eq(in("220 go ahead\r\n"), 0);
	cr_assert(gun_dialog_tls_wanted(&D));
	cr_assert(!gun_dialog_opened(&D));
	gun_dialog_tls_failed(&D, "bad record");
	cr_assert(!gun_dialog_opened(&D), "a failed handshake: a failed attempt");
}

Test(gun_dialog, starttls_opens_after_the_second_ehlo_or_a_refusal)
{
	struct gun_msg m = { "x\n", 2, "a@x.example", RCPT1, 1, 0 };

	up_to_starttls(&m);
	in("220 go ahead\r\n");
	gun_dialog_tls_started(&D);
	cr_assert_str_eq(out(), "EHLO gun.test\r\n");
	cr_assert(!gun_dialog_opened(&D));
	cr_assert_eq(in(EHLO_PLAIN), 0);
	cr_assert(gun_dialog_opened(&D), "open once EHLO over TLS is accepted");

	up_to_starttls(&m);
	cr_assert_eq(in("454 4.7.0 not now\r\n"), 0);
	cr_assert(gun_dialog_opened(&D), "STARTTLS refused: on in the clear, open");
}
