/* test_dane - which TLSA records DANE for SMTP can use (RFC 7672 3.1),
 * and a resolver that cannot start: a trust anchor file missing. */
#include <criterion/criterion.h>
#include <string.h>

#include "dane.h"

/* rdata - usage, selector, matching type and n bytes of data into buf */
static size_t rdata(unsigned char *buf, int u, int s, int m, size_t n)
{
	buf[0] = (unsigned char)u;
	buf[1] = (unsigned char)s;
	buf[2] = (unsigned char)m;
	memset(buf + 3, 0xab, n);
	return n + 3;
}

Test(dane, usable_records)
{
	unsigned char b[80];
	struct tls_tlsa r;
	size_t n;

	n = rdata(b, 3, 1, 1, 32);
	cr_assert_eq(dane_tlsa_parse(b, n, &r), 1, "DANE-EE SPKI SHA-256");
	cr_assert(r.usage == 3 && r.selector == 1 && r.mtype == 1 && r.len == 32);
	cr_assert_eq(r.data[31], 0xab);
	n = rdata(b, 2, 0, 2, 64);
	cr_assert_eq(dane_tlsa_parse(b, n, &r), 1, "DANE-TA certificate SHA-512");
	n = rdata(b, 3, 1, 0, 44);
	cr_assert_eq(dane_tlsa_parse(b, n, &r), 1, "DANE-EE full key, short enough");
}

Test(dane, unusable_records)
{
	unsigned char b[80];
	struct tls_tlsa r;

	cr_assert_eq(dane_tlsa_parse(b, rdata(b, 1, 1, 1, 32), &r), 0, "PKIX-EE");
	cr_assert_eq(dane_tlsa_parse(b, rdata(b, 0, 0, 1, 32), &r), 0, "PKIX-TA");
	cr_assert_eq(dane_tlsa_parse(b, rdata(b, 3, 2, 1, 32), &r), 0, "selector 2");
	cr_assert_eq(dane_tlsa_parse(b, rdata(b, 3, 1, 3, 32), &r), 0, "matching type 3");
	cr_assert_eq(dane_tlsa_parse(b, rdata(b, 3, 1, 1, 31), &r), 0,
	             "a SHA-256 digest one byte short");
	cr_assert_eq(dane_tlsa_parse(b, rdata(b, 3, 1, 0, 70), &r), 0,
	             "a full key longer than kept");
	cr_assert_eq(dane_tlsa_parse(b, 3, &r), 0, "no data");
}

Test(dane, missing_anchor)
{
	char err[256];

	cr_assert_null(dane_resolver_new("/nonexistent/root.key", "127.0.0.1:1",
	                                 err, sizeof err));
	cr_assert_str_eq(err, "--dns-trust-anchor /nonexistent/root.key: "
	                 "No such file or directory");
	dane_resolver_free(NULL);
}
