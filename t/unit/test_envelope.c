/* test_envelope.c - the envelope's text form */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envelope.h"

/* sample - an envelope with two recipients */
static void sample(struct envelope *env)
{
	envelope_init(env);
	strcpy(env->id, "ABC123");
	env->arrival = 1795422268;
	strcpy(env->client, "127.0.0.1");
	strcpy(env->helo, "client.example");
	mailbox_from_text(&env->sender, "a@example.org", 13);
}

Test(envelope, format_and_parse_round_trip)
{
	struct envelope env, back;
	struct mailbox r;
	char *text;
	size_t len, used;

	sample(&env);
	mailbox_from_text(&r, "\"x@y\"@test.example", 18);
	cr_assert_eq(envelope_add_rcpt(&env, &r), 1);
	mailbox_from_text(&r, "b@[127.0.0.1]", 13);
	cr_assert_eq(envelope_add_rcpt(&env, &r), 1);
	cr_assert_eq(envelope_format(&env, &text, &len), 0);
	cr_assert_str_eq(text, "mta-envelope 4\nseal 0000000000000000 00000000\n"
	                 "id ABC123\narrival 1795422268\n"
	                 "client 127.0.0.1\nhelo client.example\nsender a@example.org\n"
	                 "rcpt \"x@y\"@test.example\nrcpt b@[127.0.0.1]\n\n");
	cr_assert_eq(envelope_parse(text, len, &back, &used), 0);
	cr_assert_eq(used, len);
	cr_assert_eq(back.nrcpt, 2);
	cr_assert_str_eq(back.rcpt[0].text, "\"x@y\"@test.example");
	cr_assert_eq(back.rcpt[0].at, 5);            /* the last '@' splits */
	cr_assert(back.rcpt[1].literal);
	cr_assert_eq(back.arrival, 1795422268);
	free(text);
	envelope_free(&env);
	envelope_free(&back);
}

Test(envelope, duplicates_are_stored_once)
{
	struct envelope env;
	struct mailbox r;

	sample(&env);
	mailbox_from_text(&r, "bob@Test.Example", 16);
	cr_assert_eq(envelope_add_rcpt(&env, &r), 1);
	mailbox_from_text(&r, "bob@test.example", 16);
	cr_assert_eq(envelope_add_rcpt(&env, &r), 0);
	mailbox_from_text(&r, "Bob@test.example", 16);
	cr_assert_eq(envelope_add_rcpt(&env, &r), 1);   /* local part is exact */
	cr_assert_eq(env.nrcpt, 2);
	envelope_free(&env);
}

/* a RCPT answered 452 after its recipients were added takes them back:
 * gone from the envelope, their DSN parameters with them, and the same
 * address may be added again (the client's retry) */
Test(envelope, truncate_takes_back_recipients)
{
	struct envelope env;
	struct mailbox r;

	sample(&env);
	mailbox_from_text(&r, "bob@test.example", 16);
	cr_assert_eq(envelope_add_rcpt(&env, &r), 1);
	mailbox_from_text(&r, "eve@test.example", 16);
	cr_assert_eq(envelope_add_rcpt(&env, &r), 1);
	cr_assert_eq(envelope_set_dsn(&env, 1, 3, "rfc822;eve@test.example"), 0);
	envelope_truncate(&env, 1);
	cr_assert_eq(env.nrcpt, 1);
	cr_assert_str_eq(env.rcpt[0].text, "bob@test.example");
	cr_assert_eq(envelope_add_rcpt(&env, &r), 1, "eve may come again");
	cr_assert_eq(env.nrcpt, 2);
	cr_assert_null(env.dsn[1].orcpt, "no DSN parameter left over from before");
	cr_assert_eq(env.dsn[1].notify, 0u);
	envelope_truncate(&env, 5);
	cr_assert_eq(env.nrcpt, 2, "truncating past the end changes nothing");
	envelope_free(&env);
}

Test(envelope, null_sender)
{
	struct envelope back;
	size_t used;
	const char text[] = "mta-envelope 1\nid A\narrival 1\nclient local\nhelo x\n"
	                    "sender \nrcpt p@q\n\nbody";

	cr_assert_eq(envelope_parse(text, sizeof text - 1, &back, &used), 0);
	cr_assert_str_eq(back.sender.text, "");
	cr_assert_str_eq(text + used, "body");
	envelope_free(&back);
}

