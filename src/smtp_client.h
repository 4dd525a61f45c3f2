/* smtp_client - the blocking driver of the client engine (smtp_dialog.h)
 * over a stream (stream.h), with a deadline on every wait: remote
 * delivery's and mta-send's SMTP client.
 *
 * What it does: connect (IPv4/IPv6 literal or name, each address in
 * turn), then let the engine read the greeting and say EHLO (HELO when
 * EHLO gets a 5xx), send one transaction after another (the engine's:
 * PIPELINING, SIZE=, BODY=8BITMIME, the RSET owed after a refusal), RSET,
 * QUIT.
 *
 * The message: from memory or read from a descriptor (its current offset
 * to EOF), with LF or CRLF line ends, pushed into the engine, which
 * dot-encodes it.  To a server that does not offer 8BITMIME it goes
 * downgraded to 7 bits when it has 8-bit octets (mime8.h: a first pass
 * reads it all, then the descriptor is put back to its offset for the
 * second).  On the wire every line ends in CRLF, a bare CR counts as a
 * line end too (so no bare CR or LF ever leaves), a line longer than 998
 * octets is split (smtp_dot_encode), lines starting with '.' are
 * dot-stuffed, a missing last line end is added, and CRLF.CRLF ends it.
 *
 * TLS (smtp_client_tls, before the handshake; none unless asked): with
 * a policy other than none, STARTTLS (RFC 3207) when the server offers
 * it, the handshake within the hello's time limit, the certificate
 * checked against the host name given (a failed check fails the
 * handshake under verify; else it is only recorded: tls_verified), then
 * EHLO again.  Under may a refused STARTTLS goes on in plaintext and a
 * failed handshake fails the handshake call with tls_failed set (the
 * caller may try again in plaintext); under encrypt and verify no
 * STARTTLS offered, a refused one or a failed handshake fails it with
 * 4.7.4 or 4.7.5 (ST_TEMP), never plaintext; dane (smtp_client_tls_dane)
 * is verify with the certificate matched against TLSA records.  Each
 * handshake of a connection made by smtp_client_connect offers the
 * session the context kept from the last one with the same address,
 * port, policy, name and TLSA records (tls.h tls_conn_resume; the log
 * says resumed=yes), and keeps the server's new ones.  A kept connection keeps
 * what it agreed (io.tls, tls_verified, tls_policy).
 *
 * Time limits (struct smtp_timeouts, milliseconds): each wait for a reply
 * has one deadline for the whole reply, from when the wait began (bytes
 * trickling in do not extend it); each block of commands or message data
 * written has its own.  smtp_timeouts_default() has the RFC 5321 values.
 *
 * Results: every call that talks to the server fills a struct smtp_result:
 * a struct status (ST_OK for 2xx/3xx, ST_TEMP for 4xx, a network failure,
 * a timeout or a malformed reply; ST_PERM for 5xx or a local refusal such
 * as an address with control characters or a message over the server's
 * SIZE) plus the server's reply as parsed (reply.code 0 when the server
 * said nothing) and the stage it happened at.  errno is meaningful after a
 * failure only when reply.code is 0.  A network failure, a timeout, a
 * malformed reply or a 421 makes the connection unusable: the socket is
 * closed and later calls fail at once until the next smtp_client_connect.
 *
 * Contract: one struct smtp_client per connection, used by one thread at
 * a time; no globals, no printing, no exit(), no signals (the stream's
 * writes use MSG_NOSIGNAL): safe to run many clients in many threads.
 * All its socket I/O goes through c->io.  The socket is owned by the
 * client (SOCK_CLOEXEC, non-blocking, TCP_NODELAY) and closed by
 * smtp_client_quit() or smtp_client_close().  Strings passed in (struct
 * smtp_tx and the rest) are borrowed for the duration of the call.
 */
#ifndef MTA_SMTP_CLIENT_H
#define MTA_SMTP_CLIENT_H

#include <stddef.h>

#include "smtp_dialog.h"
#include "status.h"
#include "stream.h"
#include "tls.h"

