/* test_addr.c - unit tests for addr.c: paths, local parts, domains, literals
 *
 * Every parse runs on a copy placed at the very end of a readable page
 * that is followed by an inaccessible one, so a read past s[0..n) crashes
 * the test instead of passing by luck.  Tables use inline char[] members
 * (Criterion 2.4.1 on Debian, see STYLE.md).
 */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "addr.h"

/* guarded_parse - addr_parse_path on s[0..n) copied up against a guard
 * page; claim is the length passed to the parser (claim >= n lets a test
 * show that nothing after the closing '>' is read). */
static enum addr_error guarded_parse(const char *s, size_t n, size_t claim,
                                     struct mailbox *mb, size_t *used,
                                     int allow_null, int allow_postmaster)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	enum addr_error e;
	char *map, *p;

	cr_assert(n <= page, "test input too long for one page");
	map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
	           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	cr_assert(map != MAP_FAILED);
	cr_assert(mprotect(map + page, page, PROT_NONE) == 0);
	p = map + page - n;
	memcpy(p, s, n);
	e = addr_parse_path(p, claim, mb, used, allow_null, allow_postmaster);
	munmap(map, 2 * page);
	return e;
}

/* parse_n - parse s[0..n) with both allowances on */
static enum addr_error parse_n(const char *s, size_t n, struct mailbox *mb,
                               size_t *used)
{
	return guarded_parse(s, n, n, mb, used, 1, 1);
}

/* parse - parse the C string s with both allowances on */
static enum addr_error parse(const char *s, struct mailbox *mb, size_t *used)
{
	return parse_n(s, strlen(s), mb, used);
}

/* fill - s followed by k copies of c, NUL-terminated, into buf */
static char *fill(char *buf, const char *s, char c, size_t k)
{
	size_t n = strlen(s);

	memcpy(buf, s, n);
	memset(buf + n, c, k);
	buf[n + k] = '\0';
	return buf;
}

/* domain_of_len - a valid domain of exactly n octets (n >= 1), labels of
 * at most 63 octets, into buf */
static char *domain_of_len(char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf[i] = (i % 64 == 63) ? '.' : 'd';
	/* never end on a dot */
	if (buf[n - 1] == '.')
		buf[n - 2] = '.', buf[n - 3] = 'd', buf[n - 1] = 'e';
	buf[n] = '\0';
	return buf;
}

/* ---- valid paths ---- */

struct okcase {
	char in[96];
	char text[96];
	size_t at;
	int literal;
};

static const struct okcase ok_cases[] = {
	{ "<user@example.com>", "user@example.com", 4, 0 },
	{ "<a@b>", "a@b", 1, 0 },
	{ "<first.last@sub.example.org>", "first.last@sub.example.org", 10, 0 },
	{ "<User+Tag@Example.COM>", "User+Tag@Example.COM", 8, 0 },
	{ "<!#$%&'*+-/=?^_`{|}~@example.com>",
	  "!#$%&'*+-/=?^_`{|}~@example.com", 19, 0 },
	{ "<a.b.c@x-y.example>", "a.b.c@x-y.example", 5, 0 },
	{ "<a@x--y.example>", "a@x--y.example", 1, 0 },
	{ "<a@0example.com>", "a@0example.com", 1, 0 },
	{ "<a@1.2.3.4>", "a@1.2.3.4", 1, 0 },
	{ "<a@localhost>", "a@localhost", 1, 0 },
	{ "<\"john doe\"@example.com>", "\"john doe\"@example.com", 10, 0 },
	{ "<\"\"@example.com>", "\"\"@example.com", 2, 0 },
	{ "<\"a@b\"@example.com>", "\"a@b\"@example.com", 5, 0 },
	{ "<\"a\\\"b\"@x.example>", "\"a\\\"b\"@x.example", 6, 0 },
	{ "<\"a\\\\\"@x.example>", "\"a\\\\\"@x.example", 5, 0 },
	{ "<\"a>b\"@x.example>", "\"a>b\"@x.example", 5, 0 },
	{ "<\"(),:;<>[] @\"@x>", "\"(),:;<>[] @\"@x", 13, 0 },
	{ "<\"\\ \\a\"@x>", "\"\\ \\a\"@x", 6, 0 },
	{ "<a@[1.2.3.4]>", "a@[1.2.3.4]", 1, 1 },
	{ "<a@[0.0.0.0]>", "a@[0.0.0.0]", 1, 1 },
	{ "<a@[255.255.255.255]>", "a@[255.255.255.255]", 1, 1 },
	{ "<a@[IPv6:::1]>", "a@[IPv6:::1]", 1, 1 },
	{ "<a@[ipv6:2001:db8::1]>", "a@[ipv6:2001:db8::1]", 1, 1 },
	{ "<a@[IPV6:::ffff:192.0.2.1]>", "a@[IPV6:::ffff:192.0.2.1]", 1, 1 },
	{ "<a@[IPv6:1:2:3:4:5:6:7:8]>", "a@[IPv6:1:2:3:4:5:6:7:8]", 1, 1 },
	{ "<a@[IPv6:::]>", "a@[IPv6:::]", 1, 1 },
	{ "<@a.example,@b.example:user@c.example>", "user@c.example", 4, 0 },
	{ "<@a.example:user@c.example>", "user@c.example", 4, 0 },
	{ "<@a:\"x y\"@c>", "\"x y\"@c", 5, 0 },
	{ "<@a,@b,@c:\"q>:\"@[IPv6:::1]>", "\"q>:\"@[IPv6:::1]", 5, 1 },
	{ "<@a.example:u@[1.2.3.4]>", "u@[1.2.3.4]", 1, 1 },
};