Test(envelope, damaged_text_is_refused)
{
	static const char bad[][160] = {
		"",
		"mta-envelope 1\nid A\narrival 1\nclient c\nhelo h\nsender s\nrcpt r\n",
		"mta-envelope 4\nid A\narrival 1\nclient c\nhelo h\nsender s\nrcpt r\n\n",
		"mta-envelope 1\nid A\narrival x\nclient c\nhelo h\nsender s\nrcpt r\n\n",
		"mta-envelope 1\nid A\narrival 1\nclient c\nhelo h\nsender s\n\n",
		"mta-envelope 1\narrival 1\nid A\nclient c\nhelo h\nsender s\nrcpt r\n\n",
		"mta-envelope 1\nid A\narrival 1\nclient c\nhelo h\nsender s\nrcpt \n\n",
		"mta-envelope 1\nid A\narrival 1\nclient c\nhelo h\nsender s\nrcpt r\nbogus 1\n\n",
		"mta-envelope 1\nid A\narrival 1\nclient c\nhelo h\r\nsender s\nrcpt r\n\n",
	};
	struct envelope env;
	size_t i, used;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		cr_assert_eq(envelope_parse(bad[i], strlen(bad[i]), &env, &used), -1,
		             "accepted case %zu", i);
		/* EINVAL alone means a damaged file (quarantined); ENOMEM is
		 * kept apart as temporary */
		cr_assert_eq(errno, EINVAL, "case %zu: errno %d", i, errno);
	}
}

Test(envelope, read_from_a_file)
{
	char path[] = "/tmp/test_envelope.XXXXXX";
	const char text[] = "mta-envelope 1\nid A\narrival 1\nclient c\nhelo h\n"
	                    "sender s@t\nrcpt r@t\n\nHello\n";
	struct envelope env;
	long long off;
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
	cr_assert_eq(envelope_read(fd, &env, &off), 0);
	cr_assert_eq(off, (long long)(sizeof text - 1 - 6));
	envelope_free(&env);
	cr_assert_eq(ftruncate(fd, 30), 0);               /* truncated envelope */
	cr_assert_eq(envelope_read(fd, &env, &off), -1);
	close(fd);
	unlink(path);
}

Test(envelope, body_type_round_trip)
{
	struct envelope env, back;
	struct mailbox r;
	char *text;
	size_t len, used;

	sample(&env);
	env.body_8bit = 1;
	mailbox_from_text(&r, "b@test.example", 14);
	cr_assert_eq(envelope_add_rcpt(&env, &r), 1);
	cr_assert_eq(envelope_format(&env, &text, &len), 0);
	cr_assert(strstr(text, "sender a@example.org\nbody 8BITMIME\nrcpt b@test.example\n"),
	          "%s", text);
	cr_assert_eq(envelope_parse(text, len, &back, &used), 0);
	cr_assert_eq(back.body_8bit, 1);
	envelope_free(&back);
	free(text);
	env.body_8bit = 0;
	cr_assert_eq(envelope_format(&env, &text, &len), 0);
	cr_assert_null(strstr(text, "body"), "undeclared: no line");
	cr_assert_eq(envelope_parse(text, len, &back, &used), 0);
	cr_assert_eq(back.body_8bit, 0);
	envelope_free(&back);
	free(text);
	envelope_free(&env);
}

Test(envelope, body_type_misplaced_or_unknown_is_refused)
{
	static const char *bad[] = {
		"mta-envelope 1\nid A\narrival 1\nclient x\nhelo h\nsender a@b\nbody 7BIT\nrcpt c@d\n\n",
		"mta-envelope 1\nid A\narrival 1\nclient x\nhelo h\nsender a@b\nrcpt c@d\nbody 8BITMIME\n\n",
		"mta-envelope 1\nid A\narrival 1\nclient x\nhelo h\nsender a@b\nbody 8BITMIME\nbody 8BITMIME\nrcpt c@d\n\n",
	};
	struct envelope env;
	size_t used, i;

	for (i = 0; i < 3; i++)
		cr_assert_eq(envelope_parse(bad[i], strlen(bad[i]), &env, &used), -1, "%s", bad[i]);
}

