/* smtp_client_tx.c - the transaction half of the SMTP client: MAIL, RCPT,
 * DATA, the message with its dots stuffed; see smtp_client.h
 *
 * A transaction is a sequence of commands [RSET] MAIL RCPT... DATA whose
 * replies come back in the same order.  Without PIPELINING each command
 * is flushed and answered before the next; with it, commands are queued
 * in the output buffer and flushed in groups (the group sizes are chosen
 * so the buffer cannot overflow: 66 commands of at most 267 octets each).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mime8.h"
#include "smtp_client.h"
#include "smtp_client_priv.h"

/* smtp_dot_init - a message is about to start */
void smtp_dot_init(struct smtp_dot *d)
{
	d->bol = 1;
	d->cr = 0;
	d->col = 0;
	d->split = 0;
}

/* smtp_dot_encode - wire form of in[0..n): CRLF line ends, dots stuffed,
 * long lines split */
size_t smtp_dot_encode(struct smtp_dot *d, const char *in, size_t n,
                       char *out)
{
	char *o = out;
	size_t i;

	for (i = 0; i < n; i++) {
		char ch = in[i];

		if (ch == '\n') {
			if (!d->cr) {     /* a bare LF; CR LF was done at the CR */
				*o++ = '\r';
				*o++ = '\n';
			}
			d->cr = 0;
			d->bol = 1;
			d->col = 0;
			continue;
		}
		if (ch == '\r') {
			*o++ = '\r';
			*o++ = '\n';
			d->cr = 1;
			d->bol = 1;
			d->col = 0;
			continue;
		}
		if (ch == '.' && d->bol) {
			*o++ = '.';
			d->col++;
		}
		if (d->split && d->col >= SMTP_LINE_MAX) {
			/* the space keeps a header field folded, not cut */
			*o++ = '\r';
			*o++ = '\n';
			*o++ = ' ';
			d->col = 1;
		}
		*o++ = ch;
		d->col++;
		d->cr = 0;
		d->bol = 0;
	}
	return (size_t)(o - out);
}

/* smtp_dot_finish - end the last line, then the dot line */
size_t smtp_dot_finish(struct smtp_dot *d, char *out)
{
	size_t n = 0;

	if (!d->bol) {
		out[n++] = '\r';
		out[n++] = '\n';
	}
	memcpy(out + n, ".\r\n", 3);
	d->bol = 1;
	d->cr = 0;
	d->col = 0;
	return n + 3;
}

/* the message on its way out: dot-encoded into the output buffer, which
 * is flushed whenever the next piece might not fit */
struct wire {
	struct smtp_client *c;
	struct smtp_dot d;
	struct smtp_result *res;
	int failed;                 /* the connection is gone; res says why */
};

/* wire_out - message bytes (straight from the queue file, or from the
 * downgrade) to the server */
static void wire_out(void *ctx, const char *p, size_t n)
{
	enum { PIECE = 8192 };
	struct wire *w = ctx;

	while (n > 0 && !w->failed) {
		size_t k = n > PIECE ? PIECE : n;

		if (w->c->out_len + SMTP_DOT_OUT_MAX(k) > SMTP_CLIENT_OUT_MAX - 5 &&
		    smtpc_flush(w->c, SMTP_STAGE_DOT, w->c->to.block, w->res) < 0) {
			w->failed = 1;
			return;
		}
		w->c->out_len += smtp_dot_encode(&w->d, p, k, w->c->out + w->c->out_len);
		p += k;
		n -= k;
	}
}

/* source - the next piece of the message: 0 (*n == 0 at the end), or -1
 * with errno */
static int source(const struct smtp_tx *tx, size_t *off, char *buf,
                  size_t len, const char **p, size_t *n)
{
	ssize_t r;

	if (tx->data) {
		*p = tx->data + *off;
		*n = tx->len - *off > len ? len : tx->len - *off;
		*off += *n;
		return 0;
	}
	while ((r = read(tx->fd, buf, len)) < 0 && errno == EINTR)
		;
	if (r < 0)
		return -1;
	*p = buf;
	*n = (size_t)r;
	return 0;
}

/* downgrade_scan - the first pass of mime8 over the whole message, then
 * back to its start; 1 when it must be converted, 0 when not, -1 with
 * errno */