/* valid paths parse to the text as written, '@' and literal flag right */
Test(addr_parse, valid_paths)
{
	size_t i;

	for (i = 0; i < sizeof ok_cases / sizeof ok_cases[0]; i++) {
		const struct okcase *c = &ok_cases[i];
		struct mailbox mb;
		size_t used = 99;
		enum addr_error e = parse(c->in, &mb, &used);

		cr_expect_eq(e, ADDR_OK, "%s: error %d", c->in, e);
		if (e != ADDR_OK)
			continue;
		cr_expect_str_eq(mb.text, c->text, "%s", c->in);
		cr_expect_eq(mb.at, c->at, "%s: at %zu", c->in, mb.at);
		cr_expect_eq(mb.text[mb.at], '@', "%s", c->in);
		cr_expect_eq(mb.literal, c->literal, "%s", c->in);
		cr_expect_eq(used, strlen(c->in), "%s: used %zu", c->in, used);
		/* the same text is valid without the allowances */
		cr_expect_eq(guarded_parse(c->in, strlen(c->in), strlen(c->in),
		                           &mb, &used, 0, 0), ADDR_OK, "%s", c->in);
	}
}

/* ---- invalid paths, by error code ---- */

struct errcase {
	char in[64];
	enum addr_error err;
};

static const struct errcase err_cases[] = {
	/* not a path: brackets, spaces, missing '@' */
	{ "user@example.com", ADDR_ESYNTAX },
	{ " <a@b>", ADDR_ESYNTAX },
	{ "a@b>", ADDR_ESYNTAX },
	{ "<a@b", ADDR_ESYNTAX },
	{ "<", ADDR_ESYNTAX },
	{ "<a@b SIZE=100", ADDR_ESYNTAX },
	{ "<a @b>", ADDR_ESYNTAX },
	{ "<a@ b>", ADDR_ESYNTAX },
	{ "< a@b>", ADDR_ESYNTAX },
	{ "<a@b >", ADDR_ESYNTAX },
	{ "<a@[ 1.2.3.4]>", ADDR_ESYNTAX },
	{ "<a@[IPv6: ::1]>", ADDR_ESYNTAX },
	{ "<@a: u@b>", ADDR_ESYNTAX },
	{ "<user>", ADDR_ESYNTAX },
	{ "<user.name>", ADDR_ESYNTAX },
	{ "<a,b>", ADDR_ESYNTAX },
	{ "<\"a@b\">", ADDR_ESYNTAX },
	{ "<\"abc@x>", ADDR_ESYNTAX },
	{ "<\"abc\\\">", ADDR_ESYNTAX },
	{ "<postmaste>", ADDR_ESYNTAX },
	{ "<postmasterx>", ADDR_ESYNTAX },
	{ "<\"postmaster\">", ADDR_ESYNTAX },
	{ "<@a.example:postmaster>", ADDR_ESYNTAX },
	{ "<@a.example>", ADDR_ESYNTAX },
	{ "<@a.example,user@c>", ADDR_ESYNTAX },
	{ "<@a.example,:u@c>", ADDR_ESYNTAX },
	{ "<@a,,@b:u@c>", ADDR_ESYNTAX },
	{ "<@a,b:u@c>", ADDR_ESYNTAX },
	{ "<@a.example:>", ADDR_ESYNTAX },
	/* bad local part */
	{ "<.a@b>", ADDR_ELOCAL },
	{ "<a.@b>", ADDR_ELOCAL },
	{ "<a..b@b>", ADDR_ELOCAL },
	{ "<.@b>", ADDR_ELOCAL },
	{ "<a,b@x>", ADDR_ELOCAL },
	{ "<a(b)@x>", ADDR_ELOCAL },
	{ "<a\\b@x>", ADDR_ELOCAL },
	{ "<a\\@x>", ADDR_ELOCAL },
	{ "<a:b@x>", ADDR_ELOCAL },
	{ "<a;b@x>", ADDR_ELOCAL },
	{ "<[a]@x>", ADDR_ELOCAL },
	{ "<<a@b>>", ADDR_ELOCAL },
	{ "<\"a\"b@x>", ADDR_ELOCAL },
	{ "<\"a\".b@x>", ADDR_ELOCAL },
	{ "<a\"b\"@x>", ADDR_ELOCAL },
	{ "<\"a\"\"b\"@x>", ADDR_ELOCAL },
	{ "<@a:@b>", ADDR_ELOCAL },
	{ "<@b.example:.u@c>", ADDR_ELOCAL },
	{ "<a.example:u@c>", ADDR_ELOCAL },
	/* bad domain or address literal */
	{ "<a@>", ADDR_EDOMAIN },
	{ "<a@.b>", ADDR_EDOMAIN },
	{ "<a@b.>", ADDR_EDOMAIN },
	{ "<a@example.com.>", ADDR_EDOMAIN },
	{ "<a@b..c>", ADDR_EDOMAIN },
	{ "<a@-b.com>", ADDR_EDOMAIN },
	{ "<a@b-.com>", ADDR_EDOMAIN },
	{ "<a@b.com->", ADDR_EDOMAIN },
	{ "<a@b_c.com>", ADDR_EDOMAIN },
	{ "<a@b@c>", ADDR_EDOMAIN },
	{ "<\"a@b\"@c@d>", ADDR_EDOMAIN },
	{ "<a@b:c>", ADDR_EDOMAIN },
	{ "<a@b\">", ADDR_EDOMAIN },
	{ "<a@\"b\">", ADDR_EDOMAIN },
	{ "<a@[1.2.3.256]>", ADDR_EDOMAIN },
	{ "<a@[1.2.3]>", ADDR_EDOMAIN },
	{ "<a@[1.2.3.4.5]>", ADDR_EDOMAIN },
	{ "<a@[1..2.3]>", ADDR_EDOMAIN },
	{ "<a@[01.2.3.4]>", ADDR_EDOMAIN },
	{ "<a@[1.2.3.-4]>", ADDR_EDOMAIN },
	{ "<a@[0x1.2.3.4]>", ADDR_EDOMAIN },
	{ "<a@[IPv6:zz::]>", ADDR_EDOMAIN },
	{ "<a@[IPv6:1::2::3]>", ADDR_EDOMAIN },
	{ "<a@[IPv6:1:2:3:4:5:6:7:8:9]>", ADDR_EDOMAIN },
	{ "<a@[IPv6:]>", ADDR_EDOMAIN },
	{ "<a@[IPv6:1.2.3.4]>", ADDR_EDOMAIN },
	{ "<a@[IPv6:fe80::1%eth0]>", ADDR_EDOMAIN },
	{ "<a@[IPv6:::1.2.3]>", ADDR_EDOMAIN },
	{ "<a@[::1]>", ADDR_EDOMAIN },
	{ "<a@[IPv7:::1]>", ADDR_EDOMAIN },
	{ "<a@[foo:bar]>", ADDR_EDOMAIN },
	{ "<a@[x-tag:abc]>", ADDR_EDOMAIN },
	{ "<a@[]>", ADDR_EDOMAIN },
	{ "<a@[>", ADDR_EDOMAIN },
	{ "<a@[1.2.3.4>", ADDR_EDOMAIN },
	{ "<a@1.2.3.4]>", ADDR_EDOMAIN },
	{ "<a@[1.2.3.4]x>", ADDR_EDOMAIN },
	{ "<a@[1.2.3.4].com>", ADDR_EDOMAIN },
	{ "<a@x.[1.2.3.4]>", ADDR_EDOMAIN },
	{ "<@a_b:u@c>", ADDR_EDOMAIN },
	{ "<@:u@c>", ADDR_EDOMAIN },
	{ "<@a.:u@c>", ADDR_EDOMAIN },
	{ "<@a,@:u@c>", ADDR_EDOMAIN },
	{ "<@[1.2.3.4]:u@c>", ADDR_EDOMAIN },
	{ "<@a@b:u@c>", ADDR_EDOMAIN },
	/* bytes outside printable ASCII */
	{ "<\x80@x>", ADDR_E8BIT },
	{ "<\xff@x>", ADDR_E8BIT },
	{ "<a@\xc3\xa9.com>", ADDR_E8BIT },
	{ "<\xc3\xbc@x.example>", ADDR_E8BIT },
	{ "<\"\x7f\"@x>", ADDR_E8BIT },
	{ "<\"a\xe9\"@x>", ADDR_E8BIT },
	{ "<\"a\\\x01\"@x>", ADDR_E8BIT },
	{ "<a\tb@x>", ADDR_E8BIT },
	{ "<a@b\r>", ADDR_E8BIT },
	{ "<a@b\r\n", ADDR_E8BIT },
	{ "<a@[1.2.3.4\x01]>", ADDR_E8BIT },
	{ "<@a\x80:u@c>", ADDR_E8BIT },
	{ "<\x1b[0m@x>", ADDR_E8BIT },
};

