/* tls - TLS with OpenSSL 3: the server's context (certificates and
 * settings), the client's context (remote delivery and the mail gun:
 * trust anchors), the client's policies, and one TLS object per
 * connection.
 *
 * A context (struct tls_ctx) is built once from its certificate/key
 * pairs and never changed afterwards: TLS 1.2 and 1.3 only, the server's
 * cipher preference, session resumption by tickets, no renegotiation, no
 * compression.  A pair is a PEM certificate file (the certificate first,
 * then its chain) and its PEM private key; several pairs of different key
 * types (ECDSA and RSA) may be given, and the handshake picks the one the
 * client supports (a second pair of the same type replaces the first).
 * It is reference-counted: the configuration snapshot (config.h) holds
 * one reference; a reload builds a new context, and connections that
 * took the old one keep it until they end (OpenSSL's own count keeps the
 * SSL_CTX alive under its SSL objects as well).
 *
 * A connection (struct tls_conn) wraps one SSL object on a connected,
 * non-blocking socket.  Every call makes one attempt: when it would
 * block it fails with EAGAIN and tls_conn_want() says which readiness
 * (POLLIN or POLLOUT) the socket needs first; the stream layer
 * (stream.h) does the waiting.  The peer closing without close_notify
 * reads as the end of the stream, as mail clients often do it.
 *
 * The client's context checks no certificate by itself: a connection
 * that must verify says so (tls_conn_client), with the host name it
 * expects set on its own SSL object (SNI and the name check are per
 * connection, never on the shared context).
 *
 * Thread safety (OpenSSL 3 is thread-safe by itself, no locking
 * callbacks): a context is read-only after tls_server_ctx() or
 * tls_client_ctx() returns and
 * may be shared by every thread (SSL_new and the session cache of a
 * shared SSL_CTX are safe; its setters are never called again); a
 * tls_conn is used by one thread at a time.  OpenSSL's error queue is
 * per thread: each failing call copies its text into the tls_conn before
 * anything else can run on that thread.
 *
 * Writes go through OpenSSL's socket BIO, plain write(2): the process
 * must ignore SIGPIPE (mta-smtpd does), or a peer gone kills it.
 */
#ifndef MTA_TLS_H
#define MTA_TLS_H

#include <stddef.h>
#include <sys/types.h>

struct tls_ctx;
struct tls_conn;

/* What a session's TLS is: for the log and the Received: field */
struct tls_info {
	char version[16];          /* "TLSv1.3" */
	char cipher[64];           /* "TLS_AES_256_GCM_SHA384" */
	int bits;                  /* secret bits the cipher uses */
	int alg_bits;              /* bits of the algorithm */
	int resumed;               /* an abbreviated handshake: a session
	                            * offered again (tls_conn_resume) */
};

/* a client's TLS policy for a next hop (--tls-client, a --route's tls=),
 * weakest first */
enum tls_policy {
	TLS_POLICY_NONE,      /* plaintext: STARTTLS never said */
	TLS_POLICY_MAY,       /* STARTTLS when offered, any certificate; a
	                       * failed handshake: once more in plaintext */
	TLS_POLICY_ENCRYPT,   /* TLS required, any certificate */
	TLS_POLICY_VERIFY,    /* TLS required, a certificate trusted and
	                       * valid for the host's name */
	TLS_POLICY_DANE       /* TLS required, the certificate matching one
	                       * of the host's TLSA records (RFC 7672; set by
	                       * remote delivery only, never by name) */
};

enum { TLS_TLSA_MAX = 16, TLS_TLSA_DATA_MAX = 64 };

/* one usable TLSA record (RFC 6698): usage 2 (DANE-TA) or 3 (DANE-EE),
 * selector 0 (certificate) or 1 (public key), matching type 1 (SHA-256)
 * or 2 (SHA-512) */
struct tls_tlsa {
	unsigned char usage, selector, mtype;
	unsigned char data[TLS_TLSA_DATA_MAX];
	size_t len;
};

/* the TLSA records a DANE connection must match one of, and the
 * next-hop domain: a name a certificate found by DANE-TA(2) may hold
 * besides the MX host's (RFC 7672 3.2.2; "" none) */
struct tls_dane {
	struct tls_tlsa rec[TLS_TLSA_MAX];
	size_t n;
	char nexthop[256];
};

/* tls_dane_digest - a digest (FNV-1a) of d's TLSA records and next-hop
 * domain, in their order: equal for the same records, different (but
 * for a hash collision) when any of them changes; for the keys that must
 * not let a TLS session or a kept connection cross to other records */
unsigned long long tls_dane_digest(const struct tls_dane *d);

/* tls_policy_parse - "none", "may", "encrypt", "verify" ("dane" is not
 * a mode to choose: DNSSEC decides it); 0 or -1 */
int tls_policy_parse(const char *s, enum tls_policy *p);
/* tls_policy_name - the policy's name */
const char *tls_policy_name(enum tls_policy p);

/* tls_library_init - first thing in main(), before OpenSSL is used
 * (libcurl uses it too): OpenSSL is told not to free its global state at
 * exit.  A daemon may exit with threads still finishing (a delivery the
 * scheduler left to end on its own, a connection thread running its
 * thread-local OpenSSL clean-up), and OpenSSL's atexit clean-up would
 * free what they are still using.  0, or -1 */
