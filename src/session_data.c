/* session_data.c - DATA: the message between 354 and its end marker; see
 * session_priv.h
 *
 * A small automaton finds line ends, removes dot-stuffing and recognises
 * the end of the message, which is CRLF "." CRLF and nothing else (a line
 * ended by a bare LF is a line, but it can never be followed by the end
 * marker: no SMTP smuggling).  Input is consumed byte-exactly: the bytes
 * after the end marker are commands again.
 */
#include <stdio.h>
#include <string.h>

#include "msghdr.h"
#include "session_priv.h"

/* data_put - pass a piece of the message on, minding the size limit */
static void data_put(struct session *s, const char *p, size_t n, int eol)
{
	if (s->oversize)
		return;
	s->size += n + (eol ? 1 : 0);
	if (s->size > s->cfg->max_size) {
		s->oversize = 1;
		return;
	}
	header_feed(&s->hdr, p, n, eol);
}

/* hdr_out - the header module's output goes to the queue */
static void hdr_out(void *ctx, const char *p, size_t n)
{
	struct session *s = ctx;

	s->ops->tx_write(s->ctx, p, n);
}

/* sess_data_begin - DATA accepted: open the message, start the header */
void sess_data_begin(struct session *s)
{
	struct status st;

	s->env.arrival = s->now();
	snprintf(s->env.helo, sizeof s->env.helo, "%s", s->helo);
	snprintf(s->env.client, sizeof s->env.client, "%s", s->client_ip);
	st = s->ops->tx_open(s->ctx, &s->env);
	if (st.kind != ST_OK) {
		sess_reply_status(s, &st, 554, sess_temp_code(&st, 451));
		return;
	}
	s->hinfo.hostname = s->cfg->hostname;
	s->hinfo.helo = s->helo;
	s->hinfo.client_ip = s->client_ip;
	s->hinfo.id = s->env.id;
	s->hinfo.sender = s->env.sender.text;
	s->hinfo.rcpt = s->env.nrcpt == 1 ? envelope_orcpt(&s->env, 0) : NULL;
	s->hinfo.esmtp = s->esmtp;
	s->hinfo.tls = s->tls ? &s->tls_info : NULL;
	s->hinfo.authenticated = s->authenticated;
	s->hinfo.hide_client = s->cfg->hide_client;
	s->hinfo.arrival = s->env.arrival;
	s->hinfo.max_received = s->cfg->max_received;
	s->hinfo.local = s->local;
	s->hinfo.uid = s->uid;
	header_begin(&s->hdr, &s->hinfo, hdr_out, s);
	s->in_data = 1;
	s->dstate = D_BOL;
	/* "DATA" CRLF counts: an immediate "." CRLF ends the message.  After
	 * "DATA" and a bare LF it does not, as after any bare LF. */
	s->crlf_before = s->line_crlf;
	s->oversize = 0;
	s->size = 0;
	sess_reply(s, 354, "End data with <CR><LF>.<CR><LF>");
}

/* from_owned - an authenticated client's From: names only senders its
 * login may use (ops->check_sender, as for MAIL): 0, or -1 with the
 * refusal queued.  No From: of its own is fine: the one added is the
 * envelope sender, checked at MAIL.  -2: a temporary failure (451
 * queued), the server's condition and no error. */
static int from_owned(struct session *s)
{
	struct addrlist l;
	const char *p;
	size_t n, i;
	int r = 0;

	if (!s->authenticated || s->ops->check_sender == NULL)
		return 0;
	switch (header_from(&s->hdr, &p, &n)) {
	case 0:
		return 0;
	case -1:
		sess_reply(s, 550, "5.7.1 From: field too long to check");
		return -1;
	}
	addrlist_init(&l);
	if (msg_parse_addresses(p, n, &l) < 0) {
		sess_reply(s, 451, "4.3.0 Out of memory");
		addrlist_free(&l);
		return -2;
	}
	if (l.n == 0) {
		sess_reply(s, 550, "5.7.1 From: names no address of the "
		           "authenticated user");
		r = -1;
	}
	for (i = 0; i < l.n && r == 0; i++) {
		char path[ADDR_MAX + 2];
		struct mailbox mb;
		struct status st;
		size_t used;

		snprintf(path, sizeof path, "<%s>", l.v[i]);
		if (addr_parse_path(path, strlen(path), &mb, &used, 0, 0) != ADDR_OK ||
		    used != strlen(path)) {
			sess_reply(s, 550, "5.7.1 From: address not usable: %.100s", l.v[i]);
			r = -1;
			break;
		}
		st = s->ops->check_sender(s->ctx, s->login, &mb);
		if (st.kind != ST_OK) {
			if (st.kind == ST_PERM) {
				sess_reply(s, 550, "5.7.1 From: %s", st.text);
				r = -1;
			} else {
				sess_reply_status(s, &st, 550, 451);
				r = -2;
			}
		}
	}
	addrlist_free(&l);
	return r;
}

