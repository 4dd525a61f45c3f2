/* qctl - mta-queue's control of queued messages (mta-queue(1)): hold,
 * release, requeue, return to the sender (bounce) and delete, for one
 * message or all, narrowed by a selection (qselect.h).
 *
 * Every change is one rename() or unlink() in rcpt/ through the queue
 * store, the daemon's own model of an operator's command (mta-queue(5),
 * JOB FILES and WORKING ON THE QUEUE BY HAND): hold renames a job to DUE
 * JOB_DUE_HELD, release and requeue to DUE = now, bounce to DUE
 * JOB_DUE_BOUNCE (the daemon makes the bounce when it dispatches the
 * job); delete unlinks jobs, and a whole message's file after its jobs
 * (qlist_delete).  A job's content (its attempts) goes with it.  Only
 * jobs are steered: a message still in new/ has none until the daemon
 * takes it; it is counted as not yet scheduled (delete removes it).  One
 * caught in the middle of being taken (its jobs made, its name still in
 * new/) has its jobs steered; one listed in new/ and gone to mess/ when
 * read makes the pass count as a lost race, so it is not passed over.
 *
 * A rename can lose a race with the daemon, which renames a job whose
 * delivery was deferred: the listing is read again and the operation
 * repeated (a bounded number of passes) until no job it chose vanished
 * under it.
 *
 * Contract: used by one thread; borrows the qlist (its queue and its
 * warning stream).
 */
#ifndef MTA_QCTL_H
#define MTA_QCTL_H

#include "qlist.h"
#include "qselect.h"
#include "queue.h"

enum qctl_op { QCTL_HOLD, QCTL_RELEASE, QCTL_REQUEUE, QCTL_BOUNCE, QCTL_DELETE };

/* what qctl_apply() did */
struct qctl_done {
	unsigned msgs;          /* messages it changed something of */
	unsigned jobs;          /* job files renamed or removed */
	unsigned whole;         /* messages deleted with their message file */
	unsigned unscheduled;   /* selected messages still in new/, untouched */
	unsigned failed;        /* renames or unlinks that failed (warned) */
};

/* qctl_apply - do op to message id (NULL: every message) and the
 * recipients sel picks, now being the time (epoch seconds) of release
 * and requeue.  0; -1 with errno ENOENT when id names no message that
 * sel picks, EINVAL when it is no queue ID, or another errno when the
 * queue could not be read */
int qctl_apply(struct qlist *ql, enum qctl_op op, const char *id,
               const struct qselect *sel, long long now, struct qctl_done *res);

#endif
