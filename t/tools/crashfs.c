/* crashfs - a FUSE file system that forgets what was not made durable.
 *
 *   crashfs [-f] [-o cut_at=N] BACKING MOUNTPOINT [fuse options]
 *
 * Every operation goes through to the directory BACKING at once, so
 * readers see it, but crashfs keeps until it is durable what the POSIX
 * contract does not promise to survive a power loss, and a cut puts
 * BACKING back to the state a machine would find after reboot.
 *
 * The model (after ALICE and CrashMonkey): a file's data belongs to its
 * inode, a name to its directory.
 *  - Data and size of an inode are durable at fsync or fdatasync of any
 *    descriptor of it (not its name).  Before the first change after
 *    that, crashfs notes the durable size; before a write or truncate
 *    below it, it copies the durable content to .crashfs/data/INO.  A
 *    file created here has durable size 0.
 *  - The entries of a directory (name -> inode) are durable at fsync of
 *    the directory.  Before the first change after that, crashfs keeps
 *    a list of its entries; a directory made here has none.  A rename
 *    needs fsync of both directories: each directory's side is durable
 *    at its own fsync, so until both the old name, the new one, both
 *    (one inode, two names) or neither may come back, as on a file
 *    system without a journal (ext2); ext4 and XFS are kinder (their
 *    journal makes a rename whole at either fsync).  A name made durable
 *    before its inode's data comes back with the data that was durable
 *    (maybe none).
 *  - Unlink, rmdir and the target of a rename do not free the inode: it
 *    moves to .crashfs/grave/, so a name that comes back still has it.
 *  - Metadata (mode, owner, times) is not modelled: changes are kept.
 *  - What existed in BACKING at mount time is durable.
 * A cut moves BACKING's entries aside, rebuilds the tree from the
 * durable entries (directories made afresh, other inodes hard-linked
 * back), puts durable content back into changed inodes, removes
 * .crashfs and syncs; from then on every operation answers EIO.
 * A clean unmount without a cut is a clean shutdown: all is kept.
 *
 * Control file /.crashfs-ctl at the mount's root: reading it gives
 * "points N\ncut 0|1\n" (N: durability calls so far, each fsync,
 * fdatasync or directory fsync); writing "cut" cuts now; "cut-at N"
 * (or -o cut_at=N) makes the Nth durability call the moment of the cut:
 * it does not take effect and answers EIO, so all that the first N-1
 * made durable survives and nothing else.  "cut-at-fsync PATH" makes the
 * next fsync (or fdatasync) of the directory or regular file PATH
 * (relative to the mount) the moment of the cut; "sync-at-cut DIR" makes
 * DIR's entries durable at the moment of a cut at a point, as a
 * concurrent fsync of DIR just before it would (the two pin down a race
 * between threads).  BACKING/.crashfs is hidden.
 *
 * Threads: libfuse's multithreaded loop; one mutex (fs.lock) orders every
 * change with the bookkeeping of it, and the cut.  Reads take no lock.
 * Locks (flock, POSIX and OFD) are not implemented here, so the kernel
 * keeps them locally, which is right for processes of one machine.
 */
#define FUSE_USE_VERSION 31
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define CTL   "/.crashfs-ctl"
#define PRIV  ".crashfs"
#define NBUCKET 4096

struct ent { char *name; ino_t ino; unsigned char type; };

/* node - what is not yet durable about one inode, and (at a cut) a path
 * where the inode is found */
struct node {
	ino_t ino;
	struct node *next;
	int data;         /* data changed: dsize (and copy) are durable */
	off_t dsize;
	int copied;       /* .crashfs/data/INO holds the durable content */
	int dir;          /* entries changed: ents are the durable ones */
	struct ent *ents;
	size_t nents;
	char *path;       /* during a cut only */
	int busy;         /* during a cut: being rebuilt (no cycles) */
};

/* the file system's one state; every field but bfd and root is guarded
 * by lock (cut is also read without it: an operation that sees 0 and
 * then takes the lock looks again) */