static int downgrade_scan(const struct smtp_tx *tx, struct mime8 *m, char *buf,
                          size_t len)
{
	off_t start = tx->data ? 0 : lseek(tx->fd, 0, SEEK_CUR);
	size_t off = 0, n;
	const char *p;
	int r;

	if (start < 0)
		return -1;
	do {
		if (source(tx, &off, buf, len, &p, &n) < 0)
			return -1;
		mime8_scan(m, p, n);
	} while (n > 0);
	if ((r = mime8_scan_end(m)) < 0) {
		errno = ENOMEM;
		return -1;
	}
	if (!tx->data && lseek(tx->fd, start, SEEK_SET) < 0)
		return -1;
	return r;
}

/* send_message - the message itself and the final dot; returns the code
 * of the final reply, or -1 (connection closed, res set).  To a server
 * without 8BITMIME an 8-bit message goes downgraded (mime8.h). */
static int send_message(struct smtp_client *c, const struct smtp_tx *tx,
                        struct smtp_result *res)
{
	enum { CHUNK = 8192 };
	struct wire w = { c, { 0, 0, 0, 0 }, res, 0 };
	struct mime8 *m = NULL;
	char buf[CHUNK];
	size_t off = 0;
	int e = 0;

	smtp_dot_init(&w.d);
	w.d.split = 1;
	c->out_len = 0;
	if (!(c->ext & SMTP_EXT_8BITMIME)) {
		int r = -1;

		if ((m = malloc(sizeof *m)) != NULL) {
			mime8_init(m);
			r = downgrade_scan(tx, m, buf, sizeof buf);
		}
		e = m == NULL ? ENOMEM : errno;
		if (r < 0)
			goto local_error;
		if (r == 0) {
			mime8_free(m);
			free(m);
			m = NULL;
		} else {
			mime8_convert_start(m, wire_out, &w);
		}
	}
	for (;;) {
		const char *p;
		size_t n;

		if (source(tx, &off, buf, sizeof buf, &p, &n) < 0) {
			e = errno;
			goto local_error;
		}
		if (n == 0)
			break;
		if (m)
			mime8_convert(m, p, n);
		else
			wire_out(&w, p, n);
		if (m && m->oom) {
			e = ENOMEM;
			goto local_error;
		}
		if (w.failed)
			goto fail;
	}
	if (m) {
		mime8_convert_end(m);
		mime8_free(m);
		free(m);
		m = NULL;
		if (w.failed)
			return -1;
	}
	c->out_len += smtp_dot_finish(&w.d, c->out + c->out_len);
	if (smtpc_flush(c, SMTP_STAGE_DOT, c->to.block, res) < 0)
		return -1;
	return smtpc_get_reply(c, SMTP_STAGE_DOT, c->to.dot, res);
local_error:
	{
		char eb[128];

		smtpc_local_result(res, SMTP_STAGE_DOT, ST_TEMP, 3, 0,
		                   strerror_r(e, eb, sizeof eb));
	}
	/* DATA was accepted and no dot will follow: the connection is lost. */
	smtp_client_close(c);
fail:
	if (m) {
		mime8_free(m);
		free(m);
	}
	return -1;
}

/* tx_size - the SIZE= estimate */
static unsigned long long tx_size(const struct smtp_tx *tx)
{
	struct stat st;
	off_t pos;

	if (tx->size)
		return tx->size;
	if (tx->data)
		return tx->len;
	if (fstat(tx->fd, &st) == 0 && S_ISREG(st.st_mode)) {
		pos = lseek(tx->fd, 0, SEEK_CUR);
		if (pos >= 0 && pos <= st.st_size)
			return (unsigned long long)(st.st_size - pos);
	}
	return 0;
}

/* smtp_rcpt_ok - a recipient fit for RCPT TO */
int smtp_rcpt_ok(const char *r)
{
	return r[0] != '\0' && smtp_text_ok(r, SMTP_CLIENT_ADDR_MAX);
}

/* tx_end - fill in every recipient still undecided or accepted with the
 * transaction's outcome res; returns 0 when res is a success, else -1 */
static int tx_end(const struct smtp_tx *tx, struct smtp_result *rres,
                  const struct smtp_result *res, int err)
{
	size_t i;

	for (i = 0; i < tx->nrcpt; i++)
		if (rres[i].stage == SMTP_STAGE_NONE || rres[i].st.kind == ST_OK)
			rres[i] = *res;
	if (res->st.kind == ST_OK)
		return 0;
	errno = err;
	return -1;
}

