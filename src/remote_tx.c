/* remote_tx.c - one server of a delivery round: its connection (kept
 * or new), and the transactions that carry the round's open recipients
 * to it, each recipient given its own outcome.  See remote.h for what a
 * round does and remote_priv.h for what remote.c hands in.
 *
 * Transactions on one connection: the open recipients go in one
 * transaction of at most REMOTE_TX_RCPT_MAX RCPTs (100: what RFC 5321
 * 4.5.3.1.8 obliges every server to take, so a server keeping to it
 * never refuses one as too many; some answer 552 past their limit,
 * which RFC 821 allowed and would be final); those the server refused
 * as too many (smtp_result_too_many) when it took others go in the
 * next one, as do the ones past REMOTE_TX_RCPT_MAX.  Every
 * transaction settles at least one recipient (one delivered; or, none
 * delivered, all it carried), so the loop ends.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "remote_priv.h"

enum { REMOTE_TX_RCPT_MAX = 100 };

/* failure - the status for a failed step at h.  A proper refusal (4xx,
 * 5xx) reads "NAME [IP] said: REPLY", res->diag quotes it for the DSN
 * and res->remote_mta names the server (a recipient's, or the template
 * of all those a connection failure leaves open).  Anything else (no reply, a
 * malformed one, a 2xx/3xx where it makes no sense, a refusal of the
 * client's own) is described by the client, whose text mostly names
 * IP:port already; then there is no reply worth quoting, and with no
 * reply no remote MTA either (RFC 3464 2.3.5). */
