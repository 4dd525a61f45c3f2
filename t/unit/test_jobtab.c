/* test_jobtab.c - the scheduler's tables and due-time heap */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>

#include "jobtab.h"

/* pop_all - start every waiting job in due order, recording the dues */
static size_t pop_all(struct jobtab *t, long long *dues, size_t max)
{
	struct jt_job *j;
	size_t n = 0;

	while ((j = jobtab_next(t)) != NULL && n < max) {
		dues[n++] = j->due;
		jobtab_start(t, j);
	}
	return n;
}

Test(jobtab, heap_gives_jobs_in_due_order)
{
	struct jobtab *t = jobtab_new();
	long long dues[2000];
	size_t i, n;

	srand(7);
	for (i = 0; i < 2000; i++) {
		char id[16];
		snprintf(id, sizeof id, "M%zu", i % 300);
		cr_assert_not_null(jobtab_add(t, jobtab_add_msg(t, id), (unsigned)(i / 300),
		                              rand() % 100000));
	}
	cr_assert_eq(jobtab_jobs(t), 2000);
	cr_assert_eq(jobtab_messages(t), 300);
	n = pop_all(t, dues, 2000);
	cr_assert_eq(n, 2000);
	for (i = 1; i < n; i++)
		cr_assert_leq(dues[i - 1], dues[i], "out of order at %zu", i);
	cr_assert_eq(jobtab_waiting(t), 0);
	jobtab_free(t);
}

Test(jobtab, jobs_due_together_leave_oldest_first)
{
	struct jobtab *t = jobtab_new();
	struct jt_job *jobs[500], *j;
	size_t i;

	for (i = 0; i < 500; i++) {
		char id[16];
		snprintf(id, sizeof id, "M%zu", i);
		jobs[i] = jobtab_add(t, jobtab_add_msg(t, id), 0, 100);
		cr_assert_not_null(jobs[i]);
	}
	/* the first ten leave and come back (a waiting line let them go):
	 * still ahead of the 490 made after them */
	for (i = 0; i < 10; i++)
		jobtab_start(t, jobtab_next(t));
	for (i = 0; i < 10; i++)
		jobtab_stop(t, jobs[9 - i], 100);
	for (i = 0; i < 500; i++) {
		cr_assert_eq(j = jobtab_next(t), jobs[i], "job %zu out of turn", i);
		jobtab_start(t, j);
	}
	jobtab_free(t);
}

Test(jobtab, duplicate_job_is_refused)
{
	struct jobtab *t = jobtab_new();
	struct jt_msg *m = jobtab_add_msg(t, "ABC");

	cr_assert_not_null(jobtab_add(t, m, 0, 10));
	cr_assert_null(jobtab_add(t, m, 0, 20));
	cr_assert_eq(jobtab_add_msg(t, "ABC"), m);
	cr_assert_eq(m->pending, 1);
	jobtab_free(t);
}

Test(jobtab, set_due_moves_a_job_both_ways)
{
	struct jobtab *t = jobtab_new();
	struct jt_msg *m = jobtab_add_msg(t, "X");
	struct jt_job *a = jobtab_add(t, m, 0, 100);
	struct jt_job *b = jobtab_add(t, m, 1, 200);
	struct jt_job *c = jobtab_add(t, m, 2, 300);

	cr_assert_eq(jobtab_next(t), a);
	cr_assert_eq(c->forced, 0, "a new job is not forced");
	jobtab_set_due(t, c, 50);
	cr_assert_eq(jobtab_next(t), c);
	cr_assert_eq(c->forced, 1, "a due time from outside forces the job");
	cr_assert_eq(b->forced, 0);
	jobtab_set_due(t, c, 500);
	cr_assert_eq(jobtab_next(t), a);
	jobtab_set_due(t, a, 250);
	cr_assert_eq(jobtab_next(t), b);
	jobtab_free(t);
}

