/* bounce - "undeliverable mail" reports: RFC 3464 delivery status
 * notifications, sent from <> to the original sender through the queue
 * like any other message.
 *
 * The report (RFC 3462 multipart/report; report-type=delivery-status):
 *   1. text/plain: what happened, for people, one paragraph per recipient;
 *   2. message/delivery-status: Reporting-MTA and Arrival-Date, then per
 *      recipient Original-Recipient (the address the client gave, when
 *      the recipient came of another: envelope.h orcpt), Final-Recipient,
 *      Action (failed, or as below), Status, Remote-MTA and
 *      Diagnostic-Code (the remote reply, quoted) when a server replied;
 *   3. text/rfc822-headers: the original message's header; in a failure
 *      report for a message sent with RET=FULL, message/rfc822: the
 *      whole message.
 * Header: From: MAILER-DAEMON@HOSTNAME, To: the sender, Subject,
 * Auto-Submitted: auto-replied (RFC 3834), Date, Message-ID, MIME.
 *
 * Several recipients of one message that failed together go in one
 * report.  The same report says "delayed" (a delay warning, with
 * Will-Retry-Until), "delivered" or "relayed" (NOTIFY=SUCCESS): one
 * action per report.  RCPT's NOTIFY= (envelope.h, dsn.h) decides which
 * recipients are reported at all (none for NEVER; failures and delays
 * without NOTIFY); ORCPT= is the Original-Recipient, preferred to the
 * alias's address; ENVID= the Original-Envelope-Id.  The report goes
 * to the sender resolved as at RCPT (policy.h, with the current
 * configuration): a local sender's aliases apply.  A message from the
 * null sender is never bounced (the caller logs and drops it):
 * bounce_send() refuses it with -1/EINVAL.
 *
 * Contract: thread-safe (the queue write is); everything passed in is
 * borrowed.
 */
#ifndef MTA_BOUNCE_H
#define MTA_BOUNCE_H

#include <stddef.h>
#include <sys/types.h>

#include "envelope.h"
#include "queue.h"
#include "status.h"

/* what a report says of its recipients (RFC 3464 2.3.3 Action); one
 * report says one of them of all its recipients */
enum bounce_action {
	BOUNCE_FAILED = 0,         /* undeliverable: the bounce */
	BOUNCE_DELAYED,            /* still being tried (--delay-warning) */
	BOUNCE_DELIVERED,          /* NOTIFY=SUCCESS, delivered here */
	BOUNCE_RELAYED             /* NOTIFY=SUCCESS, to a server without DSN */
};

struct bounce_rcpt {
	const char *rcpt;          /* the recipient reported on */
	struct status st;          /* why: its kind and RFC 3463 code */
	const char *remote_mta;    /* "" when no server was involved; a
	                            * host name, or a unix socket's path */
	const char *diag;          /* the server's reply, "" for none */
	enum bounce_action action; /* the same for every one of a report */
	time_t retry_until;        /* BOUNCE_DELAYED: Will-Retry-Until */
};

/* bounce_compose - write the whole report for env's message (its header
 * read from fd[offset..]) through out(); id names the report itself */
void bounce_compose(const char *hostname, const char *id,
                    const struct envelope *env, int fd, off_t offset,
                    const struct bounce_rcpt *r, size_t n, time_t now,
                    void (*out)(void *ctx, const char *p, size_t len),
                    void *ctx);
/* bounce_wanted - does recipient rcpt of env want a report of action
 * (its RCPT's NOTIFY=)? */
int bounce_wanted(const struct envelope *env, const char *rcpt,
                  enum bounce_action action);
/* bounce_send - compose and queue the report on the recipients of r
 * that want it (bounce_wanted); 0 when it is queued, 1 when none of them
 * wants one (nothing sent), -1 (errno EINVAL for a null sender; else the
 * queue could not be written, *st says why) */
int bounce_send(struct queue *q, const char *hostname,
                const struct envelope *env, int fd, off_t offset,
                const struct bounce_rcpt *r, size_t n, struct status *st);
/* bounce_send_mem - bounce_send with the original message p[0..len) in
 * memory rather than a file (what a caller read and checked, when the
 * file may have changed since); -1 also when it cannot be copied */
int bounce_send_mem(struct queue *q, const char *hostname,
                    const struct envelope *env, const char *p, size_t len,
                    const struct bounce_rcpt *r, size_t n, struct status *st);

#endif
