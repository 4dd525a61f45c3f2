/* authdb.c - the --users file: parse, verify with crypt_rn, senders;
 * see authdb.h */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "authdb.h"

/* the largest --users file read (a million logins fit) */
enum { AUTHDB_FILE_MAX = 256 * 1024 * 1024 };

struct authdb_entry {
	char *login;
	char *hash;
	char **senders;             /* "user@domain" or "@domain" */
	size_t nsenders;
	unsigned line;              /* in the file, for errors */
};

struct authdb {
	struct authdb_entry *e;     /* sorted by login (strcmp) */
	size_t n;
};

/* fail - "name:line: why" into err; always -1 */
static int fail(char *err, size_t errlen, const char *name, unsigned line,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int fail(char *err, size_t errlen, const char *name, unsigned line,
                const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(err, errlen, "%s:%u: ", name, line);

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < errlen)
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* entry_free - one entry's strings */
static void entry_free(struct authdb_entry *e)
{
	size_t i;

	free(e->login);
	if (e->hash)
		explicit_bzero(e->hash, strlen(e->hash));
	free(e->hash);
	for (i = 0; i < e->nsenders; i++)
		free(e->senders[i]);
	free(e->senders);
}

/* authdb_free - everything */
void authdb_free(struct authdb *db)
{
	size_t i;

	if (db == NULL)
		return;
	for (i = 0; i < db->n; i++)
		entry_free(&db->e[i]);
	free(db->e);
	free(db);
}

/* authdb_count - logins */
size_t authdb_count(const struct authdb *db)
{
	return db ? db->n : 0;
}

/* login_valid - printable ASCII, no ':' and no white space */
static int login_valid(const char *p, size_t n)
{
	size_t i;

	if (n == 0 || n >= 256)
		return 0;
	for (i = 0; i < n; i++)
		if (p[i] <= ' ' || p[i] > '~' || p[i] == ':')
			return 0;
	return 1;
}

/* hash_valid - a crypt(3) "$id$..." hash, or a locked one ('!' or '*'
 * first); the characters crypt writes only */
static int hash_valid(const char *p, size_t n)
{
	size_t i;

	if (n == 0)
		return 0;
	if (p[0] == '!' || p[0] == '*')
		return 1;
	if (p[0] != '$' || n < 4)
		return 0;
	for (i = 0; i < n; i++)
		if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
		      (p[i] >= '0' && p[i] <= '9') || strchr("$./=,+-", p[i])))
			return 0;
	return 1;
}

/* sender_valid - "user@domain" (a valid mailbox) or "@domain" */
static int sender_valid(const char *p, size_t n)
{
	char path[ADDR_MAX + 2];
	struct mailbox mb;
	size_t used;

	if (n > 0 && p[0] == '@')
		return addr_domain_valid(p + 1, n - 1);
	if (n + 2 >= sizeof path)
		return 0;
	path[0] = '<';
	memcpy(path + 1, p, n);
	path[n + 1] = '>';
	return addr_parse_path(path, n + 2, &mb, &used, 0, 0) == ADDR_OK &&
	       used == n + 2 && !mb.literal;
}

/* dupn - a NUL-terminated copy of p[0..n), or NULL */
static char *dupn(const char *p, size_t n)
{
	char *c = malloc(n + 1);

	if (c) {
		memcpy(c, p, n);
		c[n] = '\0';
	}
	return c;
}

/* parse_senders - the comma-separated list p[0..n) into e */
static int parse_senders(struct authdb_entry *e, const char *p, size_t n,
                         const char *name, unsigned line, char *err, size_t errlen)
{
	const char *end = p + n;

	while (p <= end) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		size_t k = (c ? c : end) - p;
		char **grown;

		while (k > 0 && (*p == ' ' || *p == '\t'))
			p++, k--;
		while (k > 0 && (p[k - 1] == ' ' || p[k - 1] == '\t'))
			k--;
		if (k == 0 || !sender_valid(p, k))
			return fail(err, errlen, name, line, "bad sender '%.*s' (want "
			            "user@domain or @domain)", (int)(k > 80 ? 80 : k), p);
		grown = realloc(e->senders, (e->nsenders + 1) * sizeof *grown);
		if (grown == NULL)
			return fail(err, errlen, name, line, "out of memory");
		e->senders = grown;
		if ((e->senders[e->nsenders] = dupn(p, k)) == NULL)
			return fail(err, errlen, name, line, "out of memory");
		e->nsenders++;
		if (c == NULL)
			break;
		p = c + 1;
	}
	return 0;
}

/* parse_line - one "login:hash[:senders]" line into e */
static int parse_line(struct authdb_entry *e, const char *p, size_t n,
                      const char *name, unsigned line, char *err, size_t errlen)
{
	const char *c1 = memchr(p, ':', n), *c2;
	size_t hl;

	if (c1 == NULL)
		return fail(err, errlen, name, line, "want login:hash[:senders]");
	if (!login_valid(p, (size_t)(c1 - p)))
		return fail(err, errlen, name, line, "bad login (printable, no "
		            "white space, at most 255 octets)");
	c2 = memchr(c1 + 1, ':', (size_t)(p + n - c1 - 1));
	hl = (size_t)((c2 ? c2 : p + n) - c1 - 1);
	if (!hash_valid(c1 + 1, hl))
		return fail(err, errlen, name, line, "bad password hash (want a "
		            "crypt(3) hash such as mta-passwd writes)");
	if ((e->login = dupn(p, (size_t)(c1 - p))) == NULL ||
	    (e->hash = dupn(c1 + 1, hl)) == NULL)
		return fail(err, errlen, name, line, "out of memory");
	if (c2 != NULL)
		return parse_senders(e, c2 + 1, (size_t)(p + n - c2 - 1), name, line,
		                     err, errlen);
	return 0;
}

