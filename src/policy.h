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
 *   - any other domain is relayed only for clients in --relay-from
 *     (554 5.7.1 otherwise: never an open relay).
 *
 * Contract: reads the read-only config; thread-safe (getpwnam_r).
 */
#ifndef MTA_POLICY_H
#define MTA_POLICY_H

#include <stddef.h>

#include "addr.h"
#include "config.h"
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
/* policy_check_rcpt - accept (ST_OK) or refuse a recipient at RCPT */
struct status policy_check_rcpt(const struct config *cfg,
                                const struct mailbox *rcpt, int may_relay);

#endif
