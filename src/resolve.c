/* resolve.c - recipient addresses to mailboxes and remote addresses;
 * see resolve.h */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "envelope.h"
#include "resolve.h"

/* one resolution in progress */
struct walk {
	const struct resolve_params *p;
	struct resolve_result *r;
	char path[RESOLVE_DEPTH_MAX][ADDR_MAX];   /* the chain being expanded */
	unsigned depth;
	char **seen;                 /* every address expanded so far */
	size_t nseen, seencap;
	struct status first;         /* the first reason a branch was dropped */
	struct status temp;          /* a temporary failure, if any */
	int oom;
	int too_many;                /* over RESOLVE_FINAL_MAX: stop */
};

/* ---- the tables ---- */

/* cmp_str - for qsort and bsearch of string arrays */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* virtual_domains - the sorted, distinct domains of the virtual keys */
static int virtual_domains(struct resolve_tables *t)
{
	size_t i, k = 0;

	if (t->virt.n == 0)
		return 0;
	t->vdomains = calloc(t->virt.n, sizeof *t->vdomains);
	if (t->vdomains == NULL)
		return -1;
	for (i = 0; i < t->virt.n; i++) {
		const char *at = strrchr(t->virt.e[i].key, '@');

		if ((t->vdomains[t->nvdomains] = strdup(at + 1)) == NULL)
			return -1;
		t->nvdomains++;
	}
	qsort(t->vdomains, t->nvdomains, sizeof *t->vdomains, cmp_str);
	for (i = 0; i < t->nvdomains; i++) {
		if (k > 0 && strcmp(t->vdomains[k - 1], t->vdomains[i]) == 0)
			free(t->vdomains[i]);
		else
			t->vdomains[k++] = t->vdomains[i];
	}
	t->nvdomains = k;
	return 0;
}

/* warn_refused - every pipe and file target of tab, to warn */
static void warn_refused(const struct addrtab *tab,
                         void (*warn)(void *ctx, const char *text), void *ctx)
{
	char text[600];
	size_t i, k;

	for (i = 0; warn != NULL && i < tab->n; i++)
		for (k = 0; k < tab->e[i].nt; k++) {
			const struct addrtab_target *g = &tab->e[i].t[k];

			if (g->kind != ADDRTAB_PIPE && g->kind != ADDRTAB_FILE)
				continue;
			snprintf(text, sizeof text, "%s:%u: target '%.300s' of '%s' "
			         "refused: mta never %s", g->file, g->line, g->text,
			         tab->e[i].key, g->kind == ADDRTAB_PIPE
			         ? "runs programs" : "writes to files a table names");
			warn(ctx, text);
		}
}

