/* smtp_dialog - the client's side of an SMTP or LMTP dialogue, without
 * I/O: the one client engine of mta.
 *
 * Remote delivery (smtp_client.c, a blocking driver over a stream) and
 * the mail gun (gun_dialog.c and gun_loop.c, from an event loop) drive
 * the same engine: the driver feeds it whatever bytes the server sent,
 * in any fragments (smtp_dialog_input), writes out whatever it has to say
 * (smtp_dialog_output, smtp_dialog_wrote), pushes the message when asked
 * (smtp_dialog_body_room, smtp_dialog_body, smtp_dialog_body_end), and
 * tells it when the connection broke (smtp_dialog_lost).  The unit tests
 * drive it the same way, with bytes.
 *
 * The dialogue: the greeting; EHLO, and HELO when EHLO gets a 5xx (in
 * LMTP mode LHLO, and no fallback); then it is ready: the driver starts a
 * transaction (smtp_dialog_send), an RSET (smtp_dialog_rset) or QUIT
 * (smtp_dialog_quit).  A transaction: [RSET] MAIL FROM (SIZE= when the
 * server offers SIZE, BODY=8BITMIME when asked for and offered), one RCPT
 * TO per recipient, DATA, the message (pushed by the driver, dot-encoded
 * here: smtp_dot_encode) and the final dot.  With PIPELINING, the RSET
 * owed by an earlier refused transaction, MAIL, the RCPTs (at most
 * SMTP_DIALOG_RCPT_GROUP before the replies are read) and DATA go out
 * together (RFC 2920); without it each command waits for the reply to
 * the one before.  After the dot an SMTP server gives one reply, an LMTP
 * server one per accepted recipient, in RCPT order (RFC 2033 4.2).
 * STARTTLS (RFC 3207), when the driver asks for it
 * (smtp_dialog_use_starttls) and the server offers it, comes between the
 * hello and ready: STARTTLS; at its 220 the engine stops reading (what the
 * server sent behind it in the clear is dropped, never taken as a reply)
 * and waits for the driver's handshake (smtp_dialog_tls_wanted); once
 * TLS is up (smtp_dialog_tls_started) it says EHLO again and forgets
 * what the first EHLO offered.  A STARTTLS refused leaves the dialogue
 * ready in the clear, the refusal noted; a failed handshake ends the
 * connection (smtp_dialog_tls_failed, 4.7.5).  AUTH (RFC 4954), when the
 * driver gave credentials (smtp_dialog_use_auth), comes next, after the
 * last hello (the one after STARTTLS when TLS was started), before
 * ready: AUTH PLAIN with the initial response when the server offers
 * PLAIN, else AUTH LOGIN and the login and password at its two 334s;
 * ready at 235.  Every failure of it is noted as temporary (the driver
 * defers: a password changed at the provider must not bounce mail) and
 * ends the connection with QUIT: AUTH refused (535 and the rest, the
 * reply in the note), neither PLAIN nor LOGIN offered, the server asking
 * for more than the mechanism has (answered "*"), and no TLS when the
 * credentials may not go in the clear (then nothing is sent).
 *
 * Outcomes, through the ops table: ops->rcpt is called exactly once for
 * every recipient of a transaction with its fate: its RCPT refusal (or a
 * refusal decided here: bad syntax, too many), else the reply after the
 * dot (LMTP: its own), else the failure that ended the transaction.
 * Then ops->done once, with the transaction's result: ST_OK when the
 * message was accepted for at least one recipient; else why not (MAIL's
 * refusal; every recipient refused: the first temporary refusal, else the
 * first permanent one; DATA's or the dot's refusal; the connection lost),
 * and whether the server answered anything about it.  A reply of the
 * wrong class (a 3xx to MAIL, a 2xx to DATA) counts as a temporary
 * refusal.  A MAIL accepted without a message sent leaves a RSET owed,
 * which goes out before the next MAIL.  ops->note gets the failures that
 * belong to no transaction (the greeting or hello refused, a refused RSET,
 * the connection lost while idle) with the server's reply when there was
 * one, its status as the reply says (the driver decides how bad).
 *
 * Connection ends: smtp_dialog_input() returns -1 when the connection
 * must be closed now (a 421, a malformed reply, a reply to no command, a
 * refused RSET, the server's answer to QUIT, a reply before the whole
 * message and its dot were written); a refused greeting or hello is
 * answered with QUIT, whose reply (or the server closing) ends it.
 * Everything under way has been reported by then.
 *
 * Contract: one struct smtp_dialog per connection, used by one thread;
 * no I/O, no clock, no allocation, no globals.  The
 * strings given (helo, peer, a transaction's addresses) are borrowed:
 * helo and peer for the connection, a transaction's until its done; helo
 * must pass smtp_helo_ok.  About 36 KB, most of it the output buffer.
 */
