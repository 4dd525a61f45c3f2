/* test_mime8.c - the 8-bit downgrade (mime8.h): bytes in, bytes out,
 * whatever pieces the message comes in */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "mime8.h"

struct buf {
	char *p;
	size_t n;
};

static void collect(void *ctx, const char *p, size_t n)
{
	struct buf *b = ctx;

	b->p = realloc(b->p, b->n + n + 1);
	cr_assert_not_null(b->p);
	memcpy(b->p + b->n, p, n);
	b->n += n;
	b->p[b->n] = '\0';
}

/* run - both passes over in, cut into pieces of piece octets (0: whole);
 * returns the scan's verdict, *out the converted text (malloc'ed) */
static int run(const char *in, size_t piece, char **out)
{
	struct mime8 m;
	struct buf b = { NULL, 0 };
	size_t n = strlen(in), off;
	int need;

	if (piece == 0)
		piece = n ? n : 1;
	mime8_init(&m);
	for (off = 0; off < n; off += piece)
		mime8_scan(&m, in + off, n - off < piece ? n - off : piece);
	need = mime8_scan_end(&m);
	mime8_convert_start(&m, collect, &b);
	for (off = 0; off < n; off += piece)
		mime8_convert(&m, in + off, n - off < piece ? n - off : piece);
	mime8_convert_end(&m);
	cr_assert_not(m.oom);
	mime8_free(&m);
	if (b.p == NULL)
		collect(&b, "", 0);
	*out = b.p;
	return need;
}

/* same - every piece size gives the same output as the whole */
static char *same(const char *in, int *need)
{
	static const size_t pieces[] = { 1, 2, 3, 7, 64, 999, 1000, 1001 };
	char *whole, *cut;
	size_t i;

	*need = run(in, 0, &whole);
	for (i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
		cr_assert_eq(run(in, pieces[i], &cut), *need);
		cr_assert_str_eq(cut, whole, "in pieces of %zu", pieces[i]);
		free(cut);
	}
	return whole;
}

/* seven_bit - no octet over 127, no line over 998 before its line end */
static void seven_bit(const char *s)
{
	size_t col = 0;

	for (; *s; s++) {
		cr_assert_lt((unsigned char)*s, 128, "8-bit octet in the output");
		col = *s == '\n' ? 0 : col + 1;
		cr_assert_leq(col, 999);
	}
}

Test(mime8, seven_bit_message_unchanged)
{
	const char *in = "Subject: plain\nContent-Type: text/plain\n\nhello\n=\n";
	int need;
	char *out = same(in, &need);

	cr_assert_eq(need, 0);
	cr_assert_str_eq(out, in);
	free(out);
}

Test(mime8, non_mime_8bit_body_becomes_quoted_printable)
{
	int need;
	char *out = same("Subject: caf\xc3\xa9?\nFrom: a@b\n\ncaf\xc3\xa9 = ok \nend\t\n", &need);

	cr_assert_eq(need, 1);
	/* the 8-bit header is sent as it is (mime8.h) */
	cr_assert_str_eq(out, "Subject: caf\xc3\xa9?\nFrom: a@b\n"
	                 "MIME-Version: 1.0\n"
	                 "Content-Type: text/plain; charset=unknown-8bit\n"
	                 "Content-Transfer-Encoding: quoted-printable\n\n"
	                 "caf=C3=A9 =3D ok=20\nend=09\n");
	free(out);
}

Test(mime8, declared_8bit_label_replaced)
{
	int need;
	char *out = same("MIME-Version: 1.0\r\nContent-Transfer-Encoding: 8bit\r\n"
	                 "Content-Type: text/plain;\r\n charset=utf-8\r\n\r\n"
	                 "\xe2\x82\xac 5\r\n", &need);

	cr_assert_eq(need, 1);
	cr_assert_str_eq(out, "MIME-Version: 1.0\r\nContent-Type: text/plain;\r\n"
	                 " charset=utf-8\r\n"
	                 "Content-Transfer-Encoding: quoted-printable\n\r\n"
	                 "=E2=82=AC 5\n");
	free(out);
}

Test(mime8, eight_bit_label_on_seven_bit_text_relabelled)
{
	int need;
	char *out = same("Content-Transfer-Encoding: 8BIT\nContent-Type: text/plain\n\nascii\n",
	                 &need);

	cr_assert_eq(need, 1);
	cr_assert_str_eq(out, "Content-Type: text/plain\n"
	                 "Content-Transfer-Encoding: 7bit\n\nascii\n");
	free(out);
}

