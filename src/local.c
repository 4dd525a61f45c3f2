/* local.c - local_deliver(): find the mailbox (under the mail root, or in
 * a system user's home), open its directory without following symlinks
 * (or, for a Maildir, take the one this thread kept open when it is
 * still the path's: maildir_dirs.h), and hand the message to maildir.c
 * or mbox.c; see local.h.
 *
 * Where a message goes:
 *   default               MAILROOT/NAME/ (Maildir)
 *   --mbox                MAILROOT/NAME (mbox), MAILROOT/NAME.lock; a
 *                         NAME ending in .lock is no mailbox (ST_PERM)
 *   --system-users        ~NAME/Maildir/, created owned by NAME when we
 *                         run as root (as anyone else: owned by us)
 *   --mbox --system-users MAILROOT/NAME (mbox, like /var/mail/NAME); a
 *                         new mbox is owned by NAME when we run as root
 * With --system-users NAME must be an account that receives mail, and
 * postmaster is root (sysuser.h): RCPT decides the same way, and this
 * decides again for jobs queued before an account changed.
 * The mail root is created (0700) when missing; it and a home directory
 * are the administrator's, so a symlink there is followed.  Everything
 * below them is opened with O_NOFOLLOW.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable_dirs.h"
#include "local.h"
#include "queue.h"
#include "local_io.h"
#include "maildir.h"
#include "maildir_dirs.h"
#include "mbox.h"
#include "policy.h"
#include "sysuser.h"

enum {
	LOCK_SUFFIX = sizeof POLICY_LOCK_SUFFIX - 1   /* the mbox dotlock */
};

/* name_is_safe - one path component that stays in its directory.
 * policy_mailbox_name() already ensures this; checked again because a
 * mistake here would write outside the mail root. */
static int name_is_safe(const char *name)
{
	size_t n = strlen(name);

	return n > 0 && n + LOCK_SUFFIX <= NAME_MAX && name[0] != '.' &&
	       strchr(name, '/') == NULL;
}

/* find_user - the account behind mailbox name (sysuser.h: postmaster is
 * root's; only accounts that receive mail): its home (malloc'ed into
 * *home, when want_home) and, when we are root, the owner for what we
 * create */
static struct status find_user(const char *name, int want_home, char **home,
                               struct local_owner *own)
{
	const char *account = sysuser_account(name);
	struct sysuser u;
	struct status st;

	st = sysuser_find(account, &u);
	if (st.kind != ST_OK)
		return st;
	if (want_home && (u.home == NULL || u.home[0] != '/')) {
		st = status_make(ST_TEMP, 3, 0, "user %s has no home directory",
		                 account);
		sysuser_free(&u);
		return st;
	}
	*home = u.home;               /* ours now */
	/* Only root can give files away; anyone else keeps them. */
	own->chown = geteuid() == 0;
	own->uid = u.uid;
	own->gid = u.gid;
	return st;
}

/* open_root - open the mail root, creating it (0700) when missing; its
 * name is durable before anything is delivered into it, or a power cut
 * could take the root with messages the queue has forgotten.  A root
 * found there may have just been made by another delivery that has not
 * synced the directory above yet: unless it is known durable
 * (durable_dirs.h), that directory is synced now, once per process
 * (best effort when it cannot be opened: the administrator's). */
static int open_root(const char *path)
{
	struct durable_dir id;
	int fd, known;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 && errno != ENOENT)
		return fd;
	known = fd >= 0 && durable_dirs_id(fd, &id) == 0 && durable_dirs_known(&id);
	if (known)
		return fd;
	/* (mkdir of an existing root fails with EEXIST, and the directory
	 * above is synced all the same) */
	if (queue_mkdir_durable(path, 0700) < 0 && (fd < 0 || errno != EACCES)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (fd < 0)
		fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0 && durable_dirs_id(fd, &id) == 0)
		durable_dirs_note(&id);
	return fd;
}

/* our_host - the host name for Maildir file names */
static const char *our_host(const struct local_config *cfg, char *buf,
                            size_t len)
{
	if (cfg->hostname != NULL && cfg->hostname[0] != '\0')
		return cfg->hostname;
	if (gethostname(buf, len) < 0)
		return "localhost";
	buf[len - 1] = '\0';       /* gethostname may leave it unterminated */
	return buf;
}

/* open_mailboxes - the directory the mailboxes are in: the mail root,
 * or MAILROOT/DOMAIN for a virtual domain (made when missing); its
 * descriptor, or -1 with *st a temporary status */
static int open_mailboxes(const struct local_config *cfg,
                          const struct local_owner *own, struct status *st)
{
	int rootfd = open_root(cfg->mailroot), domfd;

	if (rootfd < 0) {
		*st = local_io_status(errno, "mail root %s", cfg->mailroot);
		return -1;
	}
	if (cfg->domain == NULL)
		return rootfd;
	domfd = local_io_opendir(rootfd, cfg->domain, 1, own);
	if (domfd < 0)
		*st = local_io_status(errno, "domain directory %s", cfg->domain);
	close(rootfd);
	return domfd;
}

