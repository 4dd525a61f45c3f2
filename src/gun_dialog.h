/* gun_dialog - the SMTP dialogue of one mail-gun session, without sockets.
 *
 * The mail gun's use of the client engine (smtp_dialog.h): the caller
 * (gun_loop.c) owns the connection, feeds the dialogue whatever bytes the
 * server sent, in any fragments, and writes out whatever the dialogue
 * has to say.  The engine reads the greeting, says EHLO (HELO when EHLO
 * gets a 5xx); this layer then takes message after message from its feed
 * and hands each to the engine as one transaction (its message from
 * memory, lines sent as they are however long), until the feed has none
 * left; then QUIT.  gun_dialog_per_connection() bounds the messages of one
 * connection: once that many are taken, the dialogue takes the next one
 * for the next connection (gun_dialog_held() says so; it is kept through
 * gun_dialog_start(), and the first message sent there), says QUIT, and
 * the caller opens that connection; when the feed has none left, the
 * session is finished instead.  The caller takes the first connection's
 * message the same way (gun_dialog_reserve()), so that with a limit no
 * connection is opened for nothing.  With
 * gun_dialog_connect_only() a connection takes one message and sends
 * nothing of it: once the hello is done (STARTTLS and the EHLO over TLS
 * included) the message is reported GUN_SENT, its latency from
 * gun_dialog_start(), and the dialogue says QUIT; what is measured is the
 * server's handling of connections.  The transactions are the engine's: PIPELINING, the
 * RSET owed after a refusal, SIZE= and BODY=8BITMIME as smtp_dialog.h
 * says.
 *
 * Each message taken is reported to feed->done exactly once:
 *   GUN_SENT     the server accepted it for every recipient;
 *   GUN_REFUSED  otherwise, the worst answer a 5xx, or refused here (an
 *                address that cannot go into a command, a message over
 *                the server's SIZE);
 *   GUN_FAILED   a 4xx (to any recipient too), a reply that makes no
 *                sense, the connection lost or timed out under it, or a
 *                message without recipients.
 * with the reason (for anything but GUN_SENT) and, for GUN_SENT and
 * GUN_REFUSED, its latency in microseconds: from queueing MAIL to the
 * reply that decided it (-1 for a failure, and for a refusal decided here
 * without a server reply).  A failure outside any message (the greeting
 * or EHLO/HELO refused, the connection lost before a message was taken)
 * goes to feed->note instead, always as temporary.
 *
 * Connection ends: gun_dialog_input() returns -1 when the connection must
 * be closed (as smtp_dialog_input); gun_dialog_lost() tells the dialogue
 * the connection broke or timed out.  Either way the message under way
 * has been reported before it returns.  Afterwards gun_dialog_finished()
 * says whether the feed ran dry (the session is over) and
 * gun_dialog_opened() whether EHLO/HELO was ever accepted on this
 * connection, with STARTTLS the EHLO over TLS (the caller counts failed
 * attempts: a failed handshake is one).
 *
 * Contract: one struct gun_dialog per connection, used by one thread; no
 * I/O, no allocation, no globals.  The messages, helo and peer strings
 * are borrowed and must outlive the connection; helo must already be a
 * valid EHLO name (smtp_helo_ok).  About 40 KB per dialogue, most of it
 * the engine's output buffer.
 */
#ifndef MTA_GUN_DIALOG_H
#define MTA_GUN_DIALOG_H

#include <stddef.h>

#include "smtp_dialog.h"
#include "status.h"

struct gun_msg {
	const char *data;              /* the message, LF or CRLF line ends */
	size_t len;
	const char *sender;            /* "" is the null sender */
	const char *const *rcpt;
	size_t nrcpt;
	int body_8bit;
};

enum gun_outcome { GUN_SENT, GUN_REFUSED, GUN_FAILED };

struct gun_feed {
	/* take - the next message: 0 with *m and *idx, -1 when none is left */
	int (*take)(void *ctx, const struct gun_msg **m, unsigned long long *idx);
	/* done - the outcome of message idx; why is NULL for GUN_SENT */
	void (*done)(void *ctx, unsigned long long idx, enum gun_outcome o,
	             const struct status *why, long long latency_us);
	/* note - a failure that belongs to no message */
	void (*note)(void *ctx, const struct status *why);
	/* now_us - a monotonic clock in microseconds, for latencies */
	unsigned long long (*now_us)(void *ctx);
	void *ctx;
};

