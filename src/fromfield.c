/* fromfield.c - the From: field mta-send makes; see fromfield.h */
#include <errno.h>
#include <string.h>

#include "fromfield.h"
#include "msghdr.h"

enum { EW_OCTETS = 45 };   /* 60 base64 characters: a 75-character word */

/* utf8_len - length of the UTF-8 character at s[0..n), 0 if invalid */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates and beyond U+10FFFF are not UTF-8 */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

/* fromfield_name_ok - UTF-8, no control characters, not too long */
int fromfield_name_ok(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, k;

	if (n > FROMFIELD_NAME_MAX)
		return 0;
	while (i < n) {
		if (p[i] < 0x20 || p[i] == 0x7f)
			return 0;
		if ((k = utf8_len(p + i, n - i)) == 0)
			return 0;
		i += k;
	}
	return 1;
}

/* is_atext - RFC 5322 3.2.3 */
static int is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

/* cat_encoded - name[0..n) as encoded words, folded between them */
static int cat_encoded(stralloc *out, const char *name, size_t n,
                       const char *eol)
{
	static const char b64[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = (const unsigned char *)name;
	size_t i = 0, end, k, j;
	char q[4];

	while (i < n) {
		/* as many whole characters as fit in one word */
		for (end = i; end < n; end += k) {
			k = utf8_len(p + end, n - end);
			if (k == 0 || end + k - i > EW_OCTETS)
				break;
		}
		if (end == i)
			return -1;             /* not UTF-8: name_ok says no */
		if (i > 0 && (!stralloc_cats(out, eol) || !stralloc_cats(out, " ")))
			return -1;
		if (!stralloc_cats(out, "=?UTF-8?B?"))
			return -1;
		for (j = i; j < end; j += 3) {
			unsigned v = (unsigned)p[j] << 16;

			if (j + 1 < end)
				v |= (unsigned)p[j + 1] << 8;
			if (j + 2 < end)
				v |= p[j + 2];
			q[0] = b64[v >> 18 & 63];
			q[1] = b64[v >> 12 & 63];
			q[2] = j + 1 < end ? b64[v >> 6 & 63] : '=';
			q[3] = j + 2 < end ? b64[v & 63] : '=';
			if (!stralloc_catb(out, q, 4))
				return -1;
		}
		if (!stralloc_cats(out, "?="))
			return -1;
		i = end;
	}
	return 0;
}

/* cat_name - the display name as a phrase */
static int cat_name(stralloc *out, const char *name, size_t n,
                    const char *eol)
{
	size_t i;
	int atoms = 1, eight = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c > 0x7f)
			eight = 1;
		else if (c != ' ' && !is_atext(c))
			atoms = 0;
	}
	if (eight)
		return cat_encoded(out, name, n, eol);
	if (atoms)
		return stralloc_catb(out, name, n) ? 0 : -1;
	if (!stralloc_cats(out, "\""))
		return -1;
	for (i = 0; i < n; i++) {
		if ((name[i] == '"' || name[i] == '\\') &&
		    !stralloc_cats(out, "\\"))
			return -1;
		if (!stralloc_catb(out, name + i, 1))
			return -1;
	}
	return stralloc_cats(out, "\"") ? 0 : -1;
}

/* fromfield_make - "From: NAME <ADDR>" or "From: ADDR", then eol */
int fromfield_make(stralloc *out, const char *name, const char *addr,
                   const char *eol)
{
	size_t n = name ? strlen(name) : 0;

	if (name && !fromfield_name_ok(name)) {
		errno = EINVAL;
		return -1;
	}
	while (n > 0 && name[0] == ' ') {
		name++;
		n--;
	}
	while (n > 0 && name[n - 1] == ' ')
		n--;
	if (!stralloc_cats(out, "From: "))
		goto nomem;
	if (n == 0) {
		if (!stralloc_cats(out, addr))
			goto nomem;
	} else if (cat_name(out, name, n, eol) < 0 ||
	           !stralloc_cats(out, " <") || !stralloc_cats(out, addr) ||
	           !stralloc_cats(out, ">")) {
		goto nomem;
	}
	if (!stralloc_cats(out, eol))
		goto nomem;
	return 0;
nomem:
	errno = ENOMEM;
	return -1;
}

/* fromfield_add - insert the field where mta-smtpd would */
int fromfield_add(stralloc *msg, const char *name, const char *addr)
{
	stralloc f = { 0, 0, 0 };
	const char *m = msg->s ? msg->s : "", *nl;
	size_t n = msg->len, at, keep;
	const char *eol;

	if (msg_header_find(m, n, "from", &at))
		return 0;
	nl = memchr(m, '\n', n);
	eol = (nl && nl > m && nl[-1] == '\r') ? "\r\n" : "\n";
	if (at > 0 && m[at - 1] != '\n' && !stralloc_cats(&f, eol))
		goto nomem;
	if (fromfield_make(&f, name, addr, eol) < 0) {
		keep = (size_t)errno;
		stralloc_free(&f);
		errno = (int)keep;
		return -1;
	}
	/* no field at all: an empty line keeps the first line body */
	if (at == 0 && n > 0 && m[0] != '\n' && !(n > 1 && m[0] == '\r' &&
	    m[1] == '\n') && !stralloc_cats(&f, eol))
		goto nomem;
	if (!stralloc_readyplus(msg, f.len))
		goto nomem;
	memmove(msg->s + at + f.len, msg->s + at, n - at);
	memcpy(msg->s + at, f.s, f.len);
	msg->len += f.len;
	stralloc_free(&f);
	return 1;
nomem:
	stralloc_free(&f);
	errno = ENOMEM;
	return -1;
}
