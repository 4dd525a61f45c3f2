/* fuzz_smtp_reply.c - libFuzzer harness for smtp_reply.c (the SMTP
 * client's reply parser).
 *
 * Input: two parameter octets, then what a server sends.
 *   [0] seed of the fragment lengths and of the buffer sizes given to
 *       smtp_reply_line()
 *   [1] bits 0-2 the longest fragment
 * An input whose FNV-1a hash is 0 modulo 256 is long: the server's bytes,
 * then SMTP_REPLY_BYTES_MAX octets more made of them with every LF a SP
 * (one long line: the size cut-off), then the bytes again.  A megabyte
 * per input is slow, so few are long, and the hash keeps libFuzzer's
 * comparison tracing from turning every input into a long one.
 * The bytes are parsed three ways: whole (the rest fed again after each
 * reply), one byte per call (not for the long input: too slow) and in
 * random fragments.  Every reply each way gives must equal the one a model
 * written from smtp_reply.h computes line by line: code, error, enhanced
 * status code, line count, truncation, and the text (after code,
 * separator and enhanced code, lines joined by '\n', octets outside
 * printable ASCII as '?', at most SMTP_REPLY_TEXT_MAX - 1 octets); a reply
 * ends exactly where the model ends it; *used is within the fragment;
 * smtp_reply_pending() says whether part of a reply is left over; and
 * smtp_reply_line() gives each line of the text, cut to every buffer size
 * asked, and -1 past the last.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"
#include "smtp_reply.h"

enum { PARAMS = 2 };

/* One reply as the model sees it. */
struct mreply {
	int code, error, enh_class, enh_subject, enh_detail, truncated;
	unsigned lines;
	size_t end;              /* offset just past the reply's last octet */
	struct fbuf text;        /* the whole text, before the cap */
};

/* The model's result for one input. */
struct model {
	struct mreply *r;
	size_t n, cap;
	int pending;             /* part of a reply fed, not complete */
};

/* digits - how many ASCII digits start s[0..n) */
static size_t digits(const char *s, size_t n)
{
	size_t i = 0;

	while (i < n && s[i] >= '0' && s[i] <= '9')
		i++;
	return i;
}

/* enhanced - the length of an RFC 3463 code of class cls at s[0..n),
 * "c.s.d" with 1 to 3 digits in s and d, followed by the end or a SP
 * (which it includes); 0 when there is none */
static size_t enhanced(const char *s, size_t n, char cls, int *sub, int *det)
{
	size_t i, k1, k2;

	if (n < 2 || s[0] != cls || s[1] != '.')
		return 0;
	k1 = digits(s + 2, n - 2);
	if (k1 < 1 || k1 > 3 || 2 + k1 >= n || s[2 + k1] != '.')
		return 0;
	i = 3 + k1;
	k2 = digits(s + i, n - i);
	if (k2 < 1 || k2 > 3)
		return 0;
	*sub = atoi(s + 2);
	*det = atoi(s + i);
	i += k2;
	if (i == n)
		return i;
	return s[i] == ' ' ? i + 1 : 0;
}

/* add_text - s[0..n) to the model's text, octets outside printable ASCII
 * as '?' */
static void add_text(struct mreply *m, const char *s, size_t n)
{
	char chunk[256];
	size_t i, k;

	while (n > 0) {
		k = n < sizeof chunk ? n : sizeof chunk;
		for (i = 0; i < k; i++)
			chunk[i] = s[i] >= 32 && s[i] <= 126 ? s[i] : '?';
		fbuf_add(&m->text, chunk, k);
		s += k;
		n -= k;
	}
}

/* judge - one line s[0..len) (its LF not included), cut off at the line
 * limit as the parser would; returns 1 when it ends the reply */
