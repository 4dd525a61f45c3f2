/* test_session - the SMTP server session driven without sockets.
 *
 * Fake ops record what the session asks of them (recipient checks, the
 * envelope, every byte written, commit, abort); the clock is fixed.  Input
 * goes in whole, one byte at a time, or in random fragments while the
 * output is drained in random amounts, and most tests run in all three
 * modes.  Every reply of every test goes through check_replies(): RFC 5321
 * 4.2 reply syntax, lines of at most 512 octets, and an RFC 3463 enhanced
 * status code of the right class on every 2xx/4xx/5xx line except the
 * greeting and the answers to HELO/EHLO, which RFC 2034 section 3 exempts
 * (221, 421 and the 220 to STARTTLS are not exempt).  What session_feed
 * returns is checked too: all input used unless it asks for an action,
 * and nothing used or said once it has.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "session.h"
#include "session_priv.h"   /* authenticated, set as AUTH will */

/* 2023-11-14 22:13:20 UTC, a Tuesday: every date below depends on it */
#define NOW     ((time_t)1700000000)
#define DATE    "Tue, 14 Nov 2023 22:13:20 +0000"
#define HOST    "mx.test.example"
#define CLIENT  "client.test.example"
#define IP      "192.0.2.1"

#define EHLO    "EHLO " CLIENT "\r\n"
#define MAIL    "MAIL FROM:<bob@test.example>\r\n"
#define RCPT    "RCPT TO:<alice@test.example>\r\n"
#define PRE     EHLO MAIL RCPT "DATA\r\n"
#define PRE_OK  "250 250 250 354"
/* a complete header: the header module adds nothing to it */
#define HDR     "From: <bob@test.example>\r\nDate: " DATE "\r\n" \
                "Message-ID: <m1@test.example>\r\n\r\n"
#define HDR_LF  "From: <bob@test.example>\nDate: " DATE "\n" \
                "Message-ID: <m1@test.example>\n\n"
#define RCVD_ID(id, rcpt) \
	"Received: from " CLIENT " ([" IP "])\n" \
	"\tby " HOST " (mta) with ESMTP id " id "\n" \
	"\tfor <" rcpt ">; " DATE "\n"
#define RCVD    RCVD_ID("TESTID1", "alice@test.example")
/* what the header module appends to a header without them */
#define ADDED(id) "Date: " DATE "\nFrom: bob@test.example\n" \
                  "Message-ID: <" id "@" HOST ">\n"

enum mode { WHOLE, BYTES, RANDOM, NMODES };
static const char *const mode_name[NMODES] = { "whole", "bytes", "random" };

enum { MAXRCPT = 16 };

/* a growing byte buffer, always NUL-terminated for readable asserts */
struct buf {
	char *p;
	size_t len, cap;
};

/* buf_add - append p[0..n) */
static void buf_add(struct buf *b, const char *p, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;

		while (b->len + n + 1 > cap)
			cap *= 2;
		b->p = realloc(b->p, cap);
		cr_assert_not_null(b->p);
		b->cap = cap;
	}
	if (n > 0)
		memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* buf_str - the contents as a C string ("" when never written) */
static const char *buf_str(const struct buf *b)
{
	return b->p ? b->p : "";
}

/* buf_clear - empty again, keeping the memory */
static void buf_clear(struct buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

/* One session under test and everything its fake ops saw. */
struct fake {
	struct session_config cfg;
	char hostname[300];
	struct session *s;
	enum mode mode;
	unsigned seed;

	struct status open_st;     /* what tx_open returns */
	struct status commit_st;   /* what tx_commit returns */
	int tls_unavailable;       /* tls_prepare says it cannot be now */
	unsigned tls_prepared;     /* tls_prepare calls */

	int checks, opens, ids, commits, commit_fails, aborts, writes;
	int misuse;                /* an op called when it must not be */
	int open;                  /* between tx_open and commit/abort */

	/* the envelope as tx_open saw it */
	time_t arrival;
	char helo[ENVELOPE_HELO_MAX], client[ENVELOPE_CLIENT_MAX];
	char sender[ADDR_MAX];
	size_t nrcpt;
	char rcpt[MAXRCPT][ADDR_MAX];
	int body_8bit;
	int ret;
	char envid[DSN_ENVID_MAX];
	unsigned notify[MAXRCPT];
	char orcpt[MAXRCPT][DSN_ORCPT_MAX];

	struct buf msg;            /* bytes written to the open message */
	struct buf stored;         /* the last committed message */
	struct buf out;            /* raw replies of the last talk() */
	enum session_action action; /* what session_feed last returned */
	size_t used;               /* bytes of the last talk() it used */
	char codes[4096];          /* "250 354 ..." of the last talk() */
	char sum[8192];            /* "250 2.1.0,354,..." of the last talk() */
};

/* rnd - a small fixed-seed generator, so failures repeat */
static unsigned rnd(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 16) & 0x7fff;
}

/* fixed_now - the session's clock */
static time_t fixed_now(void)
{
	return NOW;
}

/* local_is - is rcpt's local part exactly l? */
static int local_is(const struct mailbox *rcpt, const char *l)
{
	return rcpt->at == strlen(l) && strncmp(rcpt->text, l, rcpt->at) == 0;
}

/* fk_check_rcpt - anything @test.example, a few names with set failures */
static struct status fk_check_rcpt(void *ctx, const struct mailbox *rcpt)
{
	struct fake *fx = ctx;

	fx->checks++;
	if (fx->open)
		fx->misuse++;
	if (rcpt->at == 0 && strcasecmp(rcpt->text, "postmaster") == 0)
		return status_ok();
	if (strcasecmp(addr_domain(rcpt), "test.example") != 0)
		return status_make(ST_PERM, 7, 1, "Relay access denied");
	if (local_is(rcpt, "full"))
		return status_make(ST_TEMP, 3, 1, "Insufficient system storage");
	if (local_is(rcpt, "broken"))
		return status_make(ST_TEMP, 3, 0, "Local error");
	if (local_is(rcpt, "busy"))
		return status_make(ST_TEMP, 2, 1, "Mailbox busy");
	if (local_is(rcpt, "nobody"))
		return status_make(ST_PERM, 1, 1, "No such user here");
	if (local_is(rcpt, "badname"))
		return status_make(ST_PERM, 1, 3, "Bad mailbox name");
	return status_ok();
}

/* fk_tx_open - record the envelope, name the message TESTID<n> */
static struct status fk_tx_open(void *ctx, struct envelope *env)
{
	struct fake *fx = ctx;
	size_t i;

	fx->opens++;
	if (fx->open)
		fx->misuse++;
	if (fx->open_st.kind != ST_OK)
		return fx->open_st;
	fx->open = 1;
	buf_clear(&fx->msg);
	fx->arrival = env->arrival;
	snprintf(fx->helo, sizeof fx->helo, "%s", env->helo);
	snprintf(fx->client, sizeof fx->client, "%s", env->client);
	snprintf(fx->sender, sizeof fx->sender, "%s", env->sender.text);
	fx->nrcpt = env->nrcpt;
	fx->body_8bit = env->body_8bit;
	fx->ret = env->ret;
	snprintf(fx->envid, sizeof fx->envid, "%s", env->envid);
	for (i = 0; i < env->nrcpt && i < MAXRCPT; i++) {
		snprintf(fx->rcpt[i], sizeof fx->rcpt[i], "%s", env->rcpt[i].text);
		fx->notify[i] = env->dsn[i].notify;
		snprintf(fx->orcpt[i], sizeof fx->orcpt[i], "%s",
		         env->dsn[i].orcpt ? env->dsn[i].orcpt : "");
	}
	snprintf(env->id, sizeof env->id, "TESTID%d", ++fx->ids);
	return status_ok();
}

/* fk_tx_write - append to the open message */
static void fk_tx_write(void *ctx, const char *p, size_t n)
{
	struct fake *fx = ctx;

	if (!fx->open)
		fx->misuse++;
	fx->writes++;
	buf_add(&fx->msg, p, n);
}

/* fk_tx_commit - keep the message, or fail as told (the message is then
 * gone, as with the real queue) */
static struct status fk_tx_commit(void *ctx)
{
	struct fake *fx = ctx;

	if (!fx->open)
		fx->misuse++;
	fx->open = 0;
	if (fx->commit_st.kind != ST_OK) {
		fx->commit_fails++;
		return fx->commit_st;
	}
	fx->commits++;
	buf_clear(&fx->stored);
	buf_add(&fx->stored, fx->msg.p ? fx->msg.p : "", fx->msg.len);
	return status_ok();
}

/* fk_tx_abort - forget the open message */
static void fk_tx_abort(void *ctx)
{
	struct fake *fx = ctx;

	if (!fx->open)
		fx->misuse++;
	fx->open = 0;
	fx->aborts++;
	buf_clear(&fx->msg);
}

/* fk_tls_prepare - ready for TLS, unless told that it cannot be now */
static struct status fk_tls_prepare(void *ctx)
{
	struct fake *fx = ctx;

	fx->tls_prepared++;
	if (fx->tls_unavailable)
		return status_make(ST_TEMP, 3, 0, "out of memory");
	return status_ok();
}

static const struct session_ops fake_ops = {
	fk_check_rcpt, fk_tx_open, fk_tx_write, fk_tx_commit, fk_tx_abort,
	fk_tls_prepare,
	NULL,           /* add_rcpt: the session adds the address itself */
	NULL, NULL      /* auth_check, check_sender: AUTH in test_session_auth */
};

/* fx_init - default limits, before start(); tests may change cfg */
static void fx_init(struct fake *fx, enum mode mode)
{
	memset(fx, 0, sizeof *fx);
	setenv("TZ", "UTC", 1);
	tzset();
	snprintf(fx->hostname, sizeof fx->hostname, "%s", HOST);
	fx->cfg.hostname = fx->hostname;
	fx->cfg.max_line = 512;
	fx->cfg.max_size = 10000;
	fx->cfg.max_rcpt = 5;
	fx->cfg.max_received = 3;
	fx->cfg.max_errors = 0;
	fx->mode = mode;
	fx->seed = 0x5eedu + (unsigned)mode;
	fx->open_st = status_ok();
	fx->commit_st = status_ok();
}

/* enhanced_len - length of an RFC 3463 code of class cls at the start of
 * t[0..n), followed by SP as RFC 2034 asks; 0 when there is none */
static size_t enhanced_len(const char *t, size_t n, char cls)
{
	size_t i = 0, part, d;

	if (n < 1 || t[0] != cls)
		return 0;
	i = 1;
	for (part = 0; part < 2; part++) {
		if (i >= n || t[i] != '.')
			return 0;
		i++;
		for (d = 0; i < n && t[i] >= '0' && t[i] <= '9' && d < 4; d++)
			i++;
		if (d < 1 || d > 3)
			return 0;
	}
	return i < n && t[i] == ' ' ? i : 0;
}

/* catf - append to a fixed summary string */
static void catf(char *dst, size_t size, const char *sep, const char *s, size_t n)
{
	size_t len = strlen(dst);

	cr_assert_lt(len + strlen(sep) + n, size, "summary overflow");
	if (len > 0) {
		strcpy(dst + len, sep);
		len += strlen(sep);
	}
	memcpy(dst + len, s, n);
	dst[len + n] = '\0';
}

/* check_replies - enforce the reply format on fx->out, and summarise it
 * in fx->codes ("250 354") and fx->sum ("250 2.1.0,354") */
static void check_replies(struct fake *fx)
{
	const char *p = buf_str(&fx->out), *end = p + fx->out.len;
	size_t hl = strlen(fx->cfg.hostname);
	int code = 0, exempt = 0;
	char enh[16] = "";

	fx->codes[0] = fx->sum[0] = '\0';
	while (p < end) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		const char *t;
		size_t len, tl, el;
		int c;

		cr_assert_not_null(eol, "[%s] reply not ended by CRLF: %s",
		                   mode_name[fx->mode], p);
		len = (size_t)(eol - p);
		cr_assert_leq(len + 2, 512, "reply line over 512 octets");
		for (tl = 0; tl < len; tl++)
			cr_assert(p[tl] == '\t' || (p[tl] >= 32 && p[tl] <= 126),
			          "[%s] octet 0x%02x in a reply: %.*s", mode_name[fx->mode],
			          (unsigned char)p[tl], (int)len, p);
		cr_assert(len >= 4 && p[0] >= '2' && p[0] <= '5' &&
		          p[1] >= '0' && p[1] <= '5' && p[2] >= '0' && p[2] <= '9' &&
		          (p[3] == ' ' || p[3] == '-'), "bad reply line: %.*s",
		          (int)len, p);
		c = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
		t = p + 4;
		tl = len - 4;
		if (code == 0) {
			code = c;
			/* RFC 2034: the greeting and the HELO/EHLO answers (which
			 * start with our name) carry no enhanced code; the 220 to
			 * STARTTLS does */
			exempt = (c == 220 || c == 250) && tl >= hl &&
			         memcmp(t, fx->cfg.hostname, hl) == 0 &&
			         (tl == hl || t[hl] == ' ');
			enh[0] = '\0';
		} else {
			cr_assert_eq(c, code, "multi-line reply changes its code: %.*s",
			             (int)len, p);
		}
		if (!exempt && c / 100 != 3) {
			el = enhanced_len(t, tl, p[0]);
			cr_assert(el > 0, "[%s] no enhanced status code of class %c: %.*s",
			          mode_name[fx->mode], p[0], (int)len, p);
			cr_assert_lt(el, sizeof enh);
			if (enh[0] == '\0') {
				memcpy(enh, t, el);
				enh[el] = '\0';
			} else {
				cr_assert(strlen(enh) == el && memcmp(enh, t, el) == 0,
				          "multi-line reply changes its enhanced code");
			}
		}
		if (p[3] == ' ') {
			char one[32];
			int n = snprintf(one, sizeof one, enh[0] ? "%d %s" : "%d", c, enh);

			catf(fx->codes, sizeof fx->codes, " ", one, 3);
			catf(fx->sum, sizeof fx->sum, ",", one, (size_t)n);
			code = 0;
		}
		p = eol + 2;
	}
	cr_assert_eq(code, 0, "unfinished multi-line reply");
}

