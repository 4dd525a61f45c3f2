/* policy - which recipients this server accepts, and where a local
 * recipient's mailbox lives.
 *
 *   - a domain in --domains (or an address literal of one of our listen
 *     addresses, or a bare "postmaster") is local: the local part must
 *     name a safe mailbox (policy_mailbox_name); with --mbox it must
 *     not end in ".lock", which names another mbox's dotlock (550
 *     5.1.1); with --system-users
 *     an account that receives mail, as sysuser.h decides ("postmaster"
 *     is root's; 550 5.1.1 for no such user, 451 4.3.0 when the lookup
 *     fails);
 *   - a domain of the --virtual table is local too: its addresses are
 *     the table's (resolve.h), its mailboxes MAILROOT/DOMAIN/USER/;
 *   - a local recipient is resolved (resolve.h: aliases, virtual,
 *     subaddress) at RCPT, and refused when nothing deliverable is left:
 *     550 5.1.1 for an unknown mailbox when the mailboxes are known
 *     (--system-users, --local-users), 451 4.3.0 when that cannot be
 *     told now;
 *   - any other domain is relayed only for clients in --relay-from
 *     (554 5.7.1 otherwise: never an open relay).
 *
 *   - with --system-users, a user's ~/.forward (its addresses) is
 *     followed when it is a regular file owned by the user and writable
 *     by nobody else; otherwise it is ignored and logged
 *     (forward-ignored);
 *   - the virtual mailboxes are checked as file names too (5.1.3).
 *
 * Contract: reads the read-only config; thread-safe (getpwnam_r).
 * Files read: ~/.forward at RCPT, and the tables a new snapshot names,
 * before it is published (policy_load_tables()).
 */
#ifndef MTA_POLICY_H
#define MTA_POLICY_H

#include <stddef.h>

#include "addr.h"
#include "config.h"
#include "envelope.h"
#include "resolve.h"
#include "status.h"

/* policy_is_local - is this recipient delivered here? */
int policy_is_local(const struct config *cfg, const struct mailbox *rcpt);
/* policy_mailbox_name - the mailbox name for a local recipient: the
 * unquoted local part in lower case.  -1 when it could escape the mail
 * root or is otherwise unusable as a file name ('/', NUL, a leading '.',
 * empty, too long). */
int policy_mailbox_name(const struct mailbox *rcpt, char *buf, size_t len);
/* The dotlock of mbox NAME is NAME POLICY_LOCK_SUFFIX, next to it. */
#define POLICY_LOCK_SUFFIX ".lock"
/* policy_is_lock_name - does a mailbox name end in POLICY_LOCK_SUFFIX
 * (so that in mbox mode it names another mailbox's lock)? */
int policy_is_lock_name(const char *name);
/* policy_check_rcpt - accept (ST_OK) or refuse a recipient at RCPT; r
 * (when not NULL) gets where it goes: its final recipients (a relayed
 * one: itself); free it with resolve_result_free in every case */
struct status policy_check_rcpt(const struct config *cfg,
                                const struct mailbox *rcpt, int may_relay,
                                struct resolve_result *r);
/* policy_add_rcpt - add the final recipients of rcpt, which
 * policy_check_rcpt accepted, to env (each with rcpt as its RCPT
 * address); recipients dropped on the way are logged.  ST_OK, or why
 * rcpt cannot be resolved now (ST_TEMP also when out of memory): then
 * env may hold some of them, and the caller refuses rcpt */
struct status policy_add_rcpt(const struct config *cfg, struct envelope *env,
                              const struct mailbox *rcpt, int may_relay);
/* policy_load_tables - read the tables cfg names (--aliases, --virtual,
 * --local-users, and --users' logins: authdb.h) into cfg and check --root-alias; each refused target
 * goes to warn.  0, or -1 with err ("FILE:LINE: why") */
int policy_load_tables(struct config *cfg, void (*warn)(void *ctx, const char *text),
                       void *ctx, char *err, size_t errlen);
/* policy_virtual_domain - rcpt's domain in lower case into buf (size
 * ADDR_MAX) when it is a virtual domain, else NULL */
const char *policy_virtual_domain(const struct config *cfg,
                                  const struct mailbox *rcpt, char *buf);

#endif
