/* remote_tls.c - the TLS policy of each host of a delivery round: DANE,
 * MTA-STS, a route's tls=, --tls-client; see remote_priv.h */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mtasts_lookup.h"
#include "remote_priv.h"

/* remote_hop_is_address - see remote_priv.h */
int remote_hop_is_address(const struct hop *h)
{
	char name[DNS_NAME_MAX];
	size_t len;
	const char *p = netaddr_unliteral(h->name, strlen(h->name), &len);

	snprintf(name, sizeof name, "%.*s", (int)len, p);
	return strcasecmp(name, h->ip) == 0;
}

/* remote_tls_name - see remote_priv.h */
const char *remote_tls_name(const struct hop *h)
{
	return remote_hop_is_address(h) ? h->ip : h->name;
}

/* dane_round - does DANE apply to this round (RFC 7672 2.2.1)?  Only
 * with --dane and when the MX RRset of the recipient's domain is secure
 * (the caller has ruled out routes and literals); then dn keeps that
 * validated answer for the MX hosts.  ST_TEMP when DNSSEC cannot say
 * (bogus, a failed lookup): the round must wait, plaintext could be a
 * downgrade */
static struct status dane_round(const struct remote_ctx *rc,
                                const char *domain, struct round_dane *dn)
{
	char qd[LOG_VALUE_MAX], qw[LOG_VALUE_MAX];
	enum dane_status s;

	dn->on = 0;
	if (rc->cfg->dane_resolver == NULL)
		return status_ok();
	s = dane_mx_status(rc->cfg->dane_resolver, domain, dn->mx, DNS_MX_MAX,
	                   &dn->nmx, &dn->found, dn->why, sizeof dn->why);
	log_event("relay-dane", "domain=%s dnssec=%s why=%s",
	          log_quote(qd, sizeof qd, domain),
	          s == DANE_SECURE ? "secure" : s == DANE_INSECURE ? "insecure" : "failed",
	          log_quote(qw, sizeof qw, dn->why));
	if (s == DANE_FAILED)
		return status_make(ST_TEMP, 7, 5, "DANE: %s", dn->why);
	dn->on = s == DANE_SECURE;
	snprintf(dn->domain, sizeof dn->domain, "%s", domain);
	return status_ok();
}

/* sts_round - the domain's MTA-STS policy in enforce or testing mode
 * into rt->sts (none: NULL); 0, or -1 out of memory */
static int sts_round(const struct remote_ctx *rc, const char *domain,
                     struct remote_tls *rt)
{
	struct mtasts_env env;

	if (!rc->cfg->mta_sts)
		return 0;
	env.queue = rc->cfg->queue;
	env.dns = &rc->dns;
	env.ca = rc->cfg->tls_ca;
	env.timeout_s = REMOTE_STS_SECONDS;
	if ((rt->sts = malloc(sizeof *rt->sts)) == NULL)
		return -1;
	if (!mtasts_lookup(&env, domain, rt->sts) || rt->sts->mode == MTASTS_NONE) {
		free(rt->sts);
		rt->sts = NULL;
	}
	return 0;
}

/* remote_tls_dane_round - see remote_priv.h */
struct status remote_tls_dane_round(const struct remote_ctx *rc,
                                    const struct mailbox *rcpt,
                                    const struct route *route,
                                    struct remote_tls *rt)
{
	rt->base.policy = rc->cfg->tls_client_policy;
	rt->base.ctx = rc->cfg->tls_client;
	rt->base.source = NULL;
	rt->base.sts = NULL;
	rt->base.dane.n = 0;
	rt->sts = NULL;
	rt->dane.on = 0;
	rt->dane.host[0] = '\0';
	if (route != NULL && route->has_tls)
		rt->base.policy = route->tls;
	if (rcpt->literal)
		return status_ok();
	/* a route's host is ours to name, not the domain's: its own TLSA
	 * records decide when its addresses are secure (RFC 7672 2.2.2,
	 * dane_host), the next hop is the host itself; unless the route
	 * says tls=, which wins as it does over --tls-client */
	if (route != NULL) {
		rt->dane.on = rc->cfg->dane_resolver != NULL && !route->has_tls;
		rt->dane.domain[0] = '\0';
		return status_ok();
	}
	return dane_round(rc, addr_domain(rcpt), &rt->dane);
}

/* remote_tls_sts_round - see remote_priv.h */
struct status remote_tls_sts_round(const struct remote_ctx *rc,
                                   const struct mailbox *rcpt,
                                   const struct route *route,
                                   struct remote_tls *rt)
{
	if (rcpt->literal || route != NULL)
		return status_ok();
	if (sts_round(rc, addr_domain(rcpt), rt) < 0)
		return status_make(ST_TEMP, 3, 0, "Out of memory");
	rt->base.sts = rt->sts;
	return status_ok();
}

