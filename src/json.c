/* json.c - JSON strings from untrusted bytes; see json.h */
#include "json.h"

/* utf8_len - the length of the valid UTF-8 sequence at p (1..4), or 0 if
 * p does not start one (RFC 3629, section 4: no overlong forms, no
 * surrogates, nothing above U+10FFFF) */
static int utf8_len(const unsigned char *p)
{
	unsigned char c = p[0];
	int n, i;
	unsigned lo = 0x80, hi = 0xbf;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return 0;
	/* the second byte's range rules out the overlong and the surrogates */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return n;
}

/* json_put_string - see json.h */
void json_put_string(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	putc('"', out);
	while (*p) {
		int n = utf8_len(p);

		if (n == 0) {
			fputs("\\ufffd", out);
			p++;
		} else if (*p == '"' || *p == '\\') {
			putc('\\', out);
			putc(*p++, out);
		} else if (*p < 0x20 || *p == 0x7f) {
			fprintf(out, "\\u%04x", *p++);
		} else if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0) {
			/* a C1 control (U+0080..U+009F): U+009B is a terminal's CSI */
			fprintf(out, "\\u%04x", p[1]);
			p += 2;
		} else {
			fwrite(p, 1, (size_t)n, out);
			p += n;
		}
	}
	putc('"', out);
}
