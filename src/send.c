/* send.c - mta-send's two modes: injection of one message and the mail
 * gun; see send.h.  Reporting to the user happens here; SMTP is
 * smtp_client, files are msgsrc, the concurrency is gun.
 */
#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <stralloc.h>

#include "fromfield.h"
#include "gun.h"
#include "msghdr.h"
#include "msgsrc.h"
#include "send.h"
#include "smtp_client.h"
#include "tls.h"

/* send_say - one line on stderr, prefixed with the program name */
void send_say(const char *fmt, ...)
{
	va_list ap;

	fputs("mta-send: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* qualify - addr as it goes on the wire: brackets off, "@hostname" added
 * to a bare local name; NULL when out of memory */
static char *qualify(const char *addr, const char *hostname)
{
	size_t n = strlen(addr);
	char *out;

	if (n >= 2 && addr[0] == '<' && addr[n - 1] == '>') {
		addr++;
		n -= 2;
	}
	if (n == 0 || memchr(addr, '@', n))
		return strndup(addr, n);
	out = malloc(n + strlen(hostname) + 2);
	if (out)
		sprintf(out, "%.*s@%s", (int)n, addr, hostname);
	return out;
}

/* default_sender - the invoking user at our host name (like sendmail) */
static char *default_sender(const char *hostname)
{
	struct passwd pw, *pp = NULL;
	char buf[4096];
	const char *user = NULL;

	if (getpwuid_r(getuid(), &pw, buf, sizeof buf, &pp) == 0 && pp)
		user = pp->pw_name;
	if (user == NULL)
		user = getenv("LOGNAME");
	if (user == NULL)
		user = getenv("USER");
	return qualify(user ? user : "nobody", hostname);
}

/* addrlist_merge - add every address of b to a; 0 or -1 */
static int addrlist_merge(struct addrlist *a, const struct addrlist *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (addrlist_add(a, b->v[i], strlen(b->v[i])) < 0)
			return -1;
	return 0;
}

/* free_list - release a NULL-ended array of strings */
static void free_list(char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i]; i++)
		free(v[i]);
	free(v);
}

/* qualify_list - every address of l qualified, as a NULL-ended array */
static char **qualify_list(const struct addrlist *l, const char *hostname)
{
	char **v = calloc(l->n + 1, sizeof *v);
	size_t i;

	if (v == NULL)
		return NULL;
	for (i = 0; i < l->n; i++) {
		if ((v[i] = qualify(l->v[i], hostname)) == NULL) {
			free_list(v);
			return NULL;
		}
	}
	return v;
}

/* say_dropped - name every address in d that cannot be sent; control
 * characters shown as '?' */
