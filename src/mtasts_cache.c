/* mtasts_cache.c - policies in QUEUE/sts; see mtasts_cache.h */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mtasts_cache.h"
#include "queue.h"

/* the cache file of a policy with MTASTS_MX_MAX patterns of the longest
 * name ("mx: " NAME "\n") and the other lines fits; on the heap, since
 * a delivery thread's stack is small */
enum { CACHE_FILE_MAX = MTASTS_MX_MAX * (MTASTS_NAME_MAX + 8) + 512 };

/* tmp_seq - makes each temporary name of this process unique across
 * threads; atomic, no lock */
static atomic_uint tmp_seq;

/* safe_domain - a name fit to be a file name (see the header) */
static int safe_domain(const char *d)
{
	size_t i;

	if (d[0] == '\0' || d[0] == '.' || strlen(d) >= MTASTS_NAME_MAX)
		return 0;
	for (i = 0; d[i]; i++)
		if (!(islower((unsigned char)d[i]) || isdigit((unsigned char)d[i]) ||
		      d[i] == '-' || d[i] == '.'))
			return 0;
	return 1;
}

/* mtasts_cache_load - read and parse QUEUE/sts/DOMAIN */
int mtasts_cache_load(const char *queue, const char *domain,
                      struct mtasts_policy *p)
{
	char path[PATH_MAX], *text;
	ssize_t n;
	int fd, r = -1;

	if (!safe_domain(domain) ||
	    snprintf(path, sizeof path, "%s/sts/%s", queue, domain) >= (int)sizeof path)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	if ((text = malloc(CACHE_FILE_MAX)) == NULL) {
		close(fd);
		return -1;
	}
	n = read(fd, text, CACHE_FILE_MAX);
	close(fd);
	if (n > 0 && n < CACHE_FILE_MAX)
		r = mtasts_cache_parse(text, (size_t)n, p);
	free(text);
	return r;
}

/* write_all - the whole buffer; 0 or -1 */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* sync_dir - fsync of directory path; 0 or -1 with errno */
static int sync_dir(const char *path)
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

/* write_file - temporary file, fsync, rename, fsync of the directory;
 * text[CACHE_FILE_MAX] is the caller's */
static int write_file(const char *queue, const char *domain,
                      const struct mtasts_policy *p, char *text)
{
	char dir[PATH_MAX], tmp[PATH_MAX], path[PATH_MAX];
	int len, fd, err;

	/* the temporary name holds no domain: ".DOMAIN.tmp.PID.N" passed
	 * NAME_MAX (255) for domains past about 235 characters */
	if (!safe_domain(domain) ||
	    (len = mtasts_cache_format(p, text, CACHE_FILE_MAX)) < 0 ||
	    snprintf(dir, sizeof dir, "%s/sts", queue) >= (int)sizeof dir ||
	    snprintf(path, sizeof path, "%s/%s", dir, domain) >= (int)sizeof path ||
	    snprintf(tmp, sizeof tmp, "%s/.tmp.%ld.%u", dir, (long)getpid(),
	             atomic_fetch_add(&tmp_seq, 1)) >= (int)sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (queue_mkdir_durable(dir, 0700) < 0)
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)
		return -1;
	if (write_all(fd, text, (size_t)len) < 0 || fsync(fd) < 0) {
		err = errno;
		close(fd);
		unlink(tmp);
		errno = err;
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		err = errno;
		unlink(tmp);
		errno = err;
		return -1;
	}
	/* the new name durable: without it a power cut may bring the old
	 * policy (or none) back */
	return sync_dir(dir);
}

/* mtasts_cache_clean - every name starting with '.': no domain does */
void mtasts_cache_clean(const char *queue)
{
	char dir[PATH_MAX], path[PATH_MAX];
	struct dirent *e;
	DIR *d;

	if (snprintf(dir, sizeof dir, "%s/sts", queue) >= (int)sizeof dir ||
	    (d = opendir(dir)) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.' || strcmp(e->d_name, ".") == 0 ||
		    strcmp(e->d_name, "..") == 0)
			continue;
		if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path)
			unlink(path);
	}
	closedir(d);
}

/* mtasts_cache_store - write_file with a buffer of its own */
int mtasts_cache_store(const char *queue, const char *domain,
                       const struct mtasts_policy *p)
{
	char *text;
	int err, r;

	if ((text = malloc(CACHE_FILE_MAX)) == NULL)
		return -1;
	r = write_file(queue, domain, p, text);
	err = errno;
	free(text);
	errno = err;
	return r;
}
