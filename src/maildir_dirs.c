/* maildir_dirs.c - a Maildir's tmp/ and new/ opened, and each thread's
 * last set kept open, checked against the path at each reuse; see
 * maildir_dirs.h */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "maildir_dirs.h"

/* a thread's kept set (d.known: who its directories are), its path, and
 * how much of it names the directory above the Maildir that is checked
 * too (path[0..upper), who it is: d.upper_id) */
struct kept {
	struct maildir_dirs d;
	size_t upper;
	char path[PATH_MAX];
};

static pthread_key_t kept_key;
static pthread_once_t kept_once = PTHREAD_ONCE_INIT;
static int kept_key_ok;

/* kept_free - the key's destructor: a thread ends with its set closed */
static void kept_free(void *p)
{
	struct kept *k = p;

	maildir_dirs_close(&k->d);
	free(k);
}

/* kept_init - the key, once per process; without it nothing is kept */
static void kept_init(void)
{
	kept_key_ok = pthread_key_create(&kept_key, kept_free) == 0;
}

/* kept_take - the calling thread's set, taken off the thread (the
 * caller's to keep again or free); NULL when it has none */
static struct kept *kept_take(void)
{
	struct kept *k;

	pthread_once(&kept_once, kept_init);
	if (!kept_key_ok || (k = pthread_getspecific(kept_key)) == NULL)
		return NULL;
	pthread_setspecific(kept_key, NULL);
	return k;
}

/* maildir_dirs_close - close what is open */
void maildir_dirs_close(struct maildir_dirs *d)
{
	if (d->new >= 0)
		close(d->new);
	if (d->tmp >= 0)
		close(d->tmp);
	if (d->box >= 0)
		close(d->box);
	d->box = d->tmp = d->new = -1;
}

/* maildir_dirs_open - tmp/ and new/ in box */
int maildir_dirs_open(int box, const char *what, const struct local_owner *own,
                      struct maildir_dirs *d, struct status *st)
{
	struct stat sb;

	d->box = box;
	d->new = -1;
	d->known = 0;
	d->tmp = local_io_opendir(box, "tmp", 1, own);
	if (d->tmp < 0) {
		*st = local_io_status(errno, "%s/tmp", what);
		goto fail;
	}
	d->new = local_io_opendir(box, "new", 1, own);
	if (d->new < 0) {
		*st = local_io_status(errno, "%s/new", what);
		goto fail;
	}
	if (fstat(d->new, &sb) < 0) {
		*st = local_io_status(errno, "%s/new", what);
		goto fail;
	}
	d->dev = sb.st_dev;
	return 0;
fail:
	maildir_dirs_close(d);
	return -1;
}

/* upper_id - who the directory named by path[0..upper) is, not
 * followed; 0, or -1 */
static int upper_id(const char *path, size_t upper, struct durable_dir *id)
{
	char dir[PATH_MAX];

	if (upper >= sizeof dir)
		return -1;
	memcpy(dir, path, upper);
	dir[upper] = '\0';
	return durable_dirs_id_at(AT_FDCWD, dir, id);
}

/* still_there - is k's set still what its path names?  One statx each
 * for the Maildir (by its path), the directory above it when it is
 * checked, tmp/ and new/ */
static int still_there(const struct kept *k)
{
	struct durable_dir id;

	if (k->upper > 0 && (upper_id(k->path, k->upper, &id) < 0 ||
	                     !durable_dirs_same(&id, &k->d.upper_id)))
		return 0;
	return durable_dirs_id_at(AT_FDCWD, k->path, &id) == 0 &&
	       durable_dirs_same(&id, &k->d.box_id) &&
	       durable_dirs_id_at(k->d.box, "new", &id) == 0 &&
	       durable_dirs_same(&id, &k->d.new_id) &&
	       durable_dirs_id_at(k->d.box, "tmp", &id) == 0 &&
	       durable_dirs_same(&id, &k->d.tmp_id);
}

/* maildir_dirs_reuse - the kept set, if path's still */
int maildir_dirs_reuse(const char *path, size_t upper, struct maildir_dirs *d)
{
	struct kept *k = kept_take();

	if (k == NULL)
		return 0;
	if (k->upper != upper || strcmp(k->path, path) != 0 || !still_there(k)) {
		kept_free(k);
		return 0;
	}
	*d = k->d;
	free(k);
	return 1;
}

/* maildir_dirs_keep - d becomes the thread's kept set */
void maildir_dirs_keep(const char *path, size_t upper, struct maildir_dirs *d)
{
	struct kept *k = kept_take();
	size_t n = strlen(path);

	if (k != NULL)
		kept_free(k);
	if (!kept_key_ok || n >= sizeof k->path || upper >= n)
		goto close;
	/* who they are: learnt once, when they were opened afresh (a set
	 * given back by reuse was kept for the same path and upper) */
	if (!d->known && (durable_dirs_id(d->box, &d->box_id) < 0 ||
	                  durable_dirs_id(d->tmp, &d->tmp_id) < 0 ||
	                  durable_dirs_id(d->new, &d->new_id) < 0 ||
	                  (upper > 0 && upper_id(path, upper, &d->upper_id) < 0)))
		goto close;
	d->known = 1;
	if ((k = malloc(sizeof *k)) == NULL)
		goto close;
	k->d = *d;
	k->upper = upper;
	memcpy(k->path, path, n + 1);
	if (pthread_setspecific(kept_key, k) != 0) {
		free(k);
		goto close;
	}
	d->box = d->tmp = d->new = -1;
	return;
close:
	maildir_dirs_close(d);
}
