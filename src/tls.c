/* tls.c - OpenSSL contexts and connections; see tls.h */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls.h"

struct tls_ctx {
	SSL_CTX *ssl_ctx;
	atomic_uint refs;
};

struct tls_conn {
	SSL *ssl;
	short want;                /* POLLIN/POLLOUT after EAGAIN */
	char error[160];           /* the last failure's text */
};

/* TLS 1.2 suites for the server's preference: forward secrecy and AEAD
 * first; TLS 1.3 keeps OpenSSL's own list */
static const char cipher_list[] =
	"ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:ECDHE+AES:"
	"!aNULL:!eNULL:!MD5:!RC4:!3DES:!DSS:!PSK:!SRP";

/* ssl_error_text - OpenSSL's oldest queued error as text into buf (and
 * the queue emptied: it is per thread and must not leak into the next
 * call); fallback when the queue is empty */
static void ssl_error_text(char *buf, size_t len, const char *fallback)
{
	unsigned long e = ERR_get_error();

	if (e != 0)
		ERR_error_string_n(e, buf, len);
	else
		snprintf(buf, len, "%s", fallback);
	ERR_clear_error();
}

/* readable - can the file be opened for reading?  0, or -1 with err
 * "FILE: reason" (OpenSSL's own text for a missing file is obscure) */
static int readable(const char *what, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");

	if (f == NULL) {
		snprintf(err, errlen, "%s %s: %s", what, path, strerror(errno));
		return -1;
	}
	fclose(f);
	return 0;
}

/* new_ssl_ctx - an SSL_CTX with what both roles share: TLS 1.2 and 1.3,
 * our TLS 1.2 suites, no renegotiation or compression, the peer leaving
 * without close_notify read as the end; NULL with err set */
static SSL_CTX *new_ssl_ctx(const SSL_METHOD *method, char *err, size_t errlen)
{
	SSL_CTX *c = SSL_CTX_new(method);
	char why[160];

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION);
	SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION);
	SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	                    SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* partial writes, and a retried write may come from another address
	 * (the caller's buffer moves as it is consumed) */
	SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE |
	                 SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_set_cipher_list(c, cipher_list) != 1) {
		ssl_error_text(why, sizeof why, "no cipher");
		snprintf(err, errlen, "cipher list: %s", why);
		SSL_CTX_free(c);
		return NULL;
	}
	return c;
}

/* tls_client_ctx - see tls.h */
struct tls_ctx *tls_client_ctx(char *err, size_t errlen)
{
	struct tls_ctx *ctx = calloc(1, sizeof *ctx);

