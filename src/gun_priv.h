/* gun_priv - what gun.c shares with its event loops in gun_loop.c.
 *
 * Not for other modules: the interface is gun.h.  struct gun is the state
 * of one run, shared by every loop thread: the configuration, the
 * server's addresses and the messages are read-only while the loops run;
 * the message index and the counters are atomics; each latency slot is
 * written only by the thread that took that message; `running` and the
 * first error texts sit behind mu.
 */
#ifndef MTA_GUN_PRIV_H
#define MTA_GUN_PRIV_H

#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "gun.h"
#include "gun_dialog.h"

struct gun {
	const struct gun_config *cfg;
	struct addrinfo *addrs;        /* the server's, resolved once */
	struct gun_feed feed;          /* ctx: this struct gun */
	unsigned long long total;
	atomic_ullong next;            /* the next message index to take */
	atomic_ullong sent, refused, failed, connects, tls_connects;
	atomic_int stop;               /* 1: take no more messages; 2: and
	                                * give up those under way */
	uint32_t *lat_us;              /* [total]: one writer per slot */
	unsigned long long start_us;
	pthread_mutex_t mu;            /* guards running, errors */
	pthread_cond_t cv;             /* signalled when running drops */
	unsigned running;
	struct gun_stats errors;       /* only the have_/first_ fields */
};

/* what one loop thread runs: sessions sessions of g */
struct gun_loop_job {
	struct gun *g;
	unsigned sessions;
	unsigned spin_us;              /* busy polling before a sleep; 0: none */
};

/* gun_loop_main - a thread: run job's sessions until all are over, then
 * drop g->running (and signal g->cv) */
void *gun_loop_main(void *job);

/* gun_more_to_take - may a session still get a message?  Inline, so
 * that the loops (gun_loop.c) need nothing of gun.c, which starts them */
static inline int gun_more_to_take(struct gun *g)
{
	return !atomic_load(&g->stop) && atomic_load(&g->next) < g->total;
}

#endif
