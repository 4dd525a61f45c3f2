/* test_smtp_client - the SMTP client against a scripted server thread on
 * a socketpair: pipelining (the server withholds replies until DATA, so
 * a client that waited would time out), RSET owed and pipelined, refusals
 * per recipient, the wire form of the message, local refusals; and the
 * dot-stuffing encoder and host:port parsing on their own. */
#include <criterion/criterion.h>
#include <netdb.h>
#include <criterion/parameterized.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "smtp_client.h"

/* ---- the dot encoder ---------------------------------------------------- */

/* encode_all - the wire form of in, fed in pieces of step bytes */
static char *encode_all(const char *in, size_t step)
{
	static char out[4096];
	struct smtp_dot d;
	size_t n = strlen(in), off = 0, len = 0;

	smtp_dot_init(&d);
	while (off < n) {
		size_t k = n - off < step ? n - off : step;

		len += smtp_dot_encode(&d, in + off, k, out + len);
		off += k;
	}
	len += smtp_dot_finish(&d, out + len);
	out[len] = '\0';
	return out;
}

struct dot_case {
	char in[64];
	char out[96];
};

static struct dot_case dot_cases[] = {
	{ "", ".\r\n" },
	{ "a\n", "a\r\n.\r\n" },
	{ "a", "a\r\n.\r\n" },
	{ "a\r\nb\r\n", "a\r\nb\r\n.\r\n" },
	{ ".\n", "..\r\n.\r\n" },
	{ ".a\n..b\nc.d\n", "..a\r\n...b\r\nc.d\r\n.\r\n" },
	{ "x\r.y\n", "x\r\n..y\r\n.\r\n" },
	{ "a\r\r\nb", "a\r\n\r\nb\r\n.\r\n" },
	{ "a\n\n\n", "a\r\n\r\n\r\n.\r\n" },
	{ "\r\n.\r\n", "\r\n..\r\n.\r\n" },
	{ "end\r", "end\r\n.\r\n" },
};

ParameterizedTestParameters(smtp_dot, cases)
{
	return cr_make_param_array(struct dot_case, dot_cases,
	                           sizeof dot_cases / sizeof dot_cases[0]);
}

ParameterizedTest(struct dot_case *c, smtp_dot, cases)
{
	size_t step;

	for (step = 1; step <= 8; step++)
		cr_assert_str_eq(encode_all(c->in, step), c->out,
		                 "input %s step %zu", c->in, step);
}

Test(smtp_dot, never_a_bare_cr_or_lf)
{
	static const char alphabet[] = "\r\n.a";
	char in[64], *out;
	unsigned seed = 7;
	int round;
	size_t i;

	for (round = 0; round < 2000; round++) {
		size_t n = 1 + round % 60;

		for (i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			in[i] = alphabet[(seed >> 16) % 4];
		}
		in[n] = '\0';
		out = encode_all(in, 1 + round % 5);
		for (i = 0; out[i]; i++) {
			if (out[i] == '\r')
				cr_assert_eq(out[i + 1], '\n');
			if (out[i] == '\n')
				cr_assert(i > 0 && out[i - 1] == '\r');
		}
		/* the only line that is a lone dot is the last one */
		if (strstr(out, "\r\n.\r\n") != NULL)
			cr_assert_eq(strstr(out, "\r\n.\r\n"),
			             out + strlen(out) - 5);
		if (strncmp(out, ".\r\n", 3) == 0)
			cr_assert_eq(strlen(out), 3);
	}
}

/* ---- host:port ------------------------------------------------------- */

Test(smtp_client, parse_hostport)
{
	char h[64], p[16];

	cr_assert_eq(smtp_parse_hostport("127.0.0.1:25", "2525", h, sizeof h, p,
	                                 sizeof p), 0);
	cr_assert_str_eq(h, "127.0.0.1");
	cr_assert_str_eq(p, "25");
	cr_assert_eq(smtp_parse_hostport("mx.example", "2525", h, sizeof h, p,
	                                 sizeof p), 0);
	cr_assert_str_eq(h, "mx.example");
	cr_assert_str_eq(p, "2525");
	cr_assert_eq(smtp_parse_hostport("[::1]:587", "25", h, sizeof h, p,
	                                 sizeof p), 0);
	cr_assert_str_eq(h, "::1");
	cr_assert_str_eq(p, "587");
	cr_assert_eq(smtp_parse_hostport("::1", "25", h, sizeof h, p, sizeof p), 0);
	cr_assert_str_eq(h, "::1");
	cr_assert_str_eq(p, "25");
	cr_assert_eq(smtp_parse_hostport("[::1]", "25", h, sizeof h, p,
	                                 sizeof p), 0);
	cr_assert_str_eq(h, "::1");
	cr_assert_eq(smtp_parse_hostport("host:", "25", h, sizeof h, p,
	                                 sizeof p), -1);
	cr_assert_eq(smtp_parse_hostport("[::1", "25", h, sizeof h, p,
	                                 sizeof p), -1);
	cr_assert_eq(smtp_parse_hostport("a b:25", "25", h, sizeof h, p,
	                                 sizeof p), -1);
	cr_assert_eq(smtp_parse_hostport(":25", "25", h, sizeof h, p,
	                                 sizeof p), -1);
}

