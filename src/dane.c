/* dane.c - DNSSEC-validated MX, address and TLSA lookups; see dane.h */
#include <arpa/nameser.h>
#include <errno.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unbound.h>
#include <unistd.h>

#include "dane.h"

enum {
	RR_A = 1, RR_MX = 15, RR_AAAA = 28, RR_DNSKEY = 48, RR_TLSA = 52,
	RR_CLASS_IN = 1,
	RCODE_SERVFAIL = 2
};

struct dane_resolver {
	struct ub_ctx *ub;
};

/* anchor_zone - the owner name of the first record in the trust anchor
 * file (".", "example."), into zone; 0 or -1 */
static int anchor_zone(const char *path, char *zone, size_t len)
{
	FILE *f = fopen(path, "re");
	char line[1024];
	int found = -1;

	if (f == NULL)
		return -1;
	while (found < 0 && fgets(line, sizeof line, f) != NULL) {
		size_t n = strcspn(line, " \t\r\n");

		/* comments, blank lines, directives, continuations */
		if (n == 0 || line[0] == ';' || line[0] == '$')
			continue;
		if (n < len) {
			memcpy(zone, line, n);
			zone[n] = '\0';
			found = 0;
		}
	}
	fclose(f);
	return found;
}

/* resolve - one validated lookup; 0 with *res (ub_resolve_free it), or
 * -1 with why set */
static int resolve(struct dane_resolver *r, const char *name, int type,
                   struct ub_result **res, char *why, size_t len)
{
	int e = ub_resolve(r->ub, name, type, RR_CLASS_IN, res);

	if (e != 0) {
		snprintf(why, len, "lookup of %s failed: %s", name, ub_strerror(e));
		return -1;
	}
	return 0;
}

/* status_of - a result's DNSSEC status; why says it for name */
static enum dane_status status_of(const struct ub_result *res, const char *name,
                                  const char *what, char *why, size_t len)
{
	if (res->bogus) {
		snprintf(why, len, "%s of %s is bogus: %s", what, name,
		         res->why_bogus ? res->why_bogus : "validation failed");
		return DANE_FAILED;
	}
	if (res->rcode == RCODE_SERVFAIL) {
		snprintf(why, len, "%s lookup of %s failed (SERVFAIL)", what, name);
		return DANE_FAILED;
	}
	if (!res->secure) {
		snprintf(why, len, "%s of %s is insecure", what, name);
		return DANE_INSECURE;
	}
	snprintf(why, len, "%s of %s is secure", what, name);
	return DANE_SECURE;
}

/* dane_resolver_new - set up, then prove it validates */
struct dane_resolver *dane_resolver_new(const char *anchor, const char *fwd,
                                        char *err, size_t errlen)
{
	struct dane_resolver *r = calloc(1, sizeof *r);
	struct ub_result *res = NULL;
	char zone[256], addr[64], why[512];
	const char *colon;
	int e;

	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	errno = 0;
	if (access(anchor, R_OK) < 0 || anchor_zone(anchor, zone, sizeof zone) < 0) {
		snprintf(err, errlen, "--dns-trust-anchor %s: %s", anchor,
		         errno ? strerror(errno) : "no record in it");
		goto fail;
	}
	if ((r->ub = ub_ctx_create()) == NULL) {
		snprintf(err, errlen, "--dane: cannot create a libunbound context");
		goto fail;
	}
	/* libunbound never forks or starts threads of its own: only
	 * blocking lookups are made */
	e = ub_ctx_async(r->ub, 1);
	if (e == 0 && fwd != NULL) {
		/* "ADDR:PORT" is libunbound's "ADDR@PORT" */
		colon = strchr(fwd, ':');
		if (colon != NULL)
			snprintf(addr, sizeof addr, "%.*s@%s", (int)(colon - fwd), fwd,
			         colon + 1);
		else
			snprintf(addr, sizeof addr, "%s", fwd);
		e = ub_ctx_set_fwd(r->ub, addr);
	} else if (e == 0) {
		e = ub_ctx_resolvconf(r->ub, NULL);
	}
	if (e == 0)
		e = ub_ctx_add_ta_file(r->ub, anchor);
	if (e != 0) {
		snprintf(err, errlen, "--dane: libunbound set-up: %s", ub_strerror(e));
		goto fail;
	}
	/* the first lookup loads the anchor: a broken file fails here */
	if (resolve(r, zone, RR_DNSKEY, &res, why, sizeof why) < 0) {
		snprintf(err, errlen, "--dane with --dns-trust-anchor %s: %s", anchor, why);
		goto fail;
	}
	if (!res->secure) {
		status_of(res, zone, "DNSKEY", why, sizeof why);
		snprintf(err, errlen, "--dane: no validating resolver: the DNSKEY of "
		         "%s (--dns-trust-anchor %s) was not validated (%s)", zone,
		         anchor, res->bogus || res->rcode == RCODE_SERVFAIL ? why :
		         "insecure: does the DNS server pass DNSSEC records on?");
		ub_resolve_free(res);
		goto fail;
	}
	ub_resolve_free(res);
	return r;
fail:
	dane_resolver_free(r);
	return NULL;
}

/* dane_resolver_free - the context, and any lookups it holds */
void dane_resolver_free(struct dane_resolver *r)
{
	if (r == NULL)
		return;
	if (r->ub != NULL)
		ub_ctx_delete(r->ub);
	free(r);
}

/* mx_records - the MX records of a validated answer into mx; 0, or -1
 * when one is damaged */