/* drain - take the session's output, all of it or (partial) a random
 * amount, as a socket that accepts only part of a write would */
static void drain(struct fake *fx, int partial)
{
	for (;;) {
		size_t len, k;
		const char *o = session_output(fx->s, &len);

		if (len == 0)
			return;
		k = partial ? 1 + rnd(&fx->seed) % len : len;
		buf_add(&fx->out, o, k);
		session_output_done(fx->s, k);
		if (partial)
			return;
	}
}

/* talkn - feed in[0..n) the way fx->mode says, all of it even past an
 * action (the session must then use and say nothing more); returns the
 * reply codes, and leaves the last action and the bytes used in fx */
static const char *talkn(struct fake *fx, const char *in, size_t n)
{
	size_t off = 0;
	enum session_action first = SESSION_CONTINUE;

	buf_clear(&fx->out);
	fx->used = 0;
	while (off < n) {
		size_t k = n - off;

		if (fx->mode == BYTES) {
			k = 1;
		} else if (fx->mode == RANDOM) {
			unsigned range = rnd(&fx->seed) % 8 == 0 ? 300 : 9;

			k = 1 + rnd(&fx->seed) % range;
			if (k > n - off)
				k = n - off;
		}
		size_t used = k + 1, had;
		enum session_action a;

		session_output(fx->s, &had);
		a = session_feed(fx->s, in + off, k, &used);
		cr_assert_leq(used, k);
		if (first != SESSION_CONTINUE) {
			size_t now;

			session_output(fx->s, &now);
			cr_assert(a == first && used == 0 && now == had,
			          "[%s] fed after action %d: %d, used %zu",
			          mode_name[fx->mode], (int)first, (int)a, used);
		} else if (a == SESSION_CONTINUE) {
			cr_assert_eq(used, k, "[%s] CONTINUE but %zu of %zu used",
			             mode_name[fx->mode], used, k);
		} else {
			first = a;
		}
		fx->action = a;
		fx->used += used;
		off += k;
		if (fx->mode == RANDOM)
			drain(fx, 1);
	}
	drain(fx, 0);
	check_replies(fx);
	return fx->codes;
}

/* talk - feed a C string */
static const char *talk(struct fake *fx, const char *in)
{
	return talkn(fx, in, strlen(in));
}

/* event - call an input-less entry point, collect what it replies */
static const char *event(struct fake *fx, void (*fn)(struct session *))
{
	buf_clear(&fx->out);
	fn(fx->s);
	drain(fx, 0);
	check_replies(fx);
	return fx->codes;
}

/* start - create the session with fx->cfg and check the greeting */
static void start_from(struct fake *fx, const char *ip)
{
	fx->s = session_new(&fx->cfg, &fake_ops, fx, ip, fixed_now);
	cr_assert_not_null(fx->s);
	cr_assert_eq(session_done(fx->s), 0);
	cr_assert_eq(session_in_data(fx->s), 0);
	cr_assert_str_eq(event(fx, session_greet), "220");
}

/* start - a session from the usual client address */
static void start(struct fake *fx)
{
	start_from(fx, IP);
}

/* fx_end - free the session; nothing may be left open, no op misused */
static void fx_end(struct fake *fx)
{
	session_free(fx->s);
	cr_assert_eq(fx->open, 0, "[%s] a message was left open", mode_name[fx->mode]);
	cr_assert_eq(fx->misuse, 0, "[%s] an op was called out of turn",
	             mode_name[fx->mode]);
	free(fx->msg.p);
	free(fx->stored.p);
	free(fx->out.p);
}

/* SAYS - in gives exactly these reply codes */
#define SAYS(fx, in, want) do { \
	const char *got_ = talk((fx), (in)); \
	cr_assert_str_eq(got_, (want), "[%s] input:\n%s\ngot %s, want %s\n%s", \
	                 mode_name[(fx)->mode], (in), got_, (want), buf_str(&(fx)->out)); \
} while (0)

/* SUMS - in gives exactly these codes with their enhanced codes */
#define SUMS(fx, in, want) do { \
	talk((fx), (in)); \
	cr_assert_str_eq((fx)->sum, (want), "[%s] input:\n%s\ngot %s, want %s\n%s", \
	                 mode_name[(fx)->mode], (in), (fx)->sum, (want), \
	                 buf_str(&(fx)->out)); \
} while (0)

/* STORED - the last committed message is exactly want */
#define STORED(fx, want) \
	cr_assert_str_eq(buf_str(&(fx)->stored), (want), "[%s] stored:\n%s\nwant:\n%s", \
	                 mode_name[(fx)->mode], buf_str(&(fx)->stored), (want))

typedef void (*scenario)(struct fake *fx);

/* each_mode - run a scenario in a fresh session per feeding mode */
static void each_mode(scenario fn)
{
	int m;

	for (m = 0; m < NMODES; m++) {
		struct fake fx;

		fx_init(&fx, (enum mode)m);
		fn(&fx);
		fx_end(&fx);
	}
}

/* EACH_MODE - a test that runs scenario in each feeding mode */
#define EACH_MODE(test, scenario) \
	Test(session, test) { each_mode(scenario); }

/* ---- command scripts: fresh session, input, expected replies ---- */

struct script {
	char name[40];
	char in[480];
	char codes[96];
	char sum[200];      /* "" = only the codes are checked */
};