Test(jobtab, running_jobs_leave_the_heap_and_come_back)
{
	struct jobtab *t = jobtab_new();
	struct jt_msg *m = jobtab_add_msg(t, "X");
	struct jt_job *a = jobtab_add(t, m, 0, 1);
	struct jt_job *b = jobtab_add(t, m, 1, 2);

	jobtab_start(t, a);
	cr_assert_eq(a->state, JT_RUNNING);
	cr_assert_eq(jobtab_next(t), b);
	cr_assert_eq(jobtab_waiting(t), 1);
	jobtab_stop(t, a, 3);
	cr_assert_eq(a->state, JT_WAITING);
	cr_assert_eq(jobtab_waiting(t), 2);
	cr_assert_eq(jobtab_next(t), b);
	jobtab_start(t, b);
	cr_assert_eq(jobtab_next(t), a);
	cr_assert_eq(a->due, 3);
	jobtab_free(t);
}

/* Parked (in a line for a slot) or failed (waiting for its report), a
 * job is out of the heap as much as a running one: a new due time from
 * outside is only recorded, and it is removed without touching the heap. */
Test(jobtab, a_job_out_of_the_heap_in_any_state_stays_out)
{
	static const enum jt_state out[] = { JT_RUNNING, JT_PARKED, JT_FAILED };
	size_t i;

	for (i = 0; i < sizeof out / sizeof out[0]; i++) {
		struct jobtab *t = jobtab_new();
		struct jt_msg *m = jobtab_add_msg(t, "OUT");
		struct jt_job *a = jobtab_add(t, m, 0, 5);
		struct jt_job *b = jobtab_add(t, m, 1, 9);

		cr_assert_eq(a->state, JT_WAITING, "a new job waits");
		jobtab_start(t, a);
		a->state = out[i];
		jobtab_set_due(t, a, 1);
		cr_assert_eq(a->due, 1);
		cr_assert_eq(jobtab_waiting(t), 1, "state %d: still out of the heap", out[i]);
		cr_assert_eq(jobtab_next(t), b);
		cr_assert_eq(jobtab_remove(t, a), 1);
		cr_assert_eq(jobtab_next(t), b, "the heap untouched");
		jobtab_free(t);
	}
}

Test(jobtab, message_goes_with_its_last_job)
{
	struct jobtab *t = jobtab_new();
	struct jt_msg *m = jobtab_add_msg(t, "GONE");
	struct jt_job *a = jobtab_add(t, m, 0, 1);
	struct jt_job *b = jobtab_add(t, m, 1, 1);

	jobtab_start(t, a);                 /* removing a running job works too */
	cr_assert_eq(jobtab_remove(t, a), 1);
	cr_assert_not_null(jobtab_msg(t, "GONE"));
	cr_assert_eq(jobtab_remove(t, b), 0);
	cr_assert_null(jobtab_msg(t, "GONE"));
	cr_assert_eq(jobtab_messages(t), 0);
	cr_assert_eq(jobtab_jobs(t), 0);
	cr_assert_null(jobtab_next(t));
	jobtab_free(t);
}

Test(jobtab, removal_from_the_middle_keeps_order)
{
	struct jobtab *t = jobtab_new();
	struct jt_job *jobs[500];
	long long dues[500];
	size_t i, n;

	srand(11);
	for (i = 0; i < 500; i++) {
		char id[16];
		snprintf(id, sizeof id, "R%zu", i);
		jobs[i] = jobtab_add(t, jobtab_add_msg(t, id), 0, rand() % 1000);
	}
	for (i = 0; i < 500; i += 3)
		jobtab_remove(t, jobs[i]);
	n = pop_all(t, dues, 500);
	cr_assert_eq(n, 500 - 167);
	for (i = 1; i < n; i++)
		cr_assert_leq(dues[i - 1], dues[i]);
	jobtab_free(t);
}

Test(jobtab, many_messages_grow_the_hash)
{
	struct jobtab *t = jobtab_new();
	char id[16];
	size_t i;

	for (i = 0; i < 20000; i++) {
		snprintf(id, sizeof id, "H%zu", i);
		cr_assert_not_null(jobtab_add(t, jobtab_add_msg(t, id), 0, (long long)i));
	}
	for (i = 0; i < 20000; i += 997) {
		snprintf(id, sizeof id, "H%zu", i);
		cr_assert_not_null(jobtab_msg(t, id));
		cr_assert_eq(jobtab_job(jobtab_msg(t, id), 0)->due, (long long)i);
	}
	cr_assert_null(jobtab_msg(t, "nope"));
	jobtab_free(t);
}