Test(mime8, long_lines_get_soft_breaks)
{
	char in[4096], *out, *p;
	int need;
	size_t i, len;

	strcpy(in, "Subject: x\n\n");
	len = strlen(in);
	for (i = 0; i < 3000; i++)
		in[len++] = i % 50 == 0 ? '\xe9' : 'a';
	strcpy(in + len, "\n");
	out = same(in, &need);
	cr_assert_eq(need, 1);
	seven_bit(out);
	for (p = strstr(out, "\n\n") + 2; *p; ) {
		char *nl = strchr(p, '\n');

		cr_assert_not_null(nl);
		cr_assert_leq((size_t)(nl - p), 76, "a QP line over 76 octets");
		p = nl + 1;
	}
	free(out);
}

Test(mime8, multipart_only_8bit_parts_converted)
{
	const char *in =
		"MIME-Version: 1.0\n"
		"Content-Type: multipart/mixed; boundary=\"b1\"\n"
		"Content-Transfer-Encoding: 8bit\n"
		"\n"
		"preamble\n"
		"--b1\n"
		"Content-Type: text/plain; charset=us-ascii\n"
		"\n"
		"plain part\n"
		"--b1\n"
		"Content-Type: text/plain; charset=iso-8859-1\n"
		"Content-Transfer-Encoding: 8bit\n"
		"\n"
		"d\xe9j\xe0 vu\n"
		"--b1\n"
		"Content-Type: application/octet-stream\n"
		"Content-Transfer-Encoding: base64\n"
		"\n"
		"AAEC\n"
		"--b1--\n"
		"epilogue\n";
	const char *want =
		"MIME-Version: 1.0\n"
		"Content-Type: multipart/mixed; boundary=\"b1\"\n"
		"Content-Transfer-Encoding: 7bit\n"
		"\n"
		"preamble\n"
		"--b1\n"
		"Content-Type: text/plain; charset=us-ascii\n"
		"\n"
		"plain part\n"
		"--b1\n"
		"Content-Type: text/plain; charset=iso-8859-1\n"
		"Content-Transfer-Encoding: quoted-printable\n"
		"\n"
		"d=E9j=E0 vu\n"
		"--b1\n"
		"Content-Type: application/octet-stream\n"
		"Content-Transfer-Encoding: base64\n"
		"\n"
		"AAEC\n"
		"--b1--\n"
		"epilogue\n";
	int need;
	char *out = same(in, &need);

	cr_assert_eq(need, 1);
	cr_assert_str_eq(out, want);
	free(out);
}

Test(mime8, nested_multipart_and_message_rfc822)
{
	const char *in =
		"Content-Type: multipart/mixed; boundary=outer\n\n"
		"--outer\n"
		"Content-Type: multipart/alternative; boundary=\"in ner\"\n\n"
		"--in ner\n"
		"Content-Type: text/plain\n\n"
		"\xff\n"
		"--in ner--\n"
		"--outer\n"
		"Content-Type: message/rfc822\n"
		"Content-Transfer-Encoding: 8bit\n\n"
		"Subject: inner\n\n"
		"\xfe\n"
		"--outer--\n";
	const char *want =
		"Content-Type: multipart/mixed; boundary=outer\n\n"
		"--outer\n"
		"Content-Type: multipart/alternative; boundary=\"in ner\"\n\n"
		"--in ner\n"
		"Content-Type: text/plain\n"
		"Content-Transfer-Encoding: quoted-printable\n\n"
		"=FF\n"
		"--in ner--\n"
		"--outer\n"
		"Content-Type: message/rfc822\n"
		"Content-Transfer-Encoding: 7bit\n\n"
		"Subject: inner\n"
		"MIME-Version: 1.0\n"
		"Content-Type: text/plain; charset=unknown-8bit\n"
		"Content-Transfer-Encoding: quoted-printable\n\n"
		"=FE\n"
		"--outer--\n";
	int need;
	char *out = same(in, &need);

	cr_assert_eq(need, 1);
	cr_assert_str_eq(out, want);
	free(out);
}

