/* test_smtp_reply - the SMTP reply parser, fed well-formed and hostile
 * replies whole, byte by byte and in random fragments. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_reply.h"

enum { MAXR = 8 };

/* feed_chunks - parse s[0..n) in pieces of size step (0: random sizes);
 * returns the number of complete replies stored in out */
static int feed_chunks(const char *s, size_t n, size_t step,
                       struct smtp_reply *out, int max,
                       struct smtp_reply_parser *pp)
{
	struct smtp_reply_parser local, *p = pp ? pp : &local;
	unsigned seed = 12345;
	size_t off = 0;
	int got = 0;

	if (!pp)
		smtp_reply_init(p);
	while (off < n) {
		size_t k = step, used;

		if (k == 0) {
			seed = seed * 1103515245u + 12345u;
			k = 1 + (seed >> 16) % 7;
		}
		if (k > n - off)
			k = n - off;
		while (k > 0) {
			struct smtp_reply r;

			if (smtp_reply_feed(p, s + off, k, &used, &r)) {
				cr_assert_lt(got, max);
				out[got++] = r;
			}
			cr_assert_leq(used, k);
			off += used;
			k -= used;
		}
	}
	return got;
}

/* parse_all - parse s whole, byte by byte and in random pieces; all three
 * must agree; returns the count, replies in out */
static int parse_all(const char *s, size_t n, struct smtp_reply *out)
{
	struct smtp_reply a[MAXR], b[MAXR];
	int na, nb, nc, i;

	na = feed_chunks(s, n, n ? n : 1, out, MAXR, NULL);
	nb = feed_chunks(s, n, 1, a, MAXR, NULL);
	nc = feed_chunks(s, n, 0, b, MAXR, NULL);
	cr_assert_eq(na, nb);
	cr_assert_eq(na, nc);
	for (i = 0; i < na; i++) {
		cr_assert_eq(out[i].code, a[i].code);
		cr_assert_eq(out[i].error, a[i].error);
		cr_assert_str_eq(out[i].text, a[i].text);
		cr_assert_str_eq(out[i].text, b[i].text);
		cr_assert_eq(out[i].len, strlen(out[i].text));
	}
	return na;
}

#define PARSE(lit, out) parse_all(lit, sizeof(lit) - 1, out)

Test(smtp_reply, single_line)
{
	struct smtp_reply r[MAXR];

	cr_assert_eq(PARSE("250 OK\r\n", r), 1);
	cr_assert_eq(r[0].code, 250);
	cr_assert_eq(r[0].error, SMTP_REPLY_OK);
	cr_assert_str_eq(r[0].text, "OK");
	cr_assert_eq(r[0].enh_class, 0);
	cr_assert_eq(r[0].lines, 1);
	cr_assert_eq(r[0].truncated, 0);
}

Test(smtp_reply, enhanced_code)
{
	struct smtp_reply r[MAXR];

	cr_assert_eq(PARSE("550 5.1.1 <x@y>: no such user\r\n", r), 1);
	cr_assert_eq(r[0].code, 550);
	cr_assert_eq(r[0].enh_class, 5);
	cr_assert_eq(r[0].enh_subject, 1);
	cr_assert_eq(r[0].enh_detail, 1);
	cr_assert_str_eq(r[0].text, "<x@y>: no such user");
	cr_assert_eq(PARSE("452 4.5.123 too many\r\n", r), 1);
	cr_assert_eq(r[0].enh_detail, 123);
	cr_assert_str_eq(r[0].text, "too many");
	cr_assert_eq(PARSE("250 2.0.0\r\n", r), 1);
	cr_assert_eq(r[0].enh_class, 2);
	cr_assert_str_eq(r[0].text, "");
}

Test(smtp_reply, enhanced_code_not_matching)
{
	struct smtp_reply r[MAXR];

	/* wrong class, too many digits, no space after: all left as text */
	cr_assert_eq(PARSE("550 2.1.0 odd\r\n", r), 1);
	cr_assert_eq(r[0].enh_class, 0);
	cr_assert_str_eq(r[0].text, "2.1.0 odd");
	cr_assert_eq(PARSE("550 5.1234.1 odd\r\n", r), 1);
	cr_assert_eq(r[0].enh_class, 0);
	cr_assert_eq(PARSE("550 5.1.1x odd\r\n", r), 1);
	cr_assert_eq(r[0].enh_class, 0);
	cr_assert_str_eq(r[0].text, "5.1.1x odd");
	cr_assert_eq(PARSE("550 5..1 odd\r\n", r), 1);
	cr_assert_eq(r[0].enh_class, 0);
}

