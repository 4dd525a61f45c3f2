/* lmtp - deliver to an LMTP server (RFC 2033; Dovecot's lmtp, say): the
 * transport of local mailboxes under --lmtp (transport.h).
 *
 * Where to (--lmtp ADDR): a path starting with '/' is a unix stream
 * socket; anything else is HOST:PORT ([IPv6]:PORT), the host a name or
 * an address, its addresses tried in turn.  The client is the one client
 * engine (smtp_dialog.h) in LMTP mode: LHLO, then one transaction: MAIL
 * FROM, one RCPT TO per recipient, DATA, the message, and after the dot
 * one reply per recipient the server accepted at RCPT, each recipient's
 * own: a 452 (over quota) for one recipient defers that one only, a 550
 * (no such user) fails that one only.
 *
 * One call carries the recipients of one message to the server: the
 * scheduler groups them (deliver.h), one delivery per message and
 * server, one transaction.
 *
 * Connections are kept between deliveries (conncache.h, the same cache
 * as remote delivery's, under the key "lmtp ADDR": never mixed with an
 * SMTP connection) for REMOTE_IDLE_SECONDS.  A kept connection the
 * server closed meanwhile costs nothing: the transaction is tried once
 * more on a new connection when it failed before the message went out.
 *
 * Results: each recipient its own status: ST_OK; the server's refusal
 * ("LMTP server ADDR said: 452 4.2.2 ...", kind by the reply's class,
 * diag quoting it for the DSN); or the failure of the whole transaction
 * (no connection: ST_TEMP 4.4.1, *unreachable set; a refused greeting or
 * LHLO, the connection lost: ST_TEMP).  Never ST_PERM without a 5xx
 * reply about that recipient (or a local refusal of its address).
 *
 * Contract: thread-safe (each call its own client; the cache is);
 * strings borrowed for the call; the message is read from
 * fd[offset..EOF), whose offset is changed.
 */
#ifndef MTA_LMTP_H
#define MTA_LMTP_H

#include <stddef.h>
#include <sys/types.h>

#include "remote.h"
#include "smtp_reply.h"
#include "status.h"

struct lmtp_result {
	struct status st;
	char diag[SMTP_REPLY_TEXT_MAX];  /* "452 4.2.2 text" when the server
	                                  * refused it, else "" */
};

/* lmtp_deliver - one transaction to the LMTP server at addr carrying
 * rcpt[0..n) (n at most SMTP_DIALOG_RCPT_MAX), each one's outcome into
 * res[i]; *unreachable set when the server could not be reached at all */
void lmtp_deliver(const struct remote_ctx *rc, const char *addr,
                  const char *sender, const char *const *rcpt, size_t n,
                  int body_8bit, int fd, off_t offset,
                  struct lmtp_result *res, int *unreachable);

#endif
