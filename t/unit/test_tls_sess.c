/* test_tls_sess - the client's session cache (tls_sess.h): one session
 * per key, TLS 1.3 ones handed out once, TLS 1.2 ones kept, a dropped or
 * expired one gone, the bound on the keys kept.  The sessions are made
 * here with an id (what makes them resumable), no handshake needed. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <time.h>

#include <openssl/ssl.h>

#include "tls_sess.h"

/* session - a resumable session of version v, made `age` seconds ago
 * and good for `timeout` seconds */
static SSL_SESSION *session(int v, long age, long timeout)
{
	SSL_SESSION *s = SSL_SESSION_new();
	static unsigned char n;
	unsigned char id[8] = { 1, 2, 3, 4, 5, 6, 7, ++n };

	cr_assert_not_null(s);
	cr_assert_eq(SSL_SESSION_set_protocol_version(s, v), 1);
	cr_assert_eq(SSL_SESSION_set1_id(s, id, sizeof id), 1);
	SSL_SESSION_set_time(s, (long)time(NULL) - age);
	SSL_SESSION_set_timeout(s, timeout);
	return s;
}

Test(tls_sess, a_tls12_session_stays_for_each_connection)
{
	struct tls_sess_cache *c = tls_sess_cache_new();
	SSL_SESSION *s = session(TLS1_2_VERSION, 0, 300), *got;

	tls_sess_put(c, "a", s);
	got = tls_sess_get(c, "a");
	cr_assert_eq(got, s);
	SSL_SESSION_free(got);
	got = tls_sess_get(c, "a");
	cr_assert_eq(got, s, "a TLS 1.2 session is offered again");
	SSL_SESSION_free(got);
	cr_assert_null(tls_sess_get(c, "b"), "never under another key");
	tls_sess_drop(c, "a");
	cr_assert_null(tls_sess_get(c, "a"), "dropped: gone");
	tls_sess_cache_free(c);
}

Test(tls_sess, a_tls13_ticket_is_handed_out_once)
{
	struct tls_sess_cache *c = tls_sess_cache_new();
	SSL_SESSION *s = session(TLS1_3_VERSION, 0, 300), *got;

	tls_sess_put(c, "a", s);
	got = tls_sess_get(c, "a");
	cr_assert_eq(got, s);
	SSL_SESSION_free(got);
	cr_assert_null(tls_sess_get(c, "a"), "a ticket is used once");
	tls_sess_cache_free(c);
}

Test(tls_sess, the_newest_session_of_a_key_replaces_the_older)
{
	struct tls_sess_cache *c = tls_sess_cache_new();
	SSL_SESSION *s1 = session(TLS1_2_VERSION, 0, 300);
	SSL_SESSION *s2 = session(TLS1_2_VERSION, 0, 300), *got;

	tls_sess_put(c, "a", s1);
	tls_sess_put(c, "a", s2);
	got = tls_sess_get(c, "a");
	cr_assert_eq(got, s2);
	SSL_SESSION_free(got);
	tls_sess_cache_free(c);
}

Test(tls_sess, expired_or_unresumable_sessions_are_not_kept)
{
	struct tls_sess_cache *c = tls_sess_cache_new();

	tls_sess_put(c, "old", session(TLS1_2_VERSION, 600, 300));
	cr_assert_null(tls_sess_get(c, "old"), "past the server's lifetime");
	tls_sess_put(c, "noid", SSL_SESSION_new());
	cr_assert_null(tls_sess_get(c, "noid"), "no id, no ticket: not resumable");
	tls_sess_cache_free(c);
}

Test(tls_sess, the_cache_is_bounded_and_drops_the_soonest_to_expire)
{
	struct tls_sess_cache *c = tls_sess_cache_new();
	SSL_SESSION *got;
	char key[16];
	int i;

	/* the first one expires soonest */
	tls_sess_put(c, "k0", session(TLS1_2_VERSION, 0, 60));
	for (i = 1; i <= TLS_SESS_MAX; i++) {
		snprintf(key, sizeof key, "k%d", i);
		tls_sess_put(c, key, session(TLS1_2_VERSION, 0, 300));
	}
	cr_assert_null(tls_sess_get(c, "k0"), "the one to expire first made room");
	for (i = 1; i <= TLS_SESS_MAX; i++) {
		snprintf(key, sizeof key, "k%d", i);
		got = tls_sess_get(c, key);
		cr_assert_not_null(got, "%s kept", key);
		SSL_SESSION_free(got);
	}
	tls_sess_cache_free(c);
}
