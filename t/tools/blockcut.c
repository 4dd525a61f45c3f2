/* blockcut - a disk whose write cache is lost when the power fails, as a
 * FUSE file system holding one disk image.
 *
 *   blockcut [-f] [-o cut_at=N] IMAGE MOUNTPOINT [fuse options]
 *
 * MOUNTPOINT/disk is IMAGE's content, held in memory.  A loop device on
 * it (losetup) puts a real file system, ext4 with its journal, on top:
 * crashfs (crashfs.c) models what POSIX promises a program, blockcut
 * what a disk promises a file system, so a program that counts on more
 * than POSIX (mta-smtpd, where ext4's journal orders its renames) can be
 * cut as the real file system would be.
 *
 * The model is a disk with a volatile write cache.  A write reaches the
 * cache; a flush makes everything written before it durable (everything
 * that reached blockcut before it: a write issued after the flush that
 * overtook it counts too, as a real disk may let it).  The loop
 * driver turns a flush request into an fsync of the file it sits on, and
 * a write with FUA (which it does not offer) comes as a write and then a
 * flush, so each fsync of MOUNTPOINT/disk is a flush.  At a cut the image
 * goes back to what the flushes made durable; with "keep SEED" each 4 KiB
 * block written since the last flush also survives, with its last
 * content, with probability 1/2 (a cache writes back in any order).  A
 * 4 KiB block is never torn: make the file system with 4 KiB blocks.
 * The cut writes that image to IMAGE and syncs it; from then on the disk
 * answers EIO.  Unmounting without a cut writes all of it (a clean
 * shutdown).
 *
 * Control file MOUNTPOINT/ctl.  Reading it gives
 *   "flushes N\ncut 0|1\nunflushed U\nkept K\n"
 * (U: blocks written since the last flush; K: how many of them the cut
 * kept).  Writing "cut" cuts now; "cut-at N" (or -o cut_at=N) makes the
 * Nth flush the moment of the cut (it answers EIO and does not take
 * effect); "keep SEED" sets the seed of the blocks kept (0, the default:
 * none).
 *
 * Threads: libfuse's multithreaded loop; one mutex guards the image and
 * the bookkeeping.
 */
#define FUSE_USE_VERSION 31
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { BLOCK = 4096 };

