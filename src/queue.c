/* queue.c - the queue store's ground: opening a queue (and taking its
 * lock), IDs, the rename that never replaces, the one directory reader;
 * see queue.h for the contract and mta-queue(5) for the crash argument */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "fs_journal.h"
#include "log.h"
#include "queue_priv.h"

const char *const queue_dir_name[QUEUE_NDIRS] = { "tmp", "new", "mess", "rcpt", "bad",
                                                  "maildrop" };

/* unlink_stale - a file left in tmp/ (queue_scan) */
static int unlink_stale(void *arg, const char *name, unsigned char type)
{
	struct queue *q = arg;

	(void)type;
	if (name[0] != '.' && unlinkat(q->fd[QUEUE_TMP], name, 0) == 0)
		log_event("stale-tmp", "file=tmp/%s removed", name);
	return 0;
}

/* id_time - the time an ID (or any name) begins with: its first 13
 * hexadecimal digits, of either case (a directory may ignore case); 0
 * when it does not begin so (no ID made here can equal it) */
static unsigned long long id_time(const char *name)
{
	unsigned long long t = 0;
	int i;

	for (i = 0; i < QUEUE_ID_TIME_DIGITS; i++) {
		int c = name[i], v = c >= '0' && c <= '9' ? c - '0'
		                   : c >= 'A' && c <= 'F' ? c - 'A' + 10
		                   : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;

		if (v < 0)
			return 0;
		t = t << 4 | (unsigned)v;
	}
	return t;
}

/* queue_note_id - name is in new/ or mess/: IDs made while the clock is
 * not past its time are looked for before use */
void queue_note_id(const struct queue *q, const char *name)
{
	unsigned long long t = id_time(name), seen = atomic_load(q->id_floor);

	while (t > seen && !atomic_compare_exchange_weak(q->id_floor, &seen, t))
		;
}

/* note_found - queue_scan's callback: queue_note_id */
static int note_found(void *arg, const char *name, unsigned char type)
{
	(void)type;
	queue_note_id(arg, name);
	return 0;
}

/* queue_id_in_use - does a message in new/ or mess/ have id?  One made
 * here later than every name seen there cannot: two lookups saved per
 * message received. */
int queue_id_in_use(const struct queue *q, const char *id, int made_here)
{
	if (made_here && id_time(id) > atomic_load(q->id_floor))
		return 0;
	return queue_exists(q, QUEUE_NEW, id) || queue_exists(q, QUEUE_MESS, id);
}

/* remove_stale_tmp - nothing in tmp/ survives a restart (mta-queue(5)) */
static void remove_stale_tmp(struct queue *q)
{
	if (queue_scan(q, QUEUE_TMP, unlink_stale, q) < 0) {
		/* what is left there is removed at the next start */
	}
}

/* syncdir - fsync of directory path */
static int syncdir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC), r, e;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	e = errno;
	close(fd);
	errno = e;
	return r;
}

/* queue_mkdir_durable - mkdir, then fsync of the directory above */
int queue_mkdir_durable(const char *path, mode_t mode)
{
	char parent[QUEUE_PATH_MAX];
	char *slash;

	if (mkdir(path, mode) < 0 && errno != EEXIST)
		return -1;
	if (strlen(path) >= sizeof parent) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(parent, path);
	/* the name's last component: trailing slashes are not part of it */
	for (slash = parent + strlen(parent); slash > parent + 1 && slash[-1] == '/'; )
		*--slash = '\0';
	slash = strrchr(parent, '/');
	if (slash == NULL)
		strcpy(parent, ".");
	else if (slash == parent)
		parent[1] = '\0';
	else
		*slash = '\0';
	return syncdir(parent);
}

/* new_queue - a struct queue for dir, nothing open; NULL (err set) */
static struct queue *new_queue(const char *dir, char *err, size_t errlen)
{
	struct queue *q;
	int i;

