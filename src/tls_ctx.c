/* tls_ctx.c - the OpenSSL contexts: client, load (the gun's) and
 * server, and their references; see tls.h */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls.h"
#include "tls_cas.h"
#include "tls_priv.h"
#include "tls_sess.h"

/* the ids of the contexts made so far: an atomic counter, the only
 * mutable file-scope state here */
static atomic_ullong ctx_ids;

/* TLS 1.2 suites for the server's preference: forward secrecy and AEAD
 * first; TLS 1.3 keeps OpenSSL's own list */
static const char cipher_list[] =
	"ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:ECDHE+AES:"
	"!aNULL:!eNULL:!MD5:!RC4:!3DES:!DSS:!PSK:!SRP";

/* tls_library_init - see tls.h */
int tls_library_init(void)
{
	return OPENSSL_init_ssl(OPENSSL_INIT_NO_ATEXIT, NULL) == 1 ? 0 : -1;
}

/* tls_ssl_error_text - see tls_priv.h */
void tls_ssl_error_text(char *buf, size_t len, const char *fallback)
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
		tls_ssl_error_text(why, sizeof why, "no cipher");
		snprintf(err, errlen, "cipher list: %s", why);
		SSL_CTX_free(c);
		return NULL;
	}
	return c;
}

/* new_session - OpenSSL's word that a server gave a session (in the
 * handshake under TLS 1.2; a TLS 1.3 ticket may come with any later
 * read): kept under the connection's key when it has one.  1: the
 * reference is ours now */
static int new_session(SSL *ssl, SSL_SESSION *s)
{
	struct tls_conn *t = SSL_get_app_data(ssl);

	if (t == NULL || t->sess_key == NULL)
		return 0;
	tls_sess_put(t->ctx->sessions, t->sess_key, s);
	return 1;
}

/* client_ctx_new - what every client context starts as: one reference,
 * an id of its own, new_ssl_ctx's settings; NULL with err set */
static struct tls_ctx *client_ctx_new(char *err, size_t errlen)
{
	struct tls_ctx *ctx = calloc(1, sizeof *ctx);

	ERR_clear_error();
	if (ctx == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((ctx->ssl_ctx = new_ssl_ctx(TLS_client_method(), err, errlen)) == NULL) {
		free(ctx);
		return NULL;
	}
	atomic_init(&ctx->refs, 1);
	ctx->id = atomic_fetch_add(&ctx_ids, 1) + 1;
	return ctx;
}

/* tls_client_ctx - see tls.h */
struct tls_ctx *tls_client_ctx(const char *ca_file, char *err, size_t errlen)
{
	struct tls_ctx *ctx = client_ctx_new(err, errlen);
	char why[160];

	if (ctx == NULL)
		return NULL;
	/* the trust anchors for the connections that verify (tls_conn_client);
	 * the context itself checks nothing: a mail gun talks to the server
	 * it is told to, and opportunistic TLS takes any certificate */
	if (ca_file != NULL) {
		if (readable("--tls-ca", ca_file, err, errlen) < 0)
			goto fail;
		if (SSL_CTX_load_verify_locations(ctx->ssl_ctx, ca_file, NULL) != 1) {
			tls_ssl_error_text(why, sizeof why, "no certificate");
			snprintf(err, errlen, "--tls-ca %s: %s", ca_file, why);
			goto fail;
		}
	} else {
		tls_system_cas(ctx->ssl_ctx);
	}
	SSL_CTX_set_verify(ctx->ssl_ctx, SSL_VERIFY_NONE, NULL);
	/* DANE's digests (SHA-256, SHA-512); only a connection that
	 * tls_conn_dane() makes a DANE one matches TLSA records */
	if (SSL_CTX_dane_enable(ctx->ssl_ctx) <= 0) {
		tls_ssl_error_text(why, sizeof why, "failed");
		snprintf(err, errlen, "DANE set-up: %s", why);
		goto fail;
	}
	/* sessions kept by us, not OpenSSL (whose cache is keyed by the
	 * session id alone): new_session() files each under its
	 * connection's key, tls_conn_resume() offers it again */
	if ((ctx->sessions = tls_sess_cache_new()) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	SSL_CTX_set_session_cache_mode(ctx->ssl_ctx, SSL_SESS_CACHE_CLIENT |
	                               SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx->ssl_ctx, new_session);
	return ctx;
fail:
	SSL_CTX_free(ctx->ssl_ctx);
	tls_sess_cache_free(ctx->sessions);
	free(ctx);
	ERR_clear_error();
	return NULL;
}

/* check_nothing - a certificate "verification" that does no work: a
 * load generator trusts whatever server it is aimed at, and OpenSSL
 * otherwise builds and checks the chain on every handshake even when
 * told to verify nothing (a cost the server under test would share the
 * CPUs with) */
static int check_nothing(X509_STORE_CTX *store, void *arg)
{
	(void)store;
	(void)arg;
	return 1;
}

/* tls_load_ctx - see tls.h */
struct tls_ctx *tls_load_ctx(char *err, size_t errlen)
{
	struct tls_ctx *ctx = client_ctx_new(err, errlen);