static int mx_records(const struct ub_result *res, struct dns_mx *mx,
                      size_t max, size_t *n)
{
	int i;

	*n = 0;
	for (i = 0; res->data[i] != NULL; i++) {
		const unsigned char *rd = (const unsigned char *)res->data[i];
		size_t at = 2, rdlen = (size_t)res->len[i];
		struct dns_mx rec;

		/* the name in the RDATA is uncompressed: its labels must end
		 * inside it, before ns_name_ntop reads it */
		while (at < rdlen && rd[at] != 0 && rd[at] < 64)
			at += 1 + rd[at];
		if (rdlen < 3 || at >= rdlen || rd[at] != 0)
			return -1;
		rec.pref = (unsigned)rd[0] << 8 | rd[1];
		if (ns_name_ntop(rd + 2, rec.name, sizeof rec.name) < 0)
			return -1;
		if (strcmp(rec.name, ".") == 0)
			rec.name[0] = '\0';
		dns_mx_keep(mx, max, n, &rec);
	}
	dns_mx_order(mx, *n);
	return 0;
}

/* dane_mx_status - MX RRset (or its absence) validated? */
enum dane_status dane_mx_status(struct dane_resolver *r, const char *domain,
                                struct dns_mx *mx, size_t max, size_t *n,
                                enum dns_result *found, char *why, size_t len)
{
	struct ub_result *res;
	enum dane_status s;

	*n = 0;
	*found = DNS_TEMP;
	if (resolve(r, domain, RR_MX, &res, why, len) < 0)
		return DANE_FAILED;
	s = status_of(res, domain, "MX", why, len);
	if (s == DANE_SECURE) {
		if (res->nxdomain)
			*found = DNS_NXDOMAIN;
		else if (!res->havedata)
			*found = DNS_NODATA;
		else if (mx_records(res, mx, max, n) == 0)
			*found = *n > 0 ? DNS_OK : DNS_NODATA;
		else {
			snprintf(why, len, "MX of %s is secure but damaged", domain);
			s = DANE_FAILED;
		}
	}
	ub_resolve_free(res);
	return s;
}

/* host_status - the host's address records: A, or AAAA when it has no A */
static enum dane_status host_status(struct dane_resolver *r, const char *host,
                                    char *why, size_t len)
{
	struct ub_result *res;
	enum dane_status s;
	int have;

	if (resolve(r, host, RR_A, &res, why, len) < 0)
		return DANE_FAILED;
	s = status_of(res, host, "A", why, len);
	have = res->havedata;
	ub_resolve_free(res);
	if (s != DANE_SECURE || have)
		return s;
	if (resolve(r, host, RR_AAAA, &res, why, len) < 0)
		return DANE_FAILED;
	s = status_of(res, host, "AAAA", why, len);
	ub_resolve_free(res);
	return s;
}

/* dane_tlsa_parse - one record, usable or not */
int dane_tlsa_parse(const unsigned char *rdata, size_t len, struct tls_tlsa *rec)
{
	memset(rec, 0, sizeof *rec);
	if (len < 4)
		return 0;
	rec->usage = rdata[0];
	rec->selector = rdata[1];
	rec->mtype = rdata[2];
	rec->len = len - 3;
	/* RFC 7672 3.1.3: PKIX-TA(0) and PKIX-EE(1) are not for SMTP */
	if ((rec->usage != 2 && rec->usage != 3) || rec->selector > 1 ||
	    rec->mtype > 2 || rec->len > TLS_TLSA_DATA_MAX)
		return 0;
	if ((rec->mtype == 1 && rec->len != 32) || (rec->mtype == 2 && rec->len != 64))
		return 0;
	memcpy(rec->data, rdata + 3, rec->len);
	return 1;
}

/* dane_host - address records, then TLSA records */
enum dane_verdict dane_host(struct dane_resolver *r, const char *host,
                            unsigned port, struct tls_dane *out, char *why,
                            size_t len)
{
	struct ub_result *res;
	char name[300];
	enum dane_status s;
	enum dane_verdict v;
	size_t i, total = 0;

	out->n = 0;
	/* RFC 7672 2.2.2: TLSA records count only under secure addresses */
	s = host_status(r, host, why, len);
	if (s != DANE_SECURE)
		return s == DANE_INSECURE ? DANE_NONE : DANE_DEFER;
	snprintf(name, sizeof name, "_%u._tcp.%s", port, host);
	if (resolve(r, name, RR_TLSA, &res, why, len) < 0)
		return DANE_DEFER;
	s = status_of(res, name, "TLSA", why, len);
	if (s != DANE_SECURE) {
		ub_resolve_free(res);
		return s == DANE_INSECURE ? DANE_NONE : DANE_DEFER;
	}
	if (!res->havedata) {
		snprintf(why, len, "%s has no TLSA records (securely)", name);
		ub_resolve_free(res);
		return DANE_NONE;
	}
	for (i = 0; res->data[i] != NULL; i++, total++)
		if (out->n < TLS_TLSA_MAX &&
		    dane_tlsa_parse((const unsigned char *)res->data[i],
		                    (size_t)res->len[i], &out->rec[out->n]))
			out->n++;
	ub_resolve_free(res);
	v = out->n > 0 ? DANE_MANDATORY : DANE_ENCRYPT;
	snprintf(why, len, "%s: %zu TLSA record%s, %zu usable", name, total,
	         total == 1 ? "" : "s", out->n);
	return v;
}
