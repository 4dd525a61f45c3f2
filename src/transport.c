/* transport.c - the transport table and next hops; see transport.h */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "deliver.h"
#include "dsn.h"
#include "lmtp.h"
#include "local.h"
#include "policy.h"
#include "remote.h"
#include "smtp_client.h"
#include "sysuser.h"
#include "transport.h"

/* local_key - "local:NAME" for rcpt's mailbox into hop; a name that is
 * no mailbox gets the bare prefix (its delivery fails at once anyway) */
static void local_key(const struct config *cfg, const struct mailbox *rcpt,
                      char *hop)
{
	char name[ADDR_MAX], dom[ADDR_MAX];
	const char *vdom = policy_virtual_domain(cfg, rcpt, dom);

	if (policy_mailbox_name(rcpt, name, sizeof name) < 0)
		name[0] = '\0';
	/* local parts are at most 64 octets, domains 255: it fits */
	if (vdom != NULL)
		snprintf(hop, TRANSPORT_HOP_MAX, "%s%s/%s", TRANSPORT_LOCAL_KEY, vdom, name);
	else
		snprintf(hop, TRANSPORT_HOP_MAX, "%s%s", TRANSPORT_LOCAL_KEY,
		         cfg->system_users && name[0] ? sysuser_account(name) : name);
}

/* transport_route - which transport, which next hop */
enum transport_id transport_route(const struct config *cfg,
                                  const struct mailbox *rcpt, char *hop)
{
	if (policy_is_local(cfg, rcpt)) {
		if (cfg->lmtp != NULL) {
			snprintf(hop, TRANSPORT_HOP_MAX, "%s%s", TRANSPORT_LMTP_KEY,
			         cfg->lmtp);
			return TRANSPORT_LMTP;
		}
		local_key(cfg, rcpt, hop);
		return TRANSPORT_LOCAL;
	}
	remote_next_hop(cfg, rcpt, hop, TRANSPORT_HOP_MAX);
	return TRANSPORT_SMTP;
}

/* transport_limit - three quarters of --max-deliveries, leaving at least
 * one to the other transport */
unsigned transport_limit(const struct config *cfg, enum transport_id t)
{
	unsigned all = cfg->max_deliveries, keep = all / 4;

	if (all >= 2) {
		if (keep < 1)
			keep = 1;
		all -= keep;
	}
	if (t == TRANSPORT_LMTP && cfg->max_lmtp < all)
		return cfg->max_lmtp;
	return all;
}

/* transport_hop_limit - per next hop */
unsigned transport_hop_limit(const struct config *cfg, enum transport_id t)
{
	unsigned n, half;

	if (t == TRANSPORT_LMTP)      /* one server: the transport's limit */
		return transport_limit(cfg, t);
	if (t != TRANSPORT_LOCAL)
		return cfg->max_per_dest;
	/* An mbox's appends take turns under its lock anyway, and a program
	 * that keeps it locked holds each of them for --mbox-lock-wait. */
	half = transport_limit(cfg, t) / 2;
	if (half < 1)
		half = 1;
	/* A Maildir takes no lock: one busy mailbox may use half the local
	 * share (what one mailbox taking everything needs, and the other
	 * half always left to the rest) unless --max-per-mailbox says less */
	n = cfg->mbox ? TRANSPORT_MBOX_SHARE
	  : cfg->max_per_mailbox ? cfg->max_per_mailbox : half;
	return n < half ? n : half;
}

/* deliver_local - to a mailbox here (one recipient: group 1) */
static void deliver_local(struct delivery *d, const struct envelope *env,
                          int fd, long long offset)
{
	const struct config *cfg = d->cfg;
	struct delivery_rcpt *r = &d->r[0];
	const struct mailbox *rcpt = &env->rcpt[r->n];
	char name[ADDR_MAX], dom[ADDR_MAX];
	struct local_config lc = {
		cfg->mailroot, cfg->hostname, cfg->mbox, cfg->system_users,
		cfg->mbox_lock_wait, policy_virtual_domain(cfg, rcpt, dom),
		cfg->sync_dirs ? NULL : d->q
	};

	if (policy_mailbox_name(rcpt, name, sizeof name) < 0) {
		r->result = status_make(ST_PERM, 1, 3, "Bad mailbox name");
		return;
	}
	r->notify = env->dsn[r->n].notify;
	/* Delivered-To: the address the client sent, subaddress and all */
	r->result = local_deliver(&lc, name, envelope_orcpt(env, r->n),
	                          env->sender.text, fd, (off_t)offset);
}

/* deliver_smtp - one round over the next hop's servers for all of d's
 * recipients: one transaction with several RCPTs (remote.h) */
