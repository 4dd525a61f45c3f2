/* send_compat.c - what mta-send does as sendmail(8) besides sending one
 * message: the configuration file (where the server and the queue are),
 * -bs (an SMTP session on stdin/stdout, relayed to the server), -bp and
 * -q (mta-queue run in our place), the DSN requests of -N, -R and -V;
 * see send.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sysexits.h>
#include <unistd.h>

#include "config.h"
#include "netaddr.h"
#include "options.h"
#include "send.h"
#include "smtp_client.h"

/* loopback_for - the address to connect to for a listener on la: the
 * listener's own, or loopback when it listens on every address */
static void loopback_for(const struct listen_addr *la, char *buf, size_t size)
{
	struct sockaddr_storage ss = la->ss;

	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		if (s4->sin_addr.s_addr == htonl(INADDR_ANY))
			s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		if (memcmp(&s6->sin6_addr, &in6addr_any, sizeof in6addr_any) == 0)
			s6->sin6_addr = in6addr_loopback;
	}
	netaddr_text((const struct sockaddr *)&ss, buf, size);
}

/* send_config - read the configuration file: explicit (-C, --config) or
 * SEND_CONFIG_DEFAULT when it exists and can be read */
int send_config(struct send_opts *o, const char *path)
{
	char *argv[] = { "mta-send", "--config", NULL, NULL };
	char err[1024], file[PATH_MAX];
	enum options_action action;
	struct config *cfg;
	int explicit = path != NULL;

	if (!explicit) {
		path = SEND_CONFIG_DEFAULT;
		if (access(path, R_OK) < 0)
			path = NULL;
	}
	if (path && strlen(path) >= sizeof file) {
		send_say("configuration file name too long");
		return -1;
	}
	argv[2] = path ? strcpy(file, path) : NULL;
	cfg = options_load(path ? 3 : 1, argv, &action, err, sizeof err);
	if (cfg == NULL) {
		send_say("%s", err);
		return -1;
	}
	o->queue = strdup(cfg->queue);
	if (path && cfg->nlisten > 0)
		loopback_for(&cfg->listen[0], o->config_server,
		             sizeof o->config_server);
	config_free(cfg);
	if (o->queue == NULL) {
		send_say("out of memory");
		return -1;
	}
	return 0;
}

/* queue_tool - mta-queue beside our own binary (so an installed
 * /usr/sbin/sendmail link finds the mta-queue of the same build), else
 * the one on $PATH */
static const char *queue_tool(char *buf, size_t size)
{
	ssize_t n = readlink("/proc/self/exe", buf, size - 1);
	char *slash;

	if (n > 0) {
		buf[n] = '\0';
		slash = strrchr(buf, '/');
		if (slash && (size_t)(slash - buf) + sizeof "/mta-queue" <= size) {
			strcpy(slash, "/mta-queue");
			if (access(buf, X_OK) == 0)
				return buf;
		}
	}
	return "mta-queue";
}

/* send_queue_tool - become mta-queue on o->queue: its listing (-bp), or
 * with flush its --flush (-q); returns only on failure, with the exit
 * status */
int send_queue_tool(const struct send_opts *o, int flush)
{
	char path[PATH_MAX];
	const char *tool = queue_tool(path, sizeof path);
	char *argv[] = { "mta-queue", "-q", o->queue, flush ? "--flush" : NULL,
	                 NULL };

	fflush(stdout);
	execvp(tool, argv);
	send_say("cannot run %s: %s", tool, strerror(errno));
	return EX_UNAVAILABLE;
}