/* ---- a scripted server ------------------------------------------------ */

struct step {
	const char *expect;        /* the command line must start with this */
	const char *reply;
};

struct server {
	int fd;
	int batch;                 /* hold replies until DATA, ".", QUIT... */
	const struct step *steps;
	size_t nsteps, at;
	char got[65536];           /* everything the client sent */
	size_t gotlen;
	char bad[256];             /* the first surprise, if any */
};

/* server_main - answer the script; record what came */
static void *server_main(void *arg)
{
	struct server *s = arg;
	char line[200], pending[8192];
	size_t ll = 0, pl = 0;
	int in_data = 0;
	char ch;

	if (write(s->fd, "220 test ESMTP\r\n", 16) < 0)
		return NULL;
	while (read(s->fd, &ch, 1) == 1) {
		if (s->gotlen < sizeof s->got)
			s->got[s->gotlen++] = ch;
		if (ll < sizeof line - 1)
			line[ll++] = ch;
		if (ch != '\n')
			continue;
		line[ll] = '\0';
		ll = 0;
		if (in_data && strcmp(line, ".\r\n") != 0)
			continue;
		if (s->at >= s->nsteps) {
			snprintf(s->bad, sizeof s->bad, "unexpected: %s", line);
			break;
		}
		if (strncmp(line, s->steps[s->at].expect,
		            strlen(s->steps[s->at].expect)) != 0) {
			snprintf(s->bad, sizeof s->bad, "step %zu: got %s", s->at,
			         line);
			break;
		}
		in_data = strncmp(line, "DATA", 4) == 0 &&
		          strncmp(s->steps[s->at].reply, "354", 3) == 0;
		pl += (size_t)snprintf(pending + pl, sizeof pending - pl, "%s",
		                       s->steps[s->at++].reply);
		if (!s->batch || (strncmp(line, "MAIL", 4) != 0 &&
		                  strncmp(line, "RCPT", 4) != 0 &&
		                  strncmp(line, "RSET", 4) != 0)) {
			if (write(s->fd, pending, pl) < 0)
				break;
			pl = 0;
		}
		if (strncmp(line, "QUIT", 4) == 0)
			break;
	}
	close(s->fd);
	return NULL;
}

static struct server srv;
static pthread_t srv_thread;
static struct smtp_client cli;

/* start_server - the server thread on a socketpair answering EHLO with
 * ehlo_reply, then steps (copied into all, n + 1 room); the client
 * initialised on the other end */
static void start_server(struct step *all, const char *ehlo_reply,
                         const struct step *steps, size_t n, int batch,
                         struct smtp_timeouts *to, int sv[2])
{
	all[0].expect = "EHLO client.example";
	all[0].reply = ehlo_reply;
	memcpy(all + 1, steps, n * sizeof *steps);
	memset(&srv, 0, sizeof srv);
	srv.steps = all;
	srv.nsteps = n + 1;
	srv.batch = batch;
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	srv.fd = sv[1];
	cr_assert_eq(pthread_create(&srv_thread, NULL, server_main, &srv), 0);
	smtp_timeouts_all(to, 2000);
	smtp_client_init(&cli, to);
	stream_init(&cli.io, sv[0]);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	strcpy(cli.peer, "test");
}

/* start - client and server on a socketpair; greeting and EHLO done */
static void start(const struct step *steps, size_t n, int batch,
                  const char *ehlo_reply)
{
	static struct step all[32];
	struct smtp_timeouts to;
	struct smtp_result res;
	int sv[2];

	cr_assert_lt(n, 31);
	start_server(all, ehlo_reply, steps, n, batch, &to, sv);
	cr_assert_eq(smtp_client_handshake(&cli, "client.example", &res), 0,
	             "%s", res.st.text);
}

