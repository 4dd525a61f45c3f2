/* policy.c - recipient acceptance and mailbox names; see policy.h */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "policy.h"
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

/* policy_is_local - delivered here? */
int policy_is_local(const struct config *cfg, const struct mailbox *rcpt)
{
	if (rcpt->at == 0)
		return 1;                 /* bare "postmaster" */
	if (rcpt->literal)
		return literal_is_ours(cfg, rcpt);
	return config_is_local(cfg, addr_domain(rcpt));
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

/* policy_check_rcpt - the RCPT decision */
struct status policy_check_rcpt(const struct config *cfg,
                                const struct mailbox *rcpt, int may_relay)
{
	char name[ADDR_MAX];

	if (!policy_is_local(cfg, rcpt)) {
		if (may_relay)
			return status_ok();
		return status_make(ST_PERM, 7, 1, "Relay access denied");
	}
	if (policy_mailbox_name(rcpt, name, sizeof name) < 0)
		return status_make(ST_PERM, 1, 3, "Bad mailbox name");
	/* A stranger's mail must never become someone's lock file. */
	if (cfg->mbox && policy_is_lock_name(name))
		return status_make(ST_PERM, 1, 1, "No such mailbox here: names "
		                   "ending in " POLICY_LOCK_SUFFIX " are mbox locks");
	if (cfg->system_users)
		return sysuser_find(sysuser_account(name), NULL);
	return status_ok();
}
