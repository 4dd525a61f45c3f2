/* msgsrc.c - messages from files, addresses from headers; see msgsrc.h */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <stralloc.h>

#include "msgsrc.h"

struct msgsrc {
	enum msgsrc_kind kind;
	char *path;
	int done;                 /* MSGSRC_MESSAGE: handed out already */
	FILE *f;                  /* MSGSRC_MBOX */
	char *line;               /* getline() buffer */
	size_t linecap;
	int have_from;            /* the next message's From_ line was read */
	unsigned long count;      /* messages handed out */
	char **names;             /* MSGSRC_MAILDIR: "new/x", "cur/y", ... */
	size_t nnames, next;
	char where[4200];             /* a path, or a path and a number */
};

/* ---- addresses -------------------------------------------------------- */

/* addrlist_init - an empty list */
void addrlist_init(struct addrlist *l)
{
	l->v = NULL;
	l->n = l->cap = 0;
}

/* addrlist_free - release every address */
void addrlist_free(struct addrlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	addrlist_init(l);
}

/* same_addr - equal addresses: local part exactly, domain without case */
static int same_addr(const char *a, const char *b, size_t bn)
{
	const char *at = memrchr(b, '@', bn);
	size_t k = at ? (size_t)(at - b) : bn;

	if (strlen(a) != bn || memcmp(a, b, k) != 0)
		return 0;
	return strncasecmp(a + k, b + k, bn - k) == 0;
}

/* addrlist_add - append a[0..n) unless it is there already */
int addrlist_add(struct addrlist *l, const char *a, size_t n)
{
	char *copy;
	size_t i;

	for (i = 0; i < l->n; i++)
		if (same_addr(l->v[i], a, n))
			return 0;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 8;
		char **v = realloc(l->v, cap * sizeof *v);

		if (v == NULL)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	copy = malloc(n + 1);
	if (copy == NULL)
		return -1;
	memcpy(copy, a, n);
	copy[n] = '\0';
	l->v[l->n++] = copy;
	return 1;
}

/* skip_comment - s[i] is '(': the index just past the matching ')' */
static size_t skip_comment(const char *s, size_t n, size_t i)
{
	int depth = 0;

	for (; i < n; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '(')
			depth++;
		else if (s[i] == ')' && --depth == 0)
			return i + 1;
	}
	return n;
}

/* skip_quoted - s[i] is '"' or '[': the index just past its end */
static size_t skip_quoted(const char *s, size_t n, size_t i)
{
	char close = s[i] == '"' ? '"' : ']';

	for (i++; i < n; i++) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == close)
			return i + 1;
	}
	return n;
}

/* one address being assembled */
struct pa {
	char buf[MSG_ADDR_MAX + 1];
	size_t len;
	int over;                 /* did not fit */
	int gap;                  /* whitespace since the last byte */
	int phrase;               /* words side by side: a display name */
};

/* pa_put - append s[0..n), noting words joined by whitespace */
static void pa_put(struct pa *a, const char *s, size_t n)
{
	if (a->gap && a->len > 0 && a->buf[a->len - 1] != '.' &&
	    a->buf[a->len - 1] != '@' && s[0] != '.' && s[0] != '@')
		a->phrase = 1;
	a->gap = 0;
	if (n > sizeof a->buf - 1 - a->len) {
		a->over = 1;
		return;
	}
	memcpy(a->buf + a->len, s, n);
	a->len += n;
}

/* addr_acceptable - may s[0..n) be used as an address? */
static int addr_acceptable(const char *s, size_t n)
{
	size_t i;
	int quoted = memchr(s, '"', n) != NULL;

	if (n == 0 || n > MSG_ADDR_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c > 0x7e || c < 0x20 || (c == ' ' && !quoted) || c == '<' ||
		    c == '>')
			return 0;
	}
	return 1;
}

/* emit - the address in cur, or in the angle brackets, into l; one that
 * is there but cannot be used (too long, 8-bit or control bytes) into
 * dropped, when not NULL */
