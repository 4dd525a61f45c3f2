/* test_msghdr - header address extraction, Bcc removal, the header's
 * end and fields (msghdr.h). */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msghdr.h"

/* joined - the list as "a b c" */
static const char *joined(const struct addrlist *l)
{
	static char buf[1024];
	size_t i;

	buf[0] = '\0';
	for (i = 0; i < l->n; i++) {
		if (i)
			strcat(buf, " ");
		strcat(buf, l->v[i]);
	}
	return buf;
}

struct acase {
	char in[160];
	char out[160];
};

static struct acase acases[] = {
	{ "a@b.example", "a@b.example" },
	{ "  a@b.example  ", "a@b.example" },
	{ "Alice <alice@example.org>", "alice@example.org" },
	{ "\"Doe, Jane\" <jane@example.org>, bob@example.org",
	  "jane@example.org bob@example.org" },
	{ "bob@example.org (Bob (the (nested)) builder)", "bob@example.org" },
	{ "(comment) <c@example.org> (another)", "c@example.org" },
	{ "team: a@x.example, b@x.example;, c@x.example",
	  "a@x.example b@x.example c@x.example" },
	{ "undisclosed-recipients:;", "" },
	{ "<@relay1,@relay2:user@example.org>", "user@example.org" },
	{ "\"john doe\"@example.org", "\"john doe\"@example.org" },
	{ "user@[192.0.2.1]", "user@[192.0.2.1]" },
	{ "x@[IPv6:2001:db8::1], y@z.example", "x@[IPv6:2001:db8::1] y@z.example" },
	{ "John Doe", "" },
	{ "root", "root" },
	{ "a@b.example, a@B.EXAMPLE, A@b.example", "a@b.example A@b.example" },
	{ "=?UTF-8?B?w6k=?= <e@example.org>", "e@example.org" },
	{ "<a@b.example", "a@b.example" },
	{ "Bad\x01 <ctl\x01@example.org>, ok@example.org", "ok@example.org" },
	{ "caf\xc3\xa9@example.org, ok@example.org", "ok@example.org" },
	{ "<>", "" },
	{ ",,,", "" },
	{ "a@b.example,\r\n c@d.example", "a@b.example c@d.example" },
	{ "first . last @ example . org", "first.last@example.org" },
};

ParameterizedTestParameters(msghdr, addresses)
{
	return cr_make_param_array(struct acase, acases,
	                           sizeof acases / sizeof acases[0]);
}

ParameterizedTest(struct acase *c, msghdr, addresses)
{
	struct addrlist l;

	addrlist_init(&l);
	cr_assert_geq(msg_parse_addresses(c->in, strlen(c->in), &l), 0);
	cr_assert_str_eq(joined(&l), c->out, "input: %s", c->in);
	addrlist_free(&l);
}

Test(msghdr, address_too_long_dropped)
{
	struct addrlist l;
	char s[600];

	memset(s, 'a', 300);
	strcpy(s + 300, "@example.org, ok@example.org");
	addrlist_init(&l);
	msg_parse_addresses(s, strlen(s), &l);
	cr_assert_str_eq(joined(&l), "ok@example.org");
	addrlist_free(&l);
}

static const char hdr[] =
	"From: Alice <alice@example.org>, second@example.org\r\n"
	"To: bob@example.net,\r\n"
	"  carol@example.net\r\n"
	"Subject: to: nobody@example.net\r\n"
	"CC : dan@example.net\r\n"
	"bcc: hidden@example.net,\r\n"
	"\thidden2@example.net\r\n"
	"X-After: yes\r\n"
	"Bcc: third@example.net\r\n"
	"\r\n"
	"To: body@example.net\r\n"
	"Bcc: body line\r\n";

Test(msghdr, header_addrs)
{
	struct addrlist l;
	char from[64];

	addrlist_init(&l);
	cr_assert_eq(msg_header_addrs(hdr, strlen(hdr), from, sizeof from, &l), 0);
	cr_assert_str_eq(from, "alice@example.org");
	cr_assert_str_eq(joined(&l), "bob@example.net carol@example.net "
	                 "dan@example.net hidden@example.net hidden2@example.net "
	                 "third@example.net");
	addrlist_free(&l);
}