static struct {
	pthread_mutex_t lock;
	int bfd;                  /* BACKING */
	ino_t root;
	struct node *tab[NBUCKET];
	unsigned long points, cut_at, graves;
	ino_t cut_ino, sync_dir;  /* cut-at-fsync, sync-at-cut: 0 or an inode */
	atomic_int cut;
} fs = { .lock = PTHREAD_MUTEX_INITIALIZER, .bfd = -1 };

/* rel - a FUSE path as one relative to BACKING */
static const char *rel(const char *path) { return path[1] ? path + 1 : "."; }

static int hidden(const char *p)
{
	return strncmp(p, "/" PRIV, sizeof PRIV) == 0 &&
	    (p[sizeof PRIV] == 0 || p[sizeof PRIV] == '/');
}

/* parent - the directory of PATH, relative to BACKING, into out */
static void parent(const char *path, char *out)
{
	const char *s = strrchr(path, '/');
	size_t n = s && s > path ? (size_t)(s - path) : 0;

	if (n == 0 || n >= PATH_MAX) { strcpy(out, "."); return; }
	memcpy(out, path + 1, n - 1);
	out[n - 1] = 0;
}

static struct node *node_get(ino_t ino, int make)
{
	struct node **b = &fs.tab[ino % NBUCKET], *n;

	for (n = *b; n; n = n->next)
		if (n->ino == ino) return n;
	if (!make || !(n = calloc(1, sizeof *n))) return NULL;
	n->ino = ino;
	n->next = *b;
	*b = n;
	return n;
}

static void ents_free(struct ent *e, size_t n)
{
	while (n) free(e[--n].name);
	free(e);
}

/* ents_read - the entries of directory DIR (relative to BACKING); 0/-1 */
static int ents_read(const char *dir, struct ent **out, size_t *nout)
{
	int fd = openat(fs.bfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct ent *e = NULL, *t;
	size_t n = 0;
	struct dirent *de;
	struct stat st;

	if (!d) { if (fd >= 0) close(fd); return -1; }
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    (!strcmp(dir, ".") && !strcmp(de->d_name, PRIV)))
			continue;
		if (!(t = realloc(e, (n + 1) * sizeof *e))) goto fail;
		e = t;
		e[n].ino = de->d_ino;
		e[n].type = de->d_type;
		if (de->d_type == DT_UNKNOWN &&
		    fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			e[n].type = IFTODT(st.st_mode);
		if (!(e[n].name = strdup(de->d_name))) goto fail;
		n++;
	}
	closedir(d);
	*out = e;
	*nout = n;
	return 0;
fail:
	closedir(d);
	ents_free(e, n);
	errno = ENOMEM;
	return -1;
}

/* dir_touch - before a change to directory DIR: keep its entries if they
 * are durable now; 0 or -errno */
static int dir_touch(const char *dir)
{
	struct stat st;
	struct node *n;

	if (fstatat(fs.bfd, dir, &st, 0) < 0) return -errno;
	if (!(n = node_get(st.st_ino, 1))) return -ENOMEM;
	if (n->dir) return 0;
	if (ents_read(dir, &n->ents, &n->nents) < 0) return -errno;
	n->dir = 1;
	return 0;
}

/* copy_fd - the whole content of from to to (at its start); 0/-1 */
static int copy_fd(int from, int to)
{
	char buf[65536];
	off_t off = 0;
	ssize_t r;

	while ((r = pread(from, buf, sizeof buf, off)) > 0) {
		if (pwrite(to, buf, (size_t)r, off) != r) return -1;
		off += r;
	}
	return r < 0 ? -1 : 0;
}

/* data_touch - before a change to the data of the file open as fd from
 * offset from on: note its durable size, and copy its durable content
 * when the change reaches into it; 0 or -errno */