static int emit(struct pa *cur, struct pa *ang, int have_angle,
                struct addrlist *l, struct addrlist *dropped)
{
	const char *s = cur->buf;
	size_t n = cur->len;
	int r = 0, over = cur->over;

	if (have_angle) {
		const char *colon;

		s = ang->buf;
		n = ang->len;
		/* an obsolete source route "@a,@b:" goes */
		if (n > 0 && s[0] == '@' && (colon = memchr(s, ':', n)) != NULL) {
			n -= (size_t)(colon + 1 - s);
			s = colon + 1;
		}
		over = ang->over;
	} else if (cur->phrase) {
		n = 0;                    /* a display name alone */
		over = 0;
	}
	if (!over && addr_acceptable(s, n))
		r = addrlist_add(l, s, n);
	else if (dropped && (n > 0 || over) && addrlist_add(dropped, s, n) < 0)
		r = -1;
	memset(cur, 0, sizeof *cur);
	memset(ang, 0, sizeof *ang);
	return r;
}

/* read_angle - s[i] is '<': the contents up to '>' without whitespace or
 * comments into ang; returns the index past the '>' */
static size_t read_angle(const char *s, size_t n, size_t i, struct pa *ang)
{
	for (i++; i < n && s[i] != '>';) {
		size_t j;

		if (s[i] == '(') {
			i = skip_comment(s, n, i);
		} else if (s[i] == '"' || s[i] == '[') {
			j = skip_quoted(s, n, i);
			pa_put(ang, s + i, j - i);
			i = j;
		} else if (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' ||
		           s[i] == '\n') {
			i++;
		} else {
			pa_put(ang, s + i, 1);
			i++;
		}
	}
	ang->phrase = 0;
	return i < n ? i + 1 : n;
}

/* msg_parse_addresses - every address in a field body into l */
int msg_parse_addresses(const char *s, size_t n, struct addrlist *l)
{
	return msg_parse_addresses_all(s, n, l, NULL);
}

/* msg_parse_addresses_all - and the unusable ones into dropped */
int msg_parse_addresses_all(const char *s, size_t n, struct addrlist *l,
                            struct addrlist *dropped)
{
	struct pa cur, ang;
	int have_angle = 0, added = 0, r;
	size_t i = 0, j;

	memset(&cur, 0, sizeof cur);
	memset(&ang, 0, sizeof ang);
	while (i < n) {
		switch (s[i]) {
		case '(':
			i = skip_comment(s, n, i);
			cur.gap = 1;
			continue;
		case ' ': case '\t': case '\r': case '\n':
			cur.gap = 1;
			i++;
			continue;
		case '"': case '[':
			j = skip_quoted(s, n, i);
			pa_put(&cur, s + i, j - i);
			i = j;
			continue;
		case '<':
			i = read_angle(s, n, i, &ang);
			have_angle = 1;
			continue;
		case ':':
			if (!have_angle)            /* a group's display name */
				memset(&cur, 0, sizeof cur);
			i++;
			continue;
		case ',': case ';':
			r = emit(&cur, &ang, have_angle, l, dropped);
			if (r < 0)
				return -1;
			added += r;
			have_angle = 0;
			i++;
			continue;
		default:
			pa_put(&cur, s + i, 1);
			i++;
		}
	}
	r = emit(&cur, &ang, have_angle, l, dropped);
	if (r < 0)
		return -1;
	return added + r;
}

/* ---- header fields ---------------------------------------------------- */

/* line_end - offset just past the line starting at p */
static size_t line_end(const char *m, size_t n, size_t p)
{
	const char *nl = memchr(m + p, '\n', n - p);

	return nl ? (size_t)(nl - m) + 1 : n;
}

/* field_next - the header field at *pos: its whole extent [*start, *end)
 * with continuation lines and line ends, its name length and the offset
 * of its value.  Returns 1, or 0 at the end of the header (then *pos is
 * the offset of the body). */
