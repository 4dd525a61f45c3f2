/* addr.c - RFC 5321 path, mailbox and domain parsing; see addr.h
 *
 * addr_parse_path() works in two passes over s[0..n):
 *
 *   1. path_end() finds the '>' that closes the path, reading no further
 *      than that '>' (and never past n or past octet 256).  It reports
 *      the "lexical" errors in the order they occur in the text: a byte
 *      outside printable ASCII (ADDR_E8BIT), an unquoted space or the end
 *      of the input before '>' (ADDR_ESYNTAX), a path longer than 256
 *      octets (ADDR_ETOOLONG).  A '>' only hides inside the quoted-string
 *      that may begin the local part, so that is the only place where
 *      quotes are tracked.
 *   2. The text between the brackets is then checked against the grammar:
 *      source route (ADDR_ESYNTAX for its punctuation, ADDR_EDOMAIN for its
 *      domains), local part (ADDR_ELOCAL), domain (ADDR_EDOMAIN).  A
 *      mailbox without an '@' is ADDR_ESYNTAX: it is not a Mailbox at all.
 *
 * Every scan is bounded by an explicit length; input need not be
 * NUL-terminated and may contain NUL bytes (they are ADDR_E8BIT).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "addr.h"

/* RFC 5321 4.5.3.1.  PATH_MAX_LEN counts both brackets, so a mailbox is at
 * most PATH_MAX_LEN - 2 octets and fits ADDR_MAX with its NUL. */
enum {
	LOCAL_MAX_LEN = 64,
	LABEL_MAX_LEN = 63,
	DOMAIN_MAX_LEN = 255,
	PATH_MAX_LEN = 256,
	IPV6_TAG_LEN = 5          /* "IPv6:" */
};

_Static_assert(PATH_MAX_LEN - 2 < ADDR_MAX, "a mailbox must fit ADDR_MAX");

/* is_alpha - ASCII letter (locale-independent) */
static int is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* is_digit - ASCII digit */
static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* is_hex - ASCII hexadecimal digit */
static int is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* is_atext - RFC 5322 atext: letters, digits and !#$%&'*+-/=?^_`{|}~ */
static int is_atext(unsigned char c)
{
	static const char specials[] = "!#$%&'*+-/=?^_`{|}~";

	if (is_alpha(c) || is_digit(c))
		return 1;
	/* memchr over the specials without their NUL, so c == 0 fails */
	return memchr(specials, c, sizeof specials - 1) != NULL;
}

/* is_8bit - a byte outside printable ASCII: control, DEL or >= 0x80 */
static int is_8bit(unsigned char c)
{
	return c < 0x20 || c > 0x7e;
}

/* lower - ASCII lower case */
static unsigned char lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c - 'A' + 'a') : c;
}

/* case_eq - do a[0..n) and the C string b match, ignoring ASCII case? */
static int case_eq(const char *a, size_t n, const char *b)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (b[i] == '\0' || lower((unsigned char)a[i]) !=
		    lower((unsigned char)b[i]))
			return 0;
	return b[n] == '\0';
}

/* path_end - find the '>' closing the path that starts with s[0] == '<' */
static enum addr_error path_end(const char *s, size_t n, size_t *end)
{
	size_t i, qpos = 1;     /* where a quoted local part may begin */
	int inq = 0, esc = 0;

	if (n > 1 && s[1] == '@')
		qpos = 0;       /* source route: only after its ':' */
	for (i = 1; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (i >= PATH_MAX_LEN)      /* s[0..i] would be > 256 */
			return ADDR_ETOOLONG;
		if (is_8bit(c))
			return ADDR_E8BIT;
		if (esc) {
			esc = 0;
		} else if (inq) {
			if (c == '\\')
				esc = 1;
			else if (c == '"')
				inq = 0;
		} else if (c == '>') {
			*end = i;
			return ADDR_OK;
		} else if (c == ' ') {
			return ADDR_ESYNTAX;
		} else if (c == ':' && qpos == 0) {
			qpos = i + 1;
		} else if (c == '"' && i == qpos) {
			inq = 1;
		}
	}
	return ADDR_ESYNTAX;            /* no closing '>' */
}

/* dot_string_valid - is l[0..n) an RFC 5321 Dot-string? */
static int dot_string_valid(const char *l, size_t n)
{
	size_t i;

	if (n == 0 || l[0] == '.' || l[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)l[i];

		if (c == '.') {
			if (l[i - 1] == '.')    /* i > 0: l[0] is not '.' */
				return 0;
		} else if (!is_atext(c)) {
			return 0;
		}
	}
	return 1;
}

