/* gun_loop.c - one thread's share of the gun's sessions, on one epoll
 *
 * Each session (struct slot) is a non-blocking stream (stream.h: every
 * socket byte goes through stream_read/stream_write) and its dialogue
 * (gun_dialog.c).  The loop moves bytes: what the server sent goes into
 * the dialogue, what the dialogue has to say goes out at once, and only
 * what the kernel would not take waits for EPOLLOUT.  A session whose
 * connection ends opens a new one unless the dialogue has no more
 * messages, or GUN_CONNECT_TRIES attempts in a row never got past
 * EHLO/HELO, with STARTTLS the EHLO over TLS, so that a handshake that
 * fails is a failed attempt (a connection that has had
 * cfg->per_connection messages ends with QUIT and is followed by a new
 * one in the same way; with such a limit a session connects only for a
 * message it has already taken).
 *
 * TLS: with implicit TLS the handshake starts as soon as the connection
 * is up; with STARTTLS when the dialogue has its 220
 * (gun_dialog_tls_wanted).  The handshake goes a step at each event
 * (stream_tls_step), watching for what OpenSSL needs, under the hello
 * time limit; then the dialogue goes on (EHLO again after STARTTLS).
 * Decrypted bytes can wait inside the stream after a read: they are read
 * before the loop sleeps again (epoll sees only the socket); a read that
 * must write first (stream_poll_events says POLLOUT) waits for EPOLLOUT.
 *
 * Time limits: each session has a deadline, set from the dialogue's limit
 * for what it waits for when that wait begins: when the connection is
 * up, when a whole reply has been read, and when the whole of what was
 * to be written (a command group, a block of the message) has gone out.
 * Bytes that trickle in without completing a reply do not move it.
 * Deadlines are checked every GUN_POLL_MS, so a limit is kept to within
 * that.
 *
 * Waiting: a loop whose last round made progress (a whole reply read, a
 * whole write done, a connection up) polls for more for up to
 * job->spin_us before it sleeps in epoll_wait (see spin()); any other
 * loop sleeps at once.  Once the run is told to stop, sessions without a
 * message under way are closed at the next check; told to give up, all
 * of them are.
 *
 * Thread safety: a loop touches only its own slots; what it shares is
 * struct gun (see gun_priv.h), reached through the dialogue's feed.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gun_priv.h"
#include "monotonic.h"
#include "netaddr.h"
#include "stream.h"

enum { EVENTS_MAX = 64, INPUT_MAX = 4096 };

struct slot {
	struct stream io;                /* io.fd -1: no connection */
	int connecting;                  /* connect() under way */
	int want_out;                    /* EPOLLOUT is armed for a write */
	int read_out;                    /* ... for a TLS read that must write */
	int handshaking;                 /* a TLS handshake is under way */
	int counted;                     /* this connection's open was counted */
	int over;                        /* the session has ended */
	unsigned tries;                  /* failed attempts in a row */
	const struct addrinfo *addr;     /* the address tried */
	long long deadline;              /* ms, monotonic */
	int limit_ms;                    /* what the deadline came from */
	char peer[96];
	struct gun_dialog d;
};

struct loop {
	struct gun *g;
	const struct gun_config *cfg;
	int ep;
	struct slot *slots;
	unsigned n, live;
	unsigned spin_us;                /* polling before a sleep; 0: never */
	unsigned long waits;             /* waits begun (arm()): progress */
	long long now;                   /* ms, read after every wait */
	char in[INPUT_MAX];
};

static void slot_connect(struct loop *L, struct slot *s);

/* watch - what epoll should report for s: input always; output while
 * connecting or while the kernel would not take everything.  0, or -1
 * with errno (only EPOLL_CTL_ADD can fail: no memory, or the per-user
 * limit of watched descriptors) */
static int watch(struct loop *L, struct slot *s, int op)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN | (s->connecting || s->want_out || s->read_out ? EPOLLOUT : 0);
	ev.data.ptr = s;
	return epoll_ctl(L->ep, op, s->io.fd, &ev);
}

/* arm - a new wait begins: its deadline */
static void arm(struct loop *L, struct slot *s)
{
	L->waits++;
	s->limit_ms = gun_dialog_timeout(&s->d, &L->cfg->timeouts);
	s->deadline = L->now + s->limit_ms;
}

/* more_for - is there a message for s to connect for: one it holds
 * (the run not stopped) or one still to take */
static int more_for(struct loop *L, struct slot *s)
{
	if (gun_dialog_held(&s->d))
		return !atomic_load(&L->g->stop);
	return gun_more_to_take(L->g);
}

