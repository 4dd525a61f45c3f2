/* smtp_client.c - the blocking driver of the client engine; see
 * smtp_client.h
 *
 * This file: the connection's life (TLS, hello, AUTH), the driving loop,
 * and the commands outside a transaction; smtp_client_tx.c has the
 * transaction and its message, smtp_client_connect.c the connect.
 *
 * I/O: through the stream c->io (stream.h) on a non-blocking socket: every
 * read or write is tried first and waits only when the kernel says EAGAIN,
 * against a deadline fixed when the wait for a reply (or the write of a
 * block) began.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "monotonic.h"
#include "netaddr.h"
#include "smtp_client.h"
#include "smtp_client_priv.h"

/* on_rcpt - the engine decided a recipient's fate */
static void on_rcpt(void *ctx, size_t i, const struct smtp_result *r)
{
	struct smtp_client *c = ctx;

	if (c->rres)
		c->rres[i] = *r;
}

/* on_done - the transaction is over */
static void on_done(void *ctx, const struct smtp_result *res, int answered)
{
	struct smtp_client *c = ctx;

	(void)answered;
	if (c->res)
		*c->res = *res;
	c->tx_over = 1;
}

/* on_note - trouble outside a transaction: the first one says why */
static void on_note(void *ctx, const struct smtp_result *r)
{
	struct smtp_client *c = ctx;

	if (!c->noted && c->res)
		*c->res = *r;
	c->noted = 1;
}

/* smtp_client_init - an unconnected client */
void smtp_client_init(struct smtp_client *c, const struct smtp_timeouts *to)
{
	memset(c, 0, sizeof *c);
	stream_init(&c->io, -1);
	if (to)
		c->to = *to;
	else
		smtp_timeouts_default(&c->to);
	c->ops.rcpt = on_rcpt;
	c->ops.done = on_done;
	c->ops.note = on_note;
	c->ops.ctx = c;
	c->d.state = SD_CLOSED;
	c->d.ops = &c->ops;
	c->opened_ms = monotonic_ms();
}

/* smtp_client_connected - true while the connection is usable */
int smtp_client_connected(const struct smtp_client *c)
{
	return stream_open(&c->io);
}

/* smtp_client_close - close the connection without a word */
void smtp_client_close(struct smtp_client *c)
{
	stream_close(&c->io);
	c->d.state = SD_CLOSED;
}

/* smtpc_expect - the reports of the call starting now go to rres, res */
void smtpc_expect(struct smtp_client *c, struct smtp_result *rres,
                  struct smtp_result *res)
{
	c->rres = rres;
	c->res = res;
	c->tx_over = c->noted = 0;
}

enum { REASON_WAIT_MS = 1000 };  /* for a reply after a failed write */

/* write_failed - the server took nothing more: a server that refuses in
 * mid-message (552 too big) and hangs up may have said why, which beats
 * "broken pipe"; else the connection is lost */
static void write_failed(struct smtp_client *c, int err, int timeout_ms)
{
	if (err == EPIPE || err == ECONNRESET) {
		ssize_t n = stream_read_deadline(&c->io, c->in, sizeof c->in,
		                                 monotonic_ms() + REASON_WAIT_MS);

		if (n > 0 && smtp_dialog_input(&c->d, c->in, (size_t)n) < 0)
			return;
	}
	smtp_dialog_lost(&c->d, err == ETIMEDOUT ? EAGAIN : err, timeout_ms);
}

/* smtpc_flush - write what the engine has to say, each piece within its
 * limit; 0, or -1 when the connection was lost (reported, closed) */
int smtpc_flush(struct smtp_client *c)
{
	for (;;) {
		const char *p;
		size_t n;
		int ms = smtp_dialog_timeout(&c->d, &c->to);

		smtp_dialog_output(&c->d, &p, &n);
		if (n == 0)
			return 0;
		if (stream_write_all_deadline(&c->io, p, n,
		                              monotonic_ms() + ms) < 0) {
			write_failed(c, errno, ms);
			smtp_client_close(c);
			return -1;
		}
		smtp_dialog_wrote(&c->d, n);
	}
}