Test(smtp_reply, multi_line_ehlo)
{
	struct smtp_reply r[MAXR];
	char line[64];

	cr_assert_eq(PARSE("250-mx.example Hello\r\n250-PIPELINING\r\n"
	                   "250-SIZE 1000\r\n250 8BITMIME\r\n", r), 1);
	cr_assert_eq(r[0].code, 250);
	cr_assert_eq(r[0].lines, 4);
	cr_assert_str_eq(r[0].text,
	                 "mx.example Hello\nPIPELINING\nSIZE 1000\n8BITMIME");
	cr_assert_eq(smtp_reply_line(&r[0], 2, line, sizeof line), 9);
	cr_assert_str_eq(line, "SIZE 1000");
	cr_assert_eq(smtp_reply_line(&r[0], 3, line, sizeof line), 8);
	cr_assert_str_eq(line, "8BITMIME");
	cr_assert_eq(smtp_reply_line(&r[0], 4, line, sizeof line), -1);
	cr_assert_eq(smtp_reply_line(&r[0], 0, line, 5), 4);
	cr_assert_str_eq(line, "mx.e");
}

Test(smtp_reply, multi_line_enhanced_each_line)
{
	struct smtp_reply r[MAXR];

	cr_assert_eq(PARSE("550-5.7.1 first\r\n550-5.7.1 second\r\n"
	                   "550 5.7.1 third\r\n", r), 1);
	cr_assert_eq(r[0].enh_subject, 7);
	cr_assert_str_eq(r[0].text, "first\nsecond\nthird");
}

Test(smtp_reply, several_replies_and_used)
{
	struct smtp_reply_parser p;
	struct smtp_reply r;
	const char *s = "250 a\r\n354 go\r\n221 bye\r\n";
	size_t used, off = 0;

	smtp_reply_init(&p);
	cr_assert_eq(smtp_reply_feed(&p, s, strlen(s), &used, &r), 1);
	cr_assert_eq(used, 7);
	cr_assert_eq(r.code, 250);
	off += used;
	cr_assert_eq(smtp_reply_feed(&p, s + off, strlen(s) - off, &used, &r), 1);
	cr_assert_eq(r.code, 354);
	off += used;
	cr_assert_eq(smtp_reply_feed(&p, s + off, strlen(s) - off, &used, &r), 1);
	cr_assert_eq(r.code, 221);
	cr_assert_str_eq(r.text, "bye");
	off += used;
	cr_assert_eq(off, strlen(s));
	cr_assert_not(smtp_reply_pending(&p));
}

Test(smtp_reply, incomplete_is_pending)
{
	struct smtp_reply_parser p;
	struct smtp_reply r;
	size_t used;

	smtp_reply_init(&p);
	cr_assert_eq(smtp_reply_feed(&p, "250-a\r\n250 b", 12, &used, &r), 0);
	cr_assert_eq(used, 12);
	cr_assert(smtp_reply_pending(&p));
	cr_assert_eq(smtp_reply_feed(&p, "\r\n", 2, &used, &r), 1);
	cr_assert_str_eq(r.text, "a\nb");
	cr_assert_not(smtp_reply_pending(&p));
}

Test(smtp_reply, bare_lf_and_code_only)
{
	struct smtp_reply r[MAXR];

	cr_assert_eq(PARSE("250-one\n250 two\n220\r\n354 \r\n", r), 3);
	cr_assert_str_eq(r[0].text, "one\ntwo");
	cr_assert_eq(r[1].code, 220);
	cr_assert_str_eq(r[1].text, "");
	cr_assert_eq(r[2].code, 354);
	cr_assert_eq(r[2].error, SMTP_REPLY_OK);
}

Test(smtp_reply, control_chars_sanitized)
{
	struct smtp_reply r[MAXR];
	static const char s[] = "250 a\0b\033[31mc\rd\x7f\xff\r\r\n";
	size_t i;

	cr_assert_eq(parse_all(s, sizeof s - 1, r), 1);
	cr_assert_eq(r[0].code, 250);
	cr_assert_str_eq(r[0].text, "a?b?[31mc?d???");
	for (i = 0; i < r[0].len; i++)
		cr_assert(r[0].text[i] >= 0x20 && r[0].text[i] < 0x7f);
}