enum {
	SMTP_CLIENT_IN_MAX = 4096,    /* input buffer */
	SMTP_CLIENT_ADDR_MAX = SMTP_ADDR_MAX,
	SMTP_CLIENT_HELO_MAX = 256
};

struct smtp_client {
	struct stream io;            /* io.fd -1 when not connected */
	struct smtp_dialog d;        /* the engine */
	struct smtp_dialog_ops ops;  /* ctx: this client */
	long long opened_ms;         /* monotonic: connected (or initialised) */
	struct smtp_timeouts to;
	char peer[96];               /* "192.0.2.1:25" or "[2001:db8::1]:25" */
	char helo[SMTP_CLIENT_HELO_MAX];
	/* where the engine's reports of the call under way go */
	struct smtp_result *rres, *res;
	/* TLS: the policy of the handshake (smtp_client_tls), and after it */
	enum tls_policy tls_policy;
	struct tls_ctx *tls_ctx;     /* borrowed until the handshake ends */
	char tls_host[256];          /* SNI, the name checked; "" none */
	const struct tls_dane *tls_dane; /* TLS_POLICY_DANE: the TLSA records
	                             * (borrowed until the handshake ends) */
	int tls_implicit;            /* TLS from the first byte (smtps) */
	int tls_failed;              /* the TLS handshake failed */
	int tls_verified;            /* certificate trusted, valid for host */
	char tls_why[96];            /* "ok", or why it was not verified */
	/* AUTH (smtp_client_auth): borrowed until the handshake ends */
	const char *auth_user, *auth_pass;
	int auth_insecure;
	int lmtp;                    /* LMTP (smtp_client_lmtp): LHLO, and
	                              * one reply per recipient after the dot */
	int tx_over;                 /* the transaction has been reported */
	int noted;                   /* res holds a note */
	char in[SMTP_CLIENT_IN_MAX];
};

/* smtp_client_init - an unconnected client; to NULL: the defaults */
void smtp_client_init(struct smtp_client *c, const struct smtp_timeouts *to);

struct addrinfo;

/* smtp_resolve - the addresses of host (a name or an address literal,
 * with or without brackets) and port (number or service name) for a TCP
 * connection; 0 with *ai (the caller frees it with freeaddrinfo), or -1
 * with errno and *why saying why (ST_PERM when the name does not exist) */
int smtp_resolve(const char *host, const char *port, struct addrinfo **ai,
                 struct status *why);

/* smtp_client_auth - before the handshake: authenticate as user with
 * pass (both borrowed until smtp_client_handshake returns) after the
 * hello (smtp_dialog_use_auth); insecure 0: only once TLS is on (what TLS
 * is good enough is the policy's word: verify for a smarthost).  Any
 * failure of it fails the handshake, temporary (4.7.x or the server's
 * reply, 535 included) */
void smtp_client_auth(struct smtp_client *c, const char *user,
                      const char *pass, int insecure);

/* smtp_client_connect - connect to host (name or address literal, with
 * or without brackets) and port (number or service name), trying each
 * address; returns 0, or -1 with res saying why (the last failure) */
int smtp_client_connect(struct smtp_client *c, const char *host,
                        const char *port, struct smtp_result *res);
/* smtp_client_connect_unix - connect to the stream socket at path (an
 * LMTP server's); 0, or -1 with res saying why (ST_TEMP: a server not
 * there, or too busy to take the connection now) */
int smtp_client_connect_unix(struct smtp_client *c, const char *path,
                             struct smtp_result *res);
/* smtp_client_lmtp - after smtp_client_init: speak LMTP (RFC 2033) in
 * the handshakes to come: LHLO instead of EHLO (no HELO fallback), and
 * smtp_client_send's rcpt_res get each recipient's own reply after the
 * dot */