/* smtpc_drive - write, then read replies, until done(c) or the end of the
 * connection; each wait for a reply has its limit from when it began.
 * 0, or -1 when the connection is gone (closed) */
int smtpc_drive(struct smtp_client *c, int (*done)(const struct smtp_client *))
{
	while (!done(c)) {
		unsigned long replies = c->d.replies;
		long long deadline;
		int ms;

		if (smtpc_flush(c) < 0)
			return -1;
		if (done(c) || smtp_dialog_wants_body(&c->d))
			return 0;
		ms = smtp_dialog_timeout(&c->d, &c->to);
		deadline = monotonic_ms() + ms;
		while (c->d.replies == replies) {
			ssize_t n = stream_read_deadline(&c->io, c->in, sizeof c->in,
			                                 deadline);

			if (n <= 0) {
				smtp_dialog_lost(&c->d, n == 0 ? 0 : errno, ms);
				smtp_client_close(c);
				return -1;
			}
			if (smtp_dialog_input(&c->d, c->in, (size_t)n) < 0) {
				/* the end the engine asked for, after QUIT say */
				smtp_client_close(c);
				return done(c) ? 0 : -1;
			}
		}
	}
	/* what the last reply made the engine say goes out now */
	return smtp_client_connected(c) ? smtpc_flush(c) : 0;
}

/* smtp_client_lmtp - LMTP from the next handshake on */
void smtp_client_lmtp(struct smtp_client *c)
{
	c->lmtp = 1;
}

/* smtp_client_tls - the policy of the next handshake */
void smtp_client_tls(struct smtp_client *c, enum tls_policy policy,
                     struct tls_ctx *ctx, const char *host)
{
	c->tls_policy = policy;
	c->tls_ctx = ctx;
	c->tls_dane = NULL;
	snprintf(c->tls_host, sizeof c->tls_host, "%s", host ? host : "");
}

/* smtp_client_auth - credentials for the next handshake */
void smtp_client_auth(struct smtp_client *c, const char *user,
                      const char *pass, int insecure)
{
	c->auth_user = user;
	c->auth_pass = pass;
	c->auth_insecure = insecure;
}

/* smtp_client_tls_implicit - TLS from the first byte from now on */
void smtp_client_tls_implicit(struct smtp_client *c)
{
	c->tls_implicit = 1;
}

/* smtp_client_tls_dane - the TLSA records of the next handshake */
void smtp_client_tls_dane(struct smtp_client *c, const struct tls_dane *d)
{
	c->tls_dane = d;
}

/* smtp_client_tls_text - the log's TLS fields */
void smtp_client_tls_text(const struct smtp_client *c, char *buf, size_t len)
{
	struct tls_info info;

	if (stream_tls_info(&c->io, &info))
		snprintf(buf, len, "tls=%s/%s verify=%s policy=%s resumed=%s",
		         info.version, info.cipher, c->tls_verified ? "ok" : "fail",
		         tls_policy_name(c->tls_policy), info.resumed ? "yes" : "no");
	else
		snprintf(buf, len, "tls=none verify=none policy=%s",
		         tls_policy_name(c->tls_policy));
}

/* hello_over - ready, closed, or the TLS handshake is the driver's turn */
static int hello_over(const struct smtp_client *c)
{
	return c->d.state == SD_READY || c->d.state == SD_CLOSED ||
	       smtp_dialog_tls_wanted(&c->d);
}

/* resume_key - the key of the sessions this handshake may resume and
 * make (tls_sess.h): the address and port, the policy, the name checked
 * and a digest (FNV-1a) of the TLSA records, so that no session crosses
 * to another server, a weaker check or other records; 0, or -1 when the
 * peer is unknown (a socket given to stream_init): no resumption */
static int resume_key(const struct smtp_client *c, char *key, size_t len)
{
	if (c->peer[0] == '\0')
		return -1;
	snprintf(key, len, "%s %s %s %016llx", c->peer,
	         tls_policy_name(c->tls_policy), c->tls_host,
	         c->tls_dane ? tls_dane_digest(c->tls_dane) : 0ULL);
	return 0;
}

