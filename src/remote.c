/* remote.c - routing and one SMTP delivery round; see remote.h */
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "localaddr.h"
#include "log.h"
#include "netaddr.h"
#include "remote_priv.h"

enum { HOPS_MAX = 32 };

/* what the lookups left out: the most preferred MX host whose address
 * lookup failed temporarily (pref UINT_MAX: none) */
struct dns_gap {
	unsigned pref;
	char name[DNS_NAME_MAX];
};

/* remote_ctx_init - DNS server and client time limits */
int remote_ctx_init(struct remote_ctx *rc, const struct config *cfg)
{
	rc->cfg = cfg;
	if (dns_config_parse(&rc->dns, cfg->dns) < 0)
		return -1;
	if (cfg->smtp_timeout)
		smtp_timeouts_all(&rc->timeouts, (int)cfg->smtp_timeout * 1000);
	else
		smtp_timeouts_default(&rc->timeouts);
	/* as many kept as deliveries can run: each finds one when busy */
	rc->cache = conncache_new(cfg->max_deliveries, REMOTE_IDLE_SECONDS);
	return rc->cache != NULL ? 0 : -2;
}

/* remote_ctx_derive - a delivery's settings, from its snapshot */
void remote_ctx_derive(struct remote_ctx *rc, const struct remote_ctx *base,
                       const struct config *cfg)
{
	*rc = *base;
	rc->cfg = cfg;
	if (dns_config_parse(&rc->dns, cfg->dns) < 0)
		rc->dns = base->dns;         /* options.c checked it: cannot be */
	if (cfg->smtp_timeout)
		smtp_timeouts_all(&rc->timeouts, (int)cfg->smtp_timeout * 1000);
	else
		smtp_timeouts_default(&rc->timeouts);
}

/* remote_ctx_free - the kept connections get their QUIT */
void remote_ctx_free(struct remote_ctx *rc)
{
	conncache_free(rc->cache);
	rc->cache = NULL;
}

/* add_hop - append one address */
static void add_hop(struct hop *hops, size_t *n, const char *name,
                    const struct sockaddr *sa, unsigned port, unsigned pref)
{
	if (*n >= HOPS_MAX)
		return;
	snprintf(hops[*n].name, sizeof hops[*n].name, "%s", name);
	netaddr_ip(sa, hops[*n].ip, sizeof hops[*n].ip);
	hops[*n].port = port;
	hops[*n].pref = pref;
	memset(&hops[*n].sa, 0, sizeof hops[*n].sa);
	memcpy(&hops[*n].sa, sa, sa->sa_family == AF_INET6
	       ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in));
	(*n)++;
}

/* add_host - the addresses of a host name or IP text; a DNS status */
static enum dns_result add_host(const struct remote_ctx *rc, const char *host,
                                unsigned port, unsigned pref, struct hop *hops,
                                size_t *n)
{
	struct sockaddr_storage addrs[DNS_ADDR_MAX];
	char ip[DNS_NAME_MAX];
	size_t count, i, len = strlen(host), alen;
	const char *a;
	enum dns_result r;
	socklen_t sl;

	/* "[192.0.2.1]", "[IPv6:...]" or a bare address: no lookup */
	a = netaddr_unliteral(host, len, &alen);
	snprintf(ip, sizeof ip, "%.*s", (int)alen, a);
	if (netaddr_parse(ip, 25, &addrs[0], &sl) == 0) {
		add_hop(hops, n, host, (struct sockaddr *)&addrs[0], port, pref);
		return DNS_OK;
	}
	r = dns_addrs(&rc->dns, host, addrs, DNS_ADDR_MAX, &count);
	for (i = 0; i < count; i++)
		add_hop(hops, n, host, (struct sockaddr *)&addrs[i], port, pref);
	return r;
}

/* find_route - the --route for domain, or the "*" route, or NULL */
static const struct route *find_route(const struct config *cfg, const char *domain)
{
	const struct route *star = NULL;
	size_t i;

	for (i = 0; i < cfg->nroutes; i++) {
		if (strcasecmp(cfg->routes[i].domain, domain) == 0)
			return &cfg->routes[i];
		if (strcmp(cfg->routes[i].domain, "*") == 0 && star == NULL)
			star = &cfg->routes[i];
	}
	return star;
}

