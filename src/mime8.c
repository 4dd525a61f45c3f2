/* mime8.c - the 8-bit to 7-bit downgrade; see mime8.h */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mime8.h"

enum { BODY_PASS, BODY_SCAN, BODY_QP };
enum { KIND_LEAF, KIND_MULTIPART, KIND_MESSAGE, KIND_OPAQUE };
enum { CTE_NONE, CTE_7BIT, CTE_8BIT, CTE_BINARY, CTE_OTHER };

/* what a part's header says */
struct part_info {
	int mime_version, has_type, kind, cte, digest;
	char boundary[MIME8_BOUNDARY_MAX + 1];
};

/* emit - output, in the second pass only */
static void emit(struct mime8 *m, const char *p, size_t n)
{
	if (m->converting && n > 0)
		m->out(m->ctx, p, n);
}

/* start_entity - a part's (or an enclosed message's) header begins */
static void start_entity(struct mime8 *m, int top, int digest)
{
	m->in_header = 1;
	m->top = top;
	m->digest = digest;
	m->hlen = 0;
	m->hdr_skip = 0;
	m->body = BODY_PASS;
	m->entity++;
	if (m->converting || m->entity <= m->nmarks)
		return;
	if (m->nmarks == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		unsigned char *a = realloc(m->marks, cap);

		if (a == NULL) {
			m->oom = 1;
			return;
		}
		m->marks = a;
		m->cap = cap;
	}
	m->marks[m->nmarks++] = 0;
}

/* restart - the parser at the start of the message, for either pass */
static void restart(struct mime8 *m)
{
	m->entity = 0;
	m->depth = 0;
	m->llen = 0;
	m->midline = 0;
	m->col = 0;
	m->pending = -1;
	start_entity(m, 1, 0);
}

/* mime8_init - ready for the scan */
void mime8_init(struct mime8 *m)
{
	memset(m, 0, sizeof *m);
	restart(m);
}

/* mime8_free - the marks and the header buffer */
void mime8_free(struct mime8 *m)
{
	free(m->marks);
	free(m->hdr);
	m->marks = NULL;
	m->hdr = NULL;
	m->nmarks = m->cap = m->hcap = m->hlen = 0;
}

/* ---- quoted-printable (RFC 2045 6.7) ------------------------------------ */

/* qp_room - a soft line break unless k more octets fit in 76 with '=' */
static void qp_room(struct mime8 *m, size_t k)
{
	if (m->col + k > 75) {
		emit(m, "=\n", 2);
		m->col = 0;
	}
}

/* qp_octet - one octet, literal or =XX */
static void qp_octet(struct mime8 *m, unsigned char c, int literal)
{
	static const char hex[] = "0123456789ABCDEF";
	char b[3] = { '=', hex[c >> 4], hex[c & 15] };

	if (literal) {
		qp_room(m, 1);
		emit(m, (const char *)&c, 1);
		m->col++;
	} else {
		qp_room(m, 3);
		emit(m, b, 3);
		m->col += 3;
	}
}

/* qp_put - line content (no line end); white space waits to see whether
 * the line ends after it (then it must be encoded) */
static void qp_put(struct mime8 *m, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (m->pending >= 0) {
			qp_octet(m, (unsigned char)m->pending, 1);
			m->pending = -1;
		}
		if (c == ' ' || c == '\t')
			m->pending = c;
		else
			qp_octet(m, c, c >= 33 && c <= 126 && c != '=');
	}
}

/* qp_eol - the end of a line (or of the body, when nl is 0) */
static void qp_eol(struct mime8 *m, int nl)
{
	if (m->pending >= 0)
		qp_octet(m, (unsigned char)m->pending, 0);
	m->pending = -1;
	if (nl) {
		emit(m, "\n", 1);
		m->col = 0;
	}
}

/* ---- header fields ------------------------------------------------------- */

/* is_name - does line[0..n) start the field name (any case)? */
static int is_name(const char *line, size_t n, const char *name)
{
	size_t k = strlen(name);

	if (n < k || strncasecmp(line, name, k) != 0)
		return 0;
	while (k < n && (line[k] == ' ' || line[k] == '\t'))
		k++;
	return k < n && line[k] == ':';
}

/* field_value - the first field name's value, unfolded, into buf; 1 when
 * there is one */
