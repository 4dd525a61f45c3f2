/* test_netaddr - address literals to addresses */
#include <criterion/criterion.h>
#include <string.h>

#include "netaddr.h"

static void check(const char *in, const char *want)
{
	size_t n;
	const char *p = netaddr_unliteral(in, strlen(in), &n);

	cr_assert_eq(n, strlen(want), "%s", in);
	cr_assert(strncmp(p, want, n) == 0, "%s -> %.*s", in, (int)n, p);
}

Test(netaddr, unliteral)
{
	check("[192.0.2.1]", "192.0.2.1");
	check("[IPv6:2001:db8::1]", "2001:db8::1");
	check("[ipv6:::1]", "::1");
	check("IPv6:::1", "::1");
	check("[::1]", "::1");
	check("192.0.2.1", "192.0.2.1");
	check("mx.example", "mx.example");
	check("[", "[");
	check("[]", "");
}
