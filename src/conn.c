/* conn.c - a connection's I/O loop and its session callbacks; see conn.h */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "authguard.h"
#include "authsrc.h"
#include "conn.h"
#include "log.h"
#include "monotonic.h"
#include "netaddr.h"
#include "policy.h"
#include "stream.h"
#include "tls.h"

enum { READ_BUF = 4096 };

/* Per-connection state behind the session's ctx pointer. */
struct conn_ctx {
	struct conn *c;
	struct stream io;           /* the client's bytes, both ways */
	int may_relay;
	char ip[NETADDR_TEXT_MAX];  /* the client's, for AUTH's checks */
	char login[256];            /* "" until AUTH succeeded */
	struct queue_msg *msg;      /* the message being stored, or NULL */
	struct envelope *env;       /* borrowed from the session during DATA */
	/* monotonic ms by which the message in DATA must be complete: set at
	 * each message's own DATA (tx_open), so a message pipelined behind
	 * another's final dot gets its own --data-timeout */
	long long data_deadline;
	long long data_began;       /* monotonic ms of that DATA */
	long long session_deadline; /* --session-timeout, from the connect */
	unsigned long messages;
};

/* now_seconds - the session's clock */
static time_t now_seconds(void) { return time(NULL); }

/* ops_check_rcpt - recipient policy */
static struct status ops_check_rcpt(void *ctx, const struct mailbox *rcpt)
{
	struct conn_ctx *x = ctx;

	/* an authenticated client relays (RFC 6409 submission) */
	return policy_check_rcpt(x->c->env->cfg, rcpt, x->may_relay || x->login[0],
	                         NULL);
}

/* ops_add_rcpt - the final recipients of an accepted one */
static int ops_add_rcpt(void *ctx, struct envelope *env, const struct mailbox *rcpt)
{
	struct conn_ctx *x = ctx;

	/* refused now (a lookup that failed since the check): 452, and the
	 * client tries again */
	return policy_add_rcpt(x->c->env->cfg, env, rcpt,
	                       x->may_relay || x->login[0]).kind == ST_OK ? 0 : -1;
}

/* ops_tx_open - create the queue file */
static struct status ops_tx_open(void *ctx, struct envelope *env)
{
	struct conn_ctx *x = ctx;
	struct status st = queue_msg_open(x->c->env->q, env, &x->msg);

	if (st.kind == ST_OK) {
		x->env = env;
		x->data_began = monotonic_ms();
		x->data_deadline = x->data_began +
		                   (long long)x->c->env->cfg->data_timeout * 1000;
	}
	return st;
}

/* ops_tx_write - message bytes to the queue file */
static void ops_tx_write(void *ctx, const char *p, size_t n)
{
	struct conn_ctx *x = ctx;

	queue_msg_write(x->msg, p, n);
}

/* ops_tx_commit - durable, then logged */
static struct status ops_tx_commit(void *ctx)
{
	struct conn_ctx *x = ctx;
	struct status st = queue_msg_commit(x->msg);

	x->msg = NULL;
	if (st.kind == ST_OK) {
		char from[LOG_VALUE_MAX];

		char login[LOG_VALUE_MAX] = "";

		x->messages++;
		if (x->login[0]) {
			memcpy(login, " login=", 8);
			log_quote(login + 7, sizeof login - 7, x->login);
		}
		log_event("queued", "id=%s from=%s rcpts=%zu time=%lldms%s",
		          x->env->id, log_addr(from, sizeof from, x->env->sender.text),
		          x->env->nrcpt, monotonic_ms() - x->data_began, login);
	}
	return st;
}

/* ops_tx_abort - drop the queue file */
static void ops_tx_abort(void *ctx)
{
	struct conn_ctx *x = ctx;

	if (x->msg) {
		queue_msg_abort(x->msg);
		x->msg = NULL;
	}
}

/* ops_tls_prepare - the TLS object before the 220 of STARTTLS */
static struct status ops_tls_prepare(void *ctx)
{
	struct conn_ctx *x = ctx;
	const struct config *cfg = x->c->env->cfg;

	if (cfg->tls_server == NULL)
		return status_make(ST_TEMP, 7, 0, "no certificate");
	if (stream_tls_prepare(&x->io, cfg->tls_server, 1) < 0) {
		log_event("tls-error", "error=\"cannot make a TLS object\"");
		return status_make(ST_TEMP, 3, 0, "out of memory");
	}
	return status_ok();
}

