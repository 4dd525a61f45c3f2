/* addrtab.c - aliases, virtual, users and list files parsed; see addrtab.h */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "addrtab.h"
#include "readall.h"

#define INCLUDE_PREFIX ":include:"

/* one logical line being parsed */
struct pline {
	struct addrtab *t;
	enum addrtab_format fmt;
	const char *file;    /* the table's own copy of the name */
	unsigned line;       /* where the logical line began */
	char *err;
	size_t errlen;
};

/* bad - "FILE:LINE: why" into err; always -1 */
static int bad(const struct pline *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int bad(const struct pline *p, const char *fmt, ...)
{
	char why[300];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	snprintf(p->err, p->errlen, "%s:%u: %s", p->file, p->line, why);
	return -1;
}

/* oom - the out-of-memory error; always -1 */
static int oom(char *err, size_t errlen)
{
	snprintf(err, errlen, "out of memory");
	errno = ENOMEM;
	return -1;
}

void addrtab_init(struct addrtab *t)
{
	memset(t, 0, sizeof *t);
}

/* free_targets - the texts of n targets, then the array */
static void free_targets(struct addrtab_target *tg, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(tg[i].text);
	free(tg);
}

void addrtab_free(struct addrtab *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		free(t->e[i].key);
		free_targets(t->e[i].t, t->e[i].nt);
	}
	free(t->e);
	free_targets(t->list, t->nlist);
	for (i = 0; i < t->nfiles; i++)
		free(t->files[i]);
	free(t->files);
	addrtab_init(t);
}

/* own_file - the table's copy of a file name (entries point at it) */
static const char *own_file(struct addrtab *t, const char *file)
{
	char **f;

	if (t->nfiles > 0 && strcmp(t->files[t->nfiles - 1], file) == 0)
		return t->files[t->nfiles - 1];
	f = realloc(t->files, (t->nfiles + 1) * sizeof *f);
	if (f == NULL)
		return NULL;
	t->files = f;
	if ((f[t->nfiles] = strdup(file)) == NULL)
		return NULL;
	return f[t->nfiles++];
}

/* lower - s in lower case, in place */
static char *lower(char *s)
{
	char *p;

	for (p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return s;
}

/* valid_address - is s "local@domain", or with no_at a bare local part,
 * as RFC 5321 would take it in RCPT TO? */
static int valid_address(const char *s, int no_at)
{
	char path[ADDR_MAX + 16];
	struct mailbox mb;
	size_t used, n = strlen(s);

	if (n == 0 || n > ADDR_MAX - 16 || (strchr(s, '@') != NULL) == no_at)
		return 0;
	snprintf(path, sizeof path, "<%s%s>", s, no_at ? "@localhost" : "");
	return addr_parse_path(path, strlen(path), &mb, &used, 0, 0) == ADDR_OK &&
	       used == strlen(path);
}

/* add_target - one target word (unquoted) to tg[*n] */
static int add_target(const struct pline *p, struct addrtab_target **tg,
                      size_t *n, size_t *cap, char *word)
{
	struct addrtab_target x = { ADDRTAB_ADDR, NULL, p->file, p->line };
	const char *text = word;

	if (word[0] == '|')
		x.kind = ADDRTAB_PIPE;
	else if (word[0] == '/')
		x.kind = ADDRTAB_FILE;
	else if (strncasecmp(word, INCLUDE_PREFIX, strlen(INCLUDE_PREFIX)) == 0) {
		if (p->fmt == ADDRTAB_VIRTUAL)
			return bad(p, "%s is for the aliases file only", INCLUDE_PREFIX);
		x.kind = ADDRTAB_INCLUDE;
		text = word + strlen(INCLUDE_PREFIX);
		while (*text == ' ' || *text == '\t')
			text++;
		if (text[0] != '/')
			return bad(p, "%s needs an absolute path", INCLUDE_PREFIX);
	} else if (word[0] == '\\') {
		x.kind = ADDRTAB_MAILBOX;
		text = lower(word + 1);
		if (!valid_address(text, 1))
			return bad(p, "bad mailbox name '%s'", word);
	} else if (strchr(word, '@') != NULL) {
		if (!valid_address(word, 0))
			return bad(p, "bad address '%s'", word);
	} else if (!valid_address(lower(word), 1)) {
		return bad(p, "bad target '%s'", word);
	}
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 4;
		struct addrtab_target *g = realloc(*tg, c * sizeof *g);

		if (g == NULL)
			return oom(p->err, p->errlen);
		*tg = g;
		*cap = c;
	}
	if ((x.text = strdup(text)) == NULL)
		return oom(p->err, p->errlen);
	(*tg)[(*n)++] = x;
	return 0;
}

