/* test_conncache - the connection cache with clients on socketpairs: what
 * is kept and for whom, the freshest first, the limit, and the reaper's
 * QUIT after the idle time. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conncache.h"

/* connected - a client "connected" to *peer (the other end, blocking) */
static struct smtp_client *connected(int *peer)
{
	struct smtp_client *c = malloc(sizeof *c);
	struct smtp_result r;
	char ehlo[64];
	int sv[2];

	cr_assert_not_null(c);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	smtp_client_init(c, NULL);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	stream_init(&c->io, sv[0]);
	/* the greeting and the EHLO reply, there before they are asked for */
	cr_assert_eq(write(sv[1], "220 x\r\n250 x\r\n", 14), 14);
	cr_assert_eq(smtp_client_handshake(c, "test.example", &r), 0, "%s",
	             r.st.text);
	cr_assert_eq(read(sv[1], ehlo, sizeof ehlo), 19);   /* EHLO ... */
	*peer = sv[1];
	return c;
}

/* heard - what the peer reads within ms (NUL-terminated), "" on nothing */
static const char *heard(int peer, int ms)
{
	static char buf[256];
	struct pollfd p = { peer, POLLIN, 0 };
	ssize_t n = 0;

	if (poll(&p, 1, ms) == 1)
		n = read(peer, buf, sizeof buf - 1);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

/* a connection is taken only under the TLS policy it was opened with */
Test(conncache, kept_per_tls_policy)
{
	struct conncache *cc = conncache_new(4, 60);
	int p1, p2;
	struct smtp_client *a = connected(&p1), *b = connected(&p2);

	cr_assert_not_null(cc);
	conncache_give(cc, "192.0.2.1", 25, "may mx.example", a);
	conncache_give(cc, "192.0.2.1", 25, "verify mx.example", b);
	cr_assert_null(conncache_take(cc, "192.0.2.1", 25, "encrypt mx.example"));
	cr_assert_null(conncache_take(cc, "192.0.2.1", 25, "verify mx2.example"));
	cr_assert_eq(conncache_take(cc, "192.0.2.1", 25, "verify mx.example"), b);
	cr_assert_eq(conncache_take(cc, "192.0.2.1", 25, "may mx.example"), a);
	cr_assert_eq(conncache_idle(cc), 0);
	conncache_free(cc);
	smtp_client_close(a);
	smtp_client_close(b);
	free(a);
	free(b);
	close(p1);
	close(p2);
}

Test(conncache, kept_per_address_and_port)
{
	struct conncache *cc = conncache_new(4, 60);
	int p1, p2;
	struct smtp_client *a = connected(&p1), *b = connected(&p2);

	cr_assert_not_null(cc);
	cr_assert_null(conncache_take(cc, "192.0.2.1", 25, "may"));
	conncache_give(cc, "192.0.2.1", 25, "may", a);
	conncache_give(cc, "192.0.2.1", 2525, "may", b);
	cr_assert_eq(conncache_idle(cc), 2);
	cr_assert_null(conncache_take(cc, "192.0.2.2", 25, "may"));
	cr_assert_eq(conncache_take(cc, "192.0.2.1", 2525, "may"), b);
	cr_assert_eq(conncache_take(cc, "192.0.2.1", 25, "may"), a);
	cr_assert_null(conncache_take(cc, "192.0.2.1", 25, "may"));
	cr_assert_eq(conncache_idle(cc), 0);
	conncache_give(cc, "192.0.2.1", 25, "may", a);
	conncache_give(cc, "192.0.2.1", 25, "may", b);
	conncache_free(cc);                 /* QUITs both: nobody answers */
	cr_assert_str_eq(heard(p1, 3000), "QUIT\r\n");
	cr_assert_str_eq(heard(p2, 3000), "QUIT\r\n");
	close(p1);
	close(p2);
}

Test(conncache, freshest_first)
{
	struct conncache *cc = conncache_new(4, 60);
	int p1, p2;
	struct smtp_client *a = connected(&p1), *b = connected(&p2);

	conncache_give(cc, "192.0.2.1", 25, "may", a);
	usleep(5000);
	conncache_give(cc, "192.0.2.1", 25, "may", b);
	cr_assert_eq(conncache_take(cc, "192.0.2.1", 25, "may"), b);
	cr_assert_eq(conncache_take(cc, "192.0.2.1", 25, "may"), a);
	smtp_client_close(a);
	smtp_client_close(b);
	free(a);
	free(b);
	conncache_free(cc);
	close(p1);
	close(p2);
}

Test(conncache, full_or_closed_is_let_go)
{
	struct conncache *cc = conncache_new(1, 60);
	struct smtp_client *gone = malloc(sizeof *gone);
	int p1, p2;
	struct smtp_client *a = connected(&p1), *b = connected(&p2);

	smtp_client_init(gone, NULL);          /* not connected: just freed */
	conncache_give(cc, "192.0.2.1", 25, "may", gone);
	cr_assert_eq(conncache_idle(cc), 0);
	conncache_give(cc, "192.0.2.1", 25, "may", a);
	conncache_give(cc, "192.0.2.1", 25, "may", b); /* no room: QUIT at once */
	cr_assert_eq(conncache_idle(cc), 1);
	cr_assert_str_eq(heard(p2, 3000), "QUIT\r\n");
	cr_assert_str_eq(heard(p1, 100), "");   /* the kept one hears nothing */
	conncache_free(cc);
	close(p1);
	close(p2);
}

Test(conncache, reaper_quits_the_idle)
{
	struct conncache *cc = conncache_new(4, 1);
	int p1;
	struct smtp_client *a = connected(&p1);

	conncache_give(cc, "192.0.2.1", 25, "may", a);
	cr_assert_str_eq(heard(p1, 500), "");
	cr_assert_str_eq(heard(p1, 5000), "QUIT\r\n");
	cr_assert_eq(conncache_idle(cc), 0);
	conncache_free(cc);
	close(p1);
}

Test(conncache, keeps_nothing_when_max_is_zero)
{
	struct conncache *cc = conncache_new(0, 60);
	int p1;
	struct smtp_client *a = connected(&p1);

	conncache_give(cc, "192.0.2.1", 25, "may", a);
	cr_assert_eq(conncache_idle(cc), 0);
	cr_assert_str_eq(heard(p1, 3000), "QUIT\r\n");
	conncache_free(cc);
	close(p1);
}

Test(conncache, an_old_connection_is_not_kept)
{
	struct conncache *cc = conncache_new(4, 60);
	int p1, p2;
	struct smtp_client *old = connected(&p1), *young = connected(&p2);

	old->opened_ms -= CONNCACHE_MAX_AGE_MS;   /* opened that long ago */
	young->opened_ms -= CONNCACHE_MAX_AGE_MS - 60 * 1000;
	conncache_give(cc, "192.0.2.1", 25, "may", old);
	cr_assert_eq(conncache_idle(cc), 0, "past its age: not kept");
	cr_assert_str_eq(heard(p1, 3000), "QUIT\r\n");
	conncache_give(cc, "192.0.2.1", 25, "may", young);
	cr_assert_eq(conncache_idle(cc), 1, "a minute short of it: kept");
	cr_assert_str_eq(heard(p2, 100), "");
	conncache_free(cc);
	close(p1);
	close(p2);
}
