/* smtp_dialog_tx.c - the transaction half of the client engine; see
 * smtp_dialog.h
 *
 * Replies come back in the order their commands went out, so the
 * dialogue keeps a queue, pend[], of what each reply in flight answers.
 * Commands are queued only when that queue is empty: a whole pipelined
 * group at once, or one command at a time without PIPELINING.  When the
 * last reply of a group has been read, queue_more() decides what goes
 * next; when nothing does, the transaction is over and sd_finish()
 * reports it.  After DATA's 354 the driver pushes the message (SD_BODY);
 * after its dot come the final reply, or in LMTP one per accepted
 * recipient (SD_DOT).
 */
#include <stdio.h>
#include <string.h>

#include "smtp_dialog.h"
#include "smtp_dialog_priv.h"

/* fail_tx - the transaction failed as r says (the first reason wins) */
void sd_fail_tx(struct smtp_dialog *d, const struct smtp_result *r)
{
	if (!d->have_res) {
		d->res = *r;
		d->have_res = 1;
	}
}

/* fate - recipient i is decided */
static void fate(struct smtp_dialog *d, size_t i, const struct smtp_result *r)
{
	if (i < SMTP_DIALOG_RCPT_MAX)
		d->rstate[i] = R_DONE;
	d->ops->rcpt(d->ops->ctx, i, r);
}

/* refused - recipient i refused: its fate, and the worst so far */
static void refused(struct smtp_dialog *d, size_t i, const struct smtp_result *r)
{
	if (r->st.kind == ST_PERM && !d->have_perm) {
		d->first_perm = *r;
		d->have_perm = 1;
	} else if (r->st.kind != ST_PERM && !d->have_temp) {
		d->first_temp = *r;
		d->have_temp = 1;
	}
	if (i != (size_t)-1)
		fate(d, i, r);
}

/* finish - the transaction is over: every recipient's fate, then its
 * result; the dialogue is ready again */
void sd_finish(struct smtp_dialog *d)
{
	const struct smtp_tx *tx = d->tx;
	size_t i, n = tx->nrcpt < SMTP_DIALOG_RCPT_MAX ? tx->nrcpt :
	              SMTP_DIALOG_RCPT_MAX;

	if (d->mail == 1 && !d->data_354)
		d->need_rset = 1;        /* MAIL accepted, no message sent */
	if (!d->have_res && (d->accepted == 0 ||
	    (d->mode == SMTP_DIALOG_LMTP && d->lmtp_ok == 0))) {
		if (d->have_temp)
			d->res = d->first_temp;
		else if (d->have_perm)
			d->res = d->first_perm;
		else
			smtp_result_local(&d->res, SMTP_STAGE_RCPT, ST_TEMP, 5, 0,
			                  "no recipient was answered");
		d->have_res = 1;
	}
	for (i = 0; i < n; i++)
		if (d->rstate[i] != R_DONE)
			fate(d, i, &d->res);
	/* past the limit, those queue_rcpts never reached */
	for (i = n > d->next_rcpt ? n : d->next_rcpt; i < tx->nrcpt; i++)
		fate(d, i, &d->res);
	d->tx = NULL;
	if (d->state != SD_CLOSED && d->state != SD_QUIT)
		d->state = SD_READY;
	d->ops->done(d->ops->ctx, &d->res, d->answered);
}

/* queue_rcpts - RCPTs until pend[] holds cap replies or none is left */
static void queue_rcpts(struct smtp_dialog *d, size_t cap)
{
	const struct smtp_tx *tx = d->tx;
	/* one sd_put per command: a refused one leaves no half line */
	int dsn = (d->ext & SMTP_EXT_DSN) != 0;

	while (d->next_rcpt < tx->nrcpt && d->pend_n < cap) {
		size_t i = d->next_rcpt++;
		const char *r = tx->rcpt[i];
		const char *notify = !dsn ? NULL : tx->dsn_rcpt_notify &&
		                     tx->dsn_rcpt_notify[i] ? tx->dsn_rcpt_notify[i]
		                     : tx->dsn_notify;
		const char *orcpt = dsn && tx->dsn_orcpt ? tx->dsn_orcpt[i] : NULL;

		if (i >= SMTP_DIALOG_RCPT_MAX)
			refused(d, i, sd_local(d, SMTP_STAGE_RCPT, ST_TEMP, 5, 3,
			        "too many recipients in one transaction"));
		else if (!smtp_rcpt_ok(r) ||
		         sd_put(d, "RCPT TO:<%s>%s%s%s%s\r\n", r,
		                notify ? " NOTIFY=" : "", notify ? notify : "",
		                orcpt ? " ORCPT=" : "", orcpt ? orcpt : "") < 0)
			refused(d, i, sd_local(d, SMTP_STAGE_RCPT, ST_PERM, 1, 3,
			        "bad recipient address syntax"));
		else {
			sd_expect(d, SP_RCPT);
			d->pend_idx[d->pend_head + d->pend_n - 1] = i;
			d->queued++;
		}
	}
}