static struct {
	pthread_mutex_t lock;
	const char *image;
	unsigned char *cur;       /* what reads see: the cache over the disk */
	unsigned char *dur;       /* what the flushes made durable */
	size_t size, nblocks;
	unsigned char *dirty;     /* per block: written since the last flush */
	size_t *written;          /* those blocks, nwritten of them */
	size_t nwritten;
	unsigned long flushes, cut_at, kept;
	uint64_t seed;
	int cut;
} d = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* save - write buf (the whole image) to IMAGE and sync it; 0 or -1 */
static int save(const unsigned char *buf)
{
	int fd = open(d.image, O_WRONLY | O_CLOEXEC);
	size_t done = 0;

	if (fd < 0)
		return -1;
	while (done < d.size) {
		ssize_t n = pwrite(fd, buf + done, d.size - done, (off_t)done);
		if (n <= 0) {
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	if (fsync(fd) < 0) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* next_random - splitmix64 on the seed: a small seed (a shell's
 * $RANDOM) still gives well-mixed choices from the first block on */
static uint64_t next_random(void)
{
	uint64_t z = (d.seed += 0x9E3779B97F4A7C15ULL);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

/* power_fails - the cut; lock held */
static void power_fails(void)
{
	int keep = d.seed != 0;
	size_t i;

	for (i = 0; i < d.nwritten; i++) {
		size_t b = d.written[i];

		if (keep && (next_random() >> 63)) {
			memcpy(d.dur + b * BLOCK, d.cur + b * BLOCK, BLOCK);
			d.kept++;
		}
	}
	d.cut = 1;
	if (save(d.dur) < 0)
		fprintf(stderr, "blockcut: writing %s at the cut: %m\n", d.image);
}

/* flush - what was written becomes durable; lock held; 0 or -EIO */
static int flush(void)
{
	size_t i;

	if (d.cut)
		return -EIO;
	if (++d.flushes == d.cut_at) {
		power_fails();
		return -EIO;
	}
	for (i = 0; i < d.nwritten; i++) {
		size_t b = d.written[i];

		memcpy(d.dur + b * BLOCK, d.cur + b * BLOCK, BLOCK);
		d.dirty[b] = 0;
	}
	d.nwritten = 0;
	return 0;
}

static int is(const char *path, const char *name)
{
	return path[0] == '/' && strcmp(path + 1, name) == 0;
}

static int bc_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	(void)fi;
	memset(st, 0, sizeof *st);
	if (strcmp(path, "/") == 0) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
	} else if (is(path, "disk")) {
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		st->st_size = (off_t)d.size;
	} else if (is(path, "ctl")) {
		st->st_mode = S_IFREG | 0600;
		st->st_nlink = 1;
		st->st_size = 4096;    /* read in one go; the text is shorter */
	} else {
		return -ENOENT;
	}
	return 0;
}

static int bc_readdir(const char *path, void *buf, fuse_fill_dir_t fill,
    off_t off, struct fuse_file_info *fi, enum fuse_readdir_flags fl)
{
	(void)off; (void)fi; (void)fl;
	if (strcmp(path, "/") != 0)
		return -ENOENT;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	fill(buf, "disk", NULL, 0, 0);
	fill(buf, "ctl", NULL, 0, 0);
	return 0;
}

static int bc_open(const char *path, struct fuse_file_info *fi)
{
	if (!is(path, "disk") && !is(path, "ctl"))
		return -ENOENT;
	fi->direct_io = 1;       /* every write reaches us, in order */
	return 0;
}

static int bc_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	(void)fi;
	/* "echo cut >ctl" truncates first; the disk keeps its size */
	return is(path, "ctl") || (is(path, "disk") && (size_t)size == d.size) ? 0 : -EPERM;
}

static int bc_read(const char *path, char *buf, size_t n, off_t off,
    struct fuse_file_info *fi)
{
	int r;

	(void)fi;
	pthread_mutex_lock(&d.lock);
	if (is(path, "ctl")) {
		char text[200];
		int len = snprintf(text, sizeof text, "flushes %lu\ncut %d\nunflushed %zu\nkept %lu\n",
		                   d.flushes, d.cut, d.nwritten, d.kept);

		r = off < 0 || off >= len ? 0 : (int)((size_t)(len - off) < n ? (size_t)(len - off) : n);
		if (r > 0)
			memcpy(buf, text + off, (size_t)r);
	} else if (d.cut) {
		r = -EIO;
	} else if (off < 0 || (size_t)off >= d.size) {
		r = 0;
	} else {
		if (n > d.size - (size_t)off)
			n = d.size - (size_t)off;
		memcpy(buf, d.cur + off, n);
		r = (int)n;
	}
	pthread_mutex_unlock(&d.lock);
	return r;
}

/* control - one command written to ctl; lock held */
static int control(const char *cmd)
{
	unsigned long long v;

	if (strcmp(cmd, "cut") == 0) {
		if (!d.cut)
			power_fails();
	} else if (sscanf(cmd, "cut-at %llu", &v) == 1) {
		d.cut_at = (unsigned long)v;
	} else if (sscanf(cmd, "keep %llu", &v) == 1) {
		d.seed = v;
	} else {
		return -EINVAL;
	}
	return 0;
}

static int bc_write(const char *path, const char *buf, size_t n, off_t off,
    struct fuse_file_info *fi)
{
	int r = (int)n;

	(void)fi;
	pthread_mutex_lock(&d.lock);
	if (is(path, "ctl")) {
		char cmd[64];
		size_t len = n < sizeof cmd - 1 ? n : sizeof cmd - 1;

		memcpy(cmd, buf, len);
		cmd[len] = 0;
		cmd[strcspn(cmd, "\n")] = 0;
		if (control(cmd) < 0)
			r = -EINVAL;
	} else if (d.cut) {
		r = -EIO;
	} else if (off < 0 || (size_t)off >= d.size || n > d.size - (size_t)off) {
		r = -ENOSPC;
	} else if (n > 0) {
		size_t b;

		for (b = (size_t)off / BLOCK; b <= ((size_t)off + n - 1) / BLOCK; b++)
			if (!d.dirty[b]) {
				d.dirty[b] = 1;
				d.written[d.nwritten++] = b;
			}
		memcpy(d.cur + off, buf, n);
	}
	pthread_mutex_unlock(&d.lock);
	return r;
}

static int bc_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	int r = 0;

	(void)datasync; (void)fi;
	if (is(path, "disk")) {
		pthread_mutex_lock(&d.lock);
		r = flush();
		pthread_mutex_unlock(&d.lock);
	}
	return r;
}

