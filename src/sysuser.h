/* sysuser - system accounts as mailboxes (--system-users): which account
 * a mailbox name means, looking it up, and whether it may receive mail.
 * RCPT (policy.c) and delivery (local.c) both decide through here, so a
 * job queued before an account changed is judged as RCPT would judge it
 * now.
 *
 *   - "postmaster" means the account root (RFC 5321 4.5.1: it must be
 *     accepted, and many systems have no such account);
 *   - the lookup (getpwnam_r) grows its buffer on ERANGE up to
 *     SYSUSER_BUF_MAX; only "not found" (0 with no entry) is permanent,
 *     5.1.1; every other failure (ERANGE past the maximum, EMFILE, EIO,
 *     an NSS error, no memory) is temporary, 4.3.0: a user who exists
 *     must never be bounced because the lookup failed;
 *   - an account receives mail when it is root (uid 0: its mail is for
 *     an administrator), or when its uid is at least UID_MIN of
 *     /etc/login.defs (1000 when that file or line is missing) and its
 *     shell is not nologin or false.  System accounts (bin, daemon,
 *     www-data, nobody) get 5.1.1: nothing is ever written into their
 *     homes.
 *
 * Contract: thread-safe (getpwnam_r, no shared state); struct sysuser
 * owns home (malloc'ed) until sysuser_free().
 */
#ifndef MTA_SYSUSER_H
#define MTA_SYSUSER_H

#include <stddef.h>
#include <sys/types.h>

#include "status.h"

enum {
	SYSUSER_BUF_MIN = 1024,       /* getpwnam_r buffer: first size ... */
	SYSUSER_BUF_MAX = 1 << 20,    /* ... and the most we try */
	SYSUSER_UID_MIN = 1000        /* without UID_MIN in login.defs */
};

#define SYSUSER_LOGIN_DEFS "/etc/login.defs"

struct sysuser {
	uid_t uid;
	gid_t gid;
	char *home;                   /* malloc'ed; NULL when not asked for */
};

/* sysuser_account - the account a mailbox name means: "root" for
 * "postmaster", else name itself */
const char *sysuser_account(const char *name);

/* sysuser_find - look up account name and check that it may receive
 * mail: ST_OK (u, when not NULL, filled; free it with sysuser_free),
 * ST_PERM 5.1.1 (no such user, or not one that receives mail), or
 * ST_TEMP 4.3.0 (the lookup failed) */
struct status sysuser_find(const char *name, struct sysuser *u);
/* sysuser_free - release what sysuser_find put in u */
void sysuser_free(struct sysuser *u);

/* The pure parts, for sysuser_find and its tests: */

/* sysuser_lookup_status - the status for getpwnam_r's result: err its
 * return value, found whether it gave an entry */
struct status sysuser_lookup_status(const char *name, int err, int found);
/* sysuser_may_receive - 1 when an account with this uid and login shell
 * (NULL or "" = /bin/sh) receives mail, given uid_min; else 0 */
int sysuser_may_receive(uid_t uid, const char *shell, unsigned long uid_min);
/* sysuser_uid_min - UID_MIN from a login.defs file into *v,
 * SYSUSER_UID_MIN when the file does not exist (ENOENT) or has no valid
 * UID_MIN line; 0, or -1 with errno when it cannot be opened or read for
 * another reason (the caller's failure is temporary) */
int sysuser_uid_min(const char *path, unsigned long *v);

#endif
