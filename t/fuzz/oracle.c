/* oracle.c - checks and helpers shared by the fuzz harnesses; see oracle.h
 *
 * The header model here is written from header.h, not from header.c: it
 * decides field / continuation / not-a-field per whole line, where the
 * module decides octet by octet while pieces stream in, so the two agree
 * only if the module keeps its contract.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"

enum { REPLY_LINE_MAX = 512 };   /* RFC 5321 4.5.3.1.5, CRLF included */

/* oracle_fail - report a broken invariant and abort() */
void oracle_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("oracle: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* rng_seed - start from up to four input bytes */
void rng_seed(struct rng *r, const uint8_t *p, size_t n)
{
	size_t i;

	r->s = 0x9e3779b9u;
	for (i = 0; i < n && i < 4; i++)
		r->s ^= (uint32_t)p[i] << (8 * i);
	if (r->s == 0)
		r->s = 1;
}

/* rng_below - xorshift32, reduced to [0, bound) */
uint32_t rng_below(struct rng *r, uint32_t bound)
{
	uint32_t x = r->s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	r->s = x;
	return x % bound;
}

/* fbuf_add - append p[0..n), growing by doubling */
void fbuf_add(struct fbuf *b, const void *p, size_t n)
{
	if (n == 0)
		return;
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *q;

		while (cap < b->len + n)
			cap *= 2;
		q = realloc(b->p, cap);
		if (q == NULL)
			oracle_fail("out of memory");
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

/* fbuf_adds - append a C string */
void fbuf_adds(struct fbuf *b, const char *s)
{
	fbuf_add(b, s, strlen(s));
}

/* fbuf_free - release the buffer */
void fbuf_free(struct fbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* oracle_split - the LF-separated lines of p[0..n) */
struct oline *oracle_split(const char *p, size_t n, size_t *nl)
{
	struct oline *v;
	size_t i, k = 0, start = 0, max = 1;

	for (i = 0; i < n; i++)
		max += p[i] == '\n';
	v = malloc(max * sizeof *v);
	if (v == NULL)
		oracle_fail("out of memory");
	for (i = 0; i < n; i++) {
		if (p[i] != '\n')
			continue;
		v[k].p = p + start;
		v[k++].n = i - start;
		start = i + 1;
	}
	if (start < n) {
		v[k].p = p + start;
		v[k++].n = n - start;
	}
	*nl = k;
	return v;
}

/* enhanced_class - the class digit of an RFC 3463 code "c.s.d" (1 to 3
 * digits each) starting t[0..n) and followed by SP or the end; 0 when
 * the text does not start like one, -1 when it does but is malformed */
static int enhanced_class(const char *t, size_t n)
{
	size_t i = 2, part, k;

	if (n < 2 || t[0] < '0' || t[0] > '9' || t[1] != '.')
		return 0;
	for (part = 0; part < 2; part++) {
		for (k = 0; i < n && t[i] >= '0' && t[i] <= '9'; i++)
			k++;
		if (k < 1 || k > 3)
			return -1;
		if (part == 0 && (i >= n || t[i++] != '.'))
			return -1;
	}
	if (i < n && t[i] != ' ')
		return -1;
	return t[0];
}

/* oracle_replies - check whole server replies; how many there are */
size_t oracle_replies(const char *p, size_t n, const char *hostname)
{
	size_t pos = 0, replies = 0, len, i;
	int cont = 0, exempt = 0, cls;
	char code[3] = { 0, 0, 0 };

	while (pos < n) {
		const char *line = p + pos, *lf = memchr(line, '\n', n - pos);

		if (lf == NULL)
			oracle_fail("reply line at %zu without line end", pos);
		len = (size_t)(lf - line) + 1;
		if (len < 6 || line[len - 2] != '\r')
			oracle_fail("reply line at %zu: too short or bare LF", pos);
		if (len > REPLY_LINE_MAX)
			oracle_fail("reply line at %zu: %zu octets", pos, len);
		if (line[0] < '2' || line[0] > '5' || line[1] < '0' ||
		    line[1] > '9' || line[2] < '0' || line[2] > '9' ||
		    (line[3] != ' ' && line[3] != '-'))
			oracle_fail("reply line at %zu: bad code or separator", pos);
		if (cont && memcmp(code, line, 3) != 0)
			oracle_fail("reply line at %zu: code changed mid-reply", pos);
		for (i = 4; i < len - 2; i++) {
			unsigned char c = (unsigned char)line[i];

			if (c != '\t' && (c < 32 || c > 126))
				oracle_fail("reply line at %zu: byte 0x%02x in text",
				            pos, c);
		}
		if (!cont) {
			size_t hn = hostname ? strlen(hostname) : 0;

			memcpy(code, line, 3);
			exempt = memcmp(code, "220", 3) == 0 || line[0] == '3' ||
			         (memcmp(code, "250", 3) == 0 && hn > 0 &&
			          len - 6 >= hn && memcmp(line + 4, hostname, hn) == 0);
		}
		cls = enhanced_class(line + 4, len - 6);
		if (cls < 0 || (cls > 0 && cls != line[0]))
			oracle_fail("reply line at %zu: bad enhanced status code", pos);
		if (cls == 0 && !exempt)
			oracle_fail("reply line at %zu: no enhanced status code", pos);
		cont = line[3] == '-';
		if (!cont)
			replies++;
		pos += len;
	}
	if (cont)
		oracle_fail("reply without its last line");
	return replies;
}

/* The model of header.h: where the header ends and what it holds. */
struct hmodel {
	size_t end;        /* index of the line that ends the header, or nl */
	int nonfield;      /* that line is not a field (an empty one is added) */
	int date, from, msgid;
	unsigned received;
};

/* is_name - is line l[0..len) named name (ASCII case ignored)? */
static int is_name(const char *l, size_t len, const char *name)
{
	size_t i;

	if (strlen(name) != len)
		return 0;
	for (i = 0; i < len; i++) {
		char a = l[i], b = name[i];

		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (b >= 'A' && b <= 'Z')
			b = (char)(b - 'A' + 'a');
		if (a != b)
			return 0;
	}
	return 1;
}

/* model - walk the header of msg[0..nl) as header.h describes it */
static void model(const struct oline *msg, size_t nl, struct hmodel *m)
{
	size_t i, j, name;
	int seen_field = 0;

	memset(m, 0, sizeof *m);
	m->end = nl;
	for (i = 0; i < nl; i++) {
		const unsigned char *l = (const unsigned char *)msg[i].p;
		size_t n = msg[i].n;

		if (n == 0) {
			m->end = i;
			return;
		}
		if (l[0] == ' ' || l[0] == '\t') {
			if (seen_field)
				continue;
			break;
		}
		for (j = 0; j < n && l[j] >= 33 && l[j] <= 126 && l[j] != ':'; j++)
			;
		name = j;
		while (j < n && (l[j] == ' ' || l[j] == '\t'))
			j++;
		if (name == 0 || j >= n || l[j] != ':' || j > HEADER_NAME_MAX)
			break;
		seen_field = 1;
		if (is_name(msg[i].p, name, "Received"))
			m->received++;
		else if (is_name(msg[i].p, name, "Date"))
			m->date = 1;
		else if (is_name(msg[i].p, name, "From"))
			m->from = 1;
		else if (is_name(msg[i].p, name, "Message-ID"))
			m->msgid = 1;
	}
	if (i < nl) {
		m->end = i;
		m->nonfield = 1;
	}
}

/* oracle_header_result - what header_end() must return */
enum header_result oracle_header_result(const struct oline *msg, size_t nl,
                                        const struct header_info *info)
{
	struct hmodel m;

	model(msg, nl, &m);
	if (m.received > info->max_received)
		return HEADER_LOOP;
	if (!m.from && (info->sender == NULL || info->sender[0] == '\0'))
		return HEADER_NO_FROM;
	return HEADER_OK;
}

/* line_is - is l exactly the concatenation of the C strings given, up
 * to a NULL? */
static int line_is(const struct oline *l, ...) __attribute__((sentinel));
static int line_is(const struct oline *l, ...)
{
	const char *part;
	size_t off = 0, k;
	va_list ap;
	int ok = 1;

	va_start(ap, l);
	while (ok && (part = va_arg(ap, const char *)) != NULL) {
		k = strlen(part);
		if (off + k > l->n || memcmp(l->p + off, part, k) != 0)
			ok = 0;
		off += k;
	}
	va_end(ap);
	return ok && off == l->n;
}

/* starts - does l start with the C string s? */
static int starts(const struct oline *l, const char *s)
{
	size_t k = strlen(s);

	return l->n >= k && memcmp(l->p, s, k) == 0;
}

/* check_received - our trace field, out[0..r) */
static void check_received(const struct oline *o, size_t r,
                           const struct header_info *info, const char *date)
{
	const char *helo = info->helo && info->helo[0] ? info->helo : "unknown";
	const char *ip = info->client_ip ? info->client_ip : "";
	const char *tag = strchr(ip, ':') ? " ([IPv6:" : " ([";
	size_t i, k = strlen(date);
	/* under TLS with its version known, a "(using ...)" line comes
	 * before "by", and after EHLO "with" says ESMTPS (RFC 3848; after
	 * HELO it stays SMTP: RFC 3848 has no SMTPS) */
	size_t by = 1 + (info->tls != NULL && info->tls->version[0] != '\0');
	int ok_with;

	if (!line_is(&o[0], "Received: from ", helo, tag, ip, "])", NULL))
		oracle_fail("first line is not our Received: from");
	if (by == 2 && !starts(&o[1], "\t(using "))
		oracle_fail("Received: under TLS has no \"(using\" line");
	ok_with = 0;
	for (i = 0; i < 2; i++) {
		char want[600];
		int esmtp = (int)i;

		if (info->esmtp >= 0 && esmtp != info->esmtp)
			continue;
		snprintf(want, sizeof want, "\tby %s (mta) with %s%s%s id %s",
		         info->hostname, esmtp ? "ESMTP" : "SMTP",
		         info->tls != NULL && esmtp ? "S" : "",
		         info->authenticated && esmtp ? "A" : "", info->id);
		ok_with |= starts(&o[by], want);
	}
	if (!ok_with)
		oracle_fail("Received: has a bad \"by\" line");
	for (i = 1; i < r; i++)
		if (o[i].n == 0 || o[i].p[0] != '\t')
			oracle_fail("Received: line %zu is not folded with a tab", i);
	if (info->rcpt != NULL &&
	    (r < by + 2 || !starts(&o[by + 1], "\tfor <") ||
	     o[by + 1].n < 6 + strlen(info->rcpt) + 2 ||
	     memcmp(o[by + 1].p + 6, info->rcpt, strlen(info->rcpt)) != 0 ||
	     memcmp(o[by + 1].p + 6 + strlen(info->rcpt), ">;", 2) != 0))
		oracle_fail("Received: has no \"for <rcpt>;\" line");
	if (o[r - 1].n < k || memcmp(o[r - 1].p + o[r - 1].n - k, date, k) != 0)
		oracle_fail("Received: does not end with the date");
}

/* oracle_header - check header.c's output against the model */
void oracle_header(const struct oline *msg, size_t nl,
                   const struct header_info *info, const char *out,
                   size_t n)
{
	struct hmodel m;
	struct oline *o;
	char date[64];
	size_t no, r, others, idx, i;
	size_t using = info->tls != NULL && info->tls->version[0] != '\0';

	if (n == 0 || out[n - 1] != '\n')
		oracle_fail("output does not end with LF");
	model(msg, nl, &m);
	header_format_date(date, sizeof date, info->arrival);
	o = oracle_split(out, n, &no);
	others = nl + !m.date + (!m.from && info->sender && info->sender[0]) +
	         !m.msgid + (size_t)m.nonfield;
	if (no < others + 2 + using || no > others + 4 + using)
		oracle_fail("%zu output lines for %zu message lines", no, nl);
	r = no - others;
	check_received(o, r, info, date);
	idx = r;
	for (i = 0; i < m.end; i++, idx++)
		if (o[idx].n != msg[i].n || memcmp(o[idx].p, msg[i].p, msg[i].n))
			oracle_fail("header line %zu changed", i);
	if (!m.date && !line_is(&o[idx++], "Date: ", date, NULL))
		oracle_fail("bad added Date:");
	if (!m.from && info->sender && info->sender[0] &&
	    !line_is(&o[idx++], "From: ", info->sender, NULL))
		oracle_fail("bad added From:");
	if (!m.msgid && !line_is(&o[idx++], "Message-ID: <", info->id, "@",
	                         info->hostname, ">", NULL))
		oracle_fail("bad added Message-ID:");
	if (m.nonfield && o[idx++].n != 0)
		oracle_fail("no empty line before the body");
	for (i = m.end; i < nl; i++, idx++)
		if (o[idx].n != msg[i].n || memcmp(o[idx].p, msg[i].p, msg[i].n))
			oracle_fail("line %zu changed", i);
	free(o);
}