/* tls_up - the client's TLS handshake on c->io, within the hello's
 * limit, the certificate checked as the policy says; 0, or -1 with why
 * in err (tls_failed set; the stream closed or plain again) */
static int tls_up(struct smtp_client *c, char *err, size_t errlen)
{
	char key[400];

	if (stream_tls_client(&c->io, c->tls_ctx, c->tls_host,
	                      c->tls_policy >= TLS_POLICY_VERIFY) < 0 ||
	    (c->tls_policy == TLS_POLICY_DANE &&
	     (c->tls_dane == NULL ||
	      stream_tls_dane(&c->io, c->tls_host, c->tls_dane) < 0)) ||
	    (resume_key(c, key, sizeof key) == 0 &&
	     stream_tls_resume(&c->io, key) < 0 && errno == ENOMEM)) {
		snprintf(err, errlen, "cannot make a TLS object: %s",
		         c->tls_dane || c->tls_policy != TLS_POLICY_DANE ?
		         strerror(errno) : "no TLSA records");
		stream_close(&c->io);
	} else if (stream_start_tls(&c->io, c->tls_ctx, 0,
	                            monotonic_ms() + c->to.hello, err,
	                            errlen) == 0) {
		c->tls_verified = stream_tls_verified(&c->io, c->tls_why,
		                                      sizeof c->tls_why);
		return 0;
	}
	c->tls_failed = 1;
	return -1;
}

/* start_tls - the handshake after STARTTLS's 220; 0, or -1 (noted by
 * the engine, the dialogue closed) */
static int start_tls(struct smtp_client *c)
{
	char err[160];

	if (tls_up(c, err, sizeof err) == 0) {
		smtp_dialog_tls_started(&c->d);
		return 0;
	}
	smtp_dialog_tls_failed(&c->d, err);
	return -1;
}

/* implicit_tls - the handshake before the greeting (smtps); 0, or -1
 * with res saying why (4.7.5, temporary) and the connection closed */
static int implicit_tls(struct smtp_client *c, struct smtp_result *res)
{
	char err[160], text[sizeof err + sizeof c->peer + 32];

	if (tls_up(c, err, sizeof err) == 0) {
		smtp_dialog_tls_implicit(&c->d);
		return 0;
	}
	snprintf(text, sizeof text, "%s: TLS handshake failed: %s", c->peer, err);
	smtp_result_local(res, SMTP_STAGE_GREETING, ST_TEMP, 7, 5, text);
	smtp_client_close(c);
	errno = EPROTO;
	return -1;
}

/* tls_missing - ready but in plaintext where the policy wants TLS: res
 * says why (4.7.4); 0 when all is well */
static int tls_missing(struct smtp_client *c, struct smtp_result *res)
{
	const struct smtp_reply *r = &res->reply;
	char enh[24] = "";

	if (c->tls_policy < TLS_POLICY_ENCRYPT || c->io.tls != NULL)
		return 0;
	if (r->enh_class)
		snprintf(enh, sizeof enh, "%d.%d.%d ", r->enh_class, r->enh_subject,
		         r->enh_detail);
	if (c->noted && r->code != 0)      /* the refusal of STARTTLS, noted */
		res->st = status_make(ST_TEMP, 7, 4, "%s: TLS is required (%s), but "
		                      "STARTTLS was refused: %d %s%s", c->peer,
		                      tls_policy_name(c->tls_policy), r->code, enh,
		                      r->text);
	else
		res->st = status_make(ST_TEMP, 7, 4, "%s: TLS is required (%s), but "
		                      "the server offers no STARTTLS", c->peer,
		                      tls_policy_name(c->tls_policy));
	smtp_reply_clear(&res->reply);
	res->stage = SMTP_STAGE_HELLO;
	return -1;
}

/* closed - the dialogue is over */
static int closed(const struct smtp_client *c)
{
	return c->d.state == SD_CLOSED;
}