/* worst_rcpt - the refusal to report when no recipient was accepted: the
 * first temporary one, else the first permanent one */
static const struct smtp_result *worst_rcpt(const struct smtp_tx *tx,
                                            const struct smtp_result *rres)
{
	const struct smtp_result *w = NULL;
	size_t i;

	for (i = 0; i < tx->nrcpt; i++)
		if (rres[i].st.kind == ST_TEMP)
			return &rres[i];
		else if (w == NULL && rres[i].st.kind == ST_PERM)
			w = &rres[i];
	return w;
}

/* unexpected - a reply of another class than the command allows (say a
 * 3xx to MAIL) is a failure, temporary as nothing is known */
static void unexpected(struct smtp_result *r, int code, int want)
{
	if (code >= 0 && code / 100 != want / 100 && r->st.kind == ST_OK)
		r->st.kind = ST_TEMP;
	if (code >= 0 && want == 354 && code != 354 && r->st.kind == ST_OK)
		r->st.kind = ST_TEMP;
}

/* smtp_client_send - one transaction; see smtp_client.h */
int smtp_client_send(struct smtp_client *c, const struct smtp_tx *tx,
                     struct smtp_result *rres, struct smtp_result *res)
{
	enum { P_RSET, P_MAIL, P_RCPT, P_DATA };
	struct { int what; size_t idx; } pend[SMTP_CLIENT_RCPT_GROUP + 3];
	int pipe = (c->ext & SMTP_EXT_PIPELINING) != 0;
	size_t cap = pipe ? SMTP_CLIENT_RCPT_GROUP + 2 : 1;
	size_t np = 0, next = 0, queued = 0, accepted = 0, i;
	int mail = -1, data_q = 0, data_code = 0, code;
	unsigned long long size = tx_size(tx);
	struct smtp_result dres;

	for (i = 0; i < tx->nrcpt; i++) {
		rres[i].stage = SMTP_STAGE_NONE;
		rres[i].st = status_ok();
	}
	if (!smtp_client_connected(c)) {
		smtpc_not_connected(res, SMTP_STAGE_MAIL);
		return tx_end(tx, rres, res, ENOTCONN);
	}
	if (tx->nrcpt == 0 || !smtp_text_ok(tx->sender, SMTP_CLIENT_ADDR_MAX)) {
		smtpc_local_result(res, SMTP_STAGE_MAIL, ST_PERM, tx->nrcpt ? 1 : 5,
		             tx->nrcpt ? 7 : 1, tx->nrcpt ?
		             "bad sender address syntax" : "no recipients");
		return tx_end(tx, rres, res, EINVAL);
	}
	if ((c->ext & SMTP_EXT_SIZE) && c->size_max > 0 && size > c->size_max) {
		res->st = status_make(ST_PERM, 3, 4, "message size %llu exceeds "
		                      "the server's limit of %llu", size,
		                      c->size_max);
		res->stage = SMTP_STAGE_MAIL;
		smtpc_reply_clear(&res->reply);
		return tx_end(tx, rres, res, EFBIG);
	}

	/* [RSET] MAIL; without PIPELINING the RSET is answered first */
	if (c->need_rset && !pipe && smtp_client_rset(c, res) < 0) {
		if (smtp_client_connected(c))
			smtp_client_close(c);   /* a refused RSET: give up */
		return tx_end(tx, rres, res, errno);
	}
	if (c->need_rset && smtpc_printf(c, "RSET\r\n") == 0)
		pend[np++].what = P_RSET;
	c->need_rset = 0;
	if (smtpc_printf(c, "MAIL FROM:<%s>", tx->sender) < 0 ||
	    ((c->ext & SMTP_EXT_SIZE) && size > 0 &&
	     smtpc_printf(c, " SIZE=%llu", size) < 0) ||
	    (tx->body_8bit && (c->ext & SMTP_EXT_8BITMIME) &&
	     smtpc_printf(c, " BODY=8BITMIME") < 0) ||
	    smtpc_printf(c, "\r\n") < 0) {
		smtpc_local_result(res, SMTP_STAGE_MAIL, ST_TEMP, 3, 0,
		             "command too long");
		smtp_client_close(c);
		return tx_end(tx, rres, res, EOVERFLOW);
	}
	pend[np++].what = P_MAIL;

