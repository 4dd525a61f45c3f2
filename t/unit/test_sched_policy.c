/* test_sched_policy.c - the scheduler's decisions, with no file system,
 * no clock and no scheduler: facts in, a decision out */
#include <criterion/criterion.h>

#include "sched_policy.h"

/* --retry 600, --attempts 5, --max-queue-time 1 day, --dead-hop-time 60 */
static const struct sp_limits lim = { 600, 5, 86400, 60 };
enum { NOW = 1800000000 };

Test(sched_policy, an_outcome_decides_the_fate_of_its_job)
{
	cr_assert_eq(sched_policy_outcome(ST_OK, SP_SOUND, 0), SP_DONE);
	cr_assert_eq(sched_policy_outcome(ST_TEMP, SP_SOUND, 0), SP_RETRY);
	cr_assert_eq(sched_policy_outcome(ST_PERM, SP_SOUND, 0), SP_FAIL);
	/* unusable: to bad/, whatever the status said */
	cr_assert_eq(sched_policy_outcome(ST_TEMP, SP_JOB_UNUSABLE, 0), SP_BAD_JOB);
	cr_assert_eq(sched_policy_outcome(ST_PERM, SP_MESSAGE_UNUSABLE, 0), SP_BAD_MESSAGE);
	/* removed by hand while it ran: forgotten, even if delivered */
	cr_assert_eq(sched_policy_outcome(ST_OK, SP_SOUND, 1), SP_DROP);
	cr_assert_eq(sched_policy_outcome(ST_PERM, SP_MESSAGE_UNUSABLE, 1), SP_DROP);
}

Test(sched_policy, a_first_temporary_failure_defers_by_retry)
{
	struct sp_retry r = sched_policy_retry(&lim, 0, 0, 0, NOW - 10, NOW);

	cr_assert_eq(r.verdict, SP_DEFER);
	cr_assert_eq(r.attempts, 1);
	cr_assert_eq(r.first, NOW, "the first failure is now");
	cr_assert_eq(r.due, NOW + 600);
}

Test(sched_policy, a_later_failure_keeps_the_first_and_counts_on)
{
	struct sp_retry r = sched_policy_retry(&lim, 2, NOW - 1200, 0, NOW - 1300, NOW);

	cr_assert_eq(r.verdict, SP_DEFER);
	cr_assert_eq(r.attempts, 3);
	cr_assert_eq(r.first, NOW - 1200);
}

Test(sched_policy, the_last_counted_round_gives_up)
{
	cr_assert_eq(sched_policy_retry(&lim, 3, NOW - 9, 0, NOW - 9, NOW).verdict, SP_DEFER);
	cr_assert_eq(sched_policy_retry(&lim, 4, NOW - 9, 0, NOW - 9, NOW).verdict, SP_GIVE_UP);
}

/* a round that reached no verdict (DNS, a dead next hop) is not counted:
 * it never uses up the attempts */
Test(sched_policy, an_uncounted_round_never_gives_up)
{
	struct sp_retry r = sched_policy_retry(&lim, 4, NOW - 9, 1, NOW - 9, NOW);

	cr_assert_eq(r.verdict, SP_DEFER);
	cr_assert_eq(r.attempts, 4);
}

Test(sched_policy, a_message_queued_too_long_expires)
{
	cr_assert_eq(sched_policy_retry(&lim, 1, NOW - 5, 0, NOW - 86399, NOW).verdict,
	             SP_DEFER);
	cr_assert_eq(sched_policy_retry(&lim, 1, NOW - 5, 0, NOW - 86400, NOW).verdict,
	             SP_EXPIRED);
	/* uncounted rounds expire too: the queue time limits every recipient */
	cr_assert_eq(sched_policy_retry(&lim, 0, 0, 1, NOW - 90000, NOW).verdict,
	             SP_EXPIRED);
	/* arrival not known: only the attempts limit it */
	cr_assert_eq(sched_policy_retry(&lim, 1, NOW - 5, 0, 0, NOW).verdict, SP_DEFER);
	/* the attempts are checked first */
	cr_assert_eq(sched_policy_retry(&lim, 4, NOW - 5, 0, NOW - 90000, NOW).verdict,
	             SP_GIVE_UP);
}