/* smtp_client_handshake - greeting, EHLO/HELO, STARTTLS and EHLO again */
int smtp_client_handshake(struct smtp_client *c, const char *name,
                          struct smtp_result *res)
{
	smtpc_expect(c, NULL, res);
	c->tls_failed = c->tls_verified = 0;
	snprintf(c->tls_why, sizeof c->tls_why, "no TLS");
	if (!smtp_client_connected(c)) {
		smtp_result_local(res, SMTP_STAGE_GREETING, ST_TEMP, 4, 2,
		                  "not connected");
		errno = ENOTCONN;
		return -1;
	}
	if (!smtp_helo_ok(name) || strlen(name) >= sizeof c->helo) {
		smtp_result_local(res, SMTP_STAGE_HELLO, ST_PERM, 5, 2,
		                  "bad EHLO name");
		smtp_client_close(c);
		errno = EINVAL;
		return -1;
	}
	memcpy(c->helo, name, strlen(name) + 1);
	smtp_dialog_start(&c->d, c->lmtp ? SMTP_DIALOG_LMTP : SMTP_DIALOG_SMTP,
	                  &c->ops, c->helo, c->peer);
	if (c->tls_policy != TLS_POLICY_NONE && c->tls_ctx != NULL) {
		if (!c->tls_implicit)
			smtp_dialog_use_starttls(&c->d);
		else if (implicit_tls(c, res) < 0) {
			c->tls_ctx = NULL;
			c->auth_user = c->auth_pass = NULL;
			c->tls_dane = NULL;
			return -1;
		}
	}
	if (c->auth_user != NULL)
		smtp_dialog_use_auth(&c->d, c->auth_user, c->auth_pass,
		                     c->auth_insecure);
	while (smtpc_drive(c, hello_over) == 0 && smtp_dialog_tls_wanted(&c->d) &&
	       start_tls(c) == 0)
		;
	c->tls_ctx = NULL;          /* the snapshot's: not kept beyond here */
	c->auth_user = c->auth_pass = NULL;   /* likewise */
	c->tls_dane = NULL;         /* the round's, likewise */
	if (c->d.state == SD_READY) {
		if (tls_missing(c, res) == 0)
			return 0;
		smtp_dialog_quit(&c->d);   /* a polite end, its reply not awaited */
		smtpc_flush(c);
		smtp_client_close(c);
		errno = EPROTO;
		return -1;
	}
	if (c->d.state == SD_QUIT)    /* refused: the QUIT's reply ends it */
		smtpc_drive(c, hello_over);
	smtp_client_close(c);
	if (res->reply.code != 0)
		errno = ECONNREFUSED;
	else if (c->tls_failed)
		errno = EPROTO;
	return -1;
}

/* rset_over - the RSET was answered, or the connection is gone */
static int rset_over(const struct smtp_client *c)
{
	return c->d.state != SD_RSET;
}

/* smtp_client_rset - RSET now */
int smtp_client_rset(struct smtp_client *c, struct smtp_result *res)
{
	smtpc_expect(c, NULL, res);
	if (!smtp_client_connected(c) || smtp_dialog_rset(&c->d) < 0) {
		smtp_result_local(res, SMTP_STAGE_RSET, ST_TEMP, 4, 2,
		                  "not connected");
		errno = ENOTCONN;
		return -1;
	}
	if (smtpc_drive(c, rset_over) < 0 || c->d.state != SD_READY) {
		smtp_client_close(c);
		errno = EPROTO;
		return -1;
	}
	smtp_result_from_reply(res, SMTP_STAGE_RSET, &c->d.cur.reply);
	return 0;
}

/* smtp_client_quit - QUIT, then close */
int smtp_client_quit(struct smtp_client *c, struct smtp_result *res)
{
	int code = 0;

	smtpc_expect(c, NULL, res);
	if (!smtp_client_connected(c)) {
		smtp_result_local(res, SMTP_STAGE_QUIT, ST_TEMP, 4, 2,
		                  "not connected");
		errno = ENOTCONN;
		return -1;
	}
	smtp_dialog_quit(&c->d);
	if (smtpc_drive(c, closed) == 0) {
		code = c->d.cur.reply.code;
		smtp_result_from_reply(res, SMTP_STAGE_QUIT, &c->d.cur.reply);
	}
	smtp_client_close(c);
	return code == 221 ? 0 : -1;
}
