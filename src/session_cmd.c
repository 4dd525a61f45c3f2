/* session_cmd.c - the SMTP commands of the server session: the command
 * table and each command's check and proceed steps; see session_priv.h
 *
 * The order of the tests inside a check is the order of the replies a
 * client sees for a line with several faults: state (503) before syntax
 * (501) where RFC 5321 puts it so, and as the tests pin it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "session_priv.h"

/* refuse - leave the refusal "X.Y.Z text" in a; returns code, which the
 * check returns */
static int refuse(struct cmd_args *a, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int refuse(struct cmd_args *a, int code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	/* cut to what a reply line holds (sess_reply cuts it again) */
	(void)vsnprintf(a->text, sizeof a->text, fmt, ap);
	va_end(ap);
	return code;
}

/* refuse_status - the refusal for a failed status: perm_code or
 * temp_code by its kind; a temporary one is the server's condition */
static int refuse_status(struct cmd_args *a, const struct status *st,
                         int perm_code, int temp_code)
{
	a->not_error = st->kind != ST_PERM;
	return refuse(a, st->kind == ST_PERM ? perm_code : temp_code,
	              "%d.%u.%u %s", st->kind == ST_PERM ? 5 : 4, st->subject,
	              st->detail, st->text);
}

/* skip_spaces - past any SP in a command argument */
static const char *skip_spaces(const char *p)
{
	while (*p == ' ')
		p++;
	return p;
}

/* no_argument - the refusal of a command that takes none, or 0 */
static int no_argument(const char *arg, struct cmd_args *a)
{
	if (*skip_spaces(arg))
		return refuse(a, 501, "5.5.4 Syntax: %s", a->verb);
	return 0;
}

/* ---- HELO, EHLO ---- */

/* helo_valid - is arg an acceptable HELO/EHLO argument?  A domain, an
 * address literal, or (tolerated, as many clients send it) a name with
 * underscores; never anything that could break the Received: field. */
static int helo_valid(const char *arg)
{
	size_t n = strlen(arg), i;

	if (n == 0 || n >= ENVELOPE_HELO_MAX)
		return 0;
	if (arg[0] == '[')
		return addr_literal_valid(arg, n);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)arg[i];

		if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c <= 'Z') &&
		    !(c >= '0' && c <= '9') && c != '-' && c != '.' && c != '_')
			return 0;
	}
	return 1;
}

/* check_helo - HELO and EHLO: one name, a valid one */
static int check_helo(struct session *s, const char *arg, struct cmd_args *a)
{
	const char *end;
	size_t n;

	(void)s;
	arg = skip_spaces(arg);
	for (end = arg; *end && *end != ' '; end++)
		;
	n = (size_t)(end - arg);
	if (n == 0 || n >= sizeof a->name || *skip_spaces(end) != '\0')
		return refuse(a, 501, "5.5.4 Syntax: %s hostname", a->verb);
	memcpy(a->name, arg, n);
	a->name[n] = '\0';
	if (!helo_valid(a->name))
		return refuse(a, 501, "5.5.2 Invalid domain name in %s", a->verb);
	return 0;
}

/* greet_again - HELO and EHLO (re)start the session: a second one is
 * allowed, it ends any transaction (RFC 5321 4.1.4) and replaces the
 * name */
static void greet_again(struct session *s, const struct cmd_args *a, int esmtp)
{
	sess_tx_reset(s);
	memcpy(s->helo, a->name, strlen(a->name) + 1);
	s->esmtp = esmtp;
}

/* proceed_helo - HELO: the name, nothing more */
static void proceed_helo(struct session *s, struct cmd_args *a)
{
	greet_again(s, a, 0);
	sess_reply(s, 250, "%s", s->cfg->hostname);
}

