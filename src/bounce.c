/* bounce.c - RFC 3464 delivery status notifications; see bounce.h */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bounce.h"
#include "dsn.h"
#include "header.h"
#include "policy.h"

enum { HEADER_COPY_MAX = 64 * 1024 };   /* of the original, in the report */
enum { BOUNDARY_MAX = 70 };             /* RFC 2046 5.1.1 */

struct sink {
	void (*out)(void *ctx, const char *p, size_t len);
	void *ctx;
};

/* put - formatted text to the sink (lines end in LF, as stored) */
static void put(struct sink *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void put(struct sink *s, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof buf)
		n = sizeof buf - 1;
	s->out(s->ctx, buf, (size_t)n);
}

/* copy_header - the original header, up to its empty line */
static void copy_header(struct sink *s, int fd, off_t offset)
{
	char buf[4096];
	size_t total = 0;
	int at_bol = 1;

	while (total < HEADER_COPY_MAX) {
		ssize_t r = pread(fd, buf, sizeof buf, offset + (off_t)total), i;

		if (r <= 0)
			break;
		for (i = 0; i < r; i++) {
			if (buf[i] == '\n' && at_bol) {
				s->out(s->ctx, buf, (size_t)i);
				return;          /* the empty line: header done */
			}
			at_bol = buf[i] == '\n';
		}
		s->out(s->ctx, buf, (size_t)r);
		total += (size_t)r;
	}
	if (!at_bol)
		s->out(s->ctx, "\n", 1);
}

/* copy_message - the whole original message, ending in a line end */
static void copy_message(struct sink *s, int fd, off_t offset)
{
	char buf[8192];
	off_t at = offset;
	int at_bol = 1;
	ssize_t r;

	while ((r = pread(fd, buf, sizeof buf, at)) > 0) {
		s->out(s->ctx, buf, (size_t)r);
		at_bol = buf[r - 1] == '\n';
		at += r;
	}
	if (!at_bol)
		s->out(s->ctx, "\n", 1);
}

/* status_code - "5.1.1" for a failure (temporary ones that ran out of
 * attempts keep their class 4, as RFC 3464 2.3.4 allows) */
static void status_code(const struct status *st, char *buf, size_t len)
{
	snprintf(buf, len, "%d.%u.%u", st->kind == ST_TEMP ? 4 : 5,
	         st->subject, st->detail);
}

/* rcpt_index - recipient rcpt's number in env, or env->nrcpt */
static size_t rcpt_index(const struct envelope *env, const char *rcpt)
{
	size_t i;

	for (i = 0; i < env->nrcpt; i++)
		if (strcmp(env->rcpt[i].text, rcpt) == 0)
			break;
	return i;
}

/* original - the RCPT address a failed recipient came of (an alias, a
 * subaddress: envelope.h orcpt), or NULL when it is its own */
static const char *original(const struct envelope *env, const char *rcpt)
{
	size_t i = rcpt_index(env, rcpt);

	return i < env->nrcpt && env->orcpt != NULL ? env->orcpt[i] : NULL;
}

/* dsn_orcpt - the ORCPT= of rcpt, decoded into buf as "type; address",
 * or NULL when none was given */
static const char *dsn_orcpt(const struct envelope *env, const char *rcpt,
                             char *buf, size_t len)
{
	size_t i = rcpt_index(env, rcpt), t;
	const char *o, *semi;

	if (i == env->nrcpt || env->dsn == NULL || (o = env->dsn[i].orcpt) == NULL)
		return NULL;
	semi = strchr(o, ';');
	t = (size_t)(semi - o);
	if (t + 3 > len)
		return NULL;
	memcpy(buf, o, t);
	memcpy(buf + t, "; ", 2);
	if (dsn_xtext_decode(semi + 1, strlen(semi + 1), buf + t + 2, len - t - 2) < 0)
		return NULL;
	return buf;
}

/* bounce_wanted - NOTIFY= of the recipient */
int bounce_wanted(const struct envelope *env, const char *rcpt,
                  enum bounce_action action)
{
	size_t i = rcpt_index(env, rcpt);
	unsigned notify = i < env->nrcpt && env->dsn ? env->dsn[i].notify : 0;

	return dsn_wants(notify, action == BOUNCE_FAILED ? DSN_FAILURE
	                 : action == BOUNCE_DELAYED ? DSN_DELAY : DSN_SUCCESS);
}

static const char *const action_name[] = {
	"failed", "delayed", "delivered", "relayed"
};

