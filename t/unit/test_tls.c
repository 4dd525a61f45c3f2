/* test_tls - the server context and the stream's TLS layer over a socket
 * pair: a client made with OpenSSL itself talks to stream_start_tls().
 * The certificates are made here, at run time (nothing that expires is
 * kept). */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "monotonic.h"
#include "stream.h"
#include "tls.h"

static char dir[64];

/* make_pair - a self-signed P-256 certificate for CN=name and its key,
 * written to DIR/name.crt and DIR/name.key */
static void make_pair(const char *name)
{
	char path[128];
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *n;
	FILE *f;

	cr_assert_not_null(key);
	cr_assert_not_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -3600);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, key);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)name,
	                           -1, -1, 0);
	X509_set_issuer_name(x, n);
	cr_assert(X509_sign(x, key, EVP_sha256()) > 0);
	snprintf(path, sizeof path, "%s/%s.crt", dir, name);
	cr_assert_not_null(f = fopen(path, "w"));
	cr_assert(PEM_write_X509(f, x));
	fclose(f);
	snprintf(path, sizeof path, "%s/%s.key", dir, name);
	cr_assert_not_null(f = fopen(path, "w"));
	cr_assert(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL));
	fclose(f);
	X509_free(x);
	EVP_PKEY_free(key);
}

static void setup(void)
{
	snprintf(dir, sizeof dir, "/tmp/mta-unit-tls.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	make_pair("one");
	make_pair("two");
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0) {
		/* a temp dir left behind fails nothing */
	}
}

TestSuite(tls, .init = setup, .fini = teardown);

/* server_ctx - a context from DIR/cert.crt and DIR/key.key */
static struct tls_ctx *server_ctx(const char *cert, const char *key, char *err,
                                  size_t errlen)
{
	char c[128], k[128];
	char *certs[1] = { c }, *keys[1] = { k };

	snprintf(c, sizeof c, "%s/%s", dir, cert);
	snprintf(k, sizeof k, "%s/%s", dir, key);
	return tls_server_ctx(certs, keys, 1, err, errlen);
}

Test(tls, context_errors_name_the_file)
{
	char err[300];

	cr_assert_null(server_ctx("none.crt", "one.key", err, sizeof err));
	cr_assert(strstr(err, "--tls-cert") && strstr(err, "none.crt") &&
	          strstr(err, "No such file"), "%s", err);
	cr_assert_null(server_ctx("one.crt", "none.key", err, sizeof err));
	cr_assert(strstr(err, "--tls-key") && strstr(err, "none.key"), "%s", err);
	/* a key that is not the certificate's */
	cr_assert_null(server_ctx("one.crt", "two.key", err, sizeof err));
	cr_assert(strstr(err, "two.key") && strstr(err, "match"), "%s", err);
	/* a file that is not PEM */
	cr_assert_null(server_ctx("one.key", "one.key", err, sizeof err));
	cr_assert(strstr(err, "--tls-cert"), "%s", err);
}

/* The client: OpenSSL on a blocking socket in a thread of its own. */
struct client {
	int fd;
	const char *send;          /* sent in the clear instead of a handshake */
	size_t big;                /* bytes sent after the handshake */
	char got[64];              /* what came back */
	char cn[64];               /* the server certificate's CN */
	int no_close_notify;       /* leave without SSL_shutdown */
	int ok;
};

