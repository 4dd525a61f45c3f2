/* dane - the DNSSEC-validated lookups of DANE (RFC 7672) for remote
 * delivery, with libunbound as the validating resolver.
 *
 * A resolver (struct dane_resolver) holds one libunbound context: the
 * trust anchor (a file of DS or DNSKEY records in zone file form, such as
 * the root's /usr/share/dns/root.key of dns-root-data), and --dns, when
 * given, as the server it forwards every question to (it must pass the
 * DNSSEC records through).  dane_resolver_new() checks that it can
 * validate before anyone relies on it: the DNSKEY RRset of the anchor's
 * own zone must come back secure.
 *
 * What DNSSEC says (RFC 7672 2.1):
 *   dane_mx_status - the MX RRset of a domain (or its proven absence):
 *     secure (with the MX hosts it names), insecure, or failed (bogus,
 *     or the lookup failed);
 *   dane_host - for an MX host of a secure MX RRset: its address records
 *     must be secure too, then its TLSA records (_PORT._tcp.HOST) decide:
 *       DANE_MANDATORY  secure and usable: TLS required, the certificate
 *                       must match one (out holds them);
 *       DANE_ENCRYPT    secure, but none usable (PKIX-TA(0), PKIX-EE(1),
 *                       unknown selectors or matching types, or data
 *                       longer than TLS_TLSA_DATA_MAX): TLS required,
 *                       any certificate (RFC 7672 2.2);
 *       DANE_NONE       insecure (or securely none): other policies;
 *       DANE_DEFER      bogus, or the lookup failed: this host must not
 *                       be used now (never plaintext).
 *   why gets a text for the log in every case.
 *
 * Thread safety: libunbound's functions are thread-safe and one context
 * may serve every thread (libunbound(3)); its settings are all made in
 * dane_resolver_new(), before the first lookup (which freezes them), so
 * afterwards the context is only resolved through: any thread may call
 * dane_mx_status and dane_host at once.  Blocking lookups (ub_resolve):
 * no thread or process of libunbound's own runs in the background.
 * A resolver belongs to a configuration snapshot (config.h) and is freed
 * with it, when no delivery uses it any more.
 */
#ifndef MTA_DANE_H
#define MTA_DANE_H

#include <stddef.h>

#include "dns.h"
#include "tls.h"

struct dane_resolver;

enum dane_status { DANE_SECURE, DANE_INSECURE, DANE_FAILED };
enum dane_verdict { DANE_NONE, DANE_MANDATORY, DANE_ENCRYPT, DANE_DEFER };

/* dane_resolver_new - a validating resolver with the trust anchor file
 * anchor, forwarding to fwd ("ADDR[:PORT]", NULL: to the servers of
 * /etc/resolv.conf); NULL with err saying why (the file missing or not
 * a trust anchor, the anchor's zone not validated) */
struct dane_resolver *dane_resolver_new(const char *anchor, const char *fwd,
                                        char *err, size_t errlen);
/* dane_resolver_free - NULL is ignored */
void dane_resolver_free(struct dane_resolver *r);
/* dane_mx_status - the DNSSEC status of domain's MX lookup; when secure,
 * also its validated answer, which is the one to deliver by (the plain
 * resolver of dns.h can be lied to): *found DNS_OK with the MX records in
 * mx (at most max of them, *n, sorted as dns_mx sorts them), DNS_NODATA
 * or DNS_NXDOMAIN */
enum dane_status dane_mx_status(struct dane_resolver *r, const char *domain,
                                struct dns_mx *mx, size_t max, size_t *n,
                                enum dns_result *found, char *why, size_t len);
/* dane_host - the DANE verdict for MX host host at port port; out gets
 * the usable TLSA records under DANE_MANDATORY */
enum dane_verdict dane_host(struct dane_resolver *r, const char *host,
                            unsigned port, struct tls_dane *out, char *why,
                            size_t len);
/* dane_tlsa_parse - one TLSA record's RDATA (len bytes) into rec: 1 when
 * usable for SMTP (RFC 7672 3.1: usage 2 or 3, selector 0 or 1,
 * matching type 0, 1 or 2, data at most TLS_TLSA_DATA_MAX bytes), else 0 */
int dane_tlsa_parse(const unsigned char *rdata, size_t len, struct tls_tlsa *rec);

#endif
