/* smtp_reply.c - incremental, defensive SMTP reply parser; see smtp_reply.h
 *
 * Each line is collected (up to SMTP_REPLY_LINE_MAX bytes, the rest
 * counted and dropped) and judged when its LF arrives: the code and
 * separator decide whether the reply goes on, the text is sanitized and
 * appended.  Only the LF matters for framing, so a reply can never be
 * split or joined by anything but line ends.
 */
#include <stdio.h>
#include <string.h>

#include "smtp_reply.h"

/* smtp_reply_init - a parser at the start of a reply */
void smtp_reply_init(struct smtp_reply_parser *p)
{
	memset(p, 0, sizeof *p);
}

/* smtp_reply_pending - true when part of a reply has been fed */
int smtp_reply_pending(const struct smtp_reply_parser *p)
{
	return p->reply_bytes > 0 || p->cur.lines > 0;
}

/* smtp_reply_error_text - a short English phrase for an error */
const char *smtp_reply_error_text(enum smtp_reply_error e)
{
	switch (e) {
	case SMTP_REPLY_OK:       return "well-formed reply";
	case SMTP_REPLY_EBADCODE: return "malformed reply line";
	case SMTP_REPLY_EMIXED:   return "reply lines with different codes";
	case SMTP_REPLY_ETOOBIG:  return "reply too long";
	}
	return "unknown reply error";
}

/* is_digit - an ASCII digit, whatever the locale */
static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* scan_enhanced - an RFC 3463 code "c.sss.ddd" at s[0..n) whose class is
 * want; returns the bytes it takes (with one following space), or 0 */
static size_t scan_enhanced(const char *s, size_t n, int want, int *subject,
                            int *detail)
{
	size_t i = 0, k;
	int sub = 0, det = 0;

	if (n < 5 || s[0] != '0' + want || s[1] != '.')
		return 0;
	i = 2;
	for (k = 0; k < 3 && i < n && is_digit(s[i]); k++, i++)
		sub = sub * 10 + (s[i] - '0');
	if (k == 0 || i >= n || s[i] != '.')
		return 0;
	i++;
	for (k = 0; k < 3 && i < n && is_digit(s[i]); k++, i++)
		det = det * 10 + (s[i] - '0');
	if (k == 0)
		return 0;
	if (i < n && s[i] != ' ')
		return 0;
	if (i < n)
		i++;
	*subject = sub;
	*detail = det;
	return i;
}

/* append_text - add s[0..n) to the reply text, sanitized and capped */
static void append_text(struct smtp_reply *r, const char *s, size_t n)
{
	size_t room, i;

	room = sizeof r->text - 1 - r->len;
	if (n > room) {
		n = room;
		r->truncated = 1;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		r->text[r->len++] = (c < 0x20 || c > 0x7e) ? '?' : (char)c;
	}
	r->text[r->len] = '\0';
}

/* finish - hand the assembled reply over and start afresh */
static void finish(struct smtp_reply_parser *p, struct smtp_reply *r)
{
	int skip = p->skip_line;

	*r = p->cur;
	r->text[r->len] = '\0';
	smtp_reply_init(p);
	p->skip_line = skip;
}

/* end_line - judge a complete line; returns 1 when it ended the reply */
static int end_line(struct smtp_reply_parser *p)
{
	struct smtp_reply *cur = &p->cur;
	const char *s = p->line;
	size_t n = p->line_stored, off;
	int code, final, sub = 0, det = 0;

	if (p->line_len > p->line_stored)
		cur->truncated = 1;
	else if (n > 0 && s[n - 1] == '\r')
		n--;
	if (cur->lines > 0) {
		/* the separator: the one control character text may hold */
		if (cur->len < sizeof cur->text - 1)
			cur->text[cur->len++] = '\n';
		else
			cur->truncated = 1;
	}
	cur->lines++;
	if (n < 3 || s[0] < '2' || s[0] > '5' || !is_digit(s[1]) ||
	    !is_digit(s[2]) || (n > 3 && s[3] != ' ' && s[3] != '-')) {
		/* Garbage: keep it (sanitized) so the caller can show it. */
		append_text(cur, s, n);
		cur->error = SMTP_REPLY_EBADCODE;
		return 1;
	}
	code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	final = n == 3 || s[3] == ' ';
	off = n > 3 ? 4 : 3;
	if (cur->lines == 1)
		cur->code = code;
	else if (code != cur->code)
		p->mixed = 1;
	off += scan_enhanced(s + off, n - off, code / 100, &sub, &det);
	if (cur->lines == 1 && off > 4) {
		cur->enh_class = code / 100;
		cur->enh_subject = sub;
		cur->enh_detail = det;
	}
	append_text(cur, s + off, n - off);
	if (final) {
		if (p->mixed)
			cur->error = SMTP_REPLY_EMIXED;
		return 1;
	}
	if (cur->lines >= SMTP_REPLY_LINES_MAX) {
		cur->error = SMTP_REPLY_ETOOBIG;
		return 1;
	}
	return 0;
}