/* ops_auth_check - AUTH's credentials to the source, unless this
 * address is blocked for its failures; every outcome logged (the
 * auth-failed and auth-block lines are fail2ban's) */
static struct status ops_auth_check(void *ctx, const char *mech,
                                    const char *login, const char *password)
{
	struct conn_ctx *x = ctx;
	const struct config *cfg = x->c->env->cfg;
	long long now = monotonic_ms() / 1000, left;
	char q[LOG_VALUE_MAX], q2[LOG_VALUE_MAX], user[sizeof x->login];
	struct status st;
	unsigned n;

	log_quote(q, sizeof q, login);
	if ((left = authguard_blocked(x->ip, now)) > 0) {
		log_event("auth-refused", "client=%s login=%s reason=blocked seconds=%lld",
		          x->ip, q, left);
		return status_make(ST_TEMP, 7, 0, "Too many failed logins from %s, "
		                   "try again later", x->ip);
	}
	/* x->login is set on success only: non-empty, it lets the client relay */
	st = authsrc_verify(cfg, login, password, x->ip, 1, user, sizeof user);
	switch (st.kind) {
	case ST_OK:
		snprintf(x->login, sizeof x->login, "%s", user);
		if (strcmp(x->login, login) != 0)
			log_event("auth", "client=%s login=%s mechanism=%s user=%s", x->ip,
			          q, mech, log_quote(q2, sizeof q2, x->login));
		else
			log_event("auth", "client=%s login=%s mechanism=%s", x->ip, q, mech);
		break;
	case ST_TEMP:
		log_event("auth-error", "client=%s login=%s mechanism=%s error=%s",
		          x->ip, q, mech, log_quote(q2, sizeof q2, st.text));
		break;
	default:
		n = authguard_failed(x->ip, now);
		log_event("auth-failed", "client=%s login=%s mechanism=%s failures=%u",
		          x->ip, q, mech, n);
		if (n == AUTHGUARD_FAILURES)
			log_event("auth-block", "client=%s failures=%u seconds=%d",
			          x->ip, n, AUTHGUARD_BLOCK);
	}
	return st;
}

/* ops_check_sender - the senders of the user the source settled on at
 * AUTH (x->login), not of the login as the client typed it: Dovecot may
 * have checked the password of "alice" for "alice@any.example" */
static struct status ops_check_sender(void *ctx, const char *login,
                                      const struct mailbox *sender)
{
	struct conn_ctx *x = ctx;

	(void)login;
	return authsrc_sender(x->c->env->cfg, x->login, sender);
}

static const struct session_ops conn_ops = {
	ops_check_rcpt, ops_tx_open, ops_tx_write, ops_tx_commit, ops_tx_abort,
	ops_tls_prepare, ops_add_rcpt, ops_auth_check, ops_check_sender
};

/* log_refusals - log each 4xx/5xx reply line in out[0..n) */
static void log_refusals(const char *out, size_t n)
{
	const char *p = out, *end = out + n;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (len > 0 && (p[0] == '4' || p[0] == '5')) {
			/* replies quote client text (a MAIL parameter) */
			char text[LOG_LINE_MAX];

			log_event("reply", "text=%s", log_quoteb(text, sizeof text, p,
			          p[len - 1] == '\r' ? len - 1 : len));
		}
		p += len + 1;
	}
}

/* send_output - write all pending replies; -1 if the client is gone, -2
 * if it took no reply bytes for --timeout (it stopped reading) */
