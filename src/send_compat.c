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

/* file_names - does the configuration file at path have a line setting
 * option name (options.h: "name value", '#' comment lines)?  The
 * snapshot alone cannot tell a value given from the default. */
static int file_names(const char *path, const char *name)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0, k = strlen(name);
	int found = 0;

	if (f == NULL)
		return 0;
	while (!found && getline(&line, &cap, f) >= 0) {
		const char *p = line;

		while (*p == ' ' || *p == '\t')
			p++;
		found = strncmp(p, name, k) == 0 && (p[k] == ' ' || p[k] == '\t');
	}
	free(line);
	fclose(f);
	return found;
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
	/* the daemon reading the same file refuses a submission over it
	 * whole (mta-queue(5), MAILDROP): better said now than bounced */
	if (path && file_names(path, "max-rcpt"))
		o->max_rcpt = cfg->max_rcpt;
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

/* one way of the -bs relay: bytes read from one side, not yet all
 * written to the other */
struct relay_buf {
	char b[16384];
	size_t len, off;
};

/* relay_write - write some of what x holds to fd: at most PIPE_BUF at a
 * time, which a pipe that polled writable takes without blocking (our
 * standard output may be a blocking pipe we must not make non-blocking:
 * its file description is shared); 0, or -1 when fd failed */
static int relay_write(int fd, struct relay_buf *x)
{
	size_t n = x->len - x->off;
	ssize_t w = write(fd, x->b + x->off, n < PIPE_BUF ? n : PIPE_BUF);

	if (w < 0)
		return errno == EINTR || errno == EAGAIN ? 0 : -1;
	x->off += (size_t)w;
	if (x->off == x->len)
		x->off = x->len = 0;
	return 0;
}

/* relay_read - fill the empty x from fd: 1, 0 at the end (or an error
 * that ends it), -1 for nothing now */
static int relay_read(int fd, struct relay_buf *x)
{
	ssize_t r = read(fd, x->b, sizeof x->b);

	if (r < 0 && (errno == EINTR || errno == EAGAIN))
		return -1;
	if (r <= 0)
		return 0;
	x->len = (size_t)r;
	return 1;
}

/* send_session - -bs: the SMTP session on stdin/stdout relayed, byte for
 * byte, to the server; ends when the server closes (after QUIT) and what
 * it said has been written, or the client's side has ended and the
 * server has closed too.  Every wait, reading or writing either side, is
 * bounded by the longest a server may make us sit through: a server that
 * stops reading, or a client that stops reading our output, ends it.
 * When the server cannot be reached the client gets a 421 and we exit 75
 * (68 when its name does not exist): the client may try again. */
int send_session(struct send_opts *o)
{
	struct smtp_client *c = malloc(sizeof *c);
	struct smtp_result res;
	struct relay_buf up, down;   /* to the server; to the client */
	struct pollfd p[3];
	int fd, in_open = 1, srv_open = 1, shut = 0, ex = EX_OK, wait_ms;
	int r;

	if (c == NULL) {
		send_say("out of memory");
		return EX_OSERR;
	}
	up.len = up.off = down.len = down.off = 0;
	wait_ms = o->to.data > o->to.dot ? o->to.data : o->to.dot;
	smtp_client_init(c, &o->to);
	if (smtp_client_connect(c, o->host, o->port, &res) < 0) {
		send_say("cannot reach %s:%s: %s", o->host, o->port, res.st.text);
		down.len = (size_t)snprintf(down.b, sizeof down.b,
		        "421 4.3.0 mail server %s:%s unavailable\r\n", o->host, o->port);
		while (down.len > 0 && poll(&(struct pollfd){ .fd = 1, .events = POLLOUT },
		                            1, wait_ms) > 0 && relay_write(1, &down) == 0)
			;
		smtp_client_close(c);
		free(c);
		return res.st.kind == ST_PERM ? EX_NOHOST : EX_TEMPFAIL;
	}
	fd = c->io.fd;               /* non-blocking, as the client left it */
	while (srv_open || down.len > 0) {
		/* a side with nothing to do is left out (fd -1): its hang-up
		 * would wake poll again and again */
		p[0].events = (srv_open && down.len == 0 ? POLLIN : 0) |
		              (up.len > 0 ? POLLOUT : 0);
		p[0].fd = p[0].events ? fd : -1;
		p[1].events = POLLIN;
		p[1].fd = in_open && up.len == 0 && srv_open ? 0 : -1;
		p[2].events = POLLOUT;
		p[2].fd = down.len > 0 ? 1 : -1;
		r = poll(p, 3, wait_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			send_say("-bs: nothing moved for too long; giving up");
			ex = EX_TEMPFAIL;
			break;
		}
		if (p[2].revents && relay_write(1, &down) < 0) {
			ex = EX_IOERR;
			break;
		}
		if ((p[0].revents & POLLOUT) && relay_write(fd, &up) < 0) {
			ex = EX_IOERR;
			break;
		}
		if ((p[0].revents & ~POLLOUT) && down.len == 0 && srv_open &&
		    relay_read(fd, &down) == 0)
			srv_open = 0;    /* the server closed: the session is over */
		if (p[1].revents && relay_read(0, &up) == 0)
			in_open = 0;
		if (!in_open && up.len == 0 && !shut && srv_open) {
			/* the client is done: the server sees end of input and
			 * closes, which ends the loop */
			shutdown(fd, SHUT_WR);
			shut = 1;
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