#ifndef MTA_SMTP_DIALOG_H
#define MTA_SMTP_DIALOG_H

#include <stddef.h>

#include "smtp_reply.h"
#include "status.h"

enum {
	SMTP_DIALOG_OUT_MAX = 32768,  /* output buffer: commands, message */
	SMTP_DIALOG_RCPT_GROUP = 64,  /* RCPTs pipelined before reading */
	SMTP_DIALOG_RCPT_MAX = 1000,  /* recipients per transaction */
	SMTP_ADDR_MAX = 254,          /* longest address sent (RFC 5321) */
	SMTP_AUTH_FIELD_MAX = 512     /* longest login, password sent */
};

/* what the server offered in its EHLO reply */
enum {
	SMTP_EXT_PIPELINING = 1 << 0,
	SMTP_EXT_SIZE = 1 << 1,
	SMTP_EXT_8BITMIME = 1 << 2,
	SMTP_EXT_ENHANCED = 1 << 3,
	SMTP_EXT_SMTPUTF8 = 1 << 4,
	SMTP_EXT_STARTTLS = 1 << 5,
	SMTP_EXT_DSN = 1 << 6,
	SMTP_EXT_AUTH_PLAIN = 1 << 7,   /* AUTH (or AUTH=) names PLAIN */
	SMTP_EXT_AUTH_LOGIN = 1 << 8    /* ... LOGIN */
};

enum smtp_stage {
	SMTP_STAGE_NONE = 0,
	SMTP_STAGE_CONNECT,
	SMTP_STAGE_GREETING,
	SMTP_STAGE_HELLO,
	SMTP_STAGE_MAIL,
	SMTP_STAGE_RCPT,
	SMTP_STAGE_DATA,      /* the DATA command */
	SMTP_STAGE_DOT,       /* the message and the final dot */
	SMTP_STAGE_RSET,
	SMTP_STAGE_QUIT,
	SMTP_STAGE_AUTH       /* AUTH and its continuations */
};

struct smtp_timeouts {          /* milliseconds, > 0 */
	int connect, greeting, hello, mail, rcpt, data, block, dot, other;
};

struct smtp_result {
	struct status st;         /* what it means */
	enum smtp_stage stage;    /* where it happened */
	struct smtp_reply reply;  /* what the server said; code 0: nothing */
};

/* one transaction; the engine reads sender, rcpt, nrcpt, size and
 * body_8bit; where the message comes from is the driver's business */
struct smtp_tx {
	const char *sender;          /* no brackets; "" is the null sender */
	const char *const *rcpt;     /* nrcpt recipients, no brackets */
	size_t nrcpt;
	const char *data;            /* the message in memory, len bytes; */
	size_t len;                  /* or NULL: read it from fd */
	int fd;
	unsigned long long size;     /* SIZE= estimate; 0: len, or fstat(fd) */
	int body_8bit;               /* send BODY=8BITMIME when offered */
	int long_lines;              /* send lines over SMTP_LINE_MAX as they
	                              * are (the gun); 0: split them */
	/* RFC 3461 requests, sent only when the server offers DSN (else
	 * dropped, as sendmail does); NULL: none.  Given ready for the wire:
	 * notify "NEVER" or a list of SUCCESS,FAILURE,DELAY (on every RCPT),
	 * ret "FULL" or "HDRS", envid xtext-encoded (both on MAIL) */
	const char *dsn_notify, *dsn_ret, *dsn_envid;
	/* per recipient (NULL, or a NULL entry: none; under DSN as above):
	 * NOTIFY= in place of dsn_notify, and ORCPT= "type;xtext" */
	const char *const *dsn_rcpt_notify, *const *dsn_orcpt;
};

struct smtp_dialog_ops {
	/* rcpt - recipient i's fate, once per recipient */
	void (*rcpt)(void *ctx, size_t i, const struct smtp_result *r);
	/* done - the transaction is over; answered: the server replied to
	 * something of it */
	void (*done)(void *ctx, const struct smtp_result *res, int answered);
	/* note - a failure outside any transaction */
	void (*note)(void *ctx, const struct smtp_result *r);
	void *ctx;
};

