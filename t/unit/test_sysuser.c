/* test_sysuser.c - --system-users decisions: a lookup's result as a
 * status (only "not found" is permanent), which accounts receive mail
 * (root; uid from UID_MIN up with a login shell), UID_MIN read from
 * login.defs, postmaster as root, and sysuser_find on this system's own
 * root and bin. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>

#include "sysuser.h"

Test(sysuser, lookup_not_found_is_permanent)
{
	struct status st = sysuser_lookup_status("nobody-here", 0, 0);

	cr_assert_eq(st.kind, ST_PERM);
	cr_assert_eq(st.subject, 1);
	cr_assert_eq(st.detail, 1);
}

Test(sysuser, lookup_found_is_ok)
{
	cr_assert_eq(sysuser_lookup_status("alice", 0, 1).kind, ST_OK);
}

Test(sysuser, lookup_failures_are_temporary)
{
	/* ERANGE past the largest buffer, descriptors exhausted, NSS and I/O
	 * errors, and the numbers some modules use for "not found" but that
	 * also come from services that are down */
	static const int errs[] = {
		ERANGE, EMFILE, ENFILE, EIO, EAGAIN, EINTR, ENOMEM, ENOENT,
		ESRCH, EBADF, EPERM
	};
	size_t i;

	for (i = 0; i < sizeof errs / sizeof errs[0]; i++) {
		struct status st = sysuser_lookup_status("alice", errs[i], 0);

		cr_assert_eq(st.kind, ST_TEMP, "errno %d", errs[i]);
		cr_assert_eq(st.subject, 3, "errno %d", errs[i]);
		cr_assert_eq(st.detail, 0, "errno %d", errs[i]);
		/* an error wins even if an entry came with it */
		cr_assert_eq(sysuser_lookup_status("alice", errs[i], 1).kind,
		             ST_TEMP);
	}
}

Test(sysuser, who_receives_mail)
{
	cr_assert_eq(sysuser_may_receive(0, "/bin/bash", 1000), 1);
	cr_assert_eq(sysuser_may_receive(0, "/usr/sbin/nologin", 1000), 1,
	             "root, whatever its shell");
	cr_assert_eq(sysuser_may_receive(1000, "/bin/bash", 1000), 1);
	cr_assert_eq(sysuser_may_receive(60000, "", 1000), 1, "empty = /bin/sh");
	cr_assert_eq(sysuser_may_receive(60000, NULL, 1000), 1);
	cr_assert_eq(sysuser_may_receive(1, "/bin/sh", 1000), 0, "daemon");
	cr_assert_eq(sysuser_may_receive(2, "/usr/sbin/nologin", 1000), 0, "bin");
	cr_assert_eq(sysuser_may_receive(33, "/bin/bash", 1000), 0, "www-data");
	cr_assert_eq(sysuser_may_receive(999, "/bin/bash", 1000), 0);
	cr_assert_eq(sysuser_may_receive(999, "/bin/bash", 500), 1);
	cr_assert_eq(sysuser_may_receive(65534, "/usr/sbin/nologin", 1000), 0,
	             "nobody");
	cr_assert_eq(sysuser_may_receive(5000, "/sbin/nologin", 1000), 0);
	cr_assert_eq(sysuser_may_receive(5000, "/bin/false", 1000), 0);
	cr_assert_eq(sysuser_may_receive(5000, "/usr/bin/false", 1000), 0);
	cr_assert_eq(sysuser_may_receive(5000, "nologin", 1000), 0);
	cr_assert_eq(sysuser_may_receive(5000, "/bin/falsetto", 1000), 1);
}

/* uid_min_of - UID_MIN of a login.defs holding text */
static unsigned long uid_min_of(const char *text)
{
	char path[] = "/tmp/test_sysuser.XXXXXX";
	int fd = mkstemp(path);
	unsigned long v;

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	cr_assert_eq(sysuser_uid_min(path, &v), 0);
	unlink(path);
	return v;
}

Test(sysuser, uid_min_from_login_defs)
{
	unsigned long v;

	cr_assert_eq(uid_min_of("# comment\nUID_MIN\t\t\t 1000\nUID_MAX 60000\n"),
	             1000);
	cr_assert_eq(uid_min_of("UID_MIN 500\n"), 500);
	cr_assert_eq(uid_min_of("  UID_MIN   2000  \r\n"), 2000);
	cr_assert_eq(uid_min_of("SYS_UID_MIN 100\nUID_MIN 1500"), 1500,
	             "no final newline; SYS_UID_MIN is another setting");
	cr_assert_eq(uid_min_of("#UID_MIN 5\n"), SYSUSER_UID_MIN, "a comment");
	cr_assert_eq(uid_min_of("UID_MINX 5\n"), SYSUSER_UID_MIN);
	cr_assert_eq(uid_min_of("UID_MIN\n"), SYSUSER_UID_MIN);
	cr_assert_eq(uid_min_of("UID_MIN abc\n"), SYSUSER_UID_MIN);
	cr_assert_eq(uid_min_of("UID_MIN 12x\n"), SYSUSER_UID_MIN);
	cr_assert_eq(uid_min_of("UID_MIN -5\n"), SYSUSER_UID_MIN);
	cr_assert_eq(uid_min_of("UID_MIN 99999999999999999999999\n"),
	             SYSUSER_UID_MIN);
	cr_assert_eq(uid_min_of(""), SYSUSER_UID_MIN);
	v = 0;
	cr_assert_eq(sysuser_uid_min("/nonexistent/login.defs", &v), 0);
	cr_assert_eq(v, SYSUSER_UID_MIN);
}

/* A login.defs that is there but cannot be opened or read is no reason
 * to take the default: a lower UID_MIN in it would make the refusal of a
 * user who receives mail permanent. */
Test(sysuser, uid_min_unreadable_is_an_error)
{
	unsigned long v = 0;
	struct rlimit rl;
	int fd;

	errno = 0;
	cr_assert_eq(sysuser_uid_min("/dev/null/login.defs", &v), -1, "ENOTDIR");
	cr_assert_eq(errno, ENOTDIR);
	cr_assert_eq(sysuser_uid_min("/", &v), -1, "a directory: EISDIR");
	/* out of descriptors (each test runs in a process of its own) */
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	rl.rlim_cur = 16;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	while ((fd = open("/dev/null", O_RDONLY)) >= 0)
		;
	errno = 0;
	cr_assert_eq(sysuser_uid_min("/etc/login.defs", &v), -1, "EMFILE");
	cr_assert_eq(errno, EMFILE);
}

Test(sysuser, postmaster_is_root)
{
	cr_assert_str_eq(sysuser_account("postmaster"), "root");
	cr_assert_str_eq(sysuser_account("alice"), "alice");
	cr_assert_str_eq(sysuser_account("postmasters"), "postmasters");
}

Test(sysuser, this_systems_accounts)
{
	struct sysuser u;
	struct status st;

	st = sysuser_find("root", &u);
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	cr_assert_eq(u.uid, 0);
	cr_assert_not_null(u.home);
	sysuser_free(&u);
	cr_assert_null(u.home);
	cr_assert_eq(sysuser_find("root", NULL).kind, ST_OK);
	/* bin is uid 2 on every Linux distribution: a system account */
	cr_assert_eq(sysuser_find("bin", NULL).kind, ST_PERM);
	cr_assert_eq(sysuser_find("no-such-user-test-sysuser", NULL).kind, ST_PERM);
}