static const struct script scripts[] = {
	/* every command, any case */
	{ "helo", "HELO " CLIENT "\r\nhelo " CLIENT "\r\nHeLo x\r\n", "250 250 250", "" },
	{ "ehlo", "EHLO " CLIENT "\r\nehlo " CLIENT "\r\n", "250 250", "" },
	{ "lower case transaction",
	  "ehlo c.example\r\nmail from:<bob@test.example>\r\n"
	  "rcpt to:<alice@test.example>\r\ndata\r\n",
	  "250 250 250 354", "250,250 2.1.0,250 2.1.5,354" },
	{ "mixed case keywords",
	  "eHlO c.example\r\nMaIl FrOm:<bob@test.example>\r\nrCpT tO:<alice@test.example>\r\n",
	  "250 250 250", "" },
	{ "rset", "RSET\r\nrset\r\nRsEt\r\n", "250 250 250", "250 2.0.0,250 2.0.0,250 2.0.0" },
	{ "rset with argument", "RSET x\r\n", "501", "501 5.5.4" },
	{ "noop", "NOOP\r\nnoop\r\nNOOP anything at all\r\n", "250 250 250", "" },
	{ "vrfy", "VRFY bob\r\nvrfy bob@test.example\r\n", "252 252", "" },
	{ "vrfy without argument", "VRFY\r\nVRFY   \r\n", "501 501", "501 5.5.4,501 5.5.4" },
	{ "help", "HELP\r\nhelp\r\nHELP MAIL\r\n", "214 214 214", "" },
	{ "quit", "quit\r\n", "221", "221 2.0.0" },
	{ "quit ends input", "QUIT\r\nNOOP\r\nEHLO c\r\n", "221", "" },
	{ "unknown", "FOO\r\nMAILX FROM:<>\r\nXYZZY\r\nEHLO-c\r\n", "500 500 500 500",
	  "500 5.5.2,500 5.5.2,500 5.5.2,500 5.5.2" },
	{ "empty line", "\r\n \r\n   \r\n", "500 500 500", "" },
	{ "leading space", " NOOP\r\n", "500", "" },
	{ "verb too long", "ABCDEFGHIJKLMNOP\r\nNOOP\r\n", "500 250", "" },
	{ "not implemented",
	  "EXPN list\r\nTURN\r\nETRN x\r\nBDAT 10 LAST\r\nSTARTTLS\r\nAUTH PLAIN\r\n"
	  "send\r\nsoml\r\nSAML\r\n",
	  "502 502 502 502 502 502 502 502 502", "" },
	{ "not implemented code", "EXPN x\r\n", "502", "502 5.5.1" },
	/* 503: order */
	{ "mail before helo", MAIL, "503", "503 5.5.1" },
	{ "rcpt before helo", RCPT, "503", "503 5.5.1" },
	{ "data before helo", "DATA\r\n", "503", "503 5.5.1" },
	{ "harmless before helo", "NOOP\r\nRSET\r\nVRFY x\r\nHELP\r\n", "250 250 252 214", "" },
	{ "rcpt before mail", EHLO RCPT, "250 503", "" },
	{ "data before mail", EHLO "DATA\r\n", "250 503", "" },
	{ "data before rcpt", EHLO MAIL "DATA\r\n", "250 250 503", "" },
	{ "data after refused rcpt",
	  EHLO MAIL "RCPT TO:<x@other.example>\r\nDATA\r\n", "250 250 554 503",
	  "250,250 2.1.0,554 5.7.1,503 5.5.1" },
	{ "nested mail", EHLO MAIL "MAIL FROM:<carol@test.example>\r\n", "250 250 503", "" },
	{ "data with argument", EHLO MAIL RCPT "DATA x\r\n", "250 250 250 501", "" },
	{ "rset ends mail", EHLO MAIL RCPT "RSET\r\n" RCPT "DATA\r\n" MAIL,
	  "250 250 250 250 503 503 250", "" },
	{ "second ehlo ends mail", EHLO MAIL RCPT EHLO RCPT "DATA\r\n" MAIL RCPT,
	  "250 250 250 250 503 503 250 250", "" },
	{ "second helo ends mail", "HELO a.example\r\n" MAIL RCPT "HELO b.example\r\n"
	  "DATA\r\n" MAIL, "250 250 250 250 503 250", "" },
	{ "helo kept after rset", "HELO c\r\nRSET\r\n" MAIL, "250 250 250", "" },
	{ "bad helo keeps session",
	  "EHLO\r\nEHLO a b\r\n" MAIL "EHLO c\r\n" MAIL "EHLO a b\r\n" RCPT,
	  "501 501 503 250 250 501 250", "501 5.5.4,501 5.5.4,503 5.5.1,250,250 2.1.0,"
	  "501 5.5.4,250 2.1.5" },
	{ "helo names",
	  "EHLO [192.0.2.7]\r\nEHLO [IPv6:2001:db8::1]\r\nEHLO host_name.example\r\n"
	  "EHLO [300.1.1.1]\r\nEHLO <x>\r\nEHLO a@b\r\nEHLO [1.2.3.4\r\n",
	  "250 250 250 501 501 501 501", "" },
	/* white space */
	{ "spaces after colon", EHLO "MAIL FROM:   <bob@test.example>\r\n"
	  "RCPT TO:  <alice@test.example>\r\n", "250 250 250", "" },
	{ "trailing spaces", "EHLO c   \r\nMAIL FROM:<bob@test.example>   \r\n"
	  "RCPT TO:<alice@test.example>  \r\nRSET \r\nNOOP  \r\nHELP \r\nQUIT   \r\n",
	  "250 250 250 250 250 214 221", "" },
	{ "spaces before helo name", "HELO    c.example\r\nEHLO   c.example  \r\n", "250 250", "" },
	{ "data trailing spaces", EHLO MAIL RCPT "DATA   \r\n", "250 250 250 354", "" },
	{ "space inside sender", EHLO "MAIL FROM:<bob @test.example>\r\n"
	  "MAIL FROM:< bob@test.example>\r\nMAIL FROM:<bob@ test.example>\r\n"
	  "MAIL FROM:<bob@test.example >\r\nMAIL FROM:< >\r\n",
	  "250 501 501 501 501 501", "" },
	{ "space inside recipient", EHLO MAIL "RCPT TO:<alice @test.example>\r\n"
	  "RCPT TO:<alice@test.example >\r\nRCPT TO:< alice@test.example>\r\n",
	  "250 250 501 501 501", "250,250 2.1.0,501 5.1.3,501 5.1.3,501 5.1.3" },
	{ "space before colon", EHLO "MAIL FROM :<bob@test.example>\r\nMAIL  FROM:<>\r\n",
	  "250 501 501", "" },
	{ "tab is not a space", EHLO "MAIL FROM:\t<bob@test.example>\r\n", "250 501", "" },
	{ "no brackets", EHLO "MAIL FROM:bob@test.example\r\n" MAIL
	  "RCPT TO:alice@test.example\r\n", "250 501 250 501", "" },
	{ "missing keyword", EHLO "MAIL <bob@test.example>\r\nMAIL TO:<bob@test.example>\r\n"
	  MAIL "RCPT FROM:<alice@test.example>\r\nRCPT <alice@test.example>\r\n",
	  "250 501 501 250 501 501", "" },
	{ "junk after path", EHLO "MAIL FROM:<bob@test.example>junk\r\n", "250 501",
	  "250,501 5.1.7" },
	{ "null sender", EHLO "MAIL FROM:<>\r\n" RCPT, "250 250 250", "" },
	{ "null recipient", EHLO MAIL "RCPT TO:<>\r\n", "250 250 501", "" },
	{ "postmaster", EHLO MAIL "RCPT TO:<postmaster>\r\nRCPT TO:<PostMaster>\r\n",
	  "250 250 250 250", "" },
	{ "recipient without domain", EHLO MAIL "RCPT TO:<alice>\r\nRCPT TO:<alice@>\r\n",
	  "250 250 501 501", "" },
	{ "domain literals", EHLO MAIL "RCPT TO:<alice@[192.0.2.9]>\r\n"
	  "RCPT TO:<alice@[IPv6:2001:db8::1]>\r\nRCPT TO:<alice@[192.0.2.999]>\r\n",
	  "250 250 554 554 501", "" },
	{ "source route", EHLO MAIL "RCPT TO:<@relay.example:alice@test.example>\r\n",
	  "250 250 250", "" },
	{ "junk after recipient", EHLO MAIL "RCPT TO:<alice@test.example>junk\r\n"
	  "RCPT TO:<alice@test.example><x@test.example>\r\n", "250 250 501 501",
	  "250,250 2.1.0,501 5.1.3,501 5.1.3" },
	{ "recipient parameters", EHLO MAIL "RCPT TO:<alice@test.example> FOO=BAR\r\n",
	  "250 250 555", "250,250 2.1.0,555 5.5.4" },
	/* RFC 3461: bad values are 501 5.5.4, each parameter at most once */
	{ "dsn rcpt parameters", EHLO MAIL
	  "RCPT TO:<alice@test.example> NOTIFY=NEVER\r\n"
	  "RCPT TO:<bob@test.example> notify=success,Delay ORCPT=rfc822;b+2Bx@y\r\n"
	  "RCPT TO:<carol@test.example> NOTIFY=NEVER,DELAY\r\n"
	  "RCPT TO:<carol@test.example> NOTIFY=SOMETIMES\r\n"
	  "RCPT TO:<carol@test.example> NOTIFY=\r\n"
	  "RCPT TO:<carol@test.example> NOTIFY=DELAY NOTIFY=DELAY\r\n",
	  "250 250 250 250 501 501 501 501",
	  "250,250 2.1.0,250 2.1.5,250 2.1.5,501 5.5.4,501 5.5.4,501 5.5.4,501 5.5.4" },
	{ "dsn orcpt", EHLO MAIL
	  "RCPT TO:<carol@test.example> ORCPT=rfc822\r\n"
	  "RCPT TO:<carol@test.example> ORCPT=rfc822;a=b\r\n"
	  "RCPT TO:<carol@test.example> ORCPT=\r\n"
	  "RCPT TO:<carol@test.example> ORCPT=rfc822;x ORCPT=rfc822;y\r\n",
	  "250 250 501 501 501 501",
	  "250,250 2.1.0,501 5.5.4,501 5.5.4,501 5.5.4,501 5.5.4" },
	{ "dsn mail parameters", EHLO
	  "MAIL FROM:<bob@test.example> RET=HDRS ENVID=a+2Bb\r\nRSET\r\n"
	  "MAIL FROM:<bob@test.example> RET=full\r\nRSET\r\n"
	  "MAIL FROM:<bob@test.example> RET=HEAD\r\n"
	  "MAIL FROM:<bob@test.example> RET=\r\n"
	  "MAIL FROM:<bob@test.example> RET=FULL RET=HDRS\r\n",
	  "250 250 250 250 250 501 501 501",
	  "250,250 2.1.0,250 2.0.0,250 2.1.0,250 2.0.0,501 5.5.4,501 5.5.4,501 5.5.4" },
	{ "dsn envid", EHLO
	  "MAIL FROM:<bob@test.example> ENVID=a+zz\r\n"
	  "MAIL FROM:<bob@test.example> ENVID=a=b\r\n"
	  "MAIL FROM:<bob@test.example> ENVID=\r\n"
	  "MAIL FROM:<bob@test.example> ENVID=x ENVID=y\r\n"
	  "MAIL FROM:<bob@test.example> ENVID=" "0123456789012345678901234567890123456789"
	  "01234567890123456789012345678901234567890123456789012345678901\r\n",
	  "250 501 501 501 501 501",
	  "250,501 5.5.4,501 5.5.4,501 5.5.4,501 5.5.4,501 5.5.4" },
	/* recipient policy answers, each with its own code */
	{ "rcpt refusals", EHLO MAIL
	  "RCPT TO:<x@other.example>\r\nRCPT TO:<full@test.example>\r\n"
	  "RCPT TO:<broken@test.example>\r\nRCPT TO:<busy@test.example>\r\n"
	  "RCPT TO:<nobody@test.example>\r\nRCPT TO:<badname@test.example>\r\n",
	  "250 250 554 452 451 450 550 553",
	  "250,250 2.1.0,554 5.7.1,452 4.3.1,451 4.3.0,450 4.2.1,550 5.1.1,553 5.1.3" },
	/* MAIL parameters */
	{ "size at the limit", EHLO "MAIL FROM:<bob@test.example> SIZE=10000\r\n",
	  "250 250", "" },
	{ "size lower case", EHLO "MAIL FROM:<bob@test.example> size=0\r\n", "250 250", "" },
	{ "size over the limit", EHLO "MAIL FROM:<bob@test.example> SIZE=10001\r\n" MAIL,
	  "250 552 250", "250,552 5.3.4,250 2.1.0" },
	{ "size beyond 64 bits",
	  EHLO "MAIL FROM:<bob@test.example> SIZE=99999999999999999999\r\n",
	  "250 552", "250,552 5.3.4" },
	{ "size malformed", EHLO
	  "MAIL FROM:<bob@test.example> SIZE=\r\nMAIL FROM:<bob@test.example> SIZE=abc\r\n"
	  "MAIL FROM:<bob@test.example> SIZE=-1\r\nMAIL FROM:<bob@test.example> SIZE=1k\r\n"
	  "MAIL FROM:<bob@test.example> SIZE= 10\r\nMAIL FROM:<bob@test.example> SIZE=+5\r\n",
	  "250 501 501 501 501 501 501", "" },
	{ "body", EHLO "MAIL FROM:<bob@test.example> BODY=8BITMIME\r\nRSET\r\n"
	  "MAIL FROM:<bob@test.example> body=7bit\r\n", "250 250 250 250", "" },
	{ "unknown parameters", EHLO "MAIL FROM:<bob@test.example> BODY=BINARYMIME\r\n"
	  "MAIL FROM:<bob@test.example> FOO=BAR\r\nMAIL FROM:<bob@test.example> SMTPUTF8\r\n",
	  "250 555 555 555", "250,555 5.5.4,555 5.5.4,555 5.5.4" },
	{ "several parameters", EHLO
	  "MAIL FROM:<bob@test.example>   SIZE=10   BODY=8BITMIME  \r\n", "250 250", "" },
	{ "parameters need ehlo", "HELO c\r\nMAIL FROM:<bob@test.example> SIZE=10\r\n"
	  "MAIL FROM:<bob@test.example> BODY=8BITMIME\r\n" MAIL,
	  "250 501 501 250", "250,501 5.5.4,501 5.5.4,250 2.1.0" },
	{ "helo after ehlo", EHLO "HELO c\r\nMAIL FROM:<> SIZE=1\r\n", "250 250 501", "" },
	{ "rcpt parameters need ehlo", "HELO c\r\n" MAIL
	  "RCPT TO:<alice@test.example> NOTIFY=NEVER\r\n" RCPT,
	  "250 250 501 250", "250,250 2.1.0,501 5.5.4,250 2.1.5" },
	{ "null sender with size", EHLO "MAIL FROM:<> SIZE=100\r\n", "250 250", "" },
	/* control characters and line ends */
	{ "bare cr in command", "NO\rOP\r\nNOOP\r\n", "500 250", "" },
	{ "cr cr lf", "NOOP\r\r\n", "500", "" },
	{ "bare lf ends commands", "NOOP\nEHLO c\nMAIL FROM:<>\n", "250 250 250", "" },
	{ "8-bit verb", "NO\xc3\x89OP\r\n", "500", "" },
	{ "8-bit address", EHLO "MAIL FROM:<b\xc3\xa9@test.example>\r\n", "250 501", "" },
};

Test(session, scripts)
{
	size_t i;
	int m;

	for (i = 0; i < sizeof scripts / sizeof scripts[0]; i++) {
		const struct script *sc = &scripts[i];

		for (m = 0; m < NMODES; m++) {
			struct fake fx;

			fx_init(&fx, (enum mode)m);
			start(&fx);
			talk(&fx, sc->in);
			cr_assert_str_eq(fx.codes, sc->codes, "%s [%s]: got %s, want %s\n%s",
			                 sc->name, mode_name[m], fx.codes, sc->codes,
			                 buf_str(&fx.out));
			if (sc->sum[0])
				cr_assert_str_eq(fx.sum, sc->sum, "%s [%s]: got %s, want %s",
				                 sc->name, mode_name[m], fx.sum, sc->sum);
			fx_end(&fx);
		}
	}
}

/* An unknown MAIL parameter is quoted in the 555, but never a control or
 * 8-bit octet of it: those become '?' (a terminal escape, DEL, NUL-free
 * binary).  check_replies() holds every reply of every test to this. */
Test(session, reply_never_echoes_raw_octets)
{
	static const char in[] = EHLO
		"MAIL FROM:<bob@test.example> X=\x01\x1b[2J\xc3\xa9\x7f\tok\r\n";
	int m;

	for (m = 0; m < NMODES; m++) {
		struct fake fx;

		fx_init(&fx, (enum mode)m);
		start(&fx);
		talk(&fx, in);
		cr_assert_str_eq(fx.codes, "250 555", "[%s] %s", mode_name[m],
		                 buf_str(&fx.out));
		cr_assert_not_null(strstr(buf_str(&fx.out),
		                   "555 5.5.4 Unsupported parameter X=??[2J???\tok\r\n"),
		                   "[%s] %s", mode_name[m], buf_str(&fx.out));
		fx_end(&fx);
	}
}

/* ---- greeting, HELO, EHLO ---- */

Test(session, greeting)
{
	struct fake fx;

	fx_init(&fx, WHOLE);
	start(&fx);
	cr_assert_str_eq(buf_str(&fx.out), "220 " HOST " ESMTP mta\r\n");
	fx_end(&fx);
}

Test(session, helo_and_ehlo_replies)
{
	struct fake fx;

	fx_init(&fx, WHOLE);
	start(&fx);
	talk(&fx, "HELO " CLIENT "\r\n");
	cr_assert_str_eq(buf_str(&fx.out), "250 " HOST "\r\n");
	talk(&fx, "EHLO " CLIENT "\r\n");
	cr_assert_str_eq(buf_str(&fx.out),
	                 "250-" HOST " Hello " CLIENT " [" IP "]\r\n"
	                 "250-PIPELINING\r\n"
	                 "250-SIZE 10000\r\n"
	                 "250-8BITMIME\r\n"
	                 "250-DSN\r\n"
	                 "250-ENHANCEDSTATUSCODES\r\n"
	                 "250 HELP\r\n");
	fx_end(&fx);
}

/* ehlo_long - a 250-octet hostname and a 250-octet EHLO name still give a
 * complete EHLO reply of lines within 512 octets */
