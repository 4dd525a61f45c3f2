/* test_transport - routing a recipient to its transport and next hop
 * (transport.h, remote_next_hop in remote.h), and the limits each
 * transport and hop gets; the configuration built here, no filesystem,
 * no DNS. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "remote.h"
#include "resolve.h"
#include "transport.h"

static char *local_domains[] = { "test.example" };
static struct route routes[] = {
	{ .domain = "routed.example", .host = "relay.example", .port = 2525 },
	{ .domain = "byip.example", .host = "127.0.0.2", .port = 2600 },
	{ .domain = "byip6.example", .host = "[IPv6:::1]" },
	{ .domain = "*", .host = "Smart.Example" },
};

/* cfg - a configuration: with or without the "*" route */
static struct config cfg(int star)
{
	struct config c;

	memset(&c, 0, sizeof c);
	c.domains = local_domains;
	c.ndomains = 1;
	c.routes = routes;
	c.nroutes = star ? 4 : 3;
	c.smtp_port = 2525;
	c.max_deliveries = 100;
	c.max_per_dest = 20;
	return c;
}

/* route - transport and hop of address text (a path without brackets) */
static enum transport_id route(const struct config *c, const char *addr,
                               char *hop)
{
	struct mailbox mb;
	char path[300];
	size_t used;

	snprintf(path, sizeof path, "<%s>", addr);
	cr_assert_eq(addr_parse_path(path, strlen(path), &mb, &used, 0, 1), ADDR_OK,
	             "%s parses", addr);
	return transport_route(c, &mb, hop);
}

Test(transport, local_recipients_go_to_their_mailbox)
{
	struct config c = cfg(1);
	char hop[TRANSPORT_HOP_MAX];

	cr_assert_eq(route(&c, "Bob@Test.Example", hop), TRANSPORT_LOCAL);
	cr_assert_str_eq(hop, "local:bob");
	cr_assert_eq(route(&c, "postmaster", hop), TRANSPORT_LOCAL);
	cr_assert_str_eq(hop, "local:postmaster");
	c.system_users = 1;
	cr_assert_eq(route(&c, "postmaster@test.example", hop), TRANSPORT_LOCAL);
	cr_assert_str_eq(hop, "local:root", "postmaster shares root's mailbox");
}

Test(transport, a_route_is_its_host_and_port)
{
	struct config c = cfg(1);
	char hop[TRANSPORT_HOP_MAX];

	cr_assert_eq(route(&c, "a@routed.example", hop), TRANSPORT_SMTP);
	cr_assert_str_eq(hop, "relay.example:2525");
	cr_assert_eq(route(&c, "a@ROUTED.example", hop), TRANSPORT_SMTP);
	cr_assert_str_eq(hop, "relay.example:2525", "routes compared without case");
	route(&c, "a@byip.example", hop);
	cr_assert_str_eq(hop, "127.0.0.2:2600");
	route(&c, "a@byip6.example", hop);
	cr_assert_str_eq(hop, "[::1]:25", "an IPv6 route host: one spelling, port 25");
}

Test(transport, many_domains_share_the_smarthost)
{
	struct config c = cfg(1);
	char a[TRANSPORT_HOP_MAX], b[TRANSPORT_HOP_MAX];

	cr_assert_eq(route(&c, "x@one.example", a), TRANSPORT_SMTP);
	cr_assert_eq(route(&c, "y@two.example", b), TRANSPORT_SMTP);
	cr_assert_str_eq(a, "smart.example:25");
	cr_assert_str_eq(a, b, "one next hop, one limit");
}

Test(transport, without_a_route_the_domain_is_the_hop)
{
	struct config c = cfg(0);
	char hop[TRANSPORT_HOP_MAX];

	cr_assert_eq(route(&c, "x@Mixed.Example.ORG", hop), TRANSPORT_SMTP);
	cr_assert_str_eq(hop, "mixed.example.org", "the MX set of the domain");
}

Test(transport, a_literal_is_its_address_and_the_smtp_port)
{
	struct config c = cfg(1);
	char a[TRANSPORT_HOP_MAX], b[TRANSPORT_HOP_MAX];

	cr_assert_eq(route(&c, "x@[192.0.2.7]", a), TRANSPORT_SMTP);
	cr_assert_str_eq(a, "192.0.2.7:2525", "a literal is no smarthost's");
	route(&c, "x@[IPv6:2001:db8::1]", a);
	route(&c, "y@[IPv6:2001:DB8:0::1]", b);
	cr_assert_str_eq(a, "[2001:db8::1]:2525");
	cr_assert_str_eq(a, b, "one address, one hop");
}

Test(transport, each_transport_leaves_room_for_the_other)
{
	struct config c = cfg(1);
	unsigned all;

	for (all = 1; all <= 200; all++) {
		unsigned l, r;

		c.max_deliveries = all;
		l = transport_limit(&c, TRANSPORT_LOCAL);
		r = transport_limit(&c, TRANSPORT_SMTP);
		cr_assert_geq(l, 1);
		cr_assert_geq(r, 1);
		if (all >= 2) {
			cr_assert_lt(l, all, "%u: local leaves smtp a slot", all);
			cr_assert_lt(r, all, "%u: smtp leaves local a slot", all);
		}
	}
	c.max_deliveries = 100;
	cr_assert_eq(transport_limit(&c, TRANSPORT_SMTP), 75);
	c.max_deliveries = 4;
	cr_assert_eq(transport_limit(&c, TRANSPORT_LOCAL), 3);
}