/* split_targets - the targets of s (modified) into tg; commas separate
 * them, blanks too but in the aliases format, where a target with a
 * blank must be quoted ("|cmd arg") */
static int split_targets(const struct pline *p, char *s, struct addrtab_target **tg,
                         size_t *n, size_t *cap)
{
	int blanks_split = p->fmt != ADDRTAB_ALIASES;

	for (;;) {
		char *word, *end;

		while (*s == ',' || isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			return 0;
		end = *s == '"' ? s + 1 + strcspn(s + 1, "\"") : NULL;
		if (end != NULL && *end == '"' && end[1] == '@') {
			/* "quoted local"@domain: an address, quotes and all */
			word = s;
			s = end + 1 + strcspn(end + 1, blanks_split ? ", \t" : ",");
			end = s;
			if (*s)
				s++;
			*end = '\0';
			while (end > word && isspace((unsigned char)end[-1]))
				*--end = '\0';
		} else if (*s == '"') {
			word = ++s;
			end = strchr(s, '"');
			if (end == NULL)
				return bad(p, "unterminated quote");
			*end++ = '\0';
			while (isspace((unsigned char)*end))
				end++;
			if (*end != '\0' && *end != ',')
				return bad(p, "text after a quoted target");
			s = end;
		} else {
			word = s;
			while (*s && *s != ',' && !(blanks_split && isspace((unsigned char)*s)))
				s++;
			end = s;
			if (*s)
				s++;
			*end = '\0';
			while (end > word && isspace((unsigned char)end[-1]))
				*--end = '\0';
			if (strpbrk(word, " \t") != NULL && word[0] != '|')
				return bad(p, "a blank inside target '%s' (quote it, or "
				           "separate targets with commas)", word);
		}
		if (*word == '\0')
			continue;
		if (add_target(p, tg, n, cap, word) < 0)
			return -1;
	}
}

/* trim_end - drop trailing blanks (and CR) of s[0..n); the new length */
static size_t trim_end(const char *s, size_t n)
{
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		n--;
	return n;
}

/* valid_key - a key of the format */
static int valid_key(enum addrtab_format fmt, const char *key)
{
	if (fmt != ADDRTAB_VIRTUAL)
		return valid_address(key, 1);
	if (key[0] == '@')
		return addr_domain_valid(key + 1, strlen(key + 1));
	return valid_address(key, 0);
}

/* logical - one logical line of the format */
static int logical(const struct pline *p, char *s)
{
	struct addrtab *t = p->t;
	struct addrtab_entry e = { NULL, NULL, 0, p->file, p->line };
	size_t cap = 0;
	char *rest;

	if (p->fmt == ADDRTAB_LIST)
		return split_targets(p, s, &t->list, &t->nlist, &t->listcap);
	if (p->fmt == ADDRTAB_ALIASES) {
		rest = strchr(s, ':');
		if (rest == NULL)
			return bad(p, "no ':' after the name");
		*rest++ = '\0';
		s[trim_end(s, strlen(s))] = '\0';
		if (s[0] == '"' && strlen(s) >= 2 && s[strlen(s) - 1] == '"') {
			s[strlen(s) - 1] = '\0';      /* "name": as sendmail allows */
			s++;
		}
		if (strpbrk(s, " \t") != NULL)
			return bad(p, "a blank inside the name '%s'", s);
	} else {
		rest = s + strcspn(s, " \t");
		if (*rest)
			*rest++ = '\0';
	}
	lower(s);
	if (!valid_key(p->fmt, s))
		return bad(p, p->fmt == ADDRTAB_VIRTUAL ? "bad key '%s' (want "
		           "user@domain or @domain)" : "bad name '%s'", s);
	if (p->fmt == ADDRTAB_USERS) {
		if (*rest != '\0')
			return bad(p, "one name per line");
	} else {
		if (split_targets(p, rest, &e.t, &e.nt, &cap) < 0) {
			free_targets(e.t, e.nt);
			return -1;
		}
		if (e.nt == 0)
			return bad(p, "no target for '%s'", s);
	}
	if (t->n == t->cap) {
		size_t c = t->cap ? t->cap * 2 : 16;
		struct addrtab_entry *ne = realloc(t->e, c * sizeof *ne);

		if (ne == NULL)
			goto nomem;
		t->e = ne;
		t->cap = c;
	}
	if ((e.key = strdup(s)) == NULL)
		goto nomem;
	t->e[t->n++] = e;
	return 0;
nomem:
	free_targets(e.t, e.nt);
	return oom(p->err, p->errlen);
}

int addrtab_parse(struct addrtab *t, enum addrtab_format fmt, const char *file,
                  const char *text, size_t n, char *err, size_t errlen)
{
	struct pline p = { t, fmt, own_file(t, file), 0, err, errlen };
	char *buf = malloc(n + 1);
	size_t len = 0, pos = 0, k;
	unsigned lineno = 0;
	int rc = 0;

	if (buf == NULL || p.file == NULL) {
		free(buf);
		return oom(err, errlen);
	}
	while (rc == 0 && pos < n) {
		const char *line = text + pos, *nl = memchr(line, '\n', n - pos);
		size_t ll = nl ? (size_t)(nl - line) : n - pos;

		pos += ll + (nl != NULL);
		lineno++;
		if (memchr(line, '\0', ll) != NULL) {
			p.line = lineno;
			rc = bad(&p, "a NUL byte in the line");
			break;
		}
		if (ll > ADDRTAB_LINE_MAX) {
			p.line = lineno;
			rc = bad(&p, "line longer than %d bytes", ADDRTAB_LINE_MAX);
			break;
		}
		ll = trim_end(line, ll);
		for (k = 0; k < ll && (line[k] == ' ' || line[k] == '\t'); k++)
			;
		if (k == ll || line[k] == '#')
			continue;          /* empty or a comment */
		if (k > 0 && fmt != ADDRTAB_LIST) {   /* continues the logical line */
			if (len == 0) {
				p.line = lineno;
				rc = bad(&p, "a continuation line with nothing to continue");
				break;
			}
			/* a line break ends a target: a comma, but where the
			 * key is followed by a blank (virtual) */
			buf[len++] = fmt == ADDRTAB_VIRTUAL ? ' ' : ',';
		} else if (len > 0) {
			buf[len] = '\0';
			rc = logical(&p, buf);
			len = 0;
			if (rc < 0)
				break;
		}
		if (len == 0)
			p.line = lineno;
		memcpy(buf + len, line + k, ll - k);
		len += ll - k;
	}
	if (rc == 0 && len > 0) {
		buf[len] = '\0';
		rc = logical(&p, buf);
	}
	free(buf);
	return rc;
}

/* cmp_entry - by key */
static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct addrtab_entry *)a)->key,
	              ((const struct addrtab_entry *)b)->key);
}

