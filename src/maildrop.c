/* maildrop.c - local submissions taken into the queue through the SMTP
 * session engine; see maildrop.h */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <stralloc.h>

#include "addr.h"
#include "bounce.h"
#include "log.h"
#include "maildrop.h"
#include "policy.h"
#include "session.h"

enum {
	ENV_LINE_MAX = 1000,    /* an envelope line of the file, LF included */
	ENV_MAX = 1024 * 1024,  /* the envelope part of a file */
	STALE_AGE = 86400       /* seconds before a tmp.* is a dead writer's */
};

/* one file being taken */
struct drop {
	struct queue *q;
	const struct config *cfg;
	const char *name;
	struct queue_msg *msg;
	struct envelope *env;       /* the session's, during DATA */
	struct session *s;
	char reply[600];            /* the last reply's last line */
	int code;                   /* ... and its code */
};

/* the session's ops: the queue under the file's name, relaying allowed */
static struct status ops_check_rcpt(void *ctx, const struct mailbox *rcpt)
{
	struct drop *d = ctx;

	return policy_check_rcpt(d->cfg, rcpt, 1, NULL);
}

static int ops_add_rcpt(void *ctx, struct envelope *env, const struct mailbox *rcpt)
{
	struct drop *d = ctx;

	return policy_add_rcpt(d->cfg, env, rcpt, 1).kind == ST_OK ? 0 : -1;
}

static struct status ops_tx_open(void *ctx, struct envelope *env)
{
	struct drop *d = ctx;
	struct status st = queue_msg_open_as(d->q, env, d->name, &d->msg);

	if (st.kind == ST_OK)
		d->env = env;
	return st;
}

static void ops_tx_write(void *ctx, const char *p, size_t n)
{
	struct drop *d = ctx;

	queue_msg_write(d->msg, p, n);
}

static struct status ops_tx_commit(void *ctx)
{
	struct drop *d = ctx;
	struct status st = queue_msg_commit(d->msg);

	d->msg = NULL;
	return st;
}

static void ops_tx_abort(void *ctx)
{
	struct drop *d = ctx;

	if (d->msg) {
		queue_msg_abort(d->msg);
		d->msg = NULL;
	}
}

static const struct session_ops drop_ops = {
	.check_rcpt = ops_check_rcpt, .tx_open = ops_tx_open,
	.tx_write = ops_tx_write, .tx_commit = ops_tx_commit,
	.tx_abort = ops_tx_abort, .add_rcpt = ops_add_rcpt
};

static time_t now_seconds(void) { return time(NULL); }

/* feed - bytes to the session; the code of its last reply line (0: no
 * reply yet), the line kept in d->reply */
static int feed(struct drop *d, const char *p, size_t n)
{
	const char *out, *last, *end;
	size_t used, len;

	session_feed(d->s, p, n, &used);
	out = session_output(d->s, &len);
	if (len == 0)
		return 0;
	/* the last line of the output, without its line end */
	end = out + len;
	while (end > out && (end[-1] == '\n' || end[-1] == '\r'))
		end--;
	for (last = end; last > out && last[-1] != '\n'; last--)
		;
	snprintf(d->reply, sizeof d->reply, "%.*s", (int)(end - last), last);
	d->code = atoi(d->reply);
	session_output_done(d->s, len);
	return d->code;
}

