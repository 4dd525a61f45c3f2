/* test_mtasts.c - MTA-STS text (RFC 8461): the TXT record, the policy
 * file, MX patterns, freshness, the cache's format; and the cache's files */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mtasts.h"
#include "mtasts_cache.h"

/* ---- the TXT record (3.1) ----------------------------------------------- */

/* txt_id - the id of record txt, or "-" when it is refused */
static const char *txt_id(const char *txt)
{
	static char id[MTASTS_ID_MAX];

	return mtasts_txt_parse(txt, id) == 0 ? id : "-";
}

Test(mtasts, txt_records)
{
	cr_expect_str_eq(txt_id("v=STSv1; id=20160831085700Z;"), "20160831085700Z");
	cr_expect_str_eq(txt_id("v=STSv1; id=abc"), "abc");
	cr_expect_str_eq(txt_id("v=STSv1;id=abc"), "abc");
	cr_expect_str_eq(txt_id("v=STSv1 ;  id=abc ; "), "abc");
	cr_expect_str_eq(txt_id("v=STSv1; ext=1; id=X9"), "X9", "extensions skipped");
	cr_expect_str_eq(txt_id("v=STSv1; id=a; id=b"), "a", "the first id");
	cr_expect_str_eq(txt_id("v=STSv1; id=12345678901234567890123456789012"),
	                 "12345678901234567890123456789012", "32 characters");
	cr_expect_str_eq(txt_id("v=STSv1; id=123456789012345678901234567890123"),
	                 "-", "33 characters");
	cr_expect_str_eq(txt_id("v=STSv1"), "-", "no id");
	cr_expect_str_eq(txt_id("v=STSv1; id="), "-", "an empty id");
	cr_expect_str_eq(txt_id("v=STSv1; id=a-b"), "-", "not alphanumeric");
	cr_expect_str_eq(txt_id("id=abc; v=STSv1"), "-", "v not first");
	cr_expect_str_eq(txt_id("v=STSv2; id=abc"), "-", "another version");
	cr_expect_str_eq(txt_id("v=spf1 -all"), "-", "another kind of record");
	cr_expect_str_eq(txt_id("v=STSv1; id=abc; junk"), "-", "a field without =");
	cr_expect_str_eq(txt_id("v=STSv10; id=abc"), "-", "v=STSv10 is another version");
	cr_expect_str_eq(txt_id("v=STSv1x; id=abc"), "-");
}

/* which TXT records are STSv1 ones at all (the others are discarded, so
 * that a stray one next to the real one does not make two) */
Test(mtasts, txt_is_sts)
{
	cr_expect(mtasts_txt_is_sts("v=STSv1; id=abc"));
	cr_expect(mtasts_txt_is_sts("v=STSv1;id=abc"));
	cr_expect(mtasts_txt_is_sts("v=STSv1 ; id=abc"));
	cr_expect(mtasts_txt_is_sts("v=STSv1"), "counted, then refused as broken");
	cr_expect(mtasts_txt_is_sts("v=STSv1 \t"));
	cr_expect_not(mtasts_txt_is_sts("v=STSv10; id=abc"));
	cr_expect_not(mtasts_txt_is_sts("v=STSv1x"));
	cr_expect_not(mtasts_txt_is_sts("v=STSv1 x; id=abc"));
	cr_expect_not(mtasts_txt_is_sts("v=STSv2; id=abc"));
	cr_expect_not(mtasts_txt_is_sts("v=spf1 -all"));
	cr_expect_not(mtasts_txt_is_sts(""));
}

/* ---- the policy file (3.2) ---------------------------------------------- */

/* parse - mtasts_policy_parse of a C string */
static int parse(const char *text, struct mtasts_policy *p)
{
	return mtasts_policy_parse(text, strlen(text), p);
}