Test(envelope, orcpt_round_trip_and_old_files)
{
	struct envelope env, back;
	struct mailbox r;
	char *text;
	size_t len, used;
	static const char *bad[] = {
		/* before any rcpt, twice for one, empty */
		"mta-envelope 1\nid A\narrival 1\nclient x\nhelo h\nsender a@b\norcpt c@d\nrcpt c@d\n\n",
		"mta-envelope 1\nid A\narrival 1\nclient x\nhelo h\nsender a@b\nrcpt c@d\norcpt e@d\norcpt f@d\n\n",
		"mta-envelope 1\nid A\narrival 1\nclient x\nhelo h\nsender a@b\nrcpt c@d\norcpt \n\n",
	};
	size_t i;

	sample(&env);
	mailbox_from_text(&r, "root@test.example", 17);
	cr_assert_eq(envelope_add_final(&env, &r, "postmaster@TEST.example"), 1);
	/* the same final recipient again, from another address: one copy */
	cr_assert_eq(envelope_add_final(&env, &r, "abuse@test.example"), 0);
	mailbox_from_text(&r, "bob@test.example", 16);
	cr_assert_eq(envelope_add_final(&env, &r, "bob@test.example"), 1);
	cr_assert_eq(env.nrcpt, 2);
	cr_assert_str_eq(envelope_orcpt(&env, 0), "postmaster@TEST.example");
	cr_assert_str_eq(envelope_orcpt(&env, 1), "bob@test.example");
	cr_assert_eq(envelope_format(&env, &text, &len), 0);
	cr_assert(strstr(text, "rcpt root@test.example\norcpt postmaster@TEST.example\n"
	                 "rcpt bob@test.example\n\n"), "%s", text);
	/* always version 4, sealed (older readers refuse it as a whole
	 * instead of misreading it) */
	cr_assert(strncmp(text, "mta-envelope 4\nseal ", 20) == 0, "%s", text);
	cr_assert_eq(envelope_parse(text, len, &back, &used), 0);
	cr_assert_eq(back.nrcpt, 2);
	cr_assert_str_eq(back.rcpt[0].text, "root@test.example");
	cr_assert_str_eq(envelope_orcpt(&back, 0), "postmaster@TEST.example");
	cr_assert_str_eq(envelope_orcpt(&back, 1), "bob@test.example");
	envelope_free(&back);
	free(text);
	envelope_free(&env);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(envelope_parse(bad[i], strlen(bad[i]), &back, &used), -1,
		             "case %zu", i);
}

Test(envelope, version_4_sealed_older_read_5_unknown)
{
	struct envelope env, back;
	struct mailbox r;
	char *text;
	size_t len, used;
	static const char v1_orcpt[] = "mta-envelope 1\nid A\narrival 1\nclient x\n"
	                               "helo h\nsender a@b\nrcpt c@d\norcpt C@d\n\n";
	static const char v5[] = "mta-envelope 5\nid A\narrival 1\nclient x\n"
	                         "helo h\nsender a@b\nrcpt c@d\n\n";

	sample(&env);
	mailbox_from_text(&r, "bob@test.example", 16);
	cr_assert_eq(envelope_add_final(&env, &r, "bob@test.example"), 1);
	cr_assert_eq(envelope_format(&env, &text, &len), 0);
	cr_assert(strncmp(text, "mta-envelope 4\nseal 0000000000000000 00000000\nid ", 49) == 0,
	          "%s", text);
	cr_assert_eq(envelope_parse(text, len, &back, &used), 0);
	cr_assert(back.sealed);
	cr_assert_eq(back.seal_size, 0);     /* the reservation, never met */
	envelope_free(&back);
	free(text);
	envelope_free(&env);
	/* written before version 2: still read */
	cr_assert_eq(envelope_parse(v1_orcpt, sizeof v1_orcpt - 1, &back, &used), 0);
	cr_assert_str_eq(envelope_orcpt(&back, 0), "C@d");
	envelope_free(&back);
	cr_assert_not(back.sealed);
	envelope_free(&back);
	cr_assert_eq(envelope_parse(v5, sizeof v5 - 1, &back, &used), -1);
}