	for (;;) {
		/* queue what may go out before the next wait for replies */
		while (mail != 0 && next < tx->nrcpt && np < cap) {
			if (!smtp_rcpt_ok(tx->rcpt[next])) {
				smtpc_local_result(&rres[next++], SMTP_STAGE_RCPT, ST_PERM,
				             1, 3, "bad recipient address syntax");
				continue;
			}
			if (smtpc_printf(c, "RCPT TO:<%s>\r\n", tx->rcpt[next]) < 0)
				break;    /* cannot happen: a group fits */
			pend[np].what = P_RCPT;
			pend[np++].idx = next++;
			queued++;
		}
		if (next == tx->nrcpt && !data_q && mail != 0 &&
		    (pipe ? queued > 0 : np == 0 && accepted > 0) &&
		    smtpc_printf(c, "DATA\r\n") == 0) {
			pend[np++].what = P_DATA;
			data_q = 1;
		}
		if (np == 0)
			break;
		if (smtpc_flush(c, pend[0].what == P_DATA ? SMTP_STAGE_DATA :
		          SMTP_STAGE_MAIL, c->to.mail, res) < 0)
			return tx_end(tx, rres, res, errno);

		/* read the replies, in order */
		for (i = 0; i < np; i++) {
			struct smtp_result *rr;

			switch (pend[i].what) {
			case P_RSET:
				code = smtpc_get_reply(c, SMTP_STAGE_RSET, c->to.other, res);
				unexpected(res, code, 250);
				if (code >= 0 && code / 100 != 2) {
					smtp_client_close(c);
					errno = EPROTO;
					code = -1;
				}
				break;
			case P_MAIL:
				code = smtpc_get_reply(c, SMTP_STAGE_MAIL, c->to.mail, res);
				unexpected(res, code, 250);
				mail = code / 100 == 2;
				break;
			case P_RCPT:
				rr = &rres[pend[i].idx];
				code = smtpc_get_reply(c, SMTP_STAGE_RCPT, c->to.rcpt, rr);
				unexpected(rr, code, 250);
				if (code < 0 || !smtp_client_connected(c))
					*res = *rr;
				else if (mail == 0)
					*rr = *res;      /* MAIL's refusal says it all */
				else if (code / 100 == 2)
					accepted++;
				break;
			default:
				code = smtpc_get_reply(c, SMTP_STAGE_DATA, c->to.data, &dres);
				unexpected(&dres, code, 354);
				if (code < 0 || !smtp_client_connected(c))
					*res = dres;
				data_code = code;
				break;
			}
			if (code < 0)
				return tx_end(tx, rres, res, errno);
			if (!smtp_client_connected(c))   /* a 421: res has it */
				return tx_end(tx, rres, res, ECONNRESET);
		}
		np = 0;
		if (data_q || mail == 0)
			break;
	}

	if (data_code == 354 && (mail != 1 || accepted == 0)) {
		/* PIPELINING and nobody to send to: an empty message ends it */
		if (smtpc_printf(c, ".\r\n") < 0 ||
		    smtpc_flush(c, SMTP_STAGE_DOT, c->to.block, &dres) < 0 ||
		    smtpc_get_reply(c, SMTP_STAGE_DOT, c->to.dot, &dres) < 0) {
			*res = dres;
			return tx_end(tx, rres, res, errno);
		}
		data_code = 0;
	} else if (mail == 1 && data_code != 354) {
		c->need_rset = 1;        /* MAIL accepted, nothing sent */
	}
	if (mail != 1)
		return tx_end(tx, rres, res, EPROTO);   /* res: MAIL's reply */
	if (accepted == 0) {
		const struct smtp_result *w = worst_rcpt(tx, rres);

		if (w)
			*res = *w;
		return tx_end(tx, rres, res, EPROTO);
	}
	if (data_code != 354) {
		*res = dres;
		return tx_end(tx, rres, res, EPROTO);
	}
	code = send_message(c, tx, res);
	unexpected(res, code, 250);
	return tx_end(tx, rres, res, code < 0 ? errno : EPROTO);
}
