/* sysuser.c - system accounts as mailboxes; see sysuser.h */
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sysuser.h"

/* sysuser_account - postmaster is root's */
const char *sysuser_account(const char *name)
{
	return strcmp(name, "postmaster") == 0 ? "root" : name;
}

/* sysuser_lookup_status - what getpwnam_r's answer means for mail.
 * POSIX says "not found" is 0 with no entry.  Some NSS modules are said
 * to answer ENOENT or ESRCH instead, but the same numbers also come from
 * services that are down; a temporary answer only delays mail, a wrong
 * permanent one bounces it, so only the POSIX answer is "not found". */
struct status sysuser_lookup_status(const char *name, int err, int found)
{
	char ebuf[128];

	if (err == 0 && found)
		return status_ok();
	if (err == 0)
		return status_make(ST_PERM, 1, 1, "No such user here");
	return status_make(ST_TEMP, 3, 0, "Cannot look up user %s now: %s", name,
	                   strerror_r(err, ebuf, sizeof ebuf));
}

/* sysuser_may_receive - root, or a login account from uid_min up */
int sysuser_may_receive(uid_t uid, const char *shell, unsigned long uid_min)
{
	const char *base;

	if (uid == 0)
		return 1;
	if ((unsigned long)uid < uid_min)
		return 0;
	if (shell == NULL || shell[0] == '\0')
		return 1;             /* passwd(5): an empty shell is /bin/sh */
	base = strrchr(shell, '/');
	base = base != NULL ? base + 1 : shell;
	return strcmp(base, "nologin") != 0 && strcmp(base, "false") != 0;
}

/* sysuser_uid_min - "UID_MIN <decimal>" from login.defs */
int sysuser_uid_min(const char *path, unsigned long *vp)
{
	unsigned long v = SYSUSER_UID_MIN, n;
	char line[512], *p, *end;
	FILE *f = fopen(path, "re");
	int e;

	/* Only a file that is not there means the default: any other failure
	 * (EMFILE, EIO, EACCES) could hide a lower UID_MIN, and the default
	 * would then refuse a user for good who receives mail. */
	if (f == NULL) {
		if (errno != ENOENT)
			return -1;
		*vp = v;
		return 0;
	}
	while (fgets(line, sizeof line, f) != NULL) {
		p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "UID_MIN", 7) != 0 || (p[7] != ' ' && p[7] != '\t'))
			continue;
		p += 7;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!isdigit((unsigned char)*p))
			continue;
		errno = 0;
		n = strtoul(p, &end, 10);
		while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			end++;
		if (errno == 0 && *end == '\0' && n <= (unsigned long)(uid_t)-1)
			v = n;             /* the last valid line wins, as in shadow */
	}
	if (ferror(f)) {
		e = errno != 0 ? errno : EIO;
		fclose(f);
		errno = e;
		return -1;
	}
	fclose(f);
	*vp = v;
	return 0;
}

/* sysuser_find - look up and judge one account */
struct status sysuser_find(const char *name, struct sysuser *u)
{
	struct passwd pw, *res = NULL;
	struct status st;
	unsigned long uid_min;
	char *buf = NULL, *nb;
	long hint = sysconf(_SC_GETPW_R_SIZE_MAX);
	size_t len = (hint > 0 && hint < SYSUSER_BUF_MAX) ? (size_t)hint
	                                                  : SYSUSER_BUF_MIN;
	int r;

	if (u != NULL)
		u->home = NULL;
	for (;;) {
		nb = realloc(buf, len);
		if (nb == NULL) {
			st = sysuser_lookup_status(name, ENOMEM, 0);
			goto out;
		}
		buf = nb;
		res = NULL;
		r = getpwnam_r(name, &pw, buf, len, &res);
		if (r != ERANGE || len >= SYSUSER_BUF_MAX)
			break;
		len *= 2;
	}
	st = sysuser_lookup_status(name, r, res != NULL);
	if (st.kind != ST_OK)
		goto out;
	if (sysuser_uid_min(SYSUSER_LOGIN_DEFS, &uid_min) < 0) {
		st = status_make(ST_TEMP, 3, 0, "Cannot read %s: %s",
		                 SYSUSER_LOGIN_DEFS, strerror(errno));
		goto out;
	}
	if (!sysuser_may_receive(pw.pw_uid, pw.pw_shell, uid_min)) {
		st = status_make(ST_PERM, 1, 1, "No such user here");
		goto out;
	}
	if (u == NULL)
		goto out;
	u->uid = pw.pw_uid;
	u->gid = pw.pw_gid;
	if (pw.pw_dir != NULL && (u->home = strdup(pw.pw_dir)) == NULL)
		st = sysuser_lookup_status(name, ENOMEM, 0);
out:
	free(buf);
	return st;
}

/* sysuser_free - the home directory */
void sysuser_free(struct sysuser *u)
{
	free(u->home);
	u->home = NULL;
}