int addrtab_finish(struct addrtab *t, char *err, size_t errlen)
{
	size_t i;

	if (t->n > 1)
		qsort(t->e, t->n, sizeof *t->e, cmp_entry);
	for (i = 1; i < t->n; i++) {
		const struct addrtab_entry *a = &t->e[i - 1], *b = &t->e[i];

		if (strcmp(a->key, b->key) != 0)
			continue;
		if (a->file == b->file && a->line > b->line) {
			const struct addrtab_entry *x = a;

			a = b;
			b = x;
		}
		snprintf(err, errlen, "%s:%u: '%s' given again (first at %s:%u)",
		         b->file, b->line, b->key, a->file, a->line);
		return -1;
	}
	return 0;
}

/* load_file - parse one file into t */
static int load_file(struct addrtab *t, enum addrtab_format fmt, const char *path,
                     char *err, size_t errlen)
{
	size_t n;
	char *text = readall_path(path, ADDRTAB_FILE_MAX, &n);
	int rc;

	if (text == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	rc = addrtab_parse(t, fmt, path, text, n, err, errlen);
	free(text);
	return rc;
}

/* expand_includes - replace the ":include:" targets of tg[0..*n) by
 * the targets their files list (which may include again, one deeper) */
static int expand_includes(struct addrtab *t, struct addrtab_target **tg,
                           size_t *n, unsigned depth, char *err, size_t errlen)
{
	size_t i = 0, k;

	while (i < *n) {
		struct addrtab_target inc = (*tg)[i], *g;
		struct addrtab sub;

		if (inc.kind != ADDRTAB_INCLUDE) {
			i++;
			continue;
		}
		if (depth >= ADDRTAB_INCLUDE_DEPTH) {
			snprintf(err, errlen, "%s:%u: %s%s: includes nested more than %d deep",
			         inc.file, inc.line, INCLUDE_PREFIX, inc.text,
			         ADDRTAB_INCLUDE_DEPTH);
			return -1;
		}
		addrtab_init(&sub);
		if (load_file(&sub, ADDRTAB_LIST, inc.text, err, errlen) < 0 ||
		    expand_includes(&sub, &sub.list, &sub.nlist, depth + 1, err, errlen) < 0) {
			addrtab_free(&sub);
			return -1;
		}
		/* the included targets take the include's place, in order */
		g = realloc(*tg, (*n + sub.nlist + 1) * sizeof *g);
		if (g == NULL) {
			addrtab_free(&sub);
			return oom(err, errlen);
		}
		*tg = g;
		memmove(g + i + sub.nlist, g + i + 1, (*n - i - 1) * sizeof *g);
		for (k = 0; k < sub.nlist; k++) {
			const char *f = own_file(t, sub.list[k].file);

			g[i + k] = sub.list[k];
			g[i + k].file = f != NULL ? f : inc.file;  /* no memory: less precise */
			sub.list[k].text = NULL;      /* moved */
		}
		*n += sub.nlist;
		*n -= 1;
		i += sub.nlist;
		free(inc.text);
		addrtab_free(&sub);
	}
	return 0;
}

int addrtab_load(struct addrtab *t, enum addrtab_format fmt, const char *path,
                 char *err, size_t errlen)
{
	size_t i;

	if (load_file(t, fmt, path, err, errlen) < 0)
		return -1;
	for (i = 0; i < t->n; i++)
		if (expand_includes(t, &t->e[i].t, &t->e[i].nt, 0, err, errlen) < 0)
			return -1;
	return addrtab_finish(t, err, errlen);
}

const struct addrtab_entry *addrtab_find(const struct addrtab *t, const char *key)
{
	struct addrtab_entry want;
	char buf[ADDR_MAX + 2];

	if (t->n == 0 || strlen(key) >= sizeof buf)
		return NULL;
	strcpy(buf, key);
	want.key = lower(buf);
	return bsearch(&want, t->e, t->n, sizeof *t->e, cmp_entry);
}

const char *addrtab_kind_text(enum addrtab_kind k)
{
	switch (k) {
	case ADDRTAB_ADDR: return "address";
	case ADDRTAB_MAILBOX: return "mailbox";
	case ADDRTAB_INCLUDE: return "include";
	case ADDRTAB_PIPE: return "pipe";
	case ADDRTAB_FILE: return "file";
	}
	return "?";
}
