/* dsn.c - RFC 3461 parameters and xtext; see dsn.h */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dsn.h"

/* hexval - an upper-case hex digit's value, or -1 (xtext is upper only) */
static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* xchar - may c stand for itself in xtext? */
static int xchar(unsigned char c)
{
	return c >= 33 && c <= 126 && c != '+' && c != '=';
}

/* dsn_xtext_valid - xtext syntax */
int dsn_xtext_valid(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] == '+') {
			if (i + 2 >= n)
				return 0;
			if (hexval(p[i + 1]) < 0 || hexval(p[i + 2]) < 0)
				return 0;
			i += 2;
		} else if (!xchar((unsigned char)p[i])) {
			return 0;
		}
	}
	return 1;
}

/* dsn_xtext_decode - to one printable line */
int dsn_xtext_decode(const char *p, size_t n, char *out, size_t len)
{
	size_t i, k = 0;

	if (!dsn_xtext_valid(p, n))
		return -1;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '+') {
			c = (unsigned char)(hexval(p[i + 1]) * 16 + hexval(p[i + 2]));
			i += 2;
		}
		if (k + 1 >= len)
			return -1;
		out[k++] = c < 0x20 || c > 0x7e ? '?' : (char)c;
	}
	if (k >= len)
		return -1;
	out[k] = '\0';
	return (int)k;
}

/* dsn_xtext_encode - s as xtext */
int dsn_xtext_encode(const char *s, char *out, size_t len)
{
	size_t k = 0;

	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (xchar(c)) {
			if (k + 1 >= len)
				return -1;
			out[k++] = (char)c;
		} else {
			if (k + 3 >= len)
				return -1;
			snprintf(out + k, 4, "+%02X", c);
			k += 3;
		}
	}
	if (k >= len)
		return -1;
	out[k] = '\0';
	return (int)k;
}

/* dsn_notify_parse - NEVER, or a list of the other three */
int dsn_notify_parse(const char *p, size_t n, unsigned *bits)
{
	static const struct { const char *word; unsigned bit; } words[] = {
		{ "NEVER", DSN_NEVER }, { "SUCCESS", DSN_SUCCESS },
		{ "FAILURE", DSN_FAILURE }, { "DELAY", DSN_DELAY },
	};
	size_t pos = 0, i;

	*bits = 0;
	for (;;) {
		const char *w = p + pos, *comma = memchr(w, ',', n - pos);
		size_t wl = comma ? (size_t)(comma - w) : n - pos;

		for (i = 0; i < sizeof words / sizeof words[0]; i++)
			if (wl == strlen(words[i].word) &&
			    strncasecmp(w, words[i].word, wl) == 0)
				break;
		if (i == sizeof words / sizeof words[0] || (*bits & words[i].bit))
			return -1;
		*bits |= words[i].bit;
		if (comma == NULL)
			break;
		pos += wl + 1;
	}
	/* NEVER "MUST NOT" be combined with the others */
	return (*bits & DSN_NEVER) && *bits != DSN_NEVER ? -1 : 0;
}

/* dsn_notify_format - the canonical spelling */
void dsn_notify_format(unsigned bits, char *buf)
{
	buf[0] = '\0';
	if (bits & DSN_NEVER) {
		strcpy(buf, "NEVER");
		return;
	}
	if (bits & DSN_SUCCESS)
		strcat(buf, "SUCCESS");
	if (bits & DSN_FAILURE)
		strcat(buf, buf[0] ? ",FAILURE" : "FAILURE");
	if (bits & DSN_DELAY)
		strcat(buf, buf[0] ? ",DELAY" : "DELAY");
}

/* dsn_orcpt_valid - addr-type ";" xtext */
int dsn_orcpt_valid(const char *p, size_t n)
{
	const char *semi = memchr(p, ';', n);
	size_t i, t;

	if (n >= DSN_ORCPT_MAX || semi == NULL || semi == p || semi + 1 == p + n)
		return 0;
	t = (size_t)(semi - p);
	for (i = 0; i < t; i++)    /* an atom (RFC 5322 atext) */
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
		      (p[i] >= '0' && p[i] <= '9') ||
		      strchr("!#$%&'*+-/=?^_`{|}~", p[i]) != NULL) || p[i] == '\0')
			return 0;
	return dsn_xtext_valid(semi + 1, n - t - 1);
}

/* dsn_ret_parse - FULL or HDRS */
int dsn_ret_parse(const char *p, size_t n)
{
	if (n == 4 && strncasecmp(p, "FULL", 4) == 0)
		return DSN_RET_FULL;
	if (n == 4 && strncasecmp(p, "HDRS", 4) == 0)
		return DSN_RET_HDRS;
	return -1;
}

/* dsn_wants - is this kind of report asked for? */
int dsn_wants(unsigned notify, unsigned kind)
{
	if (notify == 0)
		return kind != DSN_SUCCESS;
	return (notify & kind) != 0;
}
