/* session - the SMTP server dialogue (RFC 5321) as a state machine.
 *
 * No sockets, no threads, no clock, no files: the caller feeds the bytes a
 * client sent, in whatever fragments they arrived, and sends whatever
 * replies accumulate in the output.  The message itself is handed to the
 * caller's ops piece by piece, already dot-unstuffed and completed by the
 * header module, one LF per line; nothing holds the whole message.
 *
 * Protocol (mta-smtpd(8), SMTP SERVICE): HELO EHLO MAIL RCPT DATA RSET NOOP
 * QUIT VRFY HELP, case-insensitive, AUTH PLAIN and LOGIN (RFC 4954) where
 * cfg->auth_offered and only under TLS, and STARTTLS when the caller can start
 * TLS (454 when it cannot at that moment: ops->tls_prepare); 503 for commands out of order; 500 for unknown commands and
 * over-long lines; PIPELINING (input is consumed up to what ends the
 * session or starts TLS, replies are queued in order); DATA ends only at
 * CRLF "." CRLF; every reply carries an RFC 3463 enhanced status code.
 * session_feed() returns what the caller must do next: go on, start TLS,
 * or close.
 *
 * Errors (mta-smtpd(8), LIMITS): every refused command counts, except
 * temporary refusals that are the server's own condition (4xx for a full
 * disk, a busy mailbox) and, up to max_rcpt of them per transaction,
 * 452 for recipients over max_rcpt; junk commands past max_junk count
 * too.  The error that reaches max_errors gets its reply, then 421 and
 * the end; each error past soft_errors asks the caller for a growing
 * pause (session_pause) before the reply goes out.
 *
 * Contract: a session is used by one thread at a time.  The config and ops
 * are borrowed and must outlive it; ctx is passed to every op untouched.
 * The output buffer belongs to the session; the caller reads it with
 * session_output() and empties it with session_output_done().
 * (Inside: session.c the engine, session_cmd.c the command table,
 * session_data.c DATA, session_reply.c the replies and error count;
 * session_priv.h is theirs alone.)
 */
#ifndef MTA_SESSION_H
#define MTA_SESSION_H

#include <stddef.h>
#include <time.h>

#include "addr.h"
#include "envelope.h"
#include "status.h"
#include "tls.h"

struct session_config {
	const char *hostname;      /* greeting, Received:, Message-ID: */
	size_t max_line;           /* a command line, CRLF included */
	unsigned long long max_size; /* message size limit, octets */
	unsigned max_rcpt;         /* recipients per message */
	unsigned max_received;     /* Received: fields before it is a loop */
	unsigned max_errors;       /* errors before 421; 0 = errors are not
	                            * counted (no 421, no pause, no junk limit) */
	unsigned soft_errors;      /* errors answered without a pause */
	unsigned error_delay;      /* ms: the pause for error soft_errors + 1;
	                            * each later error doubles it, up to
	                            * SESSION_PAUSE_MAX */
	unsigned max_junk;         /* NOOP RSET VRFY HELP since the last
	                            * accepted message before each is an error
	                            * too; 0 = no limit */
	int tls_implicit;          /* the connection is encrypted from its
	                            * first byte (--smtps): TLS is on from the
	                            * start, STARTTLS neither offered nor
	                            * accepted */
	int tls_available;         /* the caller can start TLS: EHLO offers
	                            * STARTTLS, and it gets SESSION_START_TLS;
	                            * else STARTTLS is 502 */
	int tls_required;          /* before TLS only HELO EHLO STARTTLS NOOP
	                            * RSET QUIT; the rest gets 530 5.7.0 (so
	                            * without tls_available no mail comes) */
	int auth_required;         /* MAIL needs an authenticated client
	                            * (530 5.7.0) */
	int auth_offered;          /* AUTH PLAIN LOGIN is served, under TLS
	                            * only (538 5.7.11 in the clear); else
	                            * AUTH is 502 */
	unsigned max_auth_failures; /* failed AUTH (535) before 421 4.7.0;
	                            * 0 = no limit.  Each failure is an error
	                            * too, and pauses auth_delay ms, doubled
	                            * with each further failure */
	unsigned auth_delay;
	int hide_client;           /* Received: names no client address */
};

/* the longest pause one error adds (below every client's reply timeout) */
enum { SESSION_PAUSE_MAX = 30000 };