/* quoted_end - length of the Quoted-string at l[0..n), 0 if there is none */
static size_t quoted_end(const char *l, size_t n)
{
	size_t i;

	if (n < 2 || l[0] != '"')
		return 0;
	for (i = 1; i < n; i++) {
		unsigned char c = (unsigned char)l[i];

		if (is_8bit(c))
			return 0;
		if (c == '"')
			return i + 1;
		if (c == '\\') {
			if (++i >= n || is_8bit((unsigned char)l[i]))
				return 0;
		}
		/* everything else in %d32-126 is qtextSMTP */
	}
	return 0;
}

/* mailbox_check - check the Mailbox m[0..n); find its splitting '@' */
static enum addr_error mailbox_check(const char *m, size_t n, size_t *at)
{
	const char *p, *d;
	size_t q, dn;

	if (n > 0 && m[0] == '"') {
		q = quoted_end(m, n);
		if (q == 0)
			return ADDR_ELOCAL;
		p = memchr(m + q, '@', n - q);
		if (p == NULL)
			return ADDR_ESYNTAX;
		if ((size_t)(p - m) != q)   /* junk after the closing quote */
			return ADDR_ELOCAL;
	} else {
		p = memchr(m, '@', n);
		if (p == NULL)
			return ADDR_ESYNTAX;
		if (!dot_string_valid(m, (size_t)(p - m)))
			return ADDR_ELOCAL;
	}
	*at = (size_t)(p - m);
	if (*at > LOCAL_MAX_LEN)
		return ADDR_ELOCAL;
	d = p + 1;
	dn = n - *at - 1;
	if (dn > 0 && d[0] == '[') {
		if (!addr_literal_valid(d, dn))
			return ADDR_EDOMAIN;
	} else if (!addr_domain_valid(d, dn)) {
		return ADDR_EDOMAIN;
	}
	return ADDR_OK;
}

/* route_check - check the A-d-l "@a,@b" at r[0..n), before its ':' */
static enum addr_error route_check(const char *r, size_t n)
{
	size_t i = 0, j;

	for (;;) {
		if (i >= n || r[i] != '@')
			return ADDR_ESYNTAX;
		for (j = ++i; j < n && r[j] != ','; j++)
			;
		if (!addr_domain_valid(r + i, j - i))
			return ADDR_EDOMAIN;
		if (j == n)
			return ADDR_OK;
		i = j + 1;              /* past the ',' */
	}
}

/* addr_parse_path - parse a Path or "<>" from s[0..n) into *mb */
enum addr_error addr_parse_path(const char *s, size_t n, struct mailbox *mb,
                                size_t *used, int allow_null,
                                int allow_postmaster)
{
	enum addr_error e;
	const char *c, *colon;
	size_t end, len, at = 0;

	mb->text[0] = '\0';
	mb->at = 0;
	mb->literal = 0;
	*used = 0;
	if (n == 0 || s[0] != '<')
		return ADDR_ESYNTAX;
	e = path_end(s, n, &end);
	if (e != ADDR_OK)
		return e;
	c = s + 1;                      /* the text between the brackets */
	len = end - 1;
	if (len == 0) {
		if (!allow_null)
			return ADDR_ESYNTAX;
		*used = end + 1;
		return ADDR_OK;
	}
	if (allow_postmaster && case_eq(c, len, "postmaster")) {
		at = 0;
	} else {
		if (c[0] == '@') {      /* source route: check, then drop */
			colon = memchr(c, ':', len);
			if (colon == NULL)
				return ADDR_ESYNTAX;
			e = route_check(c, (size_t)(colon - c));
			if (e != ADDR_OK)
				return e;
			len -= (size_t)(colon + 1 - c);
			c = colon + 1;
		}
		e = mailbox_check(c, len, &at);
		if (e != ADDR_OK)
			return e;
		mb->literal = c[at + 1] == '[';
	}
	memcpy(mb->text, c, len);       /* len <= PATH_MAX_LEN - 2 */
	mb->text[len] = '\0';
	mb->at = at;
	*used = end + 1;
	return ADDR_OK;
}

/* addr_domain - the domain part of mb, "" for the null path/postmaster */
const char *addr_domain(const struct mailbox *mb)
{
	if (mb->at == 0 || mb->at >= ADDR_MAX || mb->text[mb->at] != '@')
		return "";
	return mb->text + mb->at + 1;
}