static int judge(struct mreply *m, const char *s, size_t len, int *mixed)
{
	size_t n = len, off, e;
	int code, sub = 0, det = 0;

	if (n > SMTP_REPLY_LINE_MAX) {
		n = SMTP_REPLY_LINE_MAX;
		m->truncated = 1;
	} else if (n > 0 && s[n - 1] == '\r') {
		n--;
	}
	if (m->lines > 0)
		fbuf_add(&m->text, "\n", 1);
	m->lines++;
	if (n < 3 || s[0] < '2' || s[0] > '5' || digits(s + 1, 2) != 2 ||
	    (n > 3 && s[3] != ' ' && s[3] != '-')) {
		add_text(m, s, n);
		m->error = SMTP_REPLY_EBADCODE;
		return 1;
	}
	code = atoi((char[4]){ s[0], s[1], s[2], '\0' });
	off = n > 3 ? 4 : 3;
	e = enhanced(s + off, n - off, s[0], &sub, &det);
	if (m->lines == 1) {
		m->code = code;
		if (e > 0) {
			m->enh_class = code / 100;
			m->enh_subject = sub;
			m->enh_detail = det;
		}
	} else if (code != m->code) {
		*mixed = 1;
	}
	add_text(m, s + off + e, n - off - e);
	if (n == 3 || s[3] == ' ') {
		if (*mixed)
			m->error = SMTP_REPLY_EMIXED;
		return 1;
	}
	if (m->lines >= SMTP_REPLY_LINES_MAX) {
		m->error = SMTP_REPLY_ETOOBIG;
		return 1;
	}
	return 0;
}

/* model_run - every complete reply in in[0..n), line by line */
static void model_run(const char *in, size_t n, struct model *md)
{
	size_t pos = 0, start, len, cut;
	int mixed, skip = 0;

	memset(md, 0, sizeof *md);
	while (pos < n) {
		struct mreply *m;
		const char *lf;

		if (skip) {
			/* the rest of a line a size cut-off fell into */
			lf = memchr(in + pos, '\n', n - pos);
			if (lf == NULL)
				return;
			pos = (size_t)(lf - in) + 1;
			skip = 0;
			continue;
		}
		if (md->n == md->cap) {
			md->cap = md->cap ? 2 * md->cap : 16;
			md->r = realloc(md->r, md->cap * sizeof *md->r);
			if (md->r == NULL)
				oracle_fail("out of memory");
		}
		m = &md->r[md->n];
		memset(m, 0, sizeof *m);
		mixed = 0;
		start = pos;
		for (;;) {
			lf = memchr(in + pos, '\n', n - pos);
			len = lf ? (size_t)(lf - (in + pos)) : n - pos;
			/* the octet that makes the reply SMTP_REPLY_BYTES_MAX long
			 * (or the first after it that is not a line end) cuts it */
			cut = pos - start + 1 >= SMTP_REPLY_BYTES_MAX ? 0
			    : SMTP_REPLY_BYTES_MAX - 1 - (pos - start);
			if (cut < len) {
				judge(m, in + pos, cut + 1, &mixed);
				m->error = SMTP_REPLY_ETOOBIG;
				pos += cut + 1;
				skip = 1;
				break;
			}
			if (lf == NULL) {
				md->pending = pos + len > start;
				fbuf_free(&m->text);
				return;
			}
			pos += len + 1;
			if (judge(m, in + pos - len - 1, len, &mixed))
				break;
		}
		m->end = pos;
		md->n++;
	}
}

/* model_free - release the model's replies */
static void model_free(struct model *md)
{
	size_t i;

	for (i = 0; i < md->n; i++)
		fbuf_free(&md->r[i].text);
	free(md->r);
}

/* check_lines - smtp_reply_line() against the model's text t[0..tl) */
static void check_lines(const struct smtp_reply *r, const char *t, size_t tl,
                        struct rng *rng)
{
	char buf[SMTP_REPLY_TEXT_MAX + 1];
	size_t start = 0, len, size;
	unsigned k = 0;
	const char *nl;
	int got;

	for (;;) {
		nl = memchr(t + start, '\n', tl - start);
		len = nl ? (size_t)(nl - (t + start)) : tl - start;
		size = 1 + rng_below(rng, (uint32_t)len + 2);
		got = smtp_reply_line(r, k, buf, size);
		if (got < 0 || (size_t)got != (len < size ? len : size - 1) ||
		    memcmp(buf, t + start, (size_t)got) != 0 || buf[got] != '\0')
			oracle_fail("line %u into %zu octets: %d", k, size, got);
		if (smtp_reply_line(r, k, buf, 0) != -1)
			oracle_fail("line %u into no room", k);
		k++;
		if (nl == NULL)
			break;
		start += len + 1;
	}
	if (smtp_reply_line(r, k, buf, sizeof buf) != -1)
		oracle_fail("a line %u past the last", k);
}