static void ehlo_long(struct fake *fx)
{
	static const char kw[][32] = {
		"\r\n250-PIPELINING\r\n", "\r\n250-SIZE 10000\r\n", "\r\n250-8BITMIME\r\n",
		"\r\n250-ENHANCEDSTATUSCODES\r\n", "\r\n250 HELP\r\n"
	};
	char name[251], cmd[300];
	size_t i;

	for (i = 0; i < 250; i++)
		name[i] = (i % 50 == 49 && i < 249) ? '.' : 'h';
	name[250] = '\0';
	snprintf(fx->hostname, sizeof fx->hostname, "%s", name);
	start(fx);
	snprintf(cmd, sizeof cmd, "EHLO %s\r\n", name);
	SAYS(fx, cmd, "250");
	cr_assert(strncmp(buf_str(&fx->out), "250-", 4) == 0);
	for (i = 0; i < sizeof kw / sizeof kw[0]; i++)
		cr_assert_not_null(strstr(buf_str(&fx->out), kw[i]), "EHLO lacks %s", kw[i] + 2);
	SAYS(fx, MAIL RCPT, "250 250");
}

EACH_MODE(ehlo_long_names, ehlo_long)

/* helo_persists - one HELO serves every message of the session */
static void helo_persists(struct fake *fx)
{
	start(fx);
	SAYS(fx, "HELO " CLIENT "\r\n" MAIL RCPT "DATA\r\n" HDR "one\r\n.\r\n",
	     "250 250 250 354 250");
	SAYS(fx, MAIL "RCPT TO:<carol@test.example>\r\nDATA\r\n" HDR "two\r\n.\r\n",
	     "250 250 354 250");
	cr_assert_eq(fx->commits, 2);
	cr_assert_str_eq(fx->helo, CLIENT);
	/* plain HELO: "with SMTP" */
	STORED(fx, "Received: from " CLIENT " ([" IP "])\n"
	           "\tby " HOST " (mta) with SMTP id TESTID2\n"
	           "\tfor <carol@test.example>; " DATE "\n" HDR_LF "two\n");
	SAYS(fx, "RSET\r\n" MAIL, "250 250");
	/* a second EHLO replaces the name and the protocol */
	SAYS(fx, "EHLO other.example\r\n" MAIL RCPT "DATA\r\n" HDR "three\r\n.\r\n",
	     "250 250 250 354 250");
	STORED(fx, "Received: from other.example ([" IP "])\n"
	           "\tby " HOST " (mta) with ESMTP id TESTID3\n"
	           "\tfor <alice@test.example>; " DATE "\n" HDR_LF "three\n");
}

EACH_MODE(helo_persists_across_messages, helo_persists)

/* ---- pipelining, fragmentation, line limits ---- */

/* pipelined - a whole session in one feed: replies in order */
static void pipelined(struct fake *fx)
{
	start(fx);
	SUMS(fx, "NOOP\r\n" EHLO "MAIL FROM:<bob@test.example> SIZE=100\r\n"
	     "RCPT TO:<x@other.example>\r\n" RCPT "RCPT TO:<carol@test.example>\r\n"
	     "VRFY bob\r\nDATA\r\n" HDR "body\r\n.\r\nRCPT TO:<alice@test.example>\r\n"
	     "FOO\r\n" MAIL RCPT "RSET\r\nHELP\r\nQUIT\r\nNOOP\r\n",
	     "250 2.0.0,250,250 2.1.0,554 5.7.1,250 2.1.5,250 2.1.5,252 2.5.0,354,"
	     "250 2.0.0,503 5.5.1,500 5.5.2,250 2.1.0,250 2.1.5,250 2.0.0,214 2.0.0,"
	     "221 2.0.0");
	cr_assert(session_done(fx->s));
	cr_assert_eq(fx->commits, 1);
	cr_assert_eq(fx->nrcpt, 2);
	cr_assert_str_eq(fx->rcpt[0], "alice@test.example");
	cr_assert_str_eq(fx->rcpt[1], "carol@test.example");
	cr_assert_not_null(strstr(buf_str(&fx->out), "250 2.0.0 Ok: queued as TESTID1\r\n"));
}

EACH_MODE(pipelined_replies_in_order, pipelined)

/* line_length - max_line counts the CRLF: 512 octets pass, 513 do not,
 * and the session goes on either way */
static void line_length(struct fake *fx)
{
	char line[100100];
	size_t max = fx->cfg.max_line, i;

	start(fx);
	/* "NOOP " + filler + CRLF = max octets */
	memcpy(line, "NOOP ", 5);
	for (i = 5; i < max - 2; i++)
		line[i] = 'x';
	memcpy(line + max - 2, "\r\n", 3);
	cr_assert_eq(strlen(line), max);
	SAYS(fx, line, "250");
	/* one more octet */
	memcpy(line + max - 2, "x\r\n", 4);
	SUMS(fx, line, "500 5.5.2");
	SAYS(fx, "NOOP\r\n", "250");
	/* bare LF: the line with its LF is max octets */
	memcpy(line + max - 1, "\n", 2);
	cr_assert_eq(strlen(line), max);
	SAYS(fx, line, "250");
	memcpy(line + max - 1, "x\n", 3);
	SAYS(fx, line, "500");
	/* far too long, between two good commands */
	memcpy(line, "NOOP\r\n", 6);
	for (i = 6; i < sizeof line - 9; i++)
		line[i] = 'y';
	memcpy(line + i, "\r\nNOOP\r\n", 9);
	SAYS(fx, line, "250 500 250");
	/* an over-long MAIL does not start a transaction */
	memcpy(line, EHLO "MAIL FROM:<", sizeof EHLO "MAIL FROM:<" - 1);
	i = sizeof EHLO "MAIL FROM:<" - 1;
	for (; i < sizeof EHLO - 1 + max; i++)
		line[i] = 'z';
	memcpy(line + i, "@test.example>\r\n" RCPT, sizeof "@test.example>\r\n" RCPT);
	SAYS(fx, line, "250 500 503");
	SAYS(fx, MAIL RCPT, "250 250");
}

EACH_MODE(line_length_limit, line_length)

/* max_rcpt - the sixth recipient of five is refused with 452; the
 * message goes to the five, and the next message has five again */
static void max_rcpt(struct fake *fx)
{
	start(fx);
	SUMS(fx, EHLO MAIL "RCPT TO:<r1@test.example>\r\nRCPT TO:<r2@test.example>\r\n"
	     "RCPT TO:<r3@test.example>\r\nRCPT TO:<r4@test.example>\r\n"
	     "RCPT TO:<r5@test.example>\r\nRCPT TO:<r6@test.example>\r\n"
	     "RCPT TO:<r7@test.example>\r\nDATA\r\n" HDR "x\r\n.\r\n",
	     "250,250 2.1.0,250 2.1.5,250 2.1.5,250 2.1.5,250 2.1.5,250 2.1.5,"
	     "452 4.5.3,452 4.5.3,354,250 2.0.0");
	cr_assert_eq(fx->nrcpt, 5);
	cr_assert_str_eq(fx->rcpt[0], "r1@test.example");
	cr_assert_str_eq(fx->rcpt[4], "r5@test.example");
	/* several recipients: no "for", the date folds below the "by" line */
	STORED(fx, "Received: from " CLIENT " ([" IP "])\n"
	           "\tby " HOST " (mta) with ESMTP id TESTID1;\n\t" DATE "\n" HDR_LF "x\n");
	SAYS(fx, MAIL "RCPT TO:<r1@test.example>\r\nRCPT TO:<r2@test.example>\r\n"
	     "RCPT TO:<r3@test.example>\r\nRCPT TO:<r4@test.example>\r\n"
	     "RCPT TO:<r5@test.example>\r\nRCPT TO:<r6@test.example>\r\n",
	     "250 250 250 250 250 250 452");
	/* the same recipient twice is one recipient */
	SAYS(fx, "RSET\r\n" MAIL RCPT RCPT "RCPT TO:<alice@TEST.example>\r\n"
	     "DATA\r\n" HDR "y\r\n.\r\n", "250 250 250 250 250 354 250");
	cr_assert_eq(fx->nrcpt, 1);
	STORED(fx, RCVD_ID("TESTID2", "alice@test.example") HDR_LF "y\n");
}

EACH_MODE(max_rcpt, max_rcpt)

/* max_errors - the third bad command of three closes the session */
static void max_errors(struct fake *fx)
{
	fx->cfg.max_errors = 3;
	start(fx);
	SAYS(fx, "FOO\r\nNOOP\r\n" MAIL, "500 250 503");
	SUMS(fx, "RSET x\r\nNOOP\r\nQUIT\r\n", "501 5.5.4,421 4.7.0");
	cr_assert(session_done(fx->s));
	cr_assert_not_null(strstr(buf_str(&fx->out), "421 4.7.0 " HOST " "));
	SAYS(fx, "NOOP\r\n", "");
	cr_assert_str_eq(event(fx, session_timeout), "");
}

EACH_MODE(max_errors, max_errors)

Test(session, max_errors_zero_is_no_limit)
{
	struct fake fx;
	int i;

	fx_init(&fx, WHOLE);
	start(&fx);
	for (i = 0; i < 200; i++)
		SAYS(&fx, "FOO\r\n", "500");
	SAYS(&fx, "NOOP\r\n", "250");
	cr_assert(!session_done(fx.s));
	fx_end(&fx);
}

/* refused_rcpt_counts - every permanently refused recipient is an error
 * (relay denied, no such user, a bad mailbox name), so probing which
 * mailboxes exist ends in 421; the server's own temporary failures are
 * not the client's errors */
static void refused_rcpt_counts(struct fake *fx)
{
	fx->cfg.max_errors = 4;
	start(fx);
	SAYS(fx, EHLO MAIL, "250 250");
	SAYS(fx, "RCPT TO:<full@test.example>\r\nRCPT TO:<broken@test.example>\r\n"
	     "RCPT TO:<busy@test.example>\r\nRCPT TO:<full@test.example>\r\n",
	     "452 451 450 452");
	SUMS(fx, "RCPT TO:<x@elsewhere.example>\r\nRCPT TO:<nobody@test.example>\r\n"
	     "RCPT TO:<badname@test.example>\r\n" RCPT,
	     "554 5.7.1,550 5.1.1,553 5.1.3,250 2.1.5");
	cr_assert(!session_done(fx->s));
	SUMS(fx, "RCPT TO:<nobody@test.example>\r\nNOOP\r\n", "550 5.1.1,421 4.7.0");
	cr_assert(session_done(fx->s));
}

EACH_MODE(refused_rcpt_counts_as_error, refused_rcpt_counts)

/* many_refusals - the issue's 20,000 RCPT to a foreign domain from a
 * client that may not relay: 421 after max_errors, the rest unread */
Test(session, many_refused_rcpt_end_in_421)
{
	struct fake fx;
	struct buf in = { 0 };
	int i;

	fx_init(&fx, WHOLE);
	fx.cfg.max_errors = 20;
	start(&fx);
	buf_add(&in, EHLO MAIL, strlen(EHLO MAIL));
	for (i = 0; i < 20000; i++)
		buf_add(&in, "RCPT TO:<x@elsewhere.example>\r\n", 31);
	talkn(&fx, in.p, in.len);
	cr_assert(strncmp(fx.codes, "250 250 554 ", 12) == 0);
	cr_assert_str_eq(fx.codes + strlen(fx.codes) - 7, "554 421", "%s", fx.codes);
	cr_assert_eq(fx.checks, 20);
	cr_assert(session_done(fx.s));
	free(in.p);
	fx_end(&fx);
}

/* over_max_rcpt - 452 for recipients over max_rcpt is no error for as
 * many again (a client should send the rest in another transaction);
 * past that each one is */
static void over_max_rcpt(struct fake *fx)
{
	char rcpt[64];
	int i;

	fx->cfg.max_errors = 2;
	start(fx);
	SAYS(fx, EHLO MAIL, "250 250");
	for (i = 0; i < 10; i++) {
		snprintf(rcpt, sizeof rcpt, "RCPT TO:<r%d@test.example>\r\n", i);
		SAYS(fx, rcpt, i < 5 ? "250" : "452");
	}
	/* a new transaction starts the allowance again */
	SAYS(fx, "RSET\r\n" MAIL, "250 250");
	for (i = 0; i < 11; i++) {
		snprintf(rcpt, sizeof rcpt, "RCPT TO:<r%d@test.example>\r\n", i);
		SAYS(fx, rcpt, i < 5 ? "250" : "452");
	}
	cr_assert(!session_done(fx->s));
	SUMS(fx, RCPT, "452 4.5.3,421 4.7.0");
}

EACH_MODE(over_max_rcpt_errs_only_past_an_overshoot, over_max_rcpt)

/* refused_messages_count - a declared SIZE over the limit, a message
 * over it, a mail loop: refused commands, so errors */