struct session_ops {
	/* may this recipient be accepted?  (domain, relay, mailbox checks) */
	struct status (*check_rcpt)(void *ctx, const struct mailbox *rcpt);
	/* start storing a message for env; fills env->id */
	struct status (*tx_open)(void *ctx, struct envelope *env);
	/* the next bytes of the message; errors are sticky, seen at commit */
	void (*tx_write)(void *ctx, const char *p, size_t n);
	/* the message is complete: make it durable, or say why not */
	struct status (*tx_commit)(void *ctx);
	/* forget the message being stored (refused, failed or cut off) */
	void (*tx_abort)(void *ctx);
	/* STARTTLS was accepted: get ready to start TLS, or say why it
	 * cannot be now (ST_TEMP: 454 4.7.0, the session goes on in the
	 * clear); NULL: always ready */
	struct status (*tls_prepare)(void *ctx);
	/* add the recipient check_rcpt accepted to env, as its final
	 * recipients (aliases expanded: resolve.h); -1 when out of memory.
	 * NULL: the session adds the address itself */
	int (*add_rcpt)(void *ctx, struct envelope *env, const struct mailbox *rcpt);
	/* AUTH: are these credentials good?  ST_OK accepted (235), ST_PERM
	 * refused (535 5.7.8), ST_TEMP the credential source cannot tell now
	 * (454 4.7.0, its text shown; not the client's error).  mech is
	 * "PLAIN" or "LOGIN"; the strings are the session's and wiped after
	 * the call.  NULL: every AUTH is 454 */
	struct status (*auth_check)(void *ctx, const char *mech, const char *login,
	                            const char *password);
	/* MAIL of an authenticated client: may login use sender?  ST_PERM:
	 * 553 5.7.1 (the status's text); NULL: any sender */
	struct status (*check_sender)(void *ctx, const char *login,
	                              const struct mailbox *sender);
};

struct session;

/* session_new - a session for one connection from client_ip, or NULL
 * (ENOMEM).  Nothing is sent until session_greet(). */
struct session *session_new(const struct session_config *cfg,
                            const struct session_ops *ops, void *ctx,
                            const char *client_ip, time_t (*now)(void));
/* session_free - release the session; aborts a message still open */
void session_free(struct session *s);

/* session_greet - queue the 220 greeting */
void session_greet(struct session *s);
/* What the caller must do once session_feed() returns; in every case it
 * first sends the output (after session_pause()). */
enum session_action {
	SESSION_CONTINUE,   /* all input was used: read more when it comes */
	SESSION_START_TLS,  /* STARTTLS was accepted (its 220 is the last
	                     * output): start TLS, then session_tls_started().
	                     * The input past *used came in the clear before
	                     * the handshake and must be thrown away, never fed
	                     * again (CVE-2011-0411: injected commands) */
	SESSION_CLOSE,      /* close the connection: QUIT, or 421 (session_done
	                     * is true); the input past *used is not read */
};

/* session_feed - process bytes p[0..n) from the client; *used is how many
 * were (all of them but after a START_TLS or a CLOSE, which come right
 * after the line that caused them; 0 when fed again before
 * session_tls_started() or once done) */
enum session_action session_feed(struct session *s, const char *p, size_t n,
                                 size_t *used);
/* session_tls_started - TLS is up after SESSION_START_TLS: the session
 * forgets what it learnt in the clear and is as after the greeting (no
 * new one): HELO/EHLO first, STARTTLS no longer offered nor accepted, and
 * cfg->tls_required is satisfied.  Errors stay counted.  Ignored at any
 * other time.  (When the handshake fails, the caller closes instead.) */
void session_tls_started(struct session *s);
/* session_tls_info - what the TLS in use is (after the handshake, of
 * STARTTLS or of implicit TLS), named in each message's Received: */
void session_tls_info(struct session *s, const struct tls_info *info);
/* session_local_user - the "client" is a local user's submission
 * (maildrop.h), by the user uid as the kernel says: its messages'
 * Received: names the user, not a host (header.h) */
void session_local_user(struct session *s, unsigned long uid);
/* session_timeout - the client was idle too long: 421, then done */
void session_timeout(struct session *s);
/* session_shutdown - the server is stopping: 421, then done */
void session_shutdown(struct session *s);
/* session_abort - the connection was lost: drop any open message */
void session_abort(struct session *s);

/* session_output - the replies not yet sent */
const char *session_output(const struct session *s, size_t *len);
/* session_output_done - the first n bytes of output were sent */
void session_output_done(struct session *s, size_t n);
/* session_done - true once the session wants the connection closed
 * (after QUIT, a timeout, a shutdown or too many errors); the caller
 * sends the remaining output first */
int session_done(const struct session *s);
/* session_login - the login the client authenticated as, or NULL */
const char *session_login(const struct session *s);
/* session_in_data - true while a message is being received */
int session_in_data(const struct session *s);
/* session_pause - milliseconds the caller must wait before it sends the
 * output queued so far (errors past cfg->soft_errors slow a client down;
 * the session itself never sleeps); taking it resets it to 0 */
unsigned long long session_pause(struct session *s);

#endif
