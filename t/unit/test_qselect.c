/* test_qselect.c - mta-queue's --from, --to, --domain */
#include <criterion/criterion.h>
#include <string.h>

#include "envelope.h"
#include "qselect.h"

Test(qselect, nothing_given_picks_all)
{
	struct qselect sel = { NULL, NULL, NULL };

	cr_assert(qselect_sender(&sel, "a@b.example"));
	cr_assert(qselect_sender(&sel, ""));
	cr_assert(qselect_rcpt(&sel, "x@y.example"));
	cr_assert(!qselect_by_rcpt(&sel));
}

Test(qselect, sender_without_case_with_brackets)
{
	struct qselect sel = { "<Spam@Example.COM>", NULL, NULL };

	cr_assert(qselect_sender(&sel, "spam@example.com"));
	cr_assert(!qselect_sender(&sel, "spam@example.co"));
	cr_assert(!qselect_sender(&sel, "xspam@example.com"));
	cr_assert(!qselect_sender(&sel, ""));
	cr_assert(qselect_rcpt(&sel, "anyone@anywhere"), "--from picks no recipient");
}

Test(qselect, null_sender_both_spellings)
{
	struct qselect a = { "", NULL, NULL }, b = { "<>", NULL, NULL };

	cr_assert(qselect_sender(&a, ""));
	cr_assert(qselect_sender(&b, ""));
	cr_assert(!qselect_sender(&b, "a@b"));
	cr_assert(!qselect_sender(&a, "a@b"));
}

Test(qselect, recipient_and_domain)
{
	struct qselect to = { NULL, "Bob@Example.net", NULL };
	struct qselect dom = { NULL, NULL, "EXAMPLE.net." };
	struct qselect both = { NULL, "bob@example.net", "example.org" };

	cr_assert(qselect_by_rcpt(&to) && qselect_by_rcpt(&dom));
	cr_assert(qselect_rcpt(&to, "bob@example.net"));
	cr_assert(!qselect_rcpt(&to, "bob@example.net.evil"));
	cr_assert(qselect_rcpt(&dom, "carol@example.net"));
	cr_assert(qselect_rcpt(&dom, "carol@example.net."));
	cr_assert(!qselect_rcpt(&dom, "carol@sub.example.net"), "a subdomain is another domain");
	cr_assert(!qselect_rcpt(&dom, "carol@xexample.net"));
	cr_assert(!qselect_rcpt(&dom, "example.net"), "no @: no domain");
	cr_assert(qselect_rcpt(&dom, "\"a@b\"@example.net"), "the last @ counts");
	cr_assert(!qselect_rcpt(&both, "bob@example.net"), "--to and --domain: both must match");
}

Test(qselect, empty_domain_picks_nothing)
{
	struct qselect dom = { NULL, NULL, "" };

	cr_assert(!qselect_rcpt(&dom, "a@"));
	cr_assert(!qselect_rcpt(&dom, "a@b"));
}

Test(qselect, picked_counts_recipients_of_picked_senders)
{
	struct envelope env;
	struct mailbox mb;
	struct qselect from = { "a@x.example", NULL, NULL };
	struct qselect dom = { NULL, NULL, "y.example" };
	struct qselect none = { "nobody@x.example", NULL, NULL };
	static const char *const rc[] = { "r1@y.example", "r2@z.example", "r3@Y.example" };
	size_t i;

	envelope_init(&env);
	cr_assert_eq(mailbox_from_text(&env.sender, "a@x.example", strlen("a@x.example")), 0);
	for (i = 0; i < 3; i++) {
		cr_assert_eq(mailbox_from_text(&mb, rc[i], strlen(rc[i])), 0);
		cr_assert_eq(envelope_add_rcpt(&env, &mb), 1);
	}
	cr_assert_eq(qselect_picked(&from, &env), 3);
	cr_assert_eq(qselect_picked(&dom, &env), 2);
	cr_assert_eq(qselect_picked(&none, &env), 0);
	envelope_free(&env);
}
