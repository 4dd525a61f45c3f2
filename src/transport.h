/* transport - how a recipient is delivered: the transport table (local
 * mailbox, SMTP, LMTP) and each recipient's next hop.
 *
 * The scheduler routes a due job before it starts a delivery thread:
 * transport_route() picks the transport (a local recipient, policy.h:
 * local, or lmtp under --lmtp; any other: smtp) and the next hop, the
 * key of its limit and of the dead-hop memory (destlimit.h):
 *   local   "local:NAME", the mailbox (postmaster shares root's with
 *           --system-users);
 *   lmtp    "lmtp:ADDR", the --lmtp server: every local recipient of a
 *           message shares it, and they go in one delivery, one
 *           transaction (group: the row's, whatever their domains);
 *   smtp    remote_next_hop() (remote.h): "HOST:PORT" of a --route,
 *           "IP:PORT" of an address literal, else the domain (its MX set).
 * The limits (mta-smtpd(8), --max-deliveries): each transport may use at
 * most transport_limit() deliveries, three quarters of --max-deliveries
 * (at least 1, and at least one left for the other transport when
 * --max-deliveries is 2 or more); one next hop at most
 * transport_hop_limit(): --max-per-dest for smtp; for a local mailbox 2
 * with --mbox, --max-per-mailbox for a Maildir (default: half of the
 * local transport's limit), never more than half of it (at least 1); lmtp at most --max-lmtp
 * deliveries, the transport's and its one hop's limit (within the three
 * quarters).  Adding a transport is a row of the table and a case of
 * transport_route().
 * The LMTP recipient (transport_lmtp_user), the name the LMTP server
 * looks its user up by: a virtual domain's mailbox as USER@DOMAIN, a
 * mailbox of --domains as the bare USER (with --system-users the
 * account, postmaster as root): the same names as the Maildir layout's
 * MAILROOT/DOMAIN/USER and MAILROOT/USER.
 *
 * Contract: routing reads only the config snapshot (and, with
 * --system-users, nothing: the account name is computed); thread-safe.
 * A row's deliver function runs in a delivery thread (deliver.h).
 */
#ifndef MTA_TRANSPORT_H
#define MTA_TRANSPORT_H

#include <stddef.h>

#include "addr.h"
#include "config.h"
#include "dns.h"

enum transport_id { TRANSPORT_LOCAL, TRANSPORT_SMTP, TRANSPORT_LMTP,
                    TRANSPORT_COUNT };
enum { TRANSPORT_MBOX_SHARE = 2 };         /* deliveries into one mbox */
enum { TRANSPORT_HOP_MAX = DNS_NAME_MAX + 16 }; /* a key, ":PORT", NUL */
/* keys of local mailboxes: no domain or host starts so */
#define TRANSPORT_LOCAL_KEY "local:"
/* the key of the LMTP server: no domain starts so either */
#define TRANSPORT_LMTP_KEY "lmtp:"

struct delivery;
struct envelope;

struct transport {
	const char *name;          /* "local", "smtp", "lmtp": the log's via= */
	unsigned group;            /* recipients one delivery may carry (1:
	                            * one at a time) */
	int group_domain;          /* group only recipients of one domain */
	/* deliver - one attempt to d's recipients d->r[0..d->ntry) of env
	 * (its message at fd[offset..]), at most group of them; fills each
	 * one's results and the round's (deliver.h) */
	void (*deliver)(struct delivery *d, const struct envelope *env, int fd,
	                long long offset);
};

extern const struct transport transport_table[TRANSPORT_COUNT];

/* transport_route - rcpt's transport and its next hop key into
 * hop[TRANSPORT_HOP_MAX] */
enum transport_id transport_route(const struct config *cfg,
                                  const struct mailbox *rcpt, char *hop);
/* transport_lmtp_user - the address for RCPT TO at the LMTP server of
 * local recipient rcpt, into buf[ADDR_MAX]; 0, or -1 when rcpt names no
 * mailbox (policy_mailbox_name) */
int transport_lmtp_user(const struct config *cfg, const struct mailbox *rcpt,
                        char *buf);
/* transport_limit - deliveries transport t may run at once */
unsigned transport_limit(const struct config *cfg, enum transport_id t);
/* transport_hop_limit - deliveries one next hop of t may have at once */
unsigned transport_hop_limit(const struct config *cfg, enum transport_id t);

#endif
