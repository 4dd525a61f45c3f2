/* remote_priv - what remote.c, remote_tx.c and remote_tls.c share: a
 * hop, the TLS policy of a round and of each host in it, and the
 * transactions at one host (remote_tx.c).
 *
 * Not for other modules: the public interface is remote.h.  remote.c
 * finds the hops and tries them; remote_tx.c talks to one of them;
 * remote_tls.c is the one place where a
 * host's TLS policy is decided, strongest first:
 *   1. a --route's own tls= (its host is ours to name, not the domain's),
 *      else, for an address literal, --tls-client: MTA-STS applies only
 *      to a domain's MX hosts, DANE to them and to a route's host named
 *      (not an address) without tls=;
 *   2. DANE (RFC 7672, with --dane, under a secure MX RRset, or for a
 *      route's host whose addresses are secure): a host with usable
 *      TLSA records gets dane (it takes precedence over MTA-STS, RFC
 *      8461 section 2); bogus or failed: that host is not tried now;
 *   3. MTA-STS (RFC 8461, unless --mta-sts no): in enforce mode only the
 *      MX hosts the policy lists are tried (remote_tls_sts_hops, once per
 *      round before any host), each under verify with its MX host name;
 *      in testing mode what enforce would refuse is logged;
 *   4. a host with only unusable TLSA records: encrypt (verify, when
 *      the base policy is verify);
 *   5. --tls-client.
 * The log's policy= says which: dane, mta-sts, or the policy's own name
 * (may, encrypt, verify, none).
 * Thread safety: a struct remote_tls belongs to one delivery round; it
 * holds no lock and shares nothing but the snapshot's read-only parts.
 */
#ifndef MTA_REMOTE_PRIV_H
#define MTA_REMOTE_PRIV_H

#include <sys/socket.h>

#include "dane.h"
#include "log.h"
#include "mtasts.h"
#include "netaddr.h"
#include "remote.h"

/* one address to try, and the name it was found under */
struct hop {
	char name[DNS_NAME_MAX];
	char ip[NETADDR_TEXT_MAX];
	unsigned port;
	unsigned pref;              /* its MX preference; 0 for the others */
	struct sockaddr_storage sa;
};

/* the TLS of one host: the policy and the client context (with the
 * server's name, the key a kept connection must match: tls_key), where
 * the policy came from, and under DANE the TLSA records its certificate
 * must match */
struct round_tls {
	enum tls_policy policy;
	struct tls_ctx *ctx;
	const char *source;         /* the log's policy=: NULL = the policy's
	                             * own name; "mta-sts" */
	const struct mtasts_policy *sts;  /* the round's, or NULL */
	struct tls_dane dane;
	/* the route whose credentials (auth=) the connection logs in with,
	 * or NULL; the snapshot's */
	const struct route *auth;
};

/* DANE in one round: off (not --dane, an address literal, a route with
 * tls=, or an insecure MX RRset), or on with the validated MX lookup
 * (the hosts the round tries) or for a route's host, and the last host's
 * verdict (the hops of one host follow each other: one TLSA lookup per
 * host) */
struct round_dane {
	int on;
	char domain[DNS_NAME_MAX];  /* the next hop: the recipient's domain;
	                             * "" for a route (its host is the hop) */
	char host[DNS_NAME_MAX];    /* "" none looked up yet */
	enum dane_verdict verdict;
	struct tls_dane recs;
	char why[LOG_VALUE_MAX];
	/* on: the validated MX lookup, the one the round goes by */
	enum dns_result found;
	size_t nmx;
	struct dns_mx mx[DNS_MX_MAX];
};

/* the TLS of one round: what decides each host's.  All zero (calloc) is
 * a round not yet decided, safe to free. */
struct remote_tls {
	struct round_tls base;      /* the route's tls=, else --tls-client */
	struct mtasts_policy *sts;  /* the domain's MTA-STS policy in enforce
	                             * or testing mode, or NULL; owned */
	struct round_dane dane;
};

/* remote_tls_dane_round - the round's first part of the decision for
 * mail to rcpt (route: its --route, or NULL), made before the MX hosts
 * are looked up: the base policy and DANE's word on the MX RRset; when
 * secure, rt->dane holds its validated answer, which names the MX hosts
 * (the plain resolver's could be forged: RFC 7672 2.2.1); for a route
 * without tls=, DANE on for its host (remote_tls_host looks it up).  ST_OK, or
 * ST_TEMP 4.7.5 (DNSSEC cannot say): the round must wait */
struct status remote_tls_dane_round(const struct remote_ctx *rc,
                                    const struct mailbox *rcpt,
                                    const struct route *route,
                                    struct remote_tls *rt);
/* remote_tls_sts_round - the round's MTA-STS policy (RFC 8461) for mail
 * to rcpt into rt->sts, once the hops are known not to loop to us; ST_OK,
 * or ST_TEMP (out of memory) */
struct status remote_tls_sts_round(const struct remote_ctx *rc,
                                   const struct mailbox *rcpt,
                                   const struct route *route,
                                   struct remote_tls *rt);
/* remote_tls_sts_hops - the MX hosts rt's MTA-STS policy does not list
 * (RFC 8461 4.1): enforce drops them from hops (none left: ST_TEMP
 * 4.7.5), testing only logs them (relay-sts ... would-refuse=) */
struct status remote_tls_sts_hops(const struct remote_tls *rt,
                                  const char *domain, struct hop *hops,
                                  size_t *n);
/* remote_tls_host - THE decision for host h (see the top): ST_OK with *t
 * set, or ST_TEMP 4.7.5 why h must not be tried now (DANE) */
struct status remote_tls_host(const struct remote_ctx *rc,
                              struct remote_tls *rt, const struct hop *h,
                              struct round_tls *t);
/* remote_tls_free - what rt owns; rt itself stays the caller's */
void remote_tls_free(struct remote_tls *rt);
/* remote_tls_text - the log's TLS fields of c (NULL: none yet) under t;
 * the policy named as where it came from */
void remote_tls_text(const struct smtp_client *c, const struct round_tls *t,
                     char *buf, size_t len);
/* remote_tls_testing_note - under an MTA-STS policy in testing mode, a
 * listed MX host reached without a verified certificate is what enforce
 * would refuse: logged (relay-sts ... would-refuse= ... reason=) */
void remote_tls_testing_note(const struct round_tls *t, const struct hop *h,
                             const struct smtp_client *c, const char *domain);
/* remote_try_hop - one server h, under TLS t, for the round's open
 * recipients rr[idx[0..np)] (np >= 1): each of them gets its outcome
 * there (st ST_OK, ST_PERM, or ST_TEMP: open for the next server), its
 * server, reply and TLS; *silent set when h never answered.  The message
 * is read from fd[offset..] for each transaction. */
void remote_try_hop(const struct remote_ctx *rc, const struct hop *h,
                    const struct round_tls *t, const char *sender,
                    struct remote_rcpt *rr, const size_t *idx, size_t np,
                    int body_8bit, const struct remote_dsn *dsn, int fd,
                    off_t offset, int *silent);
/* remote_hop_is_address - the hop's name is its address ("[192.0.2.1]"
 * from a domain literal, or a --route by address) */
int remote_hop_is_address(const struct hop *h);
/* remote_tls_name - the name h's certificate must be valid for: its MX
 * host or route host name, its address when it has none (a literal) */
const char *remote_tls_name(const struct hop *h);

#endif
