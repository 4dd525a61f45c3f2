/* test_destlimit.c - per-destination slots: the table's limit for
 * domains, a limit of the caller's for local mailboxes, keys apart and
 * compared without case, slots given back. */
#include <criterion/criterion.h>

#include "destlimit.h"

Test(destlimit, table_limit_per_domain)
{
	struct destlimit *t = destlimit_new(2);

	cr_assert_not_null(t);
	cr_assert_eq(destlimit_acquire(t, "example.org"), 0);
	cr_assert_eq(destlimit_acquire(t, "EXAMPLE.org"), 0);
	cr_assert_eq(destlimit_acquire(t, "example.org"), -1);
	cr_assert_eq(destlimit_acquire(t, "example.net"), 0, "another domain");
	destlimit_release(t, "example.org");
	cr_assert_eq(destlimit_active(t, "example.org"), 1);
	cr_assert_eq(destlimit_acquire(t, "example.org"), 0);
	destlimit_release(t, "example.org");
	destlimit_release(t, "example.org");
	destlimit_release(t, "example.net");
	cr_assert_eq(destlimit_active(t, "example.org"), 0);
	destlimit_free(t);
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