enum smtp_dialog_mode { SMTP_DIALOG_SMTP, SMTP_DIALOG_LMTP };

enum smtp_dialog_state {
	SD_GREETING,          /* waiting for the 220 */
	SD_EHLO, SD_HELO,     /* waiting for their replies (LHLO: SD_EHLO) */
	SD_STARTTLS,          /* STARTTLS sent: waiting for its 220 */
	SD_HANDSHAKE,         /* the 220 came: the driver's handshake */
	SD_AUTH,              /* AUTH sent: 235, 334 or a refusal */
	SD_READY,             /* idle: the driver's turn */
	SD_TX,                /* a transaction: replies in pend[] */
	SD_BODY,              /* the driver pushes the message */
	SD_DOT,               /* the message is out: the final reply(s) */
	SD_RSET,              /* a RSET of the driver's */
	SD_QUIT,              /* QUIT sent: the next reply ends it */
	SD_CLOSED             /* nothing more on this connection */
};

/* what a reply in flight answers */
enum smtp_pending { SP_RSET, SP_MAIL, SP_RCPT, SP_DATA, SP_EMPTY };

/* RFC 5321 4.5.3.1.6: a text line is at most 1000 octets with its CRLF */
enum { SMTP_LINE_MAX = 998 };

/* dot-stuffing and line-end state of one message being sent */
struct smtp_dot {
	int bol;                     /* at the start of a line */
	int cr;                      /* the last byte was a CR */
	size_t col;                  /* octets of the current line on the wire */
	int split;                   /* split lines over SMTP_LINE_MAX; 0: not */
};

/* the room smtp_dot_encode needs for n input bytes: two octets each
 * (CRLF for a line end, a stuffed dot) plus, when splitting, the three
 * of CRLF SP at most once per SMTP_LINE_MAX - 1 input bytes */
#define SMTP_DOT_OUT_MAX(n) \
	(2 * (size_t)(n) + 3 * ((size_t)(n) / (SMTP_LINE_MAX - 1) + 1))

struct smtp_dialog {
	enum smtp_dialog_state state;
	enum smtp_dialog_mode mode;
	const struct smtp_dialog_ops *ops;
	const char *helo, *peer;
	unsigned ext;                    /* SMTP_EXT_* from EHLO */
	unsigned long long size_max;     /* SIZE limit, 0: none announced */
	int esmtp;                       /* EHLO (LHLO) was accepted */
	int opened;                      /* ready for mail: EHLO/HELO accepted
	                                  * (after STARTTLS: the second one) */
	int need_rset;                   /* a refused transaction is open */
	int starttls;                    /* say STARTTLS when offered */
	int tls;                         /* TLS is on (STARTTLS done) */
	/* AUTH (smtp_dialog_use_auth): the login and password (borrowed),
	 * whether they may go in the clear, the step reached */
	const char *auth_user, *auth_pass;
	int auth_insecure;
	int auth_step;                   /* SD_AUTH: what the next reply answers */
	int authed;                      /* the server said 235 */
	unsigned long replies;           /* complete replies read */

	/* the transaction under way (tx != NULL) */
	const struct smtp_tx *tx;
	unsigned long long size;         /* its SIZE= */
	int answered;                    /* a server reply about it came */
	int mail;                        /* MAIL: -1 not yet, 0 no, 1 yes */
	int mail_queued, data_queued;    /* those commands are out */
	int data_354;                    /* DATA got its 354 */
	int body_done;                   /* the message and its dot are queued */
	size_t next_rcpt;                /* recipients queued or refused here */
	size_t queued, accepted;         /* RCPTs sent; accepted by the server */
	size_t lmtp_next;                /* LMTP: the next final reply's rcpt */
	size_t lmtp_ok;                  /* LMTP: final replies that were 2xx */
	size_t lmtp_replies;             /* LMTP: final replies read */
	struct smtp_result res;          /* the transaction's result so far */
	int have_res;                    /* res holds a failure */
	struct smtp_result first_temp, first_perm;   /* RCPT refusals */
	int have_temp, have_perm;
	unsigned char rstate[SMTP_DIALOG_RCPT_MAX];  /* per recipient */
	struct smtp_dot dot;

