/* send_gun.c - mta-send's mail gun: every message of the files given
 * loaded (msgsrc), fired over many sessions (gun), the progress and the
 * totals reported, SIGINT and SIGTERM polled to stop early; see send.h.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "gun.h"
#include "msghdr.h"
#include "msgsrc.h"
#include "send.h"
#include "send_priv.h"
#include "tls.h"

/* what one message's gun_msg points into, malloc'ed */
struct held {
	char *sender;
	char **rcpts;                /* NULL-ended; or the load's override */
	char *data;                  /* the text */
};

/* every message to fire */
struct load {
	struct gun_msg *msgs;        /* [n], as gun_run takes them */
	struct held *held;           /* [n] */
	size_t n, cap;
	char **override;             /* --rcpt, qualified; NULL when none */
	size_t noverride;
	char *default_sender;
};

/* load_grow - room for one more message */
static int load_grow(struct load *L)
{
	size_t cap = L->cap ? 2 * L->cap : 256;
	void *a, *b;

	if (L->n < L->cap)
		return 0;
	a = realloc(L->msgs, cap * sizeof *L->msgs);
	if (a)
		L->msgs = a;
	b = realloc(L->held, cap * sizeof *L->held);
	if (b)
		L->held = b;
	if (!a || !b)
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
	struct held *h;

	addrlist_init(&rl);
	if (load_grow(L) < 0 ||
	    msg_header_addrs_all(m->data, m->len, from, sizeof from,
	                         L->override ? NULL : &rl,
	                         L->override ? NULL : dropped) < 0)
		goto nomem;
	m->len = msg_remove_bcc(m->data, m->len);
	h = &L->held[L->n];
	h->sender = o->sender ? send_qualify(o->sender, o->hostname) :
	            from[0] ? send_qualify(from, o->hostname) :
	            strdup(L->default_sender);
	h->rcpts = L->override ? L->override :
	           send_qualify_list(&rl, o->hostname);
	if (h->sender == NULL || h->rcpts == NULL) {
		free(h->sender);
		if (h->rcpts != L->override)
			send_free_list(h->rcpts);
		goto nomem;
	}
	g = &L->msgs[L->n];
	g->data = m->data;
	g->len = m->len;
	g->sender = h->sender;
	g->rcpt = (const char *const *)h->rcpts;
	g->nrcpt = L->override ? L->noverride : rl.n;
	g->body_8bit = msg_has_8bit(m->data, m->len);
	h->data = m->data;
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
		free(L->held[i].sender);
		if (L->held[i].rcpts != L->override)
			send_free_list(L->held[i].rcpts);
		free(L->held[i].data);
	}
	free(L->msgs);
	free(L->held);
	send_free_list(L->override);
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
				send_say_dropped(&dropped, msgsrc_where(ms));
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
	L.default_sender = send_default_sender(o->hostname);
	if (o->rcpt.n > 0) {
		L.override = send_qualify_list(&o->rcpt, o->hostname);
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
	if (o->tls && (tls = tls_load_ctx(err, sizeof err)) == NULL) {
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
	cfg.per_connection = o->per_connection;
	cfg.connect_only = o->connect_only;
	cfg.timeouts = o->to;
	cfg.tls = o->tls == 1 ? GUN_TLS_IMPLICIT : o->tls == 2 ? GUN_TLS_STARTTLS
	          : GUN_TLS_NONE;
	cfg.tls_ctx = tls;
	cfg.auth_user = o->auth_user;
	cfg.auth_pass = o->auth_pass;
	cfg.progress_ms = sh.tty ? 200 : 5000;
	cfg.progress = progress;
	cfg.should_stop = should_stop;
	cfg.ctx = &sh;
	if (gun_run(&cfg, &st) < 0) {
		send_say("cannot start the sessions: %s", strerror(errno));
		ex = EX_OSERR;
		goto out;
	}
	if (o->connect_only)
		printf("connected %llu failed %llu in %.2f s: %.1f connections/s, "
		       "hello p50 %.1f ms p99 %.1f ms\n", st.sent, st.failed,
		       st.elapsed, st.elapsed > 0 ? st.sent / st.elapsed : 0.0,
		       st.p50_ms, st.p99_ms);
	else
		printf("sent %llu refused %llu failed %llu in %.2f s: %.1f "
		       "messages/s, latency p50 %.1f ms p99 %.1f ms\n", st.sent,
		       st.refused, st.failed, st.elapsed, st.elapsed > 0 ?
		       (st.sent + st.refused) / st.elapsed : 0.0, st.p50_ms,
		       st.p99_ms);
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
