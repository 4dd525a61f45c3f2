/* sched_policy.c - the scheduler's decisions; see sched_policy.h */
#include "job.h"
#include "sched_policy.h"

/* sched_policy_outcome - a finished attempt's fate */
enum sp_outcome sched_policy_outcome(enum status_kind kind, enum sp_bad bad, int gone)
{
	if (gone)
		return SP_DROP;         /* removed by an operator meanwhile */
	if (bad == SP_MESSAGE_UNUSABLE)
		return SP_BAD_MESSAGE;
	if (bad == SP_JOB_UNUSABLE)
		return SP_BAD_JOB;
	if (kind == ST_OK)
		return SP_DONE;
	return kind == ST_TEMP ? SP_RETRY : SP_FAIL;
}

/* sched_policy_retry - defer, give up, or expire */
struct sp_retry sched_policy_retry(const struct sp_limits *l, unsigned attempts,
                                   long long first, int uncounted,
                                   long long arrival, long long now)
{
	struct sp_retry r = { SP_DEFER, attempts, first, now + l->retry };

	if (!uncounted)
		r.attempts++;
	if (r.first == 0)
		r.first = now;
	if (r.attempts >= l->attempts)
		r.verdict = SP_GIVE_UP;
	else if (arrival > 0 && now - arrival >= (long long)l->max_queue_time)
		r.verdict = SP_EXPIRED;  /* RFC 3463 4.4.7 */
	return r;
}

/* sched_policy_report_now - no sibling still under way */
int sched_policy_report_now(int failures, int siblings_running)
{
	return failures && !siblings_running;
}

/* sched_policy_release - unlink, follow a job to bad/, or keep */
enum sp_release sched_policy_release(int held, int named)
{
	if (held || (named & SP_NAMED_BAD))
		return SP_RELEASE_BAD;
	if (named & SP_NAMED_UNKNOWN)
		return SP_RELEASE_KEEP;  /* a job of it may be in bad/: no guess */
	return SP_RELEASE_UNLINK;
}

/* sched_policy_admit - go, park or defer */
enum sp_admit sched_policy_admit(int dead, int full, int forced)
{
	if (dead)
		return forced ? SP_IGNORE_DEAD : SP_DEAD_DEFER;  /* asked for: tried */
	return full ? SP_PARK : SP_GO;
}

/* sched_policy_dead_time - --dead-hop-time, at most --retry */
unsigned sched_policy_dead_time(const struct sp_limits *l)
{
	return l->dead_hop_time < l->retry ? l->dead_hop_time : l->retry;
}

/* sched_policy_joins - a sibling rides along when waiting, due, on the
 * same route, and the delivery has room */
int sched_policy_joins(const struct sp_sibling *k, long long now,
                       unsigned carried, unsigned group)
{
	return carried < group && k->waiting && k->same_route &&
	       !k->missing && !k->gone && k->due <= now &&
	       k->due != JOB_DUE_BOUNCE;
}
