/* test_fromfield - the From: field mta-send adds: display names as atoms,
 * quoted strings or encoded words, and where the field goes. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "fromfield.h"

/* made - fromfield_make's output as a C string (static) */
static const char *made(const char *name, const char *addr, const char *eol)
{
	static char buf[2048];
	stralloc sa = { 0, 0, 0 };

	cr_assert_eq(fromfield_make(&sa, name, addr, eol), 0);
	cr_assert_lt(sa.len, sizeof buf);
	memcpy(buf, sa.s, sa.len);
	buf[sa.len] = '\0';
	stralloc_free(&sa);
	return buf;
}

/* added - fromfield_add on msg; the result (static) and *r */
static const char *added(const char *msg, const char *name, int *r)
{
	static char buf[2048];
	stralloc sa = { 0, 0, 0 };

	cr_assert(stralloc_copys(&sa, msg) || msg[0] == '\0');
	*r = fromfield_add(&sa, name, "a@example.org");
	cr_assert_lt(sa.len, sizeof buf);
	if (sa.len)
		memcpy(buf, sa.s, sa.len);
	buf[sa.len] = '\0';
	stralloc_free(&sa);
	return buf;
}

Test(fromfield, names)
{
	cr_assert_str_eq(made(NULL, "a@b", "\n"), "From: a@b\n");
	cr_assert_str_eq(made("", "a@b", "\r\n"), "From: a@b\r\n");
	cr_assert_str_eq(made("   ", "a@b", "\n"), "From: a@b\n");
	cr_assert_str_eq(made(" Cron  Daemon ", "a@b", "\n"),
	                 "From: Cron  Daemon <a@b>\n");
	cr_assert_str_eq(made("o'Neil+x", "a@b", "\n"), "From: o'Neil+x <a@b>\n");
	cr_assert_str_eq(made("J. Smith", "a@b", "\n"), "From: \"J. Smith\" <a@b>\n");
	cr_assert_str_eq(made("say \"hi\" \\ bye", "a@b", "\n"),
	                 "From: \"say \\\"hi\\\" \\\\ bye\" <a@b>\n");
	/* "José" = 4a 6f 73 c3 a9 */
	cr_assert_str_eq(made("Jos\303\251", "a@b", "\n"),
	                 "From: =?UTF-8?B?Sm9zw6k=?= <a@b>\n");
}

Test(fromfield, long_utf8_name_split_between_characters)
{
	char name[200];
	const char *f, *p;
	int words = 0;

	/* 40 two-octet characters: 80 octets, more than one word holds */
	name[0] = '\0';
	for (int i = 0; i < 40; i++)
		strcat(name, "\303\251");
	f = made(name, "a@b", "\r\n");
	for (p = f; (p = strstr(p, "=?UTF-8?B?")) != NULL; p++) {
		const char *e = strstr(p, "?=");

		cr_assert_not_null(e);
		cr_assert_leq(e + 2 - p, 75, "an encoded word over 75: %s", f);
		words++;
	}
	cr_assert_eq(words, 2, "%s", f);
	/* 22 characters (44 octets; a 23rd would not fit in 45), then the
	 * other 18: never half a character in a word */
	cr_assert_str_eq(f, "From: =?UTF-8?B?w6nDqcOpw6nDqcOpw6nDqcOpw6nDqcOpw6nDqc"
	                 "Opw6nDqcOpw6nDqcOpw6k=?=\r\n =?UTF-8?B?w6nDqcOpw6nDqcOpw6"
	                 "nDqcOpw6nDqcOpw6nDqcOpw6nDqcOp?= <a@b>\r\n");
}

Test(fromfield, names_refused)
{
	stralloc sa = { 0, 0, 0 };
	char big[FROMFIELD_NAME_MAX + 2];

	cr_assert(fromfield_name_ok("Plain Name"));
	cr_assert(fromfield_name_ok("J\303\266rg \360\237\230\200"));
	cr_assert_not(fromfield_name_ok("two\nlines"));
	cr_assert_not(fromfield_name_ok("cr\rhere"));
	cr_assert_not(fromfield_name_ok("tab\there"));
	cr_assert_not(fromfield_name_ok("del\177"));
	cr_assert_not(fromfield_name_ok("latin1 \351"), "not UTF-8");
	cr_assert_not(fromfield_name_ok("cut \303"), "a character cut short");
	cr_assert_not(fromfield_name_ok("overlong \300\257"));
	cr_assert_not(fromfield_name_ok("surrogate \355\240\200"));
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	cr_assert_not(fromfield_name_ok(big));
	big[FROMFIELD_NAME_MAX] = '\0';
	cr_assert(fromfield_name_ok(big));
	errno = 0;
	cr_assert_eq(fromfield_make(&sa, "a\nb", "a@b", "\n"), -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(sa.len, 0);
	stralloc_free(&sa);
}

Test(fromfield, where_it_goes)
{
	int r;

	cr_assert_str_eq(added("Subject: x\nTo: y\n\nbody\n", "N", &r),
	                 "Subject: x\nTo: y\nFrom: N <a@example.org>\n\nbody\n");
	cr_assert_eq(r, 1);
	cr_assert_str_eq(added("Subject: x\r\n folded\r\n\r\nFrom: body\r\n", NULL, &r),
	                 "Subject: x\r\n folded\r\nFrom: a@example.org\r\n\r\nFrom: body\r\n");
	cr_assert_str_eq(added("Subject: x\nnot a field\n", NULL, &r),
	                 "Subject: x\nFrom: a@example.org\nnot a field\n");
	cr_assert_str_eq(added("Subject: no newline", NULL, &r),
	                 "Subject: no newline\nFrom: a@example.org\n");
	cr_assert_str_eq(added("just a body\n", NULL, &r),
	                 "From: a@example.org\n\njust a body\n");
	cr_assert_str_eq(added("\nbody after an empty line\n", NULL, &r),
	                 "From: a@example.org\n\nbody after an empty line\n");
	cr_assert_str_eq(added("\r\nbody\r\n", NULL, &r),
	                 "From: a@example.org\r\n\r\nbody\r\n");
	cr_assert_str_eq(added("", NULL, &r), "From: a@example.org\n");
	cr_assert_eq(r, 1);
}

Test(fromfield, a_from_field_is_kept)
{
	int r;

	cr_assert_str_eq(added("To: y\nfrom: Who <w@x>\n\nhi\n", "N", &r),
	                 "To: y\nfrom: Who <w@x>\n\nhi\n");
	cr_assert_eq(r, 0);
	cr_assert_str_eq(added("To: y\nFrom : obsolete@x\n\nhi\n", "N", &r),
	                 "To: y\nFrom : obsolete@x\n\nhi\n");
	cr_assert_eq(r, 0);
}