/* host_key - "HOST:PORT" for a host name or address text into buf */
static void host_key(const char *host, unsigned port, char *buf, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	char ip[DNS_NAME_MAX];
	size_t alen, i;
	const char *a = netaddr_unliteral(host, strlen(host), &alen);

	snprintf(ip, sizeof ip, "%.*s", (int)alen, a);
	if (netaddr_parse(ip, port, &ss, &sl) == 0) {
		/* one spelling per address: "[IPv6:::1]" and "::1" are one hop */
		if (ss.ss_family == AF_INET6)
			((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)port);
		else
			((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)port);
		netaddr_text((struct sockaddr *)&ss, buf, len);
		return;
	}
	snprintf(buf, len, "%s:%u", host, port);
	for (i = 0; buf[i]; i++)
		buf[i] = (char)tolower((unsigned char)buf[i]);
}

/* remote_next_hop - the key of where route_hops goes */
void remote_next_hop(const struct config *cfg, const struct mailbox *rcpt,
                     char *buf, size_t len)
{
	const char *domain = addr_domain(rcpt);
	const struct route *route;
	size_t i;

	if (rcpt->literal) {
		host_key(domain, cfg->smtp_port, buf, len);
		return;
	}
	if ((route = find_route(cfg, domain)) != NULL) {
		host_key(route->host, route->port ? route->port : 25, buf, len);
		return;
	}
	snprintf(buf, len, "%s", domain);
	for (i = 0; buf[i]; i++)
		buf[i] = (char)tolower((unsigned char)buf[i]);
}

/* route_hops - where to try, in order; ST_OK with *n > 0, or why not.
 * An MX host whose address lookup fails temporarily goes into *gap.
 * Under DANE (dn->on) the MX hosts are those DNSSEC vouched for, not
 * what the plain resolver says: a forged MX (or NXDOMAIN) there would
 * otherwise take the mail past DANE (RFC 7672 2.2.1). */
static struct status route_hops(const struct remote_ctx *rc,
                                const struct mailbox *rcpt,
                                const struct round_dane *dn, struct hop *hops,
                                size_t *n, struct dns_gap *gap)
{
	const char *domain = addr_domain(rcpt);
	const struct route *route;
	char qd[LOG_VALUE_MAX], qm[LOG_VALUE_MAX];
	struct dns_mx plain[DNS_MX_MAX];
	const struct dns_mx *mx = plain;
	size_t nmx, i;
	enum dns_result r;

	*n = 0;
	gap->pref = UINT_MAX;
	gap->name[0] = '\0';
	if (rcpt->literal) {
		struct sockaddr_storage ss;
		socklen_t len;

		if (addr_literal_sockaddr(rcpt, &ss, &len) < 0)
			return status_make(ST_PERM, 1, 2, "Bad address literal %s", domain);
		add_hop(hops, n, domain, (struct sockaddr *)&ss, rc->cfg->smtp_port, 0);
		return status_ok();
	}
	if ((route = find_route(rc->cfg, domain)) != NULL) {
		r = add_host(rc, route->host, route->port ? route->port : 25, 0, hops, n);
		if (*n > 0)
			return status_ok();
		if (r == DNS_TEMP)
			return status_make(ST_TEMP, 4, 3, "Cannot look up route host %s", route->host);
		return status_make(ST_PERM, 4, 4, "Route host %s has no address", route->host);
	}
	if (dn->on) {
		r = dn->found;
		mx = dn->mx;
		nmx = dn->nmx;
	} else {
		r = dns_mx(&rc->dns, domain, plain, DNS_MX_MAX, &nmx);
	}
	if (r == DNS_NXDOMAIN)
		return status_make(ST_PERM, 1, 2, "Domain %s does not exist", domain);
	if (r == DNS_TEMP)
		return status_make(ST_TEMP, 4, 3, "DNS lookup of MX for %s failed", domain);
	if (r == DNS_NODATA) {
		/* no MX: the domain itself is the implicit MX (RFC 5321 5.1) */
		r = add_host(rc, domain, rc->cfg->smtp_port, 0, hops, n);
		if (*n > 0)
			return status_ok();
		if (r == DNS_TEMP)
			return status_make(ST_TEMP, 4, 3, "DNS lookup of %s failed", domain);
		return status_make(ST_PERM, 4, 4, "Domain %s has no mail exchanger", domain);
	}
	if (dns_mx_is_null(mx, nmx))
		return status_make(ST_PERM, 1, 10, "Domain %s accepts no mail (null MX)", domain);
	for (i = 0; i < nmx; i++) {
		if (mx[i].name[0] == '\0' ||
		    add_host(rc, mx[i].name, rc->cfg->smtp_port, mx[i].pref, hops,
		             n) != DNS_TEMP)
			continue;
		/* not skipped in silence: this round cannot reach every MX */
		log_event("relay-dns", "domain=%s mx=%s pref=%u result=\"address "
		          "lookup failed temporarily\"", log_quote(qd, sizeof qd, domain),
		          log_quote(qm, sizeof qm, mx[i].name), mx[i].pref);
		if (mx[i].pref < gap->pref) {
			gap->pref = mx[i].pref;
			snprintf(gap->name, sizeof gap->name, "%s", mx[i].name);
		}
	}
	if (*n > 0)
		return status_ok();
	if (gap->name[0])
		return status_make(ST_TEMP, 4, 3, "DNS lookup of the MX hosts of %s "
		                   "failed (%s)", domain, gap->name);
	return status_make(ST_PERM, 4, 4, "No MX host of %s has an address", domain);
}

