/* qselect - which messages and recipients an mta-queue(1) operation is
 * for: --from ADDR (the envelope sender), --to ADDR (a recipient),
 * --domain DOMAIN (a recipient's domain).  A message is selected when
 * its sender matches --from (or none is given); of a selected message,
 * the recipients that match both --to and --domain (those given) are.
 *
 * Addresses and domains compare without regard to case (an operator
 * types what the listing shows; a local part differing only in case is
 * the same mailbox on nearly every system); angle brackets around ADDR
 * are ignored, so "<>" and "" both select the null sender of bounces; a
 * domain matches with or without a final dot.
 *
 * Contract: pure functions on caller strings; thread-safe.  A struct
 * qselect borrows its strings; NULL members select everything.
 */
#ifndef MTA_QSELECT_H
#define MTA_QSELECT_H

#include <stddef.h>

#include "envelope.h"

struct qselect {
	const char *from;            /* --from, or NULL */
	const char *to;              /* --to, or NULL */
	const char *domain;          /* --domain, or NULL */
};

/* qselect_by_rcpt - does sel pick recipients (--to or --domain given)? */
int qselect_by_rcpt(const struct qselect *sel);
/* qselect_sender - is a message from sender ("" the null sender) picked? */
int qselect_sender(const struct qselect *sel, const char *sender);
/* qselect_rcpt - is recipient rcpt of a picked message picked? */
int qselect_rcpt(const struct qselect *sel, const char *rcpt);
/* qselect_picked - how many recipients of env sel picks (0 when it does
 * not pick the message's sender) */
size_t qselect_picked(const struct qselect *sel, const struct envelope *env);

#endif
