/* test_notify.c - systemd's notification protocol: a datagram to the
 * socket of $NOTIFY_SOCKET, a path or an abstract name; nothing without */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

/* listen_at - a datagram socket bound to name ("@..." abstract) */
static int listen_at(const char *name)
{
	struct sockaddr_un a;
	size_t n = strlen(name);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);

	cr_assert_geq(fd, 0);
	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	memcpy(a.sun_path, name, n);
	if (name[0] == '@')
		a.sun_path[0] = '\0';
	cr_assert_eq(bind(fd, (struct sockaddr *)&a,
	                  (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	                              (name[0] != '@'))), 0);
	return fd;
}

/* got - the next datagram on fd, as a string */
static const char *got(int fd)
{
	static char buf[256];
	ssize_t r = recv(fd, buf, sizeof buf - 1, MSG_DONTWAIT);

	cr_assert_gt(r, 0, "nothing received");
	buf[r] = '\0';
	return buf;
}

Test(notify, a_path_gets_each_state_and_the_variable_is_gone)
{
	char path[64] = "/tmp/test_notify.XXXXXX";
	int fd;

	cr_assert_not_null(mkdtemp(path));
	strcat(path, "/s");      /* room: 64 > the name plus "/s" */
	fd = listen_at(path);
	setenv("NOTIFY_SOCKET", path, 1);
	notify_init();
	cr_assert_null(getenv("NOTIFY_SOCKET"), "not left for children");
	cr_assert_eq(notify_send("READY=1"), 1);
	cr_assert_str_eq(got(fd), "READY=1");
	cr_assert_eq(notify_send("STOPPING=1"), 1);
	cr_assert_str_eq(got(fd), "STOPPING=1");
	close(fd);
	unlink(path);
	*strrchr(path, '/') = '\0';
	rmdir(path);
}

Test(notify, an_abstract_name)
{
	char name[64];
	int fd;

	snprintf(name, sizeof name, "@test_notify.%ld", (long)getpid());
	fd = listen_at(name);
	setenv("NOTIFY_SOCKET", name, 1);
	notify_init();
	cr_assert_eq(notify_send("READY=1"), 1);
	cr_assert_str_eq(got(fd), "READY=1");
	close(fd);
}

Test(notify, no_manager_no_message)
{
	unsetenv("NOTIFY_SOCKET");
	notify_init();
	cr_assert_eq(notify_send("READY=1"), 0);
	setenv("NOTIFY_SOCKET", "relative/path", 1);
	notify_init();
	cr_assert_eq(notify_send("READY=1"), 0, "neither a path nor @name");
}
