/* fs_journal.c - is the file system's journal one that carries a rename
 * with the moved file's fsync?  See fs_journal.h for why that holds on
 * ext4 with a journal, and for what counts as sure. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "fs_journal.h"

enum { EXT_SUPER_MAGIC = 0xEF53 };   /* ext2, ext3 and ext4 alike */

/* device_name - the kernel's name of block device dev ("vda", "loop0",
 * "dm-0"): the last part of the link /sys/dev/block/MAJOR:MINOR */
static int device_name(dev_t dev, char *name, size_t len)
{
	char link[64], target[512];
	const char *slash;
	ssize_t n;

	snprintf(link, sizeof link, "/sys/dev/block/%u:%u", major(dev), minor(dev));
	if ((n = readlink(link, target, sizeof target - 1)) <= 0)
		return -1;
	target[n] = '\0';
	slash = strrchr(target, '/');
	slash = slash ? slash + 1 : target;
	if (*slash == '\0' || strlen(slash) >= len)
		return -1;
	strcpy(name, slash);
	return 0;
}

/* internal_journal - does /proc/fs/jbd2 list "DEVICE-INODE" for device?
 * An external journal is listed under its own device's name alone: it
 * cannot be tied to the file system from there, so it is not found. */
static int internal_journal(const char *device, char *journal, size_t len)
{
	size_t n = strlen(device);
	struct dirent *e;
	DIR *d = opendir("/proc/fs/jbd2");
	int found = 0;

	if (d == NULL)
		return 0;
	while (!found && (e = readdir(d)) != NULL) {
		const char *p = e->d_name + n;

		if (strncmp(e->d_name, device, n) != 0 || *p++ != '-' || *p == '\0')
			continue;
		while (*p >= '0' && *p <= '9')
			p++;
		if (*p == '\0') {
			found = 1;
			if (journal)
				snprintf(journal, len, "%s", e->d_name);
		}
	}
	closedir(d);
	return found;
}

/* options_without_fast_commits - ext4's options for device list no fast
 * commits?  Some kernels show "fc_debug_force" there when the file
 * system has them; later ones show nothing (see superblock_...).  An
 * options file that cannot be read is no. */
static int options_without_fast_commits(const char *device)
{
	char path[320], opts[4096];
	size_t n;
	char *p, *save;
	FILE *f;

	snprintf(path, sizeof path, "/proc/fs/ext4/%s/options", device);
	if ((f = fopen(path, "re")) == NULL)
		return 0;
	n = fread(opts, 1, sizeof opts - 1, f);
	fclose(f);
	opts[n] = '\0';
	if (n == 0)
		return 0;
	for (p = strtok_r(opts, " \n", &save); p; p = strtok_r(NULL, " \n", &save))
		if (strcmp(p, "fc_debug_force") == 0)
			return 0;
	return 1;
}

/* le16, le32 - the superblock's little-endian numbers */
static unsigned le16(const unsigned char *p) { return p[0] | (unsigned)p[1] << 8; }
static unsigned long le32(const unsigned char *p)
{
	return le16(p) | (unsigned long)le16(p + 2) << 16;
}

/* superblock_without_fast_commits - does the superblock of block device
 * dev (named device, so /dev/device) say: a journal, and no fast
 * commits?  Only the superblock says so on every kernel.  Reading it
 * needs the device node and the right to read it (root, at start,
 * before --user): without them, no. */
static int superblock_without_fast_commits(dev_t dev, const char *device)
{
	enum { SB_OFFSET = 1024, SB_MAGIC = 0x38, SB_COMPAT = 0x5C,
	       COMPAT_HAS_JOURNAL = 0x4, COMPAT_FAST_COMMIT = 0x400 };
	unsigned char sb[SB_COMPAT + 4];
	char path[320];
	struct stat st;
	unsigned long compat;
	int fd, ok;

	snprintf(path, sizeof path, "/dev/%s", device);
	/* O_NONBLOCK: should /dev/NAME be a FIFO, the open must not wait */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0)
		return 0;
	/* the node must be that device, not a stale or foreign name */
	ok = fstat(fd, &st) == 0 && S_ISBLK(st.st_mode) && st.st_rdev == dev &&
	     pread(fd, sb, sizeof sb, SB_OFFSET) == (ssize_t)sizeof sb;
	close(fd);
	if (!ok || le16(sb + SB_MAGIC) != EXT_SUPER_MAGIC)
		return 0;
	compat = le32(sb + SB_COMPAT);
	return (compat & COMPAT_HAS_JOURNAL) && !(compat & COMPAT_FAST_COMMIT);
}

/* fs_journal_carries_renames - ext2/3/4 with a journal of its own */
int fs_journal_carries_renames(int dirfd, char *journal, size_t len)
{
	struct statfs fs;
	struct stat st;
	char device[256];

	if (fstatfs(dirfd, &fs) < 0 || fs.f_type != EXT_SUPER_MAGIC ||
	    fstat(dirfd, &st) < 0 ||
	    device_name(st.st_dev, device, sizeof device) < 0)
		return 0;
	return internal_journal(device, journal, len) &&
	       options_without_fast_commits(device) &&
	       superblock_without_fast_commits(st.st_dev, device);
}
