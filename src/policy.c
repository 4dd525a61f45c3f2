/* policy.c - recipient acceptance and mailbox names; see policy.h */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "log.h"
#include "authdb.h"
#include "policy.h"
#include "readall.h"
#include "sysuser.h"

/* literal_is_ours - is "[ip]" the address of one of our listeners? */
static int literal_is_ours(const struct config *cfg, const struct mailbox *rcpt)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char want[NETADDR_TEXT_MAX], have[NETADDR_TEXT_MAX];
	size_t i;

	if (addr_literal_sockaddr(rcpt, &ss, &len) < 0)
		return 0;
	netaddr_ip((struct sockaddr *)&ss, want, sizeof want);
	for (i = 0; i < cfg->nlisten; i++) {
		netaddr_ip((const struct sockaddr *)&cfg->listen[i].ss, have, sizeof have);
		if (strcmp(want, have) == 0)
			return 1;
	}
	return 0;
}

/* local_domain - one of our own domains (not a virtual one)? */
static int local_domain(const struct config *cfg, const struct mailbox *rcpt)
{
	if (rcpt->at == 0)
		return 1;                 /* bare "postmaster" */
	if (rcpt->literal)
		return literal_is_ours(cfg, rcpt);
	return config_is_local(cfg, addr_domain(rcpt));
}

/* policy_is_local - delivered here? */
int policy_is_local(const struct config *cfg, const struct mailbox *rcpt)
{
	return local_domain(cfg, rcpt) ||
	       (!rcpt->literal && resolve_is_virtual(cfg->tables, addr_domain(rcpt)));
}

/* policy_virtual_domain - the virtual domain of rcpt, lower case */
const char *policy_virtual_domain(const struct config *cfg,
                                  const struct mailbox *rcpt, char *buf)
{
	const char *d = addr_domain(rcpt);
	size_t i;

	if (rcpt->at == 0 || rcpt->literal || !resolve_is_virtual(cfg->tables, d))
		return NULL;
	for (i = 0; d[i] && i < ADDR_MAX - 1; i++)
		buf[i] = (char)tolower((unsigned char)d[i]);
	buf[i] = '\0';
	return buf;
}

/* policy_mailbox_name - safe, lower-case mailbox name */
int policy_mailbox_name(const struct mailbox *rcpt, char *buf, size_t len)
{
	int n;
	size_t i;

	if (rcpt->at == 0) {          /* "postmaster" with no domain */
		if (len < 11)
			return -1;
		strcpy(buf, "postmaster");
		return 0;
	}
	n = addr_local(rcpt, buf, len);
	if (n <= 0 || buf[0] == '.')
		return -1;
	for (i = 0; i < (size_t)n; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c == '/' || c == '\0' || c < 0x20 || c == 0x7f)
			return -1;
		buf[i] = (char)tolower(c);
	}
	return 0;
}

/* policy_is_lock_name - NAME.lock is the dotlock of mbox NAME */
int policy_is_lock_name(const char *name)
{
	size_t n = strlen(name), k = strlen(POLICY_LOCK_SUFFIX);

	return n >= k && strcmp(name + n - k, POLICY_LOCK_SUFFIX) == 0;
}

/* is_local_cb - resolve's is_local: our domains, not the virtual ones */
static int is_local_cb(void *ctx, const struct mailbox *mb)
{
	return local_domain(ctx, mb);
}

/* user_known_cb - resolve's user_known: a safe name; with --mbox not a
 * lock's; with --system-users an account that receives mail; with
 * --local-users a listed one */
static struct status user_known_cb(void *ctx, const char *name)
{
	const struct config *cfg = ctx;
	size_t i, n = strlen(name);

