/* test_header.c - header completion: exact output, hop counting, limits,
 * and the same output however the message is cut into pieces. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "header.h"

/* 2026-11-23 08:14:27 UTC: every expected date below depends on it */
#define ARRIVAL ((time_t)1795421667)
#define DATE "Mon, 23 Nov 2026 08:14:27 +0000"
#define RCVD "Received: from client.example.com ([192.0.2.1])\n" \
             "\tby mx.example.org (mta) with ESMTP id ABC123\n" \
             "\tfor <bob@example.org>; " DATE "\n"
#define ADD_DATE "Date: " DATE "\n"
#define ADD_FROM "From: alice@example.com\n"
#define ADD_MSGID "Message-ID: <ABC123@mx.example.org>\n"
#define ADD_ALL ADD_DATE ADD_FROM ADD_MSGID
#define FULL "From: Carol <carol@example.net>\n" \
             "Date: Sun, 22 Nov 2026 10:00:00 +0100\n" \
             "Message-ID: <x1@example.net>\n" \
             "Subject: hi\n"

/* What header->out() produced, NUL-terminated for readable asserts. */
struct sink {
	char *buf;
	size_t len, cap;
};

/* sink_out - the out() callback: append */
static void sink_out(void *ctx, const char *p, size_t n)
{
	struct sink *s = ctx;

	if (s->len + n + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 256;

		while (s->len + n + 1 > cap)
			cap *= 2;
		s->buf = realloc(s->buf, cap);
		cr_assert_not_null(s->buf);
		s->cap = cap;
	}
	memcpy(s->buf + s->len, p, n);
	s->len += n;
	s->buf[s->len] = '\0';
}

/* sink_reset - empty again, keeping the buffer */
static void sink_reset(struct sink *s)
{
	s->len = 0;
	if (s->buf != NULL)
		s->buf[0] = '\0';
}

/* utc - every test starts in UTC so that dates are fixed */
static void utc(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
}

TestSuite(header, .init = utc);

/* info - the default message facts */
static struct header_info info(void)
{
	struct header_info in = {
		.hostname = "mx.example.org",
		.helo = "client.example.com",
		.client_ip = "192.0.2.1",
		.id = "ABC123",
		.sender = "alice@example.com",
		.rcpt = "bob@example.org",
		.esmtp = 1,
		.arrival = ARRIVAL,
		.max_received = 100,
	};
	return in;
}

/* A small deterministic generator: the property test must repeat. */
static unsigned long long rng_state;

/* rng - xorshift64 */
static unsigned rng(unsigned bound)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % bound);
}

enum cut { WHOLE, BYTES, RANDOM };

/* feed_line - one line p[0..n), cut as asked; eol as given */
static void feed_line(struct header *h, const char *p, size_t n, int eol,
                      enum cut cut)
{
	size_t i = 0, k;

	if (cut == WHOLE) {
		header_feed(h, p, n, eol);
		return;
	}
	for (;;) {
		k = cut == BYTES ? 1 : rng(9);        /* 0: an empty piece */
		if (k > n - i)
			k = n - i;
		if (i + k < n) {
			header_feed(h, p + i, k, 0);
			i += k;
			continue;
		}
		/* the last piece carries the eol, or leaves it to an empty
		 * piece of its own, as when CRLF arrives in the next read */
		if (eol && cut == RANDOM && rng(2)) {
			header_feed(h, p + i, k, 0);
			header_feed(h, "", 0, 1);
		} else {
			header_feed(h, p + i, k, eol);
		}
		return;
	}
}

/* run - the message msg[0..len) (lines end in LF; a last line without LF
 * is fed unfinished) through a header, output into s */
static enum header_result run(const struct header_info *in, const char *msg,
                              size_t len, struct sink *s, enum cut cut)
{
	struct header h;
	const char *p = msg, *end = msg + len, *nl;

	sink_reset(s);
	header_begin(&h, in, sink_out, s);
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL) {
			feed_line(&h, p, (size_t)(end - p), 0, cut);
			break;
		}
		feed_line(&h, p, (size_t)(nl - p), 1, cut);
		p = nl + 1;
	}
	return header_end(&h);
}

