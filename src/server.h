/* server - the listening sockets and the connection threads.
 *
 * server_bind() opens every --listen, --submission and --smtps socket
 * (so privileges can be dropped
 * before any client is served); server_start() starts one acceptor
 * thread, which gives each client a detached thread with a small stack:
 * a thread whose client has gone waits CONN_THREAD_IDLE seconds for the
 * next one before it ends, so a busy server does not pay for a new
 * thread (and its stack's page faults) per connection.
 * A client over --max-clients (or over --max-per-ip from one address:
 * by default only clients outside --relay-from have that limit) gets
 * "421" from the acceptor and is closed at once.  server_stop()
 * stops accepting, tells idle sessions to say 421 and close, lets
 * messages in DATA finish, and waits (bounded) for every connection.
 *
 * Thread safety: struct server is shared by the acceptor and connection
 * threads; its connection counts are under count_lock; everything else
 * is written before the threads start.  The config given to server_bind
 * (its listeners) and the queue are borrowed and must outlive the server.
 * Each connection takes the current snapshot (config_get) when it is
 * accepted, is admitted under its limits and keeps it for its session:
 * SIGHUP changes only sessions that start afterwards.
 */
#ifndef MTA_SERVER_H
#define MTA_SERVER_H

#include <stddef.h>

#include "config.h"
#include "queue.h"

struct server;

/* server_bind - open the listening sockets; 0, or -1 with err set */
int server_bind(struct server **s, const struct config *cfg, struct queue *q,
                char *err, size_t errlen);
/* server_start - start accepting; 0, or -1 with err set */
int server_start(struct server *s, char *err, size_t errlen);
/* server_stop - stop and wait (at most grace_seconds) for connections */
void server_stop(struct server *s, unsigned grace_seconds);

#endif
