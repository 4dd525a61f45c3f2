/* gun_dialog.c - one mail-gun session over the client engine; see
 * gun_dialog.h
 *
 * The engine reports each recipient's fate and then the transaction's
 * result; here they become the gun's one outcome per message.  A new
 * message is handed to the engine whenever it is ready again, after the
 * input that made it so has been read (never from inside its callbacks,
 * so a run of messages refused here cannot pile up on the stack).
 */
#include <errno.h>
#include <string.h>

#include "gun_dialog.h"

/* report - hand one message's outcome to the feed */
static void report(struct gun_dialog *g, enum gun_outcome o,
                   const struct status *why, int answered)
{
	long long lat = -1;

	if (o != GUN_FAILED && answered)
		lat = (long long)(g->feed->now_us(g->feed->ctx) - g->t0_us);
	g->feed->done(g->feed->ctx, g->idx, o, o == GUN_SENT ? NULL : why, lat);
	g->msg = NULL;
}

/* on_rcpt - a recipient's fate: remember the first RCPT refusals */
static void on_rcpt(void *ctx, size_t i, const struct smtp_result *r)
{
	struct gun_dialog *g = ctx;

	(void)i;
	if (r->st.kind == ST_OK || r->stage != SMTP_STAGE_RCPT)
		return;
	if (r->st.kind == ST_PERM && !g->have_perm) {
		g->rcpt_perm = r->st;
		g->have_perm = 1;
	} else if (r->st.kind == ST_TEMP && !g->have_temp) {
		g->rcpt_temp = r->st;
		g->have_temp = 1;
	}
}

/* on_done - the message's outcome: a temporary refusal of any recipient
 * makes it failed, then the transaction's own failure decides, then a
 * permanent refusal of any recipient makes it refused */
static void on_done(void *ctx, const struct smtp_result *res, int answered)
{
	struct gun_dialog *g = ctx;

	if (g->msg->nrcpt == 0)
		report(g, GUN_FAILED, &res->st, 0);
	else if (g->have_temp)
		report(g, GUN_FAILED, &g->rcpt_temp, answered);
	else if (res->st.kind != ST_OK)
		report(g, res->st.kind == ST_PERM ? GUN_REFUSED : GUN_FAILED,
		       &res->st, answered);
	else if (g->have_perm)
		report(g, GUN_REFUSED, &g->rcpt_perm, answered);
	else
		report(g, GUN_SENT, NULL, answered);
}

/* on_note - trouble outside a message: the session's, so temporary */
static void on_note(void *ctx, const struct smtp_result *r)
{
	struct gun_dialog *g = ctx;
	struct status st = r->st;

	st.kind = ST_TEMP;
	g->feed->note(g->feed->ctx, &st);
}

/* next - while the engine is ready: the next message, or QUIT (the
 * feed ran dry, or this connection has had its share: then the next
 * connection's first message is taken now, so that a session reconnects
 * only for a message it has) */
static void next(struct gun_dialog *g)
{
	const struct gun_msg *m;

	while (smtp_dialog_ready(&g->sd)) {
		if (g->per_conn > 0 && g->taken >= g->per_conn) {
			if (gun_dialog_reserve(g, g->feed) < 0)
				g->finished = 1;
			smtp_dialog_quit(&g->sd);
			return;
		}
		if (g->held != NULL) {
			m = g->held;
			g->idx = g->held_idx;
			g->held = NULL;
		} else if (g->feed->take(g->feed->ctx, &m, &g->idx) < 0) {
			g->finished = 1;
			smtp_dialog_quit(&g->sd);
			return;
		}
		g->taken++;
		g->msg = m;
		if (g->connect_only) {
			/* the hello was the point: t0_us is the connection's */
			report(g, GUN_SENT, NULL, 1);
			continue;
		}
		g->have_temp = g->have_perm = 0;
		g->body_off = 0;
		memset(&g->tx, 0, sizeof g->tx);
		g->tx.sender = m->sender;
		g->tx.rcpt = m->rcpt;
		g->tx.nrcpt = m->nrcpt;
		g->tx.data = m->data;
		g->tx.len = m->len;
		g->tx.size = m->len;
		g->tx.fd = -1;
		g->tx.body_8bit = m->body_8bit;
		g->tx.long_lines = 1;    /* a load, as it was given */
		g->t0_us = g->feed->now_us(g->feed->ctx);
		if (smtp_dialog_send(&g->sd, &g->tx) == 0)
			return;
	}
}