/* run_str - run() on a C string, whole lines */
static enum header_result run_str(const struct header_info *in,
                                  const char *msg, struct sink *s)
{
	return run(in, msg, strlen(msg), s, WHOLE);
}

/* Messages with their exact completed form (default info). */
static const struct {
	const char *name, *in, *out;
} cases[] = {
	{ "complete header", FULL "\nbody\n", RCVD FULL "\nbody\n" },
	{ "missing Date",
	  "From: a@b.example\nMessage-ID: <x@y>\n\nbody\n",
	  RCVD "From: a@b.example\nMessage-ID: <x@y>\n" ADD_DATE "\nbody\n" },
	{ "missing From",
	  "Date: x\nMessage-ID: <x@y>\n\nbody\n",
	  RCVD "Date: x\nMessage-ID: <x@y>\n" ADD_FROM "\nbody\n" },
	{ "missing Message-ID",
	  "Date: x\nFrom: a@b.example\n\nbody\n",
	  RCVD "Date: x\nFrom: a@b.example\n" ADD_MSGID "\nbody\n" },
	{ "missing all", "Subject: hi\n\nbody\n",
	  RCVD "Subject: hi\n" ADD_ALL "\nbody\n" },
	{ "no body", "Subject: hi\n\n", RCVD "Subject: hi\n" ADD_ALL "\n" },
	{ "ends inside the header", "Subject: hi\n",
	  RCVD "Subject: hi\n" ADD_ALL },
	{ "empty message", "", RCVD ADD_ALL },
	{ "only the empty line", "\n", RCVD ADD_ALL "\n" },
	{ "body only", "\nbody\n", RCVD ADD_ALL "\nbody\n" },
	{ "non-field line ends header",
	  "Subject: hi\nthis is text\nFrom: x@y\n",
	  RCVD "Subject: hi\n" ADD_ALL "\nthis is text\nFrom: x@y\n" },
	{ "continuation lines",
	  "Subject: a\n b\n\tc\n Date: not a field\nFrom: x@y\n\nbody\n",
	  RCVD "Subject: a\n b\n\tc\n Date: not a field\nFrom: x@y\n"
	  ADD_DATE ADD_MSGID "\nbody\n" },
	{ "white space only continuation", "Subject: a\n \n\t\n\nb\n",
	  RCVD "Subject: a\n \n\t\n" ADD_ALL "\nb\n" },
	{ "continuation first is body", " indented\nSubject: x\n\nb\n",
	  RCVD ADD_ALL "\n indented\nSubject: x\n\nb\n" },
	{ "obsolete white space before colon",
	  "From : a@b.example\nDate\t: x\nMessage-ID \t : <x@y>\n\nb\n",
	  RCVD "From : a@b.example\nDate\t: x\nMessage-ID \t : <x@y>\n\nb\n" },
	{ "mbox From line is body",
	  "From alice@example.com Mon Nov 23 08:00:00 2026\nSubject: x\n\nb\n",
	  RCVD ADD_ALL "\nFrom alice@example.com Mon Nov 23 08:00:00 2026\n"
	  "Subject: x\n\nb\n" },
	{ "name then white space then text", "Subject: a\nFrom \t x\n",
	  RCVD "Subject: a\n" ADD_ALL "\nFrom \t x\n" },
	{ "names without case", "FROM: a@b\ndate: x\nmessage-id: <x@y>\n\n",
	  RCVD "FROM: a@b\ndate: x\nmessage-id: <x@y>\n\n" },
	{ "empty values count", "From:\nDate:\nMessage-ID:\n",
	  RCVD "From:\nDate:\nMessage-ID:\n" },
	{ "longer names do not count",
	  "From-X: a\nDates: b\nMessage-IDs: c\nX-From: d\n\n",
	  RCVD "From-X: a\nDates: b\nMessage-IDs: c\nX-From: d\n" ADD_ALL "\n" },
	{ "fields in the body do not count", "Subject: a\n\nFrom: x@y\nDate: z\n",
	  RCVD "Subject: a\n" ADD_ALL "\nFrom: x@y\nDate: z\n" },
	{ "colon first is body", "Subject: a\n: odd\n",
	  RCVD "Subject: a\n" ADD_ALL "\n: odd\n" },
	{ "control octet in name", "Sub\x01ject: a\n",
	  RCVD ADD_ALL "\nSub\x01ject: a\n" },
	{ "8-bit octet in name", "S\xc3\xbc: a\n", RCVD ADD_ALL "\nS\xc3\xbc: a\n" },
	{ "DEL in name", "X\x7f: a\n", RCVD ADD_ALL "\nX\x7f: a\n" },
	{ "8-bit and colons in values",
	  "Subject: caf\xc3\xa9: a:b\n\nb\xff\n",
	  RCVD "Subject: caf\xc3\xa9: a:b\n" ADD_ALL "\nb\xff\n" },
	{ "unfinished field line", "Subject: hi",
	  RCVD "Subject: hi\n" ADD_ALL },
	{ "unfinished undecided line", "Subject: hi\nfoo",
	  RCVD "Subject: hi\n" ADD_ALL "\nfoo\n" },
	{ "unfinished undecided name", "Subj",
	  RCVD ADD_ALL "\nSubj\n" },
	{ "unfinished body line", "Subject: hi\n\nbody",
	  RCVD "Subject: hi\n" ADD_ALL "\nbody\n" },
	{ "empty lines in the body kept", "S: a\n\n\n\nx\n\n",
	  RCVD "S: a\n" ADD_ALL "\n\n\nx\n\n" },
	{ "Received fields pass unchanged",
	  "Received: from a by b; x\n\tcont\nreceived : y\nSubject: z\n\nb\n",
	  RCVD "Received: from a by b; x\n\tcont\nreceived : y\nSubject: z\n"
	  ADD_ALL "\nb\n" },
};