/* each bad path gives its documented error, empties mb and zeroes *used */
Test(addr_parse, invalid_paths)
{
	size_t i;

	for (i = 0; i < sizeof err_cases / sizeof err_cases[0]; i++) {
		const struct errcase *c = &err_cases[i];
		struct mailbox mb;
		size_t used = 99;
		enum addr_error e;

		memset(mb.text, 'x', sizeof mb.text);
		mb.at = 7;
		mb.literal = 1;
		e = parse(c->in, &mb, &used);
		cr_expect_eq(e, c->err, "case %zu \"%s\": got %d want %d", i,
		             c->in, e, c->err);
		cr_expect_eq(used, 0, "case %zu: used %zu", i, used);
		cr_expect_str_eq(mb.text, "", "case %zu", i);
		cr_expect_eq(mb.at, 0, "case %zu", i);
		cr_expect_eq(mb.literal, 0, "case %zu", i);
	}
}

/* the empty input is not a path */
Test(addr_parse, empty_input)
{
	struct mailbox mb;
	size_t used;

	cr_expect_eq(parse_n("", 0, &mb, &used), ADDR_ESYNTAX);
	cr_expect_eq(addr_parse_path(NULL, 0, &mb, &used, 1, 1), ADDR_ESYNTAX);
}

/* ---- null path and postmaster ---- */