/* slot_over - this session is done */
static void slot_over(struct loop *L, struct slot *s)
{
	s->over = 1;
	L->live--;
}

/* slot_closed - the connection is gone: another, or the end */
static void slot_closed(struct loop *L, struct slot *s)
{
	stream_close(&s->io);            /* leaves the epoll set too */
	s->connecting = s->want_out = s->read_out = s->handshaking = 0;
	if (gun_dialog_finished(&s->d) || !more_for(L, s)) {
		slot_over(L, s);
		return;
	}
	if (!gun_dialog_opened(&s->d) && ++s->tries >= GUN_CONNECT_TRIES) {
		slot_over(L, s);
		return;
	}
	s->addr = NULL;
	slot_connect(L, s);
}

/* flush - write what the dialogue has to say; 0, or -1 when the
 * connection was lost (and closed) */
static int flush(struct loop *L, struct slot *s)
{
	for (;;) {
		const char *p;
		size_t n;
		ssize_t w;

		gun_dialog_output(&s->d, &p, &n);
		if (n == 0)
			break;
		w = stream_write(&s->io, p, n);
		if (w > 0) {
			gun_dialog_wrote(&s->d, (size_t)w);
			if ((size_t)w == n)
				arm(L, s);       /* all of it out: the next wait */
			continue;
		}
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (!s->want_out) {
				s->want_out = 1;
				watch(L, s, EPOLL_CTL_MOD);
			}
			return 0;
		}
		{
			int err = errno;
			/* A server that refuses in mid-message (552) and hangs up:
			 * its reason may be readable, and beats "broken pipe". */
			ssize_t r = stream_read(&s->io, L->in, sizeof L->in);

			if (r <= 0 || gun_dialog_input(&s->d, L->in, (size_t)r) == 0)
				gun_dialog_lost(&s->d, err, s->limit_ms);
			slot_closed(L, s);
			return -1;
		}
	}
	if (s->want_out) {
		s->want_out = 0;
		watch(L, s, EPOLL_CTL_MOD);
	}
	return 0;
}

/* connect_failed - no address answered: note why, try again or stop */
static void connect_failed(struct loop *L, struct slot *s, int err)
{
	struct status st;
	char eb[128];

	stream_close(&s->io);
	s->connecting = 0;
	if (s->addr != NULL && s->addr->ai_next != NULL) {
		s->addr = s->addr->ai_next;      /* the next address, same attempt */
		slot_connect(L, s);
		return;
	}
	st = status_make(ST_TEMP, 4, 1, "connect to %s: %s", s->peer,
	                 strerror_r(err, eb, sizeof eb));
	L->g->feed.note(L->g->feed.ctx, &st);
	if (++s->tries >= GUN_CONNECT_TRIES || !more_for(L, s)) {
		slot_over(L, s);
		return;
	}
	s->addr = NULL;
	slot_connect(L, s);
}

static void readable(struct loop *L, struct slot *s);

/* handshake_step - the TLS handshake goes as far as it can now; done,
 * the dialogue goes on */
static void handshake_step(struct loop *L, struct slot *s)
{
	char err[160];
	int want_out;

	if (stream_tls_step(&s->io, err, sizeof err) == 0) {
		s->handshaking = 0;
		atomic_fetch_add(&L->g->tls_connects, 1);
		gun_dialog_tls_started(&s->d);   /* STARTTLS: EHLO again */
		arm(L, s);
		if (s->want_out) {
			s->want_out = 0;
			watch(L, s, EPOLL_CTL_MOD);
		}
		if (flush(L, s) == 0 && stream_pending(&s->io) > 0)
			readable(L, s);          /* the greeting came with it */
		return;
	}
	if (errno == EAGAIN) {
		want_out = (stream_poll_events(&s->io, POLLIN) & POLLOUT) != 0;
		if (want_out != s->want_out) {
			s->want_out = want_out;
			watch(L, s, EPOLL_CTL_MOD);
		}
		return;
	}
	gun_dialog_tls_failed(&s->d, err);
	slot_closed(L, s);
}

/* begin_tls - the handshake starts, under the hello time limit */
static void begin_tls(struct loop *L, struct slot *s)
{
	if (stream_tls_begin(&s->io, L->cfg->tls_ctx, 0) < 0) {
		gun_dialog_tls_failed(&s->d, "cannot make a TLS object");
		slot_closed(L, s);
		return;
	}
	s->handshaking = 1;
	s->limit_ms = L->cfg->timeouts.hello;
	s->deadline = L->now + s->limit_ms;
	handshake_step(L, s);
}

