/* fuzz_session.c - libFuzzer harness for session.c (the SMTP server).
 *
 * Input: eight parameter octets, then what a client sends.
 *   [0] max_line = 16 + 2 * octet
 *   [1] max_size = 24 * octet (255: 1 MiB)
 *   [2] bits 0-1 max_rcpt - 1, bits 2-4 max_errors, bits 5-7 max_received
 *   [3] bits 0-1 at [6]: nothing, session_timeout, session_shutdown, or
 *       (at the end) session_abort before session_free; bits 2-4 the
 *       longest fragment; bits 5-7 how eagerly output is drained
 *   [4] commit of message number k fails when bit k % 8 is set
 *   [5] bits 0-1 how commit fails; bits 2-4: tx_open fails for that
 *       message number (7: never); bit 5 tls_available, bit 6
 *       tls_required
 *   [6] where in the client's bytes the action of [3] happens (/255)
 *   [7] seed of the fragment and drain lengths
 * The fake ops accept recipients unless the mailbox starts with r, d, q
 * (refused), t or s (deferred); they store the message in a buffer capped
 * at STORE_CAP (a full buffer makes commit fail, as a full disk would).
 *
 * Each input runs twice.  Once one byte per session_feed(), with output
 * left in place, checking as it goes: DATA starts right after a DATA line
 * answered 354, and ends exactly at the first CRLF "." CRLF (DATA's own
 * CRLF counting), never elsewhere (no smuggling); the message stored is
 * what the client sent, un-stuffed, with the header completed (oracle.c's
 * model of header.h), or refused with the right code (552, 554 5.4.6 /
 * 5.6.0, the commit's failure); ops are called in order (no write outside
 * a message, no nested open, no check_rcpt inside DATA, no open message
 * left after session_free); once the session is done nothing more comes
 * out; session_feed() uses each byte but where it returns CLOSE (the
 * session is done; then no byte more) or START_TLS (only with
 * tls_available, at the LF of a STARTTLS line, its 220 queued last; the
 * harness says TLS is up at once and feeds on).  Then in random
 * fragments with output drained in random amounts, the rest of a
 * fragment fed again after START_TLS:
 * the replies and everything the ops saw must be the same (but for the
 * contents of a message that is aborted).  Finally all
 * output must be well-formed replies (oracle_replies), and 221/421 only
 * last, and only when the session is done.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oracle.h"
#include "session.h"

#define HOST "mx.fuzz.example"
#define IP   "192.0.2.1"

enum { PARAMS = 8, STORE_CAP = 8192, NOW = 1700000000 };

struct params {
	struct session_config cfg;
	int action;              /* 0 none, 1 timeout, 2 shutdown, 3 abort */
	size_t action_at;        /* before the client's byte at this offset */
	uint32_t maxfrag;        /* fragments are 1..maxfrag octets */
	uint32_t drain;          /* output is drained 1 time in drain */
	uint8_t commit_fail;     /* bit k % 8: commit of message k fails */
	int fail_kind;           /* which failure: see fail_status() */
	int open_fail;           /* tx_open fails for this message, or -1 */
	struct rng rng;
};

/* Everything the ops saw in one run. */
struct fake {
	const struct params *pa;
	unsigned msgno;          /* tx_open calls so far */
	int open;                /* between a good tx_open and commit/abort */
	int opened;              /* last tx_open: 1 ok, 2 failed; 0 none */
	int ended;               /* last end: 1 commit, 2 abort; 0 none */
	struct status commit_st; /* what the last commit returned */
	struct fbuf msg;         /* the current message, capped */
	int overflow;            /* it did not fit */
	char id[ENVELOPE_ID_MAX];
	char helo[ENVELOPE_HELO_MAX];
	char sender[ADDR_MAX], rcpt1[ADDR_MAX];
	size_t nrcpt;
	struct fbuf log;         /* every op and its data, to compare runs */
	int done;                /* session_done() at the end */
	int tls;                 /* TLS started: Received: says ESMTPS */
	int authenticated;       /* AUTH accepted: Received: says ESMTPSA */
};

/* fixed_now - the session's clock */
static time_t fixed_now(void)
{
	return NOW;
}