/* not_self - RFC 5321 5.1: of the hops, only those more preferred than
 * this host itself may be tried (the others would send the mail back
 * here); none left means the domain's best MX is us, and the mail would
 * loop.  ST_OK with *n cut, or ST_PERM 5.4.6. */
static struct status not_self(const struct remote_ctx *rc, const char *domain,
                              struct hop *hops, size_t *n, struct dns_gap *gap)
{
	unsigned self = UINT_MAX;
	char qd[LOG_VALUE_MAX], qm[LOG_VALUE_MAX];
	size_t i;

	for (i = 0; i < *n; i++)
		if (hops[i].pref < self &&
		    localaddr_is_self(rc->cfg, (struct sockaddr *)&hops[i].sa,
		                      hops[i].port)) {
			log_event("relay-self", "domain=%s mx=%s addr=%s port=%u",
			          log_quote(qd, sizeof qd, domain),
			          log_quote(qm, sizeof qm, hops[i].name), hops[i].ip,
			          hops[i].port);
			self = hops[i].pref;
		}
	if (self == UINT_MAX)
		return status_ok();
	for (i = 0; i < *n && hops[i].pref < self; i++)
		;
	*n = i;
	if (gap->pref >= self)
		gap->name[0] = '\0';   /* less preferred than us: never tried */
	if (i > 0 || gap->name[0])
		return status_ok();
	return status_make(ST_PERM, 4, 6, "mail for %s loops back to myself", domain);
}

/* settle_rest - every recipient in open[0..n) gets st, from no server */
static void settle_rest(struct remote_rcpt *rr, const size_t *open, size_t n,
                        struct status st, const char *tls)
{
	size_t i;

	for (i = 0; i < n; i++) {
		struct remote_rcpt *o = &rr[open[i]];

		o->st = st;
		o->remote_mta[0] = o->diag[0] = '\0';
		snprintf(o->tls, sizeof o->tls, "%s", tls);
	}
}

/* remote_deliver - one round over every address, for all of rr[] */
void remote_deliver(const struct remote_ctx *rc, const char *sender,
                    struct remote_rcpt *rr, size_t nr, int body_8bit,
                    const struct remote_dsn *dsn, int fd, off_t offset,
                    struct remote_result *res)
{
	struct hop *hops = malloc(HOPS_MAX * sizeof *hops);
	char qr[LOG_VALUE_MAX], qm[LOG_VALUE_MAX], qt[LOG_LINE_MAX / 2];
	struct dns_gap gap;
	struct round_tls *t = malloc(sizeof *t);
	struct remote_tls *rt = calloc(1, sizeof *rt);
	size_t *open = malloc(nr * sizeof *open);
	const struct mailbox *rcpt = rr[0].rcpt;  /* all of one domain */
	const struct route *route = NULL;
	struct status st;
	size_t n = 0, i, k, nopen = nr;
	int silent = 0, all_silent = 1, sts_refused = 0;