Test(smtp_reply, nul_in_code)
{
	struct smtp_reply r[MAXR];
	static const char s[] = "2\0000 x\r\n250 ok\r\n";

	cr_assert_eq(parse_all(s, sizeof s - 1, r), 2);
	cr_assert_eq(r[0].error, SMTP_REPLY_EBADCODE);
	cr_assert_eq(r[0].code, 0);
	cr_assert_eq(r[1].code, 250);
	cr_assert_eq(r[1].error, SMTP_REPLY_OK);
}

Test(smtp_reply, bad_codes)
{
	struct smtp_reply r[MAXR];

	cr_assert_eq(PARSE("abc def\r\n", r), 1);
	cr_assert_eq(r[0].error, SMTP_REPLY_EBADCODE);
	cr_assert_eq(r[0].code, 0);
	cr_assert_str_eq(r[0].text, "abc def");
	cr_assert_eq(PARSE("150 x\r\n650 y\r\n099 z\r\n", r), 3);
	cr_assert_eq(r[0].error, SMTP_REPLY_EBADCODE);
	cr_assert_eq(r[1].error, SMTP_REPLY_EBADCODE);
	cr_assert_eq(r[2].error, SMTP_REPLY_EBADCODE);
	cr_assert_eq(PARSE("250x ok\r\n", r), 1);
	cr_assert_eq(r[0].error, SMTP_REPLY_EBADCODE);
	cr_assert_eq(PARSE("25\r\n", r), 1);
	cr_assert_eq(r[0].error, SMTP_REPLY_EBADCODE);
	cr_assert_eq(PARSE("\r\n", r), 1);
	cr_assert_eq(r[0].error, SMTP_REPLY_EBADCODE);
	cr_assert_eq(PARSE(" 250 ok\r\n", r), 1);
	cr_assert_eq(r[0].error, SMTP_REPLY_EBADCODE);
}

Test(smtp_reply, mixed_codes)
{
	struct smtp_reply r[MAXR];

	cr_assert_eq(PARSE("250-a\r\n251-b\r\n250 c\r\n", r), 1);
	cr_assert_eq(r[0].error, SMTP_REPLY_EMIXED);
	cr_assert_eq(r[0].code, 250);
	cr_assert_eq(r[0].lines, 3);
	cr_assert_eq(PARSE("250-a\r\n550 b\r\n", r), 1);
	cr_assert_eq(r[0].error, SMTP_REPLY_EMIXED);
}

Test(smtp_reply, missing_continuation_then_garbage)
{
	struct smtp_reply r[MAXR];

	cr_assert_eq(PARSE("250-a\r\nfoo bar\r\n", r), 1);
	cr_assert_eq(r[0].error, SMTP_REPLY_EBADCODE);
	cr_assert_eq(r[0].code, 250);
	cr_assert_str_eq(r[0].text, "a\nfoo bar");
}

Test(smtp_reply, long_line_capped_and_consumed)
{
	struct smtp_reply r[MAXR];
	size_t n = 100000, i;
	char *s = malloc(n + 32);

	cr_assert_not_null(s);
	memcpy(s, "250 ", 4);
	memset(s + 4, 'x', n);
	memcpy(s + 4 + n, "\r\n251 ok\r\n", 10);
	cr_assert_eq(parse_all(s, n + 14, r), 2);
	cr_assert_eq(r[0].code, 250);
	cr_assert_eq(r[0].error, SMTP_REPLY_OK);
	cr_assert(r[0].truncated);
	cr_assert_eq(r[0].len, SMTP_REPLY_LINE_MAX - 4);
	for (i = 0; i < r[0].len; i++)
		cr_assert_eq(r[0].text[i], 'x');
	cr_assert_eq(r[1].code, 251);
	cr_assert_str_eq(r[1].text, "ok");
	cr_assert_not(r[1].truncated);
	free(s);
}

Test(smtp_reply, long_reply_text_capped)
{
	struct smtp_reply r[MAXR];
	char *s = malloc(20 * 510 + 16), *q = s;
	int i;

	cr_assert_not_null(s);
	for (i = 0; i < 20; i++) {
		q += sprintf(q, "250%c", i == 19 ? ' ' : '-');
		memset(q, 'a' + i, 500);
		q += 500;
		q += sprintf(q, "\r\n");
	}
	cr_assert_eq(parse_all(s, (size_t)(q - s), r), 1);
	cr_assert_eq(r[0].error, SMTP_REPLY_OK);
	cr_assert(r[0].truncated);
	cr_assert_eq(r[0].len, SMTP_REPLY_TEXT_MAX - 1);
	cr_assert_eq(r[0].lines, 20);
	free(s);
}

