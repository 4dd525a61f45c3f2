/* tls_sess - the client's TLS session cache: the sessions (TLS 1.3
 * tickets, TLS 1.2 session ids) servers gave us, each under the key of
 * what it was made for, so a later connection with the very same key can
 * offer it and shorten its handshake.
 *
 * The key is the caller's text and must hold everything a session must
 * not cross: the address and port, the policy, the name the certificate
 * was checked against, the TLSA records (tls.h tls_conn_resume); the
 * trust anchors are the context's, one cache per client context.  A key
 * holds at most one session, the newest; a TLS 1.3 session is taken out
 * when offered (a ticket is meant for one use, RFC 8446 C.4), a TLS 1.2
 * one stays until it expires or is dropped.
 *
 * Bounded: at most TLS_SESS_MAX keys (the oldest session goes for a new
 * one), each session kept no longer than TLS_SESS_LIFETIME seconds nor
 * beyond the server's own lifetime for it.
 *
 * Thread safety: one mutex per cache; the sessions handed out carry
 * their own reference (SSL_SESSION_up_ref), so a session dropped from
 * the cache stays valid in the connection that took it.
 */
#ifndef MTA_TLS_SESS_H
#define MTA_TLS_SESS_H

#include <openssl/ssl.h>

enum { TLS_SESS_MAX = 256, TLS_SESS_LIFETIME = 3600, TLS_SESS_KEY_MAX = 400 };

struct tls_sess_cache;

/* tls_sess_cache_new - an empty cache; NULL out of memory */
struct tls_sess_cache *tls_sess_cache_new(void);
/* tls_sess_cache_free - every session's reference given back; NULL ok */
void tls_sess_cache_free(struct tls_sess_cache *c);
/* tls_sess_put - keep s under key, taking over the caller's reference
 * (always: a session not resumable, or a key too long, is freed) */
void tls_sess_put(struct tls_sess_cache *c, const char *key, SSL_SESSION *s);
/* tls_sess_get - key's session with a reference for the caller (who
 * gives it back with SSL_SESSION_free), or NULL: none, or expired */
SSL_SESSION *tls_sess_get(struct tls_sess_cache *c, const char *key);
/* tls_sess_drop - forget key's session (a failed handshake) */
void tls_sess_drop(struct tls_sess_cache *c, const char *key);

#endif
