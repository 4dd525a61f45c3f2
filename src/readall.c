/* readall.c - a whole descriptor or file into one buffer; see readall.h */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "readall.h"

/* readall_fd - see readall.h */
char *readall_fd(int fd, size_t max, size_t *n)
{
	size_t cap = 0, len = 0, want;
	char *buf = NULL, *g;
	ssize_t r;
	int e;

	for (;;) {
		if (len + 1 >= cap) {
			/* doubling: a large file costs log(size) reallocs; at
			 * most max + 2: room for max bytes, the NUL and one byte
			 * more, which (read) means the file is too large */
			want = cap ? cap * 2 : 4096;
			if (max <= SIZE_MAX - 2 && want > max + 2)
				want = max + 2;
			if (want <= cap) {
				errno = EFBIG;
				goto fail;
			}
			if ((g = realloc(buf, want)) == NULL)
				goto fail;
			buf = g;
			cap = want;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto fail;
		if (r == 0)
			break;
		len += (size_t)r;
	}
	buf[len] = '\0';
	*n = len;
	return buf;
fail:
	e = errno;
	free(buf);
	errno = e;
	return NULL;
}

/* readall_path - see readall.h */
char *readall_path(const char *path, size_t max, size_t *n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), e;
	char *buf;

	if (fd < 0)
		return NULL;
	buf = readall_fd(fd, max, n);
	e = errno;
	close(fd);
	errno = e;
	return buf;
}