static void *client_main(void *arg)
{
	struct client *cl = arg;
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	SSL *ssl = SSL_new(ctx);
	char *buf;
	size_t off = 0;
	int n;

	if (cl->send != NULL) {
		if (write(cl->fd, cl->send, strlen(cl->send)) < 0)
			cl->ok = -1;
		shutdown(cl->fd, SHUT_WR);
		goto out;
	}
	SSL_set_fd(ssl, cl->fd);
	if (SSL_connect(ssl) != 1)
		goto out;
	X509_NAME_get_text_by_NID(X509_get_subject_name(SSL_get0_peer_certificate(ssl)),
	                          NID_commonName, cl->cn, sizeof cl->cn);
	buf = malloc(cl->big);
	memset(buf, 'x', cl->big);
	while (off < cl->big && (n = SSL_write(ssl, buf + off, (int)(cl->big - off))) > 0)
		off += (size_t)n;
	free(buf);
	n = SSL_read(ssl, cl->got, sizeof cl->got - 1);
	if (n > 0)
		cl->got[n] = '\0';
	cl->ok = off == cl->big;
	if (!cl->no_close_notify)
		SSL_shutdown(ssl);
out:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	return NULL;
}

/* run - a server stream on one end, the client on the other */
static void start_pair(struct stream *srv, struct client *cl, pthread_t *t)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	stream_init(srv, sv[0]);
	cr_assert_eq(stream_nonblock(srv, 1), 0);
	cl->fd = sv[1];
	cr_assert_eq(pthread_create(t, NULL, client_main, cl), 0);
}

Test(tls, handshake_and_bytes_both_ways)
{
	static char buf[300000];
	struct client cl = { .big = 200000 };
	struct tls_info info;
	struct stream s;
	pthread_t t;
	char err[200];
	struct tls_ctx *ctx = server_ctx("one.crt", "one.key", err, sizeof err);
	size_t got = 0;
	unsigned pending_seen = 0;
	ssize_t n;

	cr_assert_not_null(ctx, "%s", err);
	start_pair(&s, &cl, &t);
	cr_assert_eq(stream_start_tls(&s, ctx, 1, monotonic_ms() + 10000, err,
	                              sizeof err), 0, "%s", err);
	/* the stream holds what it needs: the context may go */
	tls_ctx_put(ctx);
	cr_assert_eq(stream_tls_info(&s, &info), 1);
	cr_assert_str_eq(info.version, "TLSv1.3");
	cr_assert(info.bits >= 128 && info.alg_bits >= info.bits);
	/* records of 16 KB read 4 KB at a time: the rest waits inside,
	 * and stream_wait does not wait for the socket then */
	while (got < cl.big) {
		n = stream_read_deadline(&s, buf + got, 4096, monotonic_ms() + 10000);
		cr_assert(n > 0, "read: %zd", n);
		got += (size_t)n;
		if (got < cl.big && stream_pending(&s) > 0) {
			pending_seen++;
			cr_assert_eq(stream_wait(&s, POLLIN, monotonic_ms()), 0);
		}
	}
	cr_assert_eq(got, cl.big);
	/* the case above happened: a stream that hid its decrypted bytes
	 * would leave a reader waiting on a socket that has nothing */
	cr_assert(pending_seen > 0, "no decrypted bytes were ever seen waiting");
	cr_assert_eq(buf[0], 'x');
	cr_assert_eq(buf[got - 1], 'x');
	cr_assert_eq(stream_write_all_deadline(&s, "220 fine", 8,
	                                       monotonic_ms() + 10000), 0);
	pthread_join(t, NULL);
	cr_assert_eq(cl.ok, 1);
	cr_assert_str_eq(cl.got, "220 fine");
	cr_assert_str_eq(cl.cn, "one");
	/* the client said close_notify: the end of the stream */
	cr_assert_eq(stream_read_deadline(&s, buf, 10, monotonic_ms() + 10000), 0);
	stream_close(&s);
	close(cl.fd);
}