int tls_library_init(void);

/* tls_server_ctx - a server context from n certificate/key pairs
 * (certs[i] with keys[i]); NULL with a message in err naming the file
 * and what is wrong (missing, unreadable, not PEM, key not matching, key
 * encrypted: never a passphrase prompt) */
struct tls_ctx *tls_server_ctx(char *const *certs, char *const *keys, size_t n,
                               char *err, size_t errlen);
/* tls_client_ctx - the client context (remote delivery and the mail
 * gun): trust anchors from ca_file (PEM; NULL: the system's CAs), but no
 * certificate checked unless a connection asks (tls_conn_client); its
 * own cache of the sessions servers give (tls_sess.h), used by the
 * connections that ask (tls_conn_resume).  NULL with err set (the file missing or no PEM) */
struct tls_ctx *tls_client_ctx(const char *ca_file, char *err, size_t errlen);
/* tls_load_ctx - a client context for the mail gun: no trust anchors,
 * no session cache, and no certificate chain built or checked at all;
 * never for delivery.  NULL with err set */
struct tls_ctx *tls_load_ctx(char *err, size_t errlen);
/* tls_ctx_hold - one more reference; returns ctx */
struct tls_ctx *tls_ctx_hold(struct tls_ctx *ctx);
/* tls_ctx_id - a number no other client context of the process has (0
 * for NULL): what a kept connection remembers of the trust anchors it
 * was checked against */
unsigned long long tls_ctx_id(const struct tls_ctx *ctx);
/* tls_ctx_put - give a reference back; NULL is ignored */
void tls_ctx_put(struct tls_ctx *ctx);

/* tls_conn_new - a TLS object for the connected socket fd (borrowed: the
 * caller closes it after tls_conn_free) as server (1) or client (0);
 * NULL with errno (ENOMEM) */
struct tls_conn *tls_conn_new(struct tls_ctx *ctx, int fd, int server);
/* tls_conn_client - a client's TLS object for fd, to host (a name or an
 * IP address text; NULL or "": none): SNI names it (not an address),
 * and the certificate is checked against ctx's trust anchors and host;
 * verify 1: the handshake fails when that check fails, 0: the result
 * is only kept (tls_conn_verified).  NULL with errno (ENOMEM) */
struct tls_conn *tls_conn_client(struct tls_ctx *ctx, int fd, const char *host,
                                 int verify);
/* tls_conn_dane - make t (a tls_conn_client's, before its handshake)
 * a DANE connection (RFC 7672): host (the MX host name) and d->nexthop
 * are the reference identifiers for DANE-TA(2), DANE-EE(3) records
 * match without a name
 * check, and the handshake fails unless the certificate matches one of
 * d's records (call tls_conn_client with verify 1); 0, or -1 with errno
 * (ENOMEM, EINVAL: OpenSSL took no record) */
int tls_conn_dane(struct tls_conn *t, const char *host, const struct tls_dane *d);
/* tls_conn_resume - before a client's handshake: offer the session
 * kept under key (tls_sess.h: key names all that must match: address,
 * port, policy, the name checked, TLSA records), and keep the sessions
 * the server gives under key; a failed handshake drops key's session.
 * 1 offered, 0 none kept, -1 with errno (ENOMEM; EINVAL: a server's
 * context, a key already set or too long) */
int tls_conn_resume(struct tls_conn *t, const char *key);
/* tls_conn_verified - after the handshake: 1 when the server's
 * certificate is trusted and valid for the host given to
 * tls_conn_client, else 0; why gets "ok" or the reason */
int tls_conn_verified(const struct tls_conn *t, char *why, size_t len);
/* tls_conn_free - a quiet close_notify (one non-blocking attempt), then
 * free; NULL is ignored */
void tls_conn_free(struct tls_conn *t);
/* tls_conn_handshake - one step: 0 done, -1 with errno (EAGAIN: wait for
 * tls_conn_want(); EPROTO: failed, tls_conn_error() says why) */
int tls_conn_handshake(struct tls_conn *t);
/* tls_conn_read - at most n decrypted bytes: >0, 0 at the end, -1 with
 * errno (EAGAIN, EPROTO, or the socket's error) */
ssize_t tls_conn_read(struct tls_conn *t, void *buf, size_t n);
/* tls_conn_write - at most n bytes (partial writes allowed; after EAGAIN
 * the same bytes must be offered again, from any address) */
ssize_t tls_conn_write(struct tls_conn *t, const void *buf, size_t n);
/* tls_conn_want - after EAGAIN: POLLIN or POLLOUT */
short tls_conn_want(const struct tls_conn *t);
/* tls_conn_pending - decrypted bytes held inside, readable without the
 * socket becoming readable */
size_t tls_conn_pending(const struct tls_conn *t);
/* tls_conn_info - the version and cipher agreed (after the handshake) */
void tls_conn_info(const struct tls_conn *t, struct tls_info *info);
/* tls_conn_error - the text of the last failure ("" if none) */
const char *tls_conn_error(const struct tls_conn *t);

#endif
