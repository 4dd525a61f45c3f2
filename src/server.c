/* server.c - listeners, the acceptor thread and connection limits; see
 * server.h */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "authsrc.h"
#include "conn.h"
#include "log.h"
#include "server.h"
#include "stream.h"

/* Connection threads touch little of their stack; sanitizers need more. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
enum { CONN_STACK = 1024 * 1024 };
#else
enum { CONN_STACK = 128 * 1024 };
#endif

/* how long a connection thread without a client waits for the next one */
enum { CONN_THREAD_IDLE = 10 };

/* one client address and how many connections it has (--max-per-ip) */
struct ip_count {
	struct sockaddr_storage ip;
	unsigned n;
};

struct server {
	const struct config *cfg;
	struct session_config scfg;
	struct conn_env cenv;
	int *fds;                   /* listening sockets: --listen, then
	                             * --submission, then --smtps */
	size_t nfds;
	size_t nplain;              /* fds[nplain..]: --submission */
	size_t nsub_end;            /* fds[nsub_end..]: --smtps (implicit TLS) */
	int stop_fd;                /* eventfd: readable once stopping */
	pthread_t acceptor;
	int acceptor_running;
	unsigned long next_id;      /* acceptor thread only */

	pthread_mutex_t count_lock; /* guards active, ips, nips, and the pool */
	pthread_cond_t count_zero;  /* no connection, or no thread, any more */
	unsigned active;
	/* the pool: threads whose client has gone take the next ones */
	struct idle_thread *idle;   /* threads waiting for a client */
	unsigned threads;           /* connection threads alive */
	int stopping;
	struct ip_count *ips;       /* clients with a --max-per-ip limit */
	size_t nips;
};

/* A connection thread waiting for its next client.  It sleeps on a
 * semaphore of its own: the acceptor takes it off the list, hands it the
 * client and posts it, so one client wakes one thread, which need not
 * queue for the lock again to find its client. */
struct idle_thread {
	struct idle_thread *next;
	struct conn *c;             /* its client; NULL: the server stops */
	int taken;                  /* off the list: a post is coming */
	sem_t wake;
};

/* A connection and what it borrows for its whole session: the snapshot
 * current when it was accepted (config.h; SIGHUP does not change a
 * session in progress) and the session settings made from it.  The conn
 * comes first: conn_run() frees it as a struct conn. */
struct server_conn {
	struct conn c;
	struct conn_env env;
	struct session_config scfg;
};

/* the kinds of listener */
enum service { SVC_SMTP, SVC_SUBMISSION, SVC_SMTPS };

/* submission_rules - does a client of this service need AUTH before
 * MAIL?  --submission always (start-up needs a credential source for
 * it); --smtps when there is a credential source, else it keeps port-25
 * rules (there would be no way to send on it at all) */
static int submission_rules(const struct config *cfg, enum service svc)
{
	return svc == SVC_SUBMISSION || (svc == SVC_SMTPS && authsrc_configured(cfg));
}

/* session_settings - what the SMTP session needs from a snapshot for a
 * client of service svc */
static struct session_config session_settings(const struct config *cfg,
                                              enum service svc)
{
	int sub = submission_rules(cfg, svc);

	return (struct session_config){
		.hostname = cfg->hostname, .max_line = cfg->max_line,
		.max_size = cfg->max_size, .max_rcpt = cfg->max_rcpt,
		.max_received = cfg->max_received, .max_errors = cfg->max_errors,
		.soft_errors = cfg->soft_errors, .error_delay = cfg->error_delay,
		.max_junk = cfg->max_junk, .tls_available = cfg->tls_server != NULL,
		.tls_implicit = svc == SVC_SMTPS,
		.auth_required = sub,
		.auth_offered = sub || (cfg->auth_on_smtp && authsrc_configured(cfg)),
		.max_auth_failures = cfg->max_auth_failures,
		/* a failed login pauses ten times an error's first pause */
		.auth_delay = cfg->error_delay * 10,
		.hide_client = sub && cfg->hide_client,
	};
}