static void deliver_smtp(struct delivery *d, const struct envelope *env,
                         int fd, long long offset)
{
	struct remote_rcpt *rr = calloc(d->ntry, sizeof *rr);
	char (*notify)[DSN_NOTIFY_TEXT_MAX] = calloc(d->ntry, sizeof *notify);
	struct remote_dsn dsn = {
		env->ret == DSN_RET_FULL ? "FULL" : env->ret == DSN_RET_HDRS ? "HDRS"
		                                  : NULL,
		env->envid[0] ? env->envid : NULL
	};
	struct remote_result res;
	size_t i;

	if (rr == NULL || notify == NULL) {
		for (i = 0; i < d->ntry; i++)
			d->r[i].result = status_make(ST_TEMP, 3, 0, "Out of memory");
		d->uncounted = UNCOUNTED_DNS;   /* no verdict on the hop */
		free(notify);
		free(rr);
		return;
	}
	for (i = 0; i < d->ntry; i++) {
		unsigned n = d->r[i].n;

		rr[i].rcpt = &env->rcpt[n];
		d->r[i].notify = env->dsn[n].notify;
		dsn_notify_format(d->r[i].notify, notify[i]);
		rr[i].dsn_notify = notify[i][0] ? notify[i] : NULL;
		rr[i].dsn_orcpt = env->dsn[n].orcpt;
	}
	remote_deliver(d->remote, env->sender.text, rr, d->ntry, env->body_8bit,
	               &dsn, fd, (off_t)offset, &res);
	d->uncounted = res.counted ? 0 : UNCOUNTED_DNS;
	d->unreachable = res.unreachable;
	for (i = 0; i < d->ntry; i++) {
		struct delivery_rcpt *r = &d->r[i];

		r->result = rr[i].st;
		r->dsn_passed = rr[i].st.kind == ST_OK && rr[i].dsn_offered;
		memcpy(r->remote_mta, rr[i].remote_mta, sizeof r->remote_mta);
		memcpy(r->diag, rr[i].diag, sizeof r->diag);
		snprintf(r->tls, sizeof r->tls, "%s", rr[i].tls);
	}
	free(notify);
	free(rr);
}

/* transport_lmtp_user - USER@DOMAIN for a virtual domain, else USER */
int transport_lmtp_user(const struct config *cfg, const struct mailbox *rcpt,
                        char *buf)
{
	char name[ADDR_MAX], dom[ADDR_MAX];
	const char *vdom = policy_virtual_domain(cfg, rcpt, dom);

	if (policy_mailbox_name(rcpt, name, sizeof name) < 0)
		return -1;
	/* an address the client could send fits; checked all the same */
	if (vdom != NULL)
		return snprintf(buf, ADDR_MAX, "%s@%s", name, vdom) < ADDR_MAX ? 0 : -1;
	snprintf(buf, ADDR_MAX, "%s", cfg->system_users ? sysuser_account(name) : name);
	return 0;
}

/* deliver_lmtp - d's recipients to the LMTP server in one transaction,
 * each with the server's own reply (lmtp.h); one whose mailbox has no
 * usable name fails alone, before it */
static void deliver_lmtp(struct delivery *d, const struct envelope *env,
                         int fd, long long offset)
{
	char (*user)[ADDR_MAX] = calloc(d->ntry, sizeof *user);
	const char **rcpt = calloc(d->ntry, sizeof *rcpt);
	struct lmtp_result *res = calloc(d->ntry, sizeof *res);
	size_t *idx = calloc(d->ntry, sizeof *idx), i, n = 0;
	char port[16];

	if (user == NULL || rcpt == NULL || res == NULL || idx == NULL) {
		for (i = 0; i < d->ntry; i++)
			d->r[i].result = status_make(ST_TEMP, 3, 0, "Out of memory");
		d->uncounted = UNCOUNTED_DNS;   /* no verdict on the hop */
		goto out;
	}
	for (i = 0; i < d->ntry; i++) {
		struct delivery_rcpt *r = &d->r[i];

		/* NOTIFY= is not passed on: the LMTP server is the mailbox, so
		 * a success report is ours ("delivered", scheduler_notice.c) */
		r->notify = env->dsn[r->n].notify;
		r->dsn_passed = 0;
		if (transport_lmtp_user(d->cfg, &env->rcpt[r->n], user[i]) < 0) {
			r->result = status_make(ST_PERM, 1, 3, "Bad mailbox name");
			continue;
		}
		rcpt[n] = user[i];
		idx[n++] = i;
	}
	if (n > 0)
		lmtp_deliver(d->remote, d->cfg->lmtp, env->sender.text, rcpt, n,
		             env->body_8bit, fd, (off_t)offset, res, &d->unreachable);
	for (i = 0; i < n; i++) {
		struct delivery_rcpt *r = &d->r[idx[i]];

		r->result = res[i].st;
		/* the server that answered, for the DSN's Remote-MTA: the
		 * socket's path, or the host without its port */
		if (res[i].diag[0] && (d->cfg->lmtp[0] == '/' ||
		    smtp_parse_hostport(d->cfg->lmtp, "24", r->remote_mta,
		                        sizeof r->remote_mta, port, sizeof port) < 0))
			snprintf(r->remote_mta, sizeof r->remote_mta, "%s", d->cfg->lmtp);
		memcpy(r->diag, res[i].diag, sizeof r->diag);
	}
out:
	free(user);
	free(rcpt);
	free(res);
	free(idx);
}

const struct transport transport_table[TRANSPORT_COUNT] = {
	[TRANSPORT_LOCAL] = { "local", 1, 0, deliver_local },
	[TRANSPORT_SMTP] = { "smtp", SMTP_DIALOG_RCPT_MAX, 1, deliver_smtp },
	/* one transaction for every local recipient of a message, whatever
	 * its domain: they share the one server */
	[TRANSPORT_LMTP] = { "lmtp", SMTP_DIALOG_RCPT_MAX, 0, deliver_lmtp },
};
