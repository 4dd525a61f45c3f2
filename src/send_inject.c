/* send_inject.c - mta-send's injection of one message: the message on
 * standard input, its recipients from the arguments (and with -t from
 * its header), one SMTP transaction through smtp_client, each refusal
 * reported and mapped to an exit code; see send.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sysexits.h>
#include <unistd.h>

#include <stralloc.h>

#include "fromfield.h"
#include "maildrop.h"
#include "queue.h"
#include "msghdr.h"
#include "send.h"
#include "send_priv.h"
#include "smtp_client.h"
#include "tls.h"

/* addrlist_merge - add every address of b to a; 0 or -1 */
static int addrlist_merge(struct addrlist *a, const struct addrlist *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (addrlist_add(a, b->v[i], strlen(b->v[i])) < 0)
			return -1;
	return 0;
}

/* read_stdin - the message on standard input into sa */
static int read_stdin(stralloc *sa)
{
	char buf[65536];
	ssize_t r;

	for (;;) {
		r = read(0, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
		if (!stralloc_catb(sa, buf, (size_t)r)) {
			errno = ENOMEM;
			return -1;
		}
	}
}

/* report - a server's refusal (or a local failure) on stderr, every line
 * of the reply */
static void report(const struct smtp_client *c, const char *what,
                   const struct smtp_result *r)
{
	char line[SMTP_REPLY_LINE_MAX], enh[24] = "";
	unsigned i;

	if (r->reply.code == 0 || r->reply.error != SMTP_REPLY_OK) {
		if (what)
			send_say("%s: %s", what, r->st.text);
		else
			send_say("%s", r->st.text);
		return;
	}
	if (r->reply.enh_class)
		snprintf(enh, sizeof enh, "%d.%d.%d ", r->reply.enh_class,
		         r->reply.enh_subject, r->reply.enh_detail);
	for (i = 0; i < r->reply.lines; i++) {
		if (smtp_reply_line(&r->reply, i, line, sizeof line) < 0)
			break;
		if (i == 0)
			send_say("%s%s%s said: %d %s%s", what ? what : "", what ? ": " : "",
			    c->peer, r->reply.code, enh, line);
		else
			send_say("    %s", line);
	}
}

/* exit_for - the sysexits.h code for a failed result */
static int exit_for(const struct smtp_result *r)
{
	if (r->st.kind == ST_OK)
		return EX_OK;
	if (r->reply.error != SMTP_REPLY_OK)
		return EX_PROTOCOL;
	if (r->st.kind == ST_TEMP)
		return EX_TEMPFAIL;
	return r->stage == SMTP_STAGE_RCPT ? EX_NOUSER : EX_DATAERR;
}

/* worse - the more serious of two exit codes for one message */
static int worse(int a, int b)
{
	static const int order[] = { EX_TEMPFAIL, EX_PROTOCOL, EX_DATAERR,
	                             EX_NOUSER, EX_OK };
	size_t i;

	for (i = 0; i < sizeof order / sizeof order[0]; i++)
		if (a == order[i] || b == order[i])
			return order[i];
	return a;
}

/* open_fail_exit - the exit code when no session could be had: a server
 * down, slow or unresolvable for now is EX_TEMPFAIL, as callers (pipe(8),
 * procmail, fetchmail) bounce or drop the message on EX_UNAVAILABLE and
 * EX_NOHOST; those stay for a name that does not exist and a 5xx
 * greeting */
static int open_fail_exit(const struct smtp_result *r)
{
	if (r->reply.error != SMTP_REPLY_OK)
		return EX_PROTOCOL;
	/* the login refused (535): the user's to mend; the rest of AUTH's
	 * failures (no TLS, no mechanism, 454) may pass */
	if (r->stage == SMTP_STAGE_AUTH)
		return r->reply.code == 535 ? EX_NOPERM : EX_TEMPFAIL;
	if (r->stage == SMTP_STAGE_CONNECT)
		return r->st.kind == ST_PERM ? EX_NOHOST : EX_TEMPFAIL;
	if (r->stage == SMTP_STAGE_GREETING)
		return r->reply.code / 100 == 5 ? EX_UNAVAILABLE : EX_TEMPFAIL;
	if (r->reply.code / 100 == 5)
		return EX_PROTOCOL;       /* EHLO and HELO refused */
	return EX_TEMPFAIL;
}

/* refuse_dropped - when d holds addresses that cannot be sent to
 * (found where), name them and refuse the whole message: returns ex;
 * else 0.  Sending to the others would be a partial delivery the caller
 * cannot repeat without duplicates. */
static int refuse_dropped(const struct addrlist *d, const char *where, int ex)
{
	if (d->n == 0)
		return 0;
	send_say_dropped(d, where);
	send_say("message not sent");
	return ex;
}

/* drop - the message into the queue's maildrop/ (no server named):
 * EX_OK once it is durable there, EX_TEMPFAIL when it could not be
 * written (nothing left behind) */
static int drop(const struct send_opts *o, const char *sender, char **rv,
                size_t nrcpt, const stralloc *msg)
{
	stralloc env = { 0, 0, 0 };
	struct iovec iov[2];
	char id[ENVELOPE_ID_MAX];
	size_t i;
	int ok;

	if (o->max_rcpt > 0 && nrcpt > o->max_rcpt) {
		send_say("%zu recipients, more than max-rcpt (%u) in the configuration "
		         "file allows: message not sent", nrcpt, o->max_rcpt);
		return EX_UNAVAILABLE;
	}
	/* -R, -V and -N as the file's ret, envid and notify lines (checked
	 * by send_dsn_*, and again by the daemon as a client's RET=, ENVID=,
	 * NOTIFY=) */
	ok = stralloc_copys(&env, MAILDROP_MAGIC) && stralloc_cats(&env, "sender <") &&
	     stralloc_cats(&env, sender) && stralloc_cats(&env, ">\n");
	if (ok && o->dsn_ret[0])
		ok = stralloc_cats(&env, "ret ") && stralloc_cats(&env, o->dsn_ret) &&
		     stralloc_cats(&env, "\n");
	if (ok && o->dsn_envid[0])
		ok = stralloc_cats(&env, "envid ") && stralloc_cats(&env, o->dsn_envid) &&
		     stralloc_cats(&env, "\n");
	for (i = 0; ok && i < nrcpt; i++) {
		ok = stralloc_cats(&env, "rcpt <") && stralloc_cats(&env, rv[i]) &&
		     stralloc_cats(&env, ">\n");
		if (ok && o->dsn_notify[0])
			ok = stralloc_cats(&env, "notify ") &&
			     stralloc_cats(&env, o->dsn_notify) && stralloc_cats(&env, "\n");
	}
	if (!ok || !stralloc_cats(&env, "\n")) {
		stralloc_free(&env);
		send_say("out of memory");
		return EX_OSERR;
	}
	iov[0] = (struct iovec){ env.s, env.len };
	iov[1] = (struct iovec){ msg->s ? msg->s : "", msg->len };
	if (queue_maildrop_put(o->queue, iov, 2, id) < 0) {
		send_say("cannot queue the message in %s/maildrop: %s (is mta-smtpd "
		         "set up there?)", o->queue, strerror(errno));
		stralloc_free(&env);
		return EX_TEMPFAIL;
	}
	stralloc_free(&env);
	return EX_OK;
}

/* send_inject - send the message on stdin; returns the exit status */
int send_inject(struct send_opts *o, char **args, int nargs)
{
	stralloc sa = { 0, 0, 0 };
	struct addrlist rl, dropped;
	struct smtp_client *c = NULL;
	struct smtp_result res, *rres = NULL, q;
	struct smtp_tx tx;
	char **rv = NULL, *sender = NULL, what[300];
	struct tls_ctx *tls = NULL;
	int i, ex = EX_OSERR;
	size_t k;

	addrlist_init(&rl);
	addrlist_init(&dropped);
	if (read_stdin(&sa) < 0) {
		send_say("reading the message: %s", strerror(errno));
		ex = EX_IOERR;
		goto out;
	}
	/* An mbox From_ line (git format-patch writes one) is no header
	 * field; left in, it would make the whole header body.  sendmail
	 * drops it too. */
	k = msg_skip_from_line(sa.s ? sa.s : "", sa.len);
	if (k > 0) {
		memmove(sa.s, sa.s + k, sa.len - k);
		sa.len -= k;
	}
	for (i = 0; i < nargs; i++) {
		struct addrlist one;
		size_t d0 = dropped.n;
		int bad;

		addrlist_init(&one);
		if (msg_parse_addresses_all(args[i], strlen(args[i]), &one,
		                            &dropped) < 0 ||
		    addrlist_merge(&rl, &one) < 0) {
			addrlist_free(&one);
			goto nomem;
		}
		bad = one.n == 0 && dropped.n == d0;
		addrlist_free(&one);
		if (bad) {
			send_say("not a recipient address: %s", args[i]);
			ex = EX_USAGE;
			goto out;
		}
	}
	if ((ex = refuse_dropped(&dropped, "argument", EX_USAGE)) != 0)
		goto out;
	if (o->tflag) {
		if (msg_header_addrs_all(sa.s ? sa.s : "", sa.len, NULL, 0, &rl,
		                         &dropped) < 0)
			goto nomem;
		ex = refuse_dropped(&dropped, "To/Cc/Bcc", EX_DATAERR);
		if (ex != 0)
			goto out;
		sa.len = msg_remove_bcc(sa.s, sa.len);
	}
	if (rl.n == 0) {
		send_say(o->tflag ? "no recipient addresses found in the header"
		             : "no recipients given");
		ex = EX_USAGE;
		goto out;
	}
	sender = o->sender ? send_qualify(o->sender, o->hostname)
	                   : send_default_sender(o->hostname);
	rv = send_qualify_list(&rl, o->hostname);
	c = malloc(sizeof *c);
	rres = calloc(rl.n, sizeof *rres);
	if (sender == NULL || rv == NULL || c == NULL || rres == NULL)
		goto nomem;
	/* With the null sender there is no address to name: mta-smtpd then
	 * refuses a message without From:, and says so. */
	if (sender[0] != '\0' && fromfield_add(&sa, o->fullname, sender) < 0) {
		if (errno == ENOMEM)
			goto nomem;
		send_say("bad full name: %s", o->fullname);
		ex = EX_USAGE;
		goto out;
	}

	if (o->maildrop) {
		ex = drop(o, sender, rv, rl.n, &sa);
		goto out;
	}
	smtp_client_init(c, &o->to);
	/* a login goes only over TLS (STARTTLS, or implicit with --tls) to
	 * a certificate valid for the server's name (verify): mta-send
	 * checks it as a mail client would; so does --tls without a login */
	if (o->auth_user != NULL || o->tls == 1) {
		char err[256];

		if ((tls = tls_client_ctx(o->tls_ca, err, sizeof err)) == NULL) {
			send_say("TLS: %s", err);
			ex = EX_CONFIG;
			goto out;
		}
		smtp_client_tls(c, TLS_POLICY_VERIFY, tls, o->host);
		if (o->tls == 1)
			smtp_client_tls_implicit(c);
		if (o->auth_user != NULL)
			smtp_client_auth(c, o->auth_user, o->auth_pass, 0);
	}
	if (smtp_client_open(c, o->host, o->port, o->helo, &res) < 0) {
		report(c, res.reply.code ? smtp_stage_name(res.stage) : NULL, &res);
		ex = open_fail_exit(&res);
		goto out;
	}
	memset(&tx, 0, sizeof tx);
	tx.sender = sender;
	tx.rcpt = (const char *const *)rv;
	tx.nrcpt = rl.n;
	tx.data = sa.s ? sa.s : "";
	tx.len = sa.len;
	tx.fd = -1;
	tx.body_8bit = msg_has_8bit(tx.data, tx.len);
	tx.dsn_notify = o->dsn_notify[0] ? o->dsn_notify : NULL;
	tx.dsn_ret = o->dsn_ret[0] ? o->dsn_ret : NULL;
	tx.dsn_envid = o->dsn_envid[0] ? o->dsn_envid : NULL;
	ex = EX_OK;
	if (smtp_client_send(c, &tx, rres, &res) < 0 &&
	    res.stage != SMTP_STAGE_RCPT) {
		snprintf(what, sizeof what, "%s", res.stage == SMTP_STAGE_MAIL ?
		         "MAIL FROM" : smtp_stage_name(res.stage));
		if (res.stage == SMTP_STAGE_MAIL)
			snprintf(what, sizeof what, "MAIL FROM:<%s>", sender);
		report(c, what, &res);
		ex = exit_for(&res);
	} else {
		for (k = 0; k < rl.n; k++) {
			if (rres[k].st.kind == ST_OK)
				continue;
			snprintf(what, sizeof what, "RCPT TO:<%s>", rv[k]);
			if (rres[k].stage != SMTP_STAGE_RCPT)
				snprintf(what, sizeof what, "<%s>: %s", rv[k],
				         smtp_stage_name(rres[k].stage));
			report(c, what, &rres[k]);
			ex = worse(ex, exit_for(&rres[k]));
		}
	}
	if (smtp_client_connected(c))
		smtp_client_quit(c, &q);
	goto out;
nomem:
	send_say("out of memory");
	ex = EX_OSERR;
out:
	tls_ctx_put(tls);
	send_free_list(rv);
	free(sender);
	free(rres);
	free(c);
	addrlist_free(&rl);
	addrlist_free(&dropped);
	stralloc_free(&sa);
	return ex;
}
