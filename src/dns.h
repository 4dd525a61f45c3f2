/* dns - the DNS lookups remote delivery needs: MX records (RFC 5321 5.1),
 * a host's addresses, TXT records (MTA-STS), thread-safe.
 *
 * Uses the C library's reentrant resolver (res_ninit/res_nquery with a
 * resolver state per call), never libowfat's dns_* functions, which keep
 * process-wide state.  dns_config names the server (--dns ADDR[:PORT],
 * IPv4 only) or leaves /etc/resolv.conf in charge.
 *
 * Outcomes: DNS_OK; DNS_NODATA (the name exists but has no records of
 * that type); DNS_NXDOMAIN (no such name: permanent); DNS_TEMP (SERVFAIL,
 * timeout, no server: try again later).
 *
 * Contract: pure functions on caller buffers plus the resolver; any
 * thread may call them at once.
 */
#ifndef MTA_DNS_H
#define MTA_DNS_H

#include <netinet/in.h>
#include <stddef.h>
#include <sys/socket.h>

enum { DNS_NAME_MAX = 256, DNS_MX_MAX = 32, DNS_ADDR_MAX = 16,
       DNS_TXT_MAX = 512 };

enum dns_result { DNS_OK = 0, DNS_NODATA, DNS_NXDOMAIN, DNS_TEMP };

struct dns_config {
	int use_server;               /* 0: /etc/resolv.conf */
	struct sockaddr_in server;
	int timeout_s;                /* per try; 2 tries */
};

struct dns_mx {
	unsigned pref;
	char name[DNS_NAME_MAX];      /* "" for the null MX "." (RFC 7505) */
};

/* dns_config_parse - "ADDR[:PORT]" (NULL: resolv.conf); 0 or -1 */
int dns_config_parse(struct dns_config *cfg, const char *text);
/* dns_mx - the MX records of domain, sorted (dns_mx_sort) */
enum dns_result dns_mx(const struct dns_config *cfg, const char *domain,
                       struct dns_mx *mx, size_t max, size_t *n);
/* dns_addrs - the A, then AAAA, addresses of name (port 0) */
enum dns_result dns_addrs(const struct dns_config *cfg, const char *name,
                          struct sockaddr_storage *addrs, size_t max,
                          size_t *n);
/* dns_txt - the TXT records of name, up to max of them, each one's
 * character-strings joined (RFC 7208 3.3) and cut to DNS_TXT_MAX - 1 */
enum dns_result dns_txt(const struct dns_config *cfg, const char *name,
                        char (*txt)[DNS_TXT_MAX], size_t max, size_t *n);
/* dns_mx_sort - by preference; equal preferences in random order, from
 * seed (RFC 5321 5.1) */
void dns_mx_sort(struct dns_mx *mx, size_t n, unsigned seed);
/* dns_mx_order - dns_mx_sort with a seed of its own (the time) */
void dns_mx_order(struct dns_mx *mx, size_t n);
/* dns_mx_keep - rec into mx, n of max used: appended, or when full in
 * place of the least preferred one if rec is preferred to it */
void dns_mx_keep(struct dns_mx *mx, size_t max, size_t *n,
                 const struct dns_mx *rec);
/* dns_mx_is_null - the domain declares it takes no mail (RFC 7505) */
int dns_mx_is_null(const struct dns_mx *mx, size_t n);

#endif