static int field_value(const struct mime8 *m, const char *name, char *buf,
                       size_t len)
{
	size_t pos = 0, o = 0;
	int in = 0;

	while (pos < m->hlen) {
		const char *line = m->hdr + pos, *nl = memchr(line, '\n', m->hlen - pos);
		size_t n = nl ? (size_t)(nl - line) : m->hlen - pos, i = 0;

		pos += n + (nl != NULL);
		if (line[0] != ' ' && line[0] != '\t') {
			if (in)
				break;
			if (!is_name(line, n, name))
				continue;
			in = 1;
			i = (size_t)((const char *)memchr(line, ':', n) - line) + 1;
		} else if (!in) {
			continue;
		}
		for (; i < n && o + 1 < len; i++)
			if (line[i] != '\r')
				buf[o++] = line[i];
	}
	buf[o] = '\0';
	return in;
}

/* token - skip white space, then copy a token (up to a tspecial) */
static const char *token(const char *p, char *out, size_t len)
{
	size_t o = 0;

	while (*p == ' ' || *p == '\t')
		p++;
	while (*p && !strchr(" \t()<>@,;:\\\"/[]?=", *p)) {
		if (o + 1 < len)
			out[o++] = *p;
		p++;
	}
	out[o] = '\0';
	return p;
}

/* content_type - kind and boundary from a Content-Type value */
static void content_type(const char *v, struct part_info *pi)
{
	char type[64], sub[64], name[64], val[MIME8_BOUNDARY_MAX + 2];
	const char *p = token(v, type, sizeof type);

	sub[0] = '\0';
	if (*p == '/')
		p = token(p + 1, sub, sizeof sub);
	pi->kind = KIND_LEAF;
	if (strcasecmp(type, "message") == 0 && strcasecmp(sub, "rfc822") == 0)
		pi->kind = KIND_MESSAGE;
	if (strcasecmp(type, "multipart") != 0)
		return;
	pi->kind = KIND_OPAQUE;     /* until a usable boundary is found */
	pi->digest = strcasecmp(sub, "digest") == 0;
	while ((p = strchr(p, ';')) != NULL) {
		size_t o = 0, too_long = 0;

		p = token(p + 1, name, sizeof name);
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p != '=')
			continue;
		p++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1])
					p++;
				if (o + 1 < sizeof val)
					val[o++] = *p;
				else
					too_long = 1;
			}
			val[o] = '\0';
		} else {
			p = token(p, val, sizeof val);
			o = strlen(val);
			too_long = o > MIME8_BOUNDARY_MAX;
		}
		if (strcasecmp(name, "boundary") == 0 && o > 0 &&
		    o <= MIME8_BOUNDARY_MAX && !too_long) {
			memcpy(pi->boundary, val, o + 1);
			pi->kind = KIND_MULTIPART;
			return;
		}
	}
}

/* part_info - what the buffered header says */
static void part_info(const struct mime8 *m, struct part_info *pi)
{
	char v[1024], cte[64];

	memset(pi, 0, sizeof *pi);
	pi->mime_version = field_value(m, "MIME-Version", v, sizeof v);
	pi->has_type = field_value(m, "Content-Type", v, sizeof v);
	if (pi->has_type)
		content_type(v, pi);
	else
		pi->kind = m->digest ? KIND_MESSAGE : KIND_LEAF;
	pi->cte = CTE_NONE;
	if (field_value(m, "Content-Transfer-Encoding", v, sizeof v)) {
		token(v, cte, sizeof cte);
		pi->cte = strcasecmp(cte, "7bit") == 0 ? CTE_7BIT
		        : strcasecmp(cte, "8bit") == 0 ? CTE_8BIT
		        : strcasecmp(cte, "binary") == 0 ? CTE_BINARY : CTE_OTHER;
	}
	if (pi->kind == KIND_MULTIPART && m->depth == MIME8_DEPTH)
		pi->kind = KIND_OPAQUE;   /* too deep to follow */
}

/* emit_header - the buffered header, without its transfer encoding when
 * drop is set; ends it with a line end if its last line had none */