/* proceed_ehlo - EHLO: the name and the extensions */
static void proceed_ehlo(struct session *s, struct cmd_args *a)
{
	greet_again(s, a, 1);
	/* Line by line: a long hostname and HELO name cut the first line
	 * (within 512 octets) instead of losing the whole reply. */
	sess_reply_more(s, 250, "%s Hello %s [%s]", s->cfg->hostname, a->name,
	                s->client_ip);
	sess_reply_more(s, 250, "PIPELINING");
	sess_reply_more(s, 250, "SIZE %llu", s->cfg->max_size);
	sess_reply_more(s, 250, "8BITMIME");
	sess_reply_more(s, 250, "DSN");
	if (s->cfg->tls_available && !s->tls)
		sess_reply_more(s, 250, "STARTTLS");
	if (sess_auth_ehlo(s) != NULL)
		sess_reply_more(s, 250, "%s", sess_auth_ehlo(s));
	sess_reply_more(s, 250, "ENHANCEDSTATUSCODES");
	sess_reply(s, 250, "HELP");
}

/* ---- MAIL, RCPT ---- */

/* path_arg - after "FROM:" / "TO:": check the keyword, return the path */
static const char *path_arg(const char *arg, const char *keyword)
{
	size_t k = strlen(keyword);

	if (strncasecmp(arg, keyword, k) != 0)
		return NULL;
	return skip_spaces(arg + k);
}

/* mail_params - the ESMTP parameters of MAIL into a; 0 or a refusal */
static int mail_params(const struct session *s, const char *p,
                       struct cmd_args *a)
{
	while (*(p = skip_spaces(p))) {
		const char *end = p;
		char word[64];
		size_t n;

		while (*end && *end != ' ')
			end++;
		n = (size_t)(end - p);
		if (n >= 4 && strncasecmp(p, "RET=", 4) == 0) {
			/* RFC 3461 4.3, 4.4; each at most once */
			if (a->ret || (a->ret = dsn_ret_parse(p + 4, n - 4)) < 0)
				return refuse(a, 501, "5.5.4 Bad RET parameter");
			p = end;
			continue;
		}
		if (n >= 6 && strncasecmp(p, "ENVID=", 6) == 0) {
			if (a->envid[0] || n == 6 || n - 6 >= sizeof a->envid ||
			    !dsn_xtext_valid(p + 6, n - 6))
				return refuse(a, 501, "5.5.4 Bad ENVID parameter");
			memcpy(a->envid, p + 6, n - 6);
			a->envid[n - 6] = '\0';
			p = end;
			continue;
		}
		if (n >= sizeof word)
			goto bad;
		memcpy(word, p, n);
		word[n] = '\0';
		if (strncasecmp(word, "SIZE=", 5) == 0) {
			char *stop;
			unsigned long long v;

			if (word[5] < '0' || word[5] > '9')
				goto bad;
			errno = 0;
			v = strtoull(word + 5, &stop, 10);
			if (*stop)
				goto bad;
			/* Digits past 2^64-1 (RFC 1870 allows 20 of them) are a
			 * size, just a large one. */
			if (errno == ERANGE || v > s->cfg->max_size)
				return refuse(a, 552, "5.3.4 Message too big (limit %llu "
				              "octets)", s->cfg->max_size);
		} else if (strcasecmp(word, "BODY=7BIT") == 0 ||
		           strcasecmp(word, "BODY=8BITMIME") == 0) {
			a->body_8bit = word[5] == '8';   /* kept in the queue */
		} else {
			return refuse(a, 555, "5.5.4 Unsupported parameter %.40s", word);
		}
		p = end;
	}
	return 0;
bad:
	return refuse(a, 501, "5.5.4 Bad MAIL parameter syntax");
}

