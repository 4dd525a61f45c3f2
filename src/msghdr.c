/* msghdr.c - addresses and fields from a message header; see msghdr.h */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "msghdr.h"

/* addrlist_init - an empty list */
void addrlist_init(struct addrlist *l)
{
	l->v = NULL;
	l->n = l->cap = 0;
}

/* addrlist_free - release every address */
void addrlist_free(struct addrlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	addrlist_init(l);
}

/* same_addr - equal addresses: local part exactly, domain without case */
static int same_addr(const char *a, const char *b, size_t bn)
{
	const char *at = memrchr(b, '@', bn);
	size_t k = at ? (size_t)(at - b) : bn;

	if (strlen(a) != bn || memcmp(a, b, k) != 0)
		return 0;
	return strncasecmp(a + k, b + k, bn - k) == 0;
}

/* addrlist_add - append a[0..n) unless it is there already */
int addrlist_add(struct addrlist *l, const char *a, size_t n)
{
	char *copy;
	size_t i;

	for (i = 0; i < l->n; i++)
		if (same_addr(l->v[i], a, n))
			return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		char **v = realloc(l->v, cap * sizeof *v);

		if (v == NULL)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	copy = malloc(n + 1);
	if (copy == NULL)
		return -1;
	memcpy(copy, a, n);
	copy[n] = '\0';
	l->v[l->n++] = copy;
	return 1;
}

/* skip_comment - s[i] is '(': the index just past the matching ')' */
static size_t skip_comment(const char *s, size_t n, size_t i)
{
	int depth = 0;

	for (; i < n; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '(')
			depth++;
		else if (s[i] == ')' && --depth == 0)
			return i + 1;
	}
	return n;
}

/* skip_quoted - s[i] is '"' or '[': the index just past its end */
static size_t skip_quoted(const char *s, size_t n, size_t i)
{
	char close = s[i] == '"' ? '"' : ']';

	for (i++; i < n; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == close)
			return i + 1;
	}
	return n;
}

/* one address being assembled */
struct pa {
	char buf[MSG_ADDR_MAX + 1];
	size_t len;
	int over;                 /* did not fit */
	int gap;                  /* whitespace since the last byte */
	int phrase;               /* words side by side: a display name */
};

/* pa_put - append s[0..n), noting words joined by whitespace */
static void pa_put(struct pa *a, const char *s, size_t n)
{
	if (a->gap && a->len > 0 && a->buf[a->len - 1] != '.' &&
	    a->buf[a->len - 1] != '@' && s[0] != '.' && s[0] != '@')
		a->phrase = 1;
	a->gap = 0;
	if (n > sizeof a->buf - 1 - a->len) {
		a->over = 1;
		return;
	}
	memcpy(a->buf + a->len, s, n);
	a->len += n;
}

/* addr_acceptable - may s[0..n) be used as an address? */
static int addr_acceptable(const char *s, size_t n)
{
	size_t i;
	int quoted = memchr(s, '"', n) != NULL;

	if (n == 0 || n > MSG_ADDR_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c > 0x7e || c < 0x20 || (c == ' ' && !quoted) || c == '<' ||
		    c == '>')
			return 0;
	}
	return 1;
}

/* emit - the address in cur, or in the angle brackets, into l; one that
 * is there but cannot be used (too long, 8-bit or control bytes) into
 * dropped, when not NULL */
static int emit(struct pa *cur, struct pa *ang, int have_angle,
                struct addrlist *l, struct addrlist *dropped)
{
	const char *s = cur->buf;
	size_t n = cur->len;
	int r = 0, over = cur->over;

	if (have_angle) {
		const char *colon;

		s = ang->buf;
		n = ang->len;
		/* an obsolete source route "@a,@b:" goes */
		if (n > 0 && s[0] == '@' && (colon = memchr(s, ':', n)) != NULL) {
			n -= (size_t)(colon + 1 - s);
			s = colon + 1;
		}
		over = ang->over;
	} else if (cur->phrase) {
		n = 0;                    /* a display name alone */
		over = 0;
	}
	if (!over && addr_acceptable(s, n))
		r = addrlist_add(l, s, n);
	else if (dropped && (n > 0 || over) && addrlist_add(dropped, s, n) < 0)
		r = -1;
	memset(cur, 0, sizeof *cur);
	memset(ang, 0, sizeof *ang);
	return r;
}

/* read_angle - s[i] is '<': the contents up to '>' without whitespace or
 * comments into ang; returns the index past the '>' */
static size_t read_angle(const char *s, size_t n, size_t i, struct pa *ang)
{
	for (i++; i < n && s[i] != '>';) {
		size_t j;

		if (s[i] == '(') {
			i = skip_comment(s, n, i);
		} else if (s[i] == '"' || s[i] == '[') {
			j = skip_quoted(s, n, i);
			pa_put(ang, s + i, j - i);
			i = j;
		} else if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' ||
		           s[i] == '\n') {
			i++;
		} else {
			pa_put(ang, s + i, 1);
			i++;
		}
	}
	ang->phrase = 0;
	return i < n ? i + 1 : n;
}

/* msg_parse_addresses - every address in a field body into l */
int msg_parse_addresses(const char *s, size_t n, struct addrlist *l)
{
	return msg_parse_addresses_all(s, n, l, NULL);
}

/* msg_parse_addresses_all - and the unusable ones into dropped */
int msg_parse_addresses_all(const char *s, size_t n, struct addrlist *l,
                            struct addrlist *dropped)
{
	struct pa cur, ang;
	int have_angle = 0, added = 0, r;
	size_t i = 0, j;