static void emit_header(struct mime8 *m, int drop)
{
	size_t pos = 0;
	int skipping = 0, ends = 1;

	while (pos < m->hlen) {
		const char *line = m->hdr + pos, *nl = memchr(line, '\n', m->hlen - pos);
		size_t n = nl ? (size_t)(nl - line) + 1 : m->hlen - pos;

		pos += n;
		if (line[0] != ' ' && line[0] != '\t')
			skipping = drop && is_name(line, n, "Content-Transfer-Encoding");
		if (!skipping) {
			emit(m, line, n);
			ends = line[n - 1] == '\n';
		}
	}
	if (!ends)
		emit(m, "\n", 1);
}

/* header_add - one more header line (or piece of one) */
static void header_add(struct mime8 *m, const char *p, size_t n)
{
	if (!m->hdr_skip && m->hlen + n > MIME8_HEADER_MAX) {
		emit(m, m->hdr, m->hlen);    /* too long to parse: as it is */
		m->hlen = 0;
		m->hdr_skip = 1;
	}
	if (m->hdr_skip) {
		emit(m, p, n);
		return;
	}
	if (m->hlen + n > m->hcap) {
		size_t cap = m->hcap ? m->hcap : 1024;
		char *a;

		while (cap < m->hlen + n)
			cap *= 2;
		if ((a = realloc(m->hdr, cap)) == NULL) {
			m->oom = 1;
			emit(m, m->hdr, m->hlen);
			m->hlen = 0;
			m->hdr_skip = 1;
			emit(m, p, n);
			return;
		}
		m->hdr = a;
		m->hcap = cap;
	}
	memcpy(m->hdr + m->hlen, p, n);
	m->hlen += n;
}

/* header_end - the header is complete (blank: its empty line, or NULL
 * when a boundary or the end of the message came first): decide */
static void header_end(struct mime8 *m, const char *blank, size_t blen)
{
	size_t k = m->entity - 1;
	struct part_info pi;
	int convertible, conv, relabel;

	m->in_header = 0;
	m->body = BODY_PASS;
	if (m->hdr_skip) {
		emit(m, blank, blank ? blen : 0);
		return;
	}
	part_info(m, &pi);
	convertible = pi.kind == KIND_LEAF && pi.cte != CTE_OTHER;
	if (!m->converting) {
		if (pi.kind != KIND_OPAQUE && (pi.cte == CTE_8BIT || pi.cte == CTE_BINARY))
			m->need = 1;
		if (convertible)
			m->body = BODY_SCAN;
	} else {
		conv = convertible && k < m->nmarks && m->marks[k];
		relabel = !conv && pi.kind != KIND_OPAQUE &&
		          (pi.cte == CTE_8BIT || pi.cte == CTE_BINARY);
		if (conv || relabel)
			emit_header(m, 1);
		else
			emit(m, m->hdr, m->hlen);
		if (conv) {
			if (m->top && !pi.mime_version)
				emit(m, "MIME-Version: 1.0\n", 18);
			if (!pi.has_type)
				emit(m, "Content-Type: text/plain; charset=unknown-8bit\n", 47);
			emit(m, "Content-Transfer-Encoding: quoted-printable\n", 44);
			m->body = BODY_QP;
			m->col = 0;
			m->pending = -1;
		} else if (relabel) {
			emit(m, "Content-Transfer-Encoding: 7bit\n", 32);
		}
		emit(m, blank, blank ? blen : 0);
	}
	m->hlen = 0;
	if (pi.kind == KIND_MULTIPART) {
		memcpy(m->bound[m->depth], pi.boundary, sizeof pi.boundary);
		m->bound_digest[m->depth++] = pi.digest;
	} else if (pi.kind == KIND_MESSAGE && blank != NULL) {
		start_entity(m, 1, 0);      /* the enclosed message's header */
	}
}

/* boundary - which open multipart's boundary line[0..n) is (innermost
 * first), -1 for none; *close for the closing one */
static int boundary(const struct mime8 *m, const char *p, size_t n, int *close)
{
	size_t i = m->depth;

	while (i-- > 0) {
		size_t bl = strlen(m->bound[i]), j = 2 + bl;

		if (n < j || p[0] != '-' || p[1] != '-' || memcmp(p + 2, m->bound[i], bl) != 0)
			continue;
		*close = n >= j + 2 && p[j] == '-' && p[j + 1] == '-';
		if (*close)
			j += 2;
		while (j < n && (p[j] == ' ' || p[j] == '\t' || p[j] == '\r' || p[j] == '\n'))
			j++;
		if (j == n)
			return (int)i;
	}
	return -1;
}