static int send_output(struct conn_ctx *x, struct session *s)
{
	struct conn *c = x->c;
	size_t len, off = 0;
	const char *out = session_output(s, &len);
	int timeout_ms = (int)c->env->cfg->timeout * 1000;

	if (len == 0)
		return 0;
	log_refusals(out, len);
	while (off < len) {
		ssize_t w = stream_write(&x->io, out + off, len - off);

		if (w < 0 && errno == EAGAIN) {
			/* --timeout for each wait: a slow reader is not cut off */
			if (stream_wait(&x->io, POLLOUT, monotonic_ms() + timeout_ms) == 0)
				continue;
			return errno == ETIMEDOUT ? -2 : -1;
		}
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	session_output_done(s, len);
	return 0;
}

/* session_over - has the session outlived --session-timeout?  A message
 * begun before that moment may finish (its own --data-timeout still
 * holds), so a client is not made to send it again; a message begun
 * after it may not, or a client that pipelines each next message behind
 * the last one's dot could go on for ever. */
static int session_over(const struct conn_ctx *x, const struct session *s)
{
	if (monotonic_ms() < x->session_deadline)
		return 0;
	return !session_in_data(s) || x->data_began >= x->session_deadline;
}

/* wait_ms - how long to wait for the client: --timeout, but never past
 * the DATA deadline of the message being received, nor (between
 * messages) past the session's end */
static int wait_ms(const struct conn_ctx *x, const struct session *s)
{
	long long now = monotonic_ms();
	long long until = now + (long long)x->c->env->cfg->timeout * 1000;
	long long end = session_in_data(s) ? x->data_deadline : x->session_deadline;

	if (end < until)
		until = end;
	return until <= now ? 0 : (int)(until - now);
}

/* pause_for - wait ms before the replies go out (errors slow a client
 * down: session_pause), reading nothing meanwhile; never past the
 * session's end.  Only this connection's thread sleeps.  Returns 1 when
 * the server started stopping (the pause ends then). */
static int pause_for(const struct conn_ctx *x, unsigned long long ms)
{
	long long until = monotonic_ms() + (long long)ms;

	if (until > x->session_deadline)
		until = x->session_deadline;
	for (;;) {
		struct pollfd pfd = { x->c->env->stop_fd, POLLIN, 0 };
		long long now = monotonic_ms();
		int r;

		if (now >= until)
			return 0;
		r = poll(&pfd, 1, (int)(until - now));
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return 0;
	}
}

/* handshake - the handshake step by step, by deadline, watching the
 * stop descriptor too (a client silent in its handshake must not hold
 * the shutdown for the whole grace period); 0, -1 failed (why in err),
 * or -2: the server is stopping (the handshake abandoned) */
static int handshake(struct conn_ctx *x, long long deadline, char *err, size_t errlen)
{
	const struct config *cfg = x->c->env->cfg;

	if (stream_tls_begin(&x->io, cfg->tls_server, 1) < 0) {
		snprintf(err, errlen, "%s", errno == EINVAL ? "TLS already on" : "out of memory");
		return -1;
	}
	while (stream_tls_step(&x->io, err, errlen) < 0) {
		struct pollfd pfd[2] = {
			{ x->io.fd, 0, 0 }, { x->c->env->stop_fd, POLLIN, 0 }
		};
		long long now = monotonic_ms();
		int r;

		if (errno != EAGAIN)
			return -1;
		if (now >= deadline) {
			stream_tls_abandon(&x->io, err, errlen, ETIMEDOUT);
			return -1;
		}
		pfd[0].events = stream_poll_events(&x->io, POLLIN);
		r = poll(pfd, 2, (int)(deadline - now));
		if (r < 0 && errno != EINTR) {
			int e = errno;

			stream_tls_abandon(&x->io, err, errlen, e);
			return -1;
		}
		if (r > 0 && (pfd[1].revents & POLLIN)) {
			stream_tls_abandon(&x->io, err, errlen, ECANCELED);
			return -2;
		}
	}
	return 0;
}

/* start_tls - the handshake on the client's socket (--timeout, never
 * past the session's end), then the session learns what it agreed; 0,
 * -1 (logged): the connection ends, or -2: the server is stopping */
static int start_tls(struct conn_ctx *x, struct session *s)
{
	const struct config *cfg = x->c->env->cfg;
	struct tls_info info;
	char err[200], q[LOG_VALUE_MAX];
	long long deadline = monotonic_ms() + (long long)cfg->timeout * 1000;
	int r;

	if (cfg->tls_server == NULL) {
		log_event("tls-error", "error=\"no certificate\"");
		return -1;
	}
	if (deadline > x->session_deadline)
		deadline = x->session_deadline;
	if ((r = handshake(x, deadline, err, sizeof err)) < 0) {
		if (r == -1)
			log_event("tls-error", "error=%s", log_quote(q, sizeof q, err));
		return r;
	}
	stream_tls_info(&x->io, &info);
	session_tls_info(s, &info);
	log_event("tls", "version=%s cipher=%s bits=%d", info.version,
	          info.cipher, info.bits);
	return 0;
}

/* serve - the I/O loop; returns why it ended, for the log */
static const char *serve(struct conn *c, struct conn_ctx *x, struct session *s)
{
	const struct conn_env *env = c->env;
	const char *ended = "done";
	int stopping = 0, tls_asked = 0;
	char buf[READ_BUF];

	/* implicit TLS: encrypted from the first byte, greeting included */
	if (c->implicit_tls) {
		switch (start_tls(x, s)) {
		case -1: return "tls-failed";
		case -2: return "stopping";
		}
	}
	session_greet(s);
	for (;;) {
		struct pollfd pfd[2] = {
			{ x->io.fd, POLLIN, 0 }, { env->stop_fd, POLLIN, 0 }
		};
		unsigned long long pause = session_pause(s);
		int r;
		ssize_t n;
		size_t used;

		if (pause > 0 && !stopping)
			stopping = pause_for(x, pause);
		switch (send_output(x, s)) {
		case -1: return "write-error";
		case -2: return "write-timeout";
		}
		if (session_done(s))
			return ended;
		if (tls_asked) {
			/* the 220 went out in the clear; a failed handshake
			 * cannot go back to it */
			tls_asked = 0;
			switch (start_tls(x, s)) {
			case -1: return "tls-failed";
			case -2: return "stopping";
			}
			session_tls_started(s);
			continue;
		}
		if (stopping && !session_in_data(s)) {
			session_shutdown(s);
			continue;
		}
		if (session_over(x, s)) {
			session_timeout(s);
			ended = "session-timeout";
			continue;
		}
		/* Once stopping, only the socket is watched: a message in DATA
		 * may finish.  Under TLS, bytes already decrypted need no poll,
		 * and a read that waited for the socket to become writable (a
		 * TLS key update) polls for that. */
		pfd[0].events = stream_poll_events(&x->io, POLLIN);
		if (stream_pending(&x->io) > 0) {
			r = 1;
			pfd[0].revents = POLLIN;
		} else {
			r = poll(pfd, stopping ? 1 : 2, wait_ms(x, s));
		}
		if (session_in_data(s) && monotonic_ms() >= x->data_deadline) {
			/* even a client that keeps sending must finish in time */
			session_timeout(s);
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			/* the poll ends at the session's deadline too (wait_ms) */
			if (session_over(x, s))
				ended = "session-timeout";
			session_timeout(s);
			continue;
		}
		if (!stopping && (pfd[1].revents & POLLIN)) {
			stopping = 1;
			continue;
		}
		n = stream_read(&x->io, buf, sizeof buf);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0)
			return n == 0 ? "client-closed" : "read-error";
		switch (session_feed(s, buf, (size_t)n, &used)) {
		case SESSION_CONTINUE:
			break;
		case SESSION_CLOSE:
			/* the loop's top sends the last replies and ends it */
			break;
		case SESSION_START_TLS:
			/* The rest of buf came in the clear before the handshake:
			 * it is dropped, never fed (CVE-2011-0411). */
			tls_asked = 1;
			break;
		}
	}
}