/* finish - QUIT, join the server, no surprises on its side */
static void finish(void)
{
	struct smtp_result res;

	if (smtp_client_connected(&cli))
		smtp_client_quit(&cli, &res);
	pthread_join(srv_thread, NULL);
	srv.got[srv.gotlen < sizeof srv.got ? srv.gotlen : sizeof srv.got - 1] = 0;
	cr_assert_str_empty(srv.bad, "server: %s", srv.bad);
}

static const char *EHLO_PIPE = "250-test\r\n250-PIPELINING\r\n"
                               "250-SIZE 1000\r\n250 8BITMIME\r\n";

Test(smtp_client, pipelined_transaction_with_one_refusal)
{
	static const struct step st[] = {
		{ "MAIL FROM:<a@x.example> SIZE=9", "250 2.1.0 ok\r\n" },
		{ "RCPT TO:<b@y.example>", "250 2.1.5 ok\r\n" },
		{ "RCPT TO:<c@y.example>", "550 5.1.1 no such user\r\n" },
		{ "RCPT TO:<d@y.example>", "250 2.1.5 ok\r\n" },
		{ "DATA", "354 go\r\n" },
		{ ".", "250 2.0.0 queued as X1\r\n" },
		{ "QUIT", "221 bye\r\n" },
	};
	const char *rcpt[] = { "b@y.example", "c@y.example", "d@y.example" };
	struct smtp_result rres[3], res;
	struct smtp_tx tx = { "a@x.example", rcpt, 3, ".hi\nthere", 9, -1, 0, 0, 0, NULL, NULL, NULL, NULL, NULL };

	/* batch: replies only come after DATA, so this only works pipelined */
	start(st, sizeof st / sizeof st[0], 1, EHLO_PIPE);
	cr_assert(cli.d.ext & SMTP_EXT_PIPELINING);
	cr_assert(cli.d.ext & SMTP_EXT_SIZE);
	cr_assert_eq(cli.d.size_max, 1000);
	cr_assert_eq(smtp_client_send(&cli, &tx, rres, &res), 0, "%s", res.st.text);
	cr_assert_eq(res.reply.code, 250);
	cr_assert_str_eq(res.reply.text, "queued as X1");
	cr_assert_eq(rres[0].st.kind, ST_OK);
	cr_assert_eq(rres[0].stage, SMTP_STAGE_DOT);
	cr_assert_eq(rres[1].st.kind, ST_PERM);
	cr_assert_eq(rres[1].stage, SMTP_STAGE_RCPT);
	cr_assert_eq(rres[1].reply.code, 550);
	cr_assert_eq(rres[1].st.subject, 1);
	cr_assert_eq(rres[1].st.detail, 1);
	cr_assert_str_eq(rres[1].st.text, "550 5.1.1 no such user");
	cr_assert_eq(rres[2].st.kind, ST_OK);
	finish();
	cr_assert_not_null(strstr(srv.got, "DATA\r\n..hi\r\nthere\r\n.\r\nQUIT"),
	                   "got: %s", srv.got);
}

Test(smtp_client, all_refused_then_rset_rides_with_next_mail)
{
	static const struct step st[] = {
		{ "MAIL FROM:<> SIZE=2", "250 ok\r\n" },
		{ "RCPT TO:<b@y.example>", "450 4.2.1 busy\r\n" },
		{ "RCPT TO:<c@y.example>", "550 5.1.1 unknown\r\n" },
		{ "DATA", "554 5.5.1 no valid recipients\r\n" },
		{ "RSET", "250 ok\r\n" },
		{ "MAIL FROM:<> SIZE=2", "250 ok\r\n" },
		{ "RCPT TO:<d@y.example>", "250 ok\r\n" },
		{ "DATA", "354 go\r\n" },
		{ ".", "250 ok\r\n" },
		{ "QUIT", "221 bye\r\n" },
	};
	const char *r1[] = { "b@y.example", "c@y.example" };
	const char *r2[] = { "d@y.example" };
	struct smtp_result rres[2], res;
	struct smtp_tx tx = { "", r1, 2, "x\n", 2, -1, 0, 0, 0, NULL, NULL, NULL, NULL, NULL };

	start(st, sizeof st / sizeof st[0], 1, EHLO_PIPE);
	cr_assert_eq(smtp_client_send(&cli, &tx, rres, &res), -1);
	cr_assert_eq(res.st.kind, ST_TEMP, "a 4xx among them: temporary");
	cr_assert_eq(res.stage, SMTP_STAGE_RCPT);
	cr_assert_eq(res.reply.code, 450);
	cr_assert(cli.d.need_rset);
	tx.rcpt = r2;
	tx.nrcpt = 1;
	cr_assert_eq(smtp_client_send(&cli, &tx, rres, &res), 0, "%s", res.st.text);
	cr_assert_not(cli.d.need_rset);
	finish();
}