/* "<>" only with allow_null */
Test(addr_parse, null_path)
{
	struct mailbox mb;
	size_t used;
	char buf[8];

	cr_expect_eq(guarded_parse("<>", 2, 2, &mb, &used, 1, 0), ADDR_OK);
	cr_expect_str_eq(mb.text, "");
	cr_expect_eq(mb.at, 0);
	cr_expect_eq(mb.literal, 0);
	cr_expect_eq(used, 2);
	cr_expect_str_eq(addr_domain(&mb), "");
	cr_expect_eq(addr_local(&mb, buf, sizeof buf), 0);
	cr_expect_str_eq(buf, "");
	cr_expect_eq(guarded_parse("<>", 2, 2, &mb, &used, 0, 1), ADDR_ESYNTAX);
	cr_expect_eq(guarded_parse("<>", 2, 2, &mb, &used, 0, 0), ADDR_ESYNTAX);
	cr_expect_eq(guarded_parse("< >", 3, 3, &mb, &used, 1, 1), ADDR_ESYNTAX);
	cr_expect_eq(guarded_parse("<", 1, 1, &mb, &used, 1, 1), ADDR_ESYNTAX);
}

struct pmcase {
	char in[24];
};

static const struct pmcase pm_cases[] = {
	{ "<postmaster>" }, { "<POSTMASTER>" }, { "<PostMaster>" },
	{ "<pOsTmAsTeR>" },
};

/* bare postmaster in any case only with allow_postmaster, text as sent */
Test(addr_parse, postmaster)
{
	size_t i;

	for (i = 0; i < sizeof pm_cases / sizeof pm_cases[0]; i++) {
		const char *in = pm_cases[i].in;
		size_t n = strlen(in);
		struct mailbox mb;
		size_t used;
		char buf[16];

		cr_expect_eq(guarded_parse(in, n, n, &mb, &used, 0, 1), ADDR_OK,
		             "%s", in);
		cr_expect_eq(mb.at, 0, "%s", in);
		cr_expect_eq(mb.literal, 0, "%s", in);
		cr_expect_eq(used, n, "%s", in);
		cr_expect_eq(strlen(mb.text), 10, "%s", in);
		cr_expect_eq(memcmp(mb.text, in + 1, 10), 0, "%s", in);
		cr_expect_str_eq(addr_domain(&mb), "", "%s", in);
		cr_expect_eq(addr_local(&mb, buf, sizeof buf), 10, "%s", in);
		cr_expect_str_eq(buf, mb.text, "%s", in);
		cr_expect_eq(guarded_parse(in, n, n, &mb, &used, 1, 0),
		             ADDR_ESYNTAX, "%s", in);
	}
}

/* postmaster with a domain is an ordinary mailbox */
Test(addr_parse, postmaster_with_domain)
{
	struct mailbox mb;
	size_t used;

	cr_expect_eq(guarded_parse("<Postmaster@Example.com>", 24, 24, &mb,
	                           &used, 0, 0), ADDR_OK);
	cr_expect_eq(mb.at, 10);
	cr_expect_str_eq(addr_domain(&mb), "Example.com");
}

/* ---- *used and what follows the path ---- */

struct usedcase {
	char in[64];
	size_t used;
};

static const struct usedcase used_cases[] = {
	{ "<a@b> SIZE=100", 5 },
	{ "<a@b>SIZE=100", 5 },
	{ "<> SIZE=100", 2 },
	{ "<> BODY=8BITMIME SIZE=100", 2 },
	{ "<postmaster> NOTIFY=NEVER", 12 },
	{ "<\"a>b\"@x.example> SIZE=100", 17 },
	{ "<\"a b\"@x> SIZE=1", 9 },
	{ "<@r.example:u@x.example> SIZE=100", 24 },
	{ "<a@[IPv6:::1]> SIZE=100", 14 },
	{ "<a@b>>", 5 },
	{ "<a@b>\r\n", 5 },
	{ "<a@b> \x80\xff", 5 },
};

/* *used counts through the closing '>' only */
Test(addr_parse, used_with_parameters)
{
	size_t i;

	for (i = 0; i < sizeof used_cases / sizeof used_cases[0]; i++) {
		const struct usedcase *c = &used_cases[i];
		struct mailbox mb;
		size_t used = 0;

		cr_expect_eq(parse(c->in, &mb, &used), ADDR_OK, "%s", c->in);
		cr_expect_eq(used, c->used, "%s: used %zu", c->in, used);
	}
}

/* nothing after the closing '>' is read, whatever n says */
Test(addr_parse, stops_at_closing_bracket)
{
	struct mailbox mb;
	size_t used;

	/* the '>' is the last readable byte; n claims 1000 more */
	cr_expect_eq(guarded_parse("<a@b>", 5, 1005, &mb, &used, 1, 1), ADDR_OK);
	cr_expect_eq(used, 5);
	cr_expect_eq(guarded_parse("<>", 2, 1002, &mb, &used, 1, 1), ADDR_OK);
	cr_expect_eq(guarded_parse("<\"a>\"@b>", 8, 1008, &mb, &used, 1, 1),
	             ADDR_OK);
	cr_expect_eq(used, 8);
}

/* ---- explicit n: NUL bytes and truncation ---- */

struct ncase {
	char in[32];
	size_t n;
	enum addr_error err;
};