Test(mtasts, policy_enforce_crlf)
{
	struct mtasts_policy p;

	cr_assert_eq(parse("version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\n"
	                   "mx: *.example.net\r\nmx: backupmx.example.com\r\n"
	                   "max_age: 604800\r\n", &p), 0);
	cr_expect_eq(p.mode, MTASTS_ENFORCE);
	cr_expect_eq(p.max_age, 604800);
	cr_assert_eq(p.nmx, 3);
	cr_expect_str_eq(p.mx[0], "mail.example.com");
	cr_expect_str_eq(p.mx[1], "*.example.net");
	cr_expect_str_eq(p.mx[2], "backupmx.example.com");
}

Test(mtasts, policy_forms)
{
	struct mtasts_policy p;

	cr_expect_eq(parse("version: STSv1\nmode: testing\nmx: a.example\nmax_age: 86400", &p), 0,
	             "LF, no final newline");
	cr_expect_eq(p.mode, MTASTS_TESTING);
	cr_expect_eq(parse("version:STSv1\nmode:\tnone  \nmax_age: 0\n", &p), 0,
	             "none needs no mx; blanks around values");
	cr_expect_eq(p.mode, MTASTS_NONE);
	cr_expect_eq(parse("mode: enforce\nversion: STSv1\nmx: a\nmax_age: 1\nfoo: bar\n\n", &p), 0,
	             "any order, unknown keys, blank lines");
	cr_expect_eq(parse("version: STSv1\nmode: enforce\nmode: none\nmx: a\nmax_age: 1\n", &p), 0);
	cr_expect_eq(p.mode, MTASTS_ENFORCE, "a repeated key: the first");
	cr_expect_eq(parse("version: STSv1\nmode: enforce\nmx: a\nmax_age: 99999999999\n", &p), -1,
	             "max_age of 11 digits");
	cr_expect_eq(parse("version: STSv1\nmode: enforce\nmx: a\nmax_age: 40000000\n", &p), 0);
	cr_expect_eq(p.max_age, MTASTS_MAX_AGE, "max_age cut to a year");
}

Test(mtasts, policy_invalid)
{
	struct mtasts_policy p;

	cr_expect_eq(parse("mode: enforce\nmx: a\nmax_age: 1\n", &p), -1, "no version");
	cr_expect_eq(parse("version: STSv2\nmode: enforce\nmx: a\nmax_age: 1\n", &p), -1,
	             "another version");
	cr_expect_eq(parse("version: STSv1\nmx: a\nmax_age: 1\n", &p), -1, "no mode");
	cr_expect_eq(parse("version: STSv1\nmode: strict\nmx: a\nmax_age: 1\n", &p), -1,
	             "an unknown mode");
	cr_expect_eq(parse("version: STSv1\nmode: enforce\nmx: a\n", &p), -1, "no max_age");
	cr_expect_eq(parse("version: STSv1\nmode: enforce\nmx: a\nmax_age: -1\n", &p), -1,
	             "a negative max_age");
	cr_expect_eq(parse("version: STSv1\nmode: enforce\nmx: a\nmax_age: 1d\n", &p), -1,
	             "max_age not a number");
	cr_expect_eq(parse("version: STSv1\nmode: enforce\nmax_age: 1\n", &p), -1,
	             "enforce without mx");
	cr_expect_eq(parse("version: STSv1\nmode: testing\nmax_age: 1\n", &p), -1,
	             "testing without mx");
	cr_expect_eq(parse("version: STSv1\nmode: enforce\nmx:\nmax_age: 1\n", &p), -1,
	             "an empty mx");
	cr_expect_eq(parse("<html>version: STSv1</html>\n", &p), -1, "not a policy");
	cr_expect_eq(parse("", &p), -1, "empty");
}

/* what a cache file writes back must parse to the same value: a value
 * never ends in a CR or a blank (found by fuzz_mtasts); a NUL in a value
 * refuses the policy (it used to end the value silently) */