/* write_all - all of p[0..n) to fd (blocking); 0 or -1 */
static int write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* blocking - make fd blocking again (the client's socket is not) */
static int blocking(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
}

/* send_session - -bs: the SMTP session on stdin/stdout relayed, byte for
 * byte, to the server; ends when the server closes (after QUIT) or the
 * client's side has ended and the server has closed too.  When the
 * server cannot be reached the client gets a 421 and we exit 75 (68 when
 * its name does not exist): the client may try again. */
int send_session(struct send_opts *o)
{
	struct smtp_client *c = malloc(sizeof *c);
	struct smtp_result res;
	struct pollfd p[2];
	char buf[16384];
	int fd, in_open = 1, ex = EX_OK;
	ssize_t r;

	if (c == NULL) {
		send_say("out of memory");
		return EX_OSERR;
	}
	smtp_client_init(c, &o->to);
	if (smtp_client_connect(c, o->host, o->port, &res) < 0 ||
	    blocking(c->io.fd) < 0) {
		send_say("cannot reach %s:%s: %s", o->host, o->port, res.st.text);
		snprintf(buf, sizeof buf, "421 4.3.0 mail server %s:%s unavailable"
		         "\r\n", o->host, o->port);
		(void)write_all(1, buf, strlen(buf));
		smtp_client_close(c);
		free(c);
		return res.st.kind == ST_PERM ? EX_NOHOST : EX_TEMPFAIL;
	}
	fd = c->io.fd;
	for (;;) {
		p[0] = (struct pollfd){ .fd = fd, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = 0, .events = POLLIN };
		/* bounded: the longest wait a server may make us sit through */
		r = poll(p, in_open ? 2 : 1, o->to.data > o->to.dot ? o->to.data
		                                                    : o->to.dot);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			send_say("-bs: nothing moved for too long; giving up");
			ex = EX_TEMPFAIL;
			break;
		}
		if (p[0].revents) {
			r = read(fd, buf, sizeof buf);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				break;       /* the server closed: the session is over */
			if (write_all(1, buf, (size_t)r) < 0) {
				ex = EX_IOERR;
				break;
			}
		}
		if (in_open && p[1].revents) {
			r = read(0, buf, sizeof buf);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				/* the client is done: the server sees end of
				 * input and closes, which ends the loop */
				in_open = 0;
				shutdown(fd, SHUT_WR);
			} else if (write_all(fd, buf, (size_t)r) < 0) {
				ex = EX_IOERR;
				break;
			}
		}
	}
	smtp_client_close(c);
	free(c);
	return ex;
}

/* upper - s in upper case, in place */
static char *upper(char *s)
{
	char *p;

	for (p = s; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	return s;
}

/* send_dsn_notify - check -N's value (NEVER, or a list of SUCCESS,
 * FAILURE, DELAY) and keep it upper case; 0 or -1 */
int send_dsn_notify(struct send_opts *o, const char *arg)
{
	char *v, *w, *save = NULL;
	int never = 0, n = 0, ok = 1;

	if (strlen(arg) >= sizeof o->dsn_notify)
		return -1;
	v = upper(strcpy(o->dsn_notify, arg));
	/* strtok_r on a copy: the kept value must keep its commas */
	if ((v = strdup(v)) == NULL)
		return -1;
	for (w = strtok_r(v, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		n++;
		if (strcmp(w, "NEVER") == 0)
			never = 1;
		else if (strcmp(w, "SUCCESS") && strcmp(w, "FAILURE") &&
		         strcmp(w, "DELAY"))
			ok = 0;
	}
	free(v);
	return ok && n > 0 && (!never || n == 1) ? 0 : -1;
}

/* send_dsn_ret - check -R's value (FULL or HDRS); 0 or -1 */
int send_dsn_ret(struct send_opts *o, const char *arg)
{
	if (strcasecmp(arg, "full") && strcasecmp(arg, "hdrs"))
		return -1;
	upper(strcpy(o->dsn_ret, arg));
	return 0;
}

/* send_dsn_envid - -V's value, printable ASCII of at most 100 octets
 * (RFC 3461 4.4), kept as xtext; 0 or -1 */
int send_dsn_envid(struct send_opts *o, const char *arg)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t k = 0;
	const char *s;

	if (*arg == '\0' || strlen(arg) > 100)
		return -1;
	for (s = arg; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x20 || ch > 0x7e)
			return -1;
		if (ch == '+' || ch == '=' || ch == ' ') {
			o->dsn_envid[k++] = '+';
			o->dsn_envid[k++] = hex[ch >> 4];
			o->dsn_envid[k++] = hex[ch & 15];
		} else {
			o->dsn_envid[k++] = (char)ch;
		}
	}
	o->dsn_envid[k] = '\0';
	return 0;
}