static int by_login(const void *a, const void *b)
{
	return strcmp(((const struct authdb_entry *)a)->login,
	              ((const struct authdb_entry *)b)->login);
}

/* authdb_parse - the whole text */
int authdb_parse(struct authdb **dbp, const char *name, const char *text,
                 size_t len, char *err, size_t errlen)
{
	struct authdb *db = calloc(1, sizeof *db);
	const char *p = text, *end = text + len;
	unsigned line = 0;
	size_t cap = 0, i;

	if (db == NULL)
		return fail(err, errlen, name, 0, "out of memory");
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		const char *q = p;

		line++;
		p += n + (nl != NULL);
		if (n > 0 && q[n - 1] == '\r')
			n--;
		while (n > 0 && (q[n - 1] == ' ' || q[n - 1] == '\t'))
			n--;
		if (n == 0 || q[0] == '#')
			continue;
		if (memchr(q, '\0', n) != NULL) {
			fail(err, errlen, name, line, "NUL in the line");
			goto bad;
		}
		if (db->n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct authdb_entry *g = realloc(db->e, ncap * sizeof *g);

			if (g == NULL) {
				fail(err, errlen, name, line, "out of memory");
				goto bad;
			}
			db->e = g;
			cap = ncap;
		}
		memset(&db->e[db->n], 0, sizeof db->e[db->n]);
		db->e[db->n].line = line;
		db->n++;
		if (parse_line(&db->e[db->n - 1], q, n, name, line, err, errlen) < 0)
			goto bad;
	}
	qsort(db->e, db->n, sizeof *db->e, by_login);
	for (i = 1; i < db->n; i++)
		if (strcmp(db->e[i - 1].login, db->e[i].login) == 0) {
			unsigned a = db->e[i - 1].line, b = db->e[i].line;

			fail(err, errlen, name, a > b ? a : b, "login %s already on "
			     "line %u", db->e[i].login, a < b ? a : b);
			goto bad;
		}
	*dbp = db;
	return 0;
bad:
	authdb_free(db);
	return -1;
}

/* authdb_load - read the file, then parse it */
int authdb_load(struct authdb **db, const char *path, char *err, size_t errlen)
{
	struct stat st;
	char *text;
	ssize_t r;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > AUTHDB_FILE_MAX) {
		snprintf(err, errlen, "%s: not a regular file of at most %d octets",
		         path, AUTHDB_FILE_MAX);
		close(fd);
		return -1;
	}
	if ((text = malloc((size_t)st.st_size + 1)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		close(fd);
		return -1;
	}
	while (got < (size_t)st.st_size &&
	       (r = read(fd, text + got, (size_t)st.st_size - got)) != 0) {
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			close(fd);
			free(text);
			return -1;
		}
		got += (size_t)r;
	}
	close(fd);
	rc = authdb_parse(db, path, text, got, err, errlen);
	explicit_bzero(text, got);
	free(text);
	return rc;
}

/* find - the entry of login, or NULL */
static const struct authdb_entry *find(const struct authdb *db, const char *login)
{
	struct authdb_entry key = { .login = (char *)(uintptr_t)login };

	if (db == NULL || db->n == 0)
		return NULL;
	return bsearch(&key, db->e, db->n, sizeof *db->e, by_login);
}

/* same - constant-time comparison of two strings of which a is the
 * secret-dependent one */
static int same(const char *a, const char *b)
{
	size_t na = strlen(a), nb = strlen(b), i;
	unsigned char d = na != nb;

	for (i = 0; i < na && i < nb; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

/* authdb_verify - crypt_rn with this call's own crypt_data */
enum authdb_result authdb_verify(const struct authdb *db, const char *login,
                                 const char *password)
{
	const struct authdb_entry *e = find(db, login);
	const char *hash;
	struct crypt_data *cd;
	const char *out;
	enum authdb_result r;

	if (db == NULL || db->n == 0)
		return AUTHDB_BAD;
	/* an unknown or locked login costs a hash as well (the first
	 * usable one), so the time taken tells nothing */
	hash = e ? e->hash : db->e[0].hash;
	if (hash[0] == '!' || hash[0] == '*') {
		size_t i;

		for (i = 0; i < db->n && db->e[i].hash[0] != '$'; i++)
			;
		hash = i < db->n ? db->e[i].hash : NULL;
		e = NULL;
	}
	if (hash == NULL)
		return AUTHDB_BAD;
	/* ~32 KiB: too large for a connection thread's stack */
	if ((cd = calloc(1, sizeof *cd)) == NULL)
		return AUTHDB_TEMP;
	errno = 0;
	out = crypt_rn(password, hash, cd, (int)sizeof *cd);
	if (out == NULL)
		r = errno == ENOMEM ? AUTHDB_TEMP : AUTHDB_BAD;
	else
		r = e != NULL && out[0] != '*' && same(out, hash) ? AUTHDB_OK : AUTHDB_BAD;
	explicit_bzero(cd, sizeof *cd);
	free(cd);
	return r;
}

/* authdb_sender_ok - the login itself, or its line's senders */
int authdb_sender_ok(const struct authdb *db, const char *login,
                     const struct mailbox *sender)
{
	const struct authdb_entry *e;
	const char *dom = addr_domain(sender);
	size_t i;

	if (strchr(login, '@') != NULL && strcasecmp(login, sender->text) == 0)
		return 1;
	if ((e = find(db, login)) == NULL)
		return 0;
	for (i = 0; i < e->nsenders; i++) {
		const char *s = e->senders[i];

		if (s[0] == '@' ? sender->at > 0 && strcasecmp(s + 1, dom) == 0
		                : strcasecmp(s, sender->text) == 0)
			return 1;
	}
	return 0;
}