/* same_ip - do two addresses have the same IP (port ignored)? */
static int same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		              &((const struct sockaddr_in *)b)->sin_addr, 4) == 0;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
	              &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

/* ip_slot - the count for ip, or NULL; count_lock held */
static struct ip_count *ip_slot(struct server *s, const struct sockaddr_storage *ip)
{
	size_t i;

	for (i = 0; i < s->nips; i++)
		if (same_ip(&s->ips[i].ip, ip))
			return &s->ips[i];
	return NULL;
}

/* per_ip_limit - the --max-per-ip limit for a client, 0 for none.  The
 * default binds only clients outside --relay-from: those that may relay
 * are the site's own hosts, which may open many connections (as Postfix
 * exempts mynetworks); a limit given (command line or --config file)
 * binds all. */
static unsigned per_ip_limit(const struct config *cfg, const struct sockaddr_storage *peer)
{
	if (!cfg->max_per_ip_set && config_may_relay(cfg, (const struct sockaddr *)peer))
		return 0;
	return cfg->max_per_ip;
}

/* admit - count a new connection under the limits of snapshot cfg; 0,
 * or -1 when over a limit */
static int admit(struct server *s, const struct config *cfg,
                 const struct sockaddr_storage *peer)
{
	unsigned limit = per_ip_limit(cfg, peer);
	int ok = 0;

	pthread_mutex_lock(&s->count_lock);
	if (s->active >= cfg->max_clients) {
		ok = -1;
	} else if (limit) {
		struct ip_count *slot = ip_slot(s, peer);

		if (slot && slot->n >= limit) {
			ok = -1;
		} else if (slot) {
			slot->n++;
		} else {
			struct ip_count *grown = realloc(s->ips, (s->nips + 1) * sizeof *grown);
			if (grown == NULL) {
				ok = -1;
			} else {
				s->ips = grown;
				s->ips[s->nips].ip = *peer;
				s->ips[s->nips++].n = 1;
			}
		}
	}
	if (ok == 0)
		s->active++;
	pthread_mutex_unlock(&s->count_lock);
	return ok;
}

/* release - a connection admitted from peer under cfg has ended */
static void release(struct server *s, const struct config *cfg,
                    const struct sockaddr_storage *peer)
{
	unsigned limit = per_ip_limit(cfg, peer);   /* as admit() found it */

	pthread_mutex_lock(&s->count_lock);
	if (limit) {
		struct ip_count *slot = ip_slot(s, peer);

		if (slot && --slot->n == 0)
			*slot = s->ips[--s->nips];
	}
	if (--s->active == 0)
		pthread_cond_broadcast(&s->count_zero);
	pthread_mutex_unlock(&s->count_lock);
}

/* conn_finished - a connection thread is about to end */
static void conn_finished(struct conn *c)
{
	const struct config *cfg = c->env->cfg;

	release(c->owner, cfg, &c->peer);
	config_put(cfg);
}

/* next_client - wait a while for another client; NULL: the thread ends.
 * The thread's last touch of s is here, under the lock. */
static struct conn *next_client(struct server *s)
{
	struct idle_thread me = { .next = NULL };
	struct timespec until;
	int r = -1;

	/* sem_timedwait's clock is the real one: a clock set meanwhile
	 * changes only how long an idle thread lives (set back an hour, an
	 * idle thread may wait an hour; forward, it ends at once).
	 * sem_clockwait would take the monotonic clock, but ThreadSanitizer
	 * does not know it, and would take its wake-up for no ordering. */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += CONN_THREAD_IDLE;
	sem_init(&me.wake, 0, 0);
	pthread_mutex_lock(&s->count_lock);
	if (!s->stopping) {
		me.next = s->idle;
		s->idle = &me;
		pthread_mutex_unlock(&s->count_lock);
		while ((r = sem_timedwait(&me.wake, &until)) < 0 && errno == EINTR)
			;
		if (r == 0 && me.c != NULL) {
			sem_destroy(&me.wake);
			return me.c;        /* posted only once taken */
		}
		pthread_mutex_lock(&s->count_lock);
		if (!me.taken) {
			struct idle_thread **pp;

			for (pp = &s->idle; *pp != &me; pp = &(*pp)->next)
				;
			*pp = me.next;      /* timed out, nobody came */
		} else if (r < 0) {
			/* taken as the wait timed out: its post is on the way,
			 * and with it perhaps a client, which is ours */
			pthread_mutex_unlock(&s->count_lock);
			while (sem_wait(&me.wake) < 0 && errno == EINTR)
				;
			if (me.c != NULL) {
				sem_destroy(&me.wake);
				return me.c;
			}
			pthread_mutex_lock(&s->count_lock);
		}
	}
	if (--s->threads == 0)
		pthread_cond_broadcast(&s->count_zero);
	pthread_mutex_unlock(&s->count_lock);
	sem_destroy(&me.wake);
	return NULL;
}