static void refused_messages_count(struct fake *fx)
{
	char in[600];

	fx->cfg.max_size = 100;
	fx->cfg.max_errors = 3;
	start(fx);
	SAYS(fx, EHLO "MAIL FROM:<bob@test.example> SIZE=101\r\n", "250 552");
	snprintf(in, sizeof in, MAIL RCPT "DATA\r\n" HDR "%0150d\r\n.\r\n", 0);
	SAYS(fx, in, "250 250 354 552");
	cr_assert(!session_done(fx->s));
	SUMS(fx, MAIL RCPT "DATA\r\nReceived: a\r\nReceived: b\r\nReceived: c\r\n"
	     "Received: d\r\n\r\n.\r\n", "250 2.1.0,250 2.1.5,354,554 5.4.6,421 4.7.0");
	cr_assert_eq(fx->commits, 0);
}

EACH_MODE(refused_messages_count_as_errors, refused_messages_count)

/* error_pause - no pause for the first soft_errors errors; then one of
 * error_delay that doubles with each further error, at most
 * SESSION_PAUSE_MAX; the session only asks for it, and taking it
 * resets it; the error that ends the session needs none */
static void error_pause(struct fake *fx)
{
	fx->cfg.max_errors = 8;
	fx->cfg.soft_errors = 2;
	fx->cfg.error_delay = 100;
	start(fx);
	cr_assert_eq(session_pause(fx->s), 0);
	SAYS(fx, "FOO\r\nFOO\r\n", "500 500");
	cr_assert_eq(session_pause(fx->s), 0);
	SAYS(fx, "FOO\r\n", "500");
	cr_assert_eq(session_pause(fx->s), 100);
	cr_assert_eq(session_pause(fx->s), 0, "taking the pause resets it");
	SAYS(fx, "NOOP\r\n" EHLO, "250 250");
	cr_assert_eq(session_pause(fx->s), 0, "good commands cost nothing");
	/* pipelined errors add up: their replies wait for all of them */
	SAYS(fx, "FOO\r\nRCPT TO:<x@test.example>\r\n", "500 503");
	cr_assert_eq(session_pause(fx->s), 200 + 400);
	SAYS(fx, "FOO\r\n", "500");
	cr_assert_eq(session_pause(fx->s), 800);
	SUMS(fx, "FOO\r\n", "500 5.5.2");
	cr_assert_eq(session_pause(fx->s), 1600);
	SUMS(fx, "FOO\r\n", "500 5.5.2,421 4.7.0");
	cr_assert_eq(session_pause(fx->s), 0, "no pause before the close");
}

EACH_MODE(error_pause_grows_after_soft_errors, error_pause)

Test(session, error_pause_is_capped)
{
	struct fake fx;
	int i;

	fx_init(&fx, WHOLE);
	fx.cfg.max_errors = 1000;
	fx.cfg.error_delay = 7000;
	start(&fx);
	SAYS(&fx, "FOO\r\n", "500");
	cr_assert_eq(session_pause(fx.s), 7000);
	SAYS(&fx, "FOO\r\nFOO\r\n", "500 500");
	cr_assert_eq(session_pause(fx.s), 14000 + 28000);
	for (i = 0; i < 100; i++) {
		SAYS(&fx, "FOO\r\n", "500");
		cr_assert_eq(session_pause(fx.s), SESSION_PAUSE_MAX);
	}
	fx_end(&fx);
}

/* with max_errors 0 errors are not counted: no 421, no pause */
Test(session, no_error_limit_no_pause)
{
	struct fake fx;
	int i;

	fx_init(&fx, WHOLE);
	fx.cfg.error_delay = 100;
	fx.cfg.max_junk = 1;
	start(&fx);
	for (i = 0; i < 50; i++)
		SAYS(&fx, "FOO\r\nNOOP\r\n", "500 250");
	cr_assert_eq(session_pause(fx.s), 0);
	fx_end(&fx);
}

/* junk - NOOP, RSET, VRFY and HELP past max_junk are answered as usual,
 * and each is an error; an accepted message starts the count again */
static void junk(struct fake *fx)
{
	fx->cfg.max_junk = 4;
	fx->cfg.max_errors = 3;
	start(fx);
	SAYS(fx, EHLO "NOOP\r\nRSET\r\nVRFY bob\r\nHELP\r\n", "250 250 250 252 214");
	SAYS(fx, PRE HDR "x\r\n.\r\n", PRE_OK " 250");
	SAYS(fx, "NOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\n", "250 250 250 250");
	SAYS(fx, "EHLO again.example\r\n", "250");   /* not junk */
	SAYS(fx, "NOOP\r\nHELP\r\n", "250 214");   /* errors 1 and 2 */
	cr_assert(!session_done(fx->s));
	SUMS(fx, "RSET\r\nNOOP\r\n", "250 2.0.0,421 4.7.0");
	cr_assert(session_done(fx->s));
}

EACH_MODE(junk_commands_past_max_junk_are_errors, junk)

/* nul_in_commands - NUL octets make a command line unusable, not the
 * session: each such line gets 500 */
static void nul_in_commands(struct fake *fx)
{
	static const char in[] = "NOOP\0\r\n"
	                         "\0\r\n"
	                         "EHLO c\0.example\r\n"
	                         "EHLO " CLIENT "\r\n"
	                         "MAIL FROM:<b\0ob@test.example>\r\n"
	                         "MAIL FROM:<bob@test.example>\r\n"
	                         "RCPT TO:<alice@test.example>\0\r\n"
	                         "RCPT TO:<alice@test.example>\r\n";

	start(fx);
	talkn(fx, in, sizeof in - 1);
	cr_assert_str_eq(fx->sum, "500 5.5.2,500 5.5.2,500 5.5.2,250,500 5.5.2,250 2.1.0,"
	                 "500 5.5.2,250 2.1.5", "[%s] %s", mode_name[fx->mode], fx->sum);
	SAYS(fx, "DATA\r\n" HDR "ok\r\n.\r\n", "354 250");
	STORED(fx, RCVD HDR_LF "ok\n");
}

EACH_MODE(nul_in_commands, nul_in_commands)

/* after_quit - nothing after QUIT is read or answered */
static void after_quit(struct fake *fx)
{
	start(fx);
	SAYS(fx, EHLO MAIL RCPT "QUIT\r\nDATA\r\n" HDR "x\r\n.\r\n", "250 250 250 221");
	cr_assert(session_done(fx->s));
	SAYS(fx, "NOOP\r\nDATA\r\n", "");
	cr_assert_str_eq(event(fx, session_timeout), "");
	cr_assert_str_eq(event(fx, session_shutdown), "");
	cr_assert_eq(fx->opens, 0);
	cr_assert_eq(fx->checks, 1);
}

EACH_MODE(input_after_quit_ignored, after_quit)

/* ---- DATA ---- */

/* data_basic - one message, the envelope, the exact stored bytes */
static void data_basic(struct fake *fx)
{
	start(fx);
	SUMS(fx, PRE HDR "Hello,\r\n\r\nbody line\r\n.\r\nQUIT\r\n",
	     "250,250 2.1.0,250 2.1.5,354,250 2.0.0,221 2.0.0");
	cr_assert_not_null(strstr(buf_str(&fx->out), "\r\n250 2.0.0 Ok: queued as TESTID1\r\n"));
	cr_assert_eq(fx->opens, 1);
	cr_assert_eq(fx->commits, 1);
	cr_assert_eq(fx->aborts, 0);
	cr_assert_eq(fx->arrival, NOW);
	cr_assert_str_eq(fx->helo, CLIENT);
	cr_assert_str_eq(fx->client, IP);
	cr_assert_str_eq(fx->sender, "bob@test.example");
	cr_assert_eq(fx->nrcpt, 1);
	cr_assert_str_eq(fx->rcpt[0], "alice@test.example");
	STORED(fx, RCVD HDR_LF "Hello,\n\nbody line\n");
}

EACH_MODE(data_basic, data_basic)

/* data_then_more - a second message and commands after the first, all in
 * one feed; the transaction is over after each message */
static void data_then_more(struct fake *fx)
{
	start(fx);
	SAYS(fx, PRE HDR "one\r\n.\r\n" RCPT MAIL "RCPT TO:<carol@test.example>\r\n"
	     "DATA\r\n" HDR "two\r\n.\r\nNOOP\r\n",
	     PRE_OK " 250 503 250 250 354 250 250");
	cr_assert_eq(fx->commits, 2);
	cr_assert_str_eq(fx->rcpt[0], "carol@test.example");
	STORED(fx, RCVD_ID("TESTID2", "carol@test.example") HDR_LF "two\n");
}

EACH_MODE(data_in_same_feed_as_commands, data_then_more)

/* data_empty - "." at once: the header module adds what is missing */
static void data_empty(struct fake *fx)
{
	start(fx);
	SAYS(fx, PRE ".\r\n", PRE_OK " 250");
	STORED(fx, RCVD ADDED("TESTID1"));
}

EACH_MODE(data_empty_message, data_empty)

/* data_completes_header - the session passes the envelope to the header
 * module: missing fields come from it */
static void data_completes_header(struct fake *fx)
{
	start(fx);
	SAYS(fx, PRE "Subject: hi\r\n\r\nbody\r\n.\r\n", PRE_OK " 250");
	STORED(fx, RCVD "Subject: hi\n" ADDED("TESTID1") "\nbody\n");
}

EACH_MODE(data_completes_header, data_completes_header)

/* dot_unstuffing - a leading dot is removed from every line that has more */
static void dot_unstuffing(struct fake *fx)
{
	start(fx);
	SAYS(fx, PRE HDR "..leading\r\n...\r\n..\r\n. x\r\n.x\r\na.b\r\n .\r\n"
	     "..\r\n.\r\n", PRE_OK " 250");
	STORED(fx, RCVD HDR_LF ".leading\n..\n.\n x\nx\na.b\n .\n.\n");
}

EACH_MODE(dot_unstuffing, dot_unstuffing)

/* The end of DATA is CRLF "." CRLF and nothing else.  Each row: what
 * follows a complete header; whether that ends the message; what then
 * ends it ("" when it ended); the body stored. */
struct ending {
	char name[40];
	char data[64];
	int nul;            /* one NUL octet follows data */
	int ends;
	char close[16];
	char body[64];
};

static const struct ending endings[] = {
	{ "plain", "a\r\n.\r\n", 0, 1, "", "a\n" },
	{ "LF.LF", "a\n.\n", 0, 0, "\r\n.\r\n", "a\n.\n\n" },
	{ "CRLF.LF", "a\r\n.\n", 0, 0, "\r\n.\r\n", "a\n.\n\n" },
	{ "LF.CRLF", "a\n.\r\n", 0, 0, ".\r\n", "a\n.\n" },
	{ "CRLF LF.CRLF", "a\r\n\n.\r\n", 0, 0, ".\r\n", "a\n\n.\n" },
	{ "CR.CR", "a\r.\r", 0, 0, "\r\n.\r\n", "a\r.\r\n" },
	{ "CR.CRLF", "a\r.\r\n", 0, 0, ".\r\n", "a\r.\n" },
	{ "CRLF.CR", "a\r\n.\r", 0, 0, "x\r\n.\r\n", "a\n\rx\n" },
	{ "CRLF.CRCRLF", "a\r\n.\r\r\n", 0, 0, ".\r\n", "a\n\r\n" },
	{ "CRLF.CR.CRLF", "a\r\n.\r.\r\n", 0, 0, ".\r\n", "a\n\r.\n" },
	{ "CRLF CR.CRLF", "a\r\n\r.\r\n", 0, 0, ".\r\n", "a\n\r.\n" },
	{ "CRLF.LF CRLF", "a\r\n.\n\r\n", 0, 0, ".\r\n", "a\n.\n\n" },
	{ "CRLF.SP CRLF", "a\r\n. \r\n", 0, 0, ".\r\n", "a\n \n" },
	{ "CRLF..CRLF", "a\r\n..\r\n", 0, 0, ".\r\n", "a\n.\n" },
	{ "CRLF.CR SP CRLF", "a\r\n.\r \r\n", 0, 0, ".\r\n", "a\n\r \n" },
	{ "CRCR.CRLF", "a\r\r.\r\n", 0, 0, ".\r\n", "a\r\r.\n" },
	{ "LF CRLF.CRLF", "a\n\r\n.\r\n", 0, 1, "", "a\n\n" },
	{ "CRCRLF.CRLF", "a\r\r\n.\r\n", 0, 1, "", "a\r\n" },
	{ "LF LF.LF LF", "a\n\n.\n\n", 0, 0, "\r\n.\r\n", "a\n\n.\n\n\n" },
	{ "LF.LF.CRLF", "a\n.\n.\r\n", 0, 0, ".\r\n", "a\n.\n.\n" },
	{ "NUL line", "a\r\n", 1, 0, "\r\n.\r\n", "a\n" },
};

