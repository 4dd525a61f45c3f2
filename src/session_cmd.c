/* session_cmd.c - the SMTP commands of the server session; see
 * session_priv.h
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "session_priv.h"

/* skip_spaces - past any SP in a command argument */
static const char *skip_spaces(const char *p)
{
	while (*p == ' ')
		p++;
	return p;
}

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

/* cmd_helo - HELO and EHLO: (re)start the session */
static void cmd_helo(struct session *s, const char *arg, int esmtp)
{
	const char *end;
	char name[ENVELOPE_HELO_MAX];
	size_t n;

	arg = skip_spaces(arg);
	for (end = arg; *end && *end != ' '; end++)
		;
	n = (size_t)(end - arg);
	if (n == 0 || n >= sizeof name || *skip_spaces(end) != '\0') {
		sess_reply(s, 501, "5.5.4 Syntax: %s hostname", esmtp ? "EHLO" : "HELO");
		sess_error(s);
		return;
	}
	memcpy(name, arg, n);
	name[n] = '\0';
	if (!helo_valid(name)) {
		sess_reply(s, 501, "5.5.2 Invalid domain name in %s", esmtp ? "EHLO" : "HELO");
		sess_error(s);
		return;
	}
	/* A second HELO/EHLO is allowed: it ends any transaction (RFC 5321
	 * 4.1.4) and replaces the name. */
	sess_tx_reset(s);
	memcpy(s->helo, name, n + 1);
	s->esmtp = esmtp;
	if (!esmtp) {
		sess_reply(s, 250, "%s", s->cfg->hostname);
		return;
	}
	/* Line by line: a long hostname and HELO name cut the first line
	 * (within 512 octets) instead of losing the whole reply. */
	sess_reply_more(s, 250, "%s Hello %s [%s]", s->cfg->hostname, name, s->client_ip);
	sess_reply_more(s, 250, "PIPELINING");
	sess_reply_more(s, 250, "SIZE %llu", s->cfg->max_size);
	sess_reply_more(s, 250, "8BITMIME");
	sess_reply_more(s, 250, "ENHANCEDSTATUSCODES");
	sess_reply(s, 250, "HELP");
}

/* path_arg - after "FROM:" / "TO:": check the keyword, return the path */
static const char *path_arg(const char *arg, const char *keyword)
{
	size_t k = strlen(keyword);

	if (strncasecmp(arg, keyword, k) != 0)
		return NULL;
	return skip_spaces(arg + k);
}

/* parse_mail_params - the ESMTP parameters of MAIL; 0 ok, else replied */
static int parse_mail_params(struct session *s, const char *p)
{
	while (*(p = skip_spaces(p))) {
		const char *end = p;
		char word[64];
		size_t n;

		while (*end && *end != ' ')
			end++;
		n = (size_t)(end - p);
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
			if (errno == ERANGE || v > s->cfg->max_size) {
				sess_reply(s, 552, "5.3.4 Message too big (limit %llu octets)",
				      s->cfg->max_size);
				sess_error(s);
				return -1;
			}
		} else if (strcasecmp(word, "BODY=7BIT") == 0 ||
		           strcasecmp(word, "BODY=8BITMIME") == 0) {
			s->env.body_8bit = word[5] == '8';   /* kept in the queue */
		} else {
			sess_reply(s, 555, "5.5.4 Unsupported parameter %.40s", word);
			sess_error(s);
			return -1;
		}
		p = end;
	}
	return 0;
bad:
	sess_reply(s, 501, "5.5.4 Bad MAIL parameter syntax");
	sess_error(s);
	return -1;
}

/* cmd_mail - MAIL FROM:<path> [SIZE=n] [BODY=...] */
static void cmd_mail(struct session *s, const char *arg)
{
	struct mailbox mb;
	enum addr_error e;
	const char *p;
	size_t used;

	if (!s->helo[0]) {
		sess_reply(s, 503, "5.5.1 Send HELO or EHLO first");
		sess_error(s);
		return;
	}
	if (s->in_mail) {
		sess_reply(s, 503, "5.5.1 Nested MAIL command");
		sess_error(s);
		return;
	}
	p = path_arg(arg, "FROM:");
	if (p == NULL) {
		sess_reply(s, 501, "5.5.4 Syntax: MAIL FROM:<address>");
		sess_error(s);
		return;
	}
	e = addr_parse_path(p, strlen(p), &mb, &used, 1, 0);
	if (e != ADDR_OK) {
		sess_reply(s, 501, "5.1.7 Bad sender address: %s", addr_error_text(e));
		sess_error(s);
		return;
	}
	if (p[used] != '\0' && p[used] != ' ') {
		sess_reply(s, 501, "5.1.7 Bad sender address syntax");
		sess_error(s);
		return;
	}
	if (!s->esmtp && *skip_spaces(p + used) != '\0') {
		sess_reply(s, 501, "5.5.4 MAIL parameters need EHLO");
		sess_error(s);
		return;
	}
	s->env.body_8bit = 0;
	if (s->esmtp && parse_mail_params(s, p + used) != 0)
		return;
	s->env.sender = mb;
	s->in_mail = 1;
	sess_reply(s, 250, "2.1.0 Ok");
}