Test(header, exact_output)
{
	struct header_info in = info();
	struct sink s = { 0 };
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cr_assert_eq(run_str(&in, cases[i].in, &s), HEADER_OK, "%s",
		             cases[i].name);
		cr_assert_str_eq(s.buf, cases[i].out, "%s", cases[i].name);
	}
	free(s.buf);
}

Test(header, pieces_give_the_same_output)
{
	struct header_info in = info();
	struct sink whole = { 0 }, cut = { 0 };
	enum header_result r;
	size_t i;
	unsigned seed;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t len = strlen(cases[i].in);

		r = run(&in, cases[i].in, len, &whole, WHOLE);
		cr_assert_eq(run(&in, cases[i].in, len, &cut, BYTES), r);
		cr_assert_str_eq(cut.buf, whole.buf, "%s, 1-byte pieces",
		                 cases[i].name);
		for (seed = 1; seed <= 200; seed++) {
			rng_state = 0x9e3779b97f4a7c15ULL * seed;
			cr_assert_eq(run(&in, cases[i].in, len, &cut, RANDOM), r);
			cr_assert_str_eq(cut.buf, whole.buf, "%s, seed %u",
			                 cases[i].name, seed);
		}
	}
	free(whole.buf);
	free(cut.buf);
}

/* random_message - up to 12 lines drawn from a mix of fields, text,
 * continuations and empty lines, maybe unfinished, into m; its length */
static size_t random_message(char *m, size_t cap)
{
	static const char *const line[] = {
		"From: a@b.example", "Received: from x by y; z", "RECEIVED :z",
		"Date: d", "message-id: <m@i>", "Subject: s", " continued",
		"\tcontinued", "", "", "text", "From alice@b.example Mon",
		"From \t: obsolete", "Subj", ":x", "X-\xff: 8bit", "a:b:c",
		"    ", "From\t", "Message-ID", "Dat e: no",
	};
	size_t len = 0, i, n = rng(13);

	for (i = 0; i < n; i++)
		len += (size_t)snprintf(m + len, cap - len, "%s\n",
		                        line[rng(sizeof line / sizeof line[0])]);
	if (len > 1 && rng(3) == 0)
		m[--len] = '\0';                   /* unfinished last line */
	return len;
}