static const struct ncase n_cases[] = {
	{ "<a\0b@x>", 8, ADDR_E8BIT },
	{ "<\0>", 3, ADDR_E8BIT },
	{ "<a@x\0>", 6, ADDR_E8BIT },
	{ "<\"a\0b\"@x>", 10, ADDR_E8BIT },
	{ "<\"a\\\0\"@x>", 9, ADDR_E8BIT },
	{ "<@a\0:u@x>", 9, ADDR_E8BIT },
	{ "<a@[1.2.3.4\0]>", 14, ADDR_E8BIT },
	{ "<a@b>", 4, ADDR_ESYNTAX },
	{ "<a@b>", 1, ADDR_ESYNTAX },
	{ "<>", 1, ADDR_ESYNTAX },
	{ "<\"a>\"@b>", 4, ADDR_ESYNTAX },
	{ "<\"a\\", 4, ADDR_ESYNTAX },
	{ "<a@b>\0", 6, ADDR_OK },
	{ "<a@b.c>", 7, ADDR_OK },
};

/* the parser honours n: NUL bytes are data, truncated input is incomplete */
Test(addr_parse, explicit_length)
{
	size_t i;

	for (i = 0; i < sizeof n_cases / sizeof n_cases[0]; i++) {
		const struct ncase *c = &n_cases[i];
		struct mailbox mb;
		size_t used;
		enum addr_error e = parse_n(c->in, c->n, &mb, &used);

		cr_expect_eq(e, c->err, "case %zu: got %d want %d", i, e, c->err);
	}
}

/* ---- length limits ---- */

/* local part: 64 octets ok, 65 refused, counted as written */
Test(addr_limits, local_part)
{
	char in[300], buf[128];
	struct mailbox mb;
	size_t used;

	fill(in, "<", 'l', 64);
	strcat(in, "@x.example>");
	cr_expect_eq(parse(in, &mb, &used), ADDR_OK);
	cr_expect_eq(mb.at, 64);
	cr_expect_eq(addr_local(&mb, buf, sizeof buf), 64);

	fill(in, "<", 'l', 65);
	strcat(in, "@x.example>");
	cr_expect_eq(parse(in, &mb, &used), ADDR_ELOCAL);

	/* quoted: 62 inside + 2 quotes = 64 */
	fill(in, "<\"", 'q', 62);
	strcat(in, "\"@x.example>");
	cr_expect_eq(parse(in, &mb, &used), ADDR_OK);
	cr_expect_eq(mb.at, 64);
	cr_expect_eq(addr_local(&mb, buf, sizeof buf), 62);
	fill(in, "<\"", 'q', 63);
	strcat(in, "\"@x.example>");
	cr_expect_eq(parse(in, &mb, &used), ADDR_ELOCAL);

	/* backslashes count: 31 pairs + 2 quotes = 64, unquoted to 31 */
	strcpy(in, "<\"");
	for (int k = 0; k < 31; k++)
		strcat(in, "\\z");
	strcat(in, "\"@x>");
	cr_expect_eq(parse(in, &mb, &used), ADDR_OK);
	cr_expect_eq(mb.at, 64);
	cr_expect_eq(addr_local(&mb, buf, sizeof buf), 31);
	strcpy(in, "<\"a");
	for (int k = 0; k < 31; k++)
		strcat(in, "\\z");
	strcat(in, "\"@x>");
	cr_expect_eq(parse(in, &mb, &used), ADDR_ELOCAL);
}

/* label: 63 octets ok, 64 refused, first, middle or last */
Test(addr_limits, label)
{
	char in[300], lab[80];
	struct mailbox mb;
	size_t used;

	fill(lab, "", 'L', 63);
	snprintf(in, sizeof in, "<a@%s.example>", lab);
	cr_expect_eq(parse(in, &mb, &used), ADDR_OK);
	snprintf(in, sizeof in, "<a@x.%s.example>", lab);
	cr_expect_eq(parse(in, &mb, &used), ADDR_OK);
	snprintf(in, sizeof in, "<a@example.%s>", lab);
	cr_expect_eq(parse(in, &mb, &used), ADDR_OK);
	cr_expect(addr_domain_valid(lab, 63));

	fill(lab, "", 'L', 64);
	snprintf(in, sizeof in, "<a@%s.example>", lab);
	cr_expect_eq(parse(in, &mb, &used), ADDR_EDOMAIN);
	snprintf(in, sizeof in, "<a@x.%s.example>", lab);
	cr_expect_eq(parse(in, &mb, &used), ADDR_EDOMAIN);
	snprintf(in, sizeof in, "<a@example.%s>", lab);
	cr_expect_eq(parse(in, &mb, &used), ADDR_EDOMAIN);
	snprintf(in, sizeof in, "<@%s:a@x>", lab);
	cr_expect_eq(parse(in, &mb, &used), ADDR_EDOMAIN);
	cr_expect(!addr_domain_valid(lab, 64));
}

