/* send.c - what both modes of mta-send use: its words on stderr and
 * the addresses as they go on the wire; see send.h and send_priv.h.
 * The modes are send_inject.c (one message) and send_gun.c (the mail
 * gun); both call down to this file, which calls neither.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msghdr.h"
#include "send.h"
#include "send_priv.h"

/* send_say - one line on stderr, prefixed with the program name */
void send_say(const char *fmt, ...)
{
	va_list ap;

	fputs("mta-send: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* send_qualify - addr as it goes on the wire: brackets off,
 * "@hostname" added to a bare local name; NULL when out of memory */
char *send_qualify(const char *addr, const char *hostname)
{
	size_t n = strlen(addr);
	char *out;

	if (n >= 2 && addr[0] == '<' && addr[n - 1] == '>') {
		addr++;
		n -= 2;
	}
	if (n == 0 || memchr(addr, '@', n))
		return strndup(addr, n);
	out = malloc(n + strlen(hostname) + 2);
	if (out)
		sprintf(out, "%.*s@%s", (int)n, addr, hostname);
	return out;
}

/* send_default_sender - the invoking user at our host name (like sendmail) */
char *send_default_sender(const char *hostname)
{
	struct passwd pw, *pp = NULL;
	char buf[4096];
	const char *user = NULL;

	if (getpwuid_r(getuid(), &pw, buf, sizeof buf, &pp) == 0 && pp)
		user = pp->pw_name;
	if (user == NULL)
		user = getenv("LOGNAME");
	if (user == NULL)
		user = getenv("USER");
	return send_qualify(user ? user : "nobody", hostname);
}

/* send_free_list - release a NULL-ended array of strings */
void send_free_list(char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

/* send_qualify_list - every address of l qualified, as a NULL-ended array */
char **send_qualify_list(const struct addrlist *l, const char *hostname)
{
	char **v = calloc(l->n + 1, sizeof *v);
	size_t i;

	if (v == NULL)
		return NULL;
	for (i = 0; i < l->n; i++) {
		if ((v[i] = send_qualify(l->v[i], hostname)) == NULL) {
			send_free_list(v);
			return NULL;
		}
	}
	return v;
}

/* send_say_dropped - name every address in d that cannot be sent; control
 * characters shown as '?' */
void send_say_dropped(const struct addrlist *d, const char *where)
{
	char *p;
	size_t i;

	for (i = 0; i < d->n; i++) {
		for (p = d->v[i]; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
		send_say("%s: cannot send to %s: an address with 8-bit or control "
		         "characters, or over %d octets (no SMTPUTF8)", where,
		         d->v[i], MSG_ADDR_MAX);
	}
}

/* send_auth_password - the password from a file or the environment */
int send_auth_password(struct send_opts *o, const char *file)
{
	const char *env = getenv("MTA_AUTH_PASSWORD");
	char buf[sizeof o->auth_pass + 2];
	size_t n = 0;

	if (file != NULL) {
		int fd = open(file, O_RDONLY | O_CLOEXEC);
		ssize_t r = 0;

		if (fd < 0) {
			send_say("--auth-password-file %s: %s", file, strerror(errno));
			return -1;
		}
		while (n < sizeof buf - 1 &&
		       (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
			n += (size_t)r;
		close(fd);
		if (r < 0) {
			send_say("--auth-password-file %s: %s", file, strerror(errno));
			return -1;
		}
		buf[n] = '\0';
		n = strcspn(buf, "\r\n");        /* the first line */
		buf[n] = '\0';
	} else if (env != NULL) {
		n = strlen(env);
		if (n < sizeof buf)
			memcpy(buf, env, n + 1);
	} else {
		send_say("--auth-user needs a password: --auth-password-file FILE "
		         "or MTA_AUTH_PASSWORD");
		return -1;
	}
	if (n == 0 || n >= sizeof o->auth_pass) {
		explicit_bzero(buf, sizeof buf);
		send_say("the password for --auth-user is empty or over %zu octets",
		         sizeof o->auth_pass - 1);
		return -1;
	}
	memcpy(o->auth_pass, buf, n + 1);
	explicit_bzero(buf, sizeof buf);
	return 0;
}