/* data_end - the end marker arrived: accept or refuse the message */
static void data_end(struct session *s)
{
	enum header_result hr;
	struct status st;
	int r;

	s->in_data = 0;
	if (s->oversize) {
		s->ops->tx_abort(s->ctx);
		sess_reply(s, 552, "5.3.4 Message too big (limit %llu octets)",
		           s->cfg->max_size);
		sess_error(s);
		goto out;
	}
	hr = header_end(&s->hdr);
	if (hr != HEADER_OK) {
		s->ops->tx_abort(s->ctx);
		if (hr == HEADER_LOOP)
			sess_reply(s, 554, "5.4.6 Too many Received: fields, mail loop");
		else
			sess_reply(s, 554, "5.6.0 No From: field and null sender");
		sess_error(s);
		goto out;
	}
	if ((r = from_owned(s)) < 0) {
		s->ops->tx_abort(s->ctx);
		if (r == -1)
			sess_error(s);
		goto out;
	}
	st = s->ops->tx_commit(s->ctx);
	if (st.kind == ST_OK) {
		sess_reply(s, 250, "2.0.0 Ok: queued as %s", s->env.id);
		s->junk = 0;         /* a client that sends mail is no idler */
	} else
		sess_reply_status(s, &st, 554, sess_temp_code(&st, 451));
out:
	sess_tx_reset(s);
}

/* sess_data_feed - run the DATA automaton over p[0..n); returns bytes
 * used (less than n only when the end marker was found) */
size_t sess_data_feed(struct session *s, const char *p, size_t n)
{
	size_t i = 0, run;

	while (i < n) {
		char c = p[i];

		switch (s->dstate) {
		case D_BOL:
			if (c == '.') {
				s->dstate = D_DOT;
				i++;
				continue;
			}
			s->dstate = D_MID;
			__attribute__((fallthrough));  /* an ordinary line */
		case D_MID:
			/* the hot path: copy a run of ordinary bytes at once */
			for (run = i; run < n && p[run] != '\r' && p[run] != '\n'; run++)
				;
			if (run > i)
				data_put(s, p + i, run - i, 0);
			i = run;
			if (i == n)
				break;
			if (p[i] == '\n') {
				/* "" not NULL: header_feed computes p + i even for n 0,
				 * and NULL + 0 is undefined in C */
				data_put(s, "", 0, 1);      /* bare LF ends a line */
				s->crlf_before = 0;
				s->dstate = D_BOL;
			} else {
				s->dstate = D_CR;
			}
			i++;
			break;
		case D_CR:
			if (c == '\n') {
				data_put(s, "", 0, 1);
				s->crlf_before = 1;
				s->dstate = D_BOL;
			} else if (c == '\r') {
				data_put(s, "\r", 1, 0);   /* the earlier CR was bare */
			} else {
				data_put(s, "\r", 1, 0);
				data_put(s, &c, 1, 0);
				s->dstate = D_MID;
			}
			i++;
			break;
		case D_DOT:
			if (c == '\r') {
				s->dstate = D_DOT_CR;
			} else if (c == '\n') {
				/* "." ended by a bare LF: a line holding one dot */
				data_put(s, ".", 1, 1);
				s->crlf_before = 0;
				s->dstate = D_BOL;
			} else {
				/* a stuffed dot: drop it, keep the rest */
				data_put(s, &c, 1, 0);
				s->dstate = D_MID;
			}
			i++;
			break;
		case D_DOT_CR:
			i++;
			if (c == '\n') {
				if (s->crlf_before) {
					data_end(s);
					return i;
				}
				/* "." CRLF after a bare LF: a line, not the end */
				data_put(s, ".", 1, 1);
				s->crlf_before = 1;
				s->dstate = D_BOL;
			} else if (c == '\r') {
				/* ".\r\r": the dot was stuffing, the first CR is bare */
				data_put(s, "\r", 1, 0);
				s->dstate = D_CR;
			} else {
				data_put(s, "\r", 1, 0);
				data_put(s, &c, 1, 0);
				s->dstate = D_MID;
			}
			break;
		}
	}
	return i;
}
