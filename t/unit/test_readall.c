/* test_readall - a whole descriptor or file into one buffer: every byte
 * (NULs too) across the buffer's growth, NUL-terminated, an empty file,
 * the limit (EFBIG, nothing kept), and open's error kept in errno. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "readall.h"

/* tmp_with - an unlinked file holding len bytes of data, at offset 0;
 * its path (unlinked unless keep) in path */
static int tmp_with(const char *data, size_t len, char *path, int keep)
{
	int fd;

	strcpy(path, "/tmp/test_readall.XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, data, len), (ssize_t)len);
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	if (!keep)
		unlink(path);
	return fd;
}

Test(readall, large_file_whole_and_terminated)
{
	size_t len = 100000, n = 0, i;
	char *data = malloc(len), *got, path[64];
	int fd;

	cr_assert_not_null(data);
	for (i = 0; i < len; i++)
		data[i] = (char)(i % 251);   /* NULs among them */
	fd = tmp_with(data, len, path, 0);
	got = readall_fd(fd, 1 << 20, &n);
	cr_assert_not_null(got);
	cr_assert_eq(n, len);
	cr_assert_eq(memcmp(got, data, len), 0);
	cr_assert_eq(got[len], '\0');
	free(got);
	free(data);
	close(fd);
}

Test(readall, rest_of_fd_from_its_offset)
{
	char path[64], *got;
	size_t n;
	int fd = tmp_with("skip:rest", 9, path, 0);

	cr_assert_eq(lseek(fd, 5, SEEK_SET), 5);
	got = readall_fd(fd, 100, &n);
	cr_assert_str_eq(got, "rest");
	cr_assert_eq(n, 4);
	free(got);
	close(fd);
}

Test(readall, empty_file_is_an_empty_string)
{
	char path[64], *got;
	size_t n = 99;
	int fd = tmp_with("", 0, path, 1);

	close(fd);
	got = readall_path(path, 100, &n);
	unlink(path);
	cr_assert_not_null(got);
	cr_assert_eq(n, 0);
	cr_assert_eq(got[0], '\0');
	free(got);
}

Test(readall, past_the_limit_efbig)
{
	char data[10000], path[64];
	size_t n;
	int fd;

	memset(data, 'x', sizeof data);
	fd = tmp_with(data, sizeof data, path, 0);
	errno = 0;
	cr_assert_null(readall_fd(fd, 5000, &n));
	cr_assert_eq(errno, EFBIG);
	close(fd);
	/* one byte over: refused; exactly at the limit: whole */
	fd = tmp_with(data, sizeof data, path, 0);
	cr_assert_null(readall_fd(fd, sizeof data - 1, &n));
	cr_assert_eq(errno, EFBIG);
	close(fd);
	fd = tmp_with(data, sizeof data, path, 0);
	free(readall_fd(fd, sizeof data, &n));
	cr_assert_eq(n, sizeof data);
	close(fd);
}

Test(readall, missing_file_enoent)
{
	size_t n;

	errno = 0;
	cr_assert_null(readall_path("/nonexistent/test_readall", 100, &n));
	cr_assert_eq(errno, ENOENT);
}