static int field_next(const char *m, size_t n, size_t *pos, size_t *start,
                      size_t *namelen, size_t *val, size_t *end)
{
	size_t p = *pos, e, q;

	if (p >= n)
		return 0;
	e = line_end(m, n, p);
	if (m[p] == '\n' || (m[p] == '\r' && (e - p == 1 || m[p + 1] == '\n'))) {
		*pos = e;                      /* the empty line */
		return 0;
	}
	for (q = p; q < e && m[q] > ' ' && m[q] < 0x7f && m[q] != ':'; q++)
		;
	*namelen = q - p;
	while (q < e && (m[q] == ' ' || m[q] == '\t'))
		q++;
	if (*namelen == 0 || q >= e || m[q] != ':')
		return 0;                      /* not a field: the body */
	*start = p;
	*val = q + 1;
	while (e < n && (m[e] == ' ' || m[e] == '\t'))
		e = line_end(m, n, e);
	*end = e;
	*pos = e;
	return 1;
}

/* is_name - is the field name at m[0..len) name (any case)? */
static int is_name(const char *m, size_t len, const char *name)
{
	return len == strlen(name) && strncasecmp(m, name, len) == 0;
}

/* msg_header_end - offset of the body */
size_t msg_header_end(const char *m, size_t n)
{
	size_t pos = 0, start, nl, val, end;

	while (field_next(m, n, &pos, &start, &nl, &val, &end))
		;
	return pos;
}

/* msg_header_addrs - sender and recipients from the header */
int msg_header_addrs(const char *m, size_t n, char *from, size_t fromlen,
                     struct addrlist *rcpt)
{
	return msg_header_addrs_all(m, n, from, fromlen, rcpt, NULL);
}

/* msg_header_addrs_all - and the unusable recipients into dropped */
int msg_header_addrs_all(const char *m, size_t n, char *from, size_t fromlen,
                         struct addrlist *rcpt, struct addrlist *dropped)
{
	size_t pos = 0, start, nl, val, end;
	int got_from = 0;

	if (fromlen > 0)
		from[0] = '\0';
	while (field_next(m, n, &pos, &start, &nl, &val, &end)) {
		if (is_name(m + start, nl, "from") && !got_from) {
			struct addrlist tmp;

			addrlist_init(&tmp);
			if (msg_parse_addresses(m + val, end - val, &tmp) < 0) {
				addrlist_free(&tmp);
				return -1;
			}
			if (tmp.n > 0 && strlen(tmp.v[0]) < fromlen) {
				strcpy(from, tmp.v[0]);
				got_from = 1;
			}
			addrlist_free(&tmp);
		} else if (rcpt && (is_name(m + start, nl, "to") ||
		                    is_name(m + start, nl, "cc") ||
		                    is_name(m + start, nl, "bcc"))) {
			if (msg_parse_addresses_all(m + val, end - val, rcpt,
			                            dropped) < 0)
				return -1;
		}
	}
	return 0;
}

/* msg_header_find - a field called name in the header, and where the
 * fields end */
int msg_header_find(const char *m, size_t n, const char *name,
                    size_t *fields_end)
{
	size_t pos = 0, start, nl, val, end, last = 0;
	int found = 0;

	while (field_next(m, n, &pos, &start, &nl, &val, &end)) {
		if (is_name(m + start, nl, name))
			found = 1;
		last = end;
	}
	if (fields_end)
		*fields_end = last;
	return found;
}

/* msg_skip_from_line - past a leading mbox From_ line */
size_t msg_skip_from_line(const char *m, size_t n)
{
	if (n < 5 || memcmp(m, "From ", 5) != 0)
		return 0;
	return line_end(m, n, 0);
}

/* msg_remove_bcc - delete the Bcc: fields in place */
size_t msg_remove_bcc(char *m, size_t n)
{
	size_t pos = 0, start, nl, val, end;

	while (field_next(m, n, &pos, &start, &nl, &val, &end)) {
		if (is_name(m + start, nl, "bcc")) {
			memmove(m + start, m + end, n - end);
			n -= end - start;
			pos = start;
		}
	}
	return n;
}

