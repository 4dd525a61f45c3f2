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
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "smtp_client.h"
#include "smtp_client_priv.h"

/* smtp_dot_init - a message is about to start */
void smtp_dot_init(struct smtp_dot *d)
{
	d->bol = 1;
	d->cr = 0;
}

/* smtp_dot_encode - wire form of in[0..n): CRLF line ends, dots stuffed */
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
			continue;
		}
		if (ch == '\r') {
			*o++ = '\r';
			*o++ = '\n';
			d->cr = 1;
			d->bol = 1;
			continue;
		}
		if (ch == '.' && d->bol)
			*o++ = '.';
		*o++ = ch;
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
	return n + 3;
}

/* send_message - the message itself and the final dot; returns the code
 * of the final reply, or -1 (connection closed, res set) */
static int send_message(struct smtp_client *c, const struct smtp_tx *tx,
                        struct smtp_result *res)
{
	enum { CHUNK = (SMTP_CLIENT_OUT_MAX - 8) / 2 };
	struct smtp_dot d;
	char buf[8192];
	size_t off = 0;

	smtp_dot_init(&d);
	c->out_len = 0;
	for (;;) {
		const char *p;
		size_t n;

		if (tx->data) {
			p = tx->data + off;
			n = tx->len - off;
			if (n > CHUNK)
				n = CHUNK;
			off += n;
		} else {
			ssize_t r = read(tx->fd, buf, sizeof buf);

			if (r < 0 && errno == EINTR)
				continue;
			if (r < 0) {
				char eb[128];

				smtpc_local_result(res, SMTP_STAGE_DOT, ST_TEMP, 3, 0,
				             strerror_r(errno, eb, sizeof eb));
				/* Half a message is out: the connection is lost. */
				smtp_client_close(c);
				return -1;
			}
			p = buf;
			n = (size_t)r;
		}
		if (n == 0)
			break;
		if (c->out_len + 2 * n > CHUNK * 2 &&
		    smtpc_flush(c, SMTP_STAGE_DOT, c->to.block, res) < 0)
			return -1;
		c->out_len += smtp_dot_encode(&d, p, n, c->out + c->out_len);
	}
	c->out_len += smtp_dot_finish(&d, c->out + c->out_len);
	if (smtpc_flush(c, SMTP_STAGE_DOT, c->to.block, res) < 0)
		return -1;
	return smtpc_get_reply(c, SMTP_STAGE_DOT, c->to.dot, res);
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
	if (c->fd < 0) {
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
