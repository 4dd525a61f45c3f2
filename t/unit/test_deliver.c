/* test_deliver.c - deliver_run() tells a damaged message file (to bad/)
 * from one that cannot be read for now (deferred, kept) */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "deliver.h"
#include "queue.h"

static char dir[64];
static struct queue *q;
static int mess_fd = -1;

static void setup(void)
{
	char path[128], err[256];
	const char *sub[] = { "new", "mess", "rcpt" };
	size_t i;

	strcpy(dir, "/tmp/test_deliver.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	for (i = 0; i < 3; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, sub[i]);
		cr_assert_eq(mkdir(path, 0700), 0);
	}
	cr_assert_eq(queue_attach(&q, dir, err, sizeof err), 0, "%s", err);
	snprintf(path, sizeof path, "%s/mess", dir);
	mess_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cr_assert_geq(mess_fd, 0);
}

static void teardown(void)
{
	char cmd[128];

	queue_close(q);
	close(mess_fd);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

TestSuite(deliver, .init = setup, .fini = teardown, .timeout = 30);

/* run - deliver_run for recipient 0 of mess/id; the caller frees it */
static struct delivery *run(const char *id)
{
	struct delivery *d = delivery_new(1);

	cr_assert_not_null(d);
	d->transport = -1;
	d->q = q;
	snprintf(d->id, sizeof d->id, "%s", id);
	deliver_run(d);
	return d;
}

Test(deliver, damaged_envelope_is_bad)
{
	struct delivery *d;
	int fd = openat(mess_fd, "DAMAGED", O_WRONLY | O_CREAT | O_EXCL, 0600);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "no envelope here\n\nbody\n", 23), 23);
	close(fd);
	d = run("DAMAGED");
	cr_assert_eq(d->r[0].result.kind, ST_PERM);
	cr_assert_eq(d->r[0].bad, DELIVERY_BAD_MESSAGE);
	delivery_free(d);
}

/* A read error (here EISDIR: the name is a directory) says nothing about
 * the file's content: deferred, never quarantined. */
Test(deliver, read_error_is_temporary)
{
	struct delivery *d;

	cr_assert_eq(mkdirat(mess_fd, "UNREADABLE", 0700), 0);
	d = run("UNREADABLE");
	cr_assert_eq(d->r[0].result.kind, ST_TEMP, "kind %d: %s", d->r[0].result.kind,
	             d->r[0].result.text);
	cr_assert_eq(d->r[0].bad, 0);
	delivery_free(d);
}
