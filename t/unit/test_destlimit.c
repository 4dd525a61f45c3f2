/* test_destlimit - the per-destination limit (--max-per-dest): exactly
 * `limit` slots per domain, no more and no fewer, domains apart and
 * compared without case, a released slot taken again; and under threads
 * racing for one domain, never more than the limit at once. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>

#include "destlimit.h"

/* take - acquire n slots for domain, each must succeed */
static void take(struct destlimit *t, const char *domain, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++)
		cr_assert_eq(destlimit_acquire(t, domain), 0, "slot %u of %s", i + 1, domain);
}

Test(destlimit, exactly_the_limit)
{
	unsigned limit;

	for (limit = 1; limit <= 5; limit++) {
		struct destlimit *t = destlimit_new(limit);

		cr_assert_not_null(t);
		take(t, "slow.example", limit);
		cr_assert_eq(destlimit_active(t, "slow.example"), limit);
		cr_assert_eq(destlimit_acquire(t, "slow.example"), -1,
		             "limit %u: one more is refused", limit);
		cr_assert_eq(destlimit_active(t, "slow.example"), limit,
		             "a refused acquire takes nothing");
		while (destlimit_active(t, "slow.example") > 0)
			destlimit_release(t, "slow.example");
		destlimit_free(t);
	}
}

Test(destlimit, release_frees_one_slot)
{
	struct destlimit *t = destlimit_new(2);

	take(t, "a.example", 2);
	destlimit_release(t, "a.example");
	cr_assert_eq(destlimit_active(t, "a.example"), 1);
	cr_assert_eq(destlimit_acquire(t, "a.example"), 0, "the freed slot is taken again");
	cr_assert_eq(destlimit_acquire(t, "a.example"), -1, "and only that one");
	destlimit_release(t, "a.example");
	destlimit_release(t, "a.example");
	cr_assert_eq(destlimit_active(t, "a.example"), 0);
	take(t, "a.example", 2);            /* all back, after the entry went */
	cr_assert_eq(destlimit_acquire(t, "a.example"), -1);
	destlimit_release(t, "a.example");
	destlimit_release(t, "a.example");
	destlimit_release(t, "a.example");  /* one too many: no underflow */
	cr_assert_eq(destlimit_active(t, "a.example"), 0);
	take(t, "a.example", 2);
	cr_assert_eq(destlimit_acquire(t, "a.example"), -1);
	destlimit_release(t, "a.example");
	destlimit_release(t, "a.example");
	destlimit_free(t);
}

Test(destlimit, domains_apart_and_without_case)
{
	struct destlimit *t = destlimit_new(2);

	take(t, "slow.example", 2);
	cr_assert_eq(destlimit_acquire(t, "SLOW.Example"), -1, "the same domain in capitals");
	cr_assert_eq(destlimit_active(t, "Slow.EXAMPLE"), 2);
	take(t, "fast.example", 2);        /* another domain has its own slots */
	cr_assert_eq(destlimit_acquire(t, "fast.example"), -1);
	cr_assert_eq(destlimit_active(t, "other.example"), 0);
	destlimit_release(t, "SLOW.EXAMPLE");
	cr_assert_eq(destlimit_active(t, "slow.example"), 1);
	cr_assert_eq(destlimit_active(t, "fast.example"), 2);
	destlimit_release(t, "slow.example");
	destlimit_release(t, "fast.example");
	destlimit_release(t, "fast.example");
	destlimit_free(t);
}

/* Threads race for one domain: each, many times, takes a slot when it can,
 * counts itself in, checks the count against the limit, counts itself out
 * and releases. */
#define RACE_LIMIT   3
#define RACE_THREADS 8
#define RACE_ROUNDS  20000

struct race {
	struct destlimit *t;
	atomic_uint inside, most, got;
};

static void *racer(void *arg)
{
	struct race *r = arg;
	int i;

	for (i = 0; i < RACE_ROUNDS; i++) {
		unsigned now, most;

		if (destlimit_acquire(r->t, "race.example") < 0)
			continue;
		now = atomic_fetch_add(&r->inside, 1) + 1;
		most = atomic_load(&r->most);
		while (now > most && !atomic_compare_exchange_weak(&r->most, &most, now))
			;
		atomic_fetch_add(&r->got, 1);
		atomic_fetch_sub(&r->inside, 1);
		destlimit_release(r->t, "race.example");
	}
	return NULL;
}

Test(destlimit, never_more_than_the_limit_under_threads)
{
	struct race r = { .t = destlimit_new(RACE_LIMIT) };
	pthread_t th[RACE_THREADS];
	int i;

	cr_assert_not_null(r.t);
	for (i = 0; i < RACE_THREADS; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, racer, &r), 0);
	for (i = 0; i < RACE_THREADS; i++)
		pthread_join(th[i], NULL);
	cr_assert_leq(atomic_load(&r.most), RACE_LIMIT, "at most %d at once, saw %u",
	              RACE_LIMIT, atomic_load(&r.most));
	cr_assert_gt(atomic_load(&r.got), 0u);
	cr_assert_eq(destlimit_active(r.t, "race.example"), 0, "every slot given back");
	take(r.t, "race.example", RACE_LIMIT);
	cr_assert_eq(destlimit_acquire(r.t, "race.example"), -1);
	for (i = 0; i < RACE_LIMIT; i++)
		destlimit_release(r.t, "race.example");
	destlimit_free(r.t);
}

Test(destlimit, own_limit_for_a_mailbox)
{
	struct destlimit *t = destlimit_new(20);

	cr_assert_not_null(t);
	cr_assert_eq(destlimit_acquire_upto(t, "local:bob", 2), 0);
	cr_assert_eq(destlimit_acquire_upto(t, "local:bob", 2), 0);
	cr_assert_eq(destlimit_acquire_upto(t, "local:bob", 2), -1);
	cr_assert_eq(destlimit_acquire_upto(t, "local:carol", 2), 0,
	             "one mailbox's slots are its own");
	cr_assert_eq(destlimit_acquire(t, "bob"), 0, "a domain is another key");
	cr_assert_eq(destlimit_active(t, "local:bob"), 2);
	destlimit_release(t, "local:bob");
	cr_assert_eq(destlimit_acquire_upto(t, "local:bob", 2), 0);
	cr_assert_eq(destlimit_acquire_upto(t, "local:bob", 1), -1,
	             "a smaller limit holds against slots already taken");
	destlimit_release(t, "local:bob");
	destlimit_release(t, "local:bob");
	destlimit_release(t, "local:carol");
	destlimit_release(t, "bob");
	cr_assert_eq(destlimit_active(t, "local:bob"), 0);
	destlimit_free(t);
}