/* cmd_rcpt - RCPT TO:<path> */
static void cmd_rcpt(struct session *s, const char *arg)
{
	struct mailbox mb;
	struct status st;
	enum addr_error e;
	const char *p;
	size_t used;

	if (!s->in_mail) {
		sess_reply(s, 503, "5.5.1 Need MAIL before RCPT");
		sess_error(s);
		return;
	}
	p = path_arg(arg, "TO:");
	if (p == NULL) {
		sess_reply(s, 501, "5.5.4 Syntax: RCPT TO:<address>");
		sess_error(s);
		return;
	}
	e = addr_parse_path(p, strlen(p), &mb, &used, 0, 1);
	if (e != ADDR_OK) {
		sess_reply(s, 501, "5.1.3 Bad recipient address: %s", addr_error_text(e));
		sess_error(s);
		return;
	}
	/* "<a@b>junk" is a bad address, not a parameter (as in MAIL) */
	if (p[used] != '\0' && p[used] != ' ') {
		sess_reply(s, 501, "5.1.3 Bad recipient address syntax");
		sess_error(s);
		return;
	}
	if (*skip_spaces(p + used) != '\0') {
		sess_reply(s, 555, "5.5.4 RCPT parameters not supported");
		sess_error(s);
		return;
	}
	if (s->env.nrcpt >= s->cfg->max_rcpt) {
		sess_reply(s, 452, "4.5.3 Too many recipients");
		/* a client that sends its recipients in several transactions,
		 * as it should (RFC 5321 4.5.3.1.10), errs only past as many
		 * again */
		if (++s->over_rcpt > s->cfg->max_rcpt)
			sess_error(s);
		return;
	}
	st = s->ops->check_rcpt(s->ctx, &mb);
	if (st.kind != ST_OK) {
		int perm = st.subject == 7 ? 554
		         : (st.subject == 1 && st.detail == 3) ? 553 : 550;

		sess_reply_status(s, &st, perm, sess_temp_code(&st, 450));
		/* Every refused recipient is an error, or probing for mailboxes
		 * (250 or 550?) and for relaying would be free; a temporary
		 * failure is our own state, not the client's fault. */
		if (st.kind == ST_PERM)
			sess_error(s);
		return;
	}
	if (envelope_add_rcpt(&s->env, &mb) < 0) {
		sess_reply(s, 452, "4.3.0 Out of memory");
		return;
	}
	sess_reply(s, 250, "2.1.5 Ok");
}

/* cmd_data - DATA */
static void cmd_data(struct session *s, const char *arg)
{
	if (*skip_spaces(arg)) {
		sess_reply(s, 501, "5.5.4 Syntax: DATA");
		sess_error(s);
	} else if (!s->in_mail) {
		sess_reply(s, 503, "5.5.1 Need MAIL command");
		sess_error(s);
	} else if (s->env.nrcpt == 0) {
		sess_reply(s, 503, "5.5.1 Need RCPT command (no valid recipients)");
		sess_error(s);
	} else {
		sess_data_begin(s);
	}
}

/* cmd_rset - RSET */
static void cmd_rset(struct session *s, const char *arg)
{
	if (*skip_spaces(arg)) {
		sess_reply(s, 501, "5.5.4 Syntax: RSET");
		sess_error(s);
		return;
	}
	sess_tx_reset(s);
	sess_reply(s, 250, "2.0.0 Ok");
	sess_junk(s);
}

/* cmd_vrfy - VRFY: never reveal mailboxes (RFC 5321 3.5.3) */
static void cmd_vrfy(struct session *s, const char *arg)
{
	if (!*skip_spaces(arg)) {
		sess_reply(s, 501, "5.5.4 Syntax: VRFY address");
		sess_error(s);
		return;
	}
	sess_reply(s, 252, "2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
	sess_junk(s);
}

/* sess_dispatch - run one complete command line (no CRLF, NUL-free) */
void sess_dispatch(struct session *s, char *line)
{
	static const char *const not_impl[] = {
		"EXPN", "TURN", "ETRN", "BDAT", "STARTTLS", "AUTH", "SEND", "SOML",
		"SAML", NULL
	};
	const char *arg;
	char verb[12];
	size_t n, i;

	for (n = 0; line[n] && line[n] != ' '; n++)
		;
	arg = line + n;
	if (n == 0 || n >= sizeof verb) {
		sess_reply(s, 500, "5.5.2 Command unrecognized");
		sess_error(s);
		return;
	}
	memcpy(verb, line, n);
	verb[n] = '\0';
	if (*arg == ' ')
		arg++;
	/* Trailing spaces are tolerated everywhere. */
	for (i = strlen(line); i > n && line[i - 1] == ' '; i--)
		line[i - 1] = '\0';

	if (strcasecmp(verb, "EHLO") == 0)      cmd_helo(s, arg, 1);
	else if (strcasecmp(verb, "HELO") == 0) cmd_helo(s, arg, 0);
	else if (strcasecmp(verb, "MAIL") == 0) cmd_mail(s, arg);
	else if (strcasecmp(verb, "RCPT") == 0) cmd_rcpt(s, arg);
	else if (strcasecmp(verb, "DATA") == 0) cmd_data(s, arg);
	else if (strcasecmp(verb, "RSET") == 0) cmd_rset(s, arg);
	else if (strcasecmp(verb, "VRFY") == 0) cmd_vrfy(s, arg);
	else if (strcasecmp(verb, "NOOP") == 0) {
		sess_reply(s, 250, "2.0.0 Ok");
		sess_junk(s);
	} else if (strcasecmp(verb, "HELP") == 0) {
		sess_reply(s, 214, "2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP");
		sess_junk(s);
	} else if (strcasecmp(verb, "QUIT") == 0) {
		sess_reply(s, 221, "2.0.0 %s Bye", s->cfg->hostname);
		s->done = 1;
	} else {
		for (i = 0; not_impl[i]; i++)
			if (strcasecmp(verb, not_impl[i]) == 0)
				break;
		if (not_impl[i])
			sess_reply(s, 502, "5.5.1 %s not implemented", not_impl[i]);
		else
			sess_reply(s, 500, "5.5.2 Command unrecognized");
		sess_error(s);
	}
}
