/* mtasts_fetch - an MTA-STS policy file over HTTPS (RFC 8461 3.3), with
 * libcurl: https://mta-sts.DOMAIN/.well-known/mta-sts.txt on port 443.
 *
 * The policy host's addresses come from our own resolver (dns.h, --dns
 * when given) and are handed to libcurl pinned to the name
 * (CURLOPT_RESOLVE): libcurl asks no DNS of its own.  The certificate
 * must be valid for mta-sts.DOMAIN against ca (a PEM file, --tls-ca) or
 * the system's CAs.  No redirects are followed (3.3), no proxy is used;
 * only a 200 of media type text/plain with at most MTASTS_POLICY_MAX
 * bytes counts; the whole fetch is bounded by timeout_s.  An option
 * libcurl refuses (curl_easy_setopt's result) fails the fetch.
 *
 * Contract: mtasts_fetch_init() once in main() before any thread starts
 * (curl_global_init is not thread-safe); then any thread may fetch at
 * once: one easy handle per fetch, CURLOPT_NOSIGNAL (no SIGALRM for its
 * timeouts).
 */
#ifndef MTA_MTASTS_FETCH_H
#define MTA_MTASTS_FETCH_H

#include <stddef.h>

#include "dns.h"

/* mtasts_fetch_init - curl_global_init; 0 or -1 */
int mtasts_fetch_init(void);
/* mtasts_fetch - the policy text of domain into buf[cap] (*len bytes,
 * NUL-terminated, so cap > MTASTS_POLICY_MAX); 0, or -1 with the reason
 * in err[errlen] */
int mtasts_fetch(const struct dns_config *dns, const char *domain,
                 const char *ca, int timeout_s, char *buf, size_t cap,
                 size_t *len, char *err, size_t errlen);

#endif
