/* tls_priv.h - what tls.c (connections) and tls_ctx.c (contexts) share:
 * the two objects' insides and OpenSSL's error text.  Nothing else
 * includes it. */
#ifndef TLS_PRIV_H
#define TLS_PRIV_H

#include <stdatomic.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "tls.h"

struct tls_ctx {
	SSL_CTX *ssl_ctx;
	atomic_uint refs;
	unsigned long long id;     /* tls_ctx_id */
	struct tls_sess_cache *sessions; /* a client's; NULL for a server */
};


struct tls_conn {
	SSL *ssl;
	short want;                /* POLLIN/POLLOUT after EAGAIN */
	char error[160];           /* the last failure's text */
	int fatal;                 /* SSL_ERROR_SYSCALL or _SSL: no SSL_shutdown */
	struct tls_ctx *ctx;       /* borrowed; held while sess_key is set */
	char *sess_key;            /* tls_conn_resume's key, or NULL */
};

/* tls_ssl_error_text - OpenSSL's oldest queued error as text into buf
 * (and the queue emptied: it is per thread and must not leak into the
 * next call); fallback when the queue is empty */
void tls_ssl_error_text(char *buf, size_t len, const char *fallback);

#endif
