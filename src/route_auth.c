/* route_auth.c - a smarthost's credentials file; see route_auth.h */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "route_auth.h"

enum { ROUTE_AUTH_FILE_MAX = 8192 };

/* owner_uid - the uid the daemon runs as: --user's, else ours; 0 or -1 */
static int owner_uid(const struct config *cfg, uid_t *uid, char *err,
                     size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (cfg->user == NULL) {
		*uid = geteuid();
		return 0;
	}
	if (getpwnam_r(cfg->user, &pw, buf, sizeof buf, &res) != 0 || res == NULL) {
		snprintf(err, errlen, "route credentials: no user %s", cfg->user);
		return -1;
	}
	*uid = pw.pw_uid;
	return 0;
}

/* printable - no control characters in s[0..n) */
static int printable(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 32 || s[i] == 127)
			return 0;
	return 1;
}

/* parse - the file's text into r; 0, or -1 with err (a line number, never
 * a secret) */
static int parse(struct route *r, char *text, const char *path, char *err,
                 size_t errlen)
{
	int have_user = 0, have_pass = 0, lineno = 0;
	char *line = text, *next;

	for (; line != NULL && *line != '\0'; line = next) {
		size_t n;

		lineno++;
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		n = strlen(line);
		if (n > 0 && line[n - 1] == '\r')
			line[--n] = '\0';
		if (n == 0 || line[0] == '#')
			continue;
		if (strncmp(line, "user ", 5) == 0 && !have_user && n - 5 > 0 &&
		    n - 5 < sizeof r->auth_user && printable(line + 5, n - 5)) {
			memcpy(r->auth_user, line + 5, n - 5 + 1);
			have_user = 1;
		} else if (strncmp(line, "password ", 9) == 0 && !have_pass &&
		           n - 9 > 0 && n - 9 < sizeof r->auth_pass &&
		           printable(line + 9, n - 9)) {
			memcpy(r->auth_pass, line + 9, n - 9 + 1);
			have_pass = 1;
		} else {
			snprintf(err, errlen, "route credentials %s: line %d: want "
			         "\"user NAME\" or \"password SECRET\" (once each, "
			         "printable, NAME up to %zu octets, SECRET up to %zu)",
			         path, lineno, sizeof r->auth_user - 1,
			         sizeof r->auth_pass - 1);
			return -1;
		}
	}
	if (!have_user || !have_pass) {
		snprintf(err, errlen, "route credentials %s: no %s line", path,
		         have_user ? "password" : "user");
		return -1;
	}
	return 0;
}

/* load_one - r's file into r; 0 or -1 with err */
static int load_one(struct route *r, uid_t uid, char *err, size_t errlen)
{
	char text[ROUTE_AUTH_FILE_MAX + 1], eb[96];
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd, rc = -1;

	fd = open(r->auth_file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		snprintf(err, errlen, "route credentials %s: %s", r->auth_file,
		         strerror_r(errno, eb, sizeof eb));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "route credentials %s: not a regular file",
		         r->auth_file);
		goto out;
	}
	if (st.st_uid != uid) {
		snprintf(err, errlen, "route credentials %s: owned by uid %u, not "
		         "by the daemon's user (uid %u)", r->auth_file,
		         (unsigned)st.st_uid, (unsigned)uid);
		goto out;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "route credentials %s: mode %04o: others may "
		         "read it; want 0600 (chmod 600)", r->auth_file,
		         (unsigned)(st.st_mode & 07777));
		goto out;
	}
	while (len < sizeof text - 1 &&
	       (n = read(fd, text + len, sizeof text - 1 - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			snprintf(err, errlen, "route credentials %s: %s", r->auth_file,
			         strerror_r(errno, eb, sizeof eb));
			goto out;
		}
		len += (size_t)n;
	}
	if (len >= sizeof text - 1) {
		snprintf(err, errlen, "route credentials %s: over %d bytes",
		         r->auth_file, ROUTE_AUTH_FILE_MAX - 1);
		goto out;
	}
	text[len] = '\0';
	if (memchr(text, '\0', len) != NULL) {
		snprintf(err, errlen, "route credentials %s: a NUL byte", r->auth_file);
		goto out;
	}
	rc = parse(r, text, r->auth_file, err, errlen);
out:
	explicit_bzero(text, sizeof text);
	close(fd);
	return rc;
}

/* route_auth_load - every route's credentials */
int route_auth_load(struct config *cfg, char *err, size_t errlen)
{
	uid_t uid;
	size_t i;

	for (i = 0; i < cfg->nroutes; i++) {
		struct route *r = &cfg->routes[i];

		if (r->auth_file[0] == '\0')
			continue;
		if (owner_uid(cfg, &uid, err, errlen) < 0 ||
		    load_one(r, uid, err, errlen) < 0) {
			explicit_bzero(r->auth_pass, sizeof r->auth_pass);
			return -1;
		}
	}
	return 0;
}