/* domain: 255 octets valid, 256 not; in a path 255 is always too long */
Test(addr_limits, domain)
{
	char d[300], in[600];
	struct mailbox mb;
	size_t used;

	domain_of_len(d, 255);
	cr_expect_eq(strlen(d), 255);
	cr_expect(addr_domain_valid(d, 255));
	domain_of_len(d, 256);
	cr_expect(!addr_domain_valid(d, 256));

	/* "<" 1 "@" 255 ">" is 259 octets, over the path limit */
	domain_of_len(d, 255);
	snprintf(in, sizeof in, "<a@%s>", d);
	cr_expect_eq(parse(in, &mb, &used), ADDR_ETOOLONG);
	/* the largest domain that fits a path: 256 - "<a@>" = 252 */
	domain_of_len(d, 252);
	snprintf(in, sizeof in, "<a@%s>", d);
	cr_expect_eq(parse(in, &mb, &used), ADDR_OK);
	cr_expect_str_eq(addr_domain(&mb), d);
}

/* path: 256 octets with brackets ok, 257 too long, route included */
Test(addr_limits, path)
{
	char d[300], in[600], lp[80];
	struct mailbox mb;
	size_t used;

	/* "<" + 64 + "@" + 189 + ">" = 256 */
	fill(lp, "", 'l', 64);
	domain_of_len(d, 189);
	snprintf(in, sizeof in, "<%s@%s>", lp, d);
	cr_expect_eq(strlen(in), 256);
	cr_expect_eq(parse(in, &mb, &used), ADDR_OK);
	cr_expect_eq(used, 256);
	cr_expect_eq(strlen(mb.text), 254);
	snprintf(in, sizeof in, "<%s@%s> SIZE=100", lp, d);
	cr_expect_eq(parse(in, &mb, &used), ADDR_OK);
	cr_expect_eq(used, 256);

	domain_of_len(d, 190);
	snprintf(in, sizeof in, "<%s@%s>", lp, d);
	cr_expect_eq(strlen(in), 257);
	cr_expect_eq(parse(in, &mb, &used), ADDR_ETOOLONG);
	cr_expect_eq(used, 0);

	/* no closing '>' within 256 octets: too long, not a syntax error */
	fill(in, "<", 'a', 300);
	cr_expect_eq(parse(in, &mb, &used), ADDR_ETOOLONG);
	/* ...but a short unterminated path is a syntax error */
	fill(in, "<", 'a', 254);
	cr_expect_eq(parse(in, &mb, &used), ADDR_ESYNTAX);

	/* a source route counts toward the 256 */
	domain_of_len(d, 200);
	snprintf(in, sizeof in, "<@%s:%s@x.example>", d, "u");
	cr_expect_eq(strlen(in), 215);
	cr_expect_eq(parse(in, &mb, &used), ADDR_OK);
	cr_expect_str_eq(mb.text, "u@x.example");
	domain_of_len(d, 242);
	snprintf(in, sizeof in, "<@%s:%s@x.example>", d, "u");
	cr_expect_eq(strlen(in), 257);
	cr_expect_eq(parse(in, &mb, &used), ADDR_ETOOLONG);
	domain_of_len(d, 241);
	snprintf(in, sizeof in, "<@%s:%s@x.example>", d, "u");
	cr_expect_eq(parse(in, &mb, &used), ADDR_OK);
	cr_expect_eq(used, 256);

	/* quoted '>' near the limit */
	fill(in, "<\"", '>', 62);
	strcat(in, "\"@");
	domain_of_len(d, 189);
	strcat(in, d);
	strcat(in, ">");
	cr_expect_eq(strlen(in), 256);
	cr_expect_eq(parse(in, &mb, &used), ADDR_OK);
	cr_expect_eq(used, 256);
}

/* which error wins: the first found while looking for '>' */
Test(addr_limits, error_order)
{
	char in[600];
	struct mailbox mb;
	size_t used;

	fill(in, "<\x80", 'a', 300);
	cr_expect_eq(parse(in, &mb, &used), ADDR_E8BIT);
	fill(in, "< ", 'a', 300);
	cr_expect_eq(parse(in, &mb, &used), ADDR_ESYNTAX);
	fill(in, "<", 'a', 300);
	in[280] = '\x80';
	cr_expect_eq(parse(in, &mb, &used), ADDR_ETOOLONG);
	/* 8-bit beats a bad local part or domain found later */
	cr_expect_eq(parse("<..@\x80>", &mb, &used), ADDR_E8BIT);
	cr_expect_eq(parse("<a@-\x80>", &mb, &used), ADDR_E8BIT);
	/* length beats grammar */
	fill(in, "<", '.', 300);
	cr_expect_eq(parse(in, &mb, &used), ADDR_ETOOLONG);
}

/* ---- addr_domain and addr_local ---- */

struct localcase {
	char in[48];
	char local[48];
	char domain[32];
};

static const struct localcase local_cases[] = {
	{ "<user@example.com>", "user", "example.com" },
	{ "<\"john doe\"@x>", "john doe", "x" },
	{ "<\"a\\\"b\"@x>", "a\"b", "x" },
	{ "<\"a\\\\b\"@x>", "a\\b", "x" },
	{ "<\"\\a\\b\\c\"@x>", "abc", "x" },
	{ "<\"a@b\"@c.example>", "a@b", "c.example" },
	{ "<\"a>b\"@x>", "a>b", "x" },
	{ "<\"\"@x>", "", "x" },
	{ "<\"\\\\\"@x>", "\\", "x" },
	{ "<\"x\\ y\"@x>", "x y", "x" },
	{ "<@r.example:\"q q\"@z.example>", "q q", "z.example" },
	{ "<a.b@[IPv6:::1]>", "a.b", "[IPv6:::1]" },
	{ "<Mixed.Case@Mixed.Example>", "Mixed.Case", "Mixed.Example" },
};