Test(tls, two_pairs_of_one_type_the_last_wins)
{
	char c1[128], k1[128], c2[128], k2[128], err[200];
	char *certs[2] = { c1, c2 }, *keys[2] = { k1, k2 };
	struct client cl = { .big = 1 };
	struct tls_ctx *ctx;
	struct stream s;
	pthread_t t;
	char buf[4];

	snprintf(c1, sizeof c1, "%s/one.crt", dir);
	snprintf(k1, sizeof k1, "%s/one.key", dir);
	snprintf(c2, sizeof c2, "%s/two.crt", dir);
	snprintf(k2, sizeof k2, "%s/two.key", dir);
	cr_assert_not_null(ctx = tls_server_ctx(certs, keys, 2, err, sizeof err), "%s", err);
	start_pair(&s, &cl, &t);
	/* made ahead (as for STARTTLS's 220), twice: one object, used */
	cr_assert_eq(stream_tls_prepare(&s, ctx, 1), 0);
	cr_assert_eq(stream_tls_prepare(&s, ctx, 1), 0);
	cr_assert_eq(stream_start_tls(&s, ctx, 1, monotonic_ms() + 10000, err,
	                              sizeof err), 0, "%s", err);
	cr_assert_eq(stream_read_deadline(&s, buf, 1, monotonic_ms() + 10000), 1);
	cr_assert_eq(stream_write_all_deadline(&s, "ok", 2, monotonic_ms() + 10000), 0);
	pthread_join(t, NULL);
	cr_assert_str_eq(cl.cn, "two");
	stream_close(&s);
	close(cl.fd);
	tls_ctx_put(ctx);
}

Test(tls, plaintext_instead_of_a_handshake_fails)
{
	struct client cl = { .send = "EHLO client.example\r\nMAIL FROM:<a@b>\r\n" };
	char err[200], buf[4];
	struct tls_ctx *ctx = server_ctx("one.crt", "one.key", err, sizeof err);
	struct stream s;
	pthread_t t;

	cr_assert_not_null(ctx, "%s", err);
	start_pair(&s, &cl, &t);
	cr_assert_eq(stream_start_tls(&s, ctx, 1, monotonic_ms() + 10000, err,
	                              sizeof err), -1);
	cr_assert_eq(errno, EPROTO);
	cr_assert(err[0] != '\0');
	pthread_join(t, NULL);
	/* the stream is plain again and still open: the caller closes it */
	cr_assert_null(s.tls);
	cr_assert(stream_open(&s));
	cr_assert_eq(stream_tls_info(&s, NULL), 0);
	(void)buf;
	stream_close(&s);
	close(cl.fd);
	tls_ctx_put(ctx);
}

Test(tls, silent_client_times_out)
{
	char err[200];
	struct tls_ctx *ctx = server_ctx("one.crt", "one.key", err, sizeof err);
	struct stream s;
	int sv[2];

	cr_assert_not_null(ctx, "%s", err);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	stream_init(&s, sv[0]);
	cr_assert_eq(stream_nonblock(&s, 1), 0);
	cr_assert_eq(stream_start_tls(&s, ctx, 1, monotonic_ms() + 50, err,
	                              sizeof err), -1);
	cr_assert_eq(errno, ETIMEDOUT);
	cr_assert(strstr(err, "timed out"), "%s", err);
	stream_close(&s);
	close(sv[1]);
	tls_ctx_put(ctx);
}

/* ---- the client's side: trust anchors, the name checked ---------------- */

/* the server's half of a client test, in a thread of its own */
struct tls_server {
	struct stream s;
	struct tls_ctx *ctx;
	int rc;
	char err[200];
};

static void *tls_server_main(void *arg)
{
	struct tls_server *sv = arg;

	sv->rc = stream_start_tls(&sv->s, sv->ctx, 1, monotonic_ms() + 10000,
	                          sv->err, sizeof sv->err);
	stream_close(&sv->s);   /* a close_notify when it went well */
	return NULL;
}

/* client_to - a client handshake with server certificate "one", trusting
 * ca_file, checking host (verify: required); 0 or -1, why in err, and
 * the check's result in *verified (why in vwhy) */