/* queue_mail - [RSET] MAIL FROM with its parameters; 0 or -1 */
static int queue_mail(struct smtp_dialog *d)
{
	const struct smtp_tx *tx = d->tx;

	if (d->need_rset) {
		if (sd_put(d, "RSET\r\n") < 0)
			return -1;
		sd_expect(d, SP_RSET);
		d->need_rset = 0;
		if (!(d->ext & SMTP_EXT_PIPELINING))
			return 0;            /* MAIL after the RSET's reply */
	}
	if (sd_put(d, "MAIL FROM:<%s>", tx->sender) < 0 ||
	    ((d->ext & SMTP_EXT_SIZE) && d->size > 0 &&
	     sd_put(d, " SIZE=%llu", d->size) < 0) ||
	    (tx->body_8bit && (d->ext & SMTP_EXT_8BITMIME) &&
	     sd_put(d, " BODY=8BITMIME") < 0) ||
	    (tx->dsn_ret && (d->ext & SMTP_EXT_DSN) &&
	     sd_put(d, " RET=%s", tx->dsn_ret) < 0) ||
	    (tx->dsn_envid && (d->ext & SMTP_EXT_DSN) &&
	     sd_put(d, " ENVID=%s", tx->dsn_envid) < 0) ||
	    sd_put(d, "\r\n") < 0)
		return -1;
	sd_expect(d, SP_MAIL);
	d->mail_queued = 1;
	return 0;
}

/* queue_more - the next command or group of the transaction, when pend[]
 * is empty; returns 1 when something was queued, 0 when it is over, -1
 * when a command cannot be written (the connection must go) */
static int queue_more(struct smtp_dialog *d)
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
	queue_rcpts(d, pipe ? SMTP_DIALOG_RCPT_GROUP + 2 : 1);
	if (!d->data_queued && d->next_rcpt == d->tx->nrcpt &&
	    (pipe ? d->queued > 0 : d->pend_n == 0 && d->accepted > 0)) {
		if (sd_put(d, "DATA\r\n") < 0)
			return -1;
		sd_expect(d, SP_DATA);
		d->data_queued = 1;
	}
	return d->pend_n > 0;
}

/* too_long - a command that cannot be written: the connection goes */
static int too_long(struct smtp_dialog *d)
{
	sd_fail_tx(d, sd_local(d, smtp_dialog_stage(d), ST_TEMP, 3, 0,
	                 "command too long"));
	d->state = SD_CLOSED;
	sd_finish(d);
	return -1;
}

/* smtp_dialog_send - start a transaction */
int smtp_dialog_send(struct smtp_dialog *d, const struct smtp_tx *tx)
{
	const struct smtp_result *why = NULL;
	char text[128];
	size_t i;

	unsigned long long size = tx->size ? tx->size : tx->data ? tx->len : 0;

	if (d->state != SD_READY)
		why = sd_local(d, SMTP_STAGE_MAIL, ST_TEMP, 4, 2, "not connected");
	else if (tx->nrcpt == 0)
		why = sd_local(d, SMTP_STAGE_MAIL, ST_PERM, 5, 1, "no recipients");
	else if (!smtp_text_ok(tx->sender, SMTP_ADDR_MAX))
		why = sd_local(d, SMTP_STAGE_MAIL, ST_PERM, 1, 7,
		            "bad sender address syntax");
	else if ((d->ext & SMTP_EXT_SIZE) && d->size_max > 0 &&
	         size > d->size_max) {
		snprintf(text, sizeof text, "message size %llu exceeds the "
		         "server's limit of %llu", size, d->size_max);
		why = sd_local(d, SMTP_STAGE_MAIL, ST_PERM, 3, 4, text);
	}
	if (why) {
		struct smtp_result r = *why;

		for (i = 0; i < tx->nrcpt; i++)
			d->ops->rcpt(d->ops->ctx, i, &r);
		d->ops->done(d->ops->ctx, &r, 0);
		return -1;
	}
	d->tx = tx;
	d->size = size;
	d->answered = 0;
	d->have_res = d->have_temp = d->have_perm = 0;
	memset(d->rstate, 0, sizeof d->rstate);
	d->mail = -1;
	d->mail_queued = d->data_queued = d->data_354 = d->body_done = 0;
	d->next_rcpt = d->accepted = d->queued = 0;
	d->lmtp_next = d->lmtp_ok = d->lmtp_replies = 0;
	d->pend_head = d->pend_n = 0;
	d->state = SD_TX;
	if (queue_more(d) < 0)
		return too_long(d);
	return 0;
}

