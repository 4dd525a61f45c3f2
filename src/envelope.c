/* envelope.c - the envelope and its text form; see envelope.h */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "envelope.h"
#include "seal.h"

/* envelope_init - an empty envelope */
void envelope_init(struct envelope *env)
{
	memset(env, 0, sizeof *env);
}

/* envelope_free - release the recipients */
void envelope_free(struct envelope *env)
{
	size_t i;

	for (i = 0; env->orcpt != NULL && i < env->nrcpt; i++)
		free(env->orcpt[i]);
	for (i = 0; env->dsn != NULL && i < env->nrcpt; i++)
		free(env->dsn[i].orcpt);
	free(env->orcpt);
	free(env->dsn);
	free(env->rcpt);
	envelope_init(env);
}

/* envelope_truncate - forget the recipients from n on */
void envelope_truncate(struct envelope *env, size_t n)
{
	size_t i;

	for (i = n; i < env->nrcpt; i++) {
		if (env->orcpt != NULL) {
			free(env->orcpt[i]);
			env->orcpt[i] = NULL;
		}
		if (env->dsn != NULL) {
			free(env->dsn[i].orcpt);
			env->dsn[i].orcpt = NULL;
			env->dsn[i].notify = 0;
		}
	}
	if (n < env->nrcpt)
		env->nrcpt = n;
}

/* mailbox_same - same address: local part exact, domain without case */
static int mailbox_same(const struct mailbox *a, const struct mailbox *b)
{
	if (a->at != b->at || memcmp(a->text, b->text, a->at) != 0)
		return 0;
	return strcasecmp(a->text + a->at, b->text + b->at) == 0;
}

/* rcpt_append - append a recipient; 0, or -1 when out of memory */
static int rcpt_append(struct envelope *env, const struct mailbox *rcpt)
{
	if (env->nrcpt == env->rcpt_cap) {
		size_t cap = env->rcpt_cap ? env->rcpt_cap * 2 : 4;
		struct mailbox *r = realloc(env->rcpt, cap * sizeof *r);

		struct envelope_dsn *d;
		char **o;

		if (r == NULL)
			return -1;
		env->rcpt = r;
		if ((o = realloc(env->orcpt, cap * sizeof *o)) == NULL)
			return -1;
		env->orcpt = o;
		if ((d = realloc(env->dsn, cap * sizeof *d)) == NULL)
			return -1;
		env->dsn = d;
		env->rcpt_cap = cap;
	}
	env->orcpt[env->nrcpt] = NULL;
	env->dsn[env->nrcpt] = (struct envelope_dsn){ 0, NULL };
	env->rcpt[env->nrcpt++] = *rcpt;
	return 0;
}

/* envelope_add_rcpt - append a recipient unless already there */
int envelope_add_rcpt(struct envelope *env, const struct mailbox *rcpt)
{
	size_t i;

	for (i = 0; i < env->nrcpt; i++)
		if (mailbox_same(&env->rcpt[i], rcpt))
			return 0;
	return rcpt_append(env, rcpt) < 0 ? -1 : 1;
}

/* envelope_add_final - a final recipient and the RCPT address it came of */
int envelope_add_final(struct envelope *env, const struct mailbox *rcpt,
                       const char *orcpt)
{
	int r = envelope_add_rcpt(env, rcpt);
	char *copy;

	if (r != 1 || orcpt == NULL || strcmp(orcpt, rcpt->text) == 0)
		return r;
	if ((copy = strdup(orcpt)) == NULL) {
		env->nrcpt--;
		return -1;
	}
	env->orcpt[env->nrcpt - 1] = copy;
	return 1;
}

/* envelope_set_dsn - the DSN parameters of the recipients from on */
int envelope_set_dsn(struct envelope *env, size_t from, unsigned notify,
                     const char *orcpt)
{
	size_t i;

	for (i = from; i < env->nrcpt; i++) {
		char *copy = NULL;

		if (orcpt != NULL && (copy = strdup(orcpt)) == NULL)
			return -1;
		free(env->dsn[i].orcpt);
		env->dsn[i].orcpt = copy;
		env->dsn[i].notify = notify;
	}
	return 0;
}