static int data_touch(int fd, off_t from)
{
	char p[64];
	struct stat st;
	struct node *n;
	int in, out, rc;

	if (fstat(fd, &st) < 0) return -errno;
	if (!(n = node_get(st.st_ino, 1))) return -ENOMEM;
	if (!n->data) { n->data = 1; n->dsize = st.st_size; n->copied = 0; }
	if (n->copied || from >= n->dsize) return 0;
	snprintf(p, sizeof p, "/proc/self/fd/%d", fd);
	if ((in = open(p, O_RDONLY | O_CLOEXEC)) < 0) return -errno;
	snprintf(p, sizeof p, PRIV "/data/%ju", (uintmax_t)st.st_ino);
	out = openat(fs.bfd, p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	rc = out < 0 || copy_fd(in, out) < 0 ? -errno : 0;
	close(in);
	if (out >= 0) close(out);
	if (rc == 0) n->copied = 1;
	return rc;
}

/* made_new - the inode at PATH (relative) was made here: it belongs to
 * the caller, and nothing of it is durable yet */
static void made_new(const char *path)
{
	struct fuse_context *c = fuse_get_context();
	struct stat st;
	struct node *n;

	if (getuid() == 0)
		fchownat(fs.bfd, path, c->uid, c->gid, AT_SYMLINK_NOFOLLOW);
	if (fstatat(fs.bfd, path, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    !(n = node_get(st.st_ino, 1)))
		return;
	if (S_ISDIR(st.st_mode)) {
		ents_free(n->ents, n->nents);
		n->ents = NULL; n->nents = 0; n->dir = 1;
	} else if (S_ISREG(st.st_mode)) {
		n->data = 1; n->dsize = 0; n->copied = 0;
	}
}

/* to_grave - move the name at PATH (relative) aside, keeping its inode;
 * with keep, link it there instead (the name stays); 0 or -errno */
static int to_grave(const char *path, int keep)
{
	char g[64];

	snprintf(g, sizeof g, PRIV "/grave/%lu", ++fs.graves);
	if (keep ? linkat(fs.bfd, path, fs.bfd, g, 0) :
	    renameat(fs.bfd, path, fs.bfd, g))
		return -errno;
	return 0;
}

static int rm_rf(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	struct dirent *de;

	if (!d) { if (fd >= 0) close(fd); return unlinkat(dfd, name, 0); }
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			rm_rf(fd, de->d_name);
	closedir(d);
	return unlinkat(dfd, name, AT_REMOVEDIR);
}

/* walk - note a path of every inode under DIR (relative) */
static void walk(const char *dir)
{
	struct ent *e;
	size_t n, i;
	char p[PATH_MAX];
	struct node *x;

	if (ents_read(dir, &e, &n) < 0) return;
	for (i = 0; i < n; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, e[i].name);
		if ((x = node_get(e[i].ino, 1)) && !x->path) x->path = strdup(p);
		if (e[i].type == DT_DIR) walk(p);
	}
	ents_free(e, n);
}

/* build - make in DIR (relative) the durable entries e[0..n) */
static void build(const char *dir, const struct ent *e, size_t n)
{
	char p[PATH_MAX];
	struct node *x;
	struct stat st;
	struct ent *sub;
	size_t nsub, i;

	for (i = 0; i < n; i++) {
		snprintf(p, sizeof p, "%s/%s", dir, e[i].name);
		x = node_get(e[i].ino, 0);
		if (!x || !x->path || x->busy) {
			fprintf(stderr, "crashfs: cut: no inode for %s\n", p);
			continue;
		}
		if (e[i].type != DT_DIR) {
			if (linkat(fs.bfd, x->path, fs.bfd, p, 0) < 0)
				fprintf(stderr, "crashfs: cut: link %s: %m\n", p);
			continue;
		}
		if (fstatat(fs.bfd, x->path, &st, 0) < 0 ||
		    mkdirat(fs.bfd, p, st.st_mode & 07777) < 0) {
			fprintf(stderr, "crashfs: cut: mkdir %s: %m\n", p);
			continue;
		}
		fchownat(fs.bfd, p, st.st_uid, st.st_gid, 0);
		x->busy = 1;
		if (x->dir)
			build(p, x->ents, x->nents);
		else if (ents_read(x->path, &sub, &nsub) == 0) {
			build(p, sub, nsub);
			ents_free(sub, nsub);
		}
		x->busy = 0;
	}
}

/* restore - put the durable content back into every changed inode */
static void restore(void)
{
	char p[64];
	struct node *x;
	int fd, in;
	size_t b;

	for (b = 0; b < NBUCKET; b++)
		for (x = fs.tab[b]; x; x = x->next) {
			if (!x->data || !x->path) continue;
			fd = openat(fs.bfd, x->path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0) continue;
			snprintf(p, sizeof p, PRIV "/data/%ju", (uintmax_t)x->ino);
			in = x->copied ? openat(fs.bfd, p, O_RDONLY | O_CLOEXEC) : -1;
			if (ftruncate(fd, x->copied ? 0 : x->dsize) < 0 ||
			    (x->copied && (in < 0 || copy_fd(in, fd) < 0)))
				fprintf(stderr, "crashfs: cut: restore %s: %m\n", x->path);
			if (in >= 0) close(in);
			close(fd);
		}
}

/* do_cut - the power fails: BACKING becomes what was durable */
static void do_cut(void)
{
	struct node *r = node_get(fs.root, 0);
	struct ent *e = NULL, *now;
	size_t n = 0, nnow, i;
	char p[PATH_MAX];

	if (fs.cut) return;
	fs.cut = 1;
	if (r && r->dir) { e = r->ents; n = r->nents; }
	else if (ents_read(".", &e, &n) < 0)
		fprintf(stderr, "crashfs: cut: read root: %m\n");
	if (mkdirat(fs.bfd, PRIV "/old", 0700) < 0 ||
	    ents_read(".", &now, &nnow) < 0) {
		fprintf(stderr, "crashfs: cut: %m\n");
		return;
	}
	for (i = 0; i < nnow; i++) {
		snprintf(p, sizeof p, PRIV "/old/%s", now[i].name);
		if (renameat(fs.bfd, now[i].name, fs.bfd, p) < 0)
			fprintf(stderr, "crashfs: cut: move %s: %m\n", p);
	}
	ents_free(now, nnow);
	walk(PRIV "/old");
	walk(PRIV "/grave");
	build(".", e, n);
	if (!(r && r->dir)) ents_free(e, n);
	restore();
	rm_rf(fs.bfd, PRIV);
	syncfs(fs.bfd);
}

/* durable_point - a durability call (an fsync of file or directory ino);
 * 1 when it is the moment of the cut */
static int durable_point(ino_t ino)
{
	struct node *n;

	if (++fs.points != fs.cut_at && !(ino != 0 && ino == fs.cut_ino)) return 0;
	if (fs.sync_dir && (n = node_get(fs.sync_dir, 0)) && n->dir) {
		ents_free(n->ents, n->nents);
		n->ents = NULL; n->nents = 0; n->dir = 0;
	}
	do_cut();
	return 1;
}

#define LOCK()   pthread_mutex_lock(&fs.lock)
#define UNLOCK() pthread_mutex_unlock(&fs.lock)
/* GUARD - the start of every operation on a path (those that serve the
 * control file do so before it) */
#define GUARD(path) do { if (fs.cut) return -EIO; \
	if ((path) && hidden(path)) return -ENOENT; \
	if ((path) && !strcmp((path), CTL)) return -EPERM; } while (0)

