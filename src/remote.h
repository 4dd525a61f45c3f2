/* remote - deliver recipients of one message to another host over SMTP.
 *
 * Where to (RFC 5321 5.1), in this order:
 *   1. a domain literal ("user@[192.0.2.7]", "[IPv6:...]"): that address,
 *      port --smtp-port;
 *   2. a --route for the domain, or the "*" route (smarthost): that host
 *      (an address, or a name looked up for A/AAAA), its port or 25;
 *   3. the domain's MX records by preference (equal ones shuffled), each
 *      MX's addresses; no MX records: the domain's own addresses; a null
 *      MX (RFC 7505) or a domain that does not exist fails at once;
 *      a DNS failure (SERVFAIL, timeout) is temporary.
 * Never to ourselves (RFC 5321 5.1): an address that is one of our own
 * listeners (localaddr.h), at the port we would connect to, ends the
 * list there, with every MX as preferred as it or less; when that leaves
 * nothing (the best MX is us, or a route or literal points here) the
 * recipient fails at once: 5.4.6 "mail for DOMAIN loops back to myself".
 * Each address is tried in order; a 5xx reply fails the recipient for
 * good, a 4xx, a refused connection or a timeout moves on to the next.
 * When every address has been tried the round has failed temporarily.
 * Several recipients (of one domain: they share the next hop, its route
 * and its TLS decisions) go in one round: each server gets those still
 * open in one transaction with one RCPT each (at most
 * SMTP_DIALOG_RCPT_MAX), and each recipient gets its own outcome (its
 * RCPT refusal, or the reply after the dot); those refused with 452 (too
 * many recipients, RFC 5321 4.5.3.1.10) when the transaction delivered
 * to others go in a next transaction on the same connection, and so on
 * while each one delivers to some; only the recipients whose outcome is
 * temporary move on to the next server.
 * The round counts as an attempt (res->counted) only when every MX host
 * was tried: when the MX lookup or the address lookup of a (more
 * preferred than us) MX host failed temporarily, it does not, and the
 * text says which lookup failed.
 * The round found the next hop dead (res->unreachable) when it tried
 * every MX and no server answered: each refused the connection, was
 * unreachable, or gave no greeting within the time limit.  The scheduler
 * remembers that for a while (destlimit.h).
 * The next hop (remote_next_hop), the key of the scheduler's limits:
 * "HOST:PORT" of a --route (an address as "IP:PORT" or "[IPv6]:PORT"),
 * the same of an address literal with --smtp-port, else the domain in
 * lower case (its MX set; no domain has a ':').
 * TLS (smtp_client.h): the policy of the domain's --route when it has
 * its own tls=, else --tls-client, with the snapshot's client context;
 * the name checked is the MX or route host's (the address for a literal
 * or a route by address).  Under may a failed handshake is logged
 * (relay-tls-fallback) and that server is tried once more at once in
 * plaintext; under encrypt and verify a TLS failure is ST_TEMP 4.7.x for
 * that server, and the next one is tried.  The log line of each attempt
 * (relayed, relay-attempt) carries res->tls.
 * TLS, decided per host in one place (remote_tls.c; the order in
 * remote_priv.h), for a domain's MX hosts only (not a route, not a
 * literal): with --dane, under a secure MX RRset, DNSSEC-validated TLSA
 * records first (dane.h: dane, encrypt, or a 4.7.5 deferral of that
 * host; a bogus MX RRset defers the round); then the domain's MTA-STS
 * policy (RFC 8461, mtasts_lookup.h) unless --mta-sts no: in enforce mode
 * only the MX hosts it lists are tried, each with verify against its MX
 * host name (none listed: deferred, 4.7.5; logged relay-sts ...
 * refused=), logged policy=mta-sts; in testing mode the hosts it would
 * refuse (not listed, or reached without a verified certificate) are
 * logged (relay-sts ... would-refuse=) and the delivery goes on as
 * --tls-client says; else the route's tls=, else --tls-client.
 * A connection still usable after a delivery is kept for the next one to
 * the same address and port under the same TLS policy, name and client
 * context (conncache.h) for REMOTE_IDLE_SECONDS.
 *
 * Contract: thread-safe; the config and dns config are borrowed.  The
 * message is read from fd[offset..EOF); fd's offset is changed.
 */
#ifndef MTA_REMOTE_H
#define MTA_REMOTE_H

#include <sys/types.h>

#include "addr.h"
#include "config.h"
#include "conncache.h"
#include "dns.h"
#include "smtp_client.h"
#include "status.h"

/* a kept connection's idle time; the limit of one MTA-STS policy fetch */
enum { REMOTE_IDLE_SECONDS = 5, REMOTE_STS_SECONDS = 20 };

struct remote_ctx {
	const struct config *cfg;
	struct dns_config dns;
	struct smtp_timeouts timeouts;
	struct conncache *cache;        /* connections kept between deliveries */
};

/* one recipient of a round, and its outcome */
struct remote_rcpt {
	const struct mailbox *rcpt;     /* given (borrowed) */
	struct status st;
	char remote_mta[DNS_NAME_MAX];  /* who said the last word, "" = nobody */
	char diag[SMTP_REPLY_TEXT_MAX]; /* "550 5.1.1 text" when a server replied */
	char tls[160];                  /* that server's TLS for the log:
	                                 * smtp_client_tls_text */
	/* RFC 3461, given: NOTIFY= and ORCPT= ready for the wire (NULL:
	 * none), passed on only to a server that offers DSN */
	const char *dsn_notify, *dsn_orcpt;
	int dsn_offered;                /* the server that took it offered DSN
	                                 * (RFC 3461: reports are its business) */
};

/* the round's facts, shared by its recipients */
struct remote_result {
	int counted;                    /* every MX was tried: an attempt */
	int unreachable;                /* ... and none of them answered */
};

/* remote_ctx_init - from the config; 0, or -1 when --dns is invalid, -2
 * when the connection cache cannot be set up (out of memory, no thread) */
int remote_ctx_init(struct remote_ctx *rc, const struct config *cfg);
/* remote_ctx_derive - rc: base's connection cache with the settings of
 * snapshot cfg (already checked: --dns valid) */
void remote_ctx_derive(struct remote_ctx *rc, const struct remote_ctx *base,
                       const struct config *cfg);
/* remote_ctx_free - close the kept connections; only when no delivery
 * runs any more */
void remote_ctx_free(struct remote_ctx *rc);
/* remote_next_hop - rcpt's next hop under cfg into buf[len] */
void remote_next_hop(const struct config *cfg, const struct mailbox *rcpt,
                     char *buf, size_t len);
/* the message's RFC 3461 requests (RET=, ENVID=, as written; NULL:
 * none), passed on to a server that offers DSN */
struct remote_dsn {
	const char *ret, *envid;
};

/* remote_deliver - one round for the n recipients rr[] (n >= 1, all of
 * one domain); each rr[i] gets its outcome, res the round's facts.
 * body_8bit: the message was declared BODY=8BITMIME (sent on to servers
 * that offer it; to the others any 8-bit message goes downgraded,
 * smtp_client.h); dsn: the message's DSN requests (NULL: none) */
void remote_deliver(const struct remote_ctx *rc, const char *sender,
                    struct remote_rcpt *rr, size_t n, int body_8bit,
                    const struct remote_dsn *dsn, int fd,
                    off_t offset, struct remote_result *res);

#endif