/* maildir_path - the Maildir's path into buf[len] (the key of a kept
 * set, maildir_dirs.h): HOME/Maildir (home: the system user's, or NULL),
 * MAILROOT/DOMAIN/NAME or MAILROOT/NAME, with *upper the length of its
 * MAILROOT/DOMAIN (a virtual domain's directory, not followed by the
 * fresh open either), else 0; -1 when it does not fit */
static int maildir_path(char *buf, size_t len, size_t *upper,
                        const struct local_config *cfg, const char *home,
                        const char *name)
{
	int n;

	*upper = 0;
	if (home != NULL) {
		n = snprintf(buf, len, "%s/Maildir", home);
	} else if (cfg->domain != NULL) {
		n = snprintf(buf, len, "%s/%s/%s", cfg->mailroot, cfg->domain, name);
		*upper = strlen(cfg->mailroot) + 1 + strlen(cfg->domain);
	} else {
		n = snprintf(buf, len, "%s/%s", cfg->mailroot, name);
	}
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* name_maildir - how errors name the Maildir */
static void name_maildir(char *what, size_t wlen, const char *name,
                         const char *home)
{
	if (home != NULL)
		snprintf(what, wlen, "~%s/Maildir", name);
	else
		snprintf(what, wlen, "mailbox %s", name);
}

/* open_maildir - the Maildir afresh into *d: the mail root (or a home
 * directory) and the way down to it, then its tmp/ and new/; what names
 * it in errors (filled in here) */
static struct status open_maildir(const struct local_config *cfg,
                                  const char *name, const char *home,
                                  const struct local_owner *own,
                                  char *what, size_t wlen,
                                  struct maildir_dirs *d)
{
	struct status st = status_ok();
	int rootfd, boxfd;

	name_maildir(what, wlen, name, home);
	if (home != NULL) {
		rootfd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (rootfd < 0)
			return local_io_status(errno, "home directory of %s", name);
		boxfd = local_io_opendir(rootfd, "Maildir", 1, own);
	} else {
		if ((rootfd = open_mailboxes(cfg, own, &st)) < 0)
			return st;
		boxfd = local_io_opendir(rootfd, name, 1, own);
	}
	if (boxfd < 0)
		st = local_io_status(errno, "%s", what);
	close(rootfd);
	if (boxfd >= 0)
		maildir_dirs_open(boxfd, what, own, d, &st);
	return st;
}

/* local_deliver - deliver to one local mailbox */
struct status local_deliver(const struct local_config *cfg, const char *name,
                            const char *rcpt, const char *sender,
                            int fd, off_t offset)
{
	struct local_msg m = { rcpt, sender != NULL ? sender : "", fd, offset,
	                       cfg->queue };
	struct local_owner own = { 0, 0, 0 };
	struct status st = status_ok();
	struct maildir_dirs dirs;
	char hostbuf[HOST_NAME_MAX + 1], what[NAME_MAX + 32], path[PATH_MAX];
	char *home = NULL;
	size_t upper;
	int rootfd = -1, keep;

	if (!name_is_safe(name) || (cfg->domain != NULL && !name_is_safe(cfg->domain)))
		return status_make(ST_TEMP, 3, 0, "refusing unsafe mailbox name");
	/* Checked at RCPT too; again here for jobs queued before --mbox. */
	if (cfg->mbox && policy_is_lock_name(name))
		return status_make(ST_PERM, 1, 1, "no such mailbox here: %s is the "
		                   "name of an mbox lock", name);
	if (cfg->system_users && cfg->domain == NULL) {
		st = find_user(name, !cfg->mbox, &home, &own);
		if (st.kind != ST_OK)
			goto out;
		name = sysuser_account(name);   /* postmaster: root's mbox */
	}
	if (cfg->mbox) {
		if ((rootfd = open_mailboxes(cfg, &own, &st)) >= 0)
			st = mbox_deliver(rootfd, name, &m, &own, cfg->lock_wait);
		goto out;
	}
	/* A Maildir: this thread's kept one when it is this one still
	 * (maildir_dirs.h), else opened afresh; kept after a delivery that
	 * went well, closed after one that did not (the next opens afresh). */
	keep = maildir_path(path, sizeof path, &upper, cfg, home, name) == 0;
	if (keep && maildir_dirs_reuse(path, upper, &dirs)) {
		name_maildir(what, sizeof what, name, home);
	} else {
		st = open_maildir(cfg, name, home, &own, what, sizeof what, &dirs);
		if (st.kind != ST_OK)
			goto out;
	}
	st = maildir_deliver(&dirs, what, our_host(cfg, hostbuf, sizeof hostbuf),
	                     &m, &own);
	if (st.kind == ST_OK && keep)
		maildir_dirs_keep(path, upper, &dirs);
	else
		maildir_dirs_close(&dirs);
out:
	if (rootfd >= 0)
		close(rootfd);
	free(home);
	return st;
}