/* envelope_orcpt - the RCPT address of recipient n */
const char *envelope_orcpt(const struct envelope *env, size_t n)
{
	if (env->orcpt != NULL && env->orcpt[n] != NULL)
		return env->orcpt[n];
	return env->rcpt[n].text;
}

/* envelope_has_dsn - does env hold a DSN parameter (version 3)? */
int envelope_has_dsn(const struct envelope *env)
{
	size_t i;

	if (env->ret != DSN_RET_NONE || env->envid[0])
		return 1;
	for (i = 0; i < env->nrcpt && env->dsn; i++)
		if (env->dsn[i].notify || env->dsn[i].orcpt)
			return 1;
	return 0;
}

/* envelope_format - the text form, ending in the empty line */
int envelope_format(const struct envelope *env, char **out, size_t *len)
{
	size_t cap = 256 + SEAL_LINE_LEN + strlen(env->helo) + strlen(env->sender.text) +
	             strlen(env->envid), i, n;
	char *buf, notify[DSN_NOTIFY_TEXT_MAX], seal[SEAL_LINE_LEN + 1];
	int k;

	for (i = 0; i < env->nrcpt; i++)
		cap += 6 + strlen(env->rcpt[i].text) +
		       (env->orcpt && env->orcpt[i] ? 7 + strlen(env->orcpt[i]) : 0) +
		       (env->dsn && env->dsn[i].orcpt ? 11 + strlen(env->dsn[i].orcpt) : 0) +
		       8 + DSN_NOTIFY_TEXT_MAX;
	/* Always version 4 with its seal (a reader older than the seal
	 * refuses the file: the price of detecting a file whose data a power
	 * cut lost).  The seal is reserved here, filled in by the writer. */
	buf = malloc(cap);
	if (buf == NULL)
		return -1;
	seal_format(seal, 0, 0);
	k = snprintf(buf, cap, "mta-envelope 4\n%sid %s\narrival %lld\nclient %s\n"
	             "helo %s\nsender %s\n%s%s%s%s%s", seal, env->id,
	             (long long)env->arrival, env->client, env->helo, env->sender.text,
	             env->body_8bit ? "body 8BITMIME\n" : "",
	             env->ret == DSN_RET_FULL ? "ret FULL\n" :
	             env->ret == DSN_RET_HDRS ? "ret HDRS\n" : "",
	             env->envid[0] ? "envid " : "", env->envid,
	             env->envid[0] ? "\n" : "");
	n = (size_t)k;
	for (i = 0; i < env->nrcpt; i++) {
		n += (size_t)snprintf(buf + n, cap - n, "rcpt %s\n", env->rcpt[i].text);
		if (env->orcpt && env->orcpt[i])
			n += (size_t)snprintf(buf + n, cap - n, "orcpt %s\n", env->orcpt[i]);
		if (env->dsn && env->dsn[i].orcpt)
			n += (size_t)snprintf(buf + n, cap - n, "dsn-orcpt %s\n",
			                      env->dsn[i].orcpt);
		if (env->dsn && env->dsn[i].notify) {
			dsn_notify_format(env->dsn[i].notify, notify);
			n += (size_t)snprintf(buf + n, cap - n, "notify %s\n", notify);
		}
	}
	buf[n++] = '\n';
	buf[n] = '\0';     /* cap has room: it counted 256 for the fixed keys */
	*out = buf;
	*len = n;
	return 0;
}

/* mailbox_from_text - a mailbox from its stored text */
int mailbox_from_text(struct mailbox *mb, const char *text, size_t n)
{
	const char *at;

	if (n >= sizeof mb->text)
		return -1;
	memcpy(mb->text, text, n);
	mb->text[n] = '\0';
	at = memrchr(mb->text, '@', n);
	mb->at = at ? (size_t)(at - mb->text) : 0;
	mb->literal = at && at[1] == '[';
	return 0;
}

