/* gun_dialog - the SMTP dialogue of one mail-gun session, without sockets.
 *
 * A protocol engine: the caller (gun_loop.c) owns the connection, feeds
 * the dialogue whatever bytes the server sent, in any fragments, and
 * writes out whatever the dialogue has to say.  The dialogue reads the
 * greeting, says EHLO (HELO when EHLO gets a 5xx), then takes message
 * after message from its feed and sends each as one transaction, until
 * the feed has none left; then QUIT.
 *
 * A transaction: [RSET] MAIL FROM (SIZE= and BODY=8BITMIME when offered),
 * one RCPT TO per recipient, DATA, the message (line ends made CRLF, dots
 * stuffed, smtp_dot_encode) and the final dot.  With PIPELINING, the RSET
 * owed by an earlier refused transaction, MAIL, the RCPTs and DATA go out
 * together (RFC 2920), at most SMTP_CLIENT_RCPT_GROUP + 2 commands before
 * DATA in one group, the rest of the RCPTs in later groups; without it
 * each command waits for the reply to the one before.
 *
 * Each message taken is reported to feed->done exactly once:
 *   GUN_SENT     the server accepted it for every recipient;
 *   GUN_REFUSED  otherwise, the worst answer a 5xx, or refused here (an
 *                address that cannot go into a command, a message over
 *                the server's SIZE);
 *   GUN_FAILED   a 4xx (to any recipient too), a reply that makes no
 *                sense, or the connection lost or timed out under it.
 * with the reason (for anything but GUN_SENT) and, for GUN_SENT and
 * GUN_REFUSED, its latency in microseconds: from queueing MAIL to the
 * reply that decided it (-1 for a failure, and for a refusal decided here
 * without a server reply).  A failure outside any message (the greeting
 * or EHLO/HELO refused, the connection lost before a message was taken)
 * goes to feed->note instead.
 *
 * Connection ends: gun_dialog_input() returns -1 when the connection must
 * be closed (a 421, a malformed reply, a reply to no command, a refused
 * RSET, the server's answer to QUIT, a reply before the whole message and
 * its dot were written, a command that does not fit the output buffer); a
 * refused greeting or hello is answered with QUIT (0), and its reply
 * gives the -1.  gun_dialog_lost() tells the dialogue the connection
 * broke or timed out.  Either way the message under way has been
 * reported before it returns.
 * Afterwards gun_dialog_finished() says whether the feed ran dry (the
 * session is over) and gun_dialog_opened() whether EHLO/HELO was ever
 * accepted on this connection (the caller counts failed attempts).
 *
 * Contract: one struct gun_dialog per connection, used by one thread; no
 * I/O, no allocation, no globals.  The messages, helo and peer strings
 * are borrowed and must outlive the connection; helo must already be a
 * valid EHLO name (smtp_helo_ok).  About 25 KB per dialogue, most of it
 * the output buffer.
 */
#ifndef MTA_GUN_DIALOG_H
#define MTA_GUN_DIALOG_H

#include <stddef.h>

#include "gun.h"
#include "smtp_client.h"
#include "smtp_reply.h"
#include "status.h"

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

enum {
	/* the longest command group: RSET, MAIL with its parameters, a group
	 * of RCPTs and DATA, each at most 10 + 254 + 64 octets */
	GUN_DIALOG_OUT_MAX = (SMTP_CLIENT_RCPT_GROUP + 3) * 328,
	GUN_DIALOG_PEND_MAX = SMTP_CLIENT_RCPT_GROUP + 3,
	/* message bytes encoded at a time: twice as many may go out */
	GUN_DIALOG_CHUNK = (GUN_DIALOG_OUT_MAX - 8) / 2
};

enum gun_dialog_state {
	GD_GREETING,          /* waiting for the 220 */
	GD_EHLO, GD_HELO,     /* waiting for their replies */
	GD_TX,                /* a transaction: replies in pend[] */
	GD_BODY,              /* writing the message; then its dot's reply */
	GD_QUIT,              /* QUIT sent: the next reply ends it */
	GD_CLOSED             /* nothing more on this connection */
};

/* what a reply in flight answers */
enum gun_pending { GP_RSET, GP_MAIL, GP_RCPT, GP_DATA, GP_DOT, GP_EMPTY };

struct gun_dialog {
	enum gun_dialog_state state;
	const struct gun_feed *feed;
	const char *helo, *peer;
	unsigned ext;                    /* SMTP_EXT_* from EHLO */
	unsigned long long size_max;
	int opened;                      /* EHLO/HELO was accepted */
	int finished;                    /* the feed had no more messages */
	int need_rset;                   /* a refused transaction is open */
	unsigned long replies;           /* complete replies read */

	/* the transaction under way (msg != NULL) */
	const struct gun_msg *msg;
	unsigned long long idx;
	unsigned long long t0_us;        /* MAIL queued */
	int answered;                    /* a server reply about it came */
	int mail;                        /* MAIL: -1 not yet, 0 no, 1 yes */
	int mail_queued, data_queued;    /* those commands are out */
	int data_354;                    /* DATA got its 354 */
	int body_done;                   /* the message and its dot are out */
	size_t next_rcpt;                /* recipients queued or refused here */
	size_t queued, accepted;         /* RCPTs sent; accepted by the server */
	struct status rcpt_temp, rcpt_perm, tx_fail;
	int have_temp, have_perm, have_fail;
	size_t body_off;                 /* message bytes encoded so far */
	struct smtp_dot dot;

	enum gun_pending pend[GUN_DIALOG_PEND_MAX];
	size_t pend_head, pend_n;

	char out[GUN_DIALOG_OUT_MAX];
	size_t out_pos, out_len;

	struct smtp_reply_parser parser;
	struct smtp_reply reply;
};

/* gun_dialog_start - a fresh connection to peer ("addr:port", for the
 * texts): wait for the greeting */
void gun_dialog_start(struct gun_dialog *d, const struct gun_feed *feed,
                      const char *helo, const char *peer);

/* gun_dialog_input - the server sent buf[0..n); 0 to go on, -1 when the
 * connection must now be closed */
int gun_dialog_input(struct gun_dialog *d, const char *buf, size_t n);

/* gun_dialog_output - the bytes to write now (*n 0: nothing) */
void gun_dialog_output(struct gun_dialog *d, const char **p, size_t *n);
/* gun_dialog_wrote - n of those bytes were written */
void gun_dialog_wrote(struct gun_dialog *d, size_t n);

/* gun_dialog_lost - the connection broke (err: an errno value, 0 when the
 * server closed it; ETIMEDOUT: no reply within timeout_ms of the wait's
 * start; EAGAIN: what was to be written could not be within timeout_ms;
 * ECANCELED: the gun gave it up) */
void gun_dialog_lost(struct gun_dialog *d, int err, int timeout_ms);

/* gun_dialog_timeout - how long the current wait may take, from to */
int gun_dialog_timeout(const struct gun_dialog *d,
                       const struct smtp_timeouts *to);

/* gun_dialog_finished - no message is left for this session */
int gun_dialog_finished(const struct gun_dialog *d);
/* gun_dialog_busy - a message is under way (taken, not yet reported) */
int gun_dialog_busy(const struct gun_dialog *d);
/* gun_dialog_replies - complete replies read on this connection: a change
 * means the dialogue moved on */
unsigned long gun_dialog_replies(const struct gun_dialog *d);
/* gun_dialog_opened - EHLO or HELO was accepted on this connection */
int gun_dialog_opened(const struct gun_dialog *d);

#endif