/* connected - the connection is up: the dialogue starts (implicit TLS:
 * behind the handshake) */
static void connected(struct loop *L, struct slot *s)
{
	int one = 1;

	/* commands and message blocks are whole writes already */
	setsockopt(s->io.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	s->connecting = 0;
	s->counted = 0;
	gun_dialog_start(&s->d, &L->g->feed, L->cfg->helo, s->peer);
	if (L->cfg->connect_only)
		gun_dialog_connect_only(&s->d);
	else
		gun_dialog_per_connection(&s->d, L->cfg->per_connection);
	if (L->cfg->tls == GUN_TLS_STARTTLS)
		gun_dialog_use_starttls(&s->d);
	if (L->cfg->auth_user != NULL)
		gun_dialog_use_auth(&s->d, L->cfg->auth_user, L->cfg->auth_pass);
	arm(L, s);
	if (L->cfg->tls == GUN_TLS_IMPLICIT)
		begin_tls(L, s);
}

/* slot_connect - start connecting to s->addr (NULL: the first address) */
static void slot_connect(struct loop *L, struct slot *s)
{
	const struct addrinfo *a;

	if (s->addr == NULL)
		s->addr = L->g->addrs;
	a = s->addr;
	netaddr_text(a->ai_addr, s->peer, sizeof s->peer);
	stream_init(&s->io, socket(a->ai_family,
	                           SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
	if (!stream_open(&s->io)) {
		connect_failed(L, s, errno);
		return;
	}
	if (connect(s->io.fd, a->ai_addr, a->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			connect_failed(L, s, errno);
			return;
		}
		s->connecting = 1;
		s->limit_ms = L->cfg->timeouts.connect;
		s->deadline = L->now + s->limit_ms;
	}
	/* unwatched, a session would hear nothing until its time limit */
	if (watch(L, s, EPOLL_CTL_ADD) < 0) {
		connect_failed(L, s, errno);
		return;
	}
	if (!s->connecting)
		connected(L, s);
}

/* opened - count a connection that got past EHLO/HELO, once */
static void opened(struct loop *L, struct slot *s)
{
	if (!s->counted && gun_dialog_opened(&s->d)) {
		s->counted = 1;
		s->tries = 0;
		atomic_fetch_add(&L->g->connects, 1);
	}
}

/* read_waits_out - whether the last read waits for the socket to be
 * writable (under TLS a read may have to write first: a key update's
 * answer), which EPOLLOUT must then report */
static void read_waits_out(struct loop *L, struct slot *s, int out)
{
	if (out != s->read_out) {
		s->read_out = out;
		watch(L, s, EPOLL_CTL_MOD);
	}
}

/* readable - the server sent something (or hung up); under TLS, until
 * no decrypted byte waits inside the stream */
static void readable(struct loop *L, struct slot *s)
{
	do {
		ssize_t r = stream_read(&s->io, L->in, sizeof L->in);
		unsigned long replies = gun_dialog_replies(&s->d);
		int rc;

		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			read_waits_out(L, s, (stream_poll_events(&s->io, POLLIN) & POLLOUT) != 0);
			return;
		}
		if (r <= 0) {
			gun_dialog_lost(&s->d, r == 0 ? 0 : errno, s->limit_ms);
			slot_closed(L, s);
			return;
		}
		read_waits_out(L, s, 0);
		rc = gun_dialog_input(&s->d, L->in, (size_t)r);
		opened(L, s);
		if (rc < 0) {
			slot_closed(L, s);
			return;
		}
		if (gun_dialog_tls_wanted(&s->d)) {
			/* the 220 to STARTTLS: whatever else came in the clear
			 * was dropped by the dialogue */
			begin_tls(L, s);
			return;
		}
		if (gun_dialog_replies(&s->d) != replies)
			arm(L, s);               /* a whole reply: the next wait */
		if (flush(L, s) < 0)
			return;
	} while (stream_pending(&s->io) > 0);
}

/* event - one epoll report for s */
static void event(struct loop *L, struct slot *s, unsigned events)
{
	if (s->connecting) {
		/* whatever was reported, SO_ERROR says how the connect went */
		int err = 0;
		socklen_t len = sizeof err;

		if (getsockopt(s->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		if (err != 0) {
			connect_failed(L, s, err);
			return;
		}
		s->connecting = s->want_out = 0;
		watch(L, s, EPOLL_CTL_MOD);  /* EPOLLOUT off: writable is no news */
		connected(L, s);
		return;
	}
	if (s->handshaking) {
		handshake_step(L, s);
		return;
	}
	if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) ||
	    ((events & EPOLLOUT) && s->read_out)) {
		readable(L, s);
		if (s->io.fd < 0 || s->over)
			return;
	}
	if ((events & EPOLLOUT) && s->want_out)
		flush(L, s);
}

/* expire - every session past its deadline has timed out; once the run
 * is stopped, sessions without a message under way end now */
static void expire(struct loop *L)
{
	int stopping = atomic_load(&L->g->stop);
	unsigned i;

	for (i = 0; i < L->n; i++) {
		struct slot *s = &L->slots[i];

		if (s->over || s->io.fd < 0)
			continue;
		if (stopping == 2 || (stopping && !gun_dialog_busy(&s->d))) {
			if (gun_dialog_busy(&s->d))
				gun_dialog_lost(&s->d, ECANCELED, s->limit_ms);
			stream_close(&s->io);
			slot_over(L, s);
		} else if (L->now < s->deadline) {
			continue;
		} else if (s->connecting) {
			connect_failed(L, s, ETIMEDOUT);
		} else {
			/* stuck writing, or waiting for a reply */
			gun_dialog_lost(&s->d, s->want_out ? EAGAIN : ETIMEDOUT,
			                s->limit_ms);
			slot_closed(L, s);
		}
	}
}

/* spin - look for events without sleeping, for up to L->spin_us: a loop
 * that just made progress usually has more within microseconds, and
 * going to sleep and being woken costs more than that (on 2 CPUs, a
 * quarter of the rate without PIPELINING).  Returns the events found, or 0. */
static int spin(struct loop *L, struct epoll_event *ev)
{
	unsigned long long until;
	int nev;

	if (L->spin_us == 0)
		return 0;
	until = monotonic_us() + L->spin_us;
	do
		nev = epoll_wait(L->ep, ev, EVENTS_MAX, 0);
	while (nev == 0 && monotonic_us() < until);
	return nev;
}

/* run - every session until all are over */
static void run(struct loop *L)
{
	struct epoll_event ev[EVENTS_MAX];
	long long next_check;
	unsigned i;
	int busy = 0;

	L->now = monotonic_ms();
	for (i = 0; i < L->n; i++) {
		struct slot *s = &L->slots[i];

		stream_init(&s->io, -1);
		/* with a limit per connection, each connection is opened for a
		 * message it already has (gun_dialog.h), the first one too */
		if ((L->cfg->per_connection > 0 || L->cfg->connect_only) &&
		    gun_dialog_reserve(&s->d, &L->g->feed) < 0) {
			slot_over(L, s);
			continue;
		}
		slot_connect(L, s);
	}
	next_check = L->now + GUN_POLL_MS;
	while (L->live > 0) {
		unsigned long waits = L->waits;
		int k, nev = busy ? spin(L, ev) : 0;

		if (nev == 0)
			nev = epoll_wait(L->ep, ev, EVENTS_MAX, GUN_POLL_MS);
		L->now = monotonic_ms();
		for (k = 0; k < nev; k++) {
			struct slot *s = ev[k].data.ptr;

			if (!s->over && s->io.fd >= 0)
				event(L, s, ev[k].events);
		}
		if (L->now >= next_check) {
			expire(L);
			next_check = L->now + GUN_POLL_MS;
		}
		/* a whole reply read or a whole write done: more is likely
		 * soon; a byte trickling in is no reason to stay awake */
		busy = L->waits != waits;
	}
}

/* gun_loop_main - one loop thread */
void *gun_loop_main(void *arg)
{
	struct gun_loop_job *job = arg;
	struct gun *g = job->g;
	struct loop L;
	struct status st;

	memset(&L, 0, sizeof L);
	L.g = g;
	L.cfg = g->cfg;
	L.n = L.live = job->sessions;
	L.spin_us = job->spin_us;
	L.ep = epoll_create1(EPOLL_CLOEXEC);
	L.slots = calloc(L.n, sizeof *L.slots);
	if (L.ep >= 0 && L.slots != NULL) {
		run(&L);
	} else {
		char eb[128];

		st = status_make(ST_TEMP, 3, 0, "cannot start sessions: %s",
		                 strerror_r(errno, eb, sizeof eb));
		g->feed.note(g->feed.ctx, &st);
	}
	free(L.slots);
	if (L.ep >= 0)
		close(L.ep);
	pthread_mutex_lock(&g->mu);
	g->running--;
	pthread_cond_signal(&g->cv);
	pthread_mutex_unlock(&g->mu);
	return NULL;
}