/* bounce_compose - the report */
void bounce_compose(const char *hostname, const char *id,
                    const struct envelope *env, int fd, off_t offset,
                    const struct bounce_rcpt *r, size_t n, time_t now,
                    void (*out)(void *ctx, const char *p, size_t len),
                    void *ctx)
{
	struct sink s = { out, ctx };
	char date[64], arrival[64], code[16], b[BOUNDARY_MAX + 1];
	char until[64], dorcpt[DSN_ORCPT_MAX + 2], envid[DSN_ENVID_MAX];
	enum bounce_action act = n > 0 ? r[0].action : BOUNCE_FAILED;
	size_t i;

	/* unique by the report's queue ID; a long host name is cut to fit */
	snprintf(b, sizeof b, "%s/%s", id, hostname);
	header_format_date(date, sizeof date, now);
	header_format_date(arrival, sizeof arrival, env->arrival);
	put(&s, "From: Mail Delivery System <MAILER-DAEMON@%s>\n", hostname);
	put(&s, "To: <%s>\n", env->sender.text);
	put(&s, "Subject: %s\n", act == BOUNCE_FAILED
	    ? "Undeliverable mail: returned to sender"
	    : act == BOUNCE_DELAYED ? "Delayed mail (still being retried)"
	    : "Successful mail delivery report");
	put(&s, "Date: %s\n", date);
	put(&s, "Message-ID: <%s@%s>\n", id, hostname);
	put(&s, "Auto-Submitted: auto-replied\n");
	put(&s, "MIME-Version: 1.0\n");
	put(&s, "Content-Type: multipart/report; report-type=delivery-status;\n"
	        "\tboundary=\"%s\"\n\n", b);
	put(&s, "This is a MIME-encapsulated delivery status report.\n\n");

	put(&s, "--%s\nContent-Type: text/plain; charset=us-ascii\n\n", b);
	put(&s, "This is the mail system at %s.\n\n"
	        "Your message (queue ID %s, received %s) %s\n"
	        "to %s:\n\n", hostname, env->id, arrival,
	        act == BOUNCE_FAILED ? "could not be delivered"
	        : act == BOUNCE_DELAYED ? "has not yet been delivered"
	        : act == BOUNCE_DELIVERED ? "was delivered"
	        : "was passed on to a server that sends no such reports,",
	        n == 1 ? "this recipient" : "these recipients");
	for (i = 0; i < n; i++) {
		const char *o = original(env, r[i].rcpt);

		if (o != NULL)
			put(&s, "<%s> (sent to <%s>): %s\n\n", r[i].rcpt, o, r[i].st.text);
		else
			put(&s, "<%s>: %s\n\n", r[i].rcpt, r[i].st.text);
	}
	if (act == BOUNCE_DELAYED && n > 0) {
		header_format_date(until, sizeof until, r[0].retry_until);
		put(&s, "No action is needed: delivery will be tried again until\n"
		        "%s; you will be told if it fails for good.\n\n", until);
	}

	put(&s, "--%s\nContent-Type: message/delivery-status\n\n", b);
	if (env->envid[0] &&
	    dsn_xtext_decode(env->envid, strlen(env->envid), envid, sizeof envid) >= 0)
		put(&s, "Original-Envelope-Id: %s\n", envid);
	put(&s, "Reporting-MTA: dns; %s\nX-Queue-ID: %s\nArrival-Date: %s\n",
	    hostname, env->id, arrival);
	for (i = 0; i < n; i++) {
		const char *o = original(env, r[i].rcpt);
		const char *d = dsn_orcpt(env, r[i].rcpt, dorcpt, sizeof dorcpt);

		if (act == BOUNCE_FAILED || act == BOUNCE_DELAYED)
			status_code(&r[i].st, code, sizeof code);
		else
			snprintf(code, sizeof code, "2.0.0");
		put(&s, "\n");
		if (d != NULL)              /* RFC 3461 4.2: ORCPT= wins */
			put(&s, "Original-Recipient: %s\n", d);
		else if (o != NULL)         /* RFC 3464 2.3.1: the address as given */
			put(&s, "Original-Recipient: rfc822; %s\n", o);
		put(&s, "Final-Recipient: rfc822; %s\nAction: %s\nStatus: %s\n",
		    r[i].rcpt, action_name[act], code);
		/* RFC 3464 2.3.5: a host name is of type dns; an LMTP server
		 * on a unix socket has no host name, only its path */
		if (r[i].remote_mta && r[i].remote_mta[0])
			put(&s, "Remote-MTA: %s; %s\n",
			    r[i].remote_mta[0] == '/' ? "x-unix" : "dns", r[i].remote_mta);
		if (r[i].diag && r[i].diag[0])
			put(&s, "Diagnostic-Code: smtp; %s\n", r[i].diag);
		put(&s, "Last-Attempt-Date: %s\n", date);
		if (act == BOUNCE_DELAYED)
			put(&s, "Will-Retry-Until: %s\n", until);
	}
	/* RET=FULL: the whole message, in a failure report only (RFC 3461
	 * 4.3); else its header, as without RET */
	if (env->ret == DSN_RET_FULL && act == BOUNCE_FAILED) {
		put(&s, "\n--%s\nContent-Type: message/rfc822\n\n", b);
		copy_message(&s, fd, offset);
	} else {
		put(&s, "\n--%s\nContent-Type: text/rfc822-headers\n\n", b);
		copy_header(&s, fd, offset);
	}
	put(&s, "\n--%s--\n", b);
}