Test(smtp_client, dot_sent_when_354_comes_with_no_recipient)
{
	static const struct step st[] = {
		{ "MAIL FROM:<a@x.example>", "250 ok\r\n" },
		{ "RCPT TO:<b@y.example>", "550 no\r\n" },
		{ "DATA", "354 go anyway\r\n" },
		{ ".", "554 no valid recipients\r\n" },
		{ "MAIL FROM:<a@x.example>", "250 ok\r\n" },
		{ "RCPT TO:<b@y.example>", "250 ok\r\n" },
		{ "DATA", "354 go\r\n" },
		{ ".", "250 ok\r\n" },
		{ "QUIT", "221 bye\r\n" },
	};
	const char *r[] = { "b@y.example" };
	struct smtp_result rres[1], res;
	struct smtp_tx tx = { "a@x.example", r, 1, "secret\n", 7, -1, 0, 0, 0, NULL, NULL, NULL, NULL, NULL };

	start(st, sizeof st / sizeof st[0], 1, EHLO_PIPE);
	cr_assert_eq(smtp_client_send(&cli, &tx, rres, &res), -1);
	cr_assert_eq(res.st.kind, ST_PERM);
	cr_assert_not(cli.d.need_rset, "the dot ended the transaction");
	cr_assert_eq(smtp_client_send(&cli, &tx, rres, &res), 0);
	finish();
	cr_assert_not_null(strstr(srv.got, "DATA\r\n.\r\nMAIL"),
	                   "the message must not go to nobody: %s", srv.got);
}

Test(smtp_client, without_pipelining_one_at_a_time)
{
	static const struct step st[] = {
		{ "MAIL FROM:<a@x.example>\r\n", "553 5.1.8 bad sender\r\n" },
		{ "MAIL FROM:<a@x.example>\r\n", "250 ok\r\n" },
		{ "RCPT TO:<b@y.example>", "250 ok\r\n" },
		{ "DATA", "354 go\r\n" },
		{ ".", "250 ok\r\n" },
		{ "QUIT", "221 bye\r\n" },
	};
	const char *r[] = { "b@y.example" };
	struct smtp_result rres[1], res;
	struct smtp_tx tx = { "a@x.example", r, 1, "a\n", 2, -1, 0, 0, 0, NULL, NULL, NULL, NULL, NULL };

	/* not batch: a pipelining client would trip the script order */
	start(st, sizeof st / sizeof st[0], 0, "250 test\r\n");
	cr_assert_eq(cli.d.ext, 0);
	cr_assert_eq(smtp_client_send(&cli, &tx, rres, &res), -1);
	cr_assert_eq(res.stage, SMTP_STAGE_MAIL);
	cr_assert_eq(res.st.kind, ST_PERM);
	cr_assert_eq(rres[0].reply.code, 553, "recipients share MAIL's refusal");
	cr_assert_not(cli.d.need_rset);
	cr_assert_eq(smtp_client_send(&cli, &tx, rres, &res), 0);
	finish();
	cr_assert_null(strstr(srv.got, "SIZE="), "no SIZE unless offered");
}

