/* mtasts_lookup - the MTA-STS policy of a mail domain for one delivery
 * round (RFC 8461 5.1), from DNS, HTTPS and the cache.
 *
 * The _mta-sts.DOMAIN TXT record (exactly one STSv1 record, by
 * mtasts_txt_is_sts, among the first TXT_RECORDS there; other records
 * are discarded) names the policy's id.  A cached policy still fresh with that id is
 * used as it is; another id, or none cached, fetches the policy
 * (mtasts_fetch.h), stores it with the id and the time (mtasts_cache.h)
 * and uses it.  When the record cannot be had (no record, a DNS
 * failure) or the fetch fails (a policy that does not parse
 * included: logged with the reason), a cached policy still fresh is used; with
 * none, the domain has no policy.  Fetches and their failures are
 * logged (mta-sts, mta-sts-error).  A fetch that failed is not tried
 * again for the same domain and id for MTASTS_RETRY_SECONDS (kept in
 * memory: a restart forgets it).
 *
 * Contract: thread-safe (the cache's files and the table of failed
 * fetches, under its lock, are the shared state); blocks for DNS and at
 * most timeout_s for the fetch.  Everything is borrowed.
 */
#ifndef MTA_MTASTS_LOOKUP_H
#define MTA_MTASTS_LOOKUP_H

#include "dns.h"
#include "mtasts.h"

enum { MTASTS_RETRY_SECONDS = 300 };

struct mtasts_env {
	const char *queue;              /* the cache lives in QUEUE/sts */
	const struct dns_config *dns;   /* the MX lookups' resolver */
	const char *ca;                 /* --tls-ca, NULL: the system's */
	int timeout_s;                  /* of one fetch */
};

/* mtasts_lookup - 1 with domain's policy in *p (its mode may be none),
 * or 0: no policy */
int mtasts_lookup(const struct mtasts_env *env, const char *domain,
                  struct mtasts_policy *p);

#endif