	ERR_clear_error();
	if (ctx == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((ctx->ssl_ctx = new_ssl_ctx(TLS_client_method(), err, errlen)) == NULL) {
		free(ctx);
		ERR_clear_error();
		return NULL;
	}
	/* no verification: a load generator talks to the server it is
	 * told to, whatever its certificate; no session cache: each
	 * connection a full handshake */
	SSL_CTX_set_verify(ctx->ssl_ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(ctx->ssl_ctx, SSL_SESS_CACHE_OFF);
	atomic_init(&ctx->refs, 1);
	return ctx;
}

/* tls_server_ctx - see tls.h */
struct tls_ctx *tls_server_ctx(char *const *certs, char *const *keys, size_t n,
                               char *err, size_t errlen)
{
	static const unsigned char sid_ctx[] = "mta-smtpd";
	struct tls_ctx *ctx = NULL;
	SSL_CTX *c = NULL;
	char why[160];
	size_t i;

	ERR_clear_error();
	if (n == 0) {
		snprintf(err, errlen, "no certificate");
		return NULL;
	}
	if ((ctx = calloc(1, sizeof *ctx)) == NULL ||
	    (c = new_ssl_ctx(TLS_server_method(), err, errlen)) == NULL)
		goto fail;
	SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* resumption: tickets (on by default) and the internal cache of
	 * TLS 1.2 session IDs, both keyed to this context */
	SSL_CTX_set_session_id_context(c, sid_ctx, sizeof sid_ctx - 1);
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
	for (i = 0; i < n; i++) {
		if (readable("--tls-cert", certs[i], err, errlen) < 0 ||
		    readable("--tls-key", keys[i], err, errlen) < 0)
			goto fail;
		if (SSL_CTX_use_certificate_chain_file(c, certs[i]) != 1) {
			ssl_error_text(why, sizeof why, "no certificate");
			snprintf(err, errlen, "--tls-cert %s: %s", certs[i], why);
			goto fail;
		}
		if (SSL_CTX_use_PrivateKey_file(c, keys[i], SSL_FILETYPE_PEM) != 1) {
			ssl_error_text(why, sizeof why, "no key");
			snprintf(err, errlen, "--tls-key %s: %s", keys[i], why);
			goto fail;
		}
		/* the key just loaded against its certificate */
		if (SSL_CTX_check_private_key(c) != 1) {
			ssl_error_text(why, sizeof why, "key does not match");
			snprintf(err, errlen, "--tls-key %s does not match --tls-cert %s: %s",
			         keys[i], certs[i], why);
			goto fail;
		}
	}
	ctx->ssl_ctx = c;
	atomic_init(&ctx->refs, 1);
	return ctx;
fail:
	SSL_CTX_free(c);
	free(ctx);
	ERR_clear_error();
	return NULL;
}

/* tls_ctx_hold - another reference */
struct tls_ctx *tls_ctx_hold(struct tls_ctx *ctx)
{
	atomic_fetch_add(&ctx->refs, 1);
	return ctx;
}

/* tls_ctx_put - the last reference frees the context */
void tls_ctx_put(struct tls_ctx *ctx)
{
	if (ctx != NULL && atomic_fetch_sub(&ctx->refs, 1) == 1) {
		SSL_CTX_free(ctx->ssl_ctx);
		free(ctx);
	}
}

/* tls_conn_new - an SSL object on fd */
struct tls_conn *tls_conn_new(struct tls_ctx *ctx, int fd, int server)
{
	struct tls_conn *t = calloc(1, sizeof *t);

	if (t == NULL)
		return NULL;
	ERR_clear_error();
	if ((t->ssl = SSL_new(ctx->ssl_ctx)) == NULL || SSL_set_fd(t->ssl, fd) != 1) {
		SSL_free(t->ssl);
		free(t);
		ERR_clear_error();
		errno = ENOMEM;
		return NULL;
	}
	if (server)
		SSL_set_accept_state(t->ssl);
	else
		SSL_set_connect_state(t->ssl);
	return t;
}

/* tls_conn_free - close_notify if it goes at once, then free */
void tls_conn_free(struct tls_conn *t)
{
	if (t == NULL)
		return;
	/* only after a finished handshake; a failed one has nothing to
	 * notify, and SSL_shutdown would only queue errors */
	if (SSL_is_init_finished(t->ssl))
		(void)SSL_shutdown(t->ssl);
	ERR_clear_error();
	SSL_free(t->ssl);
	free(t);
}

/* result - map an SSL call's return r to ours: the value, or -1 with
 * errno and t->want / t->error set */
static int result(struct tls_conn *t, int r, int *eof)
{
	int saved = errno;

	t->want = 0;
	switch (SSL_get_error(t->ssl, r)) {
	case SSL_ERROR_NONE:
		ERR_clear_error();
		return r;
	case SSL_ERROR_WANT_READ:
		t->want = POLLIN;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		t->want = POLLOUT;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		*eof = 1;
		return 0;
	case SSL_ERROR_SYSCALL:
		/* the socket's own error; none at all: the peer left */
		ssl_error_text(t->error, sizeof t->error,
		               saved ? strerror(saved) : "connection closed");
		if (saved == 0) {
			*eof = 1;
			return 0;
		}
		errno = saved;
		return -1;
	default:
		ssl_error_text(t->error, sizeof t->error, "TLS protocol error");
		errno = EPROTO;
		return -1;
	}
}

/* tls_conn_handshake - one step of it */
int tls_conn_handshake(struct tls_conn *t)
{
	int eof = 0, r;

	ERR_clear_error();
	errno = 0;
	r = SSL_do_handshake(t->ssl);
	if (r == 1) {
		t->want = 0;
		return 0;
	}
	if (result(t, r, &eof) < 0)
		return -1;
	/* the peer closed in the middle of it */
	if (t->error[0] == '\0')
		snprintf(t->error, sizeof t->error, "connection closed in the handshake");
	errno = EPROTO;
	return -1;
}

/* tls_conn_read - one SSL_read */
ssize_t tls_conn_read(struct tls_conn *t, void *buf, size_t n)
{
	int eof = 0, r;

	if (n > INT32_MAX)
		n = INT32_MAX;
	ERR_clear_error();
	errno = 0;
	r = SSL_read(t->ssl, buf, (int)n);
	if (r > 0) {
		t->want = 0;
		return r;
	}
	r = result(t, r, &eof);
	return eof ? 0 : (r < 0 ? -1 : 0);
}

/* tls_conn_write - one SSL_write */
ssize_t tls_conn_write(struct tls_conn *t, const void *buf, size_t n)
{
	int eof = 0, r;

	if (n == 0)
		return 0;
	if (n > INT32_MAX)
		n = INT32_MAX;
	ERR_clear_error();
	errno = 0;
	r = SSL_write(t->ssl, buf, (int)n);
	if (r > 0) {
		t->want = 0;
		return r;
	}
	r = result(t, r, &eof);
	if (r < 0)
		return -1;
	errno = EPIPE;           /* a write that ends the stream: peer gone */
	return -1;
}

/* tls_conn_want - what the socket must become first */
short tls_conn_want(const struct tls_conn *t) { return t->want; }

/* tls_conn_pending - bytes decrypted but not read yet */
size_t tls_conn_pending(const struct tls_conn *t)
{
	int n = SSL_pending(t->ssl);

	return n > 0 ? (size_t)n : 0;
}

/* tls_conn_info - version and cipher */
void tls_conn_info(const struct tls_conn *t, struct tls_info *info)
{
	const SSL_CIPHER *c = SSL_get_current_cipher(t->ssl);

	memset(info, 0, sizeof *info);
	snprintf(info->version, sizeof info->version, "%s", SSL_get_version(t->ssl));
	snprintf(info->cipher, sizeof info->cipher, "%s",
	         c ? SSL_CIPHER_get_name(c) : "NONE");
	info->bits = c ? SSL_CIPHER_get_bits(c, &info->alg_bits) : 0;
}

/* tls_conn_error - the last failure's text */
const char *tls_conn_error(const struct tls_conn *t) { return t->error; }