	memset(&cur, 0, sizeof cur);
	memset(&ang, 0, sizeof ang);
	while (i < n) {
		switch (s[i]) {
		case '(':
			i = skip_comment(s, n, i);
			cur.gap = 1;
			continue;
		case ' ': case '\t': case '\r': case '\n':
			cur.gap = 1;
			i++;
			continue;
		case '"': case '[':
			j = skip_quoted(s, n, i);
			pa_put(&cur, s + i, j - i);
			i = j;
			continue;
		case '<':
			i = read_angle(s, n, i, &ang);
			have_angle = 1;
			continue;
		case ':':
			if (!have_angle)            /* a group's display name */
				memset(&cur, 0, sizeof cur);
			i++;
			continue;
		case ',': case ';':
			r = emit(&cur, &ang, have_angle, l, dropped);
			if (r < 0)
				return -1;
			added += r;
			have_angle = 0;
			i++;
			continue;
		default:
			pa_put(&cur, s + i, 1);
			i++;
		}
	}
	r = emit(&cur, &ang, have_angle, l, dropped);
	if (r < 0)
		return -1;
	return added + r;
}

/* ---- header fields ---------------------------------------------------- */

/* line_end - offset just past the line starting at p */
static size_t line_end(const char *m, size_t n, size_t p)
{
	const char *nl = memchr(m + p, '\n', n - p);

	return nl ? (size_t)(nl - m) + 1 : n;
}

/* field_next - the header field at *pos: its whole extent [*start, *end)
 * with continuation lines and line ends, its name length and the offset
 * of its value.  Returns 1, or 0 at the end of the header (then *pos is
 * the offset of the body). */
static int field_next(const char *m, size_t n, size_t *pos, size_t *start,
                      size_t *namelen, size_t *val, size_t *end)
{
	size_t p = *pos, e, q;

	if (p >= n)
		return 0;
	e = line_end(m, n, p);
	if (m[p] == '\n' || (m[p] == '\r' && (e - p == 1 || m[p + 1] == '\n'))) {
		*pos = e;                      /* the empty line */
		return 0;
	}
	for (q = p; q < e && m[q] > ' ' && m[q] < 0x7f && m[q] != ':'; q++)
		;
	*namelen = q - p;
	while (q < e && (m[q] == ' ' || m[q] == '\t'))
		q++;
	if (*namelen == 0 || q >= e || m[q] != ':')
		return 0;                      /* not a field: the body */
	*start = p;
	*val = q + 1;
	while (e < n && (m[e] == ' ' || m[e] == '\t'))
		e = line_end(m, n, e);
	*end = e;
	*pos = e;
	return 1;
}

/* is_name - is the field name at m[0..len) name (any case)? */
static int is_name(const char *m, size_t len, const char *name)
{
	return len == strlen(name) && strncasecmp(m, name, len) == 0;
}

/* msg_header_end - offset of the body */
size_t msg_header_end(const char *m, size_t n)
{
	size_t pos = 0, start, nl, val, end;

	while (field_next(m, n, &pos, &start, &nl, &val, &end))
		;
	return pos;
}

/* msg_header_addrs - sender and recipients from the header */
int msg_header_addrs(const char *m, size_t n, char *from, size_t fromlen,
                     struct addrlist *rcpt)
{
	return msg_header_addrs_all(m, n, from, fromlen, rcpt, NULL);
}

/* msg_header_addrs_all - and the unusable recipients into dropped */
int msg_header_addrs_all(const char *m, size_t n, char *from, size_t fromlen,
                         struct addrlist *rcpt, struct addrlist *dropped)
{
	size_t pos = 0, start, nl, val, end;
	int got_from = 0;

	if (fromlen > 0)
		from[0] = '\0';
	while (field_next(m, n, &pos, &start, &nl, &val, &end)) {
		if (is_name(m + start, nl, "from") && !got_from) {
			struct addrlist tmp;

			addrlist_init(&tmp);
			if (msg_parse_addresses(m + val, end - val, &tmp) < 0) {
				addrlist_free(&tmp);
				return -1;
			}
			if (tmp.n > 0 && strlen(tmp.v[0]) < fromlen) {
				strcpy(from, tmp.v[0]);
				got_from = 1;
			}
			addrlist_free(&tmp);
		} else if (rcpt && (is_name(m + start, nl, "to") ||
		                    is_name(m + start, nl, "cc") ||
		                    is_name(m + start, nl, "bcc"))) {
			if (msg_parse_addresses_all(m + val, end - val, rcpt,
			                            dropped) < 0)
				return -1;
		}
	}
	return 0;
}

/* msg_header_find - a field called name in the header, and where the
 * fields end */
int msg_header_find(const char *m, size_t n, const char *name,
                    size_t *fields_end)
{
	size_t pos = 0, start, nl, val, end, last = 0;
	int found = 0;

	while (field_next(m, n, &pos, &start, &nl, &val, &end)) {
		if (is_name(m + start, nl, name))
			found = 1;
		last = end;
	}
	if (fields_end)
		*fields_end = last;
	return found;
}

/* msg_skip_from_line - past a leading mbox From_ line */
size_t msg_skip_from_line(const char *m, size_t n)
{
	if (n < 5 || memcmp(m, "From ", 5) != 0)
		return 0;
	return line_end(m, n, 0);
}

/* msg_remove_bcc - delete the Bcc: fields in place */
size_t msg_remove_bcc(char *m, size_t n)
{
	size_t pos = 0, start, nl, val, end;

	while (field_next(m, n, &pos, &start, &nl, &val, &end)) {
		if (is_name(m + start, nl, "bcc")) {
			memmove(m + start, m + end, n - end);
			n -= end - start;
			pos = start;
		}
	}
	return n;
}

/* msg_has_8bit - bytes above 0x7f? */
int msg_has_8bit(const char *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)m[i] > 0x7f)
			return 1;
	return 0;
}