/* addr_local unquotes; addr_domain is the text after the splitting '@' */
Test(addr_parts, local_and_domain)
{
	size_t i;

	for (i = 0; i < sizeof local_cases / sizeof local_cases[0]; i++) {
		const struct localcase *c = &local_cases[i];
		struct mailbox mb;
		size_t used;
		char buf[64];

		cr_assert_eq(parse(c->in, &mb, &used), ADDR_OK, "%s", c->in);
		cr_expect_eq(addr_local(&mb, buf, sizeof buf),
		             (int)strlen(c->local), "%s", c->in);
		cr_expect_str_eq(buf, c->local, "%s", c->in);
		cr_expect_str_eq(addr_domain(&mb), c->domain, "%s", c->in);
	}
}

/* addr_local refuses a buffer without room for the text and its NUL */
Test(addr_parts, local_buffer_size)
{
	struct mailbox mb;
	size_t used;
	char buf[16];

	cr_assert_eq(parse("<abc@x>", &mb, &used), ADDR_OK);
	cr_expect_eq(addr_local(&mb, buf, 4), 3);
	cr_expect_str_eq(buf, "abc");
	cr_expect_eq(addr_local(&mb, buf, 3), -1);
	cr_expect_eq(addr_local(&mb, buf, 0), -1);

	cr_assert_eq(parse("<\"john doe\"@x>", &mb, &used), ADDR_OK);
	cr_expect_eq(addr_local(&mb, buf, 9), 8);
	cr_expect_str_eq(buf, "john doe");
	cr_expect_eq(addr_local(&mb, buf, 8), -1);

	cr_assert_eq(parse("<\"\"@x>", &mb, &used), ADDR_OK);
	cr_expect_eq(addr_local(&mb, buf, 1), 0);
	cr_expect_eq(addr_local(&mb, buf, 0), -1);

	/* a byte past len is never written */
	memset(buf, '#', sizeof buf);
	cr_assert_eq(parse("<\"abcdef\"@x>", &mb, &used), ADDR_OK);
	cr_expect_eq(addr_local(&mb, buf, 4), -1);
	cr_expect_eq(buf[4], '#');
}

/* ---- addr_domain_valid ---- */

struct domcase {
	char in[40];
	int ok;
};

static const struct domcase dom_cases[] = {
	{ "example.com", 1 }, { "a", 1 }, { "A.B.C", 1 }, { "x-y.z", 1 },
	{ "x--y.z", 1 }, { "3com.com", 1 }, { "a1", 1 }, { "1", 1 },
	{ "", 0 }, { ".", 0 }, { "a.", 0 }, { ".a", 0 }, { "a..b", 0 },
	{ "-a", 0 }, { "a-", 0 }, { "a.-b", 0 }, { "a.b-", 0 }, { "a_b", 0 },
	{ "a b", 0 }, { "a@b", 0 }, { "[1.2.3.4]", 0 }, { "a:b", 0 },
	{ "a\xc3\xa9", 0 }, { "a\tb", 0 }, { "*.example", 0 },
};

/* domains: LDH labels, no empty label, no edge hyphen, no trailing dot */
Test(domain_valid, table)
{
	size_t i;

	for (i = 0; i < sizeof dom_cases / sizeof dom_cases[0]; i++)
		cr_expect_eq(addr_domain_valid(dom_cases[i].in,
		                               strlen(dom_cases[i].in)),
		             dom_cases[i].ok, "\"%s\"", dom_cases[i].in);
}

/* only d[0..n) is looked at; a NUL inside is invalid */
Test(domain_valid, explicit_length)
{
	cr_expect(addr_domain_valid("example.com", 7));
	cr_expect(!addr_domain_valid("example.com", 8));
	cr_expect(addr_domain_valid("a-b", 1));
	cr_expect(!addr_domain_valid("a-b", 2));
	cr_expect(!addr_domain_valid("a\0b", 3));
	cr_expect(!addr_domain_valid("ab\0", 3));
	cr_expect(!addr_domain_valid("ab", 0));
	cr_expect(!addr_domain_valid(NULL, 0));
}

/* ---- addr_literal_valid and addr_literal_sockaddr ---- */

struct litcase {
	char in[56];
	int ok;
};

static const struct litcase lit_cases[] = {
	{ "[1.2.3.4]", 1 }, { "[0.0.0.0]", 1 }, { "[255.255.255.255]", 1 },
	{ "[10.0.0.1]", 1 }, { "[IPv6:::1]", 1 }, { "[ipv6:::1]", 1 },
	{ "[IPV6:2001:DB8::1]", 1 }, { "[IPv6:::]", 1 },
	{ "[IPv6:1:2:3:4:5:6:7:8]", 1 }, { "[IPv6:::ffff:1.2.3.4]", 1 },
	{ "[IPv6:ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]", 1 },
	{ "[1.2.3.256]", 0 }, { "[1.2.3]", 0 }, { "[1.2.3.4.5]", 0 },
	{ "[1.2.3.]", 0 }, { "[.1.2.3]", 0 }, { "[1.2.3.1000]", 0 },
	{ "[01.2.3.4]", 0 }, { "[1234]", 0 }, { "[]", 0 }, { "[", 0 },
	{ "", 0 }, { "1.2.3.4", 0 }, { "[1.2.3.4", 0 }, { "1.2.3.4]", 0 },
	{ "[ 1.2.3.4]", 0 }, { "[1.2.3.4 ]", 0 }, { "[IPv6:zz::]", 0 },
	{ "[IPv6:]", 0 }, { "[IPv6:1.2.3.4]", 0 }, { "[IPv6:::1%lo]", 0 },
	{ "[IPv6:1::2::3]", 0 }, { "[IPv6:12345::]", 0 }, { "[::1]", 0 },
	{ "[IPv6::::1]", 0 }, { "[IPv6 :::1]", 0 }, { "[IPv4:1.2.3.4]", 0 },
	{ "[foo:bar]", 0 }, { "[x:1]", 0 }, { "[IPv6:::1]]", 0 },
	{ "[[1.2.3.4]]", 0 }, { "example.com", 0 },
};