struct gun_dialog {
	struct smtp_dialog sd;           /* the engine */
	struct smtp_dialog_ops ops;      /* ctx: this struct gun_dialog */
	const struct gun_feed *feed;
	int finished;                    /* the feed had no more messages */
	unsigned per_conn;               /* messages per connection; 0: no limit */
	unsigned taken;                  /* messages taken on this connection */
	const struct gun_msg *held;      /* taken for the next connection */
	unsigned long long held_idx;
	int connect_only;                /* take one, send nothing, QUIT */

	/* the message under way (msg != NULL) */
	const struct gun_msg *msg;
	unsigned long long idx;
	unsigned long long t0_us;        /* MAIL queued */
	struct smtp_tx tx;
	size_t body_off;                 /* message bytes pushed so far */
	struct status rcpt_temp, rcpt_perm;   /* the first RCPT refusals */
	int have_temp, have_perm;
};

/* gun_dialog_start - a fresh connection to peer ("addr:port", for the
 * texts): wait for the greeting.  g must be zeroed before its first
 * start (a held message is kept from one connection to the next) */
void gun_dialog_start(struct gun_dialog *g, const struct gun_feed *feed,
                      const char *helo, const char *peer);

/* gun_dialog_per_connection - at most max messages on this connection
 * (0: no limit); after gun_dialog_start */
void gun_dialog_per_connection(struct gun_dialog *g, unsigned max);
/* gun_dialog_connect_only - one message per connection, not sent; after
 * gun_dialog_start */
void gun_dialog_connect_only(struct gun_dialog *g);

/* gun_dialog_use_starttls, gun_dialog_tls_wanted, gun_dialog_tls_started,
 * gun_dialog_tls_failed - STARTTLS as the engine does it
 * (smtp_dialog_use_starttls and the rest) */
void gun_dialog_use_starttls(struct gun_dialog *g);
/* gun_dialog_use_auth - after gun_dialog_start: AUTH as user with pass
 * (borrowed for the connection) after the hello, in plaintext too (the
 * gun checks no certificate anyway: a load tool's test account) */
void gun_dialog_use_auth(struct gun_dialog *g, const char *user,
                         const char *pass);
int gun_dialog_tls_wanted(const struct gun_dialog *g);
void gun_dialog_tls_started(struct gun_dialog *g);
void gun_dialog_tls_failed(struct gun_dialog *g, const char *why);

/* gun_dialog_input - the server sent buf[0..n); 0 to go on, -1 when the
 * connection must now be closed */
int gun_dialog_input(struct gun_dialog *g, const char *buf, size_t n);

/* gun_dialog_output - the bytes to write now (*n 0: nothing) */
void gun_dialog_output(struct gun_dialog *g, const char **p, size_t *n);
/* gun_dialog_wrote - n of those bytes were written */
void gun_dialog_wrote(struct gun_dialog *g, size_t n);

/* gun_dialog_lost - the connection broke (err: an errno value, 0 when the
 * server closed it; ETIMEDOUT: no reply within timeout_ms of the wait's
 * start; EAGAIN: what was to be written could not be within timeout_ms;
 * ECANCELED: the gun gave it up) */
void gun_dialog_lost(struct gun_dialog *g, int err, int timeout_ms);

/* gun_dialog_timeout - how long the current wait may take, from to */
int gun_dialog_timeout(const struct gun_dialog *g,
                       const struct smtp_timeouts *to);

/* gun_dialog_finished - no message is left for this session */
int gun_dialog_finished(const struct gun_dialog *g);
/* gun_dialog_reserve - take the next connection's first message now,
 * from feed (the one gun_dialog_start will be given): 0, or -1 when the
 * feed has none left */
int gun_dialog_reserve(struct gun_dialog *g, const struct gun_feed *feed);
/* gun_dialog_held - a message waits for the next connection (taken, not
 * yet sent, not reported: it counts as failed if it is never sent) */
int gun_dialog_held(const struct gun_dialog *g);
/* gun_dialog_busy - a message is under way (taken, not yet reported) */
int gun_dialog_busy(const struct gun_dialog *g);
/* gun_dialog_replies - complete replies read on this connection: a change
 * means the dialogue moved on */
unsigned long gun_dialog_replies(const struct gun_dialog *g);
/* gun_dialog_opened - EHLO or HELO was accepted on this connection (when
 * STARTTLS goes ahead, the one over TLS) */
int gun_dialog_opened(const struct gun_dialog *g);

#endif