/* ---- the control file ---------------------------------------------- */

static int ctl_read(char *buf, size_t size, off_t off)
{
	char s[96];
	int len;

	LOCK();
	len = snprintf(s, sizeof s, "points %lu\ncut %d\n", fs.points, fs.cut);
	UNLOCK();
	if (off >= len) return 0;
	if ((size_t)(len - off) < size) size = (size_t)(len - off);
	memcpy(buf, s + off, size);
	return (int)size;
}

static int ctl_write(const char *buf, size_t size)
{
	char s[PATH_MAX + 16], d[PATH_MAX];
	unsigned long n;
	struct stat st;

	if (size >= sizeof s) return -EINVAL;
	memcpy(s, buf, size);
	s[size] = 0;
	LOCK();
	if (!strcmp(s, "cut") || !strcmp(s, "cut\n"))
		do_cut();
	else if (sscanf(s, "cut-at %lu", &n) == 1)
		fs.cut_at = n;
	else if (sscanf(s, "cut-at-fsync %4095s", d) == 1 &&
	         fstatat(fs.bfd, d, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	         (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)))
		fs.cut_ino = st.st_ino;
	else if (sscanf(s, "sync-at-cut %4095s", d) == 1 &&
	         fstatat(fs.bfd, d, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
		fs.sync_dir = st.st_ino;
	else
		size = 0;
	UNLOCK();
	return size ? (int)size : -EINVAL;
}

/* ---- operations ---------------------------------------------------- */

static int cf_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	if (path && !strcmp(path, CTL)) {
		memset(st, 0, sizeof *st);
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		return 0;
	}
	if (fs.cut && path && !strcmp(path, "/"))    /* lets umount look */
		return fstat(fs.bfd, st) < 0 ? -errno : 0;
	GUARD(path);
	if (fi ? fstat((int)fi->fh, st) :
	    fstatat(fs.bfd, rel(path), st, AT_SYMLINK_NOFOLLOW))
		return -errno;
	return 0;
}

static int cf_readlink(const char *path, char *buf, size_t size)
{
	ssize_t n;

	GUARD(path);
	if ((n = readlinkat(fs.bfd, rel(path), buf, size - 1)) < 0) return -errno;
	buf[n] = 0;
	return 0;
}

static int cf_open(const char *path, struct fuse_file_info *fi)
{
	int fd, rc = 0;

	if (path && !strcmp(path, CTL)) { fi->direct_io = 1; fi->fh = -1; return 0; }
	GUARD(path);
	fd = openat(fs.bfd, rel(path), (fi->flags & ~O_TRUNC) | O_CLOEXEC);
	if (fd < 0) return -errno;
	if ((fi->flags & O_TRUNC) && (fi->flags & O_ACCMODE) != O_RDONLY) {
		LOCK();
		if (fs.cut) rc = -EIO;
		else if (!(rc = data_touch(fd, 0)) && ftruncate(fd, 0) < 0) rc = -errno;
		UNLOCK();
	}
	if (rc) { close(fd); return rc; }
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1;        /* every write reaches this file system now */
	return 0;
}

static int cf_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	char dir[PATH_MAX];
	int fd = -1, rc, fl = (fi->flags & ~(O_TRUNC | O_CREAT | O_EXCL)) | O_CLOEXEC;

	if (!strcmp(path, CTL)) return -EEXIST;
	GUARD(path);
	parent(path, dir);
	LOCK();
	if (fs.cut) { rc = -EIO; goto out; }
	if ((rc = dir_touch(dir))) goto out;
	if ((fd = openat(fs.bfd, rel(path), fl | O_CREAT | O_EXCL, mode)) >= 0)
		made_new(rel(path));
	else if (errno != EEXIST || (fi->flags & O_EXCL) ||
	    (fd = openat(fs.bfd, rel(path), fl)) < 0)
		rc = -errno;
	else if ((fi->flags & O_TRUNC) && !(rc = data_touch(fd, 0)) &&
	    ftruncate(fd, 0) < 0)
		rc = -errno;
out:
	UNLOCK();
	if (rc) { if (fd >= 0) close(fd); return rc; }
	fi->fh = (uint64_t)fd;
	fi->direct_io = 1;
	return 0;
}