/* fail_status - how commit fails; kind from the input */
static struct status fail_status(int kind)
{
	switch (kind) {
	case 0:  return status_make(ST_TEMP, 3, 0, "queue write error");
	case 1:  return status_make(ST_TEMP, 3, 1, "disk full");
	case 2:  return status_make(ST_PERM, 6, 0, "content refused");
	default: return status_make(ST_PERM, 3, 4, "too big for the queue");
	}
}

/* fk_check_rcpt - accept most recipients; the first letter decides */
static struct status fk_check_rcpt(void *ctx, const struct mailbox *rcpt)
{
	struct fake *fk = ctx;
	size_t i, len = strnlen(rcpt->text, ADDR_MAX);

	if (fk->open)
		oracle_fail("check_rcpt inside a message");
	if (len == 0 || len >= ADDR_MAX)
		oracle_fail("check_rcpt with an empty or unterminated mailbox");
	for (i = 0; i < len; i++)
		if (rcpt->text[i] < 32 || rcpt->text[i] > 126)
			oracle_fail("check_rcpt with byte 0x%02x in the mailbox",
			            (unsigned char)rcpt->text[i]);
	fbuf_adds(&fk->log, "R");
	fbuf_add(&fk->log, rcpt->text, len + 1);
	switch (rcpt->text[0]) {
	case 'r': return status_make(ST_PERM, 1, 1, "no such user");
	case 'd': return status_make(ST_PERM, 7, 1, "relaying denied");
	case 'q': return status_make(ST_PERM, 1, 3, "bad mailbox name");
	case 't': return status_make(ST_TEMP, 2, 1, "mailbox busy");
	case 's': return status_make(ST_TEMP, 3, 1, "no space");
	}
	return status_ok();
}

/* fk_tx_open - check the envelope, name the message, start storing */
static struct status fk_tx_open(void *ctx, struct envelope *env)
{
	struct fake *fk = ctx;
	unsigned k = fk->msgno++;

	if (fk->open)
		oracle_fail("tx_open while a message is open");
	fbuf_adds(&fk->log, "O");
	if (env->nrcpt == 0 || env->nrcpt > fk->pa->cfg.max_rcpt)
		oracle_fail("tx_open with %zu recipients", env->nrcpt);
	if (env->arrival != NOW || strcmp(env->client, IP) != 0 ||
	    env->helo[0] == '\0')
		oracle_fail("tx_open with a bad envelope");
	if ((int)k == fk->pa->open_fail) {
		fk->opened = 2;
		return status_make(ST_TEMP, 3, 0, "cannot create queue file");
	}
	snprintf(env->id, sizeof env->id, "FZ%u", k);
	memcpy(fk->id, env->id, sizeof fk->id);
	memcpy(fk->helo, env->helo, sizeof fk->helo);
	memcpy(fk->sender, env->sender.text, sizeof fk->sender);
	memcpy(fk->rcpt1, env->rcpt[0].text, sizeof fk->rcpt1);
	fk->nrcpt = env->nrcpt;
	fk->msg.len = 0;
	fk->overflow = 0;
	fk->open = 1;
	fk->opened = 1;
	return status_ok();
}

/* fk_tx_write - store the next bytes, up to STORE_CAP */
static void fk_tx_write(void *ctx, const char *p, size_t n)
{
	struct fake *fk = ctx;

	if (!fk->open)
		oracle_fail("tx_write outside a message");
	if (fk->overflow || fk->msg.len + n > STORE_CAP)
		fk->overflow = 1;
	else
		fbuf_add(&fk->msg, p, n);
}

/* log_message - the stored message into the log */
static void log_message(struct fake *fk, const char *tag)
{
	char num[32];

	snprintf(num, sizeof num, "%s%zu,%d:", tag, fk->msg.len, fk->overflow);
	fbuf_adds(&fk->log, num);
	fbuf_add(&fk->log, fk->msg.p, fk->msg.len);
}

/* fk_tx_commit - keep the message, or fail as the input says */
static struct status fk_tx_commit(void *ctx)
{
	struct fake *fk = ctx;
	unsigned k = fk->msgno - 1;