Test(mtasts, policy_value_ends)
{
	static const char text[] = "version: STSv1\nmode: enforce\nmax_age: 5\n"
	                           "mx: a.example\r\r\nmx: b.example \t\n";
	static const char nul[] = "version: STSv1\nmode: enforce\nmax_age: 5\n"
	                          "mx: b.example \0junk\n";
	struct mtasts_policy p;
	const char *why = NULL;

	cr_assert_eq(mtasts_policy_parse(text, sizeof text - 1, &p), 0);
	cr_assert_eq(p.nmx, 2);
	cr_expect_str_eq(p.mx[0], "a.example");
	cr_expect_str_eq(p.mx[1], "b.example");
	cr_expect_eq(mtasts_policy_parse_why(nul, sizeof nul - 1, &p, &why), -1,
	             "a NUL in a value: refused");
	cr_expect_str_eq(why, "a NUL byte in a value");
}

/* a value over 255 bytes refuses the policy: cut, an mx pattern would
 * name another host */
Test(mtasts, policy_long_value)
{
	char text[1024], name[300];
	struct mtasts_policy p;
	const char *why = NULL;

	memset(name, 'a', sizeof name);
	memcpy(name + 250, ".example", 9);    /* 258 characters */
	snprintf(text, sizeof text, "version: STSv1\nmode: enforce\nmax_age: 5\n"
	         "mx: ok.example\nmx: %s\n", name);
	cr_expect_eq(mtasts_policy_parse_why(text, strlen(text), &p, &why), -1,
	             "a cut value: refused");
	cr_expect_str_eq(why, "a value longer than 255 bytes");
	snprintf(text, sizeof text, "version: STSv1\nmode: enforce\nmax_age: 5\n"
	         "mx: %.63s.%.63s.%.63s.%.63s\n", name, name, name, name);
	cr_expect_eq(mtasts_policy_parse_why(text, strlen(text), &p, &why), 0,
	             "255 characters fit");
	cr_expect_eq(strlen(p.mx[0]), 255);
	snprintf(text, sizeof text, "version: STSv1\nmode: %0300d\nmax_age: 5\n", 0);
	cr_expect_eq(parse(text, &p), -1, "a long value of another key");
}

/* mx patterns of the wrong form refuse the policy, with the reason */
Test(mtasts, policy_bad_patterns)
{
	static const char *const bad[] = {
		"mail.*.example", "*example.com", "*", "*.", "**.example", "a..example",
		".example", "-a.example", "a-.example", "a b.example", "a_b.example",
		"*.*.example", "mx.example*", "exa\tmple",
	};
	static const char *const good[] = {
		"mail.example", "*.example.net", "MX1.Example.COM", "mx.example.",
		"a-b.example", "1.2.example", "localhost",
	};
	struct mtasts_policy p;
	char text[256];
	const char *why;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof *bad; i++) {
		snprintf(text, sizeof text, "version: STSv1\nmode: testing\nmax_age: 5\n"
		         "mx: good.example\nmx: %s\n", bad[i]);
		why = NULL;
		cr_expect_eq(mtasts_policy_parse_why(text, strlen(text), &p, &why), -1,
		             "mx: %s refused", bad[i]);
		cr_expect(why != NULL && strcmp(why, "a malformed mx pattern") == 0,
		          "mx: %s: %s", bad[i], why ? why : "(none)");
	}
	for (i = 0; i < sizeof good / sizeof *good; i++) {
		snprintf(text, sizeof text, "version: STSv1\nmode: testing\nmax_age: 5\n"
		         "mx: %s\n", good[i]);
		cr_expect_eq(parse(text, &p), 0, "mx: %s taken", good[i]);
	}
}

/* ---- MX patterns (4.1) -------------------------------------------------- */