	enum smtp_pending pend[SMTP_DIALOG_RCPT_GROUP + 3];
	size_t pend_idx[SMTP_DIALOG_RCPT_GROUP + 3];  /* SP_RCPT: whose */
	size_t pend_head, pend_n;

	char out[SMTP_DIALOG_OUT_MAX];
	size_t out_pos, out_len;

	struct smtp_reply_parser parser;
	struct smtp_result cur;          /* the reply being handled */
};

/* smtp_dialog_start - a fresh connection to peer ("addr:port", for the
 * texts): wait for the greeting */
void smtp_dialog_start(struct smtp_dialog *d, enum smtp_dialog_mode mode,
                       const struct smtp_dialog_ops *ops, const char *helo,
                       const char *peer);

/* smtp_dialog_use_starttls - after smtp_dialog_start: say STARTTLS after
 * EHLO when the server offers it (SMTP only, once per connection) */
void smtp_dialog_use_starttls(struct smtp_dialog *d);
/* smtp_dialog_tls_implicit - after smtp_dialog_start, before the
 * greeting: the driver has put TLS under the connection from its first
 * byte (implicit TLS, RFC 8314): no STARTTLS, and AUTH counts it as TLS */
void smtp_dialog_tls_implicit(struct smtp_dialog *d);
/* smtp_dialog_use_auth - after smtp_dialog_start: authenticate as user
 * with pass (borrowed for the connection; each at most
 * SMTP_AUTH_FIELD_MAX octets, no NUL of course) before ready; insecure
 * 0: only over TLS (the driver decides what TLS is good enough: its
 * policy) */
void smtp_dialog_use_auth(struct smtp_dialog *d, const char *user,
                          const char *pass, int insecure);
/* smtp_dialog_authed - the server accepted our AUTH on this connection */
int smtp_dialog_authed(const struct smtp_dialog *d);

/* smtp_dialog_tls_wanted - the server said 220 to STARTTLS: the driver
 * starts TLS now, feeding nothing meanwhile, then calls
 * smtp_dialog_tls_started (or smtp_dialog_tls_failed) */
int smtp_dialog_tls_wanted(const struct smtp_dialog *d);
/* smtp_dialog_tls_started - TLS is up: EHLO again, as after a greeting */
void smtp_dialog_tls_started(struct smtp_dialog *d);
/* smtp_dialog_tls_failed - the handshake failed (why: the TLS layer's
 * text): noted, the dialogue closed */
void smtp_dialog_tls_failed(struct smtp_dialog *d, const char *why);

/* smtp_dialog_input - the server sent buf[0..n); 0 to go on, -1 when the
 * connection must now be closed.  After the 220 to STARTTLS the rest of
 * buf is not read. */
int smtp_dialog_input(struct smtp_dialog *d, const char *buf, size_t n);

/* smtp_dialog_output - the bytes to write now (*n 0: nothing) */
void smtp_dialog_output(struct smtp_dialog *d, const char **p, size_t *n);
/* smtp_dialog_wrote - n of those bytes were written */
void smtp_dialog_wrote(struct smtp_dialog *d, size_t n);

/* smtp_dialog_ready - idle after the hello: a transaction, RSET or QUIT
 * may start */
int smtp_dialog_ready(const struct smtp_dialog *d);
/* smtp_dialog_send - start transaction tx (borrowed until ops->done).
 * Returns 0 when it is under way, -1 when it was decided here at once
 * (no recipients, a bad sender, over the server's SIZE, not ready; ops
 * have been called) */
int smtp_dialog_send(struct smtp_dialog *d, const struct smtp_tx *tx);
/* smtp_dialog_rset - RSET now (when ready); its refusal is noted and
 * closes; 0, or -1 when not ready */
int smtp_dialog_rset(struct smtp_dialog *d);
/* smtp_dialog_quit - QUIT (when ready or after a refusal); the reply or
 * the server closing ends the connection */
void smtp_dialog_quit(struct smtp_dialog *d);

/* smtp_dialog_body_room - message bytes smtp_dialog_body takes now (0:
 * write the output first); 0 too when no message is wanted */
size_t smtp_dialog_body_room(const struct smtp_dialog *d);
/* smtp_dialog_body - n message bytes (LF or CRLF line ends), n at most
 * smtp_dialog_body_room() */
void smtp_dialog_body(struct smtp_dialog *d, const char *p, size_t n);
/* smtp_dialog_body_end - the message is complete: its final dot */
void smtp_dialog_body_end(struct smtp_dialog *d);
/* smtp_dialog_wants_body - the message is to be pushed now */
int smtp_dialog_wants_body(const struct smtp_dialog *d);