	if (!fk->open)
		oracle_fail("tx_commit without an open message");
	fk->open = 0;
	fk->ended = 1;
	if (fk->overflow)
		fk->commit_st = status_make(ST_TEMP, 3, 1, "store full");
	else if (fk->pa->commit_fail & (1u << (k % 8)))
		fk->commit_st = fail_status(fk->pa->fail_kind);
	else
		fk->commit_st = status_ok();
	log_message(fk, "C");
	return fk->commit_st;
}

/* fk_tx_abort - forget the message */
static void fk_tx_abort(void *ctx)
{
	struct fake *fk = ctx;

	if (!fk->open)
		oracle_fail("tx_abort without an open message");
	fk->open = 0;
	fk->ended = 2;
	/* Not its contents: what reached tx_write before a message is
	 * dropped may depend on the cuts (a piece crossing the size limit
	 * is held back whole), and it is forgotten anyway. */
	fbuf_adds(&fk->log, "A");
}

/* fk_auth_check - "u"/"p" is good, a login starting with 't' finds the
 * source down, the rest is wrong; only under TLS (AUTH needs it) */
static struct status fk_auth_check(void *ctx, const char *mech,
                                   const char *login, const char *password)
{
	struct fake *fk = ctx;

	if (!fk->tls)
		oracle_fail("credentials checked in the clear");
	fbuf_adds(&fk->log, "U");
	fbuf_adds(&fk->log, mech);
	fbuf_adds(&fk->log, login);
	if (login[0] == 't')
		return status_make(ST_TEMP, 7, 0, "source down");
	if (strcmp(login, "u") == 0 && strcmp(password, "p") == 0) {
		fk->authenticated = 1;
		return status_ok();
	}
	return status_make(ST_PERM, 7, 8, "bad");
}

static const struct session_ops fake_ops = {
	fk_check_rcpt, fk_tx_open, fk_tx_write, fk_tx_commit, fk_tx_abort,
	NULL,                             /* TLS always ready */
	NULL,             /* add_rcpt: the session adds the address itself */
	fk_auth_check,
	NULL              /* any sender: the From: check is the unit tests' */
};

/* last_line - the last reply line in the session's output, or NULL */
static const char *last_line(const struct session *s, size_t *n)
{
	size_t len, i;
	const char *p = session_output(s, &len);

	if (len < 2)
		return NULL;
	for (i = len - 1; i > 0 && p[i - 1] != '\n'; i--)
		;
	*n = len - i;
	return p + i;
}

/* last_is - does the last reply line start with want? */
static int last_is(const struct session *s, const char *want)
{
	size_t n, k = strlen(want);
	const char *l = last_line(s, &n);

	return l != NULL && n >= k && memcmp(l, want, k) == 0;
}

/* refusal_is - is the last reply the refusal want, or (a refusal is an
 * error, session.h) want followed by the 421 4.7.0 of max_errors? */
static int refusal_is(const struct session *s, const char *want)
{
	size_t len, n, i, k = strlen(want);
	const char *p = session_output(s, &len), *l;

	if (last_is(s, want))
		return 1;
	if (!session_done(s) || !last_is(s, "421 4.7.0 "))
		return 0;
	l = last_line(s, &n);
	len = (size_t)(l - p);              /* the output before the 421 */
	if (len < 2)
		return 0;
	for (i = len - 1; i > 0 && p[i - 1] != '\n'; i--)
		;
	return len - i >= k && memcmp(p + i, want, k) == 0;
}

/* terminator_end - where the first CRLF "." CRLF in DATA ends: DATA is
 * the CRLF (crlf) or LF that ended the DATA line, then in[0..n); the
 * offset is into in, 0 when there is none */
static size_t terminator_end(const uint8_t *in, size_t n, int crlf)
{
	struct fbuf t = { 0 };
	const char *e;
	size_t at = 0, pre = crlf ? 2 : 1;

	fbuf_adds(&t, crlf ? "\r\n" : "\n");
	fbuf_add(&t, in, n);
	e = memmem(t.p, t.len, "\r\n.\r\n", 5);
	if (e != NULL)
		at = (size_t)(e - t.p) + 5 - pre;
	fbuf_free(&t);
	return at;
}

/* unstuff - the message the client meant by body[0..n) (DATA without its
 * end marker): lines end in LF, the CR of a CRLF goes, a leading dot goes
 * unless the line is just "." (RFC 5321 4.5.2) */