/* check_reply - reply number idx, ending at offset at, against the model */
static void check_reply(const struct smtp_reply *r, const struct model *md,
                        size_t idx, size_t at, struct rng *rng)
{
	const struct mreply *m;
	size_t tl, i;

	if (idx >= md->n)
		oracle_fail("reply %zu: the model has only %zu", idx, md->n);
	m = &md->r[idx];
	if (at != m->end)
		oracle_fail("reply %zu ends at %zu, the model says %zu", idx, at,
		            m->end);
	tl = m->text.len < SMTP_REPLY_TEXT_MAX - 1 ? m->text.len
	                                           : SMTP_REPLY_TEXT_MAX - 1;
	if (r->code != m->code || (int)r->error != m->error ||
	    r->enh_class != m->enh_class || r->enh_subject != m->enh_subject ||
	    r->enh_detail != m->enh_detail || r->lines != m->lines)
		oracle_fail("reply %zu: code %d/%d error %d/%d enh %d.%d.%d/"
		            "%d.%d.%d lines %u/%u", idx, r->code, m->code,
		            (int)r->error, m->error, r->enh_class, r->enh_subject,
		            r->enh_detail, m->enh_class, m->enh_subject,
		            m->enh_detail, r->lines, m->lines);
	if (r->len != tl || strnlen(r->text, sizeof r->text) != tl ||
	    (tl > 0 && memcmp(r->text, m->text.p, tl) != 0))
		oracle_fail("reply %zu: text differs from the model", idx);
	if (r->truncated != (m->truncated || m->text.len > tl))
		oracle_fail("reply %zu: truncated %d", idx, r->truncated);
	for (i = 0; i < tl; i++)
		if (r->text[i] != '\n' && (r->text[i] < 32 || r->text[i] > 126))
			oracle_fail("reply %zu: octet 0x%02x in the text", idx,
			            (unsigned char)r->text[i]);
	if (smtp_reply_error_text(r->error) == NULL)
		oracle_fail("no text for error %d", (int)r->error);
	check_lines(r, r->text, tl, rng);
}

/* run - parse in[0..n) in pieces of 1..maxfrag octets (0: whole; 1: one
 * at a time) and check every reply against the model */
static void run(const char *in, size_t n, uint32_t maxfrag,
                const struct model *md, struct rng *rng)
{
	struct smtp_reply_parser p;
	struct smtp_reply r;
	size_t off = 0, got = 0, k, used;

	smtp_reply_init(&p);
	if (smtp_reply_pending(&p))
		oracle_fail("a new parser has something pending");
	while (off < n) {
		k = maxfrag == 0 ? n - off : 1 + rng_below(rng, maxfrag);
		if (k > n - off)
			k = n - off;
		while (k > 0) {
			used = (size_t)-1;
			if (smtp_reply_feed(&p, in + off, k, &used, &r)) {
				if (used < 1 || used > k)
					oracle_fail("a reply from %zu of %zu octets", used, k);
				check_reply(&r, md, got++, off + used, rng);
			} else if (used != k) {
				oracle_fail("no reply, but %zu of %zu octets used", used, k);
			}
			off += used;
			k -= used;
		}
	}
	if (got != md->n)
		oracle_fail("%zu replies, the model says %zu", got, md->n);
	if (smtp_reply_pending(&p) != md->pending)
		oracle_fail("pending %d, the model says %d", smtp_reply_pending(&p),
		            md->pending);
}

/* fnv1a - the 32-bit FNV-1a hash of p[0..n) */
static uint32_t fnv1a(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	while (n-- > 0)
		h = (h ^ *p++) * 16777619u;
	return h;
}

/* LLVMFuzzerTestOneInput - one server's bytes, three ways */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t frag[8] = { 1, 2, 3, 5, 16, 64, 600, 5000 };
	const char *in = (const char *)data + PARAMS;
	char *big = NULL;
	struct model md;
	struct rng rng;
	size_t n;

	if (size < PARAMS)
		return 0;
	n = size - PARAMS;
	rng_seed(&rng, data, 1);
	if ((fnv1a(data, size) & 255) == 0 && n > 0) {
		size_t fill = SMTP_REPLY_BYTES_MAX + 600, k;

		big = malloc(fill + 2 * n);
		if (big == NULL)
			oracle_fail("out of memory");
		memcpy(big, in, n);
		for (k = 0; k < fill; k++)
			big[n + k] = in[k % n] == '\n' ? ' ' : in[k % n];
		memcpy(big + n + fill, in, n);
		in = big;
		n = fill + 2 * n;
	}
	model_run(in, n, &md);
	run(in, n, 0, &md, &rng);
	if (big == NULL)
		run(in, n, 1, &md, &rng);
	run(in, n, big ? 512 : frag[data[1] & 7], &md, &rng);
	model_free(&md);
	free(big);
	return 0;
}