Test(smtp_client, message_from_fd_and_local_refusals)
{
	static const struct step st[] = {
		{ "MAIL FROM:<a@x.example> SIZE=11 BODY=8BITMIME\r\n", "250 ok\r\n" },
		{ "RCPT TO:<good@y.example>", "250 ok\r\n" },
		{ "DATA", "354 go\r\n" },
		{ ".", "250 ok\r\n" },
		{ "QUIT", "221 bye\r\n" },
	};
	const char *r[] = { "evil@y.example>\r\nRSET", "good@y.example" };
	struct smtp_result rres[2], res;
	struct smtp_tx tx = { "a@x.example", r, 2, NULL, 0, -1, 0, 1, 0, NULL, NULL, NULL, NULL, NULL };
	FILE *f = tmpfile();
	char big[2000];

	cr_assert_not_null(f);
	fputs("..\n\xc3\xa9t\xc3\xa9\r\n.", f);
	fflush(f);
	rewind(f);
	tx.fd = fileno(f);
	start(st, sizeof st / sizeof st[0], 1, EHLO_PIPE);
	cr_assert_eq(smtp_client_send(&cli, &tx, rres, &res), 0, "%s", res.st.text);
	cr_assert_eq(rres[0].st.kind, ST_PERM);
	cr_assert_eq(rres[0].reply.code, 0, "refused here, never sent");
	cr_assert_eq(rres[1].st.kind, ST_OK);
	/* over the server's SIZE 1000: refused before anything is sent */
	memset(big, 'x', sizeof big);
	tx.fd = -1;
	tx.data = big;
	tx.len = sizeof big;
	tx.rcpt = r + 1;
	tx.nrcpt = 1;
	cr_assert_eq(smtp_client_send(&cli, &tx, rres, &res), -1);
	cr_assert_eq(res.st.kind, ST_PERM);
	cr_assert_eq(res.st.subject, 3);
	cr_assert_eq(res.st.detail, 4);
	finish();
	fclose(f);
	cr_assert_not_null(strstr(srv.got, "DATA\r\n...\r\n\xc3\xa9t\xc3\xa9\r\n"
	                                    "..\r\n.\r\nQUIT"), "got: %s", srv.got);
	cr_assert_null(strstr(srv.got, "evil"));
}

Test(smtp_client, closed_client_fails_fast)
{
	struct smtp_client c;
	struct smtp_result res, rres[1];
	const char *r[] = { "b@y.example" };
	struct smtp_tx tx = { "a@x.example", r, 1, "a\n", 2, -1, 0, 0, 0, NULL, NULL, NULL, NULL, NULL };

	smtp_client_init(&c, NULL);
	cr_assert_eq(smtp_client_send(&c, &tx, rres, &res), -1);
	cr_assert_eq(res.st.kind, ST_TEMP);
	cr_assert_eq(rres[0].st.kind, ST_TEMP);
	cr_assert_eq(smtp_client_quit(&c, &res), -1);
	cr_assert_eq(c.to.dot, 600000, "RFC 5321 default: 10 minutes");
	cr_assert_eq(c.to.data, 120000, "RFC 5321 default: 2 minutes");
}

/* ---- lines over 998 octets (RFC 5321 4.5.3.1.6) ------------------------- */

/* split_encode - a message through a splitting encoder, in pieces of k */
static size_t split_encode(const char *in, size_t n, size_t k, char *out)
{
	struct smtp_dot d;
	size_t len = 0, off;

	smtp_dot_init(&d);
	d.split = 1;
	for (off = 0; off < n; off += k)
		len += smtp_dot_encode(&d, in + off, n - off < k ? n - off : k, out + len);
	len += smtp_dot_finish(&d, out + len);
	return len;
}

Test(smtp_dot, long_lines_split_with_crlf_space)
{
	static char in[5000], out[SMTP_DOT_OUT_MAX(5000) + 5], first[SMTP_DOT_OUT_MAX(5000) + 5];
	static const size_t pieces[] = { 1, 3, 997, 998, 999, 5000 };
	size_t n, len, i, col = 0, lines = 0;

	in[0] = '.';
	for (n = 1; n < 2500; n++)
		in[n] = (char)('a' + n % 26);
	in[n++] = '\n';
	memset(in + n, 'z', 998);          /* exactly 998: not split */
	n += 998;
	in[n++] = '\n';
	len = split_encode(in, n, n, first);
	for (i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
		cr_assert_eq(split_encode(in, n, pieces[i], out), len);
		cr_assert_eq(memcmp(out, first, len), 0, "pieces of %zu", pieces[i]);
	}
	for (i = 0; i < len; i++) {
		if (first[i] == '\r') {
			cr_assert_leq(col, 998, "line %zu has %zu octets", lines, col);
			col = 0;
			lines++;
			i++;
			continue;
		}
		col++;
	}
	/* ".abc..." stuffed: 2501 octets -> 998 + (1 + 997) + (1 + 506) */
	cr_assert_eq(lines, 5, "3 pieces of the long line, the 998 one, the dot");
	cr_assert_eq(memcmp(first, "..", 2), 0);
	cr_assert_eq(memcmp(first + 998, "\r\n ", 3), 0);
	cr_assert_eq(memcmp(first + 998 + 3 + 997, "\r\n ", 3), 0);
}

Test(smtp_dot, no_split_unless_asked)
{
	static char in[2000], out[4005];
	struct smtp_dot d;
	size_t len;

	memset(in, 'x', sizeof in);
	smtp_dot_init(&d);
	len = smtp_dot_encode(&d, in, sizeof in, out);
	cr_assert_eq(len, sizeof in, "the gun's encoder keeps its 2n bound");
}