/* check_mail - MAIL FROM:<path> [SIZE=n] [BODY=...] */
static int check_mail(struct session *s, const char *arg, struct cmd_args *a)
{
	enum addr_error e;
	const char *p;
	size_t used;
	int code;

	if (!s->helo[0])
		return refuse(a, 503, "5.5.1 Send HELO or EHLO first");
	if (s->in_mail)
		return refuse(a, 503, "5.5.1 Nested MAIL command");
	p = path_arg(arg, "FROM:");
	if (p == NULL)
		return refuse(a, 501, "5.5.4 Syntax: MAIL FROM:<address>");
	e = addr_parse_path(p, strlen(p), &a->mb, &used, 1, 0);
	if (e != ADDR_OK)
		return refuse(a, 501, "5.1.7 Bad sender address: %s",
		              addr_error_text(e));
	if (p[used] != '\0' && p[used] != ' ')
		return refuse(a, 501, "5.1.7 Bad sender address syntax");
	if (!s->esmtp && *skip_spaces(p + used) != '\0')
		return refuse(a, 501, "5.5.4 MAIL parameters need EHLO");
	a->body_8bit = 0;
	a->ret = DSN_RET_NONE;
	a->envid[0] = '\0';
	if ((code = mail_params(s, p + used, a)) != 0)
		return code;
	/* an authenticated client sends as itself (RFC 6409 6.1); the null
	 * sender names no one */
	if (s->authenticated && a->mb.text[0] && s->ops->check_sender != NULL) {
		struct status st = s->ops->check_sender(s->ctx, s->login, &a->mb);

		if (st.kind == ST_PERM)
			return refuse(a, 553, "5.7.1 %s", st.text);
		if (st.kind == ST_TEMP)
			return refuse_status(a, &st, 553, 451);
	}
	return 0;
}

/* proceed_mail - the transaction begins */
static void proceed_mail(struct session *s, struct cmd_args *a)
{
	s->env.sender = a->mb;
	s->env.body_8bit = a->body_8bit;
	s->env.ret = a->ret;
	memcpy(s->env.envid, a->envid, sizeof s->env.envid);
	s->in_mail = 1;
	sess_reply(s, 250, "2.1.0 Ok");
}

/* rcpt_params - RCPT's NOTIFY= and ORCPT= (RFC 3461 4.1, 4.2), each at
 * most once, into a; 0, or 501 with the refusal (as mail_params, a
 * parameter not known is 555) */
static int rcpt_params(const char *p, struct cmd_args *a)
{
	a->notify = 0;
	a->orcpt[0] = '\0';
	while (*(p = skip_spaces(p))) {
		const char *end = strchr(p, ' ');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n >= 7 && strncasecmp(p, "NOTIFY=", 7) == 0) {
			if (a->notify || dsn_notify_parse(p + 7, n - 7, &a->notify) < 0)
				return refuse(a, 501, "5.5.4 Bad NOTIFY parameter");
		} else if (n >= 6 && strncasecmp(p, "ORCPT=", 6) == 0) {
			if (a->orcpt[0] || !dsn_orcpt_valid(p + 6, n - 6))
				return refuse(a, 501, "5.5.4 Bad ORCPT parameter");
			memcpy(a->orcpt, p + 6, n - 6);
			a->orcpt[n - 6] = '\0';
		} else {
			refuse(a, 555, "5.5.4 Unsupported parameter %.40s", p);
			return 555;
		}
		p += n;
	}
	return 0;
}