Test(mtasts, patterns)
{
	cr_expect(mtasts_pattern_match("mail.example.com", "mail.example.com"));
	cr_expect(mtasts_pattern_match("mail.example.com", "MAIL.Example.COM"), "any case");
	cr_expect(mtasts_pattern_match("mail.example.com", "mail.example.com."), "a trailing dot");
	cr_expect(mtasts_pattern_match("mail.example.com.", "mail.example.com"));
	cr_expect_not(mtasts_pattern_match("mail.example.com", "mail2.example.com"));
	cr_expect_not(mtasts_pattern_match("mail.example.com", "mail.example.co"));
	cr_expect_not(mtasts_pattern_match("mail.example.com", "x.mail.example.com"));
	cr_expect(mtasts_pattern_match("*.example.net", "mx1.example.net"), "one label");
	cr_expect(mtasts_pattern_match("*.example.net", "MX1.EXAMPLE.NET."));
	cr_expect_not(mtasts_pattern_match("*.example.net", "example.net"), "no label");
	cr_expect_not(mtasts_pattern_match("*.example.net", "a.mx1.example.net"),
	              "two labels");
	cr_expect_not(mtasts_pattern_match("*.example.net", "mx1.example.org"));
	cr_expect_not(mtasts_pattern_match("*.example.net", "mx1example.net"));
	cr_expect_not(mtasts_pattern_match("*.example.net", ".example.net"), "an empty label");
	cr_expect_not(mtasts_pattern_match("*example.net", "mxexample.net"),
	              "* only as a whole label");
	cr_expect_not(mtasts_pattern_match("mx.*.example.net", "mx.a.example.net"),
	              "* only leftmost");
	cr_expect_not(mtasts_pattern_match("*.", "a."));
	cr_expect_not(mtasts_pattern_match("", "a"));
	cr_expect_not(mtasts_pattern_match("a", ""));
}

Test(mtasts, mx_match_any)
{
	struct mtasts_policy p;

	cr_assert_eq(parse("version: STSv1\nmode: enforce\nmx: a.example\nmx: *.b.example\n"
	                   "max_age: 5\n", &p), 0);
	cr_expect(mtasts_mx_match(&p, "a.example"));
	cr_expect(mtasts_mx_match(&p, "x.b.example"));
	cr_expect_not(mtasts_mx_match(&p, "b.example"));
	cr_expect_not(mtasts_mx_match(&p, "x.a.example"));
}

/* ---- freshness and the cache's format ----------------------------------- */

Test(mtasts, valid)
{
	struct mtasts_policy p = { .max_age = 100, .fetched = 1000 };

	cr_expect(mtasts_valid(&p, 1000));
	cr_expect(mtasts_valid(&p, 1099));
	cr_expect_not(mtasts_valid(&p, 1100), "max_age passed");
	cr_expect_not(mtasts_valid(&p, 999), "fetched in the future: distrusted");
	p.max_age = 0;
	cr_expect_not(mtasts_valid(&p, 1000), "max_age 0: never kept");
}

/* cache_expect - mtasts_cache_parse of text returns want */
static void cache_expect(const char *text, int want, const char *why)
{
	struct mtasts_policy q;

	cr_expect_eq(mtasts_cache_parse(text, strlen(text), &q), want, "%s", why);
}

Test(mtasts, cache_round_trip)
{
	struct mtasts_policy p, q;
	char buf[8192];
	int len;

	cr_assert_eq(parse("version: STSv1\nmode: testing\nmx: a.example\nmx: *.b.example\n"
	                   "max_age: 86400\n", &p), 0);
	snprintf(p.id, sizeof p.id, "%s", "id20260101");
	p.fetched = 1790000000;
	len = mtasts_cache_format(&p, buf, sizeof buf);
	cr_assert_gt(len, 0);
	cr_assert_eq(mtasts_cache_parse(buf, (size_t)len, &q), 0);
	cr_expect_eq(q.mode, MTASTS_TESTING);
	cr_expect_eq(q.max_age, 86400);
	cr_expect_eq(q.nmx, 2);
	cr_expect_str_eq(q.mx[1], "*.b.example");
	cr_expect_str_eq(q.id, "id20260101");
	cr_expect_eq(q.fetched, 1790000000);
	cr_expect_eq(mtasts_cache_format(&p, buf, 40), -1, "too small a buffer");
	cache_expect("version: STSv1\nmode: none\nmax_age: 1\n", -1, "no id, no time");
	cache_expect("id: x\nversion: STSv1\nmode: none\nmax_age: 1\n", -1, "no time");
	cache_expect("id: x\nfetched: soon\nversion: STSv1\nmode: none\nmax_age: 1\n", -1,
	             "a bad time");
	cache_expect("id: x\nfetched: 5\nversion: STSv1\nmode: none\nmax_age: 1\n", 0,
	             "the same, well formed");
}