Test(session, data_end_only_at_crlf_dot_crlf)
{
	size_t i;
	int m;

	for (i = 0; i < sizeof endings / sizeof endings[0]; i++) {
		const struct ending *e = &endings[i];

		for (m = 0; m < NMODES; m++) {
			struct fake fx;
			char want[512];
			size_t dlen = strlen(e->data) + (e->nul ? 1 : 0);

			fx_init(&fx, (enum mode)m);
			start(&fx);
			SAYS(&fx, PRE HDR, PRE_OK);
			talkn(&fx, e->data, dlen);
			cr_assert_str_eq(fx.codes, e->ends ? "250" : "", "%s [%s]: got %s",
			                 e->name, mode_name[m], fx.codes);
			cr_assert_eq(session_in_data(fx.s), !e->ends, "%s [%s]", e->name,
			             mode_name[m]);
			talk(&fx, e->close);
			cr_assert_str_eq(fx.codes, e->ends ? "" : "250", "%s [%s]: close: %s",
			                 e->name, mode_name[m], fx.codes);
			talk(&fx, "NOOP\r\n");
			cr_assert_str_eq(fx.codes, "250", "%s [%s]", e->name, mode_name[m]);
			cr_assert_eq(fx.commits, 1, "%s [%s]", e->name, mode_name[m]);
			cr_assert(!session_in_data(fx.s));
			snprintf(want, sizeof want, "%s%s", RCVD HDR_LF, e->body);
			if (e->nul)
				cr_assert(fx.stored.len == strlen(want) + 2 &&
				          memcmp(fx.stored.p, want, strlen(want)) == 0 &&
				          memcmp(fx.stored.p + strlen(want), "\0\n", 2) == 0,
				          "%s [%s]", e->name, mode_name[m]);
			else
				cr_assert_str_eq(buf_str(&fx.stored), want, "%s [%s]:\n%s",
				                 e->name, mode_name[m], buf_str(&fx.stored));
			fx_end(&fx);
		}
	}
}

/* data_command_bare_lf - "DATA" ended by a bare LF: the "." CRLF after it
 * follows no CRLF, so it cannot end the message either */
static void data_command_bare_lf(struct fake *fx)
{
	start(fx);
	SAYS(fx, EHLO MAIL RCPT "DATA\n", "250 250 250 354");
	SAYS(fx, ".\r\n", "");
	cr_assert(session_in_data(fx->s));
	SAYS(fx, ".\r\n", "250");
	STORED(fx, RCVD ADDED("TESTID1") "\n.\n");
}

EACH_MODE(data_command_bare_lf, data_command_bare_lf)

/* data_binary - NUL and 8-bit octets and long lines are data */
static void data_binary(struct fake *fx)
{
	static const char body[] = "a\0b\r\n\xff\xfe\x80\r\n";
	static const char want[] = RCVD HDR_LF "a\0b\n\xff\xfe\x80\n";
	char *big = malloc(20000);
	size_t i;

	cr_assert_not_null(big);
	start(fx);
	SAYS(fx, PRE HDR, PRE_OK);
	talkn(fx, body, sizeof body - 1);
	SAYS(fx, ".\r\n", "250");
	cr_assert_eq(fx->stored.len, sizeof want - 1);
	cr_assert(memcmp(fx->stored.p, want, sizeof want - 1) == 0);
	/* a 5000-octet line: command lines have a limit, message lines not */
	memcpy(big, MAIL RCPT "DATA\r\n" HDR, sizeof MAIL RCPT "DATA\r\n" HDR - 1);
	i = sizeof MAIL RCPT "DATA\r\n" HDR - 1;
	memset(big + i, 'L', 5000);
	memcpy(big + i + 5000, "\r\n.\r\n", 6);
	SAYS(fx, big, "250 250 354 250");
	cr_assert_eq(fx->stored.len, strlen(RCVD_ID("TESTID2", "alice@test.example") HDR_LF) + 5001);
	cr_assert_eq(fx->stored.p[fx->stored.len - 1], '\n');
	cr_assert_eq(fx->stored.p[fx->stored.len - 2], 'L');
	free(big);
}

EACH_MODE(data_binary_and_long_lines, data_binary)

/* split_everywhere - the transaction cut in two at every offset gives the
 * same replies and the same stored bytes */
Test(session, split_at_every_offset)
{
	static const char in[] = PRE HDR "..stuffed\r\n.\r\r\nx\n.\r\nend\r\n.\r\nNOOP\r\n";
	static const char want[] = RCVD HDR_LF ".stuffed\n\r\nx\n.\nend\n";
	size_t k;

	for (k = 0; k <= sizeof in - 1; k++) {
		struct fake fx;
		char codes[2 * sizeof ((struct fake *)0)->codes];

		fx_init(&fx, WHOLE);
		start(&fx);
		talkn(&fx, in, k);
		snprintf(codes, sizeof codes, "%s", fx.codes);
		talkn(&fx, in + k, sizeof in - 1 - k);
		if (codes[0] && fx.codes[0])
			strcat(codes, " ");
		strcat(codes, fx.codes);
		cr_assert_str_eq(codes, PRE_OK " 250 250", "split at %zu: %s", k, codes);
		cr_assert_str_eq(buf_str(&fx.stored), want, "split at %zu", k);
		fx_end(&fx);
	}
}

/* size_limit - the limit is checked at the end of DATA: 552, the message
 * dropped, the session and the next message fine */
static void size_limit(struct fake *fx)
{
	char in[1024];
	size_t hl = strlen(HDR_LF), k;

	fx->cfg.max_size = 300;
	start(fx);
	talk(fx, EHLO);
	cr_assert_not_null(strstr(buf_str(&fx->out), "250-SIZE 300\r\n"));
	/* exactly the limit, counted as stored: LF line ends, no stuffing */
	k = 300 - hl - 1;
	snprintf(in, sizeof in, "MAIL FROM:<bob@test.example> SIZE=300\r\n" RCPT
	         "DATA\r\n" HDR "%0*d\r\n.\r\n", (int)k, 0);
	SAYS(fx, in, "250 250 354 250");
	cr_assert_eq(fx->stored.len, strlen(RCVD) + 300);
	/* one octet more */
	snprintf(in, sizeof in, MAIL RCPT "DATA\r\n" HDR "%0*d\r\n", (int)k + 1, 0);
	SAYS(fx, in, "250 250 354");
	cr_assert(session_in_data(fx->s));
	SUMS(fx, "more\r\n.\r\n", "552 5.3.4");
	cr_assert_eq(fx->aborts, 1);
	cr_assert_eq(fx->commits, 1);
	cr_assert(!session_in_data(fx->s));
	/* the transaction is over; the next one works */
	SAYS(fx, RCPT MAIL RCPT "DATA\r\n" HDR "small\r\n.\r\n", "503 250 250 354 250");
	cr_assert_eq(fx->commits, 2);
	STORED(fx, RCVD_ID("TESTID3", "alice@test.example") HDR_LF "small\n");
	/* far over, in pieces: still read to the end */
	SAYS(fx, MAIL RCPT "DATA\r\n", "250 250 354");
	for (k = 0; k < 50; k++)
		SAYS(fx, "0123456789012345678901234567890123456789\r\n", "");
	SAYS(fx, ".\r\nNOOP\r\n", "552 250");
	cr_assert_eq(fx->aborts, 2);
	cr_assert_eq(fx->commits, 2);
}

EACH_MODE(size_limit, size_limit)

/* header_refusals - a mail loop and a null sender without From: are
 * refused after DATA, the message dropped, the session fine */
static void header_refusals(struct fake *fx)
{
	start(fx);
	/* max_received is 3: three are fine */
	SAYS(fx, PRE "Received: from a\r\nReceived: from b\r\nReceived: from c\r\n"
	     "From: <bob@test.example>\r\n\r\nx\r\n.\r\n", PRE_OK " 250");
	cr_assert_eq(fx->commits, 1);
	SUMS(fx, MAIL RCPT "DATA\r\nReceived: from a\r\nreceived: from b\r\n"
	     "RECEIVED: from c\r\nReceived: from d\r\nFrom: <bob@test.example>\r\n"
	     "\r\nx\r\n.\r\n", "250 2.1.0,250 2.1.5,354,554 5.4.6");
	cr_assert_eq(fx->aborts, 1);
	cr_assert_eq(fx->commits, 1);
	SAYS(fx, RCPT, "503");
	/* the null sender: a From: is needed */
	SUMS(fx, "MAIL FROM:<>\r\n" RCPT "DATA\r\nSubject: bounce\r\n\r\nx\r\n.\r\n",
	     "250 2.1.0,250 2.1.5,354,554 5.6.0");
	cr_assert_eq(fx->aborts, 2);
	SAYS(fx, "MAIL FROM:<>\r\n" RCPT "DATA\r\nFrom: MAILER-DAEMON@test.example\r\n"
	     "\r\nx\r\n.\r\n", "250 250 354 250");
	cr_assert_eq(fx->commits, 2);
	cr_assert_str_eq(fx->sender, "");
	STORED(fx, RCVD_ID("TESTID4", "alice@test.example")
	           "From: MAILER-DAEMON@test.example\nDate: " DATE "\n"
	           "Message-ID: <TESTID4@" HOST ">\n\nx\n");
}

EACH_MODE(header_refusals, header_refusals)

/* A tx_open or tx_commit failure and the reply it must give. */
struct failure {
	enum status_kind kind;
	int subject, detail;
	char sum[16];
};

static const struct failure failures[] = {
	{ ST_TEMP, 3, 1, "452 4.3.1" },
	{ ST_TEMP, 3, 0, "451 4.3.0" },
	{ ST_TEMP, 4, 5, "451 4.4.5" },
	{ ST_PERM, 3, 0, "554 5.3.0" },
	{ ST_PERM, 6, 0, "554 5.6.0" },
};

Test(session, tx_open_failure)
{
	size_t i;
	int m;

	for (i = 0; i < sizeof failures / sizeof failures[0]; i++) {
		for (m = 0; m < NMODES; m++) {
			const struct failure *f = &failures[i];
			struct fake fx;

			fx_init(&fx, (enum mode)m);
			fx.open_st = status_make(f->kind, f->subject, f->detail, "cannot open");
			start(&fx);
			SAYS(&fx, EHLO MAIL RCPT, "250 250 250");
			talk(&fx, "DATA\r\n");
			cr_assert_str_eq(fx.sum, f->sum, "[%s] got %s want %s", mode_name[m],
			                 fx.sum, f->sum);
			cr_assert(!session_in_data(fx.s));
			cr_assert_eq(fx.writes, 0);
			cr_assert_eq(fx.aborts, 0);
			/* the session goes on; once the queue works, so does mail */
			fx.open_st = status_ok();
			SAYS(&fx, "RSET\r\n" MAIL RCPT "DATA\r\n" HDR "x\r\n.\r\n",
			     "250 250 250 354 250");
			cr_assert_eq(fx.commits, 1);
			STORED(&fx, RCVD HDR_LF "x\n");
			fx_end(&fx);
		}
	}
}

Test(session, tx_commit_failure)
{
	size_t i;
	int m;

	for (i = 0; i < sizeof failures / sizeof failures[0]; i++) {
		for (m = 0; m < NMODES; m++) {
			const struct failure *f = &failures[i];
			struct fake fx;
			char want[64];

			fx_init(&fx, (enum mode)m);
			fx.commit_st = status_make(f->kind, f->subject, f->detail, "disk trouble");
			start(&fx);
			talk(&fx, PRE HDR "x\r\n.\r\n");
			snprintf(want, sizeof want, "250,250 2.1.0,250 2.1.5,354,%s", f->sum);
			cr_assert_str_eq(fx.sum, want, "[%s] got %s want %s", mode_name[m],
			                 fx.sum, want);
			cr_assert_not_null(strstr(buf_str(&fx.out), " disk trouble\r\n"));
			cr_assert_eq(fx.commit_fails, 1);
			cr_assert_eq(fx.commits, 0);
			/* the transaction is over, the session is not */
			fx.commit_st = status_ok();
			SAYS(&fx, RCPT MAIL RCPT "DATA\r\n" HDR "y\r\n.\r\n", "503 250 250 354 250");
			cr_assert_eq(fx.commits, 1);
			STORED(&fx, RCVD_ID("TESTID2", "alice@test.example") HDR_LF "y\n");
			fx_end(&fx);
		}
	}
}

/* ---- timeout, shutdown, connection loss ---- */