Test(header, random_messages_same_output_in_pieces)
{
	struct header_info in = info();
	struct sink whole = { 0 }, cut = { 0 };
	enum header_result r;
	char m[1024];
	size_t len;
	unsigned i;

	rng_state = 88172645463325252ULL;
	for (i = 0; i < 2000; i++) {
		len = random_message(m, sizeof m);
		in.sender = rng(2) ? "alice@example.com" : "";
		in.max_received = rng(3);
		r = run(&in, m, len, &whole, WHOLE);
		cr_assert_eq(run(&in, m, len, &cut, BYTES), r);
		cr_assert_str_eq(cut.buf, whole.buf, "message %u, 1-byte", i);
		cr_assert_eq(run(&in, m, len, &cut, RANDOM), r);
		cr_assert_str_eq(cut.buf, whole.buf, "message %u, random", i);
		/* every output line is finished */
		cr_assert_eq(whole.buf[whole.len - 1], '\n');
	}
	free(whole.buf);
	free(cut.buf);
}

Test(header, body_and_decided_lines_are_not_held_back)
{
	struct header_info in = info();
	struct sink s = { 0 };
	struct header h;
	size_t before;

	header_begin(&h, &in, sink_out, &s);
	cr_assert_str_eq(s.buf, RCVD);
	header_feed(&h, "Subj", 4, 0);             /* undecided: may wait */
	before = s.len;
	header_feed(&h, "ect: a", 6, 0);           /* decided: all out */
	cr_assert_str_eq(s.buf, RCVD "Subject: a");
	cr_assert_gt(s.len, before);
	header_feed(&h, "bc", 2, 0);
	cr_assert_str_eq(s.buf, RCVD "Subject: abc");
	header_feed(&h, "", 0, 1);
	header_feed(&h, "", 0, 1);                 /* the empty line */
	cr_assert_str_eq(s.buf, RCVD "Subject: abc\n" ADD_ALL "\n");
	header_feed(&h, "bo", 2, 0);
	cr_assert_str_eq(s.buf, RCVD "Subject: abc\n" ADD_ALL "\nbo");
	header_feed(&h, "dy", 2, 1);
	cr_assert_str_eq(s.buf, RCVD "Subject: abc\n" ADD_ALL "\nbody\n");
	cr_assert_eq(header_end(&h), HEADER_OK);
	cr_assert_str_eq(s.buf, RCVD "Subject: abc\n" ADD_ALL "\nbody\n");
	free(s.buf);
}

Test(header, begin_starts_afresh)
{
	struct header_info in = info();
	struct sink s = { 0 };
	struct header h;

	/* one struct reused for a second message forgets the first */
	cr_assert_eq(run_str(&in, "Received: x\n" FULL "\nb", &s), HEADER_OK);
	in.max_received = 0;
	header_begin(&h, &in, sink_out, &s);
	cr_assert_eq(header_end(&h), HEADER_OK);
	in.max_received = 100;
	cr_assert_eq(run_str(&in, "Subject: x\n", &s), HEADER_OK);
	cr_assert_str_eq(s.buf, RCVD "Subject: x\n" ADD_ALL);
	free(s.buf);
}