/* gun_dialog_start - a fresh connection: wait for the greeting */
void gun_dialog_start(struct gun_dialog *g, const struct gun_feed *feed,
                      const char *helo, const char *peer)
{
	g->feed = feed;
	g->finished = 0;
	g->per_conn = 0;
	g->taken = 0;
	g->connect_only = 0;
	g->msg = NULL;
	g->t0_us = feed->now_us(feed->ctx);
	g->ops.rcpt = on_rcpt;
	g->ops.done = on_done;
	g->ops.note = on_note;
	g->ops.ctx = g;
	smtp_dialog_start(&g->sd, SMTP_DIALOG_SMTP, &g->ops, helo, peer);
}

/* gun_dialog_per_connection - a bound on this connection's messages */
void gun_dialog_per_connection(struct gun_dialog *g, unsigned max)
{
	g->per_conn = max;
}

/* gun_dialog_connect_only - the connection is the load, not the message */
void gun_dialog_connect_only(struct gun_dialog *g)
{
	g->connect_only = 1;
	g->per_conn = 1;
}

/* gun_dialog_use_starttls - STARTTLS when the server offers it */
void gun_dialog_use_starttls(struct gun_dialog *g)
{
	smtp_dialog_use_starttls(&g->sd);
}

/* gun_dialog_use_auth - AUTH after the hello */
void gun_dialog_use_auth(struct gun_dialog *g, const char *user,
                         const char *pass)
{
	smtp_dialog_use_auth(&g->sd, user, pass, 1);
}

/* gun_dialog_tls_wanted - the handshake is the loop's turn */
int gun_dialog_tls_wanted(const struct gun_dialog *g)
{
	return smtp_dialog_tls_wanted(&g->sd);
}

/* gun_dialog_tls_started - TLS is up: EHLO again */
void gun_dialog_tls_started(struct gun_dialog *g)
{
	smtp_dialog_tls_started(&g->sd);
}

/* gun_dialog_tls_failed - the handshake failed */
void gun_dialog_tls_failed(struct gun_dialog *g, const char *why)
{
	smtp_dialog_tls_failed(&g->sd, why);
}

/* gun_dialog_input - the server's bytes, in any fragments */
int gun_dialog_input(struct gun_dialog *g, const char *buf, size_t n)
{
	if (smtp_dialog_input(&g->sd, buf, n) < 0)
		return -1;
	next(g);
	return 0;
}

/* gun_dialog_output - commands first; then the message, a piece at a time
 * whenever the last has gone out */
void gun_dialog_output(struct gun_dialog *g, const char **p, size_t *n)
{
	smtp_dialog_output(&g->sd, p, n);
	if (*n == 0 && smtp_dialog_wants_body(&g->sd)) {
		size_t len = g->msg->len - g->body_off;
		size_t room = smtp_dialog_body_room(&g->sd);

		if (len > room)
			len = room;
		smtp_dialog_body(&g->sd, g->msg->data + g->body_off, len);
		g->body_off += len;
		if (g->body_off == g->msg->len)
			smtp_dialog_body_end(&g->sd);
		smtp_dialog_output(&g->sd, p, n);
	}
}

/* gun_dialog_wrote - n bytes of the output went out */
void gun_dialog_wrote(struct gun_dialog *g, size_t n)
{
	smtp_dialog_wrote(&g->sd, n);
}

/* gun_dialog_lost - the connection broke: report what was under way */
void gun_dialog_lost(struct gun_dialog *g, int err, int timeout_ms)
{
	smtp_dialog_lost(&g->sd, err, timeout_ms);
}

/* gun_dialog_timeout - the limit on the current wait */
int gun_dialog_timeout(const struct gun_dialog *g,
                       const struct smtp_timeouts *to)
{
	return smtp_dialog_timeout(&g->sd, to);
}

/* gun_dialog_finished - the feed ran dry */
int gun_dialog_finished(const struct gun_dialog *g)
{
	return g->finished;
}

/* gun_dialog_reserve - the next connection's first message, taken now */
int gun_dialog_reserve(struct gun_dialog *g, const struct gun_feed *feed)
{
	if (g->held == NULL &&
	    feed->take(feed->ctx, &g->held, &g->held_idx) < 0) {
		g->held = NULL;
		return -1;
	}
	return 0;
}

/* gun_dialog_held - a message waits for the next connection */
int gun_dialog_held(const struct gun_dialog *g)
{
	return g->held != NULL;
}

/* gun_dialog_busy - a message is under way */
int gun_dialog_busy(const struct gun_dialog *g)
{
	return g->msg != NULL;
}

/* gun_dialog_replies - complete replies read so far */
unsigned long gun_dialog_replies(const struct gun_dialog *g)
{
	return g->sd.replies;
}

/* gun_dialog_opened - EHLO or HELO was accepted */
int gun_dialog_opened(const struct gun_dialog *g)
{
	return g->sd.opened;
}
