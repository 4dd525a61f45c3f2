/* dovecot_auth - check a login and password with a Dovecot auth server,
 * over its auth-client unix socket (the Dovecot authentication protocol,
 * client side, major version 1).
 *
 * One call, one connection: connect to socket_path, exchange the
 * handshakes (ours: VERSION, CPID; the server's: VERSION, its MECH lines,
 * DONE; SPID, CUID, COOKIE and anything unknown are skipped), check that
 * the server offers PLAIN, send one request
 *   AUTH <id> PLAIN service=smtp [secured] [rip=IP] resp=<base64>
 * and read its answer: OK (accepted; but an OK flagged nologin, the
 * password right and the login not allowed, is refused), FAIL (refused; but a FAIL flagged
 * temp or code=temp_fail is a temporary failure of the server: its
 * passdb could not be asked), CONT (the server wants more: PLAIN never
 * does, so a protocol error).  The whole exchange has one deadline,
 * DOVECOT_AUTH_TIMEOUT_MS from the call (Dovecot delays its FAIL replies
 * on purpose, auth_failure_delay and its per-IP penalty, so it is long).
 *
 * Returns 1 accepted, 0 refused (bad credentials), -1 a temporary
 * failure (no socket, connection refused, the deadline, a malformed or
 * unexpected answer, a major version other than 1, no PLAIN, a temporary
 * FAIL): never taken for bad credentials.  err (errlen bytes, may be
 * NULL) gets a line for the log on 0 and -1 (the server's reason when it
 * gave one); it never holds the password.  An empty login, or a login
 * or password over DOVECOT_AUTH_FIELD_MAX octets: 0 (refused, no
 * connection); a client_ip with a character outside an address
 * literal's (hex digits, '.', ':') is not sent.
 *
 * Contract: thread-safe: each call has its own connection (socket
 * SOCK_CLOEXEC, closed before the return) and buffers on the stack
 * (about 20 KB); many threads may call it at once.  The one shared
 * thing is an atomic counter of calls (a CPID of its own for each
 * connection: dovecot_auth.c).  A blocking call of
 * at most the deadline; no signals (MSG_NOSIGNAL).  The password is
 * wiped from the stack before the return.
 */
#ifndef MTA_DOVECOT_AUTH_H
#define MTA_DOVECOT_AUTH_H

#include <stddef.h>

enum {
	DOVECOT_AUTH_TIMEOUT_MS = 20000,  /* the whole exchange */
	DOVECOT_AUTH_FIELD_MAX = 1024,    /* a login, a password */
	DOVECOT_AUTH_LINE_MAX = 16384     /* a line from the server */
};

/* dovecot_auth_check - is password login's?  client_ip: the SMTP
 * client's address for Dovecot's log and penalties (NULL: none); secured:
 * the SMTP session is encrypted.  1 yes, 0 no, -1 temporary failure */
int dovecot_auth_check(const char *socket_path, const char *login,
                       const char *password, const char *client_ip,
                       int secured, char *err, size_t errlen);
/* dovecot_auth_verify - dovecot_auth_check, and on 1 the user name
 * Dovecot settled on into user (userlen octets): its OK's user= field
 * (auth_username_format, a passdb's user field may make "alice" of
 * "Alice@any.example"), else the login as given.  That is the name the
 * password was checked for, so the one to bind senders to.  A user=
 * with a control character, or too long for user: 0, refused. */
int dovecot_auth_verify(const char *socket_path, const char *login,
                        const char *password, const char *client_ip,
                        int secured, char *user, size_t userlen,
                        char *err, size_t errlen);

#endif