/* field - if line[0..n) is "key value", the value and its length */
static const char *field(const char *line, size_t n, const char *key,
                         size_t *vlen)
{
	size_t k = strlen(key);

	if (n < k + 1 || memcmp(line, key, k) != 0 || line[k] != ' ')
		return NULL;
	*vlen = n - k - 1;
	return line + k + 1;
}

/* envelope_parse - read the text form; 0, or -1 when not complete/valid
 * (EINVAL) or out of memory (ENOMEM) */
int envelope_parse(const char *buf, size_t n, struct envelope *env,
                   size_t *used)
{
	size_t pos = 0, len, vlen;
	int seen = 0;   /* bit per required key, in order of appearance */
	int head = 0;   /* optional keys before rcpt: 1 body, 2 ret, 3 envid */
	int tail = 0;   /* a recipient's: 1 orcpt, 2 dsn-orcpt, 3 notify */
	int sealed_seen = 0;
	uint32_t seal_crc;
	int err = EINVAL;
	const char *v;

	envelope_init(env);
	for (;;) {
		const char *nl = memchr(buf + pos, '\n', n - pos);
		const char *line = buf + pos;

		if (nl == NULL)
			goto fail;
		len = (size_t)(nl - line);
		pos += len + 1;
		if (len == 0)
			break;
		if (memchr(line, '\0', len) || memchr(line, '\r', len))
			goto fail;
		if (seen == 0) {
			/* 2: with orcpt lines (envelope.h); 1 may hold them too
			 * (written so before version 2 existed) */
			if (len != 14 || memcmp(line, "mta-envelope ", 13) != 0 ||
			    line[13] < '1' || line[13] > '4')
				goto fail;
			env->sealed = line[13] == '4';
			seen = 1;
		} else if (seen == 1 && env->sealed && !sealed_seen) {
			/* version 4: the seal, right after the version, always */
			if (pos != ENVELOPE_SEAL_END ||
			    seal_parse(line, len, &env->seal_size, &seal_crc) < 0)
				goto fail;
			env->seal_crc = seal_crc;
			sealed_seen = 1;
		} else if ((v = field(line, len, "id", &vlen)) && seen == 1) {
			if (vlen == 0 || vlen >= sizeof env->id)
				goto fail;
			memcpy(env->id, v, vlen);
			env->id[vlen] = '\0';
			seen = 2;
		} else if ((v = field(line, len, "arrival", &vlen)) && seen == 2) {
			char num[24], *end;

			if (vlen == 0 || vlen >= sizeof num)
				goto fail;
			memcpy(num, v, vlen);
			num[vlen] = '\0';
			errno = 0;
			env->arrival = (time_t)strtoll(num, &end, 10);
			if (*end || errno)
				goto fail;
			seen = 3;
		} else if ((v = field(line, len, "client", &vlen)) && seen == 3) {
			if (vlen >= sizeof env->client)
				goto fail;
			memcpy(env->client, v, vlen);
			env->client[vlen] = '\0';
			seen = 4;
		} else if ((v = field(line, len, "helo", &vlen)) && seen == 4) {
			if (vlen >= sizeof env->helo)
				goto fail;
			memcpy(env->helo, v, vlen);
			env->helo[vlen] = '\0';
			seen = 5;
		} else if ((v = field(line, len, "sender", &vlen)) && seen == 5) {
			if (mailbox_from_text(&env->sender, v, vlen) < 0)
				goto fail;
			seen = 6;
		} else if ((v = field(line, len, "body", &vlen)) && seen == 6 &&
		           env->nrcpt == 0 && head < 1) {
			/* the only body type worth writing down (envelope.h) */
			if (vlen != 8 || memcmp(v, "8BITMIME", 8) != 0)
				goto fail;
			env->body_8bit = 1;
			head = 1;
		} else if ((v = field(line, len, "ret", &vlen)) && seen == 6 &&
		           env->nrcpt == 0 && head < 2) {
			/* as written: upper case */
			if (vlen != 4 || (memcmp(v, "FULL", 4) != 0 &&
			                  memcmp(v, "HDRS", 4) != 0))
				goto fail;
			env->ret = dsn_ret_parse(v, vlen);
			head = 2;
		} else if ((v = field(line, len, "envid", &vlen)) && seen == 6 &&
		           env->nrcpt == 0 && head < 3) {
			if (vlen == 0 || vlen >= sizeof env->envid ||
			    !dsn_xtext_valid(v, vlen))
				goto fail;
			memcpy(env->envid, v, vlen);
			env->envid[vlen] = '\0';
			head = 3;
		} else if ((v = field(line, len, "orcpt", &vlen)) && seen == 6 &&
		           env->nrcpt > 0 && tail < 1) {
			if (vlen == 0 || vlen >= ADDR_MAX)
				goto fail;
			if ((env->orcpt[env->nrcpt - 1] = strndup(v, vlen)) == NULL) {
				err = ENOMEM;
				goto fail;
			}
			tail = 1;
		} else if ((v = field(line, len, "dsn-orcpt", &vlen)) && seen == 6 &&
		           env->nrcpt > 0 && tail < 2) {
			if (!dsn_orcpt_valid(v, vlen))
				goto fail;
			if ((env->dsn[env->nrcpt - 1].orcpt = strndup(v, vlen)) == NULL) {
				err = ENOMEM;
				goto fail;
			}
			tail = 2;
		} else if ((v = field(line, len, "notify", &vlen)) && seen == 6 &&
		           env->nrcpt > 0 && tail < 3) {
			char canon[DSN_NOTIFY_TEXT_MAX];
			unsigned bits;

			/* only as written (upper case, in order): a rewritten file
			 * reads back the same */
			if (dsn_notify_parse(v, vlen, &bits) < 0)
				goto fail;
			dsn_notify_format(bits, canon);
			if (strlen(canon) != vlen || memcmp(canon, v, vlen) != 0)
				goto fail;
			env->dsn[env->nrcpt - 1].notify = bits;
			tail = 3;
		} else if ((v = field(line, len, "rcpt", &vlen)) && seen == 6) {
			struct mailbox mb;

			if (vlen == 0 || mailbox_from_text(&mb, v, vlen) < 0)
				goto fail;
			/* keep duplicates: recipient numbers must stay stable */
			if (rcpt_append(env, &mb) < 0) {
				err = ENOMEM;   /* a good file: no reason to quarantine */
				goto fail;
			}
			tail = 0;
			head = 4;
		} else {
			goto fail;
		}
	}
	if (seen != 6 || env->nrcpt == 0)
		goto fail;
	*used = pos;
	return 0;
fail:
	envelope_free(env);
	errno = err;
	return -1;
}

