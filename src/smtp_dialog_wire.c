/* smtp_dialog_wire.c - the client engine's bookkeeping of the wire;
 * see smtp_dialog.h and smtp_dialog_priv.h
 *
 * What both halves of the engine (smtp_dialog.c the connection,
 * smtp_dialog_tx.c the transaction) need and call down to: the commands
 * queued in out[], the replies expected in pend[], the stage a reply
 * answers, and the results made of it.  Nothing here calls either half.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "smtp_dialog.h"
#include "smtp_dialog_priv.h"

/* smtp_dialog_stage - what the current wait is for */
enum smtp_stage smtp_dialog_stage(const struct smtp_dialog *d)
{
	switch (d->state) {
	case SD_GREETING: return SMTP_STAGE_GREETING;
	case SD_EHLO:
	case SD_HELO:
	case SD_STARTTLS:
	case SD_HANDSHAKE: return SMTP_STAGE_HELLO;
	case SD_AUTH:     return SMTP_STAGE_AUTH;
	case SD_BODY:
	case SD_DOT:      return SMTP_STAGE_DOT;
	case SD_RSET:     return SMTP_STAGE_RSET;
	case SD_QUIT:     return SMTP_STAGE_QUIT;
	case SD_READY:
	case SD_CLOSED:   return SMTP_STAGE_NONE;
	case SD_TX:       break;
	}
	if (d->pend_n == 0)
		return SMTP_STAGE_MAIL;
	switch (d->pend[d->pend_head]) {
	case SP_RSET:  return SMTP_STAGE_RSET;
	case SP_MAIL:  return SMTP_STAGE_MAIL;
	case SP_RCPT:  return SMTP_STAGE_RCPT;
	case SP_DATA:  return SMTP_STAGE_DATA;
	case SP_EMPTY: return SMTP_STAGE_DOT;
	}
	return SMTP_STAGE_NONE;
}

/* sd_compact - keep what is unsent at the front of out[] */
void sd_compact(struct smtp_dialog *d)
{
	if (d->out_pos > 0) {
		memmove(d->out, d->out + d->out_pos, d->out_len - d->out_pos);
		d->out_len -= d->out_pos;
		d->out_pos = 0;
	}
}

/* sd_put - queue a command; -1 when it does not fit (cannot happen with
 * commands of the sizes SMTP_DIALOG_OUT_MAX allows for: a group of 67
 * commands of at most 10 + 254 + 64 octets) */
int sd_put(struct smtp_dialog *d, const char *fmt, ...)
{
	size_t room;
	va_list ap;
	int n;

	sd_compact(d);
	room = sizeof d->out - d->out_len;
	va_start(ap, fmt);
	n = vsnprintf(d->out + d->out_len, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		return -1;
	d->out_len += (size_t)n;
	return 0;
}

/* sd_quit - QUIT (when it does not fit, the output is dropped: the
 * connection is to end anyway) */
void sd_quit(struct smtp_dialog *d)
{
	if (sd_put(d, "QUIT\r\n") < 0)
		d->out_len = d->out_pos = 0;
	d->state = SD_QUIT;
}

/* sd_expect - a reply to what was just queued will come */
void sd_expect(struct smtp_dialog *d, enum smtp_pending what)
{
	if (d->pend_n == 0)
		d->pend_head = 0;
	d->pend[d->pend_head + d->pend_n++] = what;
}

/* sd_is_class - does code belong to the class want (2 for 2xx) */
int sd_is_class(int code, int want)
{
	return code / 100 == want;
}

/* sd_cur_as - the reply being handled as the result of stage, made
 * temporary when it is not what the command wanted and not a refusal
 * for good (a 3xx to MAIL, a 2xx to DATA) */
const struct smtp_result *sd_cur_as(struct smtp_dialog *d,
                                        enum smtp_stage stage, int want)
{
	smtp_result_from_reply(&d->cur, stage, &d->cur.reply);
	if (d->cur.reply.code != want && d->cur.st.kind == ST_OK &&
	    (want != 250 || !sd_is_class(d->cur.reply.code, 2)))
		d->cur.st.kind = ST_TEMP;
	return &d->cur;
}

/* sd_local - a result decided here */
struct smtp_result *sd_local(struct smtp_dialog *d, enum smtp_stage stage,
                                 enum status_kind kind, int subject,
                                 int detail, const char *text)
{
	smtp_result_local(&d->cur, stage, kind, subject, detail, text);
	return &d->cur;
}