	res->counted = res->unreachable = 0;
	for (i = 0; i < nr; i++) {
		rr[i].remote_mta[0] = rr[i].diag[0] = rr[i].tls[0] = '\0';
		rr[i].dsn_offered = 0;
		rr[i].st = status_make(ST_TEMP, 3, 0, "Out of memory");
		if (open != NULL)
			open[i] = i;
	}
	if (hops == NULL || t == NULL || rt == NULL || open == NULL)
		goto done;
	if (!rcpt->literal)
		route = find_route(rc->cfg, addr_domain(rcpt));
	/* DANE first: under it, the validated MX lookup is the one to use */
	gap.pref = UINT_MAX;
	gap.name[0] = '\0';
	st = remote_tls_dane_round(rc, rcpt, route, rt);
	if (st.kind == ST_OK)
		st = route_hops(rc, rcpt, &rt->dane, hops, &n, &gap);
	if (st.kind == ST_OK)
		st = not_self(rc, addr_domain(rcpt), hops, &n, &gap);
	if (st.kind == ST_OK)
		st = remote_tls_sts_round(rc, rcpt, route, rt);
	if (st.kind == ST_OK && rt->sts != NULL) {
		st = remote_tls_sts_hops(rt, addr_domain(rcpt), hops, &n);
		sts_refused = st.kind != ST_OK;
	}
	if (st.kind != ST_OK)
		n = 0;
	if (gap.name[0] && st.kind == ST_OK && n == 0)
		st = status_make(ST_TEMP, 4, 3, "DNS lookup of MX host %s failed",
		                 gap.name);
	if (st.kind != ST_OK)
		settle_rest(rr, open, nopen, st, "");
	for (i = 0; i < n && nopen > 0; i++) {
		silent = 0;
		st = remote_tls_host(rc, rt, &hops[i], t);
		t->auth = route != NULL && route->auth_file[0] ? route : NULL;
		if (st.kind == ST_OK)
			remote_try_hop(rc, &hops[i], t, sender, rr, open, nopen, body_8bit,
			               dsn, fd, offset, &silent);
		else                    /* DANE said: not this host, not now */
			settle_rest(rr, open, nopen, st, "tls=none verify=none policy=dane");
		all_silent &= silent;
		/* each recipient's word from this host; the open ones go on */
		for (k = 0; k < nopen; k++) {
			const struct remote_rcpt *o = &rr[open[k]];

			log_event(o->st.kind == ST_OK ? "relayed" : "relay-attempt",
			          "rcpt=%s mx=%s addr=%s port=%u %s result=%s",
			          log_addr(qr, sizeof qr, o->rcpt->text),
			          log_quote(qm, sizeof qm, hops[i].name), hops[i].ip,
			          hops[i].port, o->tls,
			          log_quote(qt, sizeof qt, o->st.kind == ST_OK ? "ok" : o->st.text));
		}
		for (k = 0, nopen = 0; k < nr; k++)
			if (rr[k].st.kind == ST_TEMP)
				open[nopen++] = k;
	}
	/* A round counts towards --attempts only when every MX was tried
	 * (or MTA-STS refused them all): a DNS outage is no verdict on the
	 * destination. */
	res->counted = (n > 0 || sts_refused) && gap.name[0] == '\0';
	/* a refusal by MTA-STS tried no server: none was found silent */
	res->unreachable = res->counted && n > 0 && nopen > 0 && all_silent;
	for (k = 0; k < nopen && n > 0 && gap.name[0]; k++) {
		struct remote_rcpt *o = &rr[open[k]];

		st = o->st;
		o->st = status_make(st.kind, st.subject, st.detail, "%s; DNS lookup "
		                    "of MX host %s failed", st.text, gap.name);
	}
done:
	if (rt != NULL)
		remote_tls_free(rt);
	free(rt);
	free(t);
	free(hops);
	free(open);
}
