/* destlimit - how many deliveries run at once to each destination, so
 * that one destination (a slow domain, a locked mailbox) cannot take every
 * delivery thread: --max-per-dest per domain; deliver.h sets the share of
 * a local mailbox, whose key ("local:NAME") no domain can equal.
 *
 * Contract: one table shared by every delivery thread and the scheduler;
 * every function is thread-safe (one mutex inside).  Keys are compared
 * without case and copied in.
 */
#ifndef MTA_DESTLIMIT_H
#define MTA_DESTLIMIT_H

struct destlimit;

/* destlimit_new - a table allowing `limit` deliveries per domain */
struct destlimit *destlimit_new(unsigned limit);
/* destlimit_free - the table (no delivery may still hold a slot) */
void destlimit_free(struct destlimit *t);
/* destlimit_acquire - take a slot for domain: 0, or -1 when all are taken
 * (or out of memory: then the delivery waits too, which is safe) */
int destlimit_acquire(struct destlimit *t, const char *domain);
/* destlimit_acquire_upto - take a slot for key when fewer than limit are
 * taken (instead of the table's limit): 0, or -1 as above */
int destlimit_acquire_upto(struct destlimit *t, const char *key,
                           unsigned limit);
/* destlimit_release - give the slot back */
void destlimit_release(struct destlimit *t, const char *domain);
/* destlimit_active - slots taken for domain now */
unsigned destlimit_active(struct destlimit *t, const char *domain);

#endif