static struct status failure(const struct hop *h, const struct smtp_result *r,
                             enum status_kind kind, int subject,
                             int detail, struct remote_rcpt *res)
{
	const char *name = remote_hop_is_address(h) ? "" : h->name;
	const char *sep = name[0] ? " " : "";

	res->diag[0] = '\0';
	snprintf(res->remote_mta, sizeof res->remote_mta, "%s",
	         r->reply.code == 0 ? "" : h->name);
	if (r->reply.code >= 400 && r->reply.error == SMTP_REPLY_OK) {
		smtp_reply_summary(&r->reply, res->diag, sizeof res->diag);
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
 * been opened with to carry this round's delivery; under DANE, the TLSA
 * records and the next-hop domain too: a connection verified by records
 * since replaced (a key rollover), or under DANE-TA by the name of one
 * next-hop domain (RFC 7672 3.2.2), is not taken for another */
static void tls_key(const struct round_tls *t, const struct hop *h,
                    char *buf, size_t len)
{
	snprintf(buf, len, "%s %s %llu auth=%llx dane=%016llx",
	         tls_policy_name(t->policy), remote_tls_name(h),
	         tls_ctx_id(t->ctx), t->auth ? auth_id(t->auth) : 0ULL,
	         t->policy == TLS_POLICY_DANE ? tls_dane_digest(&t->dane) : 0ULL);
}

/* connect_hop - a new connection to h, greeted and EHLO'd, with TLS as
 * t says; under may a failed handshake is tried once more at once, in
 * plaintext; NULL with *out saying why */
static struct smtp_client *connect_hop(const struct remote_ctx *rc,
                                       const struct hop *h,
                                       const struct round_tls *t,
                                       struct remote_rcpt *res,
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

/* settle - recipient o's outcome at h: st, its server's reply as r
 * says (NULL: as tmpl says, a failure before any transaction), the TLS */
static void settle(struct remote_rcpt *o, struct status st,
                   const struct remote_rcpt *tmpl, const char *tls)
{
	o->st = st;
	if (tmpl != NULL) {
		memcpy(o->remote_mta, tmpl->remote_mta, sizeof o->remote_mta);
		memcpy(o->diag, tmpl->diag, sizeof o->diag);
	}
	snprintf(o->tls, sizeof o->tls, "%s", tls);
}

/* outcome - recipient o's fate in a transaction at h: x */
static void outcome(const struct hop *h, const struct smtp_result *x,
                    struct remote_rcpt *o, const char *tls)
{
	struct status st = x->st;

	if (st.kind == ST_OK) {
		snprintf(o->remote_mta, sizeof o->remote_mta, "%s", h->name);
		o->diag[0] = '\0';     /* nothing to quote after a success */
	} else {
		st = failure(h, x, x->st.kind,
		             x->reply.enh_class ? x->reply.enh_subject : x->st.subject,
		             x->reply.enh_class ? x->reply.enh_detail : x->st.detail, o);
	}
	settle(o, st, NULL, tls);
}

/* settle_open - every recipient in todo[0..n) gets st (and tmpl's reply) */
static void settle_open(struct remote_rcpt *rr, const size_t *todo, size_t n,
                        struct status st, const struct remote_rcpt *tmpl,
                        const char *tls)
{
	size_t i;

	for (i = 0; i < n; i++)
		settle(&rr[todo[i]], st, tmpl, tls);
}

/* remote_try_hop - one server for rr[idx[0..np)]; see remote_priv.h */
void remote_try_hop(const struct remote_ctx *rc, const struct hop *h,
                    const struct round_tls *t, const char *sender,
                    struct remote_rcpt *rr, const size_t *idx, size_t np,
                    int body_8bit, const struct remote_dsn *dsn, int fd,
                    off_t offset, int *silent)
{
	size_t cap = np < REMOTE_TX_RCPT_MAX ? np : REMOTE_TX_RCPT_MAX;
	struct smtp_result *rres = malloc(cap * sizeof *rres);
	const char **texts = malloc(cap * sizeof *texts);
	const char **notify = malloc(cap * sizeof *notify);
	const char **orcpt = malloc(cap * sizeof *orcpt);
	size_t *todo = malloc(np * sizeof *todo), ntodo = np, i;
	char key[CONNCACHE_TLS_MAX + 1], tls[160], qm[LOG_VALUE_MAX];
	struct remote_rcpt tmpl;
	struct smtp_client *c = NULL;
	struct smtp_result r;
	struct smtp_tx tx;
	struct stat st;
	struct status out;
	int kept = 0, answered = 0, fresh;

	*silent = 0;
	remote_tls_text(NULL, t, tls, sizeof tls);
	if (rres == NULL || texts == NULL || todo == NULL || notify == NULL ||
	    orcpt == NULL) {
		settle_open(rr, idx, np, status_make(ST_TEMP, 3, 0, "Out of memory"),
		            NULL, tls);
		goto done;
	}
	memcpy(todo, idx, np * sizeof *todo);
	tls_key(t, h, key, sizeof key);
	c = conncache_take(rc->cache, h->ip, h->port, key);
	kept = fresh = c != NULL;
	memset(&tx, 0, sizeof tx);
	tx.sender = sender;
	tx.rcpt = texts;
	tx.fd = fd;
	tx.body_8bit = body_8bit;
	tx.dsn_rcpt_notify = notify;
	tx.dsn_orcpt = orcpt;
	if (dsn != NULL) {
		tx.dsn_ret = dsn->ret;
		tx.dsn_envid = dsn->envid;
	}
	if (fstat(fd, &st) == 0 && st.st_size > offset)
		tx.size = (unsigned long long)(st.st_size - offset);
	while (ntodo > 0) {
		size_t k = ntodo < cap ? ntodo : cap, next = 0, delivered = 0;

		if (c == NULL) {
			snprintf(tmpl.remote_mta, sizeof tmpl.remote_mta, "%s", h->name);
			tmpl.diag[0] = '\0';
			if ((c = connect_hop(rc, h, t, &tmpl, &out, silent)) == NULL) {
				*silent &= !answered;
				settle_open(rr, todo, ntodo, out, &tmpl, tls);
				break;
			}
			fresh = 1;
		}
		if (fresh) {            /* kept or new: what it agreed */
			remote_tls_text(c, t, tls, sizeof tls);
			remote_tls_testing_note(t, h, c, addr_domain(rr[todo[0]].rcpt));
			fresh = 0;
		}
		if (lseek(fd, offset, SEEK_SET) < 0) {
			out = status_make(ST_TEMP, 3, 0, "Cannot read the queue file: %s",
			                  strerror(errno));
			tmpl.remote_mta[0] = tmpl.diag[0] = '\0';
			settle_open(rr, todo, ntodo, out, &tmpl, tls);
			break;
		}
		for (i = 0; i < k; i++) {
			texts[i] = rr[todo[i]].rcpt->text;
			notify[i] = rr[todo[i]].dsn_notify;
			orcpt[i] = rr[todo[i]].dsn_orcpt;
		}
		tx.nrcpt = k;
		if (smtp_client_send(c, &tx, rres, &r) < 0 && kept && went_stale(c, &r)) {
			/* the server had closed the kept connection: once more, anew */
			log_event("relay-stale", "mx=%s addr=%s port=%u",
			          log_quote(qm, sizeof qm, h->name), h->ip, h->port);
			smtp_client_close(c);
			free(c);
			c = NULL;
			kept = 0;
			continue;
		}
		kept = 0;
		answered = 1;
		for (i = 0; i < k; i++)
			delivered += rres[i].st.kind == ST_OK;
		for (i = 0; i < k; i++) {
			if (delivered > 0 && smtp_result_too_many(&rres[i]))
				todo[next++] = todo[i];     /* in the next transaction */
			else {
				outcome(h, &rres[i], &rr[todo[i]], tls);
				rr[todo[i]].dsn_offered = (c->d.ext & SMTP_EXT_DSN) != 0;
				/* too many with none taken (a 552 5.5.3): later, not never */
				if (smtp_result_too_many(&rres[i]) &&
				    rr[todo[i]].st.kind == ST_PERM)
					rr[todo[i]].st.kind = ST_TEMP;
			}
		}
		for (i = k; i < ntodo; i++)
			todo[next++] = todo[i];
		ntodo = next;
		if (ntodo > 0 && !smtp_client_connected(c)) {
			smtp_client_close(c);
			free(c);
			c = NULL;       /* the rest over a new connection */
		}
	}
	/* still usable (delivered, or refused with a reply): kept for the next */
	if (c != NULL)
		conncache_give(rc->cache, h->ip, h->port, key, c);
done:
	free(orcpt);
	free(notify);
	free(todo);
	free(texts);
	free(rres);
}