/* ---- the cache's files -------------------------------------------------- */

Test(mtasts, cache_files)
{
	char dir[] = "/tmp/test_mtasts.XXXXXX", path[256];
	struct mtasts_policy p, q;
	struct stat st;

	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(parse("version: STSv1\nmode: enforce\nmx: mx.example\nmax_age: 60\n", &p), 0);
	snprintf(p.id, sizeof p.id, "one");
	p.fetched = 1234;
	cr_expect_eq(mtasts_cache_load(dir, "example.org", &q), -1, "nothing cached");
	cr_assert_eq(mtasts_cache_store(dir, "example.org", &p), 0);
	snprintf(path, sizeof path, "%s/sts/example.org", dir);
	cr_assert_eq(stat(path, &st), 0, "QUEUE/sts/DOMAIN");
	cr_assert_eq(mtasts_cache_load(dir, "example.org", &q), 0);
	cr_expect_str_eq(q.id, "one");
	cr_expect_str_eq(q.mx[0], "mx.example");
	snprintf(p.id, sizeof p.id, "two");
	cr_assert_eq(mtasts_cache_store(dir, "example.org", &p), 0, "replaced");
	cr_assert_eq(mtasts_cache_load(dir, "example.org", &q), 0);
	cr_expect_str_eq(q.id, "two");
	cr_expect_eq(mtasts_cache_store(dir, "../evil", &p), -1, "a path is no domain");
	cr_expect_eq(mtasts_cache_store(dir, ".hidden", &p), -1);
	cr_expect_eq(mtasts_cache_store(dir, "Upper.example", &p), -1, "lower case only");
	cr_expect_eq(mtasts_cache_load(dir, "../sts/example.org", &q), -1);
	unlink(path);
	snprintf(path, sizeof path, "%s/sts", dir);
	cr_expect_eq(rmdir(path), 0, "no temporary file left");
	rmdir(dir);
}

/* a domain near the longest name still gets a temporary file name that
 * fits NAME_MAX (".DOMAIN.tmp.PID.N" did not past about 235 characters) */
Test(mtasts, cache_files_long_domain)
{
	char dir[] = "/tmp/test_mtasts.XXXXXX", path[512], domain[250];
	struct mtasts_policy p, q;

	cr_assert_not_null(mkdtemp(dir));
	memset(domain, 'a', sizeof domain);
	memcpy(domain + 60, ".", 1);
	memcpy(domain + 121, ".", 1);
	memcpy(domain + 182, ".", 1);
	memcpy(domain + 240, ".example", 9);       /* 248 characters */
	cr_assert_eq(parse("version: STSv1\nmode: enforce\nmx: mx.example\nmax_age: 60\n", &p), 0);
	snprintf(p.id, sizeof p.id, "long");
	p.fetched = 1234;
	cr_expect_eq(mtasts_cache_store(dir, domain, &p), 0, "stored: %s", strerror(errno));
	cr_expect_eq(mtasts_cache_load(dir, domain, &q), 0);
	cr_expect_str_eq(q.id, "long");
	snprintf(path, sizeof path, "%s/sts/%s", dir, domain);
	unlink(path);
	snprintf(path, sizeof path, "%s/sts", dir);
	cr_expect_eq(rmdir(path), 0, "no temporary file left");
	rmdir(dir);
}

/* temporary files a crash left, of the old form and the new, are removed
 * at start-up; the policies stay */
