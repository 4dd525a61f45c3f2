/* test_localaddr.c - does an address and port reach one of our listeners
 * (localaddr.h)? */
#include <criterion/criterion.h>
#include <string.h>

#include "localaddr.h"
#include "netaddr.h"

static struct sockaddr_storage ss(const char *text)
{
	struct sockaddr_storage s;
	socklen_t len;

	cr_assert_eq(netaddr_parse(text, 1, &s, &len), 0, "%s", text);
	return s;
}

static void listen_on(struct listen_addr *l, const char *text)
{
	socklen_t len;

	memset(l, 0, sizeof *l);
	cr_assert_eq(netaddr_parse(text, 0, &l->ss, &len), 0, "%s", text);
}

#define SA(x) ((const struct sockaddr *)&(x))

Test(localaddr, specific_listener)
{
	struct listen_addr l[1];
	struct sockaddr_storage a = ss("127.0.0.7"), b = ss("127.0.0.8");

	listen_on(&l[0], "127.0.0.7:2525");
	cr_assert(localaddr_match(l, 1, NULL, 0, SA(a), 2525));
	cr_assert_not(localaddr_match(l, 1, NULL, 0, SA(a), 25), "another port");
	cr_assert_not(localaddr_match(l, 1, NULL, 0, SA(b), 2525), "another address");
}

Test(localaddr, wildcard_listener_covers_every_local_address)
{
	struct listen_addr l[2];
	struct sockaddr_storage ifa = ss("192.0.2.10"), if6 = ss("[2001:db8::10]");
	const struct sockaddr *ifs[2] = { SA(ifa), SA(if6) };
	struct sockaddr_storage a = ss("192.0.2.10"), lo = ss("127.0.0.3"),
		other = ss("192.0.2.11"), a6 = ss("[2001:db8::10]"), lo6 = ss("[::1]"),
		mapped = ss("[::ffff:192.0.2.10]");

	listen_on(&l[0], "0.0.0.0:25");
	cr_assert(localaddr_match(l, 1, ifs, 2, SA(a), 25), "an interface address");
	cr_assert(localaddr_match(l, 1, ifs, 2, SA(lo), 25), "anywhere in 127/8");
	cr_assert(localaddr_match(l, 1, ifs, 2, SA(mapped), 25), "IPv4-mapped");
	cr_assert_not(localaddr_match(l, 1, ifs, 2, SA(other), 25), "not ours");
	cr_assert_not(localaddr_match(l, 1, ifs, 2, SA(a), 26), "another port");
	cr_assert_not(localaddr_match(l, 1, ifs, 2, SA(a6), 25),
	              "0.0.0.0 takes no IPv6");
	listen_on(&l[1], "[::]:25");
	cr_assert(localaddr_match(l, 2, ifs, 2, SA(a6), 25));
	cr_assert(localaddr_match(l, 2, ifs, 2, SA(lo6), 25));
}

Test(localaddr, the_daemons_own_listener)
{
	struct config cfg;
	struct listen_addr l[1];
	struct sockaddr_storage lo = ss("127.0.0.1"), lo2 = ss("127.0.0.2");

	memset(&cfg, 0, sizeof cfg);
	listen_on(&l[0], "127.0.0.1:2525");
	cfg.listen = l;
	cfg.nlisten = 1;
	cr_assert(localaddr_is_self(&cfg, SA(lo), 2525));
	cr_assert_not(localaddr_is_self(&cfg, SA(lo2), 2525));
	listen_on(&l[0], "0.0.0.0:2525");
	cr_assert(localaddr_is_self(&cfg, SA(lo2), 2525), "wildcard: 127/8 is ours");
}