static int cf_read(const char *path, char *buf, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	ssize_t n;

	if ((int)fi->fh < 0) return ctl_read(buf, size, off);
	if (fs.cut) return -EIO;
	(void)path;
	return (n = pread((int)fi->fh, buf, size, off)) < 0 ? -errno : (int)n;
}

static int cf_write(const char *path, const char *buf, size_t size, off_t off,
    struct fuse_file_info *fi)
{
	int fd = (int)fi->fh, rc, app;
	struct stat st;
	ssize_t n;

	(void)path;
	if (fd < 0) return ctl_write(buf, size);
	app = fcntl(fd, F_GETFL) & O_APPEND;  /* then pwrite writes at the end */
	LOCK();
	if (fs.cut) rc = -EIO;
	else if (app && fstat(fd, &st) < 0) rc = -errno;
	else if (!(rc = data_touch(fd, app ? st.st_size : off)))
		rc = (n = pwrite(fd, buf, size, off)) < 0 ? -errno : (int)n;
	UNLOCK();
	return rc;
}

static int cf_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	int fd, rc;

	if ((path && !strcmp(path, CTL)) || (fi && (int)fi->fh < 0)) return 0;
	GUARD(path);
	fd = fi ? (int)fi->fh : openat(fs.bfd, rel(path), O_WRONLY | O_CLOEXEC);
	if (fd < 0) return -errno;
	LOCK();
	if (fs.cut) rc = -EIO;
	else if (!(rc = data_touch(fd, size)) && ftruncate(fd, size) < 0) rc = -errno;
	UNLOCK();
	if (!fi) close(fd);
	return rc;
}