/* conn_thread - pthread entry: one client after another */
static void *conn_thread(void *arg)
{
	struct conn *c = arg;
	struct server *s = c->owner;

	pthread_setname_np(pthread_self(), "mta-conn");   /* top -H, ps -L */
	do
		conn_run(c);                 /* frees c */
	while ((c = next_client(s)) != NULL);
	return NULL;
}

/* hand_over - give c to an idle thread; 0, or -1 when none is idle */
static int hand_over(struct server *s, struct conn *c)
{
	struct idle_thread *t;

	pthread_mutex_lock(&s->count_lock);
	if ((t = s->idle) != NULL) {
		s->idle = t->next;
		t->c = c;
		t->taken = 1;
	} else {
		s->threads++;                /* the caller starts one */
	}
	pthread_mutex_unlock(&s->count_lock);
	/* t waits for this post, even past its time-out (next_client) */
	if (t != NULL)
		sem_post(&t->wake);
	return t != NULL ? 0 : -1;
}

/* refuse - tell a client over the limit to come back later; on an
 * implicit TLS listener only by the close: a line in the clear would
 * reach the client's TLS layer as a broken record */
static void refuse(int fd, int implicit, const char *why)
{
	char line[128];
	int n = snprintf(line, sizeof line, "421 4.7.0 %s, try again later\r\n", why);
	struct stream io;

	stream_init(&io, fd);
	if (implicit) {
		stream_close(&io);
		return;
	}
	/* Non-blocking: the acceptor must never wait for one client. */
	stream_nonblock(&io, 1);
	if (stream_write(&io, line, (size_t)n) < 0) {
		/* nothing more to do for it */
	}
	stream_close(&io);
}

/* accept_one - accept a client on listening socket lfd of service svc */
static void accept_one(struct server *s, int lfd, enum service svc,
                       pthread_attr_t *attr)
{
	int implicit = svc == SVC_SMTPS;
	struct sockaddr_storage peer;
	socklen_t plen = sizeof peer;
	const struct config *cfg;
	struct server_conn *sc;
	struct conn *c;
	pthread_t t;
	/* Non-blocking: the connection's replies go out through poll() with
	 * --timeout, so a client that stops reading is dropped instead of
	 * holding its thread in write() forever (conn.c send_output). */
	int fd = accept4(lfd, (struct sockaddr *)&peer, &plen,
	                 SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0) {
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			log_event("accept-error", "error=\"%s\"", strerror(errno));
			/* out of descriptors: back off instead of spinning */
			struct timespec pause = { 0, 50 * 1000 * 1000 };
			nanosleep(&pause, NULL);
		}
		return;
	}
	/* Replies are whole writes already, so Nagle only delays them: after
	 * a TLS 1.3 handshake the session tickets go out in a segment of
	 * their own, and the next reply would wait for its ACK, which the
	 * client delays (~40 ms a connection). */
	{
		int one = 1;

		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	}
	/* the snapshot of this session, put by conn_finished() */
	if ((cfg = config_get()) == NULL)
		cfg = config_hold(s->cfg);
	if (admit(s, cfg, &peer) < 0) {
		char text[NETADDR_TEXT_MAX];

		netaddr_text((struct sockaddr *)&peer, text, sizeof text);
		log_event("refuse-connection", "client=%s reason=limit", text);
		refuse(fd, implicit, "Too many connections");
		config_put(cfg);
		return;
	}
	if ((sc = calloc(1, sizeof *sc)) == NULL) {
		refuse(fd, implicit, "Out of memory");
		release(s, cfg, &peer);
		config_put(cfg);
		return;
	}
	c = &sc->c;
	sc->scfg = session_settings(cfg, svc);
	sc->env = s->cenv;
	sc->env.cfg = cfg;
	sc->env.scfg = &sc->scfg;
	c->env = &sc->env;
	c->fd = fd;
	c->id = ++s->next_id;
	c->implicit_tls = implicit;
	c->submission = sc->scfg.auth_required;
	c->peer = peer;
	c->on_exit = conn_finished;
	c->owner = s;
	if (hand_over(s, c) == 0)
		return;
	if (pthread_create(&t, attr, conn_thread, c) != 0) {
		log_event("thread-error", "error=\"cannot create connection thread\"");
		free(sc);
		refuse(fd, implicit, "Out of resources");
		release(s, cfg, &peer);
		config_put(cfg);
		pthread_mutex_lock(&s->count_lock);
		s->threads--;
		pthread_mutex_unlock(&s->count_lock);
	}
}