Test(mime8, boundary_only_at_line_start_and_exact)
{
	/* "--b1x" is not the boundary "b1"; a part missing its blank line */
	const char *in =
		"Content-Type: multipart/mixed; boundary=b1\n\n"
		"--b1\n"
		"Content-Type: text/plain\n\n"
		"--b1x \xe9\n"
		"--b1 \t\n"
		"Content-Type: text/plain\n"
		"--b1--\n";
	const char *want =
		"Content-Type: multipart/mixed; boundary=b1\n\n"
		"--b1\n"
		"Content-Type: text/plain\n"
		"Content-Transfer-Encoding: quoted-printable\n\n"
		"--b1x =E9\n"
		"--b1 \t\n"
		"Content-Type: text/plain\n"
		"--b1--\n";
	int need;
	char *out = same(in, &need);

	cr_assert_eq(need, 1);
	cr_assert_str_eq(out, want);
	free(out);
}

Test(mime8, already_encoded_parts_and_bare_cr)
{
	int need;
	char *out = same("Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
	                 "\xe9\xe9\n", &need);

	cr_assert_eq(need, 0, "nothing it could change");
	cr_assert_str_eq(out, "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\n"
	                 "\xe9\xe9\n", "an encoded part cannot be encoded again");
	free(out);
	out = same("Subject: cr\n\na\rb\xe9\r\n", &need);
	cr_assert(strstr(out, "\n\na=0Db=E9\n") != NULL, "got %s", out);
	free(out);
}

Test(mime8, end_without_line_end)
{
	int need;
	char *out = same("Subject: x\n\n\xe9 ", &need);

	cr_assert(strstr(out, "\n\n=E9=20") != NULL, "trailing space encoded: %s", out);
	free(out);
	out = same("Subject: x\nContent-Transfer-Encoding: 8bit", &need);
	cr_assert_str_eq(out, "Subject: x\nContent-Transfer-Encoding: 7bit\n",
	                 "a header with no body: relabelled");
	free(out);
	out = same("Content-Transfer-Encoding: 8bit\nX-Last: y", &need);
	cr_assert_str_eq(out, "X-Last: y\nContent-Transfer-Encoding: 7bit\n",
	                 "a field appended after a last line without its end");
	free(out);
	/* the closing boundary as the last line, without its line end, after
	 * a part that is converted: still a boundary, not body text ('=' in
	 * it, as JavaMail and Outlook boundaries have, would be encoded) */
	out = same("MIME-Version: 1.0\n"
	           "Content-Type: multipart/mixed; boundary=\"=_b\"\n\n"
	           "--=_b\nContent-Type: text/plain\n\n\xe9t\xe9\n--=_b--", &need);
	cr_assert(need, "an 8-bit part: converted");
	cr_assert(strstr(out, "=E9t=E9") != NULL, "the part encoded: %s", out);
	cr_assert(strstr(out, "\n--=_b--") != NULL, "the closing boundary kept: %s", out);
	cr_assert(strstr(out, "=3D_b") == NULL, "not encoded as text: %s", out);
	free(out);
}

/* xorshift - a fixed pseudo-random sequence */
static unsigned xorshift(unsigned *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

Test(mime8, random_messages_cut_anyhow)
{
	static const char *atoms[] = {
		"\n", "\r\n", "\r", " ", "\t", "=", ".", "\xe9", "\xff\xfe", "abc",
		"--b\n", "--b--\n", "--c\n", "--c--\n", "\n\n",
		"Content-Type: multipart/mixed; boundary=b\n",
		"Content-Type: multipart/digest; boundary=\"c\"\n",
		"Content-Type: message/rfc822\n", "Content-Type: text/plain\n",
		"Content-Transfer-Encoding: 8bit\n", "Content-Transfer-Encoding: base64\n",
		"MIME-Version: 1.0\n", " folded\n", "Subject: x\n",
	};
	unsigned seed = 12345;
	int round;

	for (round = 0; round < 300; round++) {
		char in[6000];
		size_t len = 0;
		int need;
		char *out;

		while (len < sizeof in - 1200) {
			unsigned r = xorshift(&seed);
			const char *a = atoms[r % (sizeof atoms / sizeof atoms[0])];

			if (r % 97 == 0) {      /* now and then a line over the buffer */
				memset(in + len, (r & 1) ? 'x' : '\xe4', 1100);
				len += 1100;
				continue;
			}
			memcpy(in + len, a, strlen(a));
			len += strlen(a);
			if (xorshift(&seed) % 50 == 0)
				break;
		}
		in[len] = '\0';
		out = same(in, &need);
		if (need == 0)
			cr_assert_str_eq(out, in, "nothing to change: unchanged");
		free(out);
	}
}
