/* gun_dialog.c - one mail-gun session's SMTP dialogue; see gun_dialog.h
 *
 * Replies come back in the order their commands went out, so the
 * dialogue keeps a queue, pend[], of what each reply in flight answers.
 * Commands are queued only when that queue is empty: a whole pipelined
 * group at once, or one command at a time without PIPELINING.  When the
 * last reply of a group has been read, queue_more() decides what goes
 * next; when nothing does, the transaction is over and finish() reports
 * it, then the next message is taken.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "gun_dialog.h"

/* stage - what the reply being waited for answers, for the texts */
static enum smtp_stage stage(const struct gun_dialog *d)
{
	switch (d->state) {
	case GD_GREETING: return SMTP_STAGE_GREETING;
	case GD_EHLO:
	case GD_HELO:     return SMTP_STAGE_HELLO;
	case GD_BODY:     return SMTP_STAGE_DOT;
	case GD_QUIT:     return SMTP_STAGE_QUIT;
	case GD_CLOSED:   return SMTP_STAGE_NONE;
	case GD_TX:       break;
	}
	if (d->pend_n == 0)
		return SMTP_STAGE_MAIL;
	switch (d->pend[d->pend_head]) {
	case GP_RSET:  return SMTP_STAGE_RSET;
	case GP_MAIL:  return SMTP_STAGE_MAIL;
	case GP_RCPT:  return SMTP_STAGE_RCPT;
	case GP_DATA:  return SMTP_STAGE_DATA;
	case GP_DOT:
	case GP_EMPTY: return SMTP_STAGE_DOT;
	}
	return SMTP_STAGE_NONE;
}

/* put - queue a command; -1 when it does not fit (cannot happen with
 * commands of the sizes GUN_DIALOG_OUT_MAX allows for) */