Test(smtp_client, resolve_takes_address_literals)
{
	struct addrinfo *ai = NULL;
	struct status why;

	cr_assert_eq(smtp_resolve("[127.0.0.1]", "25", &ai, &why), 0);
	freeaddrinfo(ai);
	cr_assert_eq(smtp_resolve("[IPv6:::1]", "25", &ai, &why), 0,
	             "the IPv6: tag of an RFC 5321 literal: %s", why.text);
	cr_assert_eq(ai->ai_family, AF_INET6);
	freeaddrinfo(ai);
}

/* ---- TLS policies that decide before any handshake -------------------- */

/* tls_hello - greeting and EHLO (ehlo_reply), then steps, under policy
 * with a client context; the handshake's result, res its reason */
static int tls_hello(enum tls_policy policy, const char *ehlo_reply,
                     const struct step *steps, size_t n,
                     struct smtp_result *res)
{
	static struct step all[8];
	struct smtp_timeouts to;
	char err[200];
	int sv[2], rc;

	cr_assert_lt(n, 7);
	struct tls_ctx *ctx = tls_client_ctx(NULL, err, sizeof err);

	cr_assert_not_null(ctx, "%s", err);
	/* the client leaves after its QUIT without awaiting the 221: the
	 * server's write of it may find the socket closed */
	signal(SIGPIPE, SIG_IGN);
	start_server(all, ehlo_reply, steps, n, 0, &to, sv);
	smtp_client_tls(&cli, policy, ctx, "mx.example");
	rc = smtp_client_handshake(&cli, "client.example", res);
	cr_assert_null(cli.tls_ctx, "the context is not kept past the handshake");
	tls_ctx_put(ctx);
	return rc;
}

static const char *EHLO_TLS = "250-test\r\n250-STARTTLS\r\n250 8BITMIME\r\n";
static const struct step refuse_tls[] = {
	{ "STARTTLS", "454 4.7.0 TLS not available\r\n" },
	{ "QUIT", "221 bye\r\n" },
};
static const struct step just_quit[] = { { "QUIT", "221 bye\r\n" } };

/* encrypt: not offered, or refused: 4.7.4, a QUIT, never a MAIL */
Test(smtp_client, tls_encrypt_needs_starttls)
{
	struct smtp_result res;

	cr_assert_eq(tls_hello(TLS_POLICY_ENCRYPT, EHLO_PIPE, just_quit, 1, &res), -1);
	cr_assert_eq(res.st.kind, ST_TEMP);
	cr_assert(res.st.subject == 7 && res.st.detail == 4, "%d.%d",
	          res.st.subject, res.st.detail);
	cr_assert(strstr(res.st.text, "TLS is required (encrypt), but the server "
	                 "offers no STARTTLS"), "%s", res.st.text);
	cr_assert_eq(res.reply.code, 0, "no server reply to quote");
	finish();
	cr_assert(!smtp_client_connected(&cli));

	cr_assert_eq(tls_hello(TLS_POLICY_VERIFY, EHLO_TLS, refuse_tls, 2, &res), -1);
	cr_assert(res.st.subject == 7 && res.st.detail == 4);
	cr_assert(strstr(res.st.text, "TLS is required (verify), but STARTTLS was "
	                 "refused: 454 4.7.0 TLS not available"), "%s", res.st.text);
	finish();
}

/* may: not offered, or refused: on in plaintext; none: no STARTTLS said */
Test(smtp_client, tls_may_goes_on_in_plaintext)
{
	struct smtp_result res;
	char text[200];

	cr_assert_eq(tls_hello(TLS_POLICY_MAY, EHLO_PIPE, just_quit, 1, &res), 0);
	cr_assert(smtp_client_connected(&cli) && cli.io.tls == NULL);
	smtp_client_tls_text(&cli, text, sizeof text);
	cr_assert_str_eq(text, "tls=none verify=none policy=may");
	finish();
	cr_assert_eq(tls_hello(TLS_POLICY_MAY, EHLO_TLS, refuse_tls, 2, &res), 0);
	cr_assert(smtp_client_connected(&cli) && cli.io.tls == NULL);
	finish();
	cr_assert_eq(tls_hello(TLS_POLICY_NONE, EHLO_TLS, just_quit, 1, &res), 0);
	finish();
	cr_assert(strstr(srv.got, "STARTTLS") == NULL, "none: %s", srv.got);
}