static int cf_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct stat st;
	struct node *n;
	char p[64];
	int rc = 0;

	(void)path; (void)datasync;
	if ((int)fi->fh < 0) return 0;
	LOCK();
	if (fs.cut) rc = -EIO;
	else if (fstat((int)fi->fh, &st) < 0) rc = -errno;
	else if (durable_point(st.st_ino)) rc = -EIO;
	else if ((n = node_get(st.st_ino, 0)) && n->data) {
		if (n->copied) {
			snprintf(p, sizeof p, PRIV "/data/%ju", (uintmax_t)n->ino);
			unlinkat(fs.bfd, p, 0);
		}
		n->data = n->copied = 0;
	}
	UNLOCK();
	return rc;
}

static int cf_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	if ((int)fi->fh >= 0) close((int)fi->fh);
	return 0;
}

/* namespace: each change under the lock, after dir_touch of the
 * directories it changes */
static int cf_mkdir(const char *path, mode_t mode)
{
	char dir[PATH_MAX];
	int rc;

	GUARD(path);
	parent(path, dir);
	LOCK();
	if (fs.cut) rc = -EIO;
	else if (!(rc = dir_touch(dir))) {
		if (mkdirat(fs.bfd, rel(path), mode) < 0) rc = -errno;
		else made_new(rel(path));
	}
	UNLOCK();
	return rc;
}

static int cf_mknod(const char *path, mode_t mode, dev_t dev)
{
	char dir[PATH_MAX];
	int rc;

	GUARD(path);
	parent(path, dir);
	LOCK();
	if (fs.cut) rc = -EIO;
	else if (!(rc = dir_touch(dir))) {
		if (mknodat(fs.bfd, rel(path), mode, dev) < 0) rc = -errno;
		else made_new(rel(path));
	}
	UNLOCK();
	return rc;
}

static int cf_symlink(const char *target, const char *path)
{
	char dir[PATH_MAX];
	int rc;

	GUARD(path);
	parent(path, dir);
	LOCK();
	if (fs.cut) rc = -EIO;
	else if (!(rc = dir_touch(dir))) {
		if (symlinkat(target, fs.bfd, rel(path)) < 0) rc = -errno;
		else made_new(rel(path));
	}
	UNLOCK();
	return rc;
}

static int cf_link(const char *from, const char *to)
{
	char dir[PATH_MAX];
	int rc;

	GUARD(from);
	GUARD(to);
	parent(to, dir);
	LOCK();
	if (fs.cut) rc = -EIO;
	else if (!(rc = dir_touch(dir)) &&
	    linkat(fs.bfd, rel(from), fs.bfd, rel(to), 0) < 0)
		rc = -errno;
	UNLOCK();
	return rc;
}

/* remove - unlink (isdir 0) or rmdir (1) PATH, keeping its inode */
static int remove_name(const char *path, int isdir)
{
	char dir[PATH_MAX];
	struct ent *e;
	size_t n;
	struct stat st;
	int rc;

	GUARD(path);
	parent(path, dir);
	LOCK();
	if (fs.cut) rc = -EIO;
	else if (fstatat(fs.bfd, rel(path), &st, AT_SYMLINK_NOFOLLOW) < 0) rc = -errno;
	else if (!isdir != !S_ISDIR(st.st_mode)) rc = isdir ? -ENOTDIR : -EISDIR;
	else if (isdir && ents_read(rel(path), &e, &n) < 0) rc = -errno;
	else if (isdir && (ents_free(e, n), n > 0)) rc = -ENOTEMPTY;
	else if (!(rc = dir_touch(dir)))
		rc = to_grave(rel(path), 0);
	UNLOCK();
	return rc;
}

