/* maildrop - the daemon's side of local submission: each file a local
 * user left in queue/maildrop/ (mta-send without a server) is read as
 * untrusted input and offered to the SMTP session engine (session.h) as
 * if a client had sent it, so that it is checked exactly as mail from the
 * network is (addresses, line and size limits, 8-bit, loops) and gets the
 * same header fixes (Date:, From:, Message-ID:).  Its Received: names the
 * file's owner as the kernel keeps it (fstat), never anything the file
 * says.  Recipients are relayed as for a --relay-from client.
 *
 * Outcomes, for one file (mta-queue(5), MAILDROP):
 *   accepted   committed to new/ under the file's own name as its ID,
 *              then the file unlinked and maildrop/ fsync'd, all before
 *              the scheduler explodes it (the same thread): after a crash
 *              a file whose ID is in new/ or mess/ is only unlinked;
 *   temporary  (4xx, a read or queue error) left in place: the next
 *              rescan tries again; once the file is older than
 *              --max-queue-time (its modification time) and the session
 *              still answers 4xx or fails, it is given up: every
 *              recipient reported as RFC 3463 4.4.7 with the last reply,
 *              then the file moved to bad/ (kept where it was should the
 *              report not be queued);
 *   refused    (5xx, or no valid maildrop format) moved to bad/ and
 *              logged; when the sender and at least one recipient were
 *              readable, the sender gets a report (bounce.h); recipients
 *              refused alone are reported and the others delivered.
 * Format of a file (written by mta-send, queue_maildrop_put):
 *   "mta-maildrop 1" LF, "sender <ADDR>" LF, optional "ret VALUE" LF
 *   and "envid VALUE" LF (MAIL's RET=, ENVID=), one "rcpt <ADDR>" LF per
 *   recipient, each followed by optional "notify VALUE" LF and "orcpt
 *   VALUE" LF (RCPT's NOTIFY=, ORCPT=), an empty line, then the message
 *   (LF or CRLF lines).  A VALUE is one SMTP parameter value; it goes to
 *   the session as that parameter and is checked there like a client's.
 *
 * Contract: the scheduler thread's (it runs the queue store's maildrop
 * calls and, through the session's ops, a receiver's queue_msg_* calls);
 * cfg and q are borrowed.  Logs maildrop (accepted), maildrop-deferred,
 * maildrop-refused and the store's quarantine.
 */
#ifndef MTA_MAILDROP_H
#define MTA_MAILDROP_H

#include "config.h"
#include "queue.h"

/* the first line of a maildrop file */
#define MAILDROP_MAGIC "mta-maildrop 1\n"

/* maildrop_take - handle maildrop/name (a name being written, tmp.*, is
 * left alone) */
void maildrop_take(struct queue *q, const struct config *cfg, const char *name);
/* maildrop_scan - maildrop_take every file of maildrop/ (start-up and
 * rescans), and remove what writers killed long ago left; 0, or -1 when
 * the directory could not be read */
int maildrop_scan(struct queue *q, const struct config *cfg);

#endif
