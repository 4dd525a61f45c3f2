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

/* describe - "550 5.1.1 text" for a server reply, or the local reason */
static void describe(const struct smtp_result *r, char *buf, size_t len)
{
	char first[SMTP_REPLY_LINE_MAX];

	if (r->reply.code == 0) {
		snprintf(buf, len, "%s", r->st.text);
		return;
	}
	if (smtp_reply_line(&r->reply, 0, first, sizeof first) < 0)
		first[0] = '\0';
	if (r->reply.enh_class)
		snprintf(buf, len, "%d %d.%d.%d %s", r->reply.code, r->reply.enh_class,
		         r->reply.enh_subject, r->reply.enh_detail, first);
	else
		snprintf(buf, len, "%d %s", r->reply.code, first);
}

/* failure - the status for a failed step at h.  A proper refusal (4xx,
 * 5xx) reads "NAME [IP] said: REPLY", res->diag quotes it for the DSN
 * and res->remote_mta names the server.  Anything else (no reply, a
 * malformed one, a 2xx/3xx where it makes no sense, a refusal of the
 * client's own) is described by the client, whose text mostly names
 * IP:port already; then there is no reply worth quoting, and with no
 * reply no remote MTA either (RFC 3464 2.3.5). */
static struct status failure(const struct hop *h, const struct smtp_result *r,
                             enum status_kind kind, int subject,
                             int detail, struct remote_result *res)
{
	const char *name = remote_hop_is_address(h) ? "" : h->name;
	const char *sep = name[0] ? " " : "";

	res->diag[0] = '\0';
	if (r->reply.code == 0)
		res->remote_mta[0] = '\0';
	if (r->reply.code >= 400 && r->reply.error == SMTP_REPLY_OK) {
		describe(r, res->diag, sizeof res->diag);
		return status_make(kind, subject, detail, "%s%s[%s] said: %s%s",
		                   name, sep, h->ip, res->diag,
		                   r->stage == SMTP_STAGE_AUTH ? " (in reply to AUTH "
		                   "with the route's credentials)" : "");
	}
	if (r->reply.code != 0 && r->reply.error == SMTP_REPLY_OK)
		return status_make(kind, subject, detail, "%s%s[%s]: unexpected "
		                   "reply to %s: %s", name, sep, h->ip,
		                   smtp_stage_name(r->stage), r->st.text);
	/* the client's own refusals (SIZE, syntax) do not name the server */
	if (strstr(r->st.text, h->ip) == NULL)
		return status_make(kind, subject, detail, "%s%s[%s]: %s", name, sep,
		                   h->ip, r->st.text);
	return status_make(kind, subject, detail, "%s%s%s", name,
	                   name[0] ? ": " : "", r->st.text);
}

/* went_stale - did a kept connection turn out to be closed by the server
 * (silently, or with a 421 or any other last word) before the message
 * data went out?  Then nothing was accepted, and the transaction
 * deserves a fresh connection.  A refusal on a connection still open is
 * an answer, not staleness. */
static int went_stale(const struct smtp_client *c, const struct smtp_result *r)
{
	if (r->stage != SMTP_STAGE_RSET && r->stage != SMTP_STAGE_MAIL &&
	    r->stage != SMTP_STAGE_RCPT && r->stage != SMTP_STAGE_DATA)
		return 0;
	return !smtp_client_connected(c);
}

/* auth_id - which credentials a connection logged in with, as a number
 * (FNV-1a over the file's name, the login and the password): two routes
 * to one smarthost with other logins or passwords never share one, and
 * no secret goes into the key */
static unsigned long long auth_id(const struct route *r)
{
	const char *parts[3] = { r->auth_file, r->auth_user, r->auth_pass };
	unsigned long long h = 14695981039346656037ULL;

	for (size_t i = 0; i < 3; i++)
		for (const char *p = parts[i]; ; p++) {
			h = (h ^ (unsigned char)*p) * 1099511628211ULL;
			if (*p == '\0')
				break;
		}
	return h;
}

/* tls_key - the TLS policy (and login) a kept connection to h must have
 * been opened with to carry this round's delivery */
static void tls_key(const struct round_tls *t, const struct hop *h,
                    char *buf, size_t len)
{
	snprintf(buf, len, "%s %s %llu auth=%llx", tls_policy_name(t->policy),
	         remote_tls_name(h), tls_ctx_id(t->ctx),
	         t->auth ? auth_id(t->auth) : 0ULL);
}

/* connect_hop - a new connection to h, greeted and EHLO'd, with TLS as
 * t says; under may a failed handshake is tried once more at once, in
 * plaintext; NULL with *out saying why */
static struct smtp_client *connect_hop(const struct remote_ctx *rc,
                                       const struct hop *h,
                                       const struct round_tls *t,
                                       struct remote_result *res,
                                       struct status *out, int *silent)
{
	struct smtp_client *c = malloc(sizeof *c);
	char qm[LOG_VALUE_MAX], qe[LOG_VALUE_MAX];
	struct smtp_result r;
	char port[8];