/* addr_local - the local part of mb, quotes and escapes removed */
int addr_local(const struct mailbox *mb, char *buf, size_t len)
{
	const char *l = mb->text;
	size_t n, i, o = 0;

	if (len == 0)
		return -1;
	n = mb->at;
	if (n == 0 || n >= ADDR_MAX)    /* null path or bare postmaster */
		n = strnlen(mb->text, ADDR_MAX);
	if (n >= 2 && l[0] == '"' && l[n - 1] == '"') {
		l++;
		n -= 2;
		for (i = 0; i < n; i++) {
			if (l[i] == '\\' && i + 1 < n)
				i++;
			if (o + 1 >= len)
				return -1;
			buf[o++] = l[i];
		}
	} else {
		if (n >= len)
			return -1;
		memcpy(buf, l, n);
		o = n;
	}
	buf[o] = '\0';
	return (int)o;
}

/* addr_domain_valid - is d[0..n) a Domain: LDH labels, no trailing dot? */
int addr_domain_valid(const char *d, size_t n)
{
	size_t i, start = 0;

	if (n == 0 || n > DOMAIN_MAX_LEN)
		return 0;
	for (i = 0; i <= n; i++) {
		unsigned char c;

		if (i < n && d[i] != '.') {
			c = (unsigned char)d[i];
			if (!is_alpha(c) && !is_digit(c) && c != '-')
				return 0;
			continue;
		}
		/* label d[start..i): let-dig [*ldh let-dig], 1 to 63 octets */
		if (i == start || i - start > LABEL_MAX_LEN)
			return 0;
		if (d[start] == '-' || d[i - 1] == '-')
			return 0;
		start = i + 1;
	}
	return 1;
}

/* literal_addr - parse the address-literal d[0..n) into *ss; 0 or -1 */
static int literal_addr(const char *d, size_t n, struct sockaddr_storage *ss,
                        socklen_t *sslen)
{
	char buf[INET6_ADDRSTRLEN];
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;
	size_t i;
	int v6;

	if (n < 3 || d[0] != '[' || d[n - 1] != ']')
		return -1;
	d++;                            /* the text inside the brackets */
	n -= 2;
	v6 = n > IPV6_TAG_LEN && case_eq(d, IPV6_TAG_LEN, "ipv6:");
	if (v6) {
		d += IPV6_TAG_LEN;
		n -= IPV6_TAG_LEN;
	}
	if (n >= sizeof buf)
		return -1;
	/* only the characters of the grammar reach inet_pton, never a NUL */
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)d[i];

		if (!(v6 ? (is_hex(c) || c == ':' || c == '.') :
		      (is_digit(c) || c == '.')))
			return -1;
	}
	memcpy(buf, d, n);
	buf[n] = '\0';
	memset(ss, 0, sizeof *ss);
	if (v6) {
		sin6 = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET6, buf, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = 0;
		*sslen = sizeof *sin6;
		return 0;
	}
	/* inet_pton takes exactly a dotted quad of 0-255, no leading zeros */
	sin = (struct sockaddr_in *)ss;
	if (inet_pton(AF_INET, buf, &sin->sin_addr) != 1)
		return -1;
	sin->sin_family = AF_INET;
	sin->sin_port = 0;
	*sslen = sizeof *sin;
	return 0;
}

/* addr_literal_valid - is d[0..n) "[IPv4]" or "[IPv6:...]"? */
int addr_literal_valid(const char *d, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t sslen;

	return literal_addr(d, n, &ss, &sslen) == 0;
}

/* addr_literal_sockaddr - the address inside mb's literal domain, port 0 */
int addr_literal_sockaddr(const struct mailbox *mb,
                          struct sockaddr_storage *ss, socklen_t *sslen)
{
	const char *d = addr_domain(mb);

	if (!mb->literal || *d == '\0')
		return -1;
	/* d is inside mb->text, so at most ADDR_MAX - at - 1 octets remain */
	return literal_addr(d, strnlen(d, ADDR_MAX - mb->at - 1), ss, sslen);
}

/* addr_error_text - a short English phrase for an error, for replies */
const char *addr_error_text(enum addr_error e)
{
	switch (e) {
	case ADDR_OK:
		return "address ok";
	case ADDR_ESYNTAX:
		return "syntax error in address";
	case ADDR_ELOCAL:
		return "bad local part in address";
	case ADDR_EDOMAIN:
		return "bad domain in address";
	case ADDR_ETOOLONG:
		return "address too long";
	case ADDR_E8BIT:
		return "non-ASCII or control character in address";
	}
	return "unknown address error";
}

/* addr_angle_free - text that fits between a path's brackets */
int addr_angle_free(const char *p, size_t n)
{
	int quoted = 0;
	size_t i;

	for (i = 0; i < n; i++)
		if (quoted && p[i] == '\\')
			i++;                /* a quoted pair: the next octet as is */
		else if (p[i] == '"')
			quoted = !quoted;
		else if (!quoted && (p[i] == '<' || p[i] == '>'))
			return 0;
	return !quoted;
}