static void unstuff(const uint8_t *body, size_t n, struct fbuf *clean)
{
	const char *p = (const char *)body;
	size_t start = 0, i, len;

	for (i = 0; i < n; i++) {
		if (p[i] != '\n')
			continue;
		len = i - start;
		if (len > 0 && p[start + len - 1] == '\r')
			len--;
		if (len > 1 && p[start] == '.')
			fbuf_add(clean, p + start + 1, len - 1);
		else
			fbuf_add(clean, p + start, len);
		fbuf_add(clean, "\n", 1);
		start = i + 1;
	}
	if (start != n)
		oracle_fail("DATA body does not end with a line end");
}

/* check_data_end - DATA was in[0..n) (marker included), after the DATA
 * line ended in CRLF (crlf) or LF: check the end and the outcome */
static void check_data_end(const struct session *s, const struct fake *fk,
                           const uint8_t *in, size_t n, int crlf)
{
	const struct params *pa = fk->pa;
	static const struct tls_info no_details;
	struct header_info info;
	enum header_result hr;
	struct fbuf clean = { 0 };
	struct oline *lines;
	size_t nl, at;
	char want[64];

	at = terminator_end(in, n, crlf);
	if (at != n)
		oracle_fail("DATA ended at %zu, CRLF . CRLF ends at %zu", n, at);
	unstuff(in, n - 3, &clean);
	lines = oracle_split(clean.p, clean.len, &nl);
	memset(&info, 0, sizeof info);
	info.hostname = HOST;
	info.helo = fk->helo;
	info.client_ip = IP;
	info.id = fk->id;
	info.sender = fk->sender;
	info.rcpt = fk->nrcpt == 1 ? fk->rcpt1 : NULL;
	info.esmtp = -1;
	/* the harness gives the session no TLS details: no "(using" line */
	info.tls = fk->tls ? &no_details : NULL;
	info.authenticated = fk->authenticated;
	info.arrival = NOW;
	info.max_received = pa->cfg.max_received;
	hr = oracle_header_result(lines, nl, &info);

	if (clean.len > pa->cfg.max_size) {
		if (fk->ended != 2 || !refusal_is(s, "552 5.3.4 "))
			oracle_fail("%zu octets over %llu not refused with 552",
			            clean.len, pa->cfg.max_size);
	} else if (hr != HEADER_OK) {
		if (fk->ended != 2 || !refusal_is(s, hr == HEADER_LOOP ?
		                               "554 5.4.6 " : "554 5.6.0 "))
			oracle_fail("header refusal %d not answered right", (int)hr);
	} else {
		if (fk->ended != 1)
			oracle_fail("a good message was not committed");
		if (!fk->overflow)
			oracle_header(lines, nl, &info, fk->msg.p, fk->msg.len);
		if (fk->commit_st.kind == ST_OK)
			snprintf(want, sizeof want, "250 2.0.0 Ok: queued as %s\r\n",
			         fk->id);
		else
			snprintf(want, sizeof want, "%d %d.%u.%u ",
			         fk->commit_st.kind == ST_PERM ? 554 :
			         fk->commit_st.subject == 3 &&
			         fk->commit_st.detail == 1 ? 452 : 451,
			         fk->commit_st.kind == ST_PERM ? 5 : 4,
			         fk->commit_st.subject, fk->commit_st.detail);
		if (!last_is(s, want))
			oracle_fail("commit outcome not answered with \"%s\"", want);
	}
	free(lines);
	fbuf_free(&clean);
}

/* act - the action of params [3] on session s */
static void act(struct session *s, struct fake *fk, int action)
{
	int was_done = session_done(s), was_data = session_in_data(s);
	size_t before, after;

	if (action != 1 && action != 2)
		return;
	session_output(s, &before);
	fk->ended = 0;
	if (action == 1)
		session_timeout(s);
	else
		session_shutdown(s);
	session_output(s, &after);
	if (!session_done(s) || session_in_data(s) || fk->open)
		oracle_fail("still going after a timeout/shutdown");
	if (was_done ? after != before :
	    !last_is(s, action == 1 ? "421 4.4.2 " : "421 4.3.2 "))
		oracle_fail("timeout/shutdown answered wrong");
	if (was_data && fk->ended != 2)
		oracle_fail("timeout/shutdown in DATA did not abort");
}