	if (c == NULL) {
		*out = status_make(ST_TEMP, 3, 0, "Out of memory");
		return NULL;
	}
	smtp_client_init(c, &rc->timeouts);
	snprintf(port, sizeof port, "%u", h->port);
	smtp_client_tls(c, t->policy, t->ctx, remote_tls_name(h));
	if (t->policy == TLS_POLICY_DANE)
		smtp_client_tls_dane(c, &t->dane);
	if (t->auth != NULL)
		smtp_client_auth(c, t->auth->auth_user, t->auth->auth_pass,
		                 t->auth->auth_insecure);
	if (smtp_client_open(c, h->ip, port, rc->cfg->hostname, &r) == 0)
		return c;
	if (c->tls_failed && t->policy == TLS_POLICY_MAY) {
		/* a broken TLS stack at the peer must not block the mail */
		log_event("relay-tls-fallback", "mx=%s addr=%s port=%u error=%s",
		          log_quote(qm, sizeof qm, h->name), h->ip, h->port,
		          log_quote(qe, sizeof qe, r.st.text));
		smtp_client_init(c, &rc->timeouts);
		smtp_client_tls(c, TLS_POLICY_MAY, NULL, remote_tls_name(h));
		if (t->auth != NULL)       /* in plaintext: auth-insecure said so */
			smtp_client_auth(c, t->auth->auth_user, t->auth->auth_pass,
			                 t->auth->auth_insecure);
		if (smtp_client_open(c, h->ip, port, rc->cfg->hostname, &r) == 0)
			return c;
	}
	/* Even a 5xx greeting only means this host will not talk to us
	 * now: the next one may (RFC 5321 3.1).  A TLS failure says its
	 * own 4.7.x. */
	if (r.reply.code == 0 && r.st.subject == 7)
		*out = failure(h, &r, ST_TEMP, 7, r.st.detail, res);
	else
		*out = failure(h, &r, ST_TEMP, 4, 1, res);
	*silent = r.reply.code == 0 && !c->tls_failed && r.st.subject != 7;
	smtp_client_close(c);
	free(c);
	return NULL;
}

/* try_hop - one server; ST_OK, ST_PERM (give up), ST_TEMP (next one);
 * *silent set when it never answered */
