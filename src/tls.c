/* tls.c - TLS connections over OpenSSL: the handshake, reads and writes,
 * the checks of a peer's certificate; see tls.h (contexts: tls_ctx.c) */
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
#include "tls_priv.h"
#include "tls_sess.h"

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

/* fnv1a - h with n more bytes of p folded in */
static unsigned long long fnv1a(unsigned long long h, const unsigned char *p,
                                size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

/* tls_dane_digest - see tls.h; each record's length goes in with it, so
 * that no two lists of records run together into the same bytes */
unsigned long long tls_dane_digest(const struct tls_dane *d)
{
	unsigned long long h = 14695981039346656037ULL;

	for (size_t i = 0; i < d->n; i++) {
		const struct tls_tlsa *r = &d->rec[i];
		unsigned char head[5] = { r->usage, r->selector, r->mtype,
		                          (unsigned char)(r->len >> 8),
		                          (unsigned char)r->len };

		h = fnv1a(h, head, sizeof head);
		h = fnv1a(h, r->data, r->len);
	}
	return fnv1a(h, (const unsigned char *)d->nexthop, strlen(d->nexthop));
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
		tls_ssl_error_text(t->error, sizeof t->error,
		               saved ? strerror(saved) : "connection closed");
		if (saved == 0) {
			*eof = 1;
			return 0;
		}
		errno = saved;
		return -1;
	default:
		t->fatal = 1;
		tls_ssl_error_text(t->error, sizeof t->error, "TLS protocol error");
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