static int put(struct gun_dialog *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int put(struct gun_dialog *d, const char *fmt, ...)
{
	size_t room;
	va_list ap;
	int n;

	if (d->out_pos > 0) {            /* keep what is unsent at the front */
		memmove(d->out, d->out + d->out_pos, d->out_len - d->out_pos);
		d->out_len -= d->out_pos;
		d->out_pos = 0;
	}
	room = sizeof d->out - d->out_len;
	va_start(ap, fmt);
	n = vsnprintf(d->out + d->out_len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		return -1;
	d->out_len += (size_t)n;
	return 0;
}

/* expect - a reply to what was just queued will come */
static void expect(struct gun_dialog *d, enum gun_pending what)
{
	if (d->pend_n == 0)
		d->pend_head = 0;
	d->pend[d->pend_head + d->pend_n++] = what;
}

/* is_reply_class - does code belong to the class of want (2 for 2xx) */
static int is_reply_class(int code, int want)
{
	return code / 100 == want;
}

/* temp_unless_perm - a reply that is not what the command wanted: its
 * status, made temporary when the server did not refuse for good */
static struct status temp_unless_perm(const struct smtp_reply *r)
{
	struct status st = smtp_reply_status(r);

	if (st.kind == ST_OK)
		st.kind = ST_TEMP;
	return st;
}

/* fail_tx - the transaction failed as st says (the first reason wins) */
static void fail_tx(struct gun_dialog *d, const struct status *st)
{
	if (!d->have_fail) {
		d->tx_fail = *st;
		d->have_fail = 1;
	}
}

/* refuse_rcpt - recipient refused: temporary or for good */
static void refuse_rcpt(struct gun_dialog *d, const struct status *st)
{
	if (st->kind == ST_PERM && !d->have_perm) {
		d->rcpt_perm = *st;
		d->have_perm = 1;
	} else if (st->kind != ST_PERM && !d->have_temp) {
		d->rcpt_temp = *st;
		d->have_temp = 1;
	}
}

/* report - hand one message's outcome to the feed */
static void report(struct gun_dialog *d, enum gun_outcome o,
                   const struct status *why)
{
	long long lat = -1;

	if (o != GUN_FAILED && d->answered)
		lat = (long long)(d->feed->now_us(d->feed->ctx) - d->t0_us);
	d->feed->done(d->feed->ctx, d->idx, o, o == GUN_SENT ? NULL : why, lat);
	d->msg = NULL;
}

/* finish - the transaction is over: report the message */
static void finish(struct gun_dialog *d)
{
	if (d->mail == 1 && !d->data_354)
		d->need_rset = 1;        /* MAIL accepted, no message sent */
	if (d->have_temp)
		report(d, GUN_FAILED, &d->rcpt_temp);
	else if (d->have_fail)
		report(d, d->tx_fail.kind == ST_PERM ? GUN_REFUSED : GUN_FAILED,
		       &d->tx_fail);
	else if (d->have_perm)
		report(d, GUN_REFUSED, &d->rcpt_perm);
	else if (d->accepted == 0) {
		struct status st = status_make(ST_TEMP, 5, 0,
		                               "no recipient was answered");

		report(d, GUN_FAILED, &st);
	} else
		report(d, GUN_SENT, NULL);
}

/* local_refusal - a message refused here, before any command */
static void local_refusal(struct gun_dialog *d, enum gun_outcome o,
                          struct status st)
{
	d->answered = 0;
	report(d, o, &st);
}

/* quit - say QUIT; the reply (or the server closing) ends the connection */
static void quit(struct gun_dialog *d)
{
	if (put(d, "QUIT\r\n") < 0)
		d->out_len = d->out_pos = 0;
	d->state = GD_QUIT;
}

/* queue_rcpts - RCPTs until pend[] holds cap replies or none is left */
static void queue_rcpts(struct gun_dialog *d, size_t cap)
{
	const struct gun_msg *m = d->msg;

	while (d->next_rcpt < m->nrcpt && d->pend_n < cap) {
		const char *r = m->rcpt[d->next_rcpt];

		if (!smtp_rcpt_ok(r) || put(d, "RCPT TO:<%s>\r\n", r) < 0) {
			struct status st = status_make(ST_PERM, 1, 3,
			                    "bad recipient address syntax");

			refuse_rcpt(d, &st);
			d->next_rcpt++;
			continue;
		}
		expect(d, GP_RCPT);
		d->next_rcpt++;
		d->queued++;
	}
}

/* queue_mail - [RSET] MAIL FROM with its parameters; 0 or -1 */
static int queue_mail(struct gun_dialog *d)
{
	const struct gun_msg *m = d->msg;

	if (d->need_rset) {
		if (put(d, "RSET\r\n") < 0)
			return -1;
		expect(d, GP_RSET);
		d->need_rset = 0;
		if (!(d->ext & SMTP_EXT_PIPELINING))
			return 0;            /* MAIL after the RSET's reply */
	}
	if (put(d, "MAIL FROM:<%s>", m->sender) < 0 ||
	    ((d->ext & SMTP_EXT_SIZE) && m->len > 0 &&
	     put(d, " SIZE=%zu", m->len) < 0) ||
	    (m->body_8bit && (d->ext & SMTP_EXT_8BITMIME) &&
	     put(d, " BODY=8BITMIME") < 0) ||
	    put(d, "\r\n") < 0)
		return -1;
	expect(d, GP_MAIL);
	d->mail_queued = 1;
	return 0;
}

/* queue_more - the next command or group of the transaction, when pend[]
 * is empty; returns 1 when something was queued, 0 when it is over, -1
 * when a command cannot be written (the connection must go) */
static int queue_more(struct gun_dialog *d)
{
	int pipe = (d->ext & SMTP_EXT_PIPELINING) != 0;

	if (!d->mail_queued) {
		if (queue_mail(d) < 0)
			return -1;
		if (!pipe)
			return 1;            /* RSET or MAIL, alone */
	} else if (d->mail != 1) {
		return 0;                /* MAIL refused: nothing more */
	}
	queue_rcpts(d, pipe ? SMTP_CLIENT_RCPT_GROUP + 2 : 1);
	if (!d->data_queued && d->next_rcpt == d->msg->nrcpt &&
	    (pipe ? d->queued > 0 : d->pend_n == 0 && d->accepted > 0)) {
		if (put(d, "DATA\r\n") < 0)
			return -1;
		expect(d, GP_DATA);
		d->data_queued = 1;
	}
	return d->pend_n > 0;
}

/* next_tx - take messages until one goes out, or QUIT when none is left */
static int next_tx(struct gun_dialog *d)
{
	const struct gun_msg *m;

	for (;;) {
		if (d->feed->take(d->feed->ctx, &m, &d->idx) < 0) {
			d->finished = 1;
			quit(d);
			return 0;
		}
		d->msg = m;
		d->answered = 0;
		if (m->nrcpt == 0) {
			local_refusal(d, GUN_FAILED, status_make(ST_PERM, 5, 1,
			              "a message without recipients"));
			continue;
		}
		if (!smtp_text_ok(m->sender, SMTP_CLIENT_ADDR_MAX)) {
			local_refusal(d, GUN_REFUSED, status_make(ST_PERM, 1, 7,
			              "bad sender address syntax"));
			continue;
		}
		if ((d->ext & SMTP_EXT_SIZE) && d->size_max > 0 &&
		    m->len > d->size_max) {
			local_refusal(d, GUN_REFUSED, status_make(ST_PERM, 3, 4,
			              "message size %zu exceeds the server's limit "
			              "of %llu", m->len, d->size_max));
			continue;
		}
		break;
	}
	d->mail = -1;
	d->mail_queued = d->data_queued = d->data_354 = d->body_done = 0;
	d->next_rcpt = d->accepted = d->queued = 0;
	d->have_temp = d->have_perm = d->have_fail = 0;
	d->pend_head = d->pend_n = 0;
	d->t0_us = d->feed->now_us(d->feed->ctx);
	d->state = GD_TX;
	if (queue_more(d) < 0) {
		struct status st = status_make(ST_TEMP, 3, 0, "command too long");

		fail_tx(d, &st);
		finish(d);
		d->state = GD_CLOSED;
		return -1;
	}
	return 0;
}

/* after_data - the reply to DATA */
static int after_data(struct gun_dialog *d, const struct smtp_reply *r)
{
	if (r->code == 354 && d->mail == 1 && d->accepted > 0) {
		d->data_354 = 1;
		d->body_off = 0;
		smtp_dot_init(&d->dot);
		expect(d, GP_DOT);
		d->state = GD_BODY;
		return 0;
	}
	if (r->code == 354) {
		/* pipelined, and nobody to send to: an empty message ends it */
		d->data_354 = 1;
		if (put(d, ".\r\n") < 0)
			return -1;
		expect(d, GP_EMPTY);
		return 0;
	}
	if (d->mail == 1 && d->accepted > 0) {
		struct status st = temp_unless_perm(r);

		fail_tx(d, &st);
	}
	return 0;
}

/* tx_reply - a reply inside a transaction; 0, or -1 to close */
static int tx_reply(struct gun_dialog *d, const struct smtp_reply *r)
{
	enum gun_pending what = d->pend[d->pend_head];
	struct status st;

	d->pend_head++;
	d->pend_n--;
	d->answered = 1;
	switch (what) {
	case GP_RSET:
		if (!is_reply_class(r->code, 2)) {
			st = temp_unless_perm(r);
			st.kind = ST_TEMP;   /* the session's trouble, not the message's */
			fail_tx(d, &st);
			finish(d);
			return -1;
		}
		break;
	case GP_MAIL:
		d->mail = is_reply_class(r->code, 2);
		if (!d->mail) {
			st = temp_unless_perm(r);
			fail_tx(d, &st);
		}
		break;
	case GP_RCPT:
		if (d->mail == 0)
			break;                /* MAIL's refusal says it all */
		if (is_reply_class(r->code, 2)) {
			d->accepted++;
		} else {
			st = temp_unless_perm(r);
			refuse_rcpt(d, &st);
		}
		break;
	case GP_DATA:
		if (after_data(d, r) < 0) {
			st = status_make(ST_TEMP, 3, 0, "command too long");
			fail_tx(d, &st);
			finish(d);
			return -1;
		}
		break;
	case GP_DOT:
		if (!d->body_done || d->out_pos < d->out_len) {
			/* an answer before the end: the rest cannot follow */
			st = temp_unless_perm(r);
			if (is_reply_class(r->code, 2))
				st = status_make(ST_TEMP, 5, 0, "%s: a reply before the "
				                 "end of the message: %d %s", d->peer,
				                 r->code, r->text);
			fail_tx(d, &st);
			finish(d);
			return -1;
		}
		if (!is_reply_class(r->code, 2)) {
			st = temp_unless_perm(r);
			fail_tx(d, &st);
		}
		d->state = GD_TX;
		break;
	case GP_EMPTY:
		break;
	}
	if (d->pend_n > 0)
		return 0;
	switch (queue_more(d)) {
	case 1:
		return 0;
	case 0:
		finish(d);
		return next_tx(d);
	default:
		st = status_make(ST_TEMP, 3, 0, "command too long");
		fail_tx(d, &st);
		finish(d);
		return -1;
	}
}

/* on_reply - one complete reply; 0, or -1 to close */
static int on_reply(struct gun_dialog *d, const struct smtp_reply *r)
{
	struct status st;

	d->replies++;
	if (d->state == GD_QUIT)
		return -1;                   /* whatever it said: done */
	if (r->error != SMTP_REPLY_OK || r->code == 421 ||
	    (d->state == GD_TX && d->pend_n == 0)) {
		if (r->code == 421 && r->error == SMTP_REPLY_OK)
			st = smtp_reply_status(r);
		else
			st = status_make(ST_TEMP, 5, 0, "%s: %s: %s: %d %s", d->peer,
			                 smtp_stage_name(stage(d)),
			                 r->error != SMTP_REPLY_OK ?
			                 smtp_reply_error_text(r->error) :
			                 "a reply to no command", r->code, r->text);
		if (d->msg) {
			fail_tx(d, &st);
			finish(d);
		} else {
			d->feed->note(d->feed->ctx, &st);
		}
		return -1;
	}
	switch (d->state) {
	case GD_GREETING:
		if (!is_reply_class(r->code, 2))
			break;
		if (put(d, "EHLO %s\r\n", d->helo) < 0)
			break;
		d->state = GD_EHLO;
		return 0;
	case GD_EHLO:
	case GD_HELO:
		if (is_reply_class(r->code, 2)) {
			d->ext = 0;
			d->size_max = 0;
			if (d->state == GD_EHLO)
				smtp_ehlo_parse(r, &d->ext, &d->size_max);
			d->opened = 1;
			return next_tx(d);
		}
		if (d->state == GD_EHLO && is_reply_class(r->code, 5) &&
		    put(d, "HELO %s\r\n", d->helo) == 0) {
			d->state = GD_HELO;
			return 0;
		}
		break;
	case GD_TX:
	case GD_BODY:
		return tx_reply(d, r);
	case GD_QUIT:
	case GD_CLOSED:
		return -1;
	}
	/* the greeting or the hello refused: say why, and leave */
	st = temp_unless_perm(r);
	st.kind = ST_TEMP;
	d->feed->note(d->feed->ctx, &st);
	quit(d);
	return 0;
}

/* gun_dialog_start - a fresh connection: wait for the greeting */
void gun_dialog_start(struct gun_dialog *d, const struct gun_feed *feed,
                      const char *helo, const char *peer)
{
	d->state = GD_GREETING;
	d->feed = feed;
	d->helo = helo;
	d->peer = peer;
	d->ext = 0;
	d->size_max = 0;
	d->opened = d->finished = d->need_rset = 0;
	d->msg = NULL;
	d->replies = 0;
	d->pend_head = d->pend_n = 0;
	d->out_pos = d->out_len = 0;
	smtp_reply_init(&d->parser);
}

/* gun_dialog_input - the server's bytes, in any fragments */
int gun_dialog_input(struct gun_dialog *d, const char *buf, size_t n)
{
	while (n > 0 && d->state != GD_CLOSED) {
		size_t used;

		if (!smtp_reply_feed(&d->parser, buf, n, &used, &d->reply))
			return 0;
		buf += used;
		n -= used;
		if (on_reply(d, &d->reply) < 0) {
			d->state = GD_CLOSED;
			return -1;
		}
	}
	return d->state == GD_CLOSED ? -1 : 0;
}

/* gun_dialog_output - commands first; then the message, a chunk at a time */
void gun_dialog_output(struct gun_dialog *d, const char **p, size_t *n)
{
	if (d->out_pos == d->out_len && d->state == GD_BODY && !d->body_done) {
		const struct gun_msg *m = d->msg;
		size_t len = m->len - d->body_off;

		if (len > GUN_DIALOG_CHUNK)
			len = GUN_DIALOG_CHUNK;
		d->out_pos = 0;
		d->out_len = smtp_dot_encode(&d->dot, m->data + d->body_off, len,
		                             d->out);
		d->body_off += len;
		if (d->body_off == m->len) {
			d->out_len += smtp_dot_finish(&d->dot, d->out + d->out_len);
			d->body_done = 1;
		}
	}
	*p = d->out + d->out_pos;
	*n = d->out_len - d->out_pos;
}

/* gun_dialog_wrote - n bytes of the output went out */
void gun_dialog_wrote(struct gun_dialog *d, size_t n)
{
	d->out_pos += n;
	if (d->out_pos >= d->out_len)
		d->out_pos = d->out_len = 0;
}

/* gun_dialog_lost - the connection broke: report what was under way */
void gun_dialog_lost(struct gun_dialog *d, int err, int timeout_ms)
{
	enum smtp_stage at = stage(d);
	struct status st;
	char eb[128];

	if (d->state == GD_CLOSED || d->state == GD_QUIT) {
		d->state = GD_CLOSED;
		return;
	}
	if (err == ETIMEDOUT)
		st = status_make(ST_TEMP, 4, 2, "%s: %s: no answer within %d s",
		                 d->peer, smtp_stage_name(at), timeout_ms / 1000);
	else if (err == ECANCELED)
		st = status_make(ST_TEMP, 4, 0, "%s: %s: given up: interrupted",
		                 d->peer, smtp_stage_name(at));
	else if (err == EAGAIN)
		st = status_make(ST_TEMP, 4, 2, "%s: %s: the server took nothing "
		                 "more for %d s", d->peer, smtp_stage_name(at),
		                 timeout_ms / 1000);
	else if (err == 0)
		st = status_make(ST_TEMP, 4, 2, "%s: %s: connection closed by the "
		                 "server", d->peer, smtp_stage_name(at));
	else
		st = status_make(ST_TEMP, 4, 2, "%s: %s: %s", d->peer,
		                 smtp_stage_name(at), strerror_r(err, eb, sizeof eb));
	if (d->msg) {
		d->have_fail = 1;
		d->tx_fail = st;         /* the loss decides, whatever came before */
		finish(d);
	} else {
		d->feed->note(d->feed->ctx, &st);
	}
	d->state = GD_CLOSED;
}

/* gun_dialog_timeout - the limit on the current wait */
int gun_dialog_timeout(const struct gun_dialog *d,
                       const struct smtp_timeouts *to)
{
	switch (stage(d)) {
	case SMTP_STAGE_GREETING: return to->greeting;
	case SMTP_STAGE_HELLO:    return to->hello;
	case SMTP_STAGE_MAIL:     return to->mail;
	case SMTP_STAGE_RCPT:     return to->rcpt;
	case SMTP_STAGE_DATA:     return to->data;
	case SMTP_STAGE_DOT:
		return d->state == GD_BODY && !d->body_done ? to->block : to->dot;
	default:                  return to->other;
	}
}

/* gun_dialog_finished - the feed ran dry */
int gun_dialog_finished(const struct gun_dialog *d)
{
	return d->finished;
}

/* gun_dialog_busy - a message is under way */
int gun_dialog_busy(const struct gun_dialog *d)
{
	return d->msg != NULL;
}

/* gun_dialog_replies - complete replies read so far */
unsigned long gun_dialog_replies(const struct gun_dialog *d)
{
	return d->replies;
}

/* gun_dialog_opened - EHLO or HELO was accepted */
int gun_dialog_opened(const struct gun_dialog *d)
{
	return d->opened;
}