/* read_file - the whole file (at most limit octets: more is ERANGE) */
static int read_file(int fd, stralloc *sa, unsigned long long limit)
{
	char buf[65536];
	ssize_t r;

	for (;;) {
		r = read(fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			return 0;
		if ((unsigned long long)sa->len + (unsigned long long)r > limit) {
			errno = ERANGE;
			return -1;
		}
		if (!stralloc_catb(sa, buf, (size_t)r)) {
			errno = ENOMEM;
			return -1;
		}
	}
}

/* one recipient of a file, with its DSN lines (NULL: none) */
struct drop_rcpt {
	const char *addr, *notify, *orcpt;
};

/* the envelope of a file, pointing into its text, NUL-ended in place */
struct drop_env {
	const char *sender;         /* inside the brackets */
	const char *ret, *envid;    /* the DSN lines of MAIL, NULL: none */
	struct drop_rcpt *rcpt;
	size_t nrcpt;
	size_t body;                /* offset of the message */
};

/* line_addr - an envelope line "KEY <ADDR>" (ADDR may be empty: the
 * null sender), octets without control characters, no < or > in ADDR but
 * quoted (else "<a> NOTIFY=NEVER>" passes MAIL or RCPT parameters no
 * line gave); the address, NUL-ended in place, or NULL */
static const char *line_addr(char *line, size_t n, const char *key)
{
	size_t k = strlen(key), i;

	if (n < k + 2 || memcmp(line, key, k) != 0 || line[k] != '<' ||
	    line[n - 1] != '>' || !addr_angle_free(line + k + 1, n - k - 2))
		return NULL;
	for (i = 0; i < n; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			return NULL;
	line[n - 1] = '\0';
	return line + k + 1;
}

/* line_value - an envelope line "KEY VALUE", VALUE an SMTP parameter
 * value (RFC 5321 4.1.2 esmtp-value: printable ASCII but '=', no
 * space), so that it cannot add a parameter of its own to the command
 * it goes into; what it means is the session's to check.  The value,
 * NUL-ended in place (over the LF at line[n]), or NULL */
static const char *line_value(char *line, size_t n, const char *key)
{
	size_t k = strlen(key), i;

	if (n <= k || memcmp(line, key, k) != 0)
		return NULL;
	for (i = k; i < n; i++)
		if ((unsigned char)line[i] < 0x21 || (unsigned char)line[i] > 0x7e ||
		    line[i] == '=')
			return NULL;
	line[n] = '\0';
	return line + k;
}

/* parse_line - one envelope line into e: sender first, then at most one
 * ret and envid line, then the recipients, each followed by at most one
 * notify and orcpt line; 0, or -1 for a line out of place */
static int parse_line(char *line, size_t n, struct drop_env *e, const char **why)
{
	struct drop_rcpt *v, *last = e->nrcpt ? &e->rcpt[e->nrcpt - 1] : NULL;
	const char *a;

	if (e->sender == NULL) {
		if ((e->sender = line_addr(line, n, "sender ")) != NULL)
			return 0;
	} else if ((a = line_addr(line, n, "rcpt ")) != NULL) {
		if ((v = realloc(e->rcpt, (e->nrcpt + 1) * sizeof *v)) == NULL) {
			*why = "out of memory";
			return -1;
		}
		e->rcpt = v;
		e->rcpt[e->nrcpt++] = (struct drop_rcpt){ .addr = a };
		return 0;
	} else if (last == NULL && e->ret == NULL &&
	           (e->ret = line_value(line, n, "ret ")) != NULL) {
		return 0;
	} else if (last == NULL && e->envid == NULL &&
	           (e->envid = line_value(line, n, "envid ")) != NULL) {
		return 0;
	} else if (last && last->notify == NULL &&
	           (last->notify = line_value(line, n, "notify ")) != NULL) {
		return 0;
	} else if (last && last->orcpt == NULL &&
	           (last->orcpt = line_value(line, n, "orcpt ")) != NULL) {
		return 0;
	}
	*why = "a bad envelope line";
	return -1;
}

/* parse_env - the envelope part of sa; 0, or -1 with why */
static int parse_env(stralloc *sa, struct drop_env *e, const char **why)
{
	size_t pos = sizeof MAILDROP_MAGIC - 1;

	memset(e, 0, sizeof *e);
	if (sa->len < pos || memcmp(sa->s, MAILDROP_MAGIC, pos) != 0) {
		*why = "no mta-maildrop 1 line";
		return -1;
	}
	for (;;) {
		char *nl = memchr(sa->s + pos, '\n', sa->len - pos), *line = sa->s + pos;
		size_t n;

		if (nl == NULL || pos > ENV_MAX) {
			*why = "the envelope does not end";
			return -1;
		}
		n = (size_t)(nl - line);
		pos += n + 1;
		if (n == 0)
			break;
		if (n >= ENV_LINE_MAX) {
			*why = "an envelope line is too long";
			return -1;
		}
		if (parse_line(line, n, e, why) < 0)
			return -1;
	}
	if (e->sender == NULL || e->nrcpt == 0) {
		*why = e->sender ? "no recipients" : "no sender";
		return -1;
	}
	e->body = pos;
	return 0;
}

/* feed_message - the message as DATA: CRLF lines, dot-stuffed, ended */
static int feed_message(struct drop *d, const char *p, size_t n)
{
	stralloc out = { 0, 0, 0 };
	size_t i = 0;
	int code = 0;

	while (i < n) {
		const char *nl = memchr(p + i, '\n', n - i);
		size_t len = nl ? (size_t)(nl - (p + i)) : n - i;
		size_t k = len;

		if (k > 0 && p[i + k - 1] == '\r')
			k--;
		if ((p[i] == '.' && k > 0 && !stralloc_catb(&out, ".", 1)) ||
		    !stralloc_catb(&out, p + i, k) || !stralloc_catb(&out, "\r\n", 2))
			goto nomem;
		i += len + (nl ? 1 : 0);
		if (out.len >= 65536) {
			feed(d, out.s, out.len);
			out.len = 0;
		}
	}
	if (!stralloc_catb(&out, ".\r\n", 3))
		goto nomem;
	code = feed(d, out.s, out.len);
	stralloc_free(&out);
	return code;
nomem:
	stralloc_free(&out);
	return -1;
}

/* env_dsn - the DSN lines of e that the session would have taken, on
 * the refused recipients r[0..n) of env: a report of the refusal honours
 * NOTIFY=NEVER, RET= and ENVID= as one from the queue does; a line the
 * session refused counts as not given */
static void env_dsn(struct envelope *env, const struct drop_env *e,
                    const struct bounce_rcpt *r, size_t n)
{
	struct mailbox mb;
	unsigned bits;
	size_t i, k;
	int ret;

	if (e->ret && (ret = dsn_ret_parse(e->ret, strlen(e->ret))) > 0)
		env->ret = ret;
	if (e->envid && strlen(e->envid) < sizeof env->envid &&
	    dsn_xtext_valid(e->envid, strlen(e->envid)))
		snprintf(env->envid, sizeof env->envid, "%s", e->envid);
	for (k = 0; k < n; k++)
		for (i = 0; i < e->nrcpt; i++) {
			const struct drop_rcpt *dr = &e->rcpt[i];

			if (dr->addr != r[k].rcpt)
				continue;
			if (mailbox_from_text(&mb, dr->addr, strlen(dr->addr)) < 0 ||
			    envelope_add_rcpt(env, &mb) != 1)
				break;
			if (dr->notify == NULL ||
			    dsn_notify_parse(dr->notify, strlen(dr->notify), &bits) < 0)
				bits = 0;
			envelope_set_dsn(env, env->nrcpt - 1, bits,
			                 dr->orcpt && dsn_orcpt_valid(dr->orcpt, strlen(dr->orcpt))
			                 ? dr->orcpt : NULL);
			break;
		}
}

/* bounce_refused - the report of the recipients the session refused; the
 * message is sa's as read and checked, never the file again: its owner
 * may have rewritten or grown it since (a sparse terabyte, RET=FULL).
 * -1 when the report was wanted and could not be queued (logged), else 0
 * (sent, nobody to send it to, or not wanted). */
static int bounce_refused(struct drop *d, const struct drop_env *e,
                          const stralloc *sa, const struct bounce_rcpt *r,
                          size_t n)
{
	struct envelope env;
	struct status st;
	char q1[LOG_VALUE_MAX], path[ADDR_MAX + 3];
	size_t used;
	int len = snprintf(path, sizeof path, "<%s>", e->sender), ret = 0;

	if (len < 0 || (size_t)len >= sizeof path)
		return 0;
	envelope_init(&env);
	snprintf(env.id, sizeof env.id, "%s", d->name);
	env.arrival = time(NULL);
	snprintf(env.client, sizeof env.client, "local");
	env_dsn(&env, e, r, n);
	if (addr_parse_path(path, (size_t)len, &env.sender, &used, 0, 0) == ADDR_OK &&
	    env.sender.text[0] != '\0') {
		int got = bounce_send_mem(d->q, d->cfg->hostname, &env, sa->s + e->body,
		                          sa->len - e->body, r, n, &st);

		if (got < 0) {
			log_event("maildrop-error", "file=maildrop/%s op=bounce error=%s",
			          d->name, log_quote(q1, sizeof q1, st.text));
			ret = -1;
		} else if (got == 1) {
			log_event("bounce-dropped", "id=%s rcpts=%zu reason=notify",
			          d->name, n);
		}
	}
	envelope_free(&env);
	return ret;
}

/* waited - seconds since the submission's file was last written */
static long long waited(const struct stat *st)
{
	long long age = (long long)time(NULL) - (long long)st->st_mtime;

	return age > 0 ? age : 0;
}

/* give_up - a submission deferred past --max-queue-time: each recipient
 * not already in r[0..*nr) (refused with 5xx by this last try, which
 * keeps its own reply) is added with RFC 3463 4.4.7 (delivery time
 * expired) and the last reply, as the queue reports a recipient it gave
 * up on; the reason, for the log and bad/, in why[0..whylen) */
static void give_up(const struct drop *d, const struct drop_env *e,
                    long long age, struct bounce_rcpt *r, char (*diag)[600],
                    size_t *nr, char *why, size_t whylen)
{
	size_t i, k;

	snprintf(why, whylen, "Gave up after %lld seconds in maildrop/: %.500s", age,
	         d->reply[0] ? d->reply : "local error");
	for (i = 0; i < e->nrcpt; i++) {
		for (k = 0; k < *nr && r[k].rcpt != e->rcpt[i].addr; k++)
			;
		if (k < *nr)
			continue;
		snprintf(diag[*nr], sizeof diag[*nr], "%s", why);
		r[*nr] = (struct bounce_rcpt){ .rcpt = e->rcpt[i].addr,
		                               .st = status_make(ST_TEMP, 4, 7, "%s", why),
		                               .remote_mta = "", .diag = diag[*nr] };
		(*nr)++;
	}
}

/* reply_status - the permanent status of the last reply, for a report */
static struct status reply_status(const struct drop *d)
{
	int c = 0, subject = 0, detail = 0;

	if (sscanf(d->reply, "%*d %d.%d.%d", &c, &subject, &detail) != 3)
		subject = detail = 0;
	return status_make(ST_PERM, subject, detail, "%s", d->reply);
}

/* has_8bit - any octet above 127 in p[0..n)? */
static int has_8bit(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)p[i] > 127)
			return 1;
	return 0;
}

