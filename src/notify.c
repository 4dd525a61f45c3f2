/* notify.c - systemd's notification protocol without libsystemd; see
 * notify.h */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "notify.h"

/* Written once by notify_init() before threads start, read-only after. */
static struct sockaddr_un notify_addr;
static socklen_t notify_len;          /* 0: no manager */

/* notify_init - remember $NOTIFY_SOCKET (and unset it) */
void notify_init(void)
{
	const char *s = getenv("NOTIFY_SOCKET");
	size_t n;

	notify_len = 0;
	if (s == NULL || (s[0] != '/' && s[0] != '@'))
		return;
	n = strlen(s);
	if (n >= sizeof notify_addr.sun_path)
		return;
	memset(&notify_addr, 0, sizeof notify_addr);
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, s, n);
	if (s[0] == '@')                  /* abstract: a leading NUL, no end */
		notify_addr.sun_path[0] = '\0';
	notify_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
	                         (s[0] == '/'));
	unsetenv("NOTIFY_SOCKET");
}

/* notify_send - one state message to the manager */
int notify_send(const char *state)
{
	int fd, rc, saved;

	if (notify_len == 0)
		return 0;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	rc = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	            (const struct sockaddr *)&notify_addr, notify_len) < 0 ? -1 : 1;
	saved = errno;
	close(fd);
	errno = saved;
	return rc;
}
