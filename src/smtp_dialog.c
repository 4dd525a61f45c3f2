/* smtp_dialog.c - the client's SMTP/LMTP dialogue; see smtp_dialog.h
 *
 * The connection half of the engine: the greeting, EHLO (LHLO in LMTP)
 * and its HELO fallback, RSET, QUIT, the message body's output and a
 * lost connection; every reply comes in through on_reply(), which hands
 * those of a transaction to smtp_dialog_tx.c.  Both halves queue
 * commands and read results through smtp_dialog_wire.c.
 */
#include <errno.h>
#include <string.h>

#include "smtp_dialog.h"
#include "smtp_dialog_priv.h"

/* quit - say QUIT; the reply (or the server closing) ends the connection */
static void quit(struct smtp_dialog *d)
{
	sd_quit(d);
}

/* broken - a reply that ends the connection: a 421, a malformed one, or
 * one that answers nothing; -1 */
static int broken(struct smtp_dialog *d)
{
	struct smtp_reply *rp = &d->cur.reply;
	enum smtp_stage at = smtp_dialog_stage(d);

	if (rp->code == 421 && rp->error == SMTP_REPLY_OK) {
		smtp_result_from_reply(&d->cur, at, rp);
	} else {
		d->cur.stage = at;
		d->cur.st = status_make(ST_TEMP, 5, 0, "%s: %s: %s: %d %s", d->peer,
		                        smtp_stage_name(at),
		                        rp->error != SMTP_REPLY_OK ?
		                        smtp_reply_error_text(rp->error) :
		                        "a reply to no command", rp->code, rp->text);
	}
	d->state = SD_CLOSED;
	if (d->tx) {
		sd_fail_tx(d, &d->cur);
		sd_finish(d);
	} else {
		d->ops->note(d->ops->ctx, &d->cur);
	}
	return -1;
}

/* note_temp - the reply being handled refuses a command outside any
 * transaction (want: what it should have been): noted, as temporary */
static void note_temp(struct smtp_dialog *d, enum smtp_stage stage, int want)
{
	sd_cur_as(d, stage, want);
	d->cur.st.kind = ST_TEMP;
	d->ops->note(d->ops->ctx, &d->cur);
}

/* on_reply - one complete reply in d->cur.reply; 0, or -1 to close */
static int on_reply(struct smtp_dialog *d)
{
	const struct smtp_reply *r = &d->cur.reply;
	enum smtp_stage at = smtp_dialog_stage(d);

	d->replies++;
	if (d->tx)
		d->answered = 1;
	if (d->state == SD_QUIT) {
		smtp_result_from_reply(&d->cur, SMTP_STAGE_QUIT, r);
		return -1;                   /* whatever it said: done */
	}
	if (r->error != SMTP_REPLY_OK || r->code == 421 ||
	    d->state == SD_READY || (d->state == SD_TX && d->pend_n == 0))
		return broken(d);
	switch (d->state) {
	case SD_GREETING:
		if (!sd_is_class(r->code, 2))
			break;
		if (sd_put(d, "%s %s\r\n", d->mode == SMTP_DIALOG_LMTP ? "LHLO" :
		        "EHLO", d->helo) < 0)
			break;
		d->state = SD_EHLO;
		return 0;
	case SD_EHLO:
	case SD_HELO:
		if (sd_is_class(r->code, 2)) {
			d->ext = 0;
			d->size_max = 0;
			d->esmtp = d->state == SD_EHLO;
			if (d->esmtp)
				smtp_ehlo_parse(r, &d->ext, &d->size_max);
			d->state = SD_READY;
			if (d->starttls && !d->tls && (d->ext & SMTP_EXT_STARTTLS) &&
			    d->mode == SMTP_DIALOG_SMTP && sd_put(d, "STARTTLS\r\n") == 0)
				d->state = SD_STARTTLS;
			else if (d->auth_user != NULL && !d->authed)
				sd_auth_begin(d);  /* opened at its 235 */
			else
				d->opened = 1;   /* not before TLS is up, when it comes */
			return 0;
		}
		if (d->state == SD_EHLO && d->mode == SMTP_DIALOG_SMTP &&
		    sd_is_class(r->code, 5) && sd_put(d, "HELO %s\r\n", d->helo) == 0) {
			d->state = SD_HELO;
			return 0;
		}
		break;
	case SD_STARTTLS:
		if (r->code == 220) {
			d->state = SD_HANDSHAKE;
			return 0;
		}
		/* refused (454, 5xx): on in the clear, the refusal noted */
		note_temp(d, SMTP_STAGE_HELLO, 220);
		d->state = SD_READY;
		if (d->auth_user != NULL && !d->authed)
			sd_auth_begin(d);      /* in the clear: only if allowed */
		else
			d->opened = 1;
		return 0;
	case SD_AUTH:
		return sd_auth_reply(d);
	case SD_RSET:
		if (sd_is_class(r->code, 2)) {
			d->need_rset = 0;
			d->state = SD_READY;
			return 0;
		}
		note_temp(d, SMTP_STAGE_RSET, 250);
		d->state = SD_CLOSED;
		return -1;
	case SD_TX:
		return sd_tx_reply(d);
	case SD_BODY:
	case SD_DOT:
		return sd_dot_reply(d);
	default:
		return broken(d);
	}
	/* the greeting or the hello refused: say why, and leave */
	sd_cur_as(d, at, 250);
	if (at == SMTP_STAGE_GREETING && d->cur.st.kind == ST_TEMP &&
	    sd_is_class(r->code, 3))
		d->cur.st = status_make(ST_TEMP, 5, 0, "%d %s", r->code, r->text);
	d->ops->note(d->ops->ctx, &d->cur);
	quit(d);
	return 0;
}

