/* destlimit - the scheduler's limit decisions: whether a due job may
 * start a delivery now, and what it waits for when not.
 *
 * Counts deliveries under way per transport and per next hop
 * (transport.h keys), keeps a line (first in, first out) of the jobs
 * waiting for a slot of each, and remembers dead next hops: a hop whose
 * servers did not answer (remote.h) is dead until a given time, and
 * its jobs are deferred at once meanwhile instead of each paying a
 * connect timeout.  destlimit_check() says, in this order: DL_DEAD, DL_HOP
 * (the hop has its limit), DL_TRANSPORT (the transport has its limit),
 * or DL_GO.  The global limit (--max-deliveries) is the scheduler's.
 * What is counted is deliveries, not recipients: a delivery that carries
 * several recipients of one message (transport.h, grouping) takes one
 * slot of its transport and one of its hop, as one connection does.
 *
 * Contract: pure bookkeeping, no I/O, no clock (times are passed in),
 * no threads: owned and used by the scheduler thread only.  An entry for
 * a hop exists while it has deliveries, waiting jobs or dead time;
 * jobs in the lines are opaque pointers.  Keys are compared without case.
 */
#ifndef MTA_DESTLIMIT_H
#define MTA_DESTLIMIT_H

#include <stddef.h>

#include "transport.h"

struct destlimit;

enum dl_verdict { DL_GO, DL_DEAD, DL_HOP, DL_TRANSPORT };

/* destlimit_new - an empty table, or NULL */
struct destlimit *destlimit_new(void);
/* destlimit_free - the table and its lines (not the jobs in them) */
void destlimit_free(struct destlimit *t);

/* destlimit_check - may a job of transport tr to hop start now, with
 * these limits?  (now: for the dead-hop memory; DL_IGNORE_DEAD to
 * leave it out) */
#define DL_IGNORE_DEAD (-1LL)
enum dl_verdict destlimit_check(struct destlimit *t, enum transport_id tr,
                                const char *hop, unsigned transport_limit,
                                unsigned hop_limit, long long now);
/* destlimit_take - a delivery of tr to hop starts: count it; 0, or -1
 * when out of memory (nothing counted) */
int destlimit_take(struct destlimit *t, enum transport_id tr, const char *hop);
/* destlimit_give - it ended: uncount it */
void destlimit_give(struct destlimit *t, enum transport_id tr, const char *hop);
/* destlimit_running - deliveries of tr under way */
unsigned destlimit_running(const struct destlimit *t, enum transport_id tr);
/* destlimit_hop_running - deliveries to hop under way */
unsigned destlimit_hop_running(struct destlimit *t, const char *hop);

/* destlimit_wait - job waits in the line of its hop (why DL_HOP) or of
 * transport tr (DL_TRANSPORT); 0, or -1 when out of memory */
int destlimit_wait(struct destlimit *t, enum dl_verdict why,
                   enum transport_id tr, const char *hop, void *job);
/* destlimit_unwait_hop - the job that waited longest in hop's line, out
 * of it; NULL when none waits */
void *destlimit_unwait_hop(struct destlimit *t, const char *hop);
/* destlimit_unwait_transport - the same for transport tr's line */
void *destlimit_unwait_transport(struct destlimit *t, enum transport_id tr);

/* destlimit_first_hop / destlimit_first_transport - the job that waited
 * longest in hop's (tr's) line, left there; NULL when none waits */
void *destlimit_first_hop(struct destlimit *t, const char *hop);
void *destlimit_first_transport(struct destlimit *t, enum transport_id tr);

/* destlimit_each_line - fn(arg, tr, hop) for every hop with jobs in its
 * line (tr: the transport of the job last put in it); fn must not
 * change the table */
void destlimit_each_line(struct destlimit *t,
                         void (*fn)(void *arg, enum transport_id tr, const char *hop),
                         void *arg);

/* destlimit_set_dead - hop did not answer: dead until until */
void destlimit_set_dead(struct destlimit *t, const char *hop, long long until);
/* destlimit_dead_until - the time hop was last set dead until (0: never,
 * or forgotten) */
long long destlimit_dead_until(struct destlimit *t, const char *hop);
/* destlimit_prune - forget dead times over by now (entries with nothing
 * else to keep) */
void destlimit_prune(struct destlimit *t, long long now);

#endif