/* address literals: dotted quad or IPv6 with a case-insensitive tag */
Test(addr_literal, valid_table)
{
	size_t i;

	for (i = 0; i < sizeof lit_cases / sizeof lit_cases[0]; i++)
		cr_expect_eq(addr_literal_valid(lit_cases[i].in,
		                                strlen(lit_cases[i].in)),
		             lit_cases[i].ok, "\"%s\"", lit_cases[i].in);
}

/* only d[0..n) is looked at */
Test(addr_literal, explicit_length)
{
	cr_expect(addr_literal_valid("[1.2.3.4]xyz", 9));
	cr_expect(!addr_literal_valid("[1.2.3.4]", 8));
	cr_expect(!addr_literal_valid("[1.2.3.4\0]", 10));
	cr_expect(!addr_literal_valid("[IPv6:::1\0]", 11));
	cr_expect(!addr_literal_valid(NULL, 0));
}

/* an IPv4 literal becomes a sockaddr_in with port 0 */
Test(addr_literal, sockaddr_v4)
{
	struct mailbox mb;
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	socklen_t len = 0;
	size_t used;

	cr_assert_eq(parse("<a@[192.0.2.7]>", &mb, &used), ADDR_OK);
	cr_assert(mb.literal);
	memset(&ss, 0xa5, sizeof ss);
	cr_assert_eq(addr_literal_sockaddr(&mb, &ss, &len), 0);
	cr_expect_eq(len, sizeof(struct sockaddr_in));
	cr_expect_eq(sin->sin_family, AF_INET);
	cr_expect_eq(sin->sin_port, 0);
	cr_expect_eq(ntohl(sin->sin_addr.s_addr), 0xc0000207u);
}

/* an IPv6 literal becomes a sockaddr_in6 with port 0 */
Test(addr_literal, sockaddr_v6)
{
	struct mailbox mb;
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	struct in6_addr want;
	socklen_t len = 0;
	size_t used;

	cr_assert_eq(parse("<\"x@y\"@[ipv6:2001:db8::5]>", &mb, &used), ADDR_OK);
	cr_assert(mb.literal);
	memset(&ss, 0xa5, sizeof ss);
	cr_assert_eq(addr_literal_sockaddr(&mb, &ss, &len), 0);
	cr_expect_eq(len, sizeof(struct sockaddr_in6));
	cr_expect_eq(sin6->sin6_family, AF_INET6);
	cr_expect_eq(sin6->sin6_port, 0);
	cr_expect_eq(sin6->sin6_flowinfo, 0);
	cr_expect_eq(sin6->sin6_scope_id, 0);
	cr_assert_eq(inet_pton(AF_INET6, "2001:db8::5", &want), 1);
	cr_expect_eq(memcmp(&sin6->sin6_addr, &want, sizeof want), 0);
}

/* no literal, no sockaddr */
Test(addr_literal, sockaddr_refused)
{
	struct mailbox mb;
	struct sockaddr_storage ss;
	socklen_t len = 0;
	size_t used;

	cr_assert_eq(parse("<a@example.com>", &mb, &used), ADDR_OK);
	cr_expect_eq(addr_literal_sockaddr(&mb, &ss, &len), -1);
	cr_assert_eq(parse("<>", &mb, &used), ADDR_OK);
	cr_expect_eq(addr_literal_sockaddr(&mb, &ss, &len), -1);
	cr_assert_eq(parse("<postmaster>", &mb, &used), ADDR_OK);
	cr_expect_eq(addr_literal_sockaddr(&mb, &ss, &len), -1);
	/* a hand-made mailbox that claims a literal it does not have */
	memset(&mb, 0, sizeof mb);
	strcpy(mb.text, "a@[1.2.3.999]");
	mb.at = 1;
	mb.literal = 1;
	cr_expect_eq(addr_literal_sockaddr(&mb, &ss, &len), -1);
}

/* ---- addr_error_text ---- */

/* every error has its own non-empty phrase, no CR or LF */
Test(error_text, distinct)
{
	enum addr_error e, f;

	for (e = ADDR_OK; e <= ADDR_E8BIT; e++) {
		const char *t = addr_error_text(e);

		cr_assert(t != NULL);
		cr_expect(t[0] != '\0');
		cr_expect(strpbrk(t, "\r\n") == NULL);
		for (f = ADDR_OK; f < e; f++)
			cr_expect_str_neq(t, addr_error_text(f));
	}
	cr_expect(addr_error_text((enum addr_error)99) != NULL);
}