/* after_data - the reply to DATA; 0, or -1 when the connection must go */
static int after_data(struct smtp_dialog *d)
{
	const struct smtp_result *r = sd_cur_as(d, SMTP_STAGE_DATA, 354);

	if (r->reply.code == 354 && d->mail == 1 && d->accepted > 0) {
		d->data_354 = 1;
		smtp_dot_init(&d->dot);
		d->dot.split = !d->tx->long_lines;
		d->state = SD_BODY;
		return 0;
	}
	if (r->reply.code == 354) {
		/* pipelined, and nobody to send to: an empty message ends it */
		d->data_354 = 1;
		if (sd_put(d, ".\r\n") < 0)
			return -1;
		sd_expect(d, SP_EMPTY);
		return 0;
	}
	if (d->mail == 1 && d->accepted > 0)
		sd_fail_tx(d, r);
	return 0;
}

/* dot_reply - a reply after the message; 0, or -1 to close */
int sd_dot_reply(struct smtp_dialog *d)
{
	const struct smtp_result *r = sd_cur_as(d, SMTP_STAGE_DOT, 250);

	if (d->state == SD_BODY || d->out_pos < d->out_len) {
		/* an answer before the end: the rest cannot follow */
		if (sd_is_class(r->reply.code, 2)) {
			char text[SMTP_REPLY_TEXT_MAX + 100];

			snprintf(text, sizeof text, "%s: a reply before the end of "
			         "the message: %d %s", d->peer, r->reply.code,
			         r->reply.text);
			r = sd_local(d, SMTP_STAGE_DOT, ST_TEMP, 5, 0, text);
		}
		sd_fail_tx(d, r);
		d->state = SD_CLOSED;
		sd_finish(d);
		return -1;
	}
	if (d->mode == SMTP_DIALOG_SMTP) {
		if (r->st.kind == ST_OK)
			d->res = *r;      /* the outcome of every accepted one */
		else
			sd_fail_tx(d, r);
		sd_finish(d);
		return 0;
	}
	/* LMTP: this reply is the next accepted recipient's own */
	while (d->lmtp_next < SMTP_DIALOG_RCPT_MAX &&
	       d->rstate[d->lmtp_next] != R_ACCEPTED)
		d->lmtp_next++;
	if (r->st.kind == ST_OK) {
		if (d->lmtp_ok++ == 0)
			d->res = *r;
		fate(d, d->lmtp_next, r);
	} else {
		refused(d, d->lmtp_next, r);
	}
	if (++d->lmtp_replies >= d->accepted)
		sd_finish(d);
	return 0;
}

/* tx_reply - a reply to a command of the transaction; 0, or -1 */
int sd_tx_reply(struct smtp_dialog *d)
{
	enum smtp_pending what = d->pend[d->pend_head];
	const struct smtp_result *r;
	size_t i;

	d->pend_head++;
	d->pend_n--;
	switch (what) {
	case SP_RSET:
		r = sd_cur_as(d, SMTP_STAGE_RSET, 250);
		if (r->st.kind != ST_OK) {
			/* the session's trouble, not the message's */
			d->cur.st.kind = ST_TEMP;
			sd_fail_tx(d, r);
			d->state = SD_CLOSED;
			sd_finish(d);
			return -1;
		}
		break;
	case SP_MAIL:
		r = sd_cur_as(d, SMTP_STAGE_MAIL, 250);
		d->mail = r->st.kind == ST_OK;
		if (!d->mail)
			sd_fail_tx(d, r);
		break;
	case SP_RCPT:
		i = d->pend_idx[d->pend_head - 1];
		r = sd_cur_as(d, SMTP_STAGE_RCPT, 250);
		if (d->mail == 0) {
			fate(d, i, &d->res);  /* MAIL's refusal says it all */
		} else if (r->st.kind == ST_OK) {
			d->rstate[i] = R_ACCEPTED;
			d->accepted++;
		} else {
			refused(d, i, r);
		}
		break;
	case SP_DATA:
		if (after_data(d) < 0)
			return too_long(d);
		break;
	case SP_EMPTY:
		break;
	}
	if (d->pend_n > 0 || d->state == SD_BODY)
		return 0;
	switch (queue_more(d)) {
	case 1:
		return 0;
	case 0:
		sd_finish(d);
		return 0;
	default:
		return too_long(d);
	}
}