/* ends_421 - session_timeout or session_shutdown at several points */
static void ends_421(void (*fn)(struct session *), const char *sum)
{
	int m, where;

	for (where = 0; where < 4; where++) {
		for (m = 0; m < NMODES; m++) {
			struct fake fx;

			fx_init(&fx, (enum mode)m);
			start(&fx);
			if (where == 1)
				talk(&fx, EHLO);
			if (where == 2)
				talk(&fx, EHLO MAIL RCPT);
			if (where == 3)
				talk(&fx, PRE HDR "half a mess");
			cr_assert_eq(session_in_data(fx.s), where == 3);
			event(&fx, fn);
			cr_assert_str_eq(fx.sum, sum, "at %d [%s]: %s", where, mode_name[m], fx.sum);
			cr_assert_not_null(strstr(buf_str(&fx.out), " " HOST " "));
			cr_assert(session_done(fx.s));
			cr_assert(!session_in_data(fx.s));
			cr_assert_eq(fx.aborts, where == 3 ? 1 : 0);
			cr_assert_eq(fx.open, 0);
			cr_assert_eq(fx.commits, 0);
			/* nothing more is read or said */
			SAYS(&fx, "age\r\n.\r\nNOOP\r\n", "");
			cr_assert_eq(fx.commits, 0);
			cr_assert_str_eq(event(&fx, session_timeout), "");
			cr_assert_str_eq(event(&fx, session_shutdown), "");
			fx_end(&fx);
		}
	}
}

Test(session, timeout)
{
	ends_421(session_timeout, "421 4.4.2");
}

Test(session, shutdown)
{
	ends_421(session_shutdown, "421 4.3.2");
}

/* connection_lost - session_abort in DATA drops the message once */
static void connection_lost(struct fake *fx)
{
	start(fx);
	SAYS(fx, PRE HDR "partial", PRE_OK);
	session_abort(fx->s);
	cr_assert_eq(fx->aborts, 1);
	cr_assert(!session_in_data(fx->s));
	session_abort(fx->s);
	cr_assert_eq(fx->aborts, 1);
}

EACH_MODE(connection_lost_in_data, connection_lost)

/* free_in_data - freeing a session in DATA aborts the message */
static void free_in_data(struct fake *fx)
{
	start(fx);
	SAYS(fx, PRE HDR "partial\r\n", PRE_OK);
	session_free(fx->s);
	fx->s = NULL;
	cr_assert_eq(fx->aborts, 1);
	cr_assert_eq(fx->commits, 0);
}

EACH_MODE(free_in_data, free_in_data)

Test(session, ipv6_client)
{
	struct fake fx;

	fx_init(&fx, WHOLE);
	start_from(&fx, "2001:db8::25");
	talk(&fx, EHLO);
	cr_assert(strncmp(buf_str(&fx.out), "250-" HOST " Hello " CLIENT " [2001:db8::25]\r\n",
	                  strlen("250-" HOST " Hello " CLIENT " [2001:db8::25]\r\n")) == 0);
	SAYS(&fx, MAIL RCPT "DATA\r\n" HDR "x\r\n.\r\n", "250 250 354 250");
	cr_assert_str_eq(fx.client, "2001:db8::25");
	STORED(&fx, "Received: from " CLIENT " ([IPv6:2001:db8::25])\n"
	            "\tby " HOST " (mta) with ESMTP id TESTID1\n"
	            "\tfor <alice@test.example>; " DATE "\n" HDR_LF "x\n");
	fx_end(&fx);
}

/* ---- property: any fragmentation, the same stored bytes ---- */

/* gen_message - a random message body after HDR, each line with an
 * ending chosen at random; appends the input to in and what must be
 * stored to want.  Lines of a single "." come only after a bare LF (where
 * they cannot end the message), so the message ends at its final
 * CRLF "." CRLF and nowhere else. */
static void gen_message(unsigned *seed, struct buf *in, struct buf *want)
{
	static const char pieces[][12] = {
		"", ".", "..", ".x", "x.", "\r", "\r.", ".\r", "text", " ", "\0",
		"\x80\xff", "From x", "\r\r", "a\rb", "...", ". ", "Received: x"
	};
	int lines = 1 + (int)(rnd(seed) % 30), l, prev_crlf = 1;

	for (l = 0; l < lines; l++) {
		char line[400];
		size_t n = 0, j;
		int parts = (int)(rnd(seed) % 4), p, crlf;

		for (p = 0; p < parts; p++) {
			size_t k = rnd(seed) % (sizeof pieces / sizeof pieces[0]);
			size_t pl = k == 10 ? 1 : strlen(pieces[k]);   /* 10: a NUL */

			memcpy(line + n, pieces[k], pl);
			n += pl;
		}
		if (rnd(seed) % 10 == 0) {
			size_t k = rnd(seed) % 300;

			memset(line + n, 'w', k);
			n += k;
		}
		/* the last line must end in CRLF for the end marker to count */
		crlf = l == lines - 1 || rnd(seed) % 4 != 0;
		/* a CR at the end of a line ended by a bare LF would make CRLF */
		if (!crlf && n > 0 && line[n - 1] == '\r')
			crlf = 1;
		/* "." CRLF after CRLF would end the message early */
		if (n == 1 && line[0] == '.' && prev_crlf && crlf)
			line[n++] = 'y';
		buf_add(in, line, n);
		buf_add(in, crlf ? "\r\n" : "\n", crlf ? 2 : 1);
		j = (n > 1 && line[0] == '.') ? 1 : 0;
		buf_add(want, line + j, n - j);
		buf_add(want, "\n", 1);
		prev_crlf = crlf;
	}
	buf_add(in, ".\r\n", 3);
}

Test(session, any_fragmentation_same_message)
{
	unsigned seed = 20231114;
	int round, m, rep;

	for (round = 0; round < 60; round++) {
		struct buf in = { 0 }, body = { 0 }, want = { 0 };

		buf_add(&in, PRE HDR, strlen(PRE HDR));
		gen_message(&seed, &in, &body);
		buf_add(&in, "QUIT\r\n", 6);
		buf_add(&want, RCVD HDR_LF, strlen(RCVD HDR_LF));
		buf_add(&want, body.p, body.len);
		for (m = 0; m < NMODES; m++) {
			for (rep = 0; rep < (m == RANDOM ? 10 : 1); rep++) {
				struct fake fx;

				fx_init(&fx, (enum mode)m);
				fx.cfg.max_size = 1000000;
				fx.seed = seed + (unsigned)rep;
				start(&fx);
				talkn(&fx, in.p, in.len);
				cr_assert_str_eq(fx.codes, PRE_OK " 250 221", "round %d [%s]: %s",
				                 round, mode_name[m], fx.codes);
				cr_assert_eq(fx.commits, 1);
				cr_assert_eq(fx.stored.len, want.len, "round %d [%s]: %zu != %zu",
				             round, mode_name[m], fx.stored.len, want.len);
				cr_assert(memcmp(fx.stored.p, want.p, want.len) == 0,
				          "round %d [%s]: stored bytes differ", round, mode_name[m]);
				fx_end(&fx);
			}
		}
		free(in.p);
		free(body.p);
		free(want.p);
	}
}

/* body_type - BODY=8BITMIME reaches the envelope, for this transaction
 * only: not after a MAIL refused for another parameter, not for the next */
static void body_type(struct fake *fx)
{
	start(fx);
	SAYS(fx, EHLO "MAIL FROM:<bob@test.example> BODY=8BITMIME\r\n" RCPT
	     "DATA\r\n" HDR "\xe9\r\n.\r\n", PRE_OK " 250");
	cr_assert_eq(fx->body_8bit, 1, "declared 8BITMIME");
	SAYS(fx, MAIL RCPT "DATA\r\n" HDR "x\r\n.\r\n", "250 250 354 250");
	cr_assert_eq(fx->body_8bit, 0, "the next message did not declare it");
	SAYS(fx, "MAIL FROM:<bob@test.example> BODY=8BITMIME X=1\r\n" MAIL RCPT
	     "DATA\r\n" HDR "x\r\n.\r\n", "555 250 250 354 250");
	cr_assert_eq(fx->body_8bit, 0, "a refused MAIL leaves nothing behind");
	SAYS(fx, "MAIL FROM:<bob@test.example> body=8bitmime BODY=7BIT\r\n" RCPT
	     "DATA\r\n" HDR "x\r\n.\r\n", "250 250 354 250");
	cr_assert_eq(fx->body_8bit, 0, "the last BODY= counts");
}

EACH_MODE(body_type_in_the_envelope, body_type)

/* dsn_params - RET=, ENVID=, NOTIFY= and ORCPT= reach the envelope as
 * written, each recipient with its own; nothing is left for the next
 * transaction */
static void dsn_params(struct fake *fx)
{
	start(fx);
	SAYS(fx, EHLO "MAIL FROM:<bob@test.example> RET=hdrs ENVID=q+2Bz\r\n"
	     "RCPT TO:<alice@test.example> NOTIFY=failure,SUCCESS "
	     "ORCPT=rfc822;Alice+2Bx@test.example\r\n"
	     "RCPT TO:<carol@test.example> NOTIFY=NEVER\r\n"
	     "RCPT TO:<dave@test.example>\r\n"
	     "DATA\r\n" HDR "x\r\n.\r\n", "250 250 250 250 250 354 250");
	cr_assert_eq(fx->ret, DSN_RET_HDRS);
	cr_assert_str_eq(fx->envid, "q+2Bz");
	cr_assert_eq(fx->nrcpt, 3);
	cr_assert_eq(fx->notify[0], DSN_FAILURE | DSN_SUCCESS);
	cr_assert_str_eq(fx->orcpt[0], "rfc822;Alice+2Bx@test.example");
	cr_assert_eq(fx->notify[1], DSN_NEVER);
	cr_assert_str_eq(fx->orcpt[1], "");
	cr_assert_eq(fx->notify[2], 0);
	SAYS(fx, MAIL RCPT "DATA\r\n" HDR "x\r\n.\r\n", "250 250 354 250");
	cr_assert_eq(fx->ret, DSN_RET_NONE);
	cr_assert_str_eq(fx->envid, "");
	cr_assert_eq(fx->notify[0], 0);
}

EACH_MODE(dsn_params_in_the_envelope, dsn_params)

/* ---- the command table's flags ---- */

/* tls_required - before TLS only HELO, EHLO, STARTTLS, NOOP, RSET and
 * QUIT go ahead (RFC 3207 4); everything else known gets 530 5.7.0, an
 * error like any refusal; unknown commands are still unrecognized */
static void tls_required(struct fake *fx)
{
	fx->cfg.tls_required = 1;
	fx->cfg.max_errors = 9;
	start(fx);
	SUMS(fx, "HELO " CLIENT "\r\n" EHLO "NOOP\r\nRSET\r\n",
	     "250,250,250 2.0.0,250 2.0.0");
	SUMS(fx, MAIL RCPT "DATA\r\nVRFY bob\r\nHELP\r\nEXPN x\r\nAUTH PLAIN\r\n",
	     "530 5.7.0,530 5.7.0,530 5.7.0,530 5.7.0,530 5.7.0,530 5.7.0,530 5.7.0");
	cr_assert_not_null(strstr(buf_str(&fx->out),
	                   "530 5.7.0 Must issue a STARTTLS command first\r\n"));
	/* no TLS to start here: STARTTLS is known, allowed, not served */
	SUMS(fx, "STARTTLS\r\nFOO\r\n", "502 5.5.1,500 5.5.2,421 4.7.0");
	cr_assert(session_done(fx->s));
	cr_assert_eq(fx->checks, 0);
	cr_assert_eq(fx->opens, 0);
}

EACH_MODE(tls_required_refuses_all_but_pre_tls_commands, tls_required)

/* tls_required off (the default): the same commands go ahead */
Test(session, tls_not_required_by_default)
{
	struct fake fx;

	fx_init(&fx, WHOLE);
	start(&fx);
	SAYS(&fx, EHLO MAIL RCPT "VRFY bob\r\nHELP\r\nDATA\r\n" HDR "x\r\n.\r\n",
	     "250 250 250 252 214 354 250");
	fx_end(&fx);
}

/* auth_required - MAIL needs an authenticated client, and none is (no
 * AUTH yet): 530 5.7.0, an error; the rest is as without it */
static void auth_required(struct fake *fx)
{
	fx->cfg.auth_required = 1;
	fx->cfg.max_errors = 3;
	start(fx);
	SUMS(fx, EHLO MAIL RCPT "NOOP\r\n", "250,530 5.7.0,503 5.5.1,250 2.0.0");
	cr_assert_not_null(strstr(buf_str(&fx->out),
	                   "530 5.7.0 Authentication required\r\n"));
	SUMS(fx, "MAIL FROM:<>\r\n", "530 5.7.0,421 4.7.0");
	cr_assert_eq(fx->checks, 0);
}

EACH_MODE(auth_required_before_mail, auth_required)

/* junk_flag - each of NOOP, RSET, VRFY and HELP is junk on its own (the
 * table's flag), and its refusal for bad syntax is an error, not junk */
Test(session, each_junk_command_counts)
{
	static const char cmds[][16] = { "NOOP\r\n", "RSET\r\n", "VRFY bob\r\n",
	                                 "HELP\r\n" };
	static const char codes[][8] = { "250", "250", "252", "214" };
	size_t i;

	for (i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
		struct fake fx;
		char in[256], want[80];

		fx_init(&fx, WHOLE);
		fx.cfg.max_junk = 1;
		fx.cfg.max_errors = 1;
		start(&fx);
		snprintf(in, sizeof in, EHLO "%s" EHLO "%s", cmds[i], cmds[i]);
		snprintf(want, sizeof want, "250 %s 250 %s 421", codes[i], codes[i]);
		SAYS(&fx, in, want);
		fx_end(&fx);
	}
}