/* smtp_dialog_start - a fresh connection: wait for the greeting */
void smtp_dialog_start(struct smtp_dialog *d, enum smtp_dialog_mode mode,
                       const struct smtp_dialog_ops *ops, const char *helo,
                       const char *peer)
{
	d->state = SD_GREETING;
	d->mode = mode;
	d->ops = ops;
	d->helo = helo;
	d->peer = peer;
	d->ext = 0;
	d->size_max = 0;
	d->esmtp = d->opened = d->need_rset = 0;
	d->starttls = d->tls = 0;
	d->auth_user = d->auth_pass = NULL;
	d->auth_insecure = d->auth_step = d->authed = 0;
	d->tx = NULL;
	d->replies = 0;
	d->pend_head = d->pend_n = 0;
	d->out_pos = d->out_len = 0;
	smtp_reply_init(&d->parser);
	smtp_reply_clear(&d->cur.reply);
}

/* smtp_dialog_use_starttls - STARTTLS when offered */
void smtp_dialog_use_starttls(struct smtp_dialog *d)
{
	d->starttls = 1;
}

/* smtp_dialog_tls_implicit - TLS from the first byte: nothing to ask */
void smtp_dialog_tls_implicit(struct smtp_dialog *d)
{
	if (d->state == SD_GREETING)
		d->tls = 1;
}

/* smtp_dialog_tls_wanted - the handshake is the driver's turn */
int smtp_dialog_tls_wanted(const struct smtp_dialog *d)
{
	return d->state == SD_HANDSHAKE;
}

/* smtp_dialog_tls_started - TLS is up: EHLO again, nothing of the first
 * one kept (RFC 3207 4.2) */
void smtp_dialog_tls_started(struct smtp_dialog *d)
{
	if (d->state != SD_HANDSHAKE)
		return;
	d->tls = 1;
	d->ext = 0;
	d->size_max = 0;
	d->esmtp = 0;
	smtp_reply_init(&d->parser);
	d->out_pos = d->out_len = 0;
	if (sd_put(d, "EHLO %s\r\n", d->helo) < 0) {
		d->state = SD_CLOSED;
		return;
	}
	d->state = SD_EHLO;
}

/* smtp_dialog_tls_failed - the handshake failed: noted, closed */
void smtp_dialog_tls_failed(struct smtp_dialog *d, const char *why)
{
	if (d->state == SD_CLOSED)
		return;
	smtp_reply_clear(&d->cur.reply);
	d->cur.stage = SMTP_STAGE_HELLO;
	d->cur.st = status_make(ST_TEMP, 7, 5, "%s: TLS handshake: %s", d->peer, why);
	d->state = SD_CLOSED;
	d->ops->note(d->ops->ctx, &d->cur);
}

/* smtp_dialog_input - the server's bytes, in any fragments; nothing past
 * the 220 to STARTTLS (it came in the clear before the handshake) */
int smtp_dialog_input(struct smtp_dialog *d, const char *buf, size_t n)
{
	while (n > 0 && d->state != SD_CLOSED && d->state != SD_HANDSHAKE) {
		size_t used;

		if (!smtp_reply_feed(&d->parser, buf, n, &used, &d->cur.reply))
			return 0;
		buf += used;
		n -= used;
		if (on_reply(d) < 0) {
			d->state = SD_CLOSED;
			return -1;
		}
	}
	return d->state == SD_CLOSED ? -1 : 0;
}

/* smtp_dialog_output - what is to be written */
void smtp_dialog_output(struct smtp_dialog *d, const char **p, size_t *n)
{
	*p = d->out + d->out_pos;
	*n = d->out_len - d->out_pos;
}

