/* scheduler_explode - the scheduler taking new messages into jobs (in
 * memory for their first attempt) and, once a recipient must wait, into
 * job files and mess/, in batches (one fsync of rcpt/ and one of mess/
 * for many messages).
 * Private to scheduler*.c; the scheduler thread only. */
#ifndef MTA_SCHEDULER_EXPLODE_H
#define MTA_SCHEDULER_EXPLODE_H

#include "scheduler_priv.h"


/* sched_arrived - a message in new/ (created: seen by IN_CREATE, made by
 * a link or written in place by hand): explode it with the next batch
 * (type: its d_type, or DT_UNKNOWN), unless a receiver is still
 * committing it (queue_msg_committing: its close brings it back); 0, or
 * -1 when out of memory (a rescan comes soon) */
int sched_arrived(struct sched *s, const char *name, unsigned char type,
                  unsigned char created);
/* sched_closed_new - a receiver's close of new/name (IN_CLOSE_WRITE):
 * its commit decided, explode it with the next batch unless queued
 * already; as sched_arrived */
int sched_closed_new(struct sched *s, const char *name);
/* sched_forget_untaken - forget the jobs in memory of message id, not
 * (or no longer) taken into mess/: none of them has started */
void sched_forget_untaken(struct sched *s, const char *id);
/* sched_explode - turn every message that arrived into jobs: in memory
 * for its first attempt from new/; for one found with job files, a file
 * for every recipient, with one fsync of rcpt/ and one of mess/ for the
 * whole batch */
void sched_explode(struct sched *s);
/* sched_file_message - m in its first attempt gets a file for each job
 * it has left, and its move into mess/ is queued; logged "filed" with
 * why (deferred, slow); 0, or -1 (logged; m stays unfiled, its outcomes
 * kept in memory) */
int sched_file_message(struct sched *s, struct jt_msg *m, const char *why);
/* sched_file_young - every message whose first attempt has run for
 * FILE_AFTER_MS gets its job files, as after a deferral */
void sched_file_young(struct sched *s);
/* sched_young_wait - milliseconds until sched_file_young has work (0:
 * now), or -1 when no first attempt is under way */
long long sched_young_wait(const struct sched *s);
/* sched_unfile_unsynced - an fsync of rcpt/ failed: every message being
 * filed whose job files no fsync has covered yet is unfiled (its job
 * files unlinked, its jobs in memory again, filed afresh later) */
void sched_unfile_unsynced(struct sched *s);
/* sched_filing_at - when sched_file_batch has work (epoch seconds; at
 * once if not in the future), or -1 when it has none */
long long sched_filing_at(const struct sched *s);
/* sched_file_batch - the messages filed since the last call move into
 * mess/ (one fsync of rcpt/ and one of mess/ for all); tried again
 * later when an fsync fails */
void sched_file_batch(struct sched *s);

#endif