/* finish - end the session; its whole output goes to out */
static void finish(struct session *s, struct fake *fk, struct fbuf *out)
{
	const char *p;
	size_t n;

	p = session_output(s, &n);
	fbuf_add(out, p, n);
	fk->done = session_done(s);
	if (fk->pa->action == 3)
		session_abort(s);
	session_free(s);
	if (fk->open)
		oracle_fail("a message is still open after session_free");
}

/* run_bytes - one byte per session_feed(), checking as it goes */
static void run_bytes(const uint8_t *in, size_t n, struct fake *fk,
                      struct fbuf *out)
{
	const struct params *pa = fk->pa;
	struct session *s;
	size_t i, ds = 0, before, after, used;
	int crlf = 0, was, was_done;
	enum session_action a;

	s = session_new(&pa->cfg, &fake_ops, fk, IP, fixed_now);
	if (s == NULL)
		oracle_fail("session_new failed");
	session_greet(s);
	for (i = 0; i <= n; i++) {
		if (session_in_data(s) && terminator_end(in + ds, i - ds, crlf))
			oracle_fail("DATA went on past CRLF . CRLF");
		if (i == pa->action_at)
			act(s, fk, pa->action);
		if (i == n)
			break;
		was = session_in_data(s);
		was_done = session_done(s);
		fk->opened = fk->ended = 0;
		session_output(s, &before);
		a = session_feed(s, (const char *)in + i, 1, &used);
		session_output(s, &after);
		if (was_done && (after != before || fk->opened || fk->ended))
			oracle_fail("the session went on after it was done");
		if (used != (was_done ? 0u : 1u))
			oracle_fail("%zu of 1 byte used", used);
		if ((a == SESSION_CLOSE) != session_done(s))
			oracle_fail("CLOSE %s a done session",
			            a == SESSION_CLOSE ? "without" : "not returned for");
		if (a == SESSION_START_TLS) {
			if (!pa->cfg.tls_available || in[i] != '\n' ||
			    session_in_data(s) || !last_is(s, "220 2.0.0 "))
				oracle_fail("START_TLS without a STARTTLS accepted");
			session_tls_started(s);
			fk->tls = 1;
		}
		if (fk->opened == 1 && (!session_in_data(s) ||
		                        !last_is(s, "354 ")))
			oracle_fail("tx_open succeeded but no 354");
		if (fk->opened == 2 && (session_in_data(s) ||
		                        !last_is(s, "451 4.3.0 ")))
			oracle_fail("tx_open failed but no 451");
		if (!was && session_in_data(s)) {
			if (in[i] != '\n' || fk->opened != 1)
				oracle_fail("DATA began without DATA");
			ds = i + 1;
			crlf = i > 0 && in[i - 1] == '\r';
		} else if (was && !session_in_data(s)) {
			check_data_end(s, fk, in + ds, i + 1 - ds, crlf);
		} else if (fk->ended) {
			oracle_fail("a message ended outside DATA's end");
		}
	}
	finish(s, fk, out);
}

/* run_frags - the same input in random fragments, output drained in
 * random amounts; the action exactly where run_bytes had it */
static void run_frags(const uint8_t *in, size_t n, struct fake *fk,
                      struct fbuf *out)
{
	const struct params *pa = fk->pa;
	struct rng rng = pa->rng;
	struct session *s;
	const char *p;
	size_t i = 0, k, len, used;
	enum session_action a;

	s = session_new(&pa->cfg, &fake_ops, fk, IP, fixed_now);
	if (s == NULL)
		oracle_fail("session_new failed");
	session_greet(s);
	for (;;) {
		if (i == pa->action_at)
			act(s, fk, pa->action);
		if (i == n)
			break;
		k = 1 + rng_below(&rng, pa->maxfrag);
		if (k > n - i)
			k = n - i;
		if (i < pa->action_at && i + k > pa->action_at)
			k = pa->action_at - i;
		a = session_feed(s, (const char *)in + i, k, &used);
		if (used > k || (a == SESSION_CONTINUE && used != k))
			oracle_fail("%zu of %zu bytes used, action %d", used, k, (int)a);
		if (a == SESSION_START_TLS) {
			/* stopped right after the STARTTLS line: nothing after it
			 * was read, nothing said after the 220 */
			if (used == 0 || in[i + used - 1] != '\n' ||
			    !last_is(s, "220 2.0.0 "))
				oracle_fail("START_TLS not right after STARTTLS");
			session_tls_started(s);
			fk->tls = 1;
		}
		/* after CLOSE nothing more is used: skip the rest */
		i += a == SESSION_CLOSE ? k : used;
		if (rng_below(&rng, pa->drain) == 0) {
			p = session_output(s, &len);
			k = len ? rng_below(&rng, (uint32_t)len + 1) : 0;
			fbuf_add(out, p, k);
			session_output_done(s, k);
		}
	}
	finish(s, fk, out);
}

