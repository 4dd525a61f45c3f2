/* conn - one client connection: its thread's I/O loop, and the glue
 * between the SMTP session (session.h) and the queue (queue.h).
 *
 * Contract: conn_run() owns the socket and the conn struct and frees both
 * (it is the body of the connection's detached thread).  The server
 * pointer and what it holds are borrowed.  Logs "connect", each message
 * ("queued", or "refused" with the reply), every 4xx/5xx reply sent, and
 * "disconnect", and the TLS of the session ("tls": version and cipher,
 * or "tls-error": why the handshake failed; that connection ends).
 * TLS starts after STARTTLS, or before the greeting on an --smtps
 * listener (implicit TLS), with the snapshot's server context; the
 * handshake has --timeout.  The clock is here, not in the session: --timeout,
 * each message's --data-timeout (from its own DATA), --session-timeout,
 * and the pauses the session asks for after errors (session_pause),
 * slept in this connection's thread alone.
 * AUTH: the credentials go to authsrc.h (its log lines "auth", and
 * "auth-failed" / "auth-block" for fail2ban: mta-smtpd(8), LOG); an
 * authenticated client may relay, and its messages are logged with
 * login=.  A client address authguard.h blocks gets 454 at AUTH.
 */
#ifndef MTA_CONN_H
#define MTA_CONN_H

#include <sys/socket.h>

#include "config.h"
#include "queue.h"
#include "session.h"

/* What a connection borrows from the server. */
struct conn_env {
	const struct config *cfg;
	const struct session_config *scfg;
	struct queue *q;
	int stop_fd;          /* readable once the server is stopping */
};

struct conn {
	const struct conn_env *env;
	int fd;
	unsigned long id;     /* connection number, for the log tag */
	int implicit_tls;     /* accepted on an --smtps listener */
	int submission;       /* submission rules: --submission, and --smtps
	                       * when there is a credential source */
	struct sockaddr_storage peer;
	void (*on_exit)(struct conn *c);   /* called last, before free */
	void *owner;          /* for on_exit */
	struct conn *next;    /* while it waits for a thread (server.c) */
};

/* conn_run - serve the connection until it ends; frees c, closes c->fd */
void conn_run(struct conn *c);

#endif