Test(transport, hop_limits)
{
	struct config c = cfg(1);

	cr_assert_eq(transport_hop_limit(&c, TRANSPORT_SMTP), 20);
	cr_assert_eq(transport_hop_limit(&c, TRANSPORT_LOCAL), 37,
	             "a Maildir: half of local's 75 (no lock to wait for)");
	c.max_per_mailbox = 3;
	cr_assert_eq(transport_hop_limit(&c, TRANSPORT_LOCAL), 3, "--max-per-mailbox");
	c.max_per_mailbox = 60;
	cr_assert_eq(transport_hop_limit(&c, TRANSPORT_LOCAL), 37, "never over the half");
	c.max_per_mailbox = 0;
	c.mbox = 1;
	cr_assert_eq(transport_hop_limit(&c, TRANSPORT_LOCAL), 2, "an mbox");
	c.max_deliveries = 4;        /* local may use 3: a mailbox 1 */
	cr_assert_eq(transport_hop_limit(&c, TRANSPORT_LOCAL), 1);
	c.max_deliveries = 1;
	cr_assert_eq(transport_hop_limit(&c, TRANSPORT_LOCAL), 1);
}

Test(transport, virtual_mailboxes_have_their_domain_in_the_key)
{
	struct config c = cfg(1);
	struct resolve_tables t;
	char hop[TRANSPORT_HOP_MAX], *vdomains[] = { "one.example" };

	memset(&t, 0, sizeof t);
	t.vdomains = vdomains;
	t.nvdomains = 1;
	c.tables = &t;              /* not freed: tables_free stays NULL */
	cr_assert_eq(route(&c, "Alice@One.Example", hop), TRANSPORT_LOCAL);
	cr_assert_str_eq(hop, "local:one.example/alice");
	cr_assert_eq(route(&c, "alice@test.example", hop), TRANSPORT_LOCAL);
	cr_assert_str_eq(hop, "local:alice", "a local domain's mailbox is another");
	cr_assert_eq(route(&c, "alice@two.example", hop), TRANSPORT_SMTP);
}

Test(transport, lmtp_takes_every_local_mailbox_to_one_hop)
{
	struct config c = cfg(1);
	struct resolve_tables t;
	char hop[TRANSPORT_HOP_MAX], user[ADDR_MAX], *vdomains[] = { "one.example" };
	struct mailbox mb;
	size_t used;

	memset(&t, 0, sizeof t);
	t.vdomains = vdomains;
	t.nvdomains = 1;
	c.tables = &t;
	c.lmtp = "/run/dovecot/lmtp";
	c.max_lmtp = 10;
	cr_assert_eq(route(&c, "Bob@Test.Example", hop), TRANSPORT_LMTP);
	cr_assert_str_eq(hop, "lmtp:/run/dovecot/lmtp");
	cr_assert_eq(route(&c, "alice@one.example", hop), TRANSPORT_LMTP);
	cr_assert_str_eq(hop, "lmtp:/run/dovecot/lmtp", "a virtual mailbox: the same server");
	cr_assert_eq(route(&c, "a@routed.example", hop), TRANSPORT_SMTP,
	             "a remote recipient still goes by SMTP");
	/* the user the server is asked for: bare login, or user@domain */
	cr_assert_eq(addr_parse_path("<Bob@Test.Example>", 18, &mb, &used, 0, 1), ADDR_OK);
	cr_assert_eq(transport_lmtp_user(&c, &mb, user), 0);
	cr_assert_str_eq(user, "bob");
	cr_assert_eq(addr_parse_path("<Alice@One.Example>", 19, &mb, &used, 0, 1), ADDR_OK);
	cr_assert_eq(transport_lmtp_user(&c, &mb, user), 0);
	cr_assert_str_eq(user, "alice@one.example");
	cr_assert_eq(addr_parse_path("<postmaster>", 12, &mb, &used, 0, 1), ADDR_OK);
	c.system_users = 1;
	cr_assert_eq(transport_lmtp_user(&c, &mb, user), 0);
	cr_assert_str_eq(user, "root", "with --system-users: the account");
}

Test(transport, lmtp_limit)
{
	struct config c = cfg(1);

	c.max_lmtp = 10;
	cr_assert_eq(transport_limit(&c, TRANSPORT_LMTP), 10);
	cr_assert_eq(transport_hop_limit(&c, TRANSPORT_LMTP), 10, "one server: all of it");
	c.max_deliveries = 4;
	cr_assert_eq(transport_limit(&c, TRANSPORT_LMTP), 3, "never over three quarters");
	cr_assert_eq(transport_hop_limit(&c, TRANSPORT_LMTP), 3);
	c.max_deliveries = 1;
	cr_assert_eq(transport_limit(&c, TRANSPORT_LMTP), 1);
}