/* check_rcpt - RCPT TO:<path>, and may it be accepted? */
static int check_rcpt(struct session *s, const char *arg, struct cmd_args *a)
{
	struct status st;
	int code;
	enum addr_error e;
	const char *p;
	size_t used;

	if (!s->in_mail)
		return refuse(a, 503, "5.5.1 Need MAIL before RCPT");
	p = path_arg(arg, "TO:");
	if (p == NULL)
		return refuse(a, 501, "5.5.4 Syntax: RCPT TO:<address>");
	e = addr_parse_path(p, strlen(p), &a->mb, &used, 0, 1);
	if (e != ADDR_OK)
		return refuse(a, 501, "5.1.3 Bad recipient address: %s",
		              addr_error_text(e));
	/* "<a@b>junk" is a bad address, not a parameter (as in MAIL) */
	if (p[used] != '\0' && p[used] != ' ')
		return refuse(a, 501, "5.1.3 Bad recipient address syntax");
	if (!s->esmtp && *skip_spaces(p + used) != '\0')
		return refuse(a, 501, "5.5.4 RCPT parameters need EHLO");
	if ((code = rcpt_params(p + used, a)) != 0)
		return code;
	if (s->env.nrcpt >= s->cfg->max_rcpt) {
		/* a client that sends its recipients in several transactions,
		 * as it should (RFC 5321 4.5.3.1.10), errs only past as many
		 * again (the count is of refusals, so a check keeps it) */
		a->not_error = ++s->over_rcpt <= s->cfg->max_rcpt;
		return refuse(a, 452, "4.5.3 Too many recipients");
	}
	st = s->ops->check_rcpt(s->ctx, &a->mb);
	/* Every refused recipient is an error, or probing for mailboxes (250
	 * or 550?) and for relaying would be free; a temporary failure is our
	 * own state, not the client's fault (refuse_status). */
	if (st.kind != ST_OK)
		return refuse_status(a, &st, st.subject == 7 ? 554
		                     : (st.subject == 1 && st.detail == 3) ? 553 : 550,
		                     sess_temp_code(&st, 450));
	return 0;
}

/* proceed_rcpt - one more recipient */
static void proceed_rcpt(struct session *s, struct cmd_args *a)
{
	size_t from = s->env.nrcpt;

	/* the DSN parameters go with every recipient the address made */
	if ((s->ops->add_rcpt ? s->ops->add_rcpt(s->ctx, &s->env, &a->mb)
	                      : envelope_add_rcpt(&s->env, &a->mb)) < 0 ||
	    envelope_set_dsn(&s->env, from, a->notify,
	                     a->orcpt[0] ? a->orcpt : NULL) < 0) {
		/* a recipient answered 452 must not be delivered all the same
		 * (and again, when the client tries it again) */
		envelope_truncate(&s->env, from);
		sess_reply(s, 452, "4.3.0 Out of memory");
		return;
	}
	sess_reply(s, 250, "2.1.5 Ok");
}

/* ---- DATA and the rest ---- */

/* check_data - DATA, after MAIL and a recipient */
static int check_data(struct session *s, const char *arg, struct cmd_args *a)
{
	if (no_argument(arg, a))
		return 501;
	if (!s->in_mail)
		return refuse(a, 503, "5.5.1 Need MAIL command");
	if (s->env.nrcpt == 0)
		return refuse(a, 503, "5.5.1 Need RCPT command (no valid recipients)");
	return 0;
}

/* proceed_data - open the message: 354, or the queue's refusal */
static void proceed_data(struct session *s, struct cmd_args *a)
{
	(void)a;
	sess_data_begin(s);
}

/* check_none - RSET: no argument */
static int check_none(struct session *s, const char *arg, struct cmd_args *a)
{
	(void)s;
	return no_argument(arg, a);
}

/* proceed_rset - the transaction is over; HELO stays */
static void proceed_rset(struct session *s, struct cmd_args *a)
{
	(void)a;
	sess_tx_reset(s);
	sess_reply(s, 250, "2.0.0 Ok");
}

/* check_vrfy - VRFY needs something to verify */
static int check_vrfy(struct session *s, const char *arg, struct cmd_args *a)
{
	(void)s;
	if (!*skip_spaces(arg))
		return refuse(a, 501, "5.5.4 Syntax: VRFY address");
	return 0;
}

/* proceed_vrfy - never reveal mailboxes (RFC 5321 3.5.3) */
static void proceed_vrfy(struct session *s, struct cmd_args *a)
{
	(void)a;
	sess_reply(s, 252, "2.5.0 Cannot VRFY user, but will accept message and "
	           "attempt delivery");
}

/* proceed_noop - NOOP, whatever its argument */
static void proceed_noop(struct session *s, struct cmd_args *a)
{
	(void)a;
	sess_reply(s, 250, "2.0.0 Ok");
}

