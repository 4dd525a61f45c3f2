/* test_json.c - JSON strings from hostile bytes */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

/* quoted - json_put_string of s, as a string to free */
static char *quoted(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	json_put_string(f, s);
	cr_assert_eq(fclose(f), 0);
	return buf;
}

static void expect(const char *in, const char *out)
{
	char *got = quoted(in);

	cr_expect_str_eq(got, out, "for input of %zu bytes", strlen(in));
	free(got);
}

Test(json, plain_and_quotes)
{
	expect("", "\"\"");
	expect("bob@example.net", "\"bob@example.net\"");
	expect("\"a\\b\"@x", "\"\\\"a\\\\b\\\"@x\"");
}

Test(json, control_characters_escaped)
{
	expect("451 \x1b[31mred\x1b[0m \a", "\"451 \\u001b[31mred\\u001b[0m \\u0007\"");
	expect("a\r\nb\tc\x7f", "\"a\\u000d\\u000ab\\u0009c\\u007f\"");
	/* C1 controls in UTF-8: U+009B is CSI to a terminal, U+0085 NEL */
	expect("x\xc2\x9b" "31my\xc2\x85" "z\xc2\xa0", "\"x\\u009b31my\\u0085z\xc2\xa0\"");
	expect("\x01", "\"\\u0001\"");
}

Test(json, utf8_passes)
{
	expect("J\xc3\xbcrgen@m\xc3\xbcller.example", "\"J\xc3\xbcrgen@m\xc3\xbcller.example\"");
	expect("\xe2\x82\xac \xf0\x9f\x93\xa7", "\"\xe2\x82\xac \xf0\x9f\x93\xa7\"");
}

Test(json, invalid_utf8_replaced)
{
	expect("\xff", "\"\\ufffd\"");
	expect("a\x80z", "\"a\\ufffdz\"");                  /* stray continuation */
	expect("\xc0\xaf", "\"\\ufffd\\ufffd\"");           /* overlong '/' */
	expect("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""); /* overlong, 3 bytes */
	expect("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""); /* a surrogate */
	expect("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > U+10FFFF */
	expect("\xe2\x82", "\"\\ufffd\\ufffd\"");           /* cut at the end */
	expect("\xc3\"", "\"\\ufffd\\\"\"");                /* cut before a quote */
}