/* smtp_reply_feed - consume input up to the end of one reply */
int smtp_reply_feed(struct smtp_reply_parser *p, const char *buf, size_t n,
                    size_t *used, struct smtp_reply *r)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = buf[i];

		if (p->skip_line) {
			if (c == '\n')
				p->skip_line = 0;
			continue;
		}
		p->reply_bytes++;
		if (c == '\n') {
			int done = end_line(p);

			p->line_len = p->line_stored = 0;
			if (done) {
				finish(p, r);
				*used = i + 1;
				return 1;
			}
			continue;
		}
		if (p->line_stored < sizeof p->line)
			p->line[p->line_stored++] = c;
		p->line_len++;
		if (p->reply_bytes >= SMTP_REPLY_BYTES_MAX) {
			/* Judge what there is, then drop the rest of the line. */
			end_line(p);
			p->cur.error = SMTP_REPLY_ETOOBIG;
			p->skip_line = 1;
			finish(p, r);
			*used = i + 1;
			return 1;
		}
	}
	*used = n;
	return 0;
}

/* smtp_reply_line - the n-th line of a reply's text */
int smtp_reply_line(const struct smtp_reply *r, unsigned n, char *buf,
                    size_t len)
{
	const char *s = r->text, *e;
	size_t k;

	if (r->lines == 0)
		return -1;
	while (n > 0) {
		s = strchr(s, '\n');
		if (s == NULL)
			return -1;
		s++;
		n--;
	}
	e = strchr(s, '\n');
	k = e ? (size_t)(e - s) : strlen(s);
	if (len == 0)
		return -1;
	if (k >= len)
		k = len - 1;
	memcpy(buf, s, k);
	buf[k] = '\0';
	return (int)k;
}

/* smtp_reply_clear - no reply */
void smtp_reply_clear(struct smtp_reply *r)
{
	r->code = 0;
	r->error = SMTP_REPLY_OK;
	r->enh_class = r->enh_subject = r->enh_detail = 0;
	r->lines = 0;
	r->truncated = 0;
	r->len = 0;
	r->text[0] = '\0';
}

/* smtp_reply_status - what a server reply means */
struct status smtp_reply_status(const struct smtp_reply *r)
{
	enum status_kind kind;
	char enh[24] = "";

	kind = r->code < 400 ? ST_OK : r->code < 500 ? ST_TEMP : ST_PERM;
	if (r->enh_class)
		snprintf(enh, sizeof enh, "%d.%d.%d ", r->enh_class,
		         r->enh_subject, r->enh_detail);
	return status_make(kind, r->enh_subject, r->enh_detail, "%d %s%s",
	                   r->code, enh, r->text);
}

/* smtp_reply_summary - see smtp_reply.h */
void smtp_reply_summary(const struct smtp_reply *r, char *buf, size_t len)
{
	char first[SMTP_REPLY_LINE_MAX];

	if (smtp_reply_line(r, 0, first, sizeof first) < 0)
		first[0] = '\0';
	if (r->enh_class)
		snprintf(buf, len, "%d %d.%d.%d %s", r->code, r->enh_class,
		         r->enh_subject, r->enh_detail, first);
	else
		snprintf(buf, len, "%d %s", r->code, first);
}
