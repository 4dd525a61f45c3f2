/* smtp_dialog_auth.c - AUTH in the client engine (RFC 4954); see
 * smtp_dialog.h and smtp_dialog_priv.h
 *
 *   PLAIN (RFC 4616), preferred: AUTH PLAIN base64(NUL login NUL password)
 *     -> 235.  A 334 to it (a server that ignores initial responses asks
 *     for the response again): the same response once more.
 *   LOGIN (no RFC; what servers without PLAIN offer): AUTH LOGIN -> 334
 *     (Username:) base64(login) -> 334 (Password:) base64(password) -> 235.
 *     The challenges' texts are not read: the order is the protocol.
 *
 * A 334 more than the mechanism has steps is answered "*" (cancel, RFC
 * 4954 4) and the reply to that ends it.  Every failure is temporary:
 * credentials that stop working are an operator's matter, not a reason
 * to return mail.  The wire form of the password stays in the output
 * buffer only until the server replies: then the buffer's unused part is
 * wiped.
 */
#include <string.h>
#include <textcode.h>

#include "smtp_dialog.h"
#include "smtp_dialog_priv.h"

enum {
	AS_PLAIN = 1,      /* AUTH PLAIN with its response sent */
	AS_PLAIN_AGAIN,    /* the response sent again after a 334 */
	AS_LOGIN,          /* AUTH LOGIN sent: the 334 for the login */
	AS_LOGIN_USER,     /* the login sent: the 334 for the password */
	AS_LOGIN_PASS,     /* the password sent: 235 */
	AS_CANCEL          /* "*" sent: its reply ends it */
};

/* B64_LEN - the base64 length of n octets */
#define B64_LEN(n) (((n) + 2) / 3 * 4)

/* fail - AUTH failed as text says (subject.detail its status): noted as
 * temporary, QUIT */
static void fail(struct smtp_dialog *d, int detail, const char *text)
{
	d->ops->note(d->ops->ctx, sd_local(d, SMTP_STAGE_AUTH, ST_TEMP, 7, detail,
	                                   text));
	sd_quit(d);
}

/* put_b64 - queue base64(p[0..n)) CRLF, after prefix; 0 or -1 */
static int put_b64(struct smtp_dialog *d, const char *prefix, const char *p,
                   size_t n)
{
	size_t pl = strlen(prefix);

	sd_compact(d);
	if (sizeof d->out - d->out_len < pl + B64_LEN(n) + 3)
		return -1;
	memcpy(d->out + d->out_len, prefix, pl);
	d->out_len += pl;
	d->out_len += fmt_base64(d->out + d->out_len, p, n);
	memcpy(d->out + d->out_len, "\r\n", 2);
	d->out_len += 2;
	return 0;
}

/* put_plain - queue prefix and the PLAIN response */
static int put_plain(struct smtp_dialog *d, const char *prefix)
{
	char buf[2 * SMTP_AUTH_FIELD_MAX + 2];
	size_t nu = strlen(d->auth_user), np = strlen(d->auth_pass);
	int r;

	if (nu > SMTP_AUTH_FIELD_MAX || np > SMTP_AUTH_FIELD_MAX)
		return -1;
	buf[0] = '\0';                   /* no authorization identity */
	memcpy(buf + 1, d->auth_user, nu);
	buf[nu + 1] = '\0';
	memcpy(buf + nu + 2, d->auth_pass, np);
	r = put_b64(d, prefix, buf, nu + np + 2);
	explicit_bzero(buf, sizeof buf);
	return r;
}

/* sd_auth_begin - AUTH, or why not */
void sd_auth_begin(struct smtp_dialog *d)
{
	d->state = SD_AUTH;              /* for the stage of a failure */
	if (!d->tls && !d->auth_insecure) {
		fail(d, 0, "AUTH: credentials are sent only over TLS, and TLS is "
		     "not on");
		return;
	}
	if (!d->esmtp || !(d->ext & (SMTP_EXT_AUTH_PLAIN | SMTP_EXT_AUTH_LOGIN))) {
		fail(d, 0, "AUTH: credentials are configured, but the server "
		     "offers neither AUTH PLAIN nor AUTH LOGIN");
		return;
	}
	if (d->ext & SMTP_EXT_AUTH_PLAIN) {
		if (put_plain(d, "AUTH PLAIN ") < 0) {
			fail(d, 0, "AUTH: command too long");
			return;
		}
		d->auth_step = AS_PLAIN;
	} else {
		if (sd_put(d, "AUTH LOGIN\r\n") < 0) {
			fail(d, 0, "AUTH: command too long");
			return;
		}
		d->auth_step = AS_LOGIN;
	}
}

/* sd_auth_reply - a reply in SD_AUTH */
int sd_auth_reply(struct smtp_dialog *d)
{
	const struct smtp_reply *r = &d->cur.reply;
	const char *p = NULL;

	/* whatever we sent has been read: its bytes need not stay */
	explicit_bzero(d->out + d->out_len, sizeof d->out - d->out_len);
	if (d->auth_step == AS_CANCEL) {
		fail(d, 0, "AUTH: the server asked for more than the mechanism "
		     "gives (cancelled)");
		return 0;
	}
	if (r->code == 235) {
		d->authed = 1;
		d->opened = 1;
		d->state = SD_READY;
		return 0;
	}
	if (r->code != 334) {
		/* 535 and every other refusal: the server's words, temporary */
		sd_cur_as(d, SMTP_STAGE_AUTH, 235);
		d->cur.st.kind = ST_TEMP;
		d->ops->note(d->ops->ctx, &d->cur);
		sd_quit(d);
		return 0;
	}
	switch (d->auth_step) {
	case AS_PLAIN:
		if (put_plain(d, "") == 0) {
			d->auth_step = AS_PLAIN_AGAIN;
			return 0;
		}
		break;
	case AS_LOGIN:
		p = d->auth_user;
		break;
	case AS_LOGIN_USER:
		p = d->auth_pass;
		break;
	default:
		break;
	}
	if (p != NULL && strlen(p) <= SMTP_AUTH_FIELD_MAX &&
	    put_b64(d, "", p, strlen(p)) == 0) {
		d->auth_step++;
		return 0;
	}
	if (sd_put(d, "*\r\n") < 0) {
		fail(d, 0, "AUTH: cannot cancel");
		return 0;
	}
	d->auth_step = AS_CANCEL;
	return 0;
}

/* smtp_dialog_use_auth - credentials for this connection */
void smtp_dialog_use_auth(struct smtp_dialog *d, const char *user,
                          const char *pass, int insecure)
{
	d->auth_user = user;
	d->auth_pass = pass;
	d->auth_insecure = insecure;
	d->auth_step = 0;
	d->authed = 0;
}

/* smtp_dialog_authed - 235 came */
int smtp_dialog_authed(const struct smtp_dialog *d)
{
	return d->authed;
}
