/* test_wbuf - the sticky-error writer: bytes arrive whole and in order
 * through the buffer and around it, the first error sticks and is the
 * one reported, an error from elsewhere (wbuf_fail) sticks the same way. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "wbuf.h"

/* tmpfile_fd - an empty unlinked file to write to */
static int tmpfile_fd(void)
{
	char path[] = "/tmp/test_wbuf.XXXXXX";
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	unlink(path);
	return fd;
}

/* contents - what fd holds, at most cap bytes into out; the length */
static size_t contents(int fd, char *out, size_t cap)
{
	ssize_t r = pread(fd, out, cap, 0);

	cr_assert_geq(r, 0);
	return (size_t)r;
}

Test(wbuf, small_pieces_wait_for_flush)
{
	char buf[16], got[64];
	struct wbuf w;
	int fd = tmpfile_fd();

	wbuf_init(&w, fd, buf, sizeof buf);
	wbuf_puts(&w, "hello, ");
	cr_assert_eq(contents(fd, got, sizeof got), 0, "nothing before the buffer fills");
	wbuf_puts(&w, "world");
	cr_assert_eq(wbuf_flush(&w), 0);
	cr_assert_eq(contents(fd, got, sizeof got), 12);
	cr_assert_arr_eq(got, "hello, world", 12);
	close(fd);
}

Test(wbuf, through_and_around_the_buffer_in_order)
{
	char buf[8], got[256], want[256];
	struct wbuf w;
	size_t n = 0;
	int fd = tmpfile_fd();

	wbuf_init(&w, fd, buf, sizeof buf);
	for (int i = 0; i < 40; i++) {      /* pieces of 1 to 12 bytes */
		size_t k = (size_t)(i % 12) + 1;
		char piece[12];

		for (size_t j = 0; j < k; j++)
			piece[j] = (char)('a' + (n + j) % 26);
		memcpy(want + n, piece, k);
		n += k;
		wbuf_put(&w, piece, k);
	}
	cr_assert_eq(wbuf_flush(&w), 0);
	cr_assert_eq(contents(fd, got, sizeof got), n);
	cr_assert_arr_eq(got, want, n);
	close(fd);
}

Test(wbuf, first_error_sticks)
{
	char buf[4];
	struct wbuf w;
	int fd = open("/dev/full", O_WRONLY | O_CLOEXEC);

	cr_assert_geq(fd, 0, "/dev/full: %s", strerror(errno));
	wbuf_init(&w, fd, buf, sizeof buf);
	wbuf_puts(&w, "abcdefgh");          /* fills the buffer: ENOSPC */
	cr_assert_eq(w.err, ENOSPC);
	close(fd);
	w.fd = -1;                          /* a later write would be EBADF */
	wbuf_puts(&w, "more");
	cr_assert_eq(w.len, 0, "puts after an error are skipped");
	errno = 0;
	cr_assert_eq(wbuf_flush(&w), -1);
	cr_assert_eq(errno, ENOSPC, "the first error is reported");
}

Test(wbuf, fail_is_sticky_and_drops_the_rest)
{
	char buf[16], got[16];
	struct wbuf w;
	int fd = tmpfile_fd();

	wbuf_init(&w, fd, buf, sizeof buf);
	wbuf_puts(&w, "kept?");
	wbuf_fail(&w, EIO);
	wbuf_fail(&w, ENOSPC);              /* the first one stays */
	wbuf_puts(&w, "no");
	errno = 0;
	cr_assert_eq(wbuf_flush(&w), -1);
	cr_assert_eq(errno, EIO);
	cr_assert_eq(contents(fd, got, sizeof got), 0, "nothing written after a failure");
	close(fd);
}