static struct status try_hop(const struct remote_ctx *rc, const struct hop *h,
                             const struct round_tls *t, const char *sender,
                             const struct mailbox *rcpt, int body_8bit,
                             const struct remote_dsn *dsn, int fd,
                             off_t offset, struct remote_result *res,
                             int *silent)
{
	char key[CONNCACHE_TLS_MAX + 1];
	struct smtp_client *c;
	char qm[LOG_VALUE_MAX];
	int kept;
	struct smtp_result r, rr;
	const char *rcpts[1] = { rcpt->text };
	struct smtp_tx tx;
	struct stat st;
	struct status out;

	tls_key(t, h, key, sizeof key);
	c = conncache_take(rc->cache, h->ip, h->port, key);
	kept = c != NULL;
	snprintf(res->remote_mta, sizeof res->remote_mta, "%s", h->name);
	remote_tls_text(NULL, t, res->tls, sizeof res->tls);
	memset(&tx, 0, sizeof tx);
	tx.sender = sender;
	tx.rcpt = rcpts;
	tx.nrcpt = 1;
	tx.fd = fd;
	tx.body_8bit = body_8bit;
	if (dsn != NULL) {
		tx.dsn_notify = dsn->notify;
		tx.dsn_ret = dsn->ret;
		tx.dsn_envid = dsn->envid;
		tx.dsn_orcpt = &dsn->orcpt;
	}
	if (fstat(fd, &st) == 0 && st.st_size > offset)
		tx.size = (unsigned long long)(st.st_size - offset);
	for (;;) {
		if (c == NULL && (c = connect_hop(rc, h, t, res, &out, silent)) == NULL)
			return out;
		remote_tls_text(c, t, res->tls, sizeof res->tls);
		remote_tls_testing_note(t, h, c, addr_domain(rcpt));
		if (lseek(fd, offset, SEEK_SET) < 0) {
			out = status_make(ST_TEMP, 3, 0, "Cannot read the queue file: %s",
			                  strerror(errno));
			conncache_give(rc->cache, h->ip, h->port, key, c);
			return out;
		}
		if (smtp_client_send(c, &tx, &rr, &r) == 0 || !kept || !went_stale(c, &r))
			break;
		/* the server had closed the kept connection: once more, anew */
		log_event("relay-stale", "mx=%s addr=%s port=%u",
		          log_quote(qm, sizeof qm, h->name), h->ip, h->port);
		smtp_client_close(c);
		free(c);
		c = NULL;
		kept = 0;
	}
	out = rr.st;
	res->dsn_offered = (c->d.ext & SMTP_EXT_DSN) != 0;
	res->diag[0] = '\0';        /* nothing to quote after a success */
	if (rr.st.kind != ST_OK)
		out = failure(h, &rr, rr.st.kind,
		              rr.reply.enh_class ? rr.reply.enh_subject : rr.st.subject,
		              rr.reply.enh_class ? rr.reply.enh_detail : rr.st.detail, res);
	/* still usable (delivered, or refused with a reply): kept for the next */
	conncache_give(rc->cache, h->ip, h->port, key, c);
	return out;
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

/* remote_deliver - one round over every address */
void remote_deliver(const struct remote_ctx *rc, const char *sender,
                    const struct mailbox *rcpt, int body_8bit,
                    const struct remote_dsn *dsn, int fd,
                    off_t offset, struct remote_result *res)
{
	struct hop *hops = malloc(HOPS_MAX * sizeof *hops);
	char qr[LOG_VALUE_MAX], qm[LOG_VALUE_MAX], qt[LOG_LINE_MAX / 2];
	struct dns_gap gap;
	struct round_tls *t = malloc(sizeof *t);
	struct remote_tls *rt = calloc(1, sizeof *rt);
	const struct route *route = NULL;
	size_t n = 0, i;
	int silent = 0, all_silent = 1, sts_refused = 0;

	res->remote_mta[0] = '\0';
	res->diag[0] = '\0';
	res->counted = res->unreachable = res->dsn_offered = 0;
	res->tls[0] = '\0';
	if (hops == NULL || t == NULL || rt == NULL) {
		res->st = status_make(ST_TEMP, 3, 0, "Out of memory");
		goto done;
	}
	if (!rcpt->literal)
		route = find_route(rc->cfg, addr_domain(rcpt));
	/* DANE first: under it, the validated MX lookup is the one to use */
	gap.pref = UINT_MAX;
	gap.name[0] = '\0';
	res->st = remote_tls_dane_round(rc, rcpt, route, rt);
	if (res->st.kind == ST_OK)
		res->st = route_hops(rc, rcpt, &rt->dane, hops, &n, &gap);
	if (res->st.kind == ST_OK)
		res->st = not_self(rc, addr_domain(rcpt), hops, &n, &gap);
	if (res->st.kind == ST_OK)
		res->st = remote_tls_sts_round(rc, rcpt, route, rt);
	if (res->st.kind == ST_OK && rt->sts != NULL) {
		res->st = remote_tls_sts_hops(rt, addr_domain(rcpt), hops, &n);
		sts_refused = res->st.kind != ST_OK;
	}
	if (res->st.kind != ST_OK)
		n = 0;
	if (gap.name[0] && res->st.kind == ST_OK && n == 0)
		res->st = status_make(ST_TEMP, 4, 3, "DNS lookup of MX host %s failed",
		                      gap.name);
	for (i = 0; i < n; i++) {
		silent = 0;
		res->st = remote_tls_host(rc, rt, &hops[i], t);
		t->auth = route != NULL && route->auth_file[0] ? route : NULL;
		if (res->st.kind == ST_OK) {
			res->st = try_hop(rc, &hops[i], t, sender, rcpt, body_8bit, dsn,
			                  fd, offset, res, &silent);
		} else {                /* DANE said: not this host, not now */
			res->remote_mta[0] = res->diag[0] = '\0';
			snprintf(res->tls, sizeof res->tls, "tls=none verify=none "
			         "policy=%s", tls_policy_name(TLS_POLICY_DANE));
		}
		all_silent &= silent;
		log_event(res->st.kind == ST_OK ? "relayed" : "relay-attempt",
		          "rcpt=%s mx=%s addr=%s port=%u %s result=%s",
		          log_addr(qr, sizeof qr, rcpt->text),
		          log_quote(qm, sizeof qm, hops[i].name), hops[i].ip, hops[i].port,
		          res->tls,
		          log_quote(qt, sizeof qt, res->st.kind == ST_OK ? "ok" : res->st.text));
		if (res->st.kind != ST_TEMP)
			break;              /* delivered, or refused for good */
	}
	/* A round counts towards --attempts only when every MX was tried
	 * (or MTA-STS refused them all): a DNS outage is no verdict on the
	 * destination. */
	res->counted = (n > 0 || sts_refused) && gap.name[0] == '\0';
	/* a refusal by MTA-STS tried no server: none was found silent */
	res->unreachable = res->counted && n > 0 && res->st.kind == ST_TEMP &&
	                   all_silent;
	if (res->st.kind == ST_TEMP && n > 0 && gap.name[0]) {
		struct status st = res->st;

		res->st = status_make(st.kind, st.subject, st.detail, "%s; DNS lookup "
		                      "of MX host %s failed", st.text, gap.name);
	}
done:
	if (rt != NULL)
		remote_tls_free(rt);
	free(rt);
	free(t);
	free(hops);
}