	if (ctx == NULL)
		return NULL;
	SSL_CTX_set_verify(ctx->ssl_ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_cert_verify_callback(ctx->ssl_ctx, check_nothing, NULL);
	SSL_CTX_set_session_cache_mode(ctx->ssl_ctx, SSL_SESS_CACHE_OFF);
	return ctx;
}

/* no_passphrase - OpenSSL's passphrase callback: a daemon has no one to
 * ask (the default would prompt on the terminal and hang the start-up);
 * notes that a key wanted one, and gives none */
static int no_passphrase(char *buf, int size, int rwflag, void *asked)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	if (asked != NULL)
		*(int *)asked = 1;
	return 0;
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
	int asked = 0;

	ERR_clear_error();
	if (n == 0) {
		snprintf(err, errlen, "no certificate");
		return NULL;
	}
	if ((ctx = calloc(1, sizeof *ctx)) == NULL ||
	    (c = new_ssl_ctx(TLS_server_method(), err, errlen)) == NULL)
		goto fail;
	SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* the DHE suites of cipher_list need DH parameters: OpenSSL's,
	 * sized to the certificate's key */
	SSL_CTX_set_dh_auto(c, 1);
	/* resumption: tickets (on by default) and the internal cache of
	 * TLS 1.2 session IDs, both keyed to this context */
	SSL_CTX_set_session_id_context(c, sid_ctx, sizeof sid_ctx - 1);
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_SERVER);
	/* one TLS 1.3 ticket per full handshake, not OpenSSL's two: a mail
	 * client keeps one session per destination, and each ticket costs
	 * both ends an encryption, a record and a copy of the session */
	SSL_CTX_set_num_tickets(c, 1);
	SSL_CTX_set_default_passwd_cb(c, no_passphrase);
	SSL_CTX_set_default_passwd_cb_userdata(c, &asked);
	for (i = 0; i < n; i++) {
		if (readable("--tls-cert", certs[i], err, errlen) < 0 ||
		    readable("--tls-key", keys[i], err, errlen) < 0)
			goto fail;
		if (SSL_CTX_use_certificate_chain_file(c, certs[i]) != 1) {
			tls_ssl_error_text(why, sizeof why, "no certificate");
			snprintf(err, errlen, "--tls-cert %s: %s", certs[i], why);
			goto fail;
		}
		asked = 0;
		if (SSL_CTX_use_PrivateKey_file(c, keys[i], SSL_FILETYPE_PEM) != 1) {
			if (asked) {
				snprintf(err, errlen, "--tls-key %s: encrypted keys are not "
				         "supported", keys[i]);
				goto fail;
			}
			tls_ssl_error_text(why, sizeof why, "no key");
			snprintf(err, errlen, "--tls-key %s: %s", keys[i], why);
			goto fail;
		}
		/* the key just loaded against its certificate */
		if (SSL_CTX_check_private_key(c) != 1) {
			tls_ssl_error_text(why, sizeof why, "key does not match");
			snprintf(err, errlen, "--tls-key %s does not match --tls-cert %s: %s",
			         keys[i], certs[i], why);
			goto fail;
		}
	}
	/* asked lives on this stack: the context must not keep it */
	SSL_CTX_set_default_passwd_cb_userdata(c, NULL);
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

/* tls_ctx_id - which context */
unsigned long long tls_ctx_id(const struct tls_ctx *ctx)
{
	return ctx ? ctx->id : 0;
}

/* tls_ctx_put - the last reference frees the context */
void tls_ctx_put(struct tls_ctx *ctx)
{
	if (ctx != NULL && atomic_fetch_sub(&ctx->refs, 1) == 1) {
		SSL_CTX_free(ctx->ssl_ctx);
		tls_sess_cache_free(ctx->sessions);
		free(ctx);
	}
}