/* envelope_read - the envelope of an open message file.  It is read in
 * growing chunks until its empty line; 1000 recipients fit in 300 KB, so
 * ENVELOPE_READ_MAX bounds a damaged file, not a legal one. */
int envelope_read(int fd, struct envelope *env, long long *offset)
{
	enum { ENVELOPE_READ_MAX = 64 << 20 };
	size_t cap = 4096, len = 0, used;
	char *buf = NULL;
	int e;

	for (;;) {
		char *grown = realloc(buf, cap);
		ssize_t r;

		if (grown == NULL)
			goto fail;
		buf = grown;
		r = pread(fd, buf + len, cap - len, (off_t)len);
		if (r < 0)
			goto fail;
		len += (size_t)r;
		if (memmem(buf, len, "\n\n", 2) != NULL) {
			if (envelope_parse(buf, len, env, &used) < 0)
				goto fail;  /* EINVAL, or ENOMEM: kept */
			*offset = (long long)used;
			free(buf);
			return 0;
		}
		if (r == 0 || cap >= ENVELOPE_READ_MAX) {
			errno = EINVAL;     /* truncated, or no end in sight */
			goto fail;
		}
		if (len == cap)
			cap *= 2;
	}
fail:
	e = errno;
	free(buf);
	errno = e;
	return -1;
}

/* envelope_verify - the seal met, or no seal to meet */
int envelope_verify(int fd, const struct envelope *env)
{
	if (!env->sealed)
		return 0;
	return seal_verify(fd, ENVELOPE_SEAL_END, env->seal_size, env->seal_crc);
}