static int cf_unlink(const char *path) { return remove_name(path, 0); }
static int cf_rmdir(const char *path) { return remove_name(path, 1); }

static int cf_rename(const char *from, const char *to, unsigned int flags)
{
	char d1[PATH_MAX], d2[PATH_MAX], g[64];
	struct stat sf, st;
	struct ent *e;
	size_t n;
	int rc, dir = 0;

	GUARD(from);
	GUARD(to);
	if (flags & ~RENAME_NOREPLACE) return -EINVAL;
	parent(from, d1);
	parent(to, d2);
	LOCK();
	if (fs.cut) { rc = -EIO; goto out; }
	if (fstatat(fs.bfd, rel(from), &sf, AT_SYMLINK_NOFOLLOW) < 0) { rc = -errno; goto out; }
	if ((rc = dir_touch(d1)) || (rc = dir_touch(d2))) goto out;
	if (flags || fstatat(fs.bfd, rel(to), &st, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = renameat2(fs.bfd, rel(from), fs.bfd, rel(to), flags) < 0 ? -errno : 0;
		goto out;
	}
	if (st.st_ino == sf.st_ino) goto out;     /* the same inode: nothing */
	/* the target's inode must outlive its name: keep it in the grave */
	if (S_ISDIR(st.st_mode)) {
		if (!S_ISDIR(sf.st_mode)) { rc = -EISDIR; goto out; }
		if (ents_read(rel(to), &e, &n) < 0) { rc = -errno; goto out; }
		ents_free(e, n);
		if (n) { rc = -ENOTEMPTY; goto out; }
		dir = 1;
	} else if (S_ISDIR(sf.st_mode)) { rc = -ENOTDIR; goto out; }
	if ((rc = to_grave(rel(to), !dir))) goto out;
	snprintf(g, sizeof g, PRIV "/grave/%lu", fs.graves);
	if (renameat(fs.bfd, rel(from), fs.bfd, rel(to)) < 0) {
		rc = -errno;
		if (dir) renameat(fs.bfd, g, fs.bfd, rel(to));
		else unlinkat(fs.bfd, g, 0);
	}
out:
	UNLOCK();
	return rc;
}

static int cf_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	GUARD(path);
	if (fi ? fchmod((int)fi->fh, mode) : fchmodat(fs.bfd, rel(path), mode, 0))
		return -errno;
	return 0;
}

static int cf_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
	GUARD(path);
	if (fi ? fchown((int)fi->fh, uid, gid) :
	    fchownat(fs.bfd, rel(path), uid, gid, AT_SYMLINK_NOFOLLOW))
		return -errno;
	return 0;
}

static int cf_utimens(const char *path, const struct timespec tv[2],
    struct fuse_file_info *fi)
{
	GUARD(path);
	if (fi ? futimens((int)fi->fh, tv) :
	    utimensat(fs.bfd, rel(path), tv, AT_SYMLINK_NOFOLLOW))
		return -errno;
	return 0;
}

static int cf_statfs(const char *path, struct statvfs *sv)
{
	(void)path;
	if (fs.cut) return -EIO;
	return fstatvfs(fs.bfd, sv) < 0 ? -errno : 0;
}

static int cf_opendir(const char *path, struct fuse_file_info *fi)
{
	int fd;

	GUARD(path);
	fd = openat(fs.bfd, rel(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) return -errno;
	fi->fh = (uint64_t)fd;
	return 0;
}

static int cf_readdir(const char *path, void *buf, fuse_fill_dir_t fill,
    off_t off, struct fuse_file_info *fi, enum fuse_readdir_flags fl)
{
	struct ent *e;
	struct stat st;
	size_t n, i;
	char p[32];
	int rc = 0;

	(void)path; (void)off; (void)fl;
	if (fs.cut) return -EIO;
	snprintf(p, sizeof p, "/proc/self/fd/%d", (int)fi->fh);
	if (ents_read(p, &e, &n) < 0) return -errno;
	if (fstat((int)fi->fh, &st) == 0 && st.st_ino == fs.root)
		for (i = 0; i < n; i++)       /* ents_read skips PRIV for "." only */
			if (!strcmp(e[i].name, PRIV)) e[i].name[0] = 0;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	for (i = 0; i < n && rc == 0; i++) {
		if (!e[i].name[0]) continue;
		memset(&st, 0, sizeof st);
		st.st_ino = e[i].ino;
		st.st_mode = (mode_t)DTTOIF(e[i].type);
		rc = fill(buf, e[i].name, &st, 0, 0);
	}
	ents_free(e, n);
	return 0;
}

static int cf_releasedir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	close((int)fi->fh);
	return 0;
}