Test(sched_policy, failures_are_reported_once_no_sibling_runs)
{
	cr_assert(sched_policy_report_now(1, 0));
	cr_assert(!sched_policy_report_now(1, 1), "a sibling's failure joins the report");
	cr_assert(!sched_policy_report_now(0, 0), "nothing to report");
}

Test(sched_policy, a_message_without_jobs_is_done_follows_to_bad_or_stays)
{
	cr_assert_eq(sched_policy_release(0, 0), SP_RELEASE_UNLINK);
	cr_assert_eq(sched_policy_release(1, 0), SP_RELEASE_BAD);
	cr_assert_eq(sched_policy_release(0, SP_NAMED_BAD), SP_RELEASE_BAD);
	cr_assert_eq(sched_policy_release(0, SP_NAMED_UNKNOWN), SP_RELEASE_KEEP);
	/* held wins over not knowing: it is known to be in bad/ */
	cr_assert_eq(sched_policy_release(1, SP_NAMED_UNKNOWN), SP_RELEASE_BAD);
}

Test(sched_policy, a_job_over_a_limit_parks_and_a_dead_hop_defers)
{
	/* dead, full, forced */
	cr_assert_eq(sched_policy_admit(0, 0, 0), SP_GO);
	cr_assert_eq(sched_policy_admit(0, 1, 0), SP_PARK);
	cr_assert_eq(sched_policy_admit(0, 1, 1), SP_PARK);
	cr_assert_eq(sched_policy_admit(1, 1, 0), SP_DEAD_DEFER);
	/* an operator's rename (forced): tried despite the dead hop, within
	 * the limits checked again without the dead mark */
	cr_assert_eq(sched_policy_admit(1, 1, 1), SP_IGNORE_DEAD);
}

Test(sched_policy, a_dead_hop_is_remembered_no_longer_than_retry)
{
	struct sp_limits l = lim;

	cr_assert_eq(sched_policy_dead_time(&l), 60);
	l.retry = 30;
	cr_assert_eq(sched_policy_dead_time(&l), 30);
	l.dead_hop_time = 0;
	cr_assert_eq(sched_policy_dead_time(&l), 0);
}

/* grouping: a sibling rides along in its message's delivery only when it
 * waits, is due, goes the same way, and there is room */
Test(sched_policy, a_sibling_joins_a_delivery_when_due_on_its_route_with_room)
{
	struct sp_sibling k = { 1, 100, 0, 0, 1 };
	struct sp_sibling f;

	cr_assert(sched_policy_joins(&k, 100, 1, 1000));
	cr_assert_not(sched_policy_joins(&k, 100, 1, 1), "a transport of one at a time");
	cr_assert_not(sched_policy_joins(&k, 100, 1000, 1000), "full");
	cr_assert_not(sched_policy_joins(&k, 99, 1, 1000), "not due yet");
	f = k; f.waiting = 0;
	cr_assert_not(sched_policy_joins(&f, 100, 1, 1000), "running, parked or failed");
	f = k; f.same_route = 0;
	cr_assert_not(sched_policy_joins(&f, 100, 1, 1000), "another hop");
	f = k; f.missing = 1;
	cr_assert_not(sched_policy_joins(&f, 100, 1, 1000), "its file vanished");
	f = k; f.gone = 1;
	cr_assert_not(sched_policy_joins(&f, 100, 1, 1000), "removed");
	f = k; f.due = 0;
	cr_assert_not(sched_policy_joins(&f, 100, 1, 1000), "returned: bounced, not delivered");
	f = k; f.due = 9999999999LL;
	cr_assert_not(sched_policy_joins(&f, 100, 1, 1000), "held");
}