/* check_closing - 221 and 421 come last, and exactly when done */
static void check_closing(const struct fbuf *out, int done)
{
	size_t pos = 0, len;
	int closing = 0;

	while (pos < out->len) {
		const char *l = out->p + pos;

		len = (size_t)((const char *)memchr(l, '\n', out->len - pos) - l) + 1;
		if (closing)
			oracle_fail("a reply after 221/421");
		closing = memcmp(l, "221 ", 4) == 0 || memcmp(l, "421 ", 4) == 0;
		pos += len;
	}
	if (closing != done)
		oracle_fail("221/421 %s but the session is %sdone",
		            closing ? "sent" : "not sent", done ? "" : "not ");
}

/* LLVMFuzzerTestOneInput - one client, two ways */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint32_t frag[8] = { 1, 2, 3, 7, 16, 64, 512, 1 << 16 };
	struct params pa;
	struct fake f1, f2;
	struct fbuf o1 = { 0 }, o2 = { 0 };
	const uint8_t *in = data + PARAMS;
	size_t n;

	if (size < PARAMS)
		return 0;
	n = size - PARAMS;
	memset(&pa, 0, sizeof pa);
	pa.cfg.hostname = HOST;
	pa.cfg.max_line = 16 + 2 * (size_t)data[0];
	pa.cfg.max_size = data[1] == 255 ? 1 << 20 : 24ull * data[1];
	pa.cfg.max_rcpt = 1 + (data[2] & 3);
	pa.cfg.max_errors = (data[2] >> 2) & 7;
	pa.cfg.max_received = (data[2] >> 5) & 7;
	pa.action = data[3] & 3;
	pa.maxfrag = frag[(data[3] >> 2) & 7];
	pa.drain = 1 + ((data[3] >> 5) & 7);
	pa.commit_fail = data[4];
	pa.fail_kind = data[5] & 3;
	pa.open_fail = ((data[5] >> 2) & 7) == 7 ? -1 : (data[5] >> 2) & 7;
	pa.cfg.tls_available = (data[5] >> 5) & 1;
	pa.cfg.tls_required = (data[5] >> 6) & 1;
	pa.cfg.auth_offered = (data[5] >> 7) & 1;
	pa.cfg.auth_required = pa.cfg.auth_offered && (data[0] & 1);
	pa.cfg.max_auth_failures = 3;
	pa.cfg.auth_delay = 1;
	pa.action_at = (size_t)data[6] * n / 255;
	rng_seed(&pa.rng, data + 7, 1);

	memset(&f1, 0, sizeof f1);
	memset(&f2, 0, sizeof f2);
	f1.pa = f2.pa = &pa;
	run_bytes(in, n, &f1, &o1);
	run_frags(in, n, &f2, &o2);
	if (o1.len != o2.len || (o1.len && memcmp(o1.p, o2.p, o1.len)))
		oracle_fail("replies depend on how the input was cut");
	if (f1.log.len != f2.log.len ||
	    (f1.log.len && memcmp(f1.log.p, f2.log.p, f1.log.len)))
		oracle_fail("what the ops saw depends on how the input was cut");
	if (f1.done != f2.done)
		oracle_fail("session_done depends on how the input was cut");
	oracle_replies(o1.p, o1.len, HOST);
	check_closing(&o1, f1.done);
	fbuf_free(&o1);
	fbuf_free(&o2);
	fbuf_free(&f1.log);
	fbuf_free(&f2.log);
	fbuf_free(&f1.msg);
	fbuf_free(&f2.msg);
	return 0;
}