/* ---- what session_feed returns ---- */

#define STARTTLS "STARTTLS\r\n"
#define EHLO_TLS "250-" HOST " Hello " CLIENT " [" IP "]\r\n250-PIPELINING\r\n" \
                 "250-SIZE 10000\r\n250-8BITMIME\r\n250-DSN\r\n250-STARTTLS\r\n" \
                 "250-ENHANCEDSTATUSCODES\r\n250 HELP\r\n"
#define EHLO_PLAIN "250-" HOST " Hello " CLIENT " [" IP "]\r\n250-PIPELINING\r\n" \
                   "250-SIZE 10000\r\n250-8BITMIME\r\n250-DSN\r\n" \
                   "250-ENHANCEDSTATUSCODES\r\n250 HELP\r\n"

/* actions_continue - anything short of QUIT, a 421 or STARTTLS uses all
 * its input, a part of a line and a part of a message too */
static void actions_continue(struct fake *fx)
{
	start(fx);
	talk(fx, EHLO "NOOP\r\nFOO\r\nMAIL FROM:<bob@test.example> SIZE=1\r\nRC");
	cr_assert_eq(fx->action, SESSION_CONTINUE);
	cr_assert_eq(fx->used, strlen(EHLO "NOOP\r\nFOO\r\nMAIL FROM:<bob@test."
	                               "example> SIZE=1\r\nRC"));
	talk(fx, "PT TO:<alice@test.example>\r\nDATA\r\n" HDR "part");
	cr_assert_eq(fx->action, SESSION_CONTINUE);
	SAYS(fx, "\r\n.\r\n", "250");
	cr_assert_eq(fx->action, SESSION_CONTINUE);
	cr_assert_eq(fx->used, 5);
}

EACH_MODE(feed_continues, actions_continue)

/* actions_close - QUIT: CLOSE, its line the last used */
static void actions_close_quit(struct fake *fx)
{
	start(fx);
	SAYS(fx, EHLO "QUIT\r\nNOOP\r\n", "250 221");
	cr_assert_eq(fx->action, SESSION_CLOSE);
	cr_assert_eq(fx->used, strlen(EHLO "QUIT\r\n"));
	cr_assert(session_done(fx->s));
	SAYS(fx, "NOOP\r\n", "");
	cr_assert_eq(fx->action, SESSION_CLOSE);
	cr_assert_eq(fx->used, 0);
}

EACH_MODE(feed_closes_after_quit, actions_close_quit)

/* actions_close_421 - the error that reaches max_errors: CLOSE right
 * after its line, in command mode and at the end of a refused message */
static void actions_close_421(struct fake *fx)
{
	char in[300];

	fx->cfg.max_errors = 2;
	fx->cfg.max_size = 50;
	start(fx);
	SAYS(fx, "FOO\r\nBAR\r\nNOOP\r\n", "500 500 421");
	cr_assert_eq(fx->action, SESSION_CLOSE);
	cr_assert_eq(fx->used, 10);
	session_free(fx->s);
	start(fx);
	snprintf(in, sizeof in, "FOO\r\n" PRE HDR "x\r\n.\r\nNOOP\r\n");
	SAYS(fx, in, "500 " PRE_OK " 552 421");
	cr_assert_eq(fx->action, SESSION_CLOSE);
	cr_assert_eq(fx->used, strlen(in) - strlen("NOOP\r\n"));
	cr_assert_eq(fx->aborts, 1);
}

EACH_MODE(feed_closes_after_421, actions_close_421)

/* what the TLS layer reports, and the Received: field that names it */
static const struct tls_info tls13 = { "TLSv1.3", "TLS_AES_256_GCM_SHA384",
                                       256, 256, 0 };
#define RCVD_TLS \
	"Received: from " CLIENT " ([" IP "])\n" \
	"\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits))\n" \
	"\tby " HOST " (mta) with ESMTPS id TESTID1\n" \
	"\tfor <alice@test.example>; " DATE "\n"

/* starttls - the issue's case: STARTTLS with plaintext pipelined behind
 * it in one chunk returns START_TLS having used exactly the STARTTLS
 * line; the rest is never read; once TLS is up the session is as after
 * the greeting: EHLO first, STARTTLS neither offered nor accepted */
static void starttls(struct fake *fx)
{
	fx->cfg.tls_available = 1;
	start(fx);
	talk(fx, EHLO);
	cr_assert_str_eq(buf_str(&fx->out), EHLO_TLS);
	SUMS(fx, STARTTLS "MAIL FROM:<x@test.example>\r\n", "220 2.0.0");
	cr_assert_str_eq(buf_str(&fx->out), "220 2.0.0 Ready to start TLS\r\n");
	cr_assert_eq(fx->action, SESSION_START_TLS);
	cr_assert_eq(fx->used, strlen(STARTTLS));
	cr_assert(!session_done(fx->s));
	/* fed again before TLS is up: nothing is used, nothing said */
	SAYS(fx, "RSET\r\n", "");
	cr_assert_eq(fx->action, SESSION_START_TLS);
	cr_assert_eq(fx->used, 0);
	session_tls_info(fx->s, &tls13);
	session_tls_started(fx->s);
	SUMS(fx, "MAIL FROM:<bob@test.example>\r\n", "503 5.5.1");
	cr_assert_eq(fx->action, SESSION_CONTINUE);
	talk(fx, EHLO);
	cr_assert_str_eq(buf_str(&fx->out), EHLO_PLAIN);
	SUMS(fx, STARTTLS "NOOP\r\n", "503 5.5.1,250 2.0.0");
	cr_assert_not_null(strstr(buf_str(&fx->out), "503 5.5.1 TLS already active\r\n"));
	cr_assert_eq(fx->action, SESSION_CONTINUE);
	/* a second call changes nothing */
	session_tls_started(fx->s);
	SAYS(fx, MAIL RCPT "DATA\r\n" HDR "x\r\n.\r\nQUIT\r\n", "250 250 354 250 221");
	cr_assert_eq(fx->action, SESSION_CLOSE);
	STORED(fx, RCVD_TLS HDR_LF "x\n");
	cr_assert_str_eq(fx->sender, "bob@test.example");
}

EACH_MODE(starttls_drops_pipelined_plaintext, starttls)

/* starttls_forgets - what the client said in the clear is gone after
 * TLS: a HELO name too (the Received: field has the new one) */
static void starttls_forgets(struct fake *fx)
{
	fx->cfg.tls_available = 1;
	start(fx);
	SAYS(fx, "HELO plain.example\r\n" STARTTLS, "250 220");
	session_tls_started(fx->s);
	SAYS(fx, MAIL "HELO " CLIENT "\r\n" MAIL RCPT "DATA\r\n" HDR "x\r\n.\r\n",
	     "503 250 250 250 354 250");
	cr_assert_str_eq(fx->helo, CLIENT);
	/* TLS without a description: no "(using ...)"; after HELO "SMTP"
	 * (RFC 3848 has no "SMTPS") */
	STORED(fx, "Received: from " CLIENT " ([" IP "])\n"
	           "\tby " HOST " (mta) with SMTP id TESTID1\n"
	           "\tfor <alice@test.example>; " DATE "\n" HDR_LF "x\n");
}

EACH_MODE(starttls_forgets_the_helo_name, starttls_forgets)

/* starttls_forgets_auth - an authentication in the clear does not
 * survive STARTTLS (RFC 3207 4.2): MAIL needs AUTH again */
static void starttls_forgets_auth(struct fake *fx)
{
	fx->cfg.tls_available = 1;
	fx->cfg.auth_required = 1;
	start(fx);
	SUMS(fx, EHLO, "250");
	fx->s->authenticated = 1;        /* as AUTH in the clear would */
	SAYS(fx, STARTTLS, "220");
	session_tls_started(fx->s);
	cr_assert_eq(fx->s->authenticated, 0);
	SUMS(fx, EHLO MAIL, "250,530 5.7.0");
}

EACH_MODE(starttls_forgets_the_authentication, starttls_forgets_auth)

/* implicit_tls - a connection encrypted from its first byte (--smtps):
 * EHLO offers no STARTTLS, STARTTLS is 503, a tls_required session
 * takes mail, and Received: names the TLS */
static void implicit_tls(struct fake *fx)
{
	fx->cfg.tls_implicit = 1;
	fx->cfg.tls_available = 1;
	fx->cfg.tls_required = 1;
	start(fx);
	session_tls_info(fx->s, &tls13);
	talk(fx, EHLO);
	cr_assert_str_eq(buf_str(&fx->out), EHLO_PLAIN);
	SUMS(fx, STARTTLS, "503 5.5.1");
	cr_assert_eq(fx->action, SESSION_CONTINUE);
	SAYS(fx, MAIL RCPT "DATA\r\n" HDR "x\r\n.\r\n", "250 250 354 250");
	STORED(fx, RCVD_TLS HDR_LF "x\n");
}

/* tls_unavailable - the caller cannot make its TLS object now: 454,
 * not counted as an error, and the session goes on in the clear
 * (STARTTLS may be tried again) */
static void tls_unavailable(struct fake *fx)
{
	fx->cfg.tls_available = 1;
	start(fx);
	fx->tls_unavailable = 1;
	talk(fx, EHLO);
	SAYS(fx, STARTTLS "NOOP\r\n", "454 250");
	cr_assert_str_eq(buf_str(&fx->out),
	                 "454 4.7.0 TLS not available: out of memory\r\n250 2.0.0 Ok\r\n");
	cr_assert_eq(fx->action, SESSION_CONTINUE);
	fx->tls_unavailable = 0;
	SAYS(fx, STARTTLS, "220");
	cr_assert_eq(fx->action, SESSION_START_TLS);
	cr_assert_eq(fx->tls_prepared, 2);
}

Test(session, starttls_454_when_tls_cannot_start_now)
{
	each_mode(tls_unavailable);
}

Test(session, implicit_tls_is_on_from_the_start)
{
	each_mode(implicit_tls);
}

/* starttls_refused - not inside a transaction, not with an argument,
 * not where no TLS can start (502, as every unserved command); each
 * refusal an error; STARTTLS before any EHLO is fine */
static void starttls_refused(struct fake *fx)
{
	fx->cfg.tls_available = 1;
	fx->cfg.max_errors = 3;
	start(fx);
	SUMS(fx, EHLO MAIL STARTTLS "STARTTLS now\r\nRSET\r\n",
	     "250,250 2.1.0,503 5.5.1,501 5.5.4,250 2.0.0");
	cr_assert_eq(fx->action, SESSION_CONTINUE);
	cr_assert_not_null(strstr(buf_str(&fx->out),
	                   "503 5.5.1 MAIL transaction in progress\r\n"));
	SUMS(fx, STARTTLS, "220 2.0.0");
	cr_assert_eq(fx->action, SESSION_START_TLS);
	session_free(fx->s);
	start(fx);
	SAYS(fx, STARTTLS "NOOP\r\n", "220");
	cr_assert_eq(fx->used, strlen(STARTTLS));
	session_free(fx->s);
	fx->cfg.tls_available = 0;
	start(fx);
	talk(fx, EHLO);
	cr_assert_str_eq(buf_str(&fx->out), EHLO_PLAIN);
	SUMS(fx, STARTTLS "NOOP\r\n", "502 5.5.1,250 2.0.0");
	cr_assert_eq(fx->action, SESSION_CONTINUE);
	session_tls_started(fx->s);   /* not asked for: ignored */
	SAYS(fx, MAIL, "250");
}

EACH_MODE(starttls_refused, starttls_refused)

/* tls_required_then_tls - with TLS required, the same client gets 530
 * before STARTTLS and mail through after it; errors stay counted */
static void tls_required_then_tls(struct fake *fx)
{
	fx->cfg.tls_available = 1;
	fx->cfg.tls_required = 1;
	fx->cfg.max_errors = 3;
	start(fx);
	SUMS(fx, EHLO MAIL STARTTLS MAIL, "250,530 5.7.0,220 2.0.0");
	cr_assert_eq(fx->action, SESSION_START_TLS);
	cr_assert_eq(fx->used, strlen(EHLO MAIL STARTTLS));
	session_tls_started(fx->s);
	SAYS(fx, EHLO MAIL RCPT "DATA\r\n" HDR "x\r\n.\r\n", PRE_OK " 250");
	cr_assert_eq(fx->commits, 1);
	SUMS(fx, "FOO\r\nFOO\r\n", "500 5.5.2,500 5.5.2,421 4.7.0");
}

EACH_MODE(tls_required_then_tls, tls_required_then_tls)