/* proceed_help - HELP, whatever its argument */
static void proceed_help(struct session *s, struct cmd_args *a)
{
	(void)a;
	sess_reply(s, 214, "2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP "
	           "QUIT VRFY HELP%s", s->cfg->auth_offered ? " AUTH" : "");
}

/* proceed_quit - 221, and the end */
static void proceed_quit(struct session *s, struct cmd_args *a)
{
	(void)a;
	sess_reply(s, 221, "2.0.0 %s Bye", s->cfg->hostname);
	s->done = 1;
}

/* check_not_impl - a command known but not served */
static int check_not_impl(struct session *s, const char *arg,
                          struct cmd_args *a)
{
	(void)s;
	(void)arg;
	return refuse(a, 502, "5.5.1 %s not implemented", a->verb);
}

/* check_starttls - STARTTLS: only where the caller can start TLS, only
 * once, not inside a transaction */
static int check_starttls(struct session *s, const char *arg,
                          struct cmd_args *a)
{
	if (!s->cfg->tls_available)
		return check_not_impl(s, arg, a);
	if (s->tls)
		return refuse(a, 503, "5.5.1 TLS already active");
	if (no_argument(arg, a))
		return 501;
	if (s->in_mail)
		return refuse(a, 503, "5.5.1 MAIL transaction in progress");
	return 0;
}

/* proceed_starttls - 220, and the engine stops reading: the caller starts
 * TLS (SESSION_START_TLS); or 454 when the caller cannot (its TLS object
 * could not be made), which is the server's condition, not an error */
static void proceed_starttls(struct session *s, struct cmd_args *a)
{
	(void)a;
	if (s->ops->tls_prepare != NULL) {
		struct status st = s->ops->tls_prepare(s->ctx);

		if (st.kind != ST_OK) {
			sess_reply(s, 454, "4.7.0 TLS not available: %s", st.text);
			return;
		}
	}
	sess_reply(s, 220, "2.0.0 Ready to start TLS");
	s->tls_pending = 1;
}

/* The table.  Before TLS (when it is required) only what RFC 3207 4
 * allows, and RSET and HELO, which reveal and move nothing either. */
static const struct session_cmd commands[] = {
	{ "HELO", CMD_PRE_TLS, check_helo, proceed_helo },
	{ "EHLO", CMD_PRE_TLS, check_helo, proceed_ehlo },
	{ "MAIL", CMD_AUTH, check_mail, proceed_mail },
	{ "RCPT", 0, check_rcpt, proceed_rcpt },
	{ "DATA", 0, check_data, proceed_data },
	{ "RSET", CMD_PRE_TLS | CMD_JUNK, check_none, proceed_rset },
	{ "NOOP", CMD_PRE_TLS | CMD_JUNK, NULL, proceed_noop },
	{ "QUIT", CMD_PRE_TLS, NULL, proceed_quit },
	{ "VRFY", CMD_JUNK, check_vrfy, proceed_vrfy },
	{ "HELP", CMD_JUNK, NULL, proceed_help },
	{ "STARTTLS", CMD_PRE_TLS, check_starttls, proceed_starttls },
	{ "EXPN", 0, check_not_impl, NULL },
	{ "TURN", 0, check_not_impl, NULL },
	{ "ETRN", 0, check_not_impl, NULL },
	{ "BDAT", 0, check_not_impl, NULL },
	/* in the clear: 538 from its check (530 first when TLS is required) */
	{ "AUTH", 0, sess_auth_check, sess_auth_proceed },
	{ "SEND", 0, check_not_impl, NULL },
	{ "SOML", 0, check_not_impl, NULL },
	{ "SAML", 0, check_not_impl, NULL },
};

/* sess_cmd_find - look verb up in the table */
const struct session_cmd *sess_cmd_find(const char *verb)
{
	size_t i;

	for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcasecmp(verb, commands[i].verb) == 0)
			return &commands[i];
	return NULL;
}