/* Our Received: field in its variants. */
static const struct {
	const char *name;
	const char *helo, *ip, *id, *rcpt;
	int esmtp;
	const char *out;
} received[] = {
	{ "default", "client.example.com", "192.0.2.1", "ABC123",
	  "bob@example.org", 1, RCVD },
	{ "SMTP", "client.example.com", "192.0.2.1", "ABC123",
	  "bob@example.org", 0,
	  "Received: from client.example.com ([192.0.2.1])\n"
	  "\tby mx.example.org (mta) with SMTP id ABC123\n"
	  "\tfor <bob@example.org>; " DATE "\n" },
	{ "IPv6", "[IPv6:2001:db8::1]", "2001:db8::1", "ABC123",
	  "bob@example.org", 1,
	  "Received: from [IPv6:2001:db8::1] ([IPv6:2001:db8::1])\n"
	  "\tby mx.example.org (mta) with ESMTP id ABC123\n"
	  "\tfor <bob@example.org>; " DATE "\n" },
	{ "several recipients: date ends the by line, exactly 78",
	  "client.example.com", "192.0.2.1", "ABC123", NULL, 1,
	  "Received: from client.example.com ([192.0.2.1])\n"
	  "\tby mx.example.org (mta) with ESMTP id ABC123; " DATE "\n" },
	{ "several recipients, 79 characters: date folded",
	  "client.example.com", "192.0.2.1", "ABC1234", NULL, 1,
	  "Received: from client.example.com ([192.0.2.1])\n"
	  "\tby mx.example.org (mta) with ESMTP id ABC1234;\n\t" DATE "\n" },
	{ "recipient line of exactly 78", "client.example.com", "192.0.2.1",
	  "ABC123", "abcdefghijklmnopqrstuvwxyz@example.org", 1,
	  "Received: from client.example.com ([192.0.2.1])\n"
	  "\tby mx.example.org (mta) with ESMTP id ABC123\n"
	  "\tfor <abcdefghijklmnopqrstuvwxyz@example.org>; " DATE "\n" },
	{ "recipient line of 79: date folded", "client.example.com",
	  "192.0.2.1", "ABC123", "abcdefghijklmnopqrstuvwxyz1@example.org", 1,
	  "Received: from client.example.com ([192.0.2.1])\n"
	  "\tby mx.example.org (mta) with ESMTP id ABC123\n"
	  "\tfor <abcdefghijklmnopqrstuvwxyz1@example.org>;\n\t" DATE "\n" },
	{ "empty HELO", "", "192.0.2.1", "ABC123", "bob@example.org", 1,
	  "Received: from unknown ([192.0.2.1])\n"
	  "\tby mx.example.org (mta) with ESMTP id ABC123\n"
	  "\tfor <bob@example.org>; " DATE "\n" },
};

/* The TLS clause, as Postfix writes it: its own line after "from",
 * and the protocol with an S (RFC 3848); a TLS 1.2 suite with its OpenSSL
 * name and fewer bits than its algorithm's; HELO over TLS is plain "SMTP"
 * (RFC 3848 defines no "SMTPS": only ESMTP takes the S); a
 * TLS session with no description has no clause, only the S. */
Test(header, received_field_under_tls)
{
	static const struct {
		struct tls_info tls;
		int esmtp;
		const char *out;
	} tls_cases[] = {
		{ { "TLSv1.3", "TLS_AES_256_GCM_SHA384", 256, 256, 0 }, 1,
		  "Received: from client.example.com ([192.0.2.1])\n"
		  "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\n"
		  "\tby mx.example.org (mta) with ESMTPS id ABC123\n"
		  "\tfor <bob@example.org>; " DATE "\n" },
		{ { "TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256", 128, 256, 0 }, 0,
		  "Received: from client.example.com ([192.0.2.1])\n"
		  "\t(using TLSv1.2 with cipher ECDHE-RSA-AES128-GCM-SHA256 (128/256 bits))\n"
		  "\tby mx.example.org (mta) with SMTP id ABC123\n"
		  "\tfor <bob@example.org>; " DATE "\n" },
		{ { "", "", 0, 0, 0 }, 1,
		  "Received: from client.example.com ([192.0.2.1])\n"
		  "\tby mx.example.org (mta) with ESMTPS id ABC123\n"
		  "\tfor <bob@example.org>; " DATE "\n" },
	};
	struct header_info in;
	struct sink s = { 0 };
	struct header h;
	size_t i;

	for (i = 0; i < sizeof tls_cases / sizeof tls_cases[0]; i++) {
		in = info();
		in.esmtp = tls_cases[i].esmtp;
		in.tls = &tls_cases[i].tls;
		sink_reset(&s);
		header_begin(&h, &in, sink_out, &s);
		cr_assert_str_eq(s.buf, tls_cases[i].out, "case %zu", i);
		header_feed(&h, FULL, strlen(FULL), 0);
		cr_assert_eq(header_end(&h), HEADER_OK);
	}
	free(s.buf);
}