int resolve_tables_load(struct resolve_tables **out, const char *aliases,
                        const char *virt, const char *users,
                        void (*warn)(void *ctx, const char *text), void *ctx,
                        char *err, size_t errlen)
{
	struct resolve_tables *t = calloc(1, sizeof *t);

	*out = NULL;
	if (t == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	addrtab_init(&t->aliases);
	addrtab_init(&t->virt);
	addrtab_init(&t->users);
	if ((aliases && addrtab_load(&t->aliases, ADDRTAB_ALIASES, aliases, err, errlen) < 0) ||
	    (virt && addrtab_load(&t->virt, ADDRTAB_VIRTUAL, virt, err, errlen) < 0) ||
	    (users && addrtab_load(&t->users, ADDRTAB_USERS, users, err, errlen) < 0))
		goto fail;
	t->have_aliases = aliases != NULL;
	t->have_virtual = virt != NULL;
	t->have_users = users != NULL;
	if (virtual_domains(t) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	warn_refused(&t->aliases, warn, ctx);
	warn_refused(&t->virt, warn, ctx);
	*out = t;
	return 0;
fail:
	resolve_tables_free(t);
	return -1;
}

void resolve_tables_free(struct resolve_tables *t)
{
	size_t i;

	if (t == NULL)
		return;
	addrtab_free(&t->aliases);
	addrtab_free(&t->virt);
	addrtab_free(&t->users);
	for (i = 0; i < t->nvdomains; i++)
		free(t->vdomains[i]);
	free(t->vdomains);
	free(t);
}

int resolve_is_virtual(const struct resolve_tables *t, const char *domain)
{
	char buf[ADDR_MAX], *key = buf;
	size_t i;

	if (t == NULL || t->nvdomains == 0 || strlen(domain) >= sizeof buf)
		return 0;
	for (i = 0; domain[i]; i++)
		buf[i] = (char)tolower((unsigned char)domain[i]);
	buf[i] = '\0';
	return bsearch(&key, t->vdomains, t->nvdomains, sizeof *t->vdomains,
	               cmp_str) != NULL;
}

int resolve_user_listed(const struct resolve_tables *t, const char *name)
{
	return t != NULL && addrtab_find(&t->users, name) != NULL;
}

/* ---- the result ---- */

void resolve_result_free(struct resolve_result *r)
{
	free(r->t);
	free(r->why);
	r->t = NULL;
	r->why = NULL;
	r->n = r->cap = r->whylen = r->whycap = 0;
}

/* note - one line of the explanation, indented by the depth */
static void note(struct walk *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void note(struct walk *w, const char *fmt, ...)
{
	struct resolve_result *r = w->r;
	char line[800];
	va_list ap;
	int n = snprintf(line, sizeof line, "%*s", w->depth > 0 ? (int)(2 * (w->depth - 1)) : 0, "");

	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	n = (int)strlen(line);
	if (r->whylen + (size_t)n + 2 > r->whycap) {
		size_t cap = r->whycap ? r->whycap * 2 : 1024;
		char *g;

		while (cap < r->whylen + (size_t)n + 2)
			cap *= 2;
		if ((g = realloc(r->why, cap)) == NULL) {
			w->oom = 1;
			return;
		}
		r->why = g;
		r->whycap = cap;
	}
	memcpy(r->why + r->whylen, line, (size_t)n);
	r->whylen += (size_t)n;
	r->why[r->whylen++] = '\n';
	r->why[r->whylen] = '\0';
}

/* drop - a branch that delivers nothing, and why */
static void drop(struct walk *w, struct status st)
{
	w->r->dropped++;
	if (w->first.kind == ST_OK)
		w->first = st;
}

/* final - one final target (a duplicate is noted and skipped) */
static void final(struct walk *w, enum resolve_kind kind, const char *text)
{
	struct resolve_result *r = w->r;
	struct resolve_target x;
	size_t i;

	x.kind = kind;
	if (mailbox_from_text(&x.addr, text, strlen(text)) < 0) {
		drop(w, status_make(ST_PERM, 1, 3, "Address too long"));
		return;
	}
	/* linear, but over at most RESOLVE_FINAL_MAX targets */
	for (i = 0; i < r->n; i++)
		if (strcmp(r->t[i].addr.text, text) == 0) {
			note(w, "%s: the same again, one copy", text);
			return;
		}
	if (r->n >= RESOLVE_FINAL_MAX) {
		note(w, "%s: more than %d final targets: refused", text,
		     RESOLVE_FINAL_MAX);
		w->too_many = 1;
		return;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 4;
		struct resolve_target *g = realloc(r->t, cap * sizeof *g);

		if (g == NULL) {
			w->oom = 1;
			return;
		}
		r->t = g;
		r->cap = cap;
	}
	r->t[r->n++] = x;
	note(w, "%s: %s", text, kind == RESOLVE_LOCAL ? "local mailbox"
	     : kind == RESOLVE_VIRTUAL ? "virtual mailbox" : "remote address");
}

/* final_at - the final target local@domain, the local part quoted when
 * it is no dot-string (RFC 5321 4.1.2), as the queue stores addresses */
static void final_at(struct walk *w, enum resolve_kind kind, const char *local,
                     const char *domain)
{
	static const char atext[] = "!#$%&'*+-/=?^_`{|}~";
	char text[2 * ADDR_MAX + 4], *p = text;
	int dot_string = local[0] != '\0' && local[0] != '.';
	size_t i, n = strlen(local);

	for (i = 0; i < n && dot_string; i++)
		if (!isalnum((unsigned char)local[i]) && strchr(atext, local[i]) == NULL &&
		    !(local[i] == '.' && local[i + 1] != '.' && local[i + 1] != '\0'))
			dot_string = 0;
	if (!dot_string)
		*p++ = '"';
	for (i = 0; i < n && p < text + ADDR_MAX; i++) {
		if (!dot_string && (local[i] == '"' || local[i] == '\\'))
			*p++ = '\\';
		*p++ = local[i];
	}
	if (!dot_string)
		*p++ = '"';
	if ((size_t)snprintf(p, sizeof text - (size_t)(p - text), "@%s", domain) >=
	    sizeof text - (size_t)(p - text) || strlen(text) >= ADDR_MAX) {
		drop(w, status_make(ST_PERM, 1, 3, "Address too long"));
		return;
	}
	final(w, kind, text);
}

/* ---- the walk ---- */

static void expand(struct walk *w, const char *text);

/* base_of - name without its subaddress ("bob+tag" -> "bob") into buf; 0
 * when name has none (no delimiter, or it comes first) */
static int base_of(const struct walk *w, const char *name, char *buf, size_t len)
{
	const char *d;

	if (w->p->delimiter == '\0' || (d = strchr(name, w->p->delimiter)) == NULL ||
	    d == name || (size_t)(d - name) >= len)
		return 0;
	memcpy(buf, name, (size_t)(d - name));
	buf[d - name] = '\0';
	return 1;
}

/* mailbox - the local mailbox name, if it may receive mail */
static void mailbox(struct walk *w, const char *name)
{
	struct status st = status_ok();

	if (w->p->user_known != NULL)
		st = w->p->user_known(w->p->ctx, name);
	if (st.kind == ST_TEMP) {
		note(w, "%s: cannot tell now: %s", name, st.text);
		w->temp = st;
		return;
	}
	if (st.kind == ST_PERM) {
		note(w, "%s: no such mailbox: %s", name, st.text);
		drop(w, st);
		return;
	}
	final_at(w, RESOLVE_LOCAL, name, w->p->home_domain);
}

/* targets - each target of a table entry (or a list); a bare name is
 * a local name */
static void targets(struct walk *w, const struct addrtab_target *t, size_t n)
{
	char text[ADDR_MAX + 8];
	size_t i;

	for (i = 0; i < n; i++) {
		const struct addrtab_target *g = &t[i];

		switch (g->kind) {
		case ADDRTAB_PIPE:
		case ADDRTAB_FILE:
		case ADDRTAB_INCLUDE:
			note(w, "%s: refused (%s:%u): mta never %s", g->text, g->file,
			     g->line, g->kind == ADDRTAB_PIPE ? "runs programs"
			     : "writes to files a table names");
			drop(w, status_make(ST_PERM, 7, 1, "Delivery to programs or "
			                    "files is refused here"));
			break;
		case ADDRTAB_MAILBOX:
			mailbox(w, g->text);
			break;
		case ADDRTAB_ADDR:
			if (strchr(g->text, '@') != NULL) {
				expand(w, g->text);
			} else {
				snprintf(text, sizeof text, "%s@%s", g->text,
				         w->p->home_domain);
				expand(w, text);
			}
			break;
		}
	}
}

/* builtin - the built-in aliases, for names no table has */
static const char *builtin(const struct walk *w, const char *name)
{
	if (strcmp(name, "postmaster") == 0 || strcmp(name, "abuse") == 0 ||
	    strcmp(name, "mailer-daemon") == 0)
		return "root";
	if (strcmp(name, "root") == 0 && w->p->root_alias && w->p->root_alias[0])
		return w->p->root_alias;
	return NULL;
}

/* local_name - name in a local domain */
static void local_name(struct walk *w, const char *name)
{
	const struct resolve_tables *tab = w->p->tables;
	const struct addrtab_entry *e = NULL;
	const char *use = name, *b;
	char base[ADDR_MAX];
	struct addrtab fwd;
	struct status st;

	if (tab != NULL)
		e = addrtab_find(&tab->aliases, name);
	if (e == NULL && base_of(w, name, base, sizeof base)) {
		use = base;
		note(w, "%s: subaddress of %s", name, use);
		if (tab != NULL)
			e = addrtab_find(&tab->aliases, base);
	}
	if (e != NULL) {
		note(w, "%s: alias (%s:%u)", use, e->file, e->line);
		targets(w, e->t, e->nt);
		return;
	}
	if ((b = builtin(w, use)) != NULL) {
		struct addrtab_target g = { ADDRTAB_ADDR, (char *)(uintptr_t)b,
		                            "built in", 0 };

		note(w, "%s: built-in alias of %s", use, b);
		targets(w, &g, 1);
		return;
	}
	if (w->p->forward != NULL) {
		addrtab_init(&fwd);
		st = w->p->forward(w->p->ctx, use, &fwd);
		if (st.kind == ST_TEMP) {
			note(w, "%s: cannot read its .forward: %s", use, st.text);
			w->temp = st;
		} else if (st.kind == ST_OK && fwd.nlist > 0) {
			note(w, "%s: forwarded (%s)", use, fwd.list[0].file);
			targets(w, fwd.list, fwd.nlist);
			addrtab_free(&fwd);
			return;
		} else if (st.kind == ST_PERM) {
			note(w, "%s: its .forward ignored: %s", use, st.text);
		}
		addrtab_free(&fwd);
		if (st.kind == ST_TEMP)
			return;
	}
	mailbox(w, use);
}

/* virtual_addr - user@domain in a virtual domain */
static void virtual_addr(struct walk *w, const char *user, const char *domain)
{
	const struct addrtab *virt = &w->p->tables->virt;
	const struct addrtab_entry *e;
	char key[ADDR_MAX + 8], base[ADDR_MAX];

	if ((size_t)snprintf(key, sizeof key, "%s@%s", user, domain) >= sizeof key) {
		drop(w, status_make(ST_PERM, 1, 3, "Address too long"));
		return;
	}
	e = addrtab_find(virt, key);
	if (e == NULL && base_of(w, user, base, sizeof base)) {
		note(w, "%s: subaddress of %s@%s", key, base, domain);
		if ((size_t)snprintf(key, sizeof key, "%s@%s", base, domain) < sizeof key)
			e = addrtab_find(virt, key);
	}
	if (e == NULL) {
		if ((size_t)snprintf(base, sizeof base, "@%s", domain) >= sizeof base ||
		    (e = addrtab_find(virt, base)) == NULL) {
			note(w, "%s: no such address in the virtual table", key);
			drop(w, status_make(ST_PERM, 1, 1, "No such user here"));
			return;
		}
	}
	note(w, "%s: virtual (%s:%u%s)", key, e->file, e->line,
	     e->key[0] == '@' ? ", catch-all" : "");
	targets(w, e->t, e->nt);
}

/* lower_copy - s in lower case into buf */
static void lower_copy(char *buf, const char *s)
{
	while (*s)
		*buf++ = (char)tolower((unsigned char)*s++);
	*buf = '\0';
}

/* expand - one address: a local name, a virtual or a remote address */
static void expand(struct walk *w, const char *text)
{
	struct mailbox mb;
	char key[ADDR_MAX], local[ADDR_MAX], domain[ADDR_MAX];
	size_t i;
	int is_local, is_virtual;

	if (w->too_many)
		return;          /* refused whole: the rest costs nothing */
	if (mailbox_from_text(&mb, text, strlen(text)) < 0) {
		drop(w, status_make(ST_PERM, 1, 3, "Address too long"));
		return;
	}
	lower_copy(domain, addr_domain(&mb));
	is_local = mb.at == 0 || w->p->is_local(w->p->ctx, &mb);
	is_virtual = !is_local && resolve_is_virtual(w->p->tables, domain);
	if (mb.at == 0)
		snprintf(local, sizeof local, "%s", mb.text);
	else if (addr_local(&mb, local, sizeof local) < 0)
		local[0] = '\0';
	if (is_local || is_virtual)
		lower_copy(local, local);
	if (!is_local && !is_virtual) {
		w->depth++;        /* a line of its own, as a local name's */
		if ((size_t)snprintf(key, sizeof key, "%.*s@%s", (int)mb.at, mb.text,
		                     domain) < sizeof key)
			final(w, RESOLVE_REMOTE, key);
		w->depth--;
		return;
	}
	/* a local name is the same at every local domain */
	if ((size_t)snprintf(key, sizeof key, "%s@%s", local,
	                     is_local ? w->p->home_domain : domain) >= sizeof key) {
		drop(w, status_make(ST_PERM, 1, 3, "Address too long"));
		return;
	}
	/* the address its own target: its mailbox (aliases(5), virtual(5)) */
	if (w->depth > 0 && strcmp(w->path[w->depth - 1], key) == 0) {
		if (is_virtual)
			final_at(w, RESOLVE_VIRTUAL, local, domain);
		else
			mailbox(w, local);
		return;
	}
	for (i = 0; i < w->depth; i++)
		if (strcmp(w->path[i], key) == 0) {
			note(w, "%s: a loop: dropped", key);
			drop(w, status_make(ST_PERM, 4, 6, "Alias loop"));
			return;
		}
	for (i = 0; i < w->nseen; i++)
		if (strcmp(w->seen[i], key) == 0) {
			note(w, "%s: expanded already, one copy", key);
			return;
		}
	if (w->depth >= RESOLVE_DEPTH_MAX || w->nseen >= RESOLVE_SEEN_MAX) {
		note(w, "%s: aliases nested too deep: dropped", key);
		drop(w, status_make(ST_PERM, 4, 6, "Aliases nested too deep"));
		return;
	}
	if (w->nseen == w->seencap) {
		size_t cap = w->seencap ? w->seencap * 2 : 8;
		char **g = realloc(w->seen, cap * sizeof *g);

		if (g == NULL) {
			w->oom = 1;
			return;
		}
		w->seen = g;
		w->seencap = cap;
	}
	if ((w->seen[w->nseen] = strdup(key)) == NULL) {
		w->oom = 1;
		return;
	}
	w->nseen++;
	strcpy(w->path[w->depth++], key);
	if (is_virtual)
		virtual_addr(w, local, domain);
	else if (local[0] == '\0')
		drop(w, status_make(ST_PERM, 1, 3, "Bad mailbox name"));
	else
		local_name(w, local);
	w->depth--;
}

struct status resolve(const struct resolve_params *p, const struct mailbox *rcpt,
                      struct resolve_result *r)
{
	struct walk w;
	size_t i;

	memset(r, 0, sizeof *r);
	memset(&w, 0, sizeof w);
	w.p = p;
	w.r = r;
	w.first = w.temp = status_ok();
	expand(&w, rcpt->text);
	for (i = 0; i < w.nseen; i++)
		free(w.seen[i]);
	free(w.seen);
	if (w.oom)
		r->st = status_make(ST_TEMP, 3, 0, "Out of memory");
	else if (w.temp.kind != ST_OK)
		r->st = status_make(ST_TEMP, 3, 0, "%s", w.temp.text);
	else if (w.too_many)
		r->st = status_make(ST_PERM, 5, 3, "Too many final recipients "
		                    "(more than %d)", RESOLVE_FINAL_MAX);
	else if (r->n > 0)
		r->st = status_ok();
	else if (w.first.kind != ST_OK)
		r->st = w.first;
	else
		r->st = status_make(ST_PERM, 1, 1, "No such user here");
	return r->st;
}