/* conn_run - the connection thread's body */
void conn_run(struct conn *c)
{
	struct conn_ctx x;
	struct session *s;
	long long start = monotonic_ms();  /* the times logged: a clock set
	                                    * backwards must not make them negative */
	char peer[NETADDR_TEXT_MAX], ip[NETADDR_TEXT_MAX];
	const char *why;

	log_set_tag("c%lu", c->id);
	netaddr_text((struct sockaddr *)&c->peer, peer, sizeof peer);
	netaddr_ip((struct sockaddr *)&c->peer, ip, sizeof ip);
	memset(&x, 0, sizeof x);
	x.c = c;
	stream_init(&x.io, c->fd);
	x.session_deadline = monotonic_ms() + (long long)c->env->cfg->session_timeout * 1000;
	x.may_relay = config_may_relay(c->env->cfg, (struct sockaddr *)&c->peer);
	memcpy(x.ip, ip, sizeof x.ip);
	log_event("connect", "client=%s relay=%s%s%s", peer, x.may_relay ? "yes" : "no",
	          c->implicit_tls ? " tls=implicit" : "",
	          c->submission ? " service=submission" : "");
	s = session_new(c->env->scfg, &conn_ops, &x, ip, now_seconds);
	if (s == NULL) {
		static const char busy[] = "421 4.3.0 Out of memory, try later\r\n";
		if (stream_write(&x.io, busy, sizeof busy - 1) < 0) {
			/* the client learns by the close */
		}
		why = "no-memory";
	} else {
		why = serve(c, &x, s);
		session_free(s);    /* aborts an unfinished message */
	}
	stream_close(&x.io);
	log_event("disconnect", "client=%s reason=%s messages=%lu time=%lldms",
	          peer, why, x.messages, monotonic_ms() - start);
	if (c->on_exit)
		c->on_exit(c);
	free(c);
}
