/* test_stream - the stream layer over a socket pair */
#include <criterion/criterion.h>
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "monotonic.h"
#include "stream.h"

static struct stream a, b;

static void pair(void)
{
	int sv[2];

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	stream_init(&a, sv[0]);
	stream_init(&b, sv[1]);
	cr_assert_eq(stream_nonblock(&a, 1), 0);
	cr_assert_eq(stream_nonblock(&b, 1), 0);
}

static void unpair(void)
{
	stream_close(&a);
	stream_close(&b);
}

TestSuite(stream, .init = pair, .fini = unpair);

Test(stream, bytes_both_ways)
{
	char buf[16];
	ssize_t n;

	cr_assert_eq(stream_write_all_deadline(&a, "hello", 5,
	                                       monotonic_ms() + 1000), 0);
	n = stream_read_deadline(&b, buf, sizeof buf, monotonic_ms() + 1000);
	cr_assert_eq(n, 5);
	cr_assert(memcmp(buf, "hello", 5) == 0);
}

Test(stream, nothing_yet_is_eagain)
{
	char buf[4];

	errno = 0;
	cr_assert_eq(stream_read(&a, buf, sizeof buf), -1);
	cr_assert(errno == EAGAIN || errno == EWOULDBLOCK);
}

Test(stream, read_deadline_times_out)
{
	char buf[4];
	long long t0 = monotonic_ms();

	cr_assert_eq(stream_read_deadline(&a, buf, sizeof buf, t0 + 50), -1);
	cr_assert_eq(errno, ETIMEDOUT);
	cr_assert_eq(stream_wait(&a, POLLIN, monotonic_ms() + 20), -1);
	cr_assert_eq(errno, ETIMEDOUT);
}

Test(stream, end_of_stream_and_peer_gone)
{
	char buf[4];

	stream_close(&b);
	cr_assert_eq(stream_read_deadline(&a, buf, sizeof buf,
	                                  monotonic_ms() + 1000), 0);
	/* no SIGPIPE: EPIPE */
	cr_assert_eq(stream_write_all_deadline(&a, "x", 1,
	                                       monotonic_ms() + 1000), -1);
	cr_assert_eq(errno, EPIPE);
}

Test(stream, full_kernel_buffer_times_out)
{
	static char big[1 << 20];

	cr_assert_eq(stream_write_all_deadline(&a, big, sizeof big,
	                                       monotonic_ms() + 50), -1);
	cr_assert_eq(errno, ETIMEDOUT);
}

Test(stream, closed_stream)
{
	char buf[4], err[64];

	cr_assert(stream_open(&a));
	cr_assert_eq(stream_pending(&a), 0);
	stream_close(&a);
	cr_assert_eq(stream_start_tls(&a, NULL, 1, monotonic_ms() + 10, err,
	                              sizeof err), -1);
	cr_assert_eq(errno, EINVAL);
	cr_assert(!stream_open(&a));
	cr_assert_eq(stream_read(&a, buf, sizeof buf), -1);
	cr_assert_eq(errno, EBADF);
	stream_close(&a);                 /* harmless twice */
}