/* the outcome of one file */
enum outcome { TAKEN, DEFER, REFUSE };

/* submit - the session's dialogue over the envelope and message of sa;
 * the recipients it refused (5xx) in r[0..*nr), each with its reply */
static enum outcome submit(struct drop *d, const struct stat *st, stralloc *sa,
                           const struct drop_env *e, struct bounce_rcpt *r,
                           char (*diag)[600], size_t *nr)
{
	struct session_config scfg = {
		.hostname = d->cfg->hostname, .max_line = d->cfg->max_line,
		.max_size = d->cfg->max_size, .max_rcpt = d->cfg->max_rcpt,
		.max_received = d->cfg->max_received
	};
	/* room for any three envelope lines: a long address or parameter
	 * reaches the session whole and is refused there, as from a client */
	char cmd[3 * ENV_LINE_MAX + 64];
	size_t i, accepted = 0;
	int code;

	*nr = 0;
	/* A client would send the recipients over --max-rcpt (452) in a
	 * second transaction; a file is one message under one ID (the crash
	 * argument), so it is refused whole rather than deferred for ever. */
	if (e->nrcpt > d->cfg->max_rcpt) {
		snprintf(d->reply, sizeof d->reply, "552 5.5.3 More than %u "
		         "recipients (--max-rcpt)", d->cfg->max_rcpt);
		code = 552;
		goto refused_all;
	}
	d->s = session_new(&scfg, &drop_ops, d, "local", now_seconds);
	if (d->s == NULL)
		return DEFER;
	session_local_user(d->s, (unsigned long)st->st_uid);
	session_greet(d->s);
	if (feed(d, "", 0) != 220 || feed(d, "EHLO localhost\r\n", 16) != 250)
		return DEFER;
	/* the DSN lines as the parameters they stand for: the session
	 * checks them as it checks a client's (line_value keeps each one
	 * parameter) */
	snprintf(cmd, sizeof cmd, "MAIL FROM:<%s>%s%s%s%s%s\r\n", e->sender,
	         has_8bit(sa->s + e->body, sa->len - e->body) ? " BODY=8BITMIME" : "",
	         e->ret ? " RET=" : "", e->ret ? e->ret : "",
	         e->envid ? " ENVID=" : "", e->envid ? e->envid : "");
	code = feed(d, cmd, strlen(cmd));
	if (code / 100 != 2)
		goto refused_all;
	for (i = 0; i < e->nrcpt; i++) {
		const struct drop_rcpt *dr = &e->rcpt[i];

		snprintf(cmd, sizeof cmd, "RCPT TO:<%s>%s%s%s%s\r\n", dr->addr,
		         dr->notify ? " NOTIFY=" : "", dr->notify ? dr->notify : "",
		         dr->orcpt ? " ORCPT=" : "", dr->orcpt ? dr->orcpt : "");
		code = feed(d, cmd, strlen(cmd));
		if (code / 100 == 2) {
			accepted++;
		} else if (code / 100 == 5) {
			snprintf(diag[*nr], sizeof diag[*nr], "%s", d->reply);
			r[*nr] = (struct bounce_rcpt){ .rcpt = e->rcpt[i].addr, .st = reply_status(d),
			                               .remote_mta = "", .diag = diag[*nr] };
			(*nr)++;
		} else {
			return DEFER;
		}
	}
	if (accepted == 0)
		return REFUSE;
	code = feed(d, "DATA\r\n", 6);
	if (code == 354)
		code = feed_message(d, sa->s + e->body, sa->len - e->body);
	if (code / 100 == 2)
		return TAKEN;
refused_all:
	if (code / 100 != 5)
		return DEFER;
	/* every recipient shares the refusal of the sender or the message */
	*nr = 0;
	for (i = 0; i < e->nrcpt; i++) {
		snprintf(diag[*nr], sizeof diag[*nr], "%s", d->reply);
		r[*nr] = (struct bounce_rcpt){ .rcpt = e->rcpt[i].addr, .st = reply_status(d),
		                               .remote_mta = "", .diag = diag[*nr] };
		(*nr)++;
	}
	return REFUSE;
}