static int client_to(const char *ca_file, const char *host, int verify,
                     char *err, size_t errlen, int *verified, char *vwhy,
                     size_t vlen)
{
	struct tls_server sv = { 0 };
	struct tls_ctx *cctx;
	struct stream c;
	pthread_t t;
	int pair[2], rc;
	char ca[128];

	signal(SIGPIPE, SIG_IGN);   /* as tls.h asks: one side gives up */
	snprintf(ca, sizeof ca, "%s/%s", dir, ca_file);
	cctx = tls_client_ctx(ca, err, errlen);
	cr_assert_not_null(cctx, "%s", err);
	sv.ctx = server_ctx("one.crt", "one.key", sv.err, sizeof sv.err);
	cr_assert_not_null(sv.ctx, "%s", sv.err);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
	stream_init(&sv.s, pair[0]);
	stream_init(&c, pair[1]);
	cr_assert_eq(stream_nonblock(&sv.s, 1), 0);
	cr_assert_eq(stream_nonblock(&c, 1), 0);
	cr_assert_eq(pthread_create(&t, NULL, tls_server_main, &sv), 0);
	cr_assert_eq(stream_tls_client(&c, cctx, host, verify), 0);
	rc = stream_start_tls(&c, cctx, 0, monotonic_ms() + 10000, err, errlen);
	*verified = stream_tls_verified(&c, vwhy, vlen);
	stream_close(&c);
	pthread_join(t, NULL);
	tls_ctx_put(sv.ctx);
	tls_ctx_put(cctx);
	return rc;
}

Test(tls, client_checks_the_name_when_asked)
{
	char err[200], why[100];
	int v;

	/* "one" is self-signed: its own anchor */
	cr_assert_eq(client_to("one.crt", "one", 1, err, sizeof err, &v, why,
	                       sizeof why), 0, "%s", err);
	cr_assert_eq(v, 1);
	cr_assert_str_eq(why, "ok");
	/* another name: the handshake fails under verify, X.509's reason */
	cr_assert_eq(client_to("one.crt", "mx.other.example", 1, err, sizeof err,
	                       &v, why, sizeof why), -1);
	cr_assert_eq(errno, EPROTO);
	cr_assert(strstr(err, "certificate not trusted: hostname mismatch"), "%s", err);
	/* not required: the handshake goes on, the result is kept */
	cr_assert_eq(client_to("one.crt", "mx.other.example", 0, err, sizeof err,
	                       &v, why, sizeof why), 0, "%s", err);
	cr_assert_eq(v, 0);
	cr_assert_str_eq(why, "hostname mismatch");
	/* the right name, an anchor that is not its issuer */
	cr_assert_eq(client_to("two.crt", "one", 1, err, sizeof err, &v, why,
	                       sizeof why), -1);
	cr_assert(strstr(err, "certificate not trusted: self-signed certificate"),
	          "%s", err);
}

Test(tls, client_context_errors_name_the_file)
{
	char err[300];

	cr_assert_null(tls_client_ctx("/nonexistent/ca.pem", err, sizeof err));
	cr_assert(strstr(err, "--tls-ca /nonexistent/ca.pem") &&
	          strstr(err, "No such file"), "%s", err);
}

Test(tls, policy_names)
{
	enum tls_policy p;

	cr_assert_eq(tls_policy_parse("verify", &p), 0);
	cr_assert_eq(p, TLS_POLICY_VERIFY);
	cr_assert_str_eq(tls_policy_name(TLS_POLICY_MAY), "may");
	cr_assert_eq(tls_policy_parse("VERIFY", &p), -1);
	cr_assert_eq(tls_policy_parse("dane", &p), -1);
}

/* The digest that keeps TLS sessions and kept connections to the TLSA
 * records they were verified by: any change of a record, of their order
 * or number, or of the next-hop domain gives another one */