	if (strlen(dir) + 16 >= QUEUE_PATH_MAX) {
		snprintf(err, errlen, "queue directory name too long");
		return NULL;
	}
	if ((q = calloc(1, sizeof *q)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	strcpy(q->dir, dir);
	q->lock_fd = -1;
	for (i = 0; i < QUEUE_NDIRS; i++)
		q->fd[i] = -1;
	q->clock = queue_clock_real;
	q->sync = fsync;
	atomic_init(&q->id_floor_at, ULLONG_MAX);
	q->id_floor = &q->id_floor_at;
	pthread_mutex_init(&q->sync_lock, NULL);
	group_sync_init(&q->new_sync);
	return q;
}

/* open_dirs - open every directory of q; 0, or -1 with errno and
 * *which the first that a queue must have and could not be opened */
static int open_dirs(struct queue *q, int need_all, const char **which)
{
	char path[QUEUE_PATH_MAX + 8];
	int i;

	for (i = 0; i < QUEUE_NDIRS; i++) {
		snprintf(path, sizeof path, "%s/%s", q->dir, queue_dir_name[i]);
		q->fd[i] = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (q->fd[i] < 0 && (need_all || (i != QUEUE_TMP && i != QUEUE_BAD &&
		                                   i != QUEUE_MAILDROP))) {
			*which = queue_dir_name[i];
			return -1;
		}
	}
	return 0;
}

/* maildrop_modes - the permission model of maildrop/ (queue.h): the
 * queue searchable by all, maildrop/ 1733, whatever the umask made of
 * them; a chmod that fails (not ours) is an error, as local users could
 * not submit */
static int maildrop_modes(const char *dir, char *err, size_t errlen)
{
	char path[QUEUE_PATH_MAX];
	struct stat st;

	snprintf(path, sizeof path, "%s/maildrop", dir);
	if (stat(dir, &st) < 0 ||
	    ((st.st_mode & 0777) != ((st.st_mode & 0777) | 0011) &&
	     chmod(dir, (st.st_mode & 0777) | 0011) < 0) ||
	    lstat(path, &st) < 0 || (!S_ISDIR(st.st_mode) && (errno = ENOTDIR)) ||
	    ((st.st_mode & 07777) != QUEUE_MAILDROP_MODE &&
	     chmod(path, QUEUE_MAILDROP_MODE) < 0)) {
		snprintf(err, errlen, "cannot set the modes of %s: %s", path,
		         strerror(errno));
		return -1;
	}
	return 0;
}

/* queue_open - set up and lock the queue */
int queue_open(struct queue **qp, const char *dir, char *err, size_t errlen)
{
	char path[QUEUE_PATH_MAX];
	const char *which;
	struct queue *q;
	int i, existed;

	if ((q = new_queue(dir, err, errlen)) == NULL)
		return -1;
	/* The queue's own name durable first, then its subdirectories' names
	 * (fsync of the queue below): a queue made here and lost at a power
	 * cut would take every message accepted into it along.  A queue that
	 * existed gets the fsync above it too (an earlier start may have been
	 * killed before it), but a parent this user cannot read is then no
	 * reason to refuse to start. */
	existed = access(dir, F_OK) == 0;
	if (queue_mkdir_durable(dir, 0700) < 0 && !existed) {
		snprintf(err, errlen, "cannot create queue %s: %s", dir, strerror(errno));
		goto fail;
	}
	snprintf(path, sizeof path, "%s/lock", dir);
	q->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (q->lock_fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		goto fail;
	}
	if (flock(q->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, errno == EWOULDBLOCK
		         ? "queue %s is in use by another mta-smtpd (%s is locked)"
		         : "cannot lock queue %s (%s): %s", dir, path, strerror(errno));
		goto fail;
	}
	for (i = 0; i < QUEUE_NDIRS; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, queue_dir_name[i]);
		if (mkdir(path, 0700) < 0 && errno != EEXIST) {
			snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
			goto fail;
		}
	}
	if (maildrop_modes(dir, err, errlen) < 0)
		goto fail;
	if (syncdir(dir) < 0) {
		snprintf(err, errlen, "cannot fsync queue %s: %s", dir, strerror(errno));
		goto fail;
	}
	if (open_dirs(q, 1, &which) < 0) {
		snprintf(err, errlen, "cannot open %s/%s: %s", dir, which, strerror(errno));
		goto fail;
	}
	remove_stale_tmp(q);
	/* Every name already here, made under whatever clock: should the
	 * clock have been set back since (a restored snapshot, a corrected
	 * clock), IDs are looked for until it passes them.  A directory that
	 * cannot be read leaves the floor where it is: always look. */
	atomic_store(q->id_floor, 0);
	if (queue_scan(q, QUEUE_NEW, note_found, q) < 0 ||
	    queue_scan(q, QUEUE_MESS, note_found, q) < 0) {
		log_event("queue-error", "op=scan-ids error=\"%s\" action=look-up-every-id",
		          strerror(errno));
		atomic_store(q->id_floor, ULLONG_MAX);
	}
	*qp = q;
	return 0;
fail:
	queue_close(q);
	return -1;
}

/* queue_attach - an existing queue, as it is */
int queue_attach(struct queue **qp, const char *dir, char *err, size_t errlen)
{
	const char *which;
	struct queue *q;
	int dfd;

	if ((q = new_queue(dir, err, errlen)) == NULL)
		return -1;
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "no queue at %s: %s", dir, strerror(errno));
		queue_close(q);
		return -1;
	}
	if (open_dirs(q, 0, &which) < 0) {
		snprintf(err, errlen, "%s is not a queue: %s/%s: %s", dir, dir, which,
		         strerror(errno));
		close(dfd);
		queue_close(q);
		return -1;
	}
	close(dfd);
	*qp = q;
	return 0;
}

/* queue_close - release the queue */
void queue_close(struct queue *q)
{
	int i;

	if (q == NULL)
		return;
	for (i = 0; i < QUEUE_NDIRS; i++)
		if (q->fd[i] >= 0)
			close(q->fd[i]);
	if (q->lock_fd >= 0)
		close(q->lock_fd);
	pthread_mutex_destroy(&q->sync_lock);
	group_sync_destroy(&q->new_sync);
	free(q);
}