/* acceptor - the accepting thread */
static void *acceptor(void *arg)
{
	struct server *s = arg;
	struct pollfd *pfd = calloc(s->nfds + 1, sizeof *pfd);
	pthread_attr_t attr;
	size_t i;

	log_set_tag("accept");
	pthread_setname_np(pthread_self(), "mta-accept");
	if (pfd == NULL) {
		log_event("fatal", "error=\"out of memory in acceptor\"");
		return NULL;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, CONN_STACK);
	for (i = 0; i < s->nfds; i++)
		pfd[i] = (struct pollfd){ s->fds[i], POLLIN, 0 };
	pfd[s->nfds] = (struct pollfd){ s->stop_fd, POLLIN, 0 };
	for (;;) {
		if (poll(pfd, s->nfds + 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_event("poll-error", "error=\"%s\"", strerror(errno));
			break;
		}
		if (pfd[s->nfds].revents)
			break;
		for (i = 0; i < s->nfds; i++)
			if (pfd[i].revents & POLLIN)
				accept_one(s, s->fds[i], i >= s->nsub_end ? SVC_SMTPS
				           : i >= s->nplain ? SVC_SUBMISSION : SVC_SMTP, &attr);
	}
	pthread_attr_destroy(&attr);
	free(pfd);
	return NULL;
}

/* listen_on - one listening socket; the fd or -1 with err set */
static int listen_on(const struct listen_addr *la, char *err, size_t errlen)
{
	int one = 1;
	/* Non-blocking: a client that resets between poll() and accept4()
	 * must not stall the acceptor (accept4 then fails with EAGAIN). */
	int fd = socket(la->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0) {
		snprintf(err, errlen, "socket for %s: %s", la->text, strerror(errno));
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (la->ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (const struct sockaddr *)&la->ss, la->len) < 0) {
		snprintf(err, errlen, "bind %s: %s", la->text, strerror(errno));
		close(fd);
		return -1;
	}
	if (listen(fd, 1024) < 0) {
		snprintf(err, errlen, "listen %s: %s", la->text, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* server_bind - all listening sockets */
int server_bind(struct server **sp, const struct config *cfg, struct queue *q,
                char *err, size_t errlen)
{
	struct server *s = calloc(1, sizeof *s);
	pthread_condattr_t ca;
	size_t i;

	if (s == NULL ||
	    (s->fds = calloc(cfg->nlisten + cfg->nsubmission + cfg->nsmtps,
	                     sizeof *s->fds)) == NULL) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->cfg = cfg;
	if (cfg->nsubmission > 0 && !authsrc_configured(cfg)) {
		snprintf(err, errlen, "--submission %s needs a credential source "
		         "(--users or --dovecot-auth)", cfg->submission[0].text);
		free(s->fds);
		free(s);
		return -1;
	}
	for (i = 0; i < cfg->nlisten; i++) {
		int fd = listen_on(&cfg->listen[i], err, errlen);

		if (fd < 0)
			goto fail;
		s->fds[s->nfds++] = fd;
	}
	s->nplain = s->nfds;
	for (i = 0; i < cfg->nsubmission; i++) {
		int fd = listen_on(&cfg->submission[i], err, errlen);

		if (fd < 0)
			goto fail;
		s->fds[s->nfds++] = fd;
	}
	s->nsub_end = s->nfds;
	for (i = 0; i < cfg->nsmtps; i++) {
		int fd = listen_on(&cfg->smtps[i], err, errlen);

		if (fd < 0)
			goto fail;
		s->fds[s->nfds++] = fd;
	}
	s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (s->stop_fd < 0) {
		snprintf(err, errlen, "eventfd: %s", strerror(errno));
		goto fail;
	}
	/* the template of each connection's; cfg and scfg are its own */
	s->scfg = session_settings(cfg, SVC_SMTP);
	s->cenv = (struct conn_env){ cfg, &s->scfg, q, s->stop_fd };
	pthread_mutex_init(&s->count_lock, NULL);
	/* the shutdown wait keeps its length if the clock is set (an idle
	 * thread's wait is on the real clock: next_client) */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->count_zero, &ca);
	pthread_condattr_destroy(&ca);
	*sp = s;
	return 0;
fail:
	for (i = 0; i < s->nfds; i++)
		close(s->fds[i]);
	free(s->fds);
	free(s);
	return -1;
}

/* server_start - the acceptor thread */
int server_start(struct server *s, char *err, size_t errlen)
{
	size_t i;

	if (pthread_create(&s->acceptor, NULL, acceptor, s) != 0) {
		snprintf(err, errlen, "cannot start the acceptor thread");
		return -1;
	}
	s->acceptor_running = 1;
	for (i = 0; i < s->cfg->nlisten; i++)
		log_event("listen", "address=%s%s", s->cfg->listen[i].text,
		          s->cfg->tls_server ? " starttls=yes" : "");
	for (i = 0; i < s->cfg->nsubmission; i++)
		log_event("listen", "address=%s starttls=yes service=submission",
		          s->cfg->submission[i].text);
	for (i = 0; i < s->cfg->nsmtps; i++)
		log_event("listen", "address=%s tls=implicit%s", s->cfg->smtps[i].text,
		          submission_rules(s->cfg, SVC_SMTPS) ? " service=submission" : "");
	return 0;
}

/* server_stop - stop accepting, let connections finish, wait for them */
void server_stop(struct server *s, unsigned grace_seconds)
{
	uint64_t one = 1;
	struct timespec deadline;
	size_t i;
	int left;
	unsigned threads;

	if (write(s->stop_fd, &one, sizeof one) < 0)
		log_event("stop-error", "error=\"%s\"", strerror(errno));
	if (s->acceptor_running)
		pthread_join(s->acceptor, NULL);
	for (i = 0; i < s->nfds; i++)
		close(s->fds[i]);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += grace_seconds;
	pthread_mutex_lock(&s->count_lock);
	s->stopping = 1;                 /* idle threads end now */
	while (s->idle != NULL) {
		struct idle_thread *t = s->idle;

		s->idle = t->next;
		t->c = NULL;
		t->taken = 1;
		sem_post(&t->wake);
	}
	while (s->active > 0 || s->threads > 0)
		if (pthread_cond_timedwait(&s->count_zero, &s->count_lock, &deadline) == ETIMEDOUT)
			break;
	left = (int)s->active;
	threads = s->threads;
	pthread_mutex_unlock(&s->count_lock);
	if (left > 0)
		log_event("stop", "connections_left=%d", left);
	/* With threads left they still use s: it is not freed (the process
	 * is about to exit). */
	if (threads == 0) {
		close(s->stop_fd);
		pthread_mutex_destroy(&s->count_lock);
		pthread_cond_destroy(&s->count_zero);
		free(s->ips);
		free(s->fds);
		free(s);
	}
}
