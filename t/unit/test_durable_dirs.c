/* test_durable_dirs.c - the set of directories known durable: nothing is
 * known at first; a noted directory is known, by device and inode
 * together; many survive the table's growth; threads noting at once lose
 * none; local_io_opendir notes what it made and what it found, so that a
 * directory's first use in a process, and only the first, syncs the
 * directory above. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "durable_dirs.h"
#include "local_io.h"

/* dir_stat - a directory's identity: device and inode, born at 1000 */
static struct durable_dir dir_stat(dev_t dev, ino_t ino)
{
	struct durable_dir id;

	memset(&id, 0, sizeof id);
	id.dev = dev;
	id.ino = ino;
	id.btime_sec = 1000;
	return id;
}

Test(durable_dirs, noted_is_known_by_device_and_inode)
{
	struct durable_dir a = dir_stat(1, 1000), b = dir_stat(2, 1000), c = dir_stat(1, 1001);
	struct durable_dir d = dir_stat(1, 1000);

	cr_assert_eq(durable_dirs_known(&a), 0, "nothing is known at first");
	durable_dirs_note(&a);
	cr_assert_eq(durable_dirs_known(&a), 1);
	cr_assert_eq(durable_dirs_known(&b), 0, "same inode, other device");
	cr_assert_eq(durable_dirs_known(&c), 0, "same device, other inode");
	d.btime_nsec = 1;
	cr_assert_eq(durable_dirs_known(&d), 0, "same inode, born later: made again");
	durable_dirs_note(&a);               /* noted twice: still one */
	cr_assert_eq(durable_dirs_known(&a), 1);
}

Test(durable_dirs, many_survive_growth)
{
	struct durable_dir st;
	ino_t i;

	for (i = 1; i <= 100000; i++) {
		st = dir_stat(7, i * 4096);
		durable_dirs_note(&st);
	}
	for (i = 1; i <= 100000; i++) {
		st = dir_stat(7, i * 4096);
		cr_assert_eq(durable_dirs_known(&st), 1, "inode %lu lost", (unsigned long)i);
	}
	st = dir_stat(7, 4096 * 100001);
	cr_assert_eq(durable_dirs_known(&st), 0);
}

/* note_range - a thread noting inodes base .. base+9999 on device 9 */
static void *note_range(void *arg)
{
	ino_t base = (ino_t)(size_t)arg, i;
	struct durable_dir st;

	for (i = 0; i < 10000; i++) {
		st = dir_stat(9, base + i);
		durable_dirs_note(&st);
	}
	return NULL;
}

Test(durable_dirs, threads_lose_nothing)
{
	pthread_t t[4];
	struct durable_dir st;
	ino_t i;
	size_t k;

	for (k = 0; k < 4; k++)
		cr_assert_eq(pthread_create(&t[k], NULL, note_range, (void *)(k * 10000)), 0);
	for (k = 0; k < 4; k++)
		pthread_join(t[k], NULL);
	for (i = 0; i < 40000; i++) {
		st = dir_stat(9, i);
		cr_assert_eq(durable_dirs_known(&st), 1, "inode %lu lost", (unsigned long)i);
	}
}

/* known_at - is dirfd/name a directory noted durable? */
static int known_at(int dirfd, const char *name)
{
	struct durable_dir id;
	int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC), known;

	cr_assert_geq(fd, 0);
	cr_assert_eq(durable_dirs_id(fd, &id), 0, "no birth time: the test needs one");
	known = durable_dirs_known(&id);
	close(fd);
	return known;
}

Test(durable_dirs, opendir_notes_what_it_made_and_found)
{
	char dir[] = "/tmp/mta-unit-dd.XXXXXX";
	int top, fd;

	cr_assert_not_null(mkdtemp(dir));
	top = open(dir, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(top, 0);
	/* found: made by someone else (another thread), never synced by us */
	cr_assert_eq(mkdirat(top, "found", 0700), 0);
	cr_assert_eq(known_at(top, "found"), 0);
	fd = local_io_opendir(top, "found", 1, NULL);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(known_at(top, "found"), 1, "a directory found is noted once its parent is synced");
	/* made here */
	fd = local_io_opendir(top, "made", 1, NULL);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(known_at(top, "made"), 1, "a directory made is noted once its parent is synced");
	/* not made when create is 0, and nothing noted */
	cr_assert_eq(local_io_opendir(top, "absent", 0, NULL), -1);
	unlinkat(top, "found", AT_REMOVEDIR);
	unlinkat(top, "made", AT_REMOVEDIR);
	close(top);
	rmdir(dir);
}

/* remade_on_its_inode - make dirfd/name (noted durable, as mta makes a
 * mailbox), remove it and make it again a clock tick later, until the new
 * one has the old one's inode number: 1 then, 0 if it never does.  ext4
 * gives the freed number back at once, but any other program making or
 * removing files on the same file system meanwhile (a second test job, a
 * loaded build machine) may take it or free a lower one, so one try is not
 * enough (under a busy loop making and removing files here it took up to
 * 50); a try that misses is not a result. */
static int remade_on_its_inode(int dirfd, const char *name)
{
	struct stat before, after;
	int fd, tries;

	for (tries = 0; tries < 300; tries++) {
		fd = local_io_opendir(dirfd, name, 1, NULL);
		cr_assert_geq(fd, 0);
		close(fd);
		cr_assert_eq(known_at(dirfd, name), 1);
		cr_assert_eq(fstatat(dirfd, name, &before, 0), 0);
		cr_assert_eq(unlinkat(dirfd, name, AT_REMOVEDIR), 0);
		/* a birth time has the clock tick of the file system: a tick
		 * later */
		usleep(20000);
		cr_assert_eq(mkdirat(dirfd, name, 0700), 0);
		cr_assert_eq(fstatat(dirfd, name, &after, 0), 0);
		if (after.st_ino == before.st_ino)
			return 1;
		cr_assert_eq(unlinkat(dirfd, name, AT_REMOVEDIR), 0);
	}
	return 0;
}

/* a mailbox removed and made again by another program gets the same
 * inode number at once (ext4): it is a new directory, its name not known
 * durable.  Where the number never comes back (another file system) the
 * case cannot be made: a skip, not a warning, for Criterion's runner
 * counts a warning as a failure of the whole run (exit 1 with every test
 * ok). */
Test(durable_dirs, a_directory_made_again_is_not_known)
{
	char dir[] = "/tmp/mta-unit-dd.XXXXXX";
	int top, remade;

	cr_assert_not_null(mkdtemp(dir));
	top = open(dir, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(top, 0);
	remade = remade_on_its_inode(top, "bob");
	if (remade)
		cr_expect_eq(known_at(top, "bob"), 0, "a new directory under an old inode number");
	unlinkat(top, "bob", AT_REMOVEDIR);
	close(top);
	rmdir(dir);
	if (!remade)
		cr_skip_test("the inode number of a directory removed is never given again here");
}