Test(header, received_field)
{
	struct header_info in;
	struct sink s = { 0 };
	struct header h;
	size_t i;

	for (i = 0; i < sizeof received / sizeof received[0]; i++) {
		in = info();
		in.helo = received[i].helo;
		in.client_ip = received[i].ip;
		in.id = received[i].id;
		in.rcpt = received[i].rcpt;
		in.esmtp = received[i].esmtp;
		sink_reset(&s);
		header_begin(&h, &in, sink_out, &s);
		/* written at once, before any of the message */
		cr_assert_str_eq(s.buf, received[i].out, "%s", received[i].name);
		header_feed(&h, FULL, strlen(FULL) - 1, 0);  /* one piece, odd */
		cr_assert_eq(header_end(&h), HEADER_OK);
	}
	free(s.buf);
}

/* message_with - n Received: fields (one per spelling in turn), then a
 * short complete header and body, into a malloc'ed string */
static char *message_with(unsigned n)
{
	static const char *const spelling[] = {
		"Received: from a by b; x\n",
		"RECEIVED:x\n\tcontinued\n",
		"received \t: y\n",
	};
	size_t cap = 64 + strlen(FULL) + 32 * (size_t)n, len = 0;
	char *m = malloc(cap);
	unsigned i;

	cr_assert_not_null(m);
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(m + len, cap - len, "%s", spelling[i % 3]);
	snprintf(m + len, cap - len, "%s\nReceived: in the body\n", FULL);
	return m;
}

Test(header, received_count_at_and_over_the_limit)
{
	static const unsigned limit[] = { 0, 1, 3, 100 };
	struct header_info in = info();
	struct sink s = { 0 };
	enum cut cut;
	size_t i;
	char *m;

	for (i = 0; i < sizeof limit / sizeof limit[0]; i++) {
		in.max_received = limit[i];
		for (cut = WHOLE; cut <= BYTES; cut++) {
			m = message_with(limit[i]);
			cr_assert_eq(run(&in, m, strlen(m), &s, cut), HEADER_OK,
			             "%u Received:, limit %u", limit[i], limit[i]);
			free(m);
			m = message_with(limit[i] + 1);
			cr_assert_eq(run(&in, m, strlen(m), &s, cut), HEADER_LOOP,
			             "%u Received:, limit %u", limit[i] + 1, limit[i]);
			free(m);
		}
	}
	free(s.buf);
}

Test(header, received_counted_when_a_text_line_ends_the_header)
{
	struct header_info in = info();
	struct sink s = { 0 };

	in.max_received = 1;
	cr_assert_eq(run_str(&in, "Received: a\nReceived: b\ntext\n", &s),
	             HEADER_LOOP);
	cr_assert_eq(run_str(&in, "Received: a\ntext\nReceived: b\n", &s),
	             HEADER_OK);
	free(s.buf);
}

Test(header, null_sender_needs_a_from_field)
{
	struct header_info in = info();
	struct sink s = { 0 };

	in.sender = "";
	cr_assert_eq(run_str(&in, "Subject: x\n\nbody\n", &s), HEADER_NO_FROM);
	cr_assert_null(strstr(s.buf, "From:"));
	cr_assert_eq(run_str(&in, "", &s), HEADER_NO_FROM);
	cr_assert_eq(run_str(&in, "Subject: x\n\nFrom: x@y\n", &s),
	             HEADER_NO_FROM);
	/* a From: of the client's own completes it, obsolete form too */
	cr_assert_eq(run_str(&in, "From: MAILER-DAEMON@example.org\n\nb\n", &s),
	             HEADER_OK);
	cr_assert_str_eq(s.buf, RCVD "From: MAILER-DAEMON@example.org\n"
	                 ADD_DATE ADD_MSGID "\nb\n");
	cr_assert_eq(run_str(&in, "from  : x@y\n", &s), HEADER_OK);
	/* the loop is the graver fault */
	in.max_received = 0;
	cr_assert_eq(run_str(&in, "Received: x\n", &s), HEADER_LOOP);
	free(s.buf);
}

/* big - head, then c repeated n times, then tail: a malloc'ed string */
static char *big(const char *head, char c, size_t n, const char *tail)
{
	size_t h = strlen(head), t = strlen(tail);
	char *m = malloc(h + n + t + 1);

	cr_assert_not_null(m);
	memcpy(m, head, h);
	memset(m + h, c, n);
	memcpy(m + h + n, tail, t + 1);
	return m;
}

