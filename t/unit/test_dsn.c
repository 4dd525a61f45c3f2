/* test_dsn.c - xtext and the RFC 3461 parameters (dsn.h) */
#include <criterion/criterion.h>
#include <string.h>

#include "dsn.h"

Test(dsn, xtext_valid)
{
	cr_assert(dsn_xtext_valid("", 0));
	cr_assert(dsn_xtext_valid("abc", 3));
	cr_assert(dsn_xtext_valid("a+2Bb+3D", 8));
	cr_assert_not(dsn_xtext_valid("a b", 3));
	cr_assert_not(dsn_xtext_valid("a+b", 3));      /* '+' alone */
	cr_assert_not(dsn_xtext_valid("a=b", 3));      /* '=' must be encoded */
	cr_assert_not(dsn_xtext_valid("a+2", 3));      /* cut short */
	cr_assert_not(dsn_xtext_valid("a+2b", 4));     /* lower-case hex */
	cr_assert_not(dsn_xtext_valid("a\x7f", 2));
	cr_assert_not(dsn_xtext_valid("a\xc3\xa9", 3));
}

Test(dsn, xtext_decode_and_encode)
{
	char out[64];

	cr_assert_eq(dsn_xtext_decode("bob+2Btag@x+3Dy", 15, out, sizeof out), 11);
	cr_assert_str_eq(out, "bob+tag@x=y");
	/* control characters never reach a report */
	cr_assert_eq(dsn_xtext_decode("a+0Ab+0D", 8, out, sizeof out), 4);
	cr_assert_str_eq(out, "a?b?");
	cr_assert_eq(dsn_xtext_decode("a+zz", 4, out, sizeof out), -1);
	cr_assert_eq(dsn_xtext_decode("abcdef", 6, out, 4), -1);
	cr_assert_eq(dsn_xtext_encode("bob+tag@x=y z", out, sizeof out), 19);
	cr_assert_str_eq(out, "bob+2Btag@x+3Dy+20z");
	cr_assert_eq(dsn_xtext_encode("abcdef", out, 4), -1);
}

Test(dsn, notify)
{
	unsigned b;
	char text[DSN_NOTIFY_TEXT_MAX];

	cr_assert_eq(dsn_notify_parse("NEVER", 5, &b), 0);
	cr_assert_eq(b, DSN_NEVER);
	cr_assert_eq(dsn_notify_parse("delay,Success", 13, &b), 0);
	cr_assert_eq(b, DSN_DELAY | DSN_SUCCESS);
	dsn_notify_format(b, text);
	cr_assert_str_eq(text, "SUCCESS,DELAY");
	cr_assert_eq(dsn_notify_parse("SUCCESS,FAILURE,DELAY", 21, &b), 0);
	dsn_notify_format(b, text);
	cr_assert_str_eq(text, "SUCCESS,FAILURE,DELAY");
	cr_assert_eq(dsn_notify_parse("NEVER,DELAY", 11, &b), -1);
	cr_assert_eq(dsn_notify_parse("DELAY,DELAY", 11, &b), -1);
	cr_assert_eq(dsn_notify_parse("", 0, &b), -1);
	cr_assert_eq(dsn_notify_parse("DELAY,", 6, &b), -1);
	cr_assert_eq(dsn_notify_parse("SOMETIMES", 9, &b), -1);
	dsn_notify_format(0, text);
	cr_assert_str_eq(text, "");
}

Test(dsn, orcpt_and_ret)
{
	cr_assert(dsn_orcpt_valid("rfc822;bob@example.org", 22));
	cr_assert(dsn_orcpt_valid("rfc822;b+2Bt@x", 14));
	cr_assert_not(dsn_orcpt_valid("rfc822", 6));
	cr_assert_not(dsn_orcpt_valid(";bob@x", 6));
	cr_assert_not(dsn_orcpt_valid("rfc822;", 7));
	cr_assert_not(dsn_orcpt_valid("rfc 822;bob@x", 13));
	cr_assert_not(dsn_orcpt_valid("rfc822;bob=x", 12));
	cr_assert_eq(dsn_ret_parse("FULL", 4), DSN_RET_FULL);
	cr_assert_eq(dsn_ret_parse("hdrs", 4), DSN_RET_HDRS);
	cr_assert_eq(dsn_ret_parse("HEAD", 4), -1);
	cr_assert_eq(dsn_ret_parse("HDRSX", 5), -1);
}

Test(dsn, wants)
{
	/* no NOTIFY: failures and delays, not success (RFC 3461 4.1) */
	cr_assert(dsn_wants(0, DSN_FAILURE));
	cr_assert(dsn_wants(0, DSN_DELAY));
	cr_assert_not(dsn_wants(0, DSN_SUCCESS));
	cr_assert_not(dsn_wants(DSN_NEVER, DSN_FAILURE));
	cr_assert_not(dsn_wants(DSN_NEVER, DSN_DELAY));
	cr_assert_not(dsn_wants(DSN_FAILURE, DSN_DELAY));
	cr_assert(dsn_wants(DSN_FAILURE, DSN_FAILURE));
	cr_assert(dsn_wants(DSN_SUCCESS | DSN_DELAY, DSN_SUCCESS));
}
