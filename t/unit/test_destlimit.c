/* test_destlimit - the scheduler's limit decisions (no filesystem, no
 * clock): a next hop's limit, a transport's limit leaving the other
 * transport its slots, the order of the verdicts, waiting lines first
 * in first out, and the dead-hop memory with its expiry. */
#include <criterion/criterion.h>
#include <stdio.h>

#include "destlimit.h"

enum { T_LIMIT = 3, H_LIMIT = 2 };

/* check - the verdict for a job of tr to hop at time now */
static enum dl_verdict check(struct destlimit *t, enum transport_id tr,
                             const char *hop, long long now)
{
	return destlimit_check(t, tr, hop, T_LIMIT, H_LIMIT, now);
}

Test(destlimit, a_hop_has_its_limit_and_no_more)
{
	struct destlimit *t = destlimit_new();

	cr_assert_not_null(t);
	cr_assert_eq(check(t, TRANSPORT_SMTP, "slow.example", 100), DL_GO);
	cr_assert_eq(destlimit_take(t, TRANSPORT_SMTP, "slow.example"), 0);
	cr_assert_eq(destlimit_take(t, TRANSPORT_SMTP, "SLOW.example"), 0,
	             "keys are compared without case");
	cr_assert_eq(destlimit_hop_running(t, "slow.example"), 2);
	cr_assert_eq(check(t, TRANSPORT_SMTP, "slow.example", 100), DL_HOP);
	cr_assert_eq(check(t, TRANSPORT_SMTP, "other.example", 100), DL_GO,
	             "another hop has its own slots");
	destlimit_give(t, TRANSPORT_SMTP, "slow.example");
	cr_assert_eq(check(t, TRANSPORT_SMTP, "slow.example", 100), DL_GO,
	             "a slot given back is free again");
	destlimit_give(t, TRANSPORT_SMTP, "slow.example");
	cr_assert_eq(destlimit_hop_running(t, "slow.example"), 0);
	cr_assert_eq(destlimit_running(t, TRANSPORT_SMTP), 0);
	destlimit_free(t);
}

Test(destlimit, a_full_transport_leaves_the_other_its_slots)
{
	struct destlimit *t = destlimit_new();
	char hop[32];
	int i;

	/* three smtp deliveries to three hops fill smtp (T_LIMIT 3) ... */
	for (i = 0; i < T_LIMIT; i++) {
		snprintf(hop, sizeof hop, "d%d.example", i);
		cr_assert_eq(check(t, TRANSPORT_SMTP, hop, 100), DL_GO);
		cr_assert_eq(destlimit_take(t, TRANSPORT_SMTP, hop), 0);
	}
	cr_assert_eq(check(t, TRANSPORT_SMTP, "fresh.example", 100), DL_TRANSPORT,
	             "a new hop waits for the transport");
	/* ... but local still goes, up to its own limit */
	cr_assert_eq(check(t, TRANSPORT_LOCAL, "local:bob", 100), DL_GO);
	cr_assert_eq(destlimit_take(t, TRANSPORT_LOCAL, "local:bob"), 0);
	cr_assert_eq(destlimit_take(t, TRANSPORT_LOCAL, "local:carol"), 0);
	cr_assert_eq(destlimit_take(t, TRANSPORT_LOCAL, "local:dave"), 0);
	cr_assert_eq(check(t, TRANSPORT_LOCAL, "local:erin", 100), DL_TRANSPORT);
	cr_assert_eq(destlimit_running(t, TRANSPORT_LOCAL), 3);
	cr_assert_eq(destlimit_running(t, TRANSPORT_SMTP), 3);
	destlimit_give(t, TRANSPORT_LOCAL, "local:bob");
	cr_assert_eq(check(t, TRANSPORT_LOCAL, "local:erin", 100), DL_GO);
	cr_assert_eq(check(t, TRANSPORT_SMTP, "fresh.example", 100), DL_TRANSPORT,
	             "a local slot is no smtp slot");
	destlimit_free(t);
}

Test(destlimit, the_hop_verdict_comes_before_the_transport)
{
	struct destlimit *t = destlimit_new();

	destlimit_take(t, TRANSPORT_SMTP, "a.example");
	destlimit_take(t, TRANSPORT_SMTP, "a.example");
	destlimit_take(t, TRANSPORT_SMTP, "b.example");
	cr_assert_eq(check(t, TRANSPORT_SMTP, "a.example", 100), DL_HOP);
	destlimit_set_dead(t, "a.example", 150);
	cr_assert_eq(check(t, TRANSPORT_SMTP, "a.example", 100), DL_DEAD,
	             "dead before anything else");
	destlimit_free(t);
}