/* check_cuts - whole lines and 1-byte pieces both give want */
static void check_cuts(const char *msg, const char *want, const char *what)
{
	struct header_info in = info();
	struct sink s = { 0 };
	enum cut cut;

	for (cut = WHOLE; cut <= BYTES; cut++) {
		cr_assert_eq(run(&in, msg, strlen(msg), &s, cut), HEADER_OK,
		             "%s", what);
		cr_assert_eq(s.len, strlen(want), "%s: length", what);
		cr_assert(memcmp(s.buf, want, s.len) == 0, "%s", what);
	}
	free(s.buf);
}

/* check_long - line, first or after a field, finished or not, is a field
 * (is_field) or else starts the body; ASan watches the line buffer */
static void check_long(char *line, int is_field, const char *what)
{
	static const char *const before[] = { "", "Subject: s\n" };
	size_t len = strlen(line), i, plen, mlen;
	char *msg, *want;

	for (i = 0; i < sizeof before / sizeof before[0]; i++) {
		plen = strlen(before[i]);
		msg = malloc(plen + len + 2);
		want = malloc(strlen(RCVD) + plen + strlen(ADD_ALL) + len + 3);
		cr_assert(msg != NULL && want != NULL);
		mlen = (size_t)sprintf(msg, "%s%s\n", before[i], line);
		if (is_field)
			sprintf(want, RCVD "%s%s\n" ADD_ALL, before[i], line);
		else
			sprintf(want, RCVD "%s" ADD_ALL "\n%s\n", before[i], line);
		check_cuts(msg, want, what);
		msg[mlen - 1] = '\0';              /* unfinished: same output */
		check_cuts(msg, want, what);
		free(msg);
		free(want);
	}
	free(line);
}

Test(header, long_line_without_colon_is_body)
{
	check_long(big("", 'x', 100000, ""), 0, "100 KB, no colon");
	check_long(big("", 'x', 100000, ": v"), 0, "100 KB, then colon");
	check_long(big("From", ' ', 100000, ":"), 0, "100 KB of white space");
}

Test(header, name_length_limit)
{
	check_long(big("", 'n', HEADER_NAME_MAX, ": v"), 1, "longest name");
	check_long(big("", 'n', HEADER_NAME_MAX + 1, ": v"), 0, "name too long");
	check_long(big("X", ' ', HEADER_NAME_MAX - 1, ": v"), 1,
	           "name and white space at the limit");
	check_long(big("X", '\t', HEADER_NAME_MAX, ": v"), 0,
	           "name and white space over the limit");
}

Test(header, long_field_passes)
{
	check_long(big("Subject: ", 'v', 100000, ""), 1, "100 KB value");
	check_long(big("Subject:", ':', 100000, ""), 1, "100 KB of colons");
}

Test(header, format_date_utc)
{
	char buf[64];

	cr_assert_eq(header_format_date(buf, sizeof buf, ARRIVAL), strlen(DATE));
	cr_assert_str_eq(buf, DATE);
	header_format_date(buf, sizeof buf, 0);
	cr_assert_str_eq(buf, "Thu, 01 Jan 1970 00:00:00 +0000");
}

Test(header, format_date_names)
{
	/* each month, each day of the week, a leap day; noon UTC */
	static const struct {
		time_t t;
		char want[40];
	} d[] = {
		{ 1767268800, "Thu, 01 Jan 2026 12:00:00 +0000" },
		{ 1769947200, "Sun, 01 Feb 2026 12:00:00 +0000" },
		{ 1772366400, "Sun, 01 Mar 2026 12:00:00 +0000" },
		{ 1775044800, "Wed, 01 Apr 2026 12:00:00 +0000" },
		{ 1777636800, "Fri, 01 May 2026 12:00:00 +0000" },
		{ 1780315200, "Mon, 01 Jun 2026 12:00:00 +0000" },
		{ 1782907200, "Wed, 01 Jul 2026 12:00:00 +0000" },
		{ 1785585600, "Sat, 01 Aug 2026 12:00:00 +0000" },
		{ 1788264000, "Tue, 01 Sep 2026 12:00:00 +0000" },
		{ 1790856000, "Thu, 01 Oct 2026 12:00:00 +0000" },
		{ 1793534400, "Sun, 01 Nov 2026 12:00:00 +0000" },
		{ 1796126400, "Tue, 01 Dec 2026 12:00:00 +0000" },
		{ 951825600, "Tue, 29 Feb 2000 12:00:00 +0000" },
	};
	char buf[64];
	size_t i;

	for (i = 0; i < sizeof d / sizeof d[0]; i++) {
		cr_assert_eq(header_format_date(buf, sizeof buf, d[i].t), 31);
		cr_assert_str_eq(buf, d[i].want);
	}
}