void smtp_client_lmtp(struct smtp_client *c);
/* smtp_client_handshake - on the connection c->io (smtp_client_connect's,
 * or a connected socket given to stream_init): the greeting, then EHLO
 * name (HELO when EHLO is refused with a 5xx), and STARTTLS and EHLO
 * again as smtp_client_tls asked (tls_failed set when the TLS handshake
 * failed, errno EPROTO); 0 when the server is
 * ready for mail, else -1 with res saying why (the connection is closed,
 * after a QUIT when the server is still there) */
int smtp_client_handshake(struct smtp_client *c, const char *name,
                          struct smtp_result *res);
/* smtp_client_tls - the TLS policy of the next handshake: policy, the
 * client context ctx (borrowed until the handshake is over; NULL: no
 * STARTTLS, e.g. the plaintext retry under may, which keeps its name)
 * and host (SNI and the name the certificate must be valid for: the MX
 * host name; an address text is checked as an address) */
void smtp_client_tls(struct smtp_client *c, enum tls_policy policy,
                     struct tls_ctx *ctx, const char *host);
/* smtp_client_tls_implicit - after smtp_client_tls (a policy other than
 * none, a context): the next handshakes begin with TLS from the first
 * byte (implicit TLS, RFC 8314: a submissions port, 465) instead of
 * STARTTLS; the same checks of the certificate; a failed handshake fails
 * the handshake call, 4.7.5 (ST_TEMP), tls_failed set */
void smtp_client_tls_implicit(struct smtp_client *c);
/* smtp_client_tls_dane - under TLS_POLICY_DANE (after smtp_client_tls):
 * the TLSA records the certificate must match (RFC 7672), borrowed until
 * the handshake is over; a mismatch fails the handshake (4.7.5) */
void smtp_client_tls_dane(struct smtp_client *c, const struct tls_dane *d);
/* smtp_client_tls_text - "tls=VERSION/CIPHER verify=ok|fail
 * policy=NAME resumed=yes|no" for the log, or "tls=none verify=none
 * policy=NAME" in plaintext, into buf */
void smtp_client_tls_text(const struct smtp_client *c, char *buf, size_t len);
/* smtp_client_open - connect and handshake in one; 0 or -1 */
int smtp_client_open(struct smtp_client *c, const char *host,
                     const char *port, const char *helo,
                     struct smtp_result *res);

/* smtp_client_send - one transaction.  rcpt_res (tx->nrcpt entries) gets
 * each recipient's outcome: its RCPT reply when refused there, else the
 * final reply after the dot (or the failure that ended the transaction).
 * Returns 0 when the server accepted the message for at least one
 * recipient; -1 otherwise, res saying why (MAIL refused, every recipient
 * refused (a 4xx among them makes it ST_TEMP), DATA or the message refused,
 * the connection lost...).  After -1 the connection is either closed or
 * ready for the next transaction (a RSET goes first when needed).  At most
 * SMTP_DIALOG_RCPT_MAX recipients are sent; the rest fail (ST_TEMP). */
int smtp_client_send(struct smtp_client *c, const struct smtp_tx *tx,
                     struct smtp_result *rcpt_res, struct smtp_result *res);
/* smtp_client_rset - RSET now; 0 on a 250, else -1 (closed) */
int smtp_client_rset(struct smtp_client *c, struct smtp_result *res);
/* smtp_client_quit - QUIT, wait (bounded: to.other) for the 221, close;
 * returns 0 when the 221 came, -1 otherwise; the client is closed either
 * way */
int smtp_client_quit(struct smtp_client *c, struct smtp_result *res);
/* smtp_client_close - close the connection without a word */
void smtp_client_close(struct smtp_client *c);
/* smtp_client_connected - true while the connection is usable */
int smtp_client_connected(const struct smtp_client *c);

/* smtp_parse_hostport - split "host:port", "[v6addr]:port", "host" or
 * "[v6addr]" into host (brackets removed) and port (default_port when
 * none); returns 0, or -1 (EINVAL) for bad syntax or buffers too small */
int smtp_parse_hostport(const char *s, const char *default_port, char *host,
                        size_t hostlen, char *port, size_t portlen);

#endif
