/* gun - the mail gun: many messages over many concurrent SMTP sessions to
 * one server, with counts, rate and latency.
 *
 * gun_run() resolves the server once, then starts cfg->threads event-loop
 * threads (0: one per GUN_CPUS_PER_LOOP CPUs, at least one, so that most
 * CPUs are left to a server under test on the same host; at most
 * GUN_LOOPS_MAX, never more than sessions) and shares
 * cfg->sessions sessions out among them (never more sessions than there
 * are messages to send).  Each session is its own connection with its own
 * non-blocking SMTP dialogue (gun_dialog.h); a loop thread waits on all of
 * its sessions' sockets at once (epoll), so a reply costs no thread
 * switch, and a loop that just made progress polls for GUN_SPIN_US
 * before it sleeps (only when this process may use more CPUs than there
 * are loops), so a reply under load costs no wake-up either.
 *
 * A session takes the next message from a shared atomic index over
 * [0, nmsgs * repeat) and sends it over its connection; it keeps the
 * connection for message after message (a refused transaction leaves a
 * RSET owed, which goes out pipelined with the next MAIL when the server
 * offers PIPELINING); after a network failure it reconnects for its next
 * message; after GUN_CONNECT_TRIES connection attempts in a row that
 * never got past EHLO/HELO (with STARTTLS: the EHLO over TLS) it stops.  cfg->per_connection > 0 bounds the
 * messages of one connection: after that many it says QUIT and opens a
 * new one (1: a new connection, and with TLS a new handshake, for every
 * message); each such connection is opened for a message its session
 * has already taken, so there are never more connections than needed.  cfg->connect_only makes each message stand for one
 * connection that sends nothing: connect, greeting, EHLO (STARTTLS, the
 * handshake and EHLO again with cfg->tls), QUIT; such a "message" is sent
 * once the hello is done, its latency measured from the connection's
 * start (TCP connected) to the reply to the last EHLO.
 *
 * Each message counts once:
 *   sent     the server accepted it for every recipient;
 *   refused  otherwise, and the worst answer was a 5xx (or a local refusal
 *            such as an address that cannot be sent);
 *   failed   a 4xx, a network failure or timeout, or never attempted
 *            (no recipients, or every session gave up or was stopped).
 * Latency: from queueing MAIL (a pending RSET included) to the reply that
 * decided the message (the one after the dot, or the refusal), for every
 * message the server answered (sent or refused); p50 and p99 by nearest
 * rank over them.
 *
 * TLS (cfg->tls): GUN_TLS_IMPLICIT makes the handshake the first thing
 * on each connection (a server's --smtps port), GUN_TLS_STARTTLS says
 * STARTTLS after EHLO whenever the server offers it (and goes on in the
 * clear where it does not, or refuses it: noted as a failure).  Every
 * connection is a full handshake with cfg->tls_ctx (tls_client_ctx, the
 * one client context of delivery too; the gun sets no host: no
 * certificate checked; no session kept, so never a resumption); a failed
 * one counts as a failed connection attempt.  tls_connects counts the
 * handshakes done.
 *
 * Time limits (cfg->timeouts): each wait has the limit of what it waits
 * for (the greeting, MAIL's reply, the writing of a block of the
 * message...), from when it began; bytes that trickle in without making
 * a whole reply do not extend it.  Limits are checked every GUN_POLL_MS.
 *
 * While the sessions run, the calling thread calls cfg->progress about
 * every cfg->progress_ms (rounded up to GUN_POLL_MS), and once more with
 * final set; it asks cfg->should_stop (if set) every GUN_POLL_MS: once
 * it says 1, sessions take no new messages, those without a message under
 * way are closed at once, the others when their message is done (or its
 * time limit is up), and the run ends early; once it says 2, the messages
 * under way are given up too (counted as failed) and the run ends now.
 *
 * Contract: cfg, the messages and every string they point to are
 * borrowed, read-only, and must stay valid until gun_run() returns; they
 * are shared by all loop threads unlocked (nobody writes them).  The
 * counters are atomics; the first error texts sit behind one mutex.
 * gun_run() is not reentrant per struct gun_stats, but separate runs are
 * independent.  Signals are the caller's business: block them before
 * calling, the loop threads inherit the mask.
 */
#ifndef MTA_GUN_H
#define MTA_GUN_H

#include <stddef.h>

#include "gun_dialog.h"    /* struct gun_msg */
#include "smtp_dialog.h"
#include "status.h"

struct tls_ctx;

enum {
	GUN_CONNECT_TRIES = 3,          /* failed connects in a row: session ends */
	GUN_LOOPS_MAX = 64,             /* event-loop threads at most */
	GUN_CPUS_PER_LOOP = 4,          /* the default: a loop per 4 CPUs */
	GUN_SPIN_US = 50,               /* a busy loop polls this long, then sleeps */
	GUN_STACK_SIZE = 256 * 1024,    /* per loop thread */
	GUN_POLL_MS = 100               /* should_stop is asked this often */
};

struct gun_stats {
	unsigned long long total;      /* messages to send: nmsgs * repeat */
	unsigned long long sent, refused, failed;
	unsigned long long connects;   /* connections that got past EHLO/HELO */
	unsigned long long tls_connects; /* TLS handshakes done */
	double elapsed;                /* seconds since the start */
	double p50_ms, p99_ms;         /* only in the final call / result */
	unsigned long long answered;   /* messages with a latency */
	int have_refusal, have_failure;
	struct status first_refusal;   /* for the user: why, the first time */
	struct status first_failure;
};

struct gun_config {
	const char *host, *port;       /* the server */
	const char *helo;              /* our EHLO name */
	const struct gun_msg *msgs;
	size_t nmsgs;
	unsigned long repeat;          /* >= 1 */
	unsigned sessions;             /* >= 1 */
	unsigned threads;              /* event-loop threads; 0: automatic */
	unsigned per_connection;       /* messages per connection; 0: no limit */
	int connect_only;              /* connections only, no message sent */
	struct smtp_timeouts timeouts; /* the handshake has timeouts.hello */
	enum gun_tls { GUN_TLS_NONE, GUN_TLS_IMPLICIT, GUN_TLS_STARTTLS } tls;
	struct tls_ctx *tls_ctx;       /* for tls; borrowed, shared by the
	                                * loops (read-only: tls.h) */
	const char *auth_user;         /* AUTH on every connection; NULL: none */
	const char *auth_pass;         /* (borrowed for the run) */
	int progress_ms;               /* > 0 */
	void (*progress)(void *ctx, const struct gun_stats *now, int final);
	int (*should_stop)(void *ctx); /* 0 go on, 1 stop, 2 give up now */
	void *ctx;
};

/* gun_run - fire every message; fills *st.  Returns 0 when the run took
 * place (whatever its outcome), -1 with errno when it could not start
 * (no threads, no memory; EINVAL for a bad configuration, such as a helo
 * that smtp_helo_ok refuses). */
int gun_run(const struct gun_config *cfg, struct gun_stats *st);

#endif
