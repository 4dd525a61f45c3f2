/* smtp_dialog_text.c - what both client drivers share around the engine:
 * time limits, names, syntax checks, the EHLO reply, results, and the
 * message's wire form; see smtp_dialog.h */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp_dialog.h"

/* smtp_timeouts_default - the RFC 5321 4.5.3.2 values */
void smtp_timeouts_default(struct smtp_timeouts *to)
{
	to->connect = 30 * 1000;
	to->greeting = 5 * 60 * 1000;
	to->hello = 5 * 60 * 1000;
	to->mail = 5 * 60 * 1000;
	to->rcpt = 5 * 60 * 1000;
	to->data = 2 * 60 * 1000;
	to->block = 3 * 60 * 1000;
	to->dot = 10 * 60 * 1000;
	to->other = 5 * 60 * 1000;
}

/* smtp_timeouts_all - every limit set to ms */
void smtp_timeouts_all(struct smtp_timeouts *to, int ms)
{
	to->connect = to->greeting = to->hello = to->mail = to->rcpt = ms;
	to->data = to->block = to->dot = to->other = ms;
}

/* smtp_stage_name - what was going on, for messages */
const char *smtp_stage_name(enum smtp_stage stage)
{
	switch (stage) {
	case SMTP_STAGE_NONE:     return "idle";
	case SMTP_STAGE_CONNECT:  return "connect";
	case SMTP_STAGE_GREETING: return "greeting";
	case SMTP_STAGE_HELLO:    return "EHLO/HELO";
	case SMTP_STAGE_MAIL:     return "MAIL FROM";
	case SMTP_STAGE_RCPT:     return "RCPT TO";
	case SMTP_STAGE_DATA:     return "DATA";
	case SMTP_STAGE_DOT:      return "end of data";
	case SMTP_STAGE_RSET:     return "RSET";
	case SMTP_STAGE_QUIT:     return "QUIT";
	case SMTP_STAGE_AUTH:     return "AUTH";
	}
	return "unknown stage";
}

/* smtp_text_ok - printable ASCII, no angle brackets, at most max octets */
int smtp_text_ok(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7e ||
		    s[n] == '<' || s[n] == '>' || n >= max)
			return 0;
	return 1;
}

/* smtp_rcpt_ok - a recipient fit for RCPT TO */
int smtp_rcpt_ok(const char *r)
{
	return r[0] != '\0' && smtp_text_ok(r, SMTP_ADDR_MAX);
}

/* smtp_helo_ok - a name fit for EHLO/HELO */
int smtp_helo_ok(const char *name)
{
	return name[0] != '\0' && strchr(name, ' ') == NULL &&
	       smtp_text_ok(name, 255);
}

/* auth_mechs - SMTP_EXT_AUTH_* for the mechanisms named in s ("PLAIN
 * LOGIN CRAM-MD5"; "AUTH=" is the old form some servers still send) */
static unsigned auth_mechs(const char *s)
{
	unsigned ext = 0;

	while (*s) {
		size_t n = strcspn(s, " ");

		if (n == 5 && strncasecmp(s, "PLAIN", 5) == 0)
			ext |= SMTP_EXT_AUTH_PLAIN;
		else if (n == 5 && strncasecmp(s, "LOGIN", 5) == 0)
			ext |= SMTP_EXT_AUTH_LOGIN;
		s += n;
		s += strspn(s, " ");
	}
	return ext;
}

/* smtp_ehlo_parse - the extensions an EHLO reply offers */
void smtp_ehlo_parse(const struct smtp_reply *r, unsigned *ext,
                     unsigned long long *size_max)
{
	char line[SMTP_REPLY_LINE_MAX];
	unsigned i;

	*ext = 0;
	*size_max = 0;
	for (i = 1; i < r->lines; i++) {
		if (smtp_reply_line(r, i, line, sizeof line) < 0)
			break;
		if (strcasecmp(line, "PIPELINING") == 0)
			*ext |= SMTP_EXT_PIPELINING;
		else if (strcasecmp(line, "8BITMIME") == 0)
			*ext |= SMTP_EXT_8BITMIME;
		else if (strcasecmp(line, "ENHANCEDSTATUSCODES") == 0)
			*ext |= SMTP_EXT_ENHANCED;
		else if (strcasecmp(line, "SMTPUTF8") == 0)
			*ext |= SMTP_EXT_SMTPUTF8;
		else if (strcasecmp(line, "STARTTLS") == 0)
			*ext |= SMTP_EXT_STARTTLS;
		else if (strcasecmp(line, "DSN") == 0)
			*ext |= SMTP_EXT_DSN;
		else if (strncasecmp(line, "AUTH", 4) == 0 &&
		         (line[4] == ' ' || line[4] == '='))
			*ext |= auth_mechs(line + 5);
		else if (strncasecmp(line, "SIZE", 4) == 0 &&
		         (line[4] == '\0' || line[4] == ' ')) {
			*ext |= SMTP_EXT_SIZE;
			if (line[4] == ' ')
				*size_max = strtoull(line + 5, NULL, 10);
		}
	}
}

/* smtp_result_from_reply - fill res from a server reply at stage */
void smtp_result_from_reply(struct smtp_result *res, enum smtp_stage stage,
                            const struct smtp_reply *r)
{
	if (r != &res->reply)
		res->reply = *r;
	res->stage = stage;
	res->st = smtp_reply_status(r);
}

/* smtp_result_local - an outcome decided here, without a server reply */
void smtp_result_local(struct smtp_result *res, enum smtp_stage stage,
                       enum status_kind kind, int subject, int detail,
                       const char *text)
{
	smtp_reply_clear(&res->reply);
	res->stage = stage;
	res->st = status_make(kind, subject, detail, "%s", text);
}

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

/* smtp_result_too_many - a 452 to RCPT, enhanced code 4.5.3 or none;
 * or a 552 5.5.3 (RFC 821's code for it, which RFC 5321 4.5.3.1.10
 * tells clients to take as temporary; a bare 552 may as well mean a
 * full mailbox, so only with the enhanced code) */
int smtp_result_too_many(const struct smtp_result *r)
{
	if (r->stage != SMTP_STAGE_RCPT || r->reply.error != SMTP_REPLY_OK)
		return 0;
	if (r->reply.code == 552)
		return r->reply.enh_class == 5 && r->reply.enh_subject == 5 &&
		       r->reply.enh_detail == 3;
	if (r->reply.code != 452)
		return 0;
	return r->reply.enh_class == 0 ||
	       (r->reply.enh_subject == 5 && r->reply.enh_detail == 3);
}
