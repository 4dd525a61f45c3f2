/* conncache - open SMTP client connections kept between deliveries.
 *
 * A delivery that ends with the connection still usable (the message
 * accepted, or refused with a reply) gives it back here instead of
 * saying QUIT; the next delivery to the same server address and port
 * takes it and sends its transaction at once: no TCP handshake, no
 * greeting, no EHLO.  A connection idle for longer than the idle limit
 * is closed with QUIT (waiting at most CONNCACHE_QUIT_MS for the 221) by
 * the cache's own reaper thread, so nothing stays open long after the
 * traffic has stopped, and at most max_idle connections are kept in all.
 * A connection opened more than CONNCACHE_MAX_AGE_MS ago is not kept: no
 * connection lives for ever, so a server that was replaced, or an MX or
 * address that changed, is noticed within that time.
 *
 * A connection is kept under its server's address and port and the TLS
 * policy it was opened with (a short text of the caller's, e.g. the
 * policy, the name checked and the context): it is taken only under the
 * same one, so a connection made in plaintext or with a certificate left
 * unchecked never carries a delivery that asks for more, and none
 * outlives a change of policy.
 *
 * A taken connection may have been closed by the server meanwhile: the
 * caller must be ready to retry its transaction once on a new connection
 * when the first reply is missing (remote.c does, before any message
 * data can have been accepted).
 *
 * conncache_free() says QUIT too, waiting at most CONNCACHE_SHUTDOWN_MS
 * for each.
 *
 * Contract: thread-safe (one mutex); a connection is owned by the cache
 * between conncache_give() and conncache_take(), by the caller otherwise.
 * The reaper is the only thread that blocks on a cached connection.
 */
#ifndef MTA_CONNCACHE_H
#define MTA_CONNCACHE_H

#include "smtp_client.h"

enum {
	CONNCACHE_QUIT_MS = 2000,     /* QUIT of an idle connection */
	CONNCACHE_SHUTDOWN_MS = 200,  /* QUIT of each one at conncache_free */
	CONNCACHE_MAX_AGE_MS = 300 * 1000, /* older connections are not kept */
	CONNCACHE_TLS_MAX = 360       /* a connection key: TLS policy, name,
	                               * CAs, TLSA digest, and the route
	                               * login it used */
};

struct conncache;

/* conncache_new - an empty cache keeping at most max_idle connections,
 * each for at most idle_seconds; NULL when out of memory or the reaper
 * thread cannot start.  max_idle 0: a cache that keeps nothing. */
struct conncache *conncache_new(unsigned max_idle, unsigned idle_seconds);
/* conncache_take - an idle connection to ip:port under TLS policy key
 * tls (as given to conncache_give), now the caller's; NULL when there is
 * none */
struct smtp_client *conncache_take(struct conncache *cc, const char *ip,
                                   unsigned port, const char *tls);
/* conncache_give - keep c, a connected client to ip:port opened under
 * TLS policy key tls, between two transactions; when the cache is full,
 * c is not connected, tls is longer than CONNCACHE_TLS_MAX or c was
 * opened CONNCACHE_MAX_AGE_MS ago or more, c is closed (with QUIT when
 * connected) and freed.  Either way c is no
 * longer the caller's. */
void conncache_give(struct conncache *cc, const char *ip, unsigned port,
                    const char *tls, struct smtp_client *c);
/* conncache_idle - connections kept now */
unsigned conncache_idle(struct conncache *cc);
/* conncache_free - QUIT every kept connection, stop the reaper, free;
 * only when no other thread uses the cache any more */
void conncache_free(struct conncache *cc);

#endif
