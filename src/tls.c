/* tls.c - OpenSSL contexts and connections; see tls.h */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <openssl/ssl.h>

#include "tls.h"
#include "tls_cas.h"
#include "tls_sess.h"

struct tls_ctx {
	SSL_CTX *ssl_ctx;
	atomic_uint refs;
	unsigned long long id;     /* tls_ctx_id */
	struct tls_sess_cache *sessions; /* a client's; NULL for a server */
};

/* the ids of the contexts made so far: an atomic counter, the only
 * mutable file-scope state here */
static atomic_ullong ctx_ids;

struct tls_conn {
	SSL *ssl;
	short want;                /* POLLIN/POLLOUT after EAGAIN */
	char error[160];           /* the last failure's text */
	int fatal;                 /* SSL_ERROR_SYSCALL or _SSL: no SSL_shutdown */
	struct tls_ctx *ctx;       /* borrowed; held while sess_key is set */
	char *sess_key;            /* tls_conn_resume's key, or NULL */
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

static const char *const policy_names[] = { "none", "may", "encrypt", "verify",
                                            "dane" };

/* tls_policy_parse - a policy by name */
int tls_policy_parse(const char *s, enum tls_policy *p)
{
	size_t i;

	for (i = 0; i <= TLS_POLICY_VERIFY; i++)   /* the modes one may choose */
		if (strcmp(s, policy_names[i]) == 0) {
			*p = (enum tls_policy)i;
			return 0;
		}
	return -1;
}

/* tls_policy_name - its name */
const char *tls_policy_name(enum tls_policy p)
{
	return (unsigned)p < sizeof policy_names / sizeof policy_names[0] ?
	       policy_names[p] : "?";
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

/* tls_client_ctx - see tls.h */
struct tls_ctx *tls_client_ctx(const char *ca_file, char *err, size_t errlen)
{
	struct tls_ctx *ctx = calloc(1, sizeof *ctx);
	char why[160];

	ERR_clear_error();
	if (ctx == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if ((ctx->ssl_ctx = new_ssl_ctx(TLS_client_method(), err, errlen)) == NULL)
		goto fail;
	/* the trust anchors for the connections that verify (tls_conn_client);
	 * the context itself checks nothing: a mail gun talks to the server
	 * it is told to, and opportunistic TLS takes any certificate */
	if (ca_file != NULL) {
		if (readable("--tls-ca", ca_file, err, errlen) < 0)
			goto fail;
		if (SSL_CTX_load_verify_locations(ctx->ssl_ctx, ca_file, NULL) != 1) {
			ssl_error_text(why, sizeof why, "no certificate");
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
		ssl_error_text(why, sizeof why, "failed");
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
	atomic_init(&ctx->refs, 1);
	ctx->id = atomic_fetch_add(&ctx_ids, 1) + 1;
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
	SSL_CTX_set_verify(ctx->ssl_ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_cert_verify_callback(ctx->ssl_ctx, check_nothing, NULL);
	SSL_CTX_set_session_cache_mode(ctx->ssl_ctx, SSL_SESS_CACHE_OFF);
	atomic_init(&ctx->refs, 1);
	ctx->id = atomic_fetch_add(&ctx_ids, 1) + 1;
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
			ssl_error_text(why, sizeof why, "no certificate");
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
	t->ctx = ctx;
	SSL_set_app_data(t->ssl, t);
	if (server)
		SSL_set_accept_state(t->ssl);
	else
		SSL_set_connect_state(t->ssl);
	return t;
}

/* tls_conn_client - a client's SSL object: SNI, the name checked */
struct tls_conn *tls_conn_client(struct tls_ctx *ctx, int fd, const char *host,
                                 int verify)
{
	struct tls_conn *t = tls_conn_new(ctx, fd, 0);
	unsigned char addr[16];
	int ok, ip;

	if (t == NULL || host == NULL || *host == '\0')
		return t;
	ip = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
	/* SNI names a host, never an address (RFC 6066 3); the expected
	 * name or address is checked against the certificate, and the
	 * result kept for tls_conn_verified() even when not required */
	ok = ip || SSL_set_tlsext_host_name(t->ssl, host) == 1;
	if (ok && ip)
		ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), host) == 1;
	else if (ok)
		ok = SSL_set1_host(t->ssl, host) == 1;
	if (!ok) {
		tls_conn_free(t);
		ERR_clear_error();
		errno = ENOMEM;
		return NULL;
	}
	SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	SSL_set_verify(t->ssl, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	return t;
}

/* tls_conn_dane - TLSA records on a client's SSL object */
int tls_conn_dane(struct tls_conn *t, const char *host, const struct tls_dane *d)
{
	size_t i;
	int added = 0;

	ERR_clear_error();
	if (SSL_dane_enable(t->ssl, host) <= 0) {
		ERR_clear_error();
		errno = ENOMEM;
		return -1;
	}
	/* RFC 7672 3.1.1: a DANE-EE(3) record binds the key itself, whatever
	 * names the certificate holds (and however old it is) */
	SSL_dane_set_flags(t->ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
	if (d->nexthop[0] && SSL_add1_host(t->ssl, d->nexthop) != 1) {
		ERR_clear_error();
		errno = ENOMEM;
		return -1;
	}
	for (i = 0; i < d->n; i++)
		if (SSL_dane_tlsa_add(t->ssl, d->rec[i].usage, d->rec[i].selector,
		                      d->rec[i].mtype, d->rec[i].data,
		                      d->rec[i].len) > 0)
			added++;
	ERR_clear_error();
	if (added == 0) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* tls_conn_verified - the certificate's verification, after the handshake */
int tls_conn_verified(const struct tls_conn *t, char *why, size_t len)
{
	X509 *peer = SSL_get0_peer_certificate(t->ssl);
	long r = SSL_get_verify_result(t->ssl);

	if (peer == NULL) {
		snprintf(why, len, "no certificate");
		return 0;
	}
	if (r != X509_V_OK) {
		snprintf(why, len, "%s", X509_verify_cert_error_string(r));
		return 0;
	}
	snprintf(why, len, "ok");
	return 1;
}

/* tls_conn_free - close_notify if it goes at once, then free */
void tls_conn_free(struct tls_conn *t)
{
	if (t == NULL)
		return;
	/* only after a finished handshake; a failed one has nothing to
	 * notify, and SSL_shutdown would only queue errors.  Nor after a
	 * fatal error, which OpenSSL forbids: the connection is broken (a
	 * reset, a bad record), its close_notify would go to a dead peer. */
	if (!t->fatal && SSL_is_init_finished(t->ssl))
		(void)SSL_shutdown(t->ssl);
	ERR_clear_error();
	SSL_free(t->ssl);
	if (t->sess_key != NULL) {
		free(t->sess_key);
		tls_ctx_put(t->ctx);
	}
	free(t);
}

/* tls_conn_resume - offer key's session, file new ones under it */
int tls_conn_resume(struct tls_conn *t, const char *key)
{
	SSL_SESSION *s;
	int ok;

	if (t->ctx->sessions == NULL || t->sess_key != NULL ||
	    strlen(key) >= TLS_SESS_KEY_MAX) {
		errno = EINVAL;
		return -1;
	}
	if ((t->sess_key = strdup(key)) == NULL)
		return -1;
	/* the cache lives in the context: held until this object is freed,
	 * as a ticket may arrive after the caller has let go of it */
	tls_ctx_hold(t->ctx);
	if ((s = tls_sess_get(t->ctx->sessions, key)) == NULL)
		return 0;
	ok = SSL_set_session(t->ssl, s) == 1;
	SSL_SESSION_free(s);
	ERR_clear_error();
	return ok;
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
		t->fatal = 1;
		ssl_error_text(t->error, sizeof t->error,
		               saved ? strerror(saved) : "connection closed");
		if (saved == 0) {
			*eof = 1;
			return 0;
		}
		errno = saved;
		return -1;
	default:
		t->fatal = 1;
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
	if (result(t, r, &eof) < 0) {
		long v = SSL_get_verify_result(t->ssl);

		if (errno == EAGAIN)
			return -1;
		/* a certificate refused (SSL_VERIFY_PEER): say why in X.509's
		 * words rather than OpenSSL's "certificate verify failed" */
		if (errno == EPROTO && v != X509_V_OK)
			snprintf(t->error, sizeof t->error, "certificate not trusted: %s",
			         X509_verify_cert_error_string(v));
	} else {                   /* the peer closed in the middle of it */
		if (t->error[0] == '\0')
			snprintf(t->error, sizeof t->error, "connection closed in the handshake");
		errno = EPROTO;
	}
	if (t->sess_key != NULL) {   /* a failed session is not offered again */
		int e = errno;

		tls_sess_drop(t->ctx->sessions, t->sess_key);
		errno = e;
	}
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
	info->resumed = SSL_session_reused(t->ssl) == 1;
}

/* tls_conn_error - the last failure's text */
const char *tls_conn_error(const struct tls_conn *t) { return t->error; }