Test(mtasts, cache_clean)
{
	char dir[] = "/tmp/test_mtasts.XXXXXX", path[256];
	static const char *const left[] = { ".example.org.tmp.123.4", ".tmp.77.0" };
	struct mtasts_policy p, q;
	size_t i;
	int fd;

	cr_assert_not_null(mkdtemp(dir));
	mtasts_cache_clean(dir);                  /* no sts/ yet: nothing */
	cr_assert_eq(parse("version: STSv1\nmode: enforce\nmx: mx.example\nmax_age: 60\n", &p), 0);
	snprintf(p.id, sizeof p.id, "one");
	p.fetched = 1234;
	cr_assert_eq(mtasts_cache_store(dir, "example.org", &p), 0);
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s/sts/%s", dir, left[i]);
		cr_assert_geq(fd = open(path, O_WRONLY | O_CREAT, 0600), 0);
		close(fd);
	}
	mtasts_cache_clean(dir);
	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s/sts/%s", dir, left[i]);
		cr_expect_neq(access(path, F_OK), 0, "%s removed", left[i]);
	}
	cr_expect_eq(mtasts_cache_load(dir, "example.org", &q), 0, "the policy kept");
	snprintf(path, sizeof path, "%s/sts/example.org", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/sts", dir);
	cr_expect_eq(rmdir(path), 0);
	rmdir(dir);
}

/* ---- many mx patterns ---------------------------------------------------- */

/* many_mx - a policy in enforce mode with n patterns mxI.example, each
 * padded to len characters with labels of "a"s when len is given */
static char *many_mx(unsigned n, size_t len)
{
	size_t cap = 128 + (size_t)n * (len + 32), used;
	char *t = malloc(cap);
	unsigned i;

	cr_assert_not_null(t);
	used = (size_t)snprintf(t, cap, "version: STSv1\nmode: enforce\nmax_age: 86400\n");
	for (i = 0; i < n; i++) {
		char name[MTASTS_NAME_MAX];
		size_t k = (size_t)snprintf(name, sizeof name, "mx%u", i);

		while (len > 0 && k + 12 < len) {   /* ".aaaaaaaaa" labels */
			memcpy(name + k, ".aaaaaaaaa", 10);
			k += 10;
		}
		snprintf(name + k, sizeof name - k, ".example");
		used += (size_t)snprintf(t + used, cap - used, "mx: %s\n", name);
	}
	return t;
}

Test(mtasts, policy_many_mx)
{
	struct mtasts_policy *p = malloc(sizeof *p);
	char *t;

	cr_assert_not_null(p);
	t = many_mx(20, 0);
	cr_assert_eq(parse(t, p), 0);
	cr_expect_eq(p->nmx, 20);
	cr_expect(mtasts_mx_match(p, "mx19.example"),
	          "the 20th pattern is enforced like the first (no MX listed refused)");
	cr_expect(mtasts_mx_match(p, "mx0.example"));
	free(t);
	t = many_mx(MTASTS_MX_MAX, 0);
	cr_expect_eq(parse(t, p), 0, "as many as are held");
	free(t);
	t = many_mx(MTASTS_MX_MAX + 1, 0);
	cr_expect_eq(parse(t, p), -1, "more than are held: refused, not cut short");
	free(t);
	free(p);
}

Test(mtasts, cache_files_many_long_mx)
{
	char dir[] = "/tmp/test_mtasts.XXXXXX", path[256];
	struct mtasts_policy *p = malloc(sizeof *p), *q = malloc(sizeof *q);
	char *t = many_mx(MTASTS_MX_MAX, 250);

	cr_assert(p != NULL && q != NULL);
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(parse(t, p), 0);
	cr_assert_gt(strlen(p->mx[MTASTS_MX_MAX - 1]), 240);
	snprintf(p->id, sizeof p->id, "big");
	p->fetched = 1234;
	cr_assert_eq(mtasts_cache_store(dir, "example.org", p), 0,
	             "the largest policy held fits a cache file");
	cr_assert_eq(mtasts_cache_load(dir, "example.org", q), 0);
	cr_expect_eq(q->nmx, MTASTS_MX_MAX);
	cr_expect_str_eq(q->mx[MTASTS_MX_MAX - 1], p->mx[MTASTS_MX_MAX - 1]);
	snprintf(path, sizeof path, "%s/sts/example.org", dir);
	unlink(path);
	snprintf(path, sizeof path, "%s/sts", dir);
	rmdir(path);
	rmdir(dir);
	free(t);
	free(p);
	free(q);
}