	if (n == 0 || name[0] == '.' || n > 64)
		return status_make(ST_PERM, 1, 3, "Bad mailbox name");
	for (i = 0; i < n; i++)
		if (name[i] == '/' || (unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return status_make(ST_PERM, 1, 3, "Bad mailbox name");
	/* A stranger's mail must never become someone's lock file. */
	if (cfg->mbox && policy_is_lock_name(name))
		return status_make(ST_PERM, 1, 1, "No such mailbox here: names "
		                   "ending in " POLICY_LOCK_SUFFIX " are mbox locks");
	if (cfg->system_users)
		return sysuser_find(sysuser_account(name), NULL);
	/* root's mailbox (postmaster's, built in) is always there */
	if (cfg->tables != NULL && cfg->tables->have_users &&
	    strcmp(name, "root") != 0 && !resolve_user_listed(cfg->tables, name))
		return status_make(ST_PERM, 1, 1, "No such user here");
	return status_ok();
}

/* forward_ignored - a ~/.forward not used (logged when log); the
 * status says why */
static struct status forward_ignored(const char *name, const char *why, int log)
{
	char q[LOG_VALUE_MAX];

	if (log)
		log_event("forward-ignored", "user=%s reason=%s", name,
		          log_quote(q, sizeof q, why));
	return status_make(ST_PERM, 7, 0, "%s", why);
}

/* read_forward - ~NAME/.forward of a --system-users account, used only
 * when it is a regular file owned by the user and writable by nobody
 * else (else ignored, and logged when log); its addresses into list */
static struct status read_forward(const char *name, struct addrtab *list, int log)
{
	const char *account = sysuser_account(name);
	struct sysuser u;
	struct status st;
	struct stat sb;
	char path[512], why[1024], *text = NULL;
	size_t n;
	int fd;

	st = sysuser_find(account, &u);
	if (st.kind != ST_OK)
		return st.kind == ST_TEMP ? st : status_ok();   /* no forward */
	if (u.home == NULL || (size_t)snprintf(path, sizeof path, "%s/.forward",
	                                       u.home) >= sizeof path) {
		sysuser_free(&u);
		return status_ok();
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		sysuser_free(&u);
		if (e == ENOENT || e == ENOTDIR)
			return status_ok();
		snprintf(why, sizeof why, "%s: %s", path, strerror(e));
		if (e == ELOOP || e == EACCES)
			return forward_ignored(account, why, log);
		return status_make(ST_TEMP, 3, 0, "%s", why);
	}
	why[0] = '\0';
	if (fstat(fd, &sb) < 0)
		st = status_make(ST_TEMP, 3, 0, "%s: %s", path, strerror(errno));
	else if (!S_ISREG(sb.st_mode))
		snprintf(why, sizeof why, "%s: not a regular file", path);
	else if (sb.st_uid != u.uid)
		snprintf(why, sizeof why, "%s: not owned by %s", path, account);
	else if ((sb.st_mode & 022) != 0)
		snprintf(why, sizeof why, "%s: writable by others than %s", path, account);
	else if ((text = readall_fd(fd, ADDRTAB_FILE_MAX, &n)) == NULL && errno == EFBIG)
		snprintf(why, sizeof why, "%s: %s", path, strerror(errno));
	else if (text == NULL)
		/* EIO, ENOMEM: the file may be fine the next time; used
		 * now, the mail would bypass it */
		st = status_make(ST_TEMP, 3, 0, "%s: %s", path, strerror(errno));
	close(fd);
	sysuser_free(&u);
	if (st.kind != ST_OK)
		return st;
	if (why[0] != '\0')
		return forward_ignored(account, why, log);
	if (addrtab_parse(list, ADDRTAB_LIST, path, text, n, why, sizeof why) < 0)
		st = forward_ignored(account, why, log);
	free(text);
	return st;
}

/* forward_cb, forward_quiet_cb - resolve's forward, logging what it
 * ignores or not (RCPT resolves twice: check, then add; one line is
 * enough) */
static struct status forward_cb(void *ctx, const char *name, struct addrtab *list)
{
	(void)ctx;
	return read_forward(name, list, 1);
}

static struct status forward_quiet_cb(void *ctx, const char *name, struct addrtab *list)
{
	(void)ctx;
	return read_forward(name, list, 0);
}

/* resolve_with - resolve.h with this configuration; log: say what is
 * ignored on the way */
static struct status resolve_with(const struct config *cfg,
                                  const struct mailbox *rcpt,
                                  struct resolve_result *r, int log)
{
	struct resolve_params p = {
		.tables = cfg->tables,
		.ctx = (void *)(uintptr_t)cfg,     /* read only: see the callbacks */
		.is_local = is_local_cb,
		.user_known = user_known_cb,
		.forward = !cfg->system_users ? NULL : log ? forward_cb : forward_quiet_cb,
		.home_domain = cfg->ndomains > 0 ? cfg->domains[0] : "localhost",
		.delimiter = cfg->recipient_delimiter ? cfg->recipient_delimiter[0] : '+',
		.root_alias = cfg->root_alias,
	};
	size_t i, k = 0;

	if (resolve(&p, rcpt, r).kind != ST_OK)
		return r->st;
	/* a virtual mailbox is a file name too (user_known checked the
	 * local ones) */
	for (i = 0; i < r->n; i++) {
		char name[ADDR_MAX];

		if (r->t[i].kind == RESOLVE_VIRTUAL &&
		    (policy_mailbox_name(&r->t[i].addr, name, sizeof name) < 0 ||
		     (cfg->mbox && policy_is_lock_name(name)))) {
			r->dropped++;
			continue;
		}
		r->t[k++] = r->t[i];
	}
	r->n = k;
	if (k == 0)
		r->st = status_make(ST_PERM, 1, 3, "Bad mailbox name");
	return r->st;
}

/* check - the RCPT decision, and where the recipient goes */
static struct status check(const struct config *cfg, const struct mailbox *rcpt,
                           int may_relay, struct resolve_result *r, int log)
{
	memset(r, 0, sizeof *r);
	if (!policy_is_local(cfg, rcpt)) {
		if (!may_relay)
			return r->st = status_make(ST_PERM, 7, 1, "Relay access denied");
		if ((r->t = calloc(1, sizeof *r->t)) == NULL)
			return r->st = status_make(ST_TEMP, 3, 0, "Out of memory");
		r->t[0].kind = RESOLVE_REMOTE;
		r->t[0].addr = *rcpt;
		r->n = r->cap = 1;
		return r->st = status_ok();
	}
	return resolve_with(cfg, rcpt, r, log);
}

/* policy_check_rcpt - the RCPT decision (what it ignores is logged when
 * policy_add_rcpt resolves again) */
struct status policy_check_rcpt(const struct config *cfg,
                                const struct mailbox *rcpt, int may_relay,
                                struct resolve_result *r)
{
	struct resolve_result mine;
	struct status st = check(cfg, rcpt, may_relay, r != NULL ? r : &mine, 0);

	if (r == NULL)
		resolve_result_free(&mine);
	return st;
}

/* policy_add_rcpt - the final recipients into the envelope.  They are
 * resolved again (check and add are two steps of the session): with the
 * same snapshot the answer is the same, but a lookup may fail now that
 * worked then (a .forward that cannot be opened under load).  Then
 * nothing is added and the caller refuses: rcpt as it was sent would
 * skip the tables, the .forward and --local-users at delivery. */
struct status policy_add_rcpt(const struct config *cfg, struct envelope *env,
                              const struct mailbox *rcpt, int may_relay)
{
	struct resolve_result r;
	char q[LOG_VALUE_MAX], q2[LOG_VALUE_MAX];
	struct status st;
	size_t i;

	st = check(cfg, rcpt, may_relay, &r, 1);
	if (st.kind != ST_OK) {
		resolve_result_free(&r);
		return st;
	}
	if (r.dropped > 0)
		log_event("resolve-dropped", "rcpt=%s dropped=%u why=%s",
		          log_addr(q, sizeof q, rcpt->text), r.dropped,
		          log_quote(q2, sizeof q2, r.why ? r.why : ""));
	for (i = 0; i < r.n && st.kind == ST_OK; i++)
		if (envelope_add_final(env, &r.t[i].addr, rcpt->text) < 0)
			st = status_make(ST_TEMP, 3, 0, "Out of memory");
	resolve_result_free(&r);
	return st;
}

/* policy_load_tables - the snapshot's tables */
int policy_load_tables(struct config *cfg, void (*warn)(void *ctx, const char *text),
                       void *ctx, char *err, size_t errlen)
{
	struct resolve_tables *t;
	char path[ADDR_MAX + 2];
	struct mailbox mb;
	size_t i, used;

	if (cfg->root_alias != NULL) {
		snprintf(path, sizeof path, "<%s>", cfg->root_alias);
		if (addr_parse_path(path, strlen(path), &mb, &used, 0, 0) != ADDR_OK ||
		    used != strlen(path)) {
			snprintf(err, errlen, "bad value '%s' for --root-alias (want an "
			         "address user@domain)", cfg->root_alias);
			return -1;
		}
	}
	if (resolve_tables_load(&t, cfg->aliases, cfg->virtual, cfg->local_users,
	                        warn, ctx, err, errlen) < 0)
		return -1;
	if (cfg->users != NULL && cfg->authdb == NULL) {
		if (authdb_load(&cfg->authdb, cfg->users, err, errlen) < 0) {
			resolve_tables_free(t);
			return -1;
		}
		cfg->authdb_free = authdb_free;
	}
	for (i = 0; i < t->nvdomains; i++)
		if (config_is_local(cfg, t->vdomains[i])) {
			snprintf(err, errlen, "%s: domain %s is in --domains too: a "
			         "domain is either local or virtual", cfg->virtual,
			         t->vdomains[i]);
			resolve_tables_free(t);
			return -1;
		}
	if (cfg->tables != NULL && cfg->tables_free != NULL)
		cfg->tables_free(cfg->tables);
	cfg->tables = t;
	cfg->tables_free = resolve_tables_free;
	return 0;
}
