/* scheduler_outcome - the scheduler applying what deliveries came to:
 * deferrals, finished and failed recipients, reports, freed slots.
 * Private to scheduler*.c; the scheduler thread only. */
#ifndef MTA_SCHEDULER_OUTCOME_H
#define MTA_SCHEDULER_OUTCOME_H

#include "scheduler_priv.h"


/* sched_postpone - a job taken from the heap waits again until due, its
 * file renamed to match; 0, or -1 (logged) when it keeps its old name */
int sched_postpone(struct sched *s, struct jt_job *j, long long due);
/* sched_returned_status - the failure of a job returned to its sender by
 * an operator (DUE JOB_DUE_BOUNCE, mta-queue --bounce) */
struct status sched_returned_status(void);
/* sched_report_failures - report m's failed recipients in one bounce
 * once none of m's deliveries is running (or parked) any more */
void sched_report_failures(struct sched *s, struct jt_msg *m);
/* sched_unwait - a job out of a waiting line (destlimit.h) goes now; NULL
 * is nothing.  1 when it went back to the heap due now (it takes a slot
 * at the next dispatch), 0 when not (removed or held by hand) */
int sched_unwait(struct sched *s, struct jt_job *j);
/* sched_unwait_transport - let go the first job of tr's line that goes
 * back to the heap due (sched_unwait 1) */
void sched_unwait_transport(struct sched *s, enum transport_id tr);
/* sched_reserve_freed - before a delivery starts: room for the note
 * that its slot came free, so that none is lost to a lack of memory
 * when it ends; 0, or -1 when out of memory (start none) */
int sched_reserve_freed(struct sched *s);
/* sched_release_freed - let go the jobs waiting for the hop slots that
 * came free since the last call (once per hop: see scheduler_outcome.c) */
void sched_release_freed(struct sched *s);
/* sched_recheck_freed - after a dispatch that left nothing due in the
 * heap: the hops freed let go again while they have a free slot, and
 * are forgotten */
void sched_recheck_freed(struct sched *s);
/* sched_recheck_lines - at each rescan: every hop with a line is looked
 * at again (sched_release_freed), every transport line with a free slot
 * lets a job go */
void sched_recheck_lines(struct sched *s);
/* sched_completed - apply one delivery's outcome */
void sched_completed(struct sched *s, struct delivery *d);

#endif