Test(header, format_date_local_time)
{
	static const struct {
		char tz[32];
		time_t t;
		char want[40];
	} d[] = {
		{ "<+0530>-5:30", ARRIVAL, "Mon, 23 Nov 2026 13:44:27 +0530" },
		{ "<-0330>3:30", ARRIVAL, "Mon, 23 Nov 2026 04:44:27 -0330" },
		{ "<-10>10", ARRIVAL, "Sun, 22 Nov 2026 22:14:27 -1000" },
		{ "EST5EDT,M3.2.0,M11.1.0", ARRIVAL,
		  "Mon, 23 Nov 2026 03:14:27 -0500" },
		{ "EST5EDT,M3.2.0,M11.1.0", 1783166400,
		  "Sat, 04 Jul 2026 08:00:00 -0400" },
	};
	char buf[64];
	size_t i;

	for (i = 0; i < sizeof d / sizeof d[0]; i++) {
		setenv("TZ", d[i].tz, 1);
		tzset();
		header_format_date(buf, sizeof buf, d[i].t);
		cr_assert_str_eq(buf, d[i].want, "TZ=%s", d[i].tz);
	}
}

Test(header, local_time_in_the_fields)
{
	struct header_info in = info();
	struct sink s = { 0 };

	setenv("TZ", "<-0330>3:30", 1);
	tzset();
	run_str(&in, "", &s);
	cr_assert_not_null(strstr(s.buf, "; Mon, 23 Nov 2026 04:44:27 -0330\n"
	                          "Date: Mon, 23 Nov 2026 04:44:27 -0330\n"));
	free(s.buf);
}

Test(header, format_date_short_buffer)
{
	char buf[32];

	memset(buf, '#', sizeof buf);
	/* like snprintf: the full length, a cut and terminated text */
	cr_assert_eq(header_format_date(buf, 10, ARRIVAL), 31);
	cr_assert_str_eq(buf, "Mon, 23 N");
	cr_assert_eq(header_format_date(buf, 31, ARRIVAL), 31);
	cr_assert_str_eq(buf, "Mon, 23 Nov 2026 08:14:27 +000");
	cr_assert_eq(header_format_date(buf, 32, ARRIVAL), 31);   /* fits */
	cr_assert_str_eq(buf, DATE);
	cr_assert_eq(header_format_date(NULL, 0, ARRIVAL), 31);
}

/* A local submission (maildrop): no host, no address, the user's uid;
 * a long ID folds the date onto its own line, several recipients leave
 * "for" out, and the fields a message lacks are added as from a client. */
Test(header, received_field_local)
{
	struct header_info in;
	struct sink s = { 0 };

	in = info();
	in.local = 1;
	in.uid = 1000;
	in.helo = "ignored";
	cr_assert_eq(run_str(&in, "Subject: x\n\nbody\n", &s), HEADER_OK);
	cr_assert_str_eq(s.buf,
	    "Received: by mx.example.org (mta, from userid 1000)\n"
	    "\tid ABC123\n"
	    "\tfor <bob@example.org>; " DATE "\n"
	    "Subject: x\n" ADD_ALL "\nbody\n");
	in.uid = 0;
	in.rcpt = NULL;
	in.id = "661A6985D266D40DC221151E4A224";
	cr_assert_eq(run_str(&in, FULL "\nx\n", &s), HEADER_OK);
	cr_assert_str_eq(s.buf,
	    "Received: by mx.example.org (mta, from userid 0)\n"
	    "\tid 661A6985D266D40DC221151E4A224; " DATE "\n"
	    FULL "\nx\n");
	free(s.buf);
}