static int cf_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct stat st;
	struct node *n;
	int rc = 0;

	(void)path; (void)datasync;
	LOCK();
	if (fs.cut) rc = -EIO;
	else if (fstat((int)fi->fh, &st) < 0) rc = -errno;
	else if (durable_point(st.st_ino)) rc = -EIO;
	else if ((n = node_get(st.st_ino, 0)) && n->dir) {
		ents_free(n->ents, n->nents);
		n->ents = NULL; n->nents = 0; n->dir = 0;
	}
	UNLOCK();
	return rc;
}

static void *cf_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->use_ino = 1;
	cfg->nullpath_ok = 1;
	cfg->hard_remove = 1;    /* unlink is ours: no .fuse_hidden renames */
	cfg->entry_timeout = cfg->attr_timeout = cfg->negative_timeout = 0;
	cfg->direct_io = 1;
	return NULL;
}

static void cf_destroy(void *data)
{
	(void)data;
	LOCK();
	if (!fs.cut) rm_rf(fs.bfd, PRIV);    /* a clean shutdown keeps it all */
	UNLOCK();
}

static const struct fuse_operations ops = {
	.init = cf_init, .destroy = cf_destroy,
	.getattr = cf_getattr, .readlink = cf_readlink,
	.mknod = cf_mknod, .mkdir = cf_mkdir, .symlink = cf_symlink,
	.unlink = cf_unlink, .rmdir = cf_rmdir, .rename = cf_rename,
	.link = cf_link, .chmod = cf_chmod, .chown = cf_chown,
	.truncate = cf_truncate, .utimens = cf_utimens,
	.open = cf_open, .create = cf_create, .read = cf_read,
	.write = cf_write, .statfs = cf_statfs, .fsync = cf_fsync,
	.release = cf_release, .opendir = cf_opendir, .readdir = cf_readdir,
	.releasedir = cf_releasedir, .fsyncdir = cf_fsyncdir,
};

static const char *backing;

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *a)
{
	(void)data; (void)a;
	if (key == FUSE_OPT_KEY_NONOPT && !backing) { backing = arg; return 0; }
	return 1;
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	static const struct fuse_opt opts[] = {
		{ "cut_at=%lu", 0, 0 }, FUSE_OPT_END
	};
	struct stat st;
	int rc;

	if (fuse_opt_parse(&args, &fs.cut_at, opts, opt_proc) < 0) return 1;
	if (!backing) {
		fprintf(stderr, "usage: crashfs [-f] [-o cut_at=N] BACKING MOUNTPOINT\n");
		return 1;
	}
	fs.bfd = open(backing, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fs.bfd < 0 || fstat(fs.bfd, &st) < 0) {
		fprintf(stderr, "crashfs: %s: %m\n", backing);
		return 1;
	}
	fs.root = st.st_ino;
	if (mkdirat(fs.bfd, PRIV, 0700) < 0) {
		fprintf(stderr, "crashfs: %s/" PRIV ": %m (left by a crashfs that "
		    "died? remove it)\n", backing);
		return 1;
	}
	if (mkdirat(fs.bfd, PRIV "/data", 0700) < 0 ||
	    mkdirat(fs.bfd, PRIV "/grave", 0700) < 0) {
		fprintf(stderr, "crashfs: %s/" PRIV ": %m\n", backing);
		return 1;
	}
	umask(0);                /* the modes asked for arrive masked already */
	if (fuse_opt_add_arg(&args, getuid() == 0 ?
	    "-odefault_permissions,allow_other" : "-odefault_permissions") < 0)
		return 1;
	rc = fuse_main(args.argc, args.argv, &ops, NULL);
	fuse_opt_free_args(&args);
	return rc;
}