Test(smtp_reply, too_many_lines)
{
	struct smtp_reply r[MAXR];
	char *s = malloc(300 * 8 + 16), *q = s;
	int i;

	cr_assert_not_null(s);
	for (i = 0; i < 300; i++)
		q += sprintf(q, "250-x\r\n");
	q += sprintf(q, "250 y\r\n");
	/* the first reply is cut off, the leftover lines form a second one */
	cr_assert_eq(parse_all(s, (size_t)(q - s), r), 2);
	cr_assert_eq(r[0].error, SMTP_REPLY_ETOOBIG);
	cr_assert_eq(r[0].lines, SMTP_REPLY_LINES_MAX);
	cr_assert_eq(r[1].error, SMTP_REPLY_OK);
	free(s);
}

Test(smtp_reply, endless_line_cut_off_then_resync)
{
	struct smtp_reply_parser p;
	struct smtp_reply r;
	char chunk[4096];
	size_t used, total = 0;
	int got = 0;

	smtp_reply_init(&p);
	memset(chunk, 'z', sizeof chunk);
	cr_assert_eq(smtp_reply_feed(&p, "250 ", 4, &used, &r), 0);
	while (total < 2u * SMTP_REPLY_BYTES_MAX) {
		size_t off = 0;

		while (off < sizeof chunk) {
			if (smtp_reply_feed(&p, chunk + off, sizeof chunk - off,
			                    &used, &r)) {
				got++;
				cr_assert_eq(r.error, SMTP_REPLY_ETOOBIG);
				cr_assert_eq(r.code, 250);
			}
			off += used;
		}
		total += sizeof chunk;
	}
	cr_assert_eq(got, 1);
	cr_assert_eq(smtp_reply_feed(&p, "zz\r\n221 bye\r\n", 13, &used, &r), 1);
	cr_assert_eq(r.code, 221);
	cr_assert_eq(r.error, SMTP_REPLY_OK);
}

Test(smtp_reply, random_garbage_never_breaks_invariants)
{
	struct smtp_reply_parser p;
	struct smtp_reply r;
	static const char alphabet[] = "2505-- \r\n\n\0.x\x1b\xff";
	char buf[4096];
	unsigned seed = 42;
	int round, replies = 0;

	smtp_reply_init(&p);
	for (round = 0; round < 500; round++) {
		size_t n, off = 0, used, i;

		seed = seed * 1103515245u + 12345u;
		n = 1 + (seed >> 8) % sizeof buf;
		for (i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			buf[i] = alphabet[(seed >> 16) % (sizeof alphabet - 1)];
		}
		while (off < n) {
			if (smtp_reply_feed(&p, buf + off, n - off, &used, &r)) {
				replies++;
				cr_assert_eq(r.len, strlen(r.text));
				cr_assert_lt(r.len, SMTP_REPLY_TEXT_MAX);
				cr_assert(r.code == 0 ||
				          (r.code >= 200 && r.code <= 599));
				for (i = 0; i < r.len; i++)
					cr_assert(r.text[i] == '\n' ||
					          (r.text[i] >= 0x20 &&
					           r.text[i] < 0x7f));
			}
			cr_assert_gt(used, 0);
			off += used;
		}
	}
	cr_assert_gt(replies, 100);
}

Test(smtp_reply, error_text)
{
	cr_assert_str_eq(smtp_reply_error_text(SMTP_REPLY_EMIXED),
	                 "reply lines with different codes");
}

Test(smtp_reply, summary_first_line_with_its_enhanced_code)
{
	struct smtp_reply r[MAXR];
	char buf[64];

	cr_assert_eq(PARSE("550-5.1.1 no such user\r\n550 5.1.1 really\r\n"
	                   "451 try later\r\n", r), 2);
	smtp_reply_summary(&r[0], buf, sizeof buf);
	cr_assert_str_eq(buf, "550 5.1.1 no such user");
	smtp_reply_summary(&r[1], buf, sizeof buf);
	cr_assert_str_eq(buf, "451 try later");
	smtp_reply_summary(&r[0], buf, 8);
	cr_assert_str_eq(buf, "550 5.1");
}