/* smtp_dialog_lost - the connection broke (err: an errno value, 0 when
 * the server closed it; ETIMEDOUT: no reply within timeout_ms of the
 * wait's start; EAGAIN: what was to be written could not be within
 * timeout_ms; ECANCELED: the driver gave it up); reports what was under
 * way; the dialogue is closed */
void smtp_dialog_lost(struct smtp_dialog *d, int err, int timeout_ms);

/* smtp_dialog_timeout - how long the current wait may take, from to */
int smtp_dialog_timeout(const struct smtp_dialog *d,
                        const struct smtp_timeouts *to);
/* smtp_dialog_stage - what the current wait is for */
enum smtp_stage smtp_dialog_stage(const struct smtp_dialog *d);

/* helpers shared by the drivers (smtp_dialog_text.c) */

/* smtp_timeouts_default - the RFC 5321 4.5.3.2 values: greeting, MAIL,
 * RCPT 5 min, DATA 2 min, data block 3 min, final dot 10 min; EHLO/HELO,
 * RSET and QUIT 5 min; connect 30 s (not in the RFC) */
void smtp_timeouts_default(struct smtp_timeouts *to);
/* smtp_timeouts_all - every limit set to ms */
void smtp_timeouts_all(struct smtp_timeouts *to, int ms);
/* smtp_stage_name - "MAIL FROM", "RCPT TO", "end of data", ... */
const char *smtp_stage_name(enum smtp_stage stage);
/* smtp_text_ok - may s (at most max octets) go into a command line?
 * printable ASCII without angle brackets */
int smtp_text_ok(const char *s, size_t max);
/* smtp_rcpt_ok - may r go into RCPT TO?  not empty, at most
 * SMTP_ADDR_MAX octets that smtp_text_ok allows */
int smtp_rcpt_ok(const char *r);
/* smtp_helo_ok - may name go into EHLO/HELO?  not empty, at most 255
 * octets of printable ASCII without spaces or angle brackets */
int smtp_helo_ok(const char *name);
/* smtp_ehlo_parse - the extensions (SMTP_EXT_*) an EHLO reply offers, and
 * the SIZE limit it announces (0: none) */
void smtp_ehlo_parse(const struct smtp_reply *r, unsigned *ext,
                     unsigned long long *size_max);
/* smtp_result_from_reply - fill res from a server reply at stage */
void smtp_result_from_reply(struct smtp_result *res, enum smtp_stage stage,
                            const struct smtp_reply *r);
/* smtp_result_too_many - was a recipient refused at RCPT for being one
 * too many for this transaction?  A 452 there (RFC 5321 4.5.3.1.10; its
 * enhanced code, when any, 4.5.3), or a 552 5.5.3 (RFC 821's code for
 * it, temporary all the same): the client may send it in a next
 * transaction, once this one has delivered to others.  A 452 with
 * another enhanced code (4.2.2 mailbox full, 4.3.1 storage) is the
 * recipient's own temporary refusal. */
int smtp_result_too_many(const struct smtp_result *r);
/* smtp_result_local - an outcome decided here, without a server reply */
void smtp_result_local(struct smtp_result *res, enum smtp_stage stage,
                       enum status_kind kind, int subject, int detail,
                       const char *text);

/* smtp_dot_init - a message is about to start; lines are not split
 * unless d->split is set afterwards */
void smtp_dot_init(struct smtp_dot *d);
/* smtp_dot_encode - wire form of in[0..n) into out, which must hold 2*n
 * bytes (SMTP_DOT_OUT_MAX(n) when d->split is set); returns the bytes
 * written.  Every line ends in CRLF (a bare CR or LF too), lines that
 * start with '.' get another.  With split, a line that would grow past
 * SMTP_LINE_MAX octets on the wire (a stuffed dot counts) is split: CRLF
 * SP goes in before the octet that would exceed it, and the rest
 * continues on a line of its own that starts with a space (in the header
 * a folded continuation of the same field, in the body a line that can
 * never be a lone dot). */
size_t smtp_dot_encode(struct smtp_dot *d, const char *in, size_t n,
                       char *out);
/* smtp_dot_finish - the end of the message: a line end when the last line
 * had none, then ".\r\n", into out (room for 5); returns the bytes */
size_t smtp_dot_finish(struct smtp_dot *d, char *out);

#endif