/* smtp_dialog_wrote - n bytes of the output went out */
void smtp_dialog_wrote(struct smtp_dialog *d, size_t n)
{
	d->out_pos += n;
	if (d->out_pos >= d->out_len)
		d->out_pos = d->out_len = 0;
}

/* smtp_dialog_ready - idle after the hello */
int smtp_dialog_ready(const struct smtp_dialog *d)
{
	return d->state == SD_READY;
}

/* smtp_dialog_rset - RSET now */
int smtp_dialog_rset(struct smtp_dialog *d)
{
	if (d->state != SD_READY || sd_put(d, "RSET\r\n") < 0)
		return -1;
	d->state = SD_RSET;
	return 0;
}

/* smtp_dialog_quit - QUIT */
void smtp_dialog_quit(struct smtp_dialog *d)
{
	if (d->state != SD_CLOSED && d->state != SD_QUIT)
		quit(d);
}

/* smtp_dialog_wants_body - the message is to be pushed now */
int smtp_dialog_wants_body(const struct smtp_dialog *d)
{
	return d->state == SD_BODY;
}

/* smtp_dialog_body_room - input bytes whose wire form (and the dot
 * after them) fit in what is left of the output buffer */
size_t smtp_dialog_body_room(const struct smtp_dialog *d)
{
	size_t room = sizeof d->out - (d->out_len - d->out_pos), n;

	if (d->state != SD_BODY || room < 16)
		return 0;
	n = (room - 8) / 2 * (SMTP_LINE_MAX - 1) / (SMTP_LINE_MAX + 1);
	while (n > 0 && SMTP_DOT_OUT_MAX(n) + 5 > room)
		n--;
	return n;
}

/* smtp_dialog_body - message bytes, dot-encoded into the output */
void smtp_dialog_body(struct smtp_dialog *d, const char *p, size_t n)
{
	sd_compact(d);
	d->out_len += smtp_dot_encode(&d->dot, p, n, d->out + d->out_len);
}

/* smtp_dialog_body_end - the final dot */
void smtp_dialog_body_end(struct smtp_dialog *d)
{
	sd_compact(d);
	d->out_len += smtp_dot_finish(&d->dot, d->out + d->out_len);
	d->body_done = 1;
	d->state = SD_DOT;
}

/* smtp_dialog_lost - the connection broke: report what was under way */
void smtp_dialog_lost(struct smtp_dialog *d, int err, int timeout_ms)
{
	enum smtp_stage at = smtp_dialog_stage(d);
	const char *what = smtp_stage_name(at);
	struct status st;
	char eb[128];

	if (d->state == SD_CLOSED || d->state == SD_QUIT) {
		d->state = SD_CLOSED;
		return;
	}
	if (err == ETIMEDOUT)
		st = status_make(ST_TEMP, 4, 2, "%s: %s: no answer within %d s",
		                 d->peer, what, timeout_ms / 1000);
	else if (err == ECANCELED)
		st = status_make(ST_TEMP, 4, 0, "%s: %s: given up: interrupted",
		                 d->peer, what);
	else if (err == EAGAIN)
		st = status_make(ST_TEMP, 4, 2, "%s: %s: the server took nothing "
		                 "more for %d s", d->peer, what, timeout_ms / 1000);
	else if (err == 0)
		st = status_make(ST_TEMP, 4, 2, "%s: %s: connection closed by the "
		                 "server", d->peer, what);
	else
		st = status_make(ST_TEMP, 4, 2, "%s: %s: %s", d->peer, what,
		                 strerror_r(err, eb, sizeof eb));
	smtp_reply_clear(&d->cur.reply);
	d->cur.stage = at;
	d->cur.st = st;
	d->state = SD_CLOSED;
	if (d->tx) {
		d->have_res = 1;
		d->res = d->cur;         /* the loss decides, whatever came before */
		sd_finish(d);
	} else {
		d->ops->note(d->ops->ctx, &d->cur);
	}
}

/* smtp_dialog_timeout - the limit on the current wait */
int smtp_dialog_timeout(const struct smtp_dialog *d,
                        const struct smtp_timeouts *to)
{
	switch (smtp_dialog_stage(d)) {
	case SMTP_STAGE_GREETING: return to->greeting;
	case SMTP_STAGE_HELLO:
	case SMTP_STAGE_AUTH:     return to->hello;
	case SMTP_STAGE_MAIL:     return to->mail;
	case SMTP_STAGE_RCPT:     return to->rcpt;
	case SMTP_STAGE_DATA:     return to->data;
	case SMTP_STAGE_DOT:
		return d->state == SD_BODY || d->out_pos < d->out_len ?
		       to->block : to->dot;
	default:                  return to->other;
	}
}