/* remote_tls_sts_hops - see remote_priv.h */
struct status remote_tls_sts_hops(const struct remote_tls *rt,
                                  const char *domain, struct hop *hops,
                                  size_t *n)
{
	int enforce = rt->sts->mode == MTASTS_ENFORCE;
	char refused[LOG_VALUE_MAX / 2], last[DNS_NAME_MAX] = "";
	char qd[LOG_VALUE_MAX], qr[LOG_VALUE_MAX];
	size_t i, kept = 0, used = 0;

	refused[0] = '\0';
	for (i = 0; i < *n; i++) {
		if (mtasts_mx_match(rt->sts, hops[i].name)) {
			if (enforce)
				hops[kept++] = hops[i];
			continue;
		}
		/* a host's addresses are next to each other: named once */
		if (strcasecmp(last, hops[i].name) != 0 && used < sizeof refused)
			used += (size_t)snprintf(refused + used, sizeof refused - used,
			                         "%s%s", used ? "," : "", hops[i].name);
		snprintf(last, sizeof last, "%s", hops[i].name);
	}
	if (refused[0] == '\0')
		return status_ok();
	log_event("relay-sts", "domain=%s sts=%s %s=%s id=%s",
	          log_quote(qd, sizeof qd, domain), mtasts_mode_name(rt->sts->mode),
	          enforce ? "refused" : "would-refuse",
	          log_quote(qr, sizeof qr, refused), rt->sts->id);
	if (!enforce)
		return status_ok();
	*n = kept;
	if (kept > 0)
		return status_ok();
	return status_make(ST_TEMP, 7, 5, "No MX host of %s matches its MTA-STS "
	                   "policy (%s not listed)", domain, refused);
}

/* dane_host_verdict - DANE's verdict on h (one TLSA lookup per host:
 * its addresses follow each other), logged when looked up */
static enum dane_verdict dane_host_verdict(const struct remote_ctx *rc,
                                           struct round_dane *dn,
                                           const struct hop *h)
{
	static const char *const verdicts[] = { "none", "dane", "encrypt", "defer" };
	char qm[LOG_VALUE_MAX], qw[LOG_VALUE_MAX];

	if (strcasecmp(dn->host, h->name) != 0) {
		snprintf(dn->host, sizeof dn->host, "%s", h->name);
		dn->verdict = dane_host(rc->cfg->dane_resolver, h->name, h->port,
		                        &dn->recs, dn->why, sizeof dn->why);
		log_event("relay-dane", "%s=%s tlsa=%s why=%s",
		          dn->domain[0] ? "mx" : "route-host",
		          log_quote(qm, sizeof qm, h->name), verdicts[dn->verdict],
		          log_quote(qw, sizeof qw, dn->why));
	}
	return dn->verdict;
}

/* remote_tls_host - see remote_priv.h: the order is written there */
struct status remote_tls_host(const struct remote_ctx *rc,
                              struct remote_tls *rt, const struct hop *h,
                              struct round_tls *t)
{
	enum dane_verdict v = DANE_NONE;

	t->policy = rt->base.policy;
	t->ctx = rt->base.ctx;
	t->source = NULL;
	t->sts = rt->sts;
	t->dane.n = 0;
	if (rt->dane.on && !remote_hop_is_address(h))
		v = dane_host_verdict(rc, &rt->dane, h);
	switch (v) {
	case DANE_MANDATORY:
		t->policy = TLS_POLICY_DANE;
		t->dane = rt->dane.recs;
		snprintf(t->dane.nexthop, sizeof t->dane.nexthop, "%s", rt->dane.domain);
		return status_ok();
	case DANE_DEFER:
		return status_make(ST_TEMP, 7, 5, "%s [%s]: DANE: %s", h->name,
		                   h->ip, rt->dane.why);
	case DANE_ENCRYPT:          /* TLS at least (verify stays verify);
	                             * MTA-STS may ask more */
		if (t->policy != TLS_POLICY_VERIFY)
			t->policy = TLS_POLICY_ENCRYPT;
		break;
	case DANE_NONE:
		break;
	}
	if (rt->sts != NULL && rt->sts->mode == MTASTS_ENFORCE) {
		t->policy = TLS_POLICY_VERIFY;
		t->source = "mta-sts";
	}
	return status_ok();
}

/* remote_tls_free - see remote_priv.h */
void remote_tls_free(struct remote_tls *rt)
{
	free(rt->sts);
	rt->sts = NULL;
	rt->base.sts = NULL;
}

/* remote_tls_text - see remote_priv.h */
void remote_tls_text(const struct smtp_client *c, const struct round_tls *t,
                     char *buf, size_t len)
{
	char rest[64] = "", *p;

	if (c != NULL)
		smtp_client_tls_text(c, buf, len);
	else
		snprintf(buf, len, "tls=none verify=none policy=%s",
		         tls_policy_name(t->policy));
	/* the policy's name replaced by where it came from, what follows
	 * it (resumed=) kept */
	if (t->source != NULL && (p = strstr(buf, " policy=")) != NULL) {
		const char *after = strchr(p + 1, ' ');

		snprintf(rest, sizeof rest, "%s", after ? after : "");
		snprintf(p, len - (size_t)(p - buf), " policy=%s%s", t->source, rest);
	}
}

/* remote_tls_testing_note - see remote_priv.h */
void remote_tls_testing_note(const struct round_tls *t, const struct hop *h,
                             const struct smtp_client *c, const char *domain)
{
	char qd[LOG_VALUE_MAX], qm[LOG_VALUE_MAX], qw[LOG_VALUE_MAX];
	struct tls_info info;
	int tls;

	if (t->sts == NULL || t->sts->mode != MTASTS_TESTING ||
	    !mtasts_mx_match(t->sts, h->name))
		return;
	tls = stream_tls_info(&c->io, &info);
	if (tls && c->tls_verified)
		return;
	log_event("relay-sts", "domain=%s sts=testing would-refuse=%s addr=%s "
	          "id=%s reason=%s", log_quote(qd, sizeof qd, domain),
	          log_quote(qm, sizeof qm, h->name), h->ip, t->sts->id,
	          log_quote(qw, sizeof qw, tls ? c->tls_why : "no TLS"));
}