/* msg_has_8bit - bytes above 0x7f? */
int msg_has_8bit(const char *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)m[i] > 0x7f)
			return 1;
	return 0;
}

/* ---- sources ---------------------------------------------------------- */

/* msg_free - release m's text */
void msg_free(struct msg *m)
{
	free(m->data);
	m->data = NULL;
	m->len = 0;
}

/* read_file - the whole file at path into *m */
static int read_file(const char *path, struct msg *m)
{
	stralloc sa = { 0, 0, 0 };
	char buf[65536];
	int fd, err;
	ssize_t r;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	for (;;) {
		r = read(fd, buf, sizeof buf);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		if (!stralloc_catb(&sa, buf, (size_t)r)) {
			errno = ENOMEM;
			goto fail;
		}
	}
	close(fd);
	if (sa.s == NULL && !stralloc_ready(&sa, 1)) {
		errno = ENOMEM;
		return -1;
	}
	m->data = sa.s;
	m->len = sa.len;
	return 0;
fail:
	err = errno;
	close(fd);
	stralloc_free(&sa);
	errno = err;
	return -1;
}

/* cmp_names - qsort: file names in byte order */
static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* maildir_list - the names in path/sub into ms->names */
static int maildir_list(struct msgsrc *ms, const char *sub)
{
	char dir[4096];
	struct dirent *de;
	DIR *d;

	if ((size_t)snprintf(dir, sizeof dir, "%s/%s", ms->path, sub) >= sizeof dir) {
		errno = ENAMETOOLONG;
		return -1;
	}
	d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		char **v, *name;
		size_t k = ms->nnames;

		if (de->d_name[0] == '.')
			continue;
		v = realloc(ms->names, (k + 1) * sizeof *v);
		if (v == NULL)
			goto nomem;
		ms->names = v;
		name = malloc(strlen(sub) + strlen(de->d_name) + 2);
		if (name == NULL)
			goto nomem;
		sprintf(name, "%s/%s", sub, de->d_name);
		ms->names[ms->nnames++] = name;
	}
	closedir(d);
	return 0;
nomem:
	closedir(d);
	errno = ENOMEM;
	return -1;
}

/* msgsrc_open - find out what path is and start reading it */
int msgsrc_open(const char *path, struct msgsrc **out)
{
	struct msgsrc *ms;
	struct stat st;
	char head[5];
	size_t start;
	int err;

	if (stat(path, &st) < 0)
		return -1;
	ms = calloc(1, sizeof *ms);
	if (ms == NULL || (ms->path = strdup(path)) == NULL)
		goto nomem;
	if (S_ISDIR(st.st_mode)) {
		ms->kind = MSGSRC_MAILDIR;
		if (maildir_list(ms, "new") < 0)
			goto fail;
		start = ms->nnames;
		if (maildir_list(ms, "cur") < 0)
			goto fail;
		if (ms->nnames == 0) {
			char probe[4096];

			snprintf(probe, sizeof probe, "%s/cur", path);
			if (stat(probe, &st) < 0) {
				snprintf(probe, sizeof probe, "%s/new", path);
				if (stat(probe, &st) < 0) {
					errno = ENOTDIR;   /* not a Maildir */
					goto fail;
				}
			}
		}
		qsort(ms->names, start, sizeof *ms->names, cmp_names);
		qsort(ms->names + start, ms->nnames - start, sizeof *ms->names,
		      cmp_names);
		*out = ms;
		return 0;
	}
	ms->f = fopen(path, "re");
	if (ms->f == NULL)
		goto fail;
	if (fread(head, 1, 5, ms->f) == 5 && memcmp(head, "From ", 5) == 0) {
		ms->kind = MSGSRC_MBOX;
		rewind(ms->f);
	} else {
		ms->kind = MSGSRC_MESSAGE;
		fclose(ms->f);
		ms->f = NULL;
	}
	*out = ms;
	return 0;
nomem:
	errno = ENOMEM;
fail:
	err = errno;
	msgsrc_close(ms);
	errno = err;
	return -1;
}

