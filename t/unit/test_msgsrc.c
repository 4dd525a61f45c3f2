/* test_msgsrc - reading messages from mbox files, Maildirs and single
 * files (msgsrc.h). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "msgsrc.h"

/* write_file - dir/name with text */
static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

/* collect - every message of path, '|'-separated */
static char *collect(const char *path, enum msgsrc_kind want)
{
	static char out[4096];
	struct msgsrc *ms;
	struct msg m;
	int r;

	out[0] = '\0';
	cr_assert_eq(msgsrc_open(path, &ms), 0, "%s: %s", path, strerror(errno));
	cr_assert_eq(msgsrc_kind(ms), want);
	while ((r = msgsrc_next(ms, &m)) > 0) {
		strncat(out, m.data, m.len);
		strcat(out, "|");
		msg_free(&m);
	}
	cr_assert_eq(r, 0);
	msgsrc_close(ms);
	return out;
}

Test(msgsrc, mbox_split_and_unquote)
{
	char dir[] = "/tmp/test-msgsrc.XXXXXX", path[64];

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/mbox", dir);
	write_file(path,
		"From a@b Mon Jan  2 10:00:00 2023\n"
		"Subject: 1\n\n>From quoted\n>>From twice\nFrom not after empty\n\n"
		"From c@d Mon Jan  2 10:00:01 2023\n"
		"Subject: 2\n\nline\n\n\n"
		"From e@f Mon Jan  2 10:00:02 2023\n"
		"Subject: 3\n\nlast\n");
	cr_assert_str_eq(collect(path, MSGSRC_MBOX),
		"Subject: 1\n\nFrom quoted\n>From twice\nFrom not after empty\n|"
		"Subject: 2\n\nline\n\n|"
		"Subject: 3\n\nlast\n|");
	unlink(path);
	rmdir(dir);
}

Test(msgsrc, maildir_and_single_file)
{
	char dir[] = "/tmp/test-msgsrc.XXXXXX", p[128];

	cr_assert_not_null(mkdtemp(dir));
	snprintf(p, sizeof p, "%s/md", dir);
	mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/md/new", dir);
	mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/md/cur", dir);
	mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/md/tmp", dir);
	mkdir(p, 0700);
	snprintf(p, sizeof p, "%s/md/cur/1.b:2,S", dir);
	write_file(p, "C\n");
	snprintf(p, sizeof p, "%s/md/new/2.a", dir);
	write_file(p, "B\n");
	snprintf(p, sizeof p, "%s/md/new/1.a", dir);
	write_file(p, "A\n");
	snprintf(p, sizeof p, "%s/md/new/.hidden", dir);
	write_file(p, "no\n");
	snprintf(p, sizeof p, "%s/md/tmp/9.x", dir);
	write_file(p, "no\n");
	snprintf(p, sizeof p, "%s/md", dir);
	cr_assert_str_eq(collect(p, MSGSRC_MAILDIR), "A\n|B\n|C\n|");
	snprintf(p, sizeof p, "%s/one", dir);
	write_file(p, "Subject: x\n\nFrom here on\n");
	cr_assert_str_eq(collect(p, MSGSRC_MESSAGE), "Subject: x\n\nFrom here on\n|");
	{
		struct msgsrc *ms;

		snprintf(p, sizeof p, "%s/md/new", dir);
		cr_assert_eq(msgsrc_open(p, &ms), -1);
		cr_assert_eq(errno, ENOTDIR, "a plain directory is not a Maildir");
		snprintf(p, sizeof p, "%s/nonexistent", dir);
		cr_assert_eq(msgsrc_open(p, &ms), -1);
		cr_assert_eq(errno, ENOENT);
	}
	snprintf(p, sizeof p, "rm -rf '%s'", dir);
	cr_assert_eq(system(p), 0);
}