/* queue_has_dir - is d open? */
int queue_has_dir(const struct queue *q, enum queue_dir d) { return q->fd[d] >= 0; }

/* queue_set_sync - where directory fsyncs go */
void queue_set_sync(struct queue *q, queue_sync_fn *sync)
{
	q->sync = sync;
	/* a test that fails directory fsyncs wants them made */
	q->journal_syncs_new = 0;
}

/* queue_trust_journal - new/'s journal carries renames? (fs_journal.h) */
int queue_trust_journal(struct queue *q, char *journal, size_t len)
{
	struct stat st;

	q->journal_syncs_new = q->sync == fsync &&
		fstat(q->fd[QUEUE_NEW], &st) == 0 &&
		fs_journal_carries_renames(q->fd[QUEUE_NEW], journal, len);
	if (q->journal_syncs_new)
		q->journal_dev = st.st_dev;
	return q->journal_syncs_new;
}

/* queue_journal_orders - dev the file system of a trusted journal? */
int queue_journal_orders(const struct queue *q, dev_t dev)
{
	return q->journal_syncs_new && dev == q->journal_dev;
}

/* queue_dir - the directory */
const char *queue_dir(const struct queue *q) { return q->dir; }

/* queue_clock_real - the wall clock in microseconds */
unsigned long long queue_clock_real(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (unsigned long long)tv.tv_sec * 1000000ULL + (unsigned long long)tv.tv_usec;
}

/* queue_set_clock - where IDs take their time from */
void queue_set_clock(struct queue *q, queue_clock_fn *clock) { q->clock = clock; }

/* queue_new_id - time in microseconds, then the sequence number */
void queue_new_id(struct queue *q, char *id)
{
	unsigned long n = atomic_fetch_add(&q->seq, 1);

	snprintf(id, ENVELOPE_ID_MAX, "%0*llX%lX", QUEUE_ID_TIME_DIGITS, q->clock(), n);
}

/* queue_rename_excl - rename, never over an existing name */
int queue_rename_excl(queue_sync_fn *sync, int odir, const char *old, int ndir,
                      const char *new)
{
	int e, fd;

	if (renameat2(odir, old, ndir, new, RENAME_NOREPLACE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -1;
	/* A file system that cannot refuse to replace in a rename: a link
	 * can.  The new name is made durable before the old one goes, so a
	 * crash leaves the file under one name or both, never under none
	 * (mta-queue(5), CRASH SAFETY). */
	if (linkat(odir, old, ndir, new, 0) < 0) {
		if (errno != EPERM && errno != EOPNOTSUPP && errno != ENOSYS)
			return -1;
		/* No hard links either (some FUSE and FAT file systems): look,
		 * then rename.  Only a name made between the two by someone
		 * else could be replaced; the daemon makes none there. */
		if (faccessat(ndir, new, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
			errno = EEXIST;
			return -1;
		}
		return renameat(odir, old, ndir, new);
	}
	/* On a descriptor of its own: Linux reports a lost directory write
	 * once per open file, and an fsync of the caller's shared ndir here
	 * would take the report from the group commit of new/ (which must
	 * fail every receiver it lost). */
	if ((fd = openat(ndir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0 ||
	    sync(fd) < 0) {
		e = errno;
		if (fd >= 0)
			close(fd);
		unlinkat(ndir, new, 0);
		errno = e;
		return -1;
	}
	close(fd);
	if (unlinkat(odir, old, 0) < 0 && errno != ENOENT) {
		e = errno;
		unlinkat(ndir, new, 0);
		errno = e;
		return -1;
	}
	return 0;
}

/* queue_scan - fn for every name in d; a failed readdir() is no end */
int queue_scan(const struct queue *q, enum queue_dir d, queue_name_fn *fn,
               void *arg)
{
	/* a fresh open file description: a dup() would share the offset */
	int fd = openat(q->fd[d], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc = 0, e;
	DIR *dir = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;

	if (dir == NULL) {
		e = errno;
		if (fd >= 0)
			close(fd);
		errno = e;
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(dir)) == NULL) {
			rc = errno ? -1 : 0;
			break;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if ((rc = fn(arg, de->d_name, de->d_type)) != 0) {
			if (rc > 0)
				errno = 0;
			rc = rc < 0 ? -1 : 0;
			break;
		}
	}
	e = errno;
	closedir(dir);
	errno = e;
	return rc;
}

/* queue_exists - is there d/name? */
int queue_exists(const struct queue *q, enum queue_dir d, const char *name)
{
	return faccessat(q->fd[d], name, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

/* queue_not_regular - d/name known to be no regular file */
int queue_not_regular(const struct queue *q, enum queue_dir d,
                      const char *name, unsigned char type)
{
	struct stat sb;

	if (type == DT_UNKNOWN)
		return fstatat(q->fd[d], name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
		       !S_ISREG(sb.st_mode);
	return type != DT_REG;
}