Test(destlimit, lines_are_first_in_first_out)
{
	struct destlimit *t = destlimit_new();
	int a, b, c, x;

	cr_assert_eq(destlimit_wait(t, DL_HOP, TRANSPORT_SMTP, "slow.example", &a), 0);
	cr_assert_eq(destlimit_wait(t, DL_HOP, TRANSPORT_SMTP, "Slow.Example", &b), 0);
	cr_assert_eq(destlimit_wait(t, DL_TRANSPORT, TRANSPORT_LOCAL, "local:x", &x), 0);
	cr_assert_eq(destlimit_wait(t, DL_HOP, TRANSPORT_SMTP, "slow.example", &c), 0);
	cr_assert_null(destlimit_unwait_hop(t, "other.example"));
	cr_assert_null(destlimit_unwait_transport(t, TRANSPORT_SMTP));
	cr_assert_eq(destlimit_unwait_hop(t, "slow.example"), &a);
	cr_assert_eq(destlimit_unwait_hop(t, "slow.example"), &b);
	cr_assert_eq(destlimit_unwait_hop(t, "slow.example"), &c);
	cr_assert_null(destlimit_unwait_hop(t, "slow.example"));
	cr_assert_eq(destlimit_unwait_transport(t, TRANSPORT_LOCAL), &x);
	cr_assert_null(destlimit_unwait_transport(t, TRANSPORT_LOCAL));
	destlimit_free(t);
}

Test(destlimit, a_long_line_keeps_its_order)
{
	struct destlimit *t = destlimit_new();
	int v[100], i;

	for (i = 0; i < 100; i++) {
		cr_assert_eq(destlimit_wait(t, DL_HOP, TRANSPORT_SMTP, "h", &v[i]), 0);
		if (i % 3 == 2)         /* taking some out while it grows */
			cr_assert_eq(destlimit_unwait_hop(t, "h"), &v[i / 3]);
	}
	for (i = 33; i < 100; i++)
		cr_assert_eq(destlimit_unwait_hop(t, "h"), &v[i], "job %d", i);
	cr_assert_null(destlimit_unwait_hop(t, "h"));
	destlimit_free(t);
}

Test(destlimit, a_dead_hop_is_dead_until_its_time)
{
	struct destlimit *t = destlimit_new();

	destlimit_set_dead(t, "[127.0.0.2]:25", 160);
	cr_assert_eq(destlimit_dead_until(t, "[127.0.0.2]:25"), 160);
	cr_assert_eq(check(t, TRANSPORT_SMTP, "[127.0.0.2]:25", 100), DL_DEAD);
	cr_assert_eq(check(t, TRANSPORT_SMTP, "[127.0.0.2]:25", 159), DL_DEAD);
	cr_assert_eq(check(t, TRANSPORT_SMTP, "[127.0.0.3]:25", 100), DL_GO,
	             "only that hop");
	cr_assert_eq(check(t, TRANSPORT_SMTP, "[127.0.0.2]:25", 160), DL_GO,
	             "its time over, it is tried again");
	cr_assert_eq(check(t, TRANSPORT_SMTP, "[127.0.0.2]:25", DL_IGNORE_DEAD), DL_GO,
	             "a job an operator asked for is tried anyway");
	destlimit_prune(t, 159);
	cr_assert_eq(destlimit_dead_until(t, "[127.0.0.2]:25"), 160, "kept until over");
	destlimit_prune(t, 160);
	cr_assert_eq(destlimit_dead_until(t, "[127.0.0.2]:25"), 0, "forgotten");
	/* a hop with deliveries keeps its counts through the pruning */
	destlimit_take(t, TRANSPORT_SMTP, "busy.example");
	destlimit_set_dead(t, "busy.example", 10);
	destlimit_prune(t, 200);
	cr_assert_eq(destlimit_hop_running(t, "busy.example"), 1);
	destlimit_give(t, TRANSPORT_SMTP, "busy.example");
	cr_assert_eq(destlimit_hop_running(t, "busy.example"), 0);
	destlimit_free(t);
}

/* the first of a line can be looked at without taking it out (the
 * scheduler lets a job's parked siblings go with it) */
Test(destlimit, the_first_in_a_line_is_seen_and_left)
{
	struct destlimit *t = destlimit_new();
	int a, b, c;

	cr_assert_null(destlimit_first_hop(t, "h.example"));
	cr_assert_null(destlimit_first_transport(t, TRANSPORT_SMTP));
	cr_assert_eq(destlimit_wait(t, DL_HOP, TRANSPORT_SMTP, "h.example", &a), 0);
	cr_assert_eq(destlimit_wait(t, DL_HOP, TRANSPORT_SMTP, "h.example", &b), 0);
	cr_assert_eq(destlimit_wait(t, DL_TRANSPORT, TRANSPORT_SMTP, "x", &c), 0);
	cr_assert_eq(destlimit_first_hop(t, "H.Example"), &a);
	cr_assert_eq(destlimit_first_hop(t, "h.example"), &a, "left in the line");
	cr_assert_eq(destlimit_unwait_hop(t, "h.example"), &a);
	cr_assert_eq(destlimit_first_hop(t, "h.example"), &b);
	cr_assert_eq(destlimit_first_transport(t, TRANSPORT_SMTP), &c);
	cr_assert_eq(destlimit_unwait_transport(t, TRANSPORT_SMTP), &c);
	cr_assert_null(destlimit_first_transport(t, TRANSPORT_SMTP));
	destlimit_free(t);
}
