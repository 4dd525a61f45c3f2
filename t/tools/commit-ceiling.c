/* commit-ceiling - how many new files per second THREADS writers can make
 * durable on the file system of DIR: the ceiling of a server that answers
 * each message only once it is on disk, with that many clients each
 * waiting for its answer before it sends the next message.
 *
 *   commit-ceiling DIR THREADS FILES SIZE
 *
 * Each thread, for its share of FILES: creates DIR/tmp/T.N exclusively,
 * writes SIZE bytes in one write(), renames it to DIR/new/T.N, fdatasyncs
 * it and closes it; then the next.  That is the least a receiver can do to
 * make a message durable in a queue directory with a name of its own (no
 * fsync of new/: on ext4's ordered journal the fdatasync's commit carries
 * the rename).  mta-smtpd does this and more per message (the SMTP
 * conversation, its envelope, a share of an fsync of new/), so its rate
 * with THREADS sessions cannot exceed this one on the same file system.
 *
 * Prints "files N seconds S rate R" (R files per second, from the first
 * create to the last close) and exits 0; 1 on a failed call, with the
 * call and errno on stderr.  The files are left in DIR/new. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int tmp_fd, new_fd;
static long per_thread;
static size_t size;
static char *body;

/* now - the monotonic clock, in seconds */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* fail - say which call failed on what, and exit 1 */
static void fail(const char *what, const char *name)
{
	fprintf(stderr, "commit-ceiling: %s %s: %s\n", what, name, strerror(errno));
	exit(1);
}

/* writer - thread arg's share of the files, one durable file at a time */
static void *writer(void *arg)
{
	long t = (long)arg, i;
	char name[64];
	int fd;

	for (i = 0; i < per_thread; i++) {
		snprintf(name, sizeof name, "%ld.%ld", t, i);
		fd = openat(tmp_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			fail("create", name);
		if (write(fd, body, size) != (ssize_t)size)
			fail("write", name);
		if (renameat(tmp_fd, name, new_fd, name) < 0)
			fail("rename", name);
		if (fdatasync(fd) < 0)
			fail("fdatasync", name);
		if (close(fd) < 0)
			fail("close", name);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t *tid;
	long threads, files, t;
	char path[4096];
	double t0, t1;

	if (argc != 5 || (threads = atol(argv[2])) <= 0 ||
	    (files = atol(argv[3])) <= 0 || atol(argv[4]) <= 0) {
		fprintf(stderr, "usage: commit-ceiling DIR THREADS FILES SIZE\n");
		return 2;
	}
	size = (size_t)atol(argv[4]);
	per_thread = (files + threads - 1) / threads;
	if ((body = malloc(size)) == NULL || (tid = calloc((size_t)threads, sizeof *tid)) == NULL)
		fail("malloc", "");
	memset(body, 'x', size);
	snprintf(path, sizeof path, "%s/tmp", argv[1]);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		fail("mkdir", path);
	if ((tmp_fd = open(path, O_RDONLY | O_DIRECTORY)) < 0)
		fail("open", path);
	snprintf(path, sizeof path, "%s/new", argv[1]);
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		fail("mkdir", path);
	if ((new_fd = open(path, O_RDONLY | O_DIRECTORY)) < 0)
		fail("open", path);
	t0 = now();
	for (t = 0; t < threads; t++)
		if ((errno = pthread_create(&tid[t], NULL, writer, (void *)t)) != 0)
			fail("pthread_create", "");
	for (t = 0; t < threads; t++)
		pthread_join(tid[t], NULL);
	t1 = now();
	printf("files %ld seconds %.3f rate %.1f\n", per_thread * threads, t1 - t0,
	       (double)(per_thread * threads) / (t1 - t0));
	return 0;
}