Test(envelope, dsn_parameters_round_trip)
{
	struct envelope env, back;
	struct mailbox r;
	char *text;
	size_t len, used;
	static const char want[] = "mta-envelope 4\nseal 0000000000000000 00000000\nid A\narrival 1\nclient x\n"
		"helo h\nsender a@b\nret HDRS\nenvid q+2Bz\nrcpt c@d\norcpt C@d\n"
		"dsn-orcpt rfc822;C@d\nnotify SUCCESS,FAILURE\nrcpt e@f\n"
		"notify NEVER\nrcpt g@h\n\n";

	envelope_init(&env);
	snprintf(env.id, sizeof env.id, "A");
	env.arrival = 1;
	snprintf(env.client, sizeof env.client, "x");
	snprintf(env.helo, sizeof env.helo, "h");
	mailbox_from_text(&env.sender, "a@b", 3);
	env.ret = DSN_RET_HDRS;
	snprintf(env.envid, sizeof env.envid, "q+2Bz");
	mailbox_from_text(&r, "c@d", 3);
	cr_assert_eq(envelope_add_final(&env, &r, "C@d"), 1);
	cr_assert_eq(envelope_set_dsn(&env, 0, DSN_FAILURE | DSN_SUCCESS, "rfc822;C@d"), 0);
	mailbox_from_text(&r, "e@f", 3);
	cr_assert_eq(envelope_add_rcpt(&env, &r), 1);
	cr_assert_eq(envelope_set_dsn(&env, 1, DSN_NEVER, NULL), 0);
	mailbox_from_text(&r, "g@h", 3);
	cr_assert_eq(envelope_add_rcpt(&env, &r), 1);
	cr_assert_eq(envelope_format(&env, &text, &len), 0);
	cr_assert_str_eq(text, want);
	cr_assert_eq(envelope_parse(text, len, &back, &used), 0);
	cr_assert_eq(used, len);
	cr_assert_eq(back.ret, DSN_RET_HDRS);
	cr_assert_str_eq(back.envid, "q+2Bz");
	cr_assert_eq(back.dsn[0].notify, DSN_FAILURE | DSN_SUCCESS);
	cr_assert_str_eq(back.dsn[0].orcpt, "rfc822;C@d");
	cr_assert_eq(back.dsn[1].notify, DSN_NEVER);
	cr_assert_null(back.dsn[1].orcpt);
	cr_assert_eq(back.dsn[2].notify, 0);
	envelope_free(&back);
	free(text);
	envelope_free(&env);
}

Test(envelope, dsn_lines_only_as_written)
{
	static const char *const bad[] = {
		/* out of order, twice, lower case, not xtext, NEVER with more */
		"ret HDRS\nbody 8BITMIME\nrcpt c@d\n",
		"envid x\nret FULL\nrcpt c@d\n",
		"ret HDRS\nret HDRS\nrcpt c@d\n",
		"ret hdrs\nrcpt c@d\n",
		"envid a+zz\nrcpt c@d\n",
		"envid \nrcpt c@d\n",
		"rcpt c@d\nnotify FAILURE,SUCCESS\n",
		"rcpt c@d\nnotify failure\n",
		"rcpt c@d\nnotify NEVER,DELAY\n",
		"rcpt c@d\nnotify DELAY\norcpt x@y\n",
		"rcpt c@d\nnotify DELAY\ndsn-orcpt rfc822;x\n",
		"rcpt c@d\ndsn-orcpt rfc822\n",
		"rcpt c@d\ndsn-orcpt ;x\n",
		"rcpt c@d\ndsn-orcpt rfc822;a b\n",
		"notify DELAY\nrcpt c@d\n",
	};
	struct envelope env;
	char text[512];
	size_t i, used;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snprintf(text, sizeof text, "mta-envelope 3\nid A\narrival 1\nclient x\n"
		         "helo h\nsender a@b\n%s\n", bad[i]);
		cr_assert_eq(envelope_parse(text, strlen(text), &env, &used), -1,
		             "accepted %s", bad[i]);
	}
	/* version 1 and 2 files may hold them too (as orcpt in 1) */
	snprintf(text, sizeof text, "mta-envelope 1\nid A\narrival 1\nclient x\n"
	         "helo h\nsender a@b\nbody 8BITMIME\nret FULL\nenvid e\nrcpt c@d\n"
	         "orcpt C@d\ndsn-orcpt rfc822;C@d\nnotify DELAY\n\n");
	cr_assert_eq(envelope_parse(text, strlen(text), &env, &used), 0);
	cr_assert_eq(env.ret, DSN_RET_FULL);
	cr_assert_eq(env.dsn[0].notify, DSN_DELAY);
	envelope_free(&env);
}