/* to_queue - the sink writing into a queue file */
static void to_queue(void *ctx, const char *p, size_t len)
{
	queue_msg_write(ctx, p, len);
}

/* bounce_rcpt_add - the report's recipient: the sender, resolved as RCPT
 * would resolve it when it is local (postmaster@ to root's mailbox,
 * bob+tag@ to bob's), by the current snapshot; as it is without one, or
 * when the snapshot refuses it for good (delivery then fails, and a
 * bounce is never bounced).  0, or -1 with st: try again later */
static int bounce_rcpt_add(struct envelope *benv, const struct mailbox *sender,
                           struct status *st)
{
	const struct config *cfg = config_get();

	*st = cfg == NULL ? status_make(ST_PERM, 0, 0, "no snapshot")
	                  : policy_add_rcpt(cfg, benv, sender, 1);
	if (cfg != NULL)
		config_put(cfg);
	if (st->kind == ST_PERM && benv->nrcpt == 0 &&
	    envelope_add_rcpt(benv, sender) < 0)
		*st = status_make(ST_TEMP, 3, 0, "Out of memory");
	else if (st->kind == ST_PERM)
		*st = status_ok();
	return st->kind == ST_OK ? 0 : -1;
}

/* bounce_send - compose and queue */
int bounce_send(struct queue *q, const char *hostname,
                const struct envelope *env, int fd, off_t offset,
                const struct bounce_rcpt *r, size_t n, struct status *st)
{
	struct bounce_rcpt *want;
	struct envelope benv;
	struct queue_msg *m;
	size_t i, k = 0;

	if (env->sender.text[0] == '\0') {
		errno = EINVAL;
		return -1;
	}
	if ((want = calloc(n ? n : 1, sizeof *want)) == NULL) {
		*st = status_make(ST_TEMP, 3, 0, "Out of memory");
		return -1;
	}
	for (i = 0; i < n; i++)
		if (bounce_wanted(env, r[i].rcpt, r[i].action))
			want[k++] = r[i];
	if (k == 0) {
		free(want);
		*st = status_ok();
		return 1;
	}
	r = want;
	n = k;
	envelope_init(&benv);
	benv.arrival = time(NULL);
	snprintf(benv.client, sizeof benv.client, "local");
	snprintf(benv.helo, sizeof benv.helo, "%s", hostname);
	benv.body_8bit = env->body_8bit;   /* the returned header may be 8-bit */
	/* from the null sender: a report is never reported on */
	if (bounce_rcpt_add(&benv, &env->sender, st) < 0) {
		envelope_free(&benv);
		free(want);
		return -1;
	}
	*st = queue_msg_open(q, &benv, &m);
	if (st->kind != ST_OK) {
		envelope_free(&benv);
		free(want);
		return -1;
	}
	bounce_compose(hostname, benv.id, env, fd, offset, r, n, benv.arrival,
	               to_queue, m);
	*st = queue_msg_commit(m);
	envelope_free(&benv);
	free(want);
	return st->kind == ST_OK ? 0 : -1;
}

/* bounce_send_mem - bounce_send of a message held in memory, through a
 * memfd copy (bounce_send reads the original with pread) */
int bounce_send_mem(struct queue *q, const char *hostname,
                    const struct envelope *env, const char *p, size_t len,
                    const struct bounce_rcpt *r, size_t n, struct status *st)
{
	int fd = memfd_create("bounce-original", MFD_CLOEXEC), got;
	size_t done = 0;

	while (fd >= 0 && done < len) {
		ssize_t w = write(fd, p + done, len - done);

		if (w < 0 && errno != EINTR) {
			close(fd);
			fd = -1;
		} else if (w > 0) {
			done += (size_t)w;
		}
	}
	if (fd < 0) {
		*st = status_make(ST_TEMP, 3, 0, "cannot copy the message: %s",
		                  strerror(errno));
		return -1;
	}
	got = bounce_send(q, hostname, env, fd, 0, r, n, st);
	close(fd);
	return got;
}
