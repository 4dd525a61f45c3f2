/* transport.c - the transport table and next hops; see transport.h */
#include <stdio.h>
#include <string.h>

#include "deliver.h"
#include "lmtp.h"
#include "local.h"
#include "policy.h"
#include "remote.h"
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
	n = cfg->mbox ? TRANSPORT_MBOX_SHARE : cfg->max_per_dest;
	half = transport_limit(cfg, t) / 2;
	if (half < 1)
		half = 1;
	return n < half ? n : half;
}

/* deliver_local - to a mailbox here */
static void deliver_local(struct delivery *d, const struct envelope *env,
                          int fd, long long offset)
{
	const struct config *cfg = d->cfg;
	const struct mailbox *rcpt = &env->rcpt[d->n];
	char name[ADDR_MAX], dom[ADDR_MAX];
	struct local_config lc = {
		cfg->mailroot, cfg->hostname, cfg->mbox, cfg->system_users,
		cfg->mbox_lock_wait, policy_virtual_domain(cfg, rcpt, dom)
	};

	if (policy_mailbox_name(rcpt, name, sizeof name) < 0) {
		d->result = status_make(ST_PERM, 1, 3, "Bad mailbox name");
		return;
	}
	d->notify = env->dsn[d->n].notify;
	/* Delivered-To: the address the client sent, subaddress and all */
	d->result = local_deliver(&lc, name, envelope_orcpt(env, d->n),
	                          env->sender.text, fd, (off_t)offset);
}

/* deliver_smtp - one round over the next hop's servers */
static void deliver_smtp(struct delivery *d, const struct envelope *env,
                         int fd, long long offset)
{
	char notify[DSN_NOTIFY_TEXT_MAX];
	struct remote_result rr;
	struct remote_dsn dsn = {
		notify, env->dsn[d->n].orcpt,
		env->ret == DSN_RET_FULL ? "FULL" : env->ret == DSN_RET_HDRS ? "HDRS"
		                                  : NULL,
		env->envid[0] ? env->envid : NULL
	};

	d->notify = env->dsn[d->n].notify;
	dsn_notify_format(d->notify, notify);
	if (notify[0] == '\0')
		dsn.notify = NULL;
	remote_deliver(d->remote, env->sender.text, &env->rcpt[d->n],
	               env->body_8bit, &dsn, fd, (off_t)offset, &rr);
	d->dsn_passed = rr.st.kind == ST_OK && rr.dsn_offered;
	d->result = rr.st;
	d->uncounted = rr.counted ? 0 : UNCOUNTED_DNS;
	d->unreachable = rr.unreachable;
	memcpy(d->remote_mta, rr.remote_mta, sizeof d->remote_mta);
	memcpy(d->diag, rr.diag, sizeof d->diag);
	snprintf(d->tls, sizeof d->tls, "%s", rr.tls);
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

/* deliver_lmtp - to the LMTP server, in a transaction of its own */
static void deliver_lmtp(struct delivery *d, const struct envelope *env,
                         int fd, long long offset)
{
	char user[ADDR_MAX];
	const char *rcpt[1] = { user };
	struct lmtp_result r;

	/* NOTIFY= is not passed on: the LMTP server is the mailbox, so a
	 * success report is ours to make ("delivered", scheduler_notice.c) */
	d->notify = env->dsn[d->n].notify;
	d->dsn_passed = 0;
	if (transport_lmtp_user(d->cfg, &env->rcpt[d->n], user) < 0) {
		d->result = status_make(ST_PERM, 1, 3, "Bad mailbox name");
		return;
	}
	lmtp_deliver(d->remote, d->cfg->lmtp, env->sender.text, rcpt, 1,
	             env->body_8bit, fd, (off_t)offset, &r, &d->unreachable);
	d->result = r.st;
	/* the server that answered, for the DSN's Remote-MTA */
	if (r.diag[0])
		snprintf(d->remote_mta, sizeof d->remote_mta, "%s", d->cfg->lmtp);
	memcpy(d->diag, r.diag, sizeof d->diag);
}

const struct transport transport_table[TRANSPORT_COUNT] = {
	[TRANSPORT_LOCAL] = { "local", deliver_local },
	[TRANSPORT_SMTP] = { "smtp", deliver_smtp },
	[TRANSPORT_LMTP] = { "lmtp", deliver_lmtp },
};