Test(tls, dane_digest_follows_every_record)
{
	static struct tls_dane a, b;
	unsigned long long d;

	a.n = 2;
	a.rec[0] = (struct tls_tlsa){ 3, 1, 1, { 0x11, 0x22 }, 2 };
	a.rec[1] = (struct tls_tlsa){ 2, 0, 1, { 0x33 }, 1 };
	strcpy(a.nexthop, "example.org");
	b = a;
	d = tls_dane_digest(&a);
	cr_assert_eq(tls_dane_digest(&b), d, "the same records, the same digest");
	b.rec[0].data[1] = 0x23;
	cr_assert_neq(tls_dane_digest(&b), d, "a byte of a record");
	b = a;
	b.rec[1].usage = 3;
	cr_assert_neq(tls_dane_digest(&b), d, "a record's usage");
	b = a;
	b.rec[0] = a.rec[1];
	b.rec[1] = a.rec[0];
	cr_assert_neq(tls_dane_digest(&b), d, "their order");
	b = a;
	b.n = 1;
	cr_assert_neq(tls_dane_digest(&b), d, "a record fewer");
	b = a;
	/* the bytes of the two records run together the same way */
	b.rec[0].len = 1;
	b.rec[1] = (struct tls_tlsa){ 0x22, 2, 0, { 1, 0x33 }, 2 };
	cr_assert_neq(tls_dane_digest(&b), d, "another split of the bytes");
	b = a;
	strcpy(b.nexthop, "example.net");
	cr_assert_neq(tls_dane_digest(&b), d, "the next-hop domain");
}


/* After a fatal error (here a read that met a reset connection, OpenSSL's
 * SSL_ERROR_SYSCALL) SSL_shutdown must not be called: closing the stream
 * then writes nothing more, not even close_notify (the socket is swapped
 * for a pipe to see what would be written) */
Test(tls, no_close_notify_after_a_fatal_error)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof a;
	struct linger reset = { 1, 0 };
	struct client cl = { .big = 1, .no_close_notify = 1 };
	struct stream s;
	pthread_t t;
	char err[200], buf[16];
	struct tls_ctx *ctx = server_ctx("one.crt", "one.key", err, sizeof err);
	int l, p[2];

	cr_assert_not_null(ctx, "%s", err);
	/* TCP on loopback: a socket pair cannot be reset */
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	cr_assert((l = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	cr_assert_eq(bind(l, (struct sockaddr *)&a, sizeof a), 0);
	cr_assert_eq(listen(l, 1), 0);
	cr_assert_eq(getsockname(l, (struct sockaddr *)&a, &alen), 0);
	cr_assert((cl.fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	cr_assert_eq(connect(cl.fd, (struct sockaddr *)&a, sizeof a), 0);
	stream_init(&s, accept(l, NULL, NULL));
	close(l);
	cr_assert(s.fd >= 0);
	cr_assert_eq(stream_nonblock(&s, 1), 0);
	cr_assert_eq(pthread_create(&t, NULL, client_main, &cl), 0);
	cr_assert_eq(stream_start_tls(&s, ctx, 1, monotonic_ms() + 10000, err,
	                              sizeof err), 0, "%s", err);
	tls_ctx_put(ctx);
	cr_assert_eq(stream_read_deadline(&s, buf, 1, monotonic_ms() + 10000), 1);
	cr_assert_eq(stream_write_all_deadline(&s, "220 fine", 8,
	                                       monotonic_ms() + 10000), 0);
	pthread_join(t, NULL);
	cr_assert_eq(setsockopt(cl.fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset), 0);
	close(cl.fd);                    /* RST */
	cr_assert_eq(stream_read_deadline(&s, buf, sizeof buf, monotonic_ms() + 10000), -1);
	cr_assert_eq(errno, ECONNRESET, "%s", strerror(errno));
	cr_assert_eq(pipe(p), 0);
	cr_assert(dup2(p[1], s.fd) >= 0);
	close(p[1]);
	stream_close(&s);                /* closes the pipe's last writer */
	cr_assert_eq(read(p[0], buf, sizeof buf), 0, "bytes written after a fatal error");
	close(p[0]);
}