static void *bc_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	(void)conn;
	cfg->entry_timeout = cfg->attr_timeout = cfg->negative_timeout = 0;
	cfg->direct_io = 1;
	return NULL;
}

static void bc_destroy(void *data)
{
	(void)data;
	pthread_mutex_lock(&d.lock);
	if (!d.cut && save(d.cur) < 0)     /* a clean shutdown keeps it all */
		fprintf(stderr, "blockcut: writing %s: %m\n", d.image);
	pthread_mutex_unlock(&d.lock);
}

static const struct fuse_operations ops = {
	.init = bc_init, .destroy = bc_destroy, .getattr = bc_getattr,
	.readdir = bc_readdir, .open = bc_open, .truncate = bc_truncate,
	.read = bc_read, .write = bc_write, .fsync = bc_fsync,
};

static int opt_proc(void *data, const char *arg, int key, struct fuse_args *a)
{
	(void)data; (void)a;
	if (key == FUSE_OPT_KEY_NONOPT && !d.image) {
		d.image = arg;
		return 0;
	}
	return 1;
}

/* load - IMAGE into memory, as durable and as cached; 0 or -1 */
static int load(void)
{
	struct stat st;
	size_t done = 0;
	int fd = open(d.image, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0)
		return -1;
	if (st.st_size <= 0 || st.st_size % BLOCK != 0) {
		errno = EINVAL;          /* whole blocks only */
		return -1;
	}
	d.size = (size_t)st.st_size;
	d.nblocks = d.size / BLOCK;
	d.cur = malloc(d.size);
	d.dur = malloc(d.size);
	d.dirty = calloc(d.nblocks, 1);
	d.written = calloc(d.nblocks, sizeof *d.written);
	if (!d.cur || !d.dur || !d.dirty || !d.written)
		return -1;
	while (done < d.size) {
		ssize_t n = pread(fd, d.cur + done, d.size - done, (off_t)done);
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	memcpy(d.dur, d.cur, d.size);
	return close(fd);
}

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	static const struct fuse_opt opts[] = {
		{ "cut_at=%lu", 0, 0 }, FUSE_OPT_END
	};
	char *path;
	int rc;

	if (fuse_opt_parse(&args, &d.cut_at, opts, opt_proc) < 0)
		return 1;
	if (!d.image) {
		fprintf(stderr, "usage: blockcut [-f] [-o cut_at=N] IMAGE MOUNTPOINT\n");
		return 1;
	}
	/* libfuse may leave the working directory: the cut needs the path */
	if ((path = realpath(d.image, NULL)) == NULL) {
		fprintf(stderr, "blockcut: %s: %m\n", d.image);
		return 1;
	}
	d.image = path;
	if (load() < 0) {
		fprintf(stderr, "blockcut: %s: %m\n", d.image);
		return 1;
	}
	/* the loop device's I/O comes from the kernel's threads */
	if (getuid() == 0 && fuse_opt_add_arg(&args, "-oallow_other") < 0)
		return 1;
	rc = fuse_main(args.argc, args.argv, &ops, NULL);
	fuse_opt_free_args(&args);
	return rc;
}
