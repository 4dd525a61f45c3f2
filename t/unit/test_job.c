/* test_job.c - job file names and content */
#include <criterion/criterion.h>
#include <string.h>

#include "job.h"

Test(job, name_round_trip)
{
	struct job_name j = { 1795422268, "660ED52886B890", 3 }, back;
	char buf[JOB_NAME_MAX];

	cr_assert_eq(job_name_format(&j, buf), strlen("1795422268.660ED52886B890.3"));
	cr_assert_str_eq(buf, "1795422268.660ED52886B890.3");
	cr_assert_eq(job_name_parse(buf, &back), 0);
	cr_assert_eq(back.due, j.due);
	cr_assert_str_eq(back.id, j.id);
	cr_assert_eq(back.n, 3);
}

Test(job, bad_names_are_refused)
{
	static const char bad[][40] = {
		"", "1", "1.2", "1..3", ".A.1", "1.A.", "01.A.1", "1.A.01", "1.A-B.1",
		"1.A.1.2", "x.A.1", "1.A.x", "-1.A.1", "1.A/B.1", "1.A.1 ",
		"99999999999999999999.A.1", "1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.1"
	};
	struct job_name j;
	size_t i;

	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(job_name_parse(bad[i], &j), -1, "accepted '%s'", bad[i]);
	cr_assert_eq(job_name_parse("0.A.0", &j), 0);
}

Test(job, info_round_trip_and_sanitizing)
{
	struct job_info in = { 2, 1795422268, "451 4.3.0 a\nb\rc", "", 0 }, out;
	char buf[1024];
	int n = job_info_format(&in, buf, sizeof buf);

	cr_assert_gt(n, 0);
	cr_assert_str_eq(buf, "attempts 2\nfirst 1795422268\nerror 451 4.3.0 a?b?c\n");
	cr_assert_eq(job_info_parse(buf, (size_t)n, &out), 0);
	cr_assert_eq(out.attempts, 2);
	cr_assert_eq(out.first, 1795422268);
	cr_assert_str_eq(out.error, "451 4.3.0 a?b?c");
}

Test(job, info_tls_round_trip)
{
	struct job_info in = { 1, 5, "451 later", "tls=TLSv1.3 verify=none\npolicy=may", 0 }, out;
	char buf[1024];
	int n = job_info_format(&in, buf, sizeof buf);

	cr_assert_gt(n, 0);
	cr_assert_str_eq(buf, "attempts 1\nfirst 5\nerror 451 later\n"
	                      "tls tls=TLSv1.3 verify=none?policy=may\n");
	cr_assert_eq(job_info_parse(buf, (size_t)n, &out), 0);
	cr_assert_str_eq(out.tls, "tls=TLSv1.3 verify=none?policy=may");
	cr_assert_str_eq(out.error, "451 later");
	cr_assert_eq(job_info_parse("attempts 1\n", 11, &out), 0);
	cr_assert_str_eq(out.tls, "", "no tls line: not known");
}

Test(job, empty_content_is_a_fresh_job)
{
	struct job_info out;

	cr_assert_eq(job_info_parse("", 0, &out), 0);
	cr_assert_eq(out.attempts, 0);
	cr_assert_eq(out.first, 0);
	cr_assert_str_eq(out.error, "");
	cr_assert_eq(job_info_parse("garbage", 7, &out), -1);
	cr_assert_eq(job_info_parse("attempts x\n", 11, &out), -1);
	cr_assert_eq(job_info_parse("future key\n", 11, &out), 0);
}