static void say_dropped(const struct addrlist *d, const char *where)
{
	char *p;
	size_t i;

	for (i = 0; i < d->n; i++) {
		for (p = d->v[i]; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				*p = '?';
		send_say("%s: cannot send to %s: an address with 8-bit or control "
		         "characters, or over %d octets (no SMTPUTF8)", where,
		         d->v[i], MSG_ADDR_MAX);
	}
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

/* open_fail_exit - the exit code when no session could be had */
static int open_fail_exit(const struct smtp_result *r)
{
	if (r->reply.error != SMTP_REPLY_OK)
		return EX_PROTOCOL;
	if (r->stage == SMTP_STAGE_CONNECT)
		return r->st.kind == ST_PERM ? EX_NOHOST : EX_UNAVAILABLE;
	if (r->stage == SMTP_STAGE_GREETING)
		return r->reply.code / 100 == 4 ? EX_TEMPFAIL : EX_UNAVAILABLE;
	if (r->reply.code / 100 == 5)
		return EX_PROTOCOL;       /* EHLO and HELO refused */
	return EX_TEMPFAIL;
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
	if (dropped.n > 0) {
		say_dropped(&dropped, "argument");
		send_say("message not sent");
		ex = EX_USAGE;
		goto out;
	}
	if (o->tflag) {
		if (msg_header_addrs_all(sa.s ? sa.s : "", sa.len, NULL, 0, &rl,
		                         &dropped) < 0)
			goto nomem;
		/* Sending to the others would be a partial delivery the
		 * caller cannot repeat without duplicates: refuse it all. */
		if (dropped.n > 0) {
			say_dropped(&dropped, "To/Cc/Bcc");
			send_say("message not sent");
			ex = EX_DATAERR;
			goto out;
		}
		sa.len = msg_remove_bcc(sa.s, sa.len);
	}
	if (rl.n == 0) {
		send_say(o->tflag ? "no recipient addresses found in the header"
		             : "no recipients given");
		ex = EX_USAGE;
		goto out;
	}
	sender = o->sender ? qualify(o->sender, o->hostname)
	                   : default_sender(o->hostname);
	rv = qualify_list(&rl, o->hostname);
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

	smtp_client_init(c, &o->to);
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
	free_list(rv);
	free(sender);
	free(rres);
	free(c);
	addrlist_free(&rl);
	addrlist_free(&dropped);
	stralloc_free(&sa);
	return ex;
}

/* ---- the mail gun ----------------------------------------------------- */

/* every message to fire, and what its gun_msg points into */
struct load {
	struct gun_msg *msgs;
	char **senders;              /* [n], malloc'ed */
	char ***rcpts;               /* [n], NULL-ended arrays; or override */
	char **data;                 /* [n], the texts */
	size_t n, cap;
	char **override;             /* --rcpt, qualified; NULL when none */
	size_t noverride;
	char *default_sender;
};

/* load_grow - room for one more message */
static int load_grow(struct load *L)
{
	size_t cap = L->cap ? 2 * L->cap : 256;
	void *a, *b, *c, *d;

	if (L->n < L->cap)
		return 0;
	a = realloc(L->msgs, cap * sizeof *L->msgs);
	if (a)
		L->msgs = a;
	b = realloc(L->senders, cap * sizeof *L->senders);
	if (b)
		L->senders = b;
	c = realloc(L->rcpts, cap * sizeof *L->rcpts);
	if (c)
		L->rcpts = c;
	d = realloc(L->data, cap * sizeof *L->data);
	if (d)
		L->data = d;
	if (!a || !b || !c || !d)
		return -1;
	L->cap = cap;
	return 0;
}

/* load_one - take one message: its envelope, Bcc removed; recipients
 * that cannot be sent into dropped */
static int load_one(struct send_opts *o, struct load *L, struct msg *m,
                    struct addrlist *dropped)
{
	char from[MSG_ADDR_MAX + 1];
	struct addrlist rl;
	struct gun_msg *g;
	size_t i = L->n;

	addrlist_init(&rl);
	if (load_grow(L) < 0 ||
	    msg_header_addrs_all(m->data, m->len, from, sizeof from,
	                         L->override ? NULL : &rl,
	                         L->override ? NULL : dropped) < 0)
		goto nomem;
	m->len = msg_remove_bcc(m->data, m->len);
	L->senders[i] = o->sender ? qualify(o->sender, o->hostname) :
	                from[0] ? qualify(from, o->hostname) :
	                strdup(L->default_sender);
	L->rcpts[i] = L->override ? L->override : qualify_list(&rl, o->hostname);
	if (L->senders[i] == NULL || L->rcpts[i] == NULL) {
		free(L->senders[i]);
		if (L->rcpts[i] != L->override)
			free_list(L->rcpts[i]);
		goto nomem;
	}
	g = &L->msgs[i];
	g->data = m->data;
	g->len = m->len;
	g->sender = L->senders[i];
	g->rcpt = (const char *const *)L->rcpts[i];
	g->nrcpt = L->override ? L->noverride : rl.n;
	g->body_8bit = msg_has_8bit(m->data, m->len);
	L->data[i] = m->data;
	m->data = NULL;
	L->n++;
	addrlist_free(&rl);
	return 0;
nomem:
	addrlist_free(&rl);
	errno = ENOMEM;
	return -1;
}

/* load_free - release everything loaded */
static void load_free(struct load *L)
{
	size_t i;

	for (i = 0; i < L->n; i++) {
		free(L->senders[i]);
		if (L->rcpts[i] != L->override)
			free_list(L->rcpts[i]);
		free(L->data[i]);
	}
	free(L->msgs);
	free(L->senders);
	free(L->rcpts);
	free(L->data);
	free_list(L->override);
	free(L->default_sender);
}

/* load_files - every message of every FILE; returns 0 or an exit code */
static int load_files(struct send_opts *o, struct load *L, char **files, int n)
{
	struct msgsrc *ms;
	struct msg m;
	struct addrlist dropped;
	int i, r;

	for (i = 0; i < n; i++) {
		if (msgsrc_open(files[i], &ms) < 0) {
			send_say("%s: %s", files[i], errno == ENOTDIR ?
			    "a directory, but not a Maildir" : strerror(errno));
			return EX_NOINPUT;
		}
		while ((r = msgsrc_next(ms, &m)) > 0) {
			addrlist_init(&dropped);
			if (load_one(o, L, &m, &dropped) < 0) {
				addrlist_free(&dropped);
				msg_free(&m);
				msgsrc_close(ms);
				send_say("out of memory");
				return EX_OSERR;
			}
			/* a load tool sends what it can, but not in silence */
			if (dropped.n > 0)
				say_dropped(&dropped, msgsrc_where(ms));
			addrlist_free(&dropped);
			if (L->msgs[L->n - 1].nrcpt == 0)
				send_say("%s: no recipients (To, Cc, Bcc): it will fail",
				    msgsrc_where(ms));
		}
		if (r < 0) {
			send_say("%s: %s", msgsrc_where(ms), strerror(errno));
			msgsrc_close(ms);
			return EX_NOINPUT;
		}
		msgsrc_close(ms);
	}
	if (L->n == 0) {
		send_say("no messages in the files given");
		return EX_NOINPUT;
	}
	return 0;
}

struct show {
	int tty, quiet;
	sigset_t stop;               /* SIGINT, SIGTERM: blocked, polled */
	int stopped;
};

/* progress - a live counter on a terminal, a line now and then if not */
static void progress(void *ctx, const struct gun_stats *s, int final)
{
	struct show *sh = ctx;
	unsigned long long done = s->sent + s->refused + s->failed;
	double rate = s->elapsed > 0 ? (s->sent + s->refused) / s->elapsed : 0;

	if (sh->quiet || (final && !sh->tty))
		return;
	if (sh->tty)
		fprintf(stderr, "\r%llu/%llu  sent %llu  refused %llu  failed %llu"
		        "  %.1f messages/s\033[K%s", done, s->total, s->sent,
		        s->refused, s->failed, rate, final ? "\n" : "");
	else
		fprintf(stderr, "mta-send: %llu/%llu after %.0f s: sent %llu "
		        "refused %llu failed %llu, %.1f messages/s\n", done,
		        s->total, s->elapsed, s->sent, s->refused, s->failed,
		        rate);
	fflush(stderr);
}

/* should_stop - was SIGINT or SIGTERM sent (they are blocked)?  The
 * first finishes the messages under way, a second gives them up */
static int should_stop(void *ctx)
{
	struct show *sh = ctx;
	struct timespec zero = { 0, 0 };

	if (sh->stopped < 2 && sigtimedwait(&sh->stop, NULL, &zero) > 0) {
		sh->stopped++;
		if (sh->tty)
			fputc('\n', stderr);
		send_say(sh->stopped == 1 ?
		         "interrupted: finishing the messages under way "
		         "(again to give them up)" :
		         "interrupted again: giving up the messages under way");
	}
	return sh->stopped;
}

/* send_fire - the mail gun; returns the exit status */
int send_fire(struct send_opts *o, char **files, int nfiles)
{
	struct load L;
	struct gun_config cfg;
	struct gun_stats st;
	struct show sh;
	struct tls_ctx *tls = NULL;
	char err[256];
	int ex;

	memset(&L, 0, sizeof L);
	L.default_sender = default_sender(o->hostname);
	if (o->rcpt.n > 0) {
		L.override = qualify_list(&o->rcpt, o->hostname);
		L.noverride = o->rcpt.n;
	}
	if (L.default_sender == NULL || (o->rcpt.n > 0 && L.override == NULL)) {
		send_say("out of memory");
		ex = EX_OSERR;
		goto out;
	}
	ex = load_files(o, &L, files, nfiles);
	if (ex != 0)
		goto out;
	if (o->tls && (tls = tls_client_ctx(err, sizeof err)) == NULL) {
		send_say("TLS: %s", err);
		ex = EX_OSERR;
		goto out;
	}

	memset(&sh, 0, sizeof sh);
	sh.tty = isatty(2);
	sh.quiet = o->quiet;
	sigemptyset(&sh.stop);
	sigaddset(&sh.stop, SIGINT);
	sigaddset(&sh.stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sh.stop, NULL);   /* threads inherit it */

	memset(&cfg, 0, sizeof cfg);
	cfg.host = o->host;
	cfg.port = o->port;
	cfg.helo = o->helo;
	cfg.msgs = L.msgs;
	cfg.nmsgs = L.n;
	cfg.repeat = o->repeat;
	cfg.sessions = o->sessions;
	cfg.threads = o->threads;
	cfg.timeouts = o->to;
	cfg.tls = o->tls == 1 ? GUN_TLS_IMPLICIT : o->tls == 2 ? GUN_TLS_STARTTLS
	          : GUN_TLS_NONE;
	cfg.tls_ctx = tls;
	cfg.progress_ms = sh.tty ? 200 : 5000;
	cfg.progress = progress;
	cfg.should_stop = should_stop;
	cfg.ctx = &sh;
	if (gun_run(&cfg, &st) < 0) {
		send_say("cannot start the sessions: %s", strerror(errno));
		ex = EX_OSERR;
		goto out;
	}
	printf("sent %llu refused %llu failed %llu in %.2f s: %.1f messages/s, "
	       "latency p50 %.1f ms p99 %.1f ms\n", st.sent, st.refused,
	       st.failed, st.elapsed, st.elapsed > 0 ?
	       (st.sent + st.refused) / st.elapsed : 0.0, st.p50_ms, st.p99_ms);
	if (o->tls)
		printf("TLS handshakes %llu of %llu connections\n", st.tls_connects,
		       st.connects);
	fflush(stdout);
	if (st.have_refusal)
		send_say("first refusal: %s", st.first_refusal.text);
	if (st.have_failure)
		send_say("first failure: %s", st.first_failure.text);
	if (st.sent == st.total)
		ex = EX_OK;
	else if (st.sent + st.refused == 0 && st.connects == 0)
		ex = EX_UNAVAILABLE;
	else if (st.failed > 0)
		ex = EX_TEMPFAIL;
	else
		ex = EX_DATAERR;
out:
	tls_ctx_put(tls);
	load_free(&L);
	return ex;
}