/* is_empty_line - "\n" or "\r\n" */
static int is_empty_line(const char *s, size_t n)
{
	return (n == 1 && s[0] == '\n') || (n == 2 && s[0] == '\r' &&
	                                    s[1] == '\n');
}

/* mbox_next - the next message of an mbox */
static int mbox_next(struct msgsrc *ms, struct msg *m)
{
	stralloc sa = { 0, 0, 0 };
	int prev_empty = 0, any = 0;
	ssize_t n;

	for (;;) {
		n = getline(&ms->line, &ms->linecap, ms->f);
		if (n < 0)
			break;
		if ((size_t)n >= 5 && memcmp(ms->line, "From ", 5) == 0 &&
		    (prev_empty || (!ms->have_from && !any))) {
			if (ms->have_from || any)
				goto have_one;          /* the next message's */
			ms->have_from = 1;
			continue;
		}
		any = 1;
		prev_empty = is_empty_line(ms->line, (size_t)n);
		{
			const char *p = ms->line;
			size_t k = (size_t)n, q = 0;

			while (q < k && p[q] == '>')
				q++;
			if (q > 0 && k - q >= 5 && memcmp(p + q, "From ", 5) == 0) {
				p++;                    /* mboxrd: one '>' less */
				k--;
			}
			if (!stralloc_catb(&sa, p, k))
				goto nomem;
		}
	}
	if (ferror(ms->f)) {
		stralloc_free(&sa);
		errno = EIO;
		return -1;
	}
	ms->have_from = 0;
	if (!any)
		return 0;
have_one:
	ms->have_from = 1;
	/* the empty line before the next From_ line is the separator */
	if (sa.len >= 2 && sa.s[sa.len - 1] == '\n' && prev_empty) {
		sa.len--;
		if (sa.len > 0 && sa.s[sa.len - 1] == '\r')
			sa.len--;
	}
	if (sa.s == NULL && !stralloc_ready(&sa, 1))
		goto nomem;
	m->data = sa.s;
	m->len = sa.len;
	ms->count++;
	snprintf(ms->where, sizeof ms->where, "%s: message %lu", ms->path,
	         ms->count);
	return 1;
nomem:
	stralloc_free(&sa);
	errno = ENOMEM;
	return -1;
}

/* msgsrc_next - the next message */
int msgsrc_next(struct msgsrc *ms, struct msg *m)
{
	char path[4096];

	m->data = NULL;
	m->len = 0;
	switch (ms->kind) {
	case MSGSRC_MBOX:
		return mbox_next(ms, m);
	case MSGSRC_MAILDIR:
		if (ms->next >= ms->nnames)
			return 0;
		if ((size_t)snprintf(path, sizeof path, "%s/%s", ms->path,
		                     ms->names[ms->next++]) >= sizeof path) {
			errno = ENAMETOOLONG;
			return -1;
		}
		snprintf(ms->where, sizeof ms->where, "%s", path);
		if (read_file(path, m) < 0)
			return -1;
		ms->count++;
		return 1;
	case MSGSRC_MESSAGE:
		break;
	}
	if (ms->done)
		return 0;
	ms->done = 1;
	snprintf(ms->where, sizeof ms->where, "%s", ms->path);
	if (read_file(ms->path, m) < 0)
		return -1;
	ms->count++;
	return 1;
}

/* msgsrc_kind - what kind of source ms is */
enum msgsrc_kind msgsrc_kind(const struct msgsrc *ms)
{
	return ms->kind;
}

/* msgsrc_where - where the last message came from */
const char *msgsrc_where(const struct msgsrc *ms)
{
	return ms->where[0] ? ms->where : ms->path;
}

/* msgsrc_close - release ms */
void msgsrc_close(struct msgsrc *ms)
{
	size_t i;

	if (ms == NULL)
		return;
	if (ms->f)
		fclose(ms->f);
	for (i = 0; i < ms->nnames; i++)
		free(ms->names[i]);
	free(ms->names);
	free(ms->line);
	free(ms->path);
	free(ms);
}