/* body_end - the body of the current part is over */
static void body_end(struct mime8 *m, int nl)
{
	if (m->body == BODY_QP)
		qp_eol(m, nl);
	m->body = BODY_PASS;
}

/* line_in - one line, or a piece of a long one (complete: it ends here;
 * last: the message ends with it, without a line end, and it may still be
 * a whole boundary line, typically the closing one) */
static void line_in(struct mime8 *m, const char *p, size_t n, int complete,
                    int last)
{
	int close, b = (complete || last) && !m->midline ?
	               boundary(m, p, n, &close) : -1;
	size_t i;

	if (b >= 0) {
		if (m->in_header)
			header_end(m, NULL, 0);
		body_end(m, 0);
		emit(m, p, n);
		m->depth = (size_t)b + 1;
		if (close) {
			m->depth = (size_t)b;
			m->body = BODY_PASS;          /* the epilogue */
		} else {
			start_entity(m, 0, m->bound_digest[b]);
		}
		return;
	}
	if (m->in_header) {
		if (complete && !m->midline &&
		    ((n == 1 && p[0] == '\n') || (n == 2 && p[0] == '\r' && p[1] == '\n')))
			header_end(m, p, n);
		else
			header_add(m, p, n);
		return;
	}
	switch (m->body) {
	case BODY_SCAN:
		for (i = 0; i < n; i++)
			if ((unsigned char)p[i] > 127) {
				m->marks[m->entity - 1] = 1;
				m->need = 1;
				break;
			}
		break;
	case BODY_QP:
		if (complete) {
			n--;                          /* the LF */
			if (n > 0 && p[n - 1] == '\r')
				n--;
		}
		qp_put(m, p, n);
		if (complete)
			qp_eol(m, 1);
		break;
	default:
		emit(m, p, n);
		break;
	}
}

/* feed - cut bytes into lines for line_in; a line longer than the buffer
 * goes in pieces (never a boundary), a last CR kept for the LF after it */
static void feed(struct mime8 *m, const char *in, size_t n)
{
	if (m->oom)
		return;
	while (n > 0) {
		const char *nl = memchr(in, '\n', n);
		size_t take = nl ? (size_t)(nl - in) + 1 : n;
		int complete = nl != NULL;

		if (take > MIME8_LINE - m->llen) {
			take = MIME8_LINE - m->llen;
			complete = 0;
		}
		memcpy(m->line + m->llen, in, take);
		m->llen += take;
		in += take;
		n -= take;
		if (complete) {
			line_in(m, m->line, m->llen, 1, 0);
			m->llen = 0;
			m->midline = 0;
		} else if (m->llen == MIME8_LINE) {
			size_t keep = m->line[MIME8_LINE - 1] == '\r';

			line_in(m, m->line, m->llen - keep, 0, 0);
			m->midline = 1;
			m->line[0] = '\r';
			m->llen = keep;
		}
		if (m->oom)
			return;
	}
}

/* finish - the end of the message, in either pass */
static void finish(struct mime8 *m)
{
	if (m->llen > 0)
		line_in(m, m->line, m->llen, 0, 1);
	m->llen = 0;
	if (m->in_header)
		header_end(m, NULL, 0);
	body_end(m, 0);
}

/* mime8_scan - the first pass */
void mime8_scan(struct mime8 *m, const char *in, size_t n)
{
	feed(m, in, n);
}

/* mime8_scan_end - anything to change? */
int mime8_scan_end(struct mime8 *m)
{
	if (!m->oom)
		finish(m);
	return m->oom ? -1 : m->need;
}

/* mime8_convert_start - the second pass begins */
void mime8_convert_start(struct mime8 *m, mime8_out out, void *ctx)
{
	m->converting = 1;
	m->out = out;
	m->ctx = ctx;
	restart(m);
}

/* mime8_convert - the second pass */
void mime8_convert(struct mime8 *m, const char *in, size_t n)
{
	feed(m, in, n);
}

/* mime8_convert_end - the rest */
void mime8_convert_end(struct mime8 *m)
{
	finish(m);
}