Test(msghdr, remove_bcc)
{
	char m[sizeof hdr];
	size_t n;

	memcpy(m, hdr, sizeof hdr);
	n = msg_remove_bcc(m, strlen(m));
	m[n] = '\0';
	cr_assert_str_eq(m,
		"From: Alice <alice@example.org>, second@example.org\r\n"
		"To: bob@example.net,\r\n"
		"  carol@example.net\r\n"
		"Subject: to: nobody@example.net\r\n"
		"CC : dan@example.net\r\n"
		"X-After: yes\r\n"
		"\r\n"
		"To: body@example.net\r\n"
		"Bcc: body line\r\n");
}

Test(msghdr, header_end_rules)
{
	const char *a = "A: 1\nB: 2\n\nbody\n";
	const char *b = "A: 1\nnot a field\nC: 3\n";
	const char *c = "A: 1\n B: continued\n";
	const char *d = "Bcc: x@y\nBcc: z@y";

	cr_assert_eq(msg_header_end(a, strlen(a)), 11);
	cr_assert_eq(msg_header_end(b, strlen(b)), 5);
	cr_assert_eq(msg_header_end(c, strlen(c)), strlen(c));
	cr_assert_eq(msg_remove_bcc((char *)(uintptr_t)"", 0), 0);
	{
		char m[32];

		strcpy(m, d);
		cr_assert_eq(msg_remove_bcc(m, strlen(m)), 0,
		             "a header of only Bcc fields, no final newline");
	}
}

Test(msghdr, dropped_addresses_handed_over)
{
	struct addrlist ok, dropped;
	char longer[400];
	const char *hdr2 = "From: a@example.org\n"
	                   "To: b@example.net, J <j\303\266rg@example.net>\n"
	                   "Cc: \"Jos\303\251\" <ok@example.net>, caf\303\251\n"
	                   "Bcc: bad\001x@example.net\n\nTo: body@x\n";

	addrlist_init(&ok);
	addrlist_init(&dropped);
	cr_assert_eq(msg_header_addrs_all(hdr2, strlen(hdr2), NULL, 0, &ok,
	                                  &dropped), 0);
	cr_assert_str_eq(joined(&ok), "b@example.net ok@example.net");
	cr_assert_str_eq(joined(&dropped), "j\303\266rg@example.net "
	                 "caf\303\251 bad\001x@example.net");
	addrlist_free(&ok);
	addrlist_free(&dropped);

	/* a display name alone is no address, dropped or not; "<>" neither */
	cr_assert_eq(msg_parse_addresses_all("J\303\266rg Doe, <>",
	                                     strlen("J\303\266rg Doe, <>"), &ok,
	                                     &dropped), 0);
	cr_assert_eq(ok.n + dropped.n, 0);

	/* too long: handed over cut short */
	memset(longer, 'x', 300);
	strcpy(longer + 300, "@example.net");
	cr_assert_eq(msg_parse_addresses_all(longer, strlen(longer), &ok,
	                                     &dropped), 0);
	cr_assert_eq(ok.n, 0);
	cr_assert_eq(dropped.n, 1);
	cr_assert_eq(strlen(dropped.v[0]), MSG_ADDR_MAX);
	addrlist_free(&dropped);
}

Test(msghdr, header_find_and_fields_end)
{
	const char *a = "Subject: x\nFROM : a@b\n\nFrom: body\n";
	const char *b = "Subject: x\n  more\nTo: y\n\nFrom: body\n";
	const char *c = "body line\nFrom: x\n";
	size_t at = 99;

	cr_assert_eq(msg_header_find(a, strlen(a), "from", &at), 1);
	cr_assert_eq(at, 22);
	cr_assert_eq(msg_header_find(b, strlen(b), "from", &at), 0,
	             "a From: in the body does not count");
	cr_assert_eq(at, 24);
	cr_assert_eq(msg_header_find(c, strlen(c), "from", &at), 0);
	cr_assert_eq(at, 0);
	cr_assert_eq(msg_header_find("To: x", 5, "from", &at), 0);
	cr_assert_eq(at, 5);
}

Test(msghdr, skip_from_line)
{
	const char *p = "From 0123 Mon Sep 17 00:00:00 2001\nFrom: a@b\n";

	cr_assert_eq(msg_skip_from_line(p, strlen(p)), 35);
	cr_assert_eq(msg_skip_from_line("From: a@b\n", 10), 0);
	cr_assert_eq(msg_skip_from_line(">From x\n", 8), 0);
	cr_assert_eq(msg_skip_from_line("From x", 6), 6, "no line end: all of it");
	cr_assert_eq(msg_skip_from_line("From", 4), 0);
}