/* maildrop_take - one submission */
void maildrop_take(struct queue *q, const struct config *cfg, const char *name)
{
	struct drop d = { .q = q, .cfg = cfg, .name = name };
	struct drop_env e = { 0 };
	stralloc sa = { 0, 0, 0 };
	struct stat st;
	struct bounce_rcpt *r = NULL;
	char (*diag)[600] = NULL, qs[LOG_VALUE_MAX], qw[LOG_VALUE_MAX], expired[600];
	const char *why = NULL;
	unsigned long long limit;
	long long age;
	size_t nr = 0;
	enum outcome out = DEFER;
	int fd, ran = 0, taken;

	if (strncmp(name, QUEUE_MAILDROP_TMP, strlen(QUEUE_MAILDROP_TMP)) == 0)
		return;
	if (!queue_maildrop_name(name)) {
		queue_quarantine(q, QUEUE_MAILDROP, name, "not the name of a submission");
		return;
	}
	/* taken before a crash, its unlink not durable (maildrop.h), a new/ID
	 * not whole excepted (queue_maildrop_taken); or a name chosen to clash
	 * with a queued message: its owner's loss */
	if ((taken = queue_maildrop_taken(q, name)) < 0) {
		log_event("maildrop-deferred", "id=%s error=\"%s\"", name, strerror(errno));
		return;
	} else if (taken) {
		log_event("maildrop-taken-before", "id=%s action=unlink", name);
		if (queue_maildrop_remove(q, name) < 0 && errno != ENOENT)
			log_event("queue-error", "op=unlink file=maildrop/%s error=\"%s\"",
			          name, strerror(errno));
		return;
	}
	if ((fd = queue_maildrop_open(q, name, &st)) < 0) {
		if (errno == ENOENT)
			return;
		if (errno == ELOOP || errno == EINVAL || errno == EMLINK ||
		    errno == EACCES || errno == EPERM || errno == EXDEV) {
			queue_quarantine(q, QUEUE_MAILDROP, name, errno == EMLINK ?
			                 "more than one link" : errno == EACCES ||
			                 errno == EPERM ? "not readable" :
			                 errno == EXDEV ? "a mount point" :
			                 "not a regular file");
			return;
		}
		log_event("maildrop-deferred", "id=%s error=\"%s\"", name, strerror(errno));
		return;
	}
	limit = cfg->max_size > ~0ULL - ENV_MAX ? ~0ULL : cfg->max_size + ENV_MAX;
	if (read_file(fd, &sa, limit) < 0) {
		if (errno == ERANGE)
			why = "larger than --max-size";
		else
			log_event("maildrop-deferred", "id=%s error=\"%s\"", name,
			          strerror(errno));
	} else if (parse_env(&sa, &e, &why) == 0) {
		r = calloc(e.nrcpt, sizeof *r);
		diag = calloc(e.nrcpt, sizeof *diag);
		if (r && diag)
			out = submit(&d, &st, &sa, &e, r, diag, &nr);
		ran = 1;
		if (d.s)
			session_free(d.s);
		if (out == REFUSE && nr > 0)
			why = r[0].diag;
		else if (out == REFUSE)
			why = d.reply;
	}
	/* A submission that only ever gets 4xx (a recipient's .forward that
	 * cannot be read, say) is not tried for ever: past the queue's own
	 * lifetime it is reported to its sender, as a queued message would
	 * be.  Not when it could not even be read: nobody to report to. */
	if (out == DEFER && ran && r && diag && (age = waited(&st)) >= (long long)cfg->max_queue_time) {
		give_up(&d, &e, age, r, diag, &nr, expired, sizeof expired);
		if (bounce_refused(&d, &e, &sa, r, nr) < 0) {
			/* the report is the sender's only news: keep the file */
			log_event("maildrop-deferred", "id=%s uid=%lu reason=%s", name,
			          (unsigned long)st.st_uid,
			          log_quote(qw, sizeof qw, "expired, its report not queued"));
			goto out;
		}
		log_event("maildrop-refused", "id=%s uid=%lu reason=%s", name,
		          (unsigned long)st.st_uid, log_quote(qw, sizeof qw, expired));
		queue_quarantine(q, QUEUE_MAILDROP, name, expired);
		goto out;
	}
	if (out == TAKEN) {
		log_event("maildrop", "id=%s uid=%lu from=%s rcpts=%zu refused=%zu", name,
		          (unsigned long)st.st_uid, log_addr(qs, sizeof qs, e.sender),
		          e.nrcpt - nr, nr);
		if (nr > 0)
			bounce_refused(&d, &e, &sa, r, nr);
		if (queue_maildrop_remove(q, name) < 0)
			log_event("queue-error", "op=unlink file=maildrop/%s error=\"%s\"",
			          name, strerror(errno));
	} else if (why != NULL) {
		log_event("maildrop-refused", "id=%s uid=%lu reason=%s", name,
		          (unsigned long)st.st_uid, log_quote(qw, sizeof qw, why));
		if (nr > 0)
			bounce_refused(&d, &e, &sa, r, nr);
		queue_quarantine(q, QUEUE_MAILDROP, name, why);
	} else if (ran) {
		log_event("maildrop-deferred", "id=%s uid=%lu reason=%s", name,
		          (unsigned long)st.st_uid,
		          log_quote(qw, sizeof qw, d.reply[0] ? d.reply : "local error"));
	}
out:
	close(fd);
	free(e.rcpt);
	free(r);
	free(diag);
	stralloc_free(&sa);
}

struct scan_arg {
	struct queue *q;
	const struct config *cfg;
};

/* scanned - one name of maildrop/ (queue_scan) */
static int scanned(void *arg, const char *name, unsigned char type)
{
	struct scan_arg *a = arg;

	(void)type;
	maildrop_take(a->q, a->cfg, name);
	return 0;
}

/* maildrop_scan - every submission waiting */
int maildrop_scan(struct queue *q, const struct config *cfg)
{
	struct scan_arg a = { q, cfg };

	if (!queue_has_dir(q, QUEUE_MAILDROP))
		return 0;
	queue_maildrop_stale(q, STALE_AGE);
	return queue_scan(q, QUEUE_MAILDROP, scanned, &a);
}
