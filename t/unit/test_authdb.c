/* test_authdb - the --users file: its parser (every error with its line
 * number), verification through crypt_rn for yescrypt, sha512-crypt and
 * bcrypt hashes (made here with crypt_gensalt_rn), locked and unknown
 * logins, the senders a login may use; and the per-address failure
 * table (authguard) with its window, block, bounded size and IPv6 /64s.
 */
#include <criterion/criterion.h>
#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authdb.h"
#include "authguard.h"

/* hash_of - a hash of pw with method prefix ("$y$", "$6$", "$2b$") */
static char *hash_of(const char *prefix, const char *pw)
{
	static char out[4][CRYPT_OUTPUT_SIZE];
	static int next;
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *cd = calloc(1, sizeof *cd);
	const char *h;
	char *slot = out[next++ % 4];

	cr_assert_not_null(cd);
	cr_assert_not_null(crypt_gensalt_rn(prefix, prefix[1] == '2' ? 4 : 0, NULL, 0,
	                                    salt, sizeof salt), "no salt for %s", prefix);
	h = crypt_rn(pw, salt, cd, sizeof *cd);
	cr_assert(h != NULL && h[0] == '$', "crypt %s", prefix);
	snprintf(slot, CRYPT_OUTPUT_SIZE, "%s", h);
	free(cd);
	return slot;
}

/* load - parse text; the db, or NULL with err */
static struct authdb *load(const char *text, char *err, size_t errlen)
{
	struct authdb *db = NULL;

	err[0] = '\0';
	if (authdb_parse(&db, "users", text, strlen(text), err, errlen) < 0)
		return NULL;
	return db;
}

/* sender - a mailbox for text */
static struct mailbox sender(const char *text)
{
	struct mailbox mb;
	char path[300];
	size_t used;

	snprintf(path, sizeof path, "<%s>", text);
	cr_assert_eq(addr_parse_path(path, strlen(path), &mb, &used, 0, 0), ADDR_OK);
	return mb;
}

Test(authdb, three_methods_verify)
{
	char text[2000], err[300];
	struct authdb *db;

	snprintf(text, sizeof text,
	         "# a comment\n\n"
	         "alice@test.example:%s\n"
	         "bob:%s:bob@test.example\r\n"
	         "carol:%s\n"
	         "locked:!%s\n",
	         hash_of("$y$", "a-pw"), hash_of("$6$", "b-pw"),
	         hash_of("$2b$", "c-pw"), hash_of("$y$", "l-pw"));
	db = load(text, err, sizeof err);
	cr_assert_not_null(db, "%s", err);
	cr_assert_eq(authdb_count(db), 4);
	cr_assert_eq(authdb_verify(db, "alice@test.example", "a-pw"), AUTHDB_OK);
	cr_assert_eq(authdb_verify(db, "alice@test.example", "A-pw"), AUTHDB_BAD);
	cr_assert_eq(authdb_verify(db, "alice@test.example", ""), AUTHDB_BAD);
	cr_assert_eq(authdb_verify(db, "bob", "b-pw"), AUTHDB_OK, "sha512-crypt");
	cr_assert_eq(authdb_verify(db, "bob", "a-pw"), AUTHDB_BAD);
	cr_assert_eq(authdb_verify(db, "carol", "c-pw"), AUTHDB_OK, "bcrypt");
	cr_assert_eq(authdb_verify(db, "locked", "l-pw"), AUTHDB_BAD, "locked login");
	cr_assert_eq(authdb_verify(db, "nobody", "a-pw"), AUTHDB_BAD);
	cr_assert_eq(authdb_verify(db, "Alice@test.example", "a-pw"), AUTHDB_BAD,
	             "logins compare exactly");
	authdb_free(db);
}

Test(authdb, senders)
{
	char text[2000], err[300];
	struct authdb *db;
	struct mailbox m;

	snprintf(text, sizeof text,
	         "alice@test.example:%s:@alias.example, bob@other.example\n"
	         "carol:%s:carol@test.example\n"
	         "dave:%s\n",
	         hash_of("$y$", "a"), hash_of("$y$", "c"), hash_of("$y$", "d"));
	db = load(text, err, sizeof err);
	cr_assert_not_null(db, "%s", err);
	m = sender("alice@test.example");
	cr_assert(authdb_sender_ok(db, "alice@test.example", &m), "the login itself");
	m = sender("ALICE@Test.Example");
	cr_assert(authdb_sender_ok(db, "alice@test.example", &m), "any case");
	m = sender("x@alias.example");
	cr_assert(authdb_sender_ok(db, "alice@test.example", &m), "@domain entry");
	m = sender("x@sub.alias.example");
	cr_assert(!authdb_sender_ok(db, "alice@test.example", &m), "not a subdomain");
	m = sender("bob@other.example");
	cr_assert(authdb_sender_ok(db, "alice@test.example", &m));
	m = sender("carol@test.example");
	cr_assert(!authdb_sender_ok(db, "alice@test.example", &m), "someone else's");
	cr_assert(authdb_sender_ok(db, "carol", &m), "a listed address");
	m = sender("dave@test.example");
	cr_assert(!authdb_sender_ok(db, "dave", &m), "a login that is no address owns none");
	/* without a db (another credential source): the login address only */
	m = sender("eve@test.example");
	cr_assert(authdb_sender_ok(NULL, "eve@test.example", &m));
	cr_assert(!authdb_sender_ok(NULL, "eve", &m));
	authdb_free(db);
}

/* bad - text must be refused with err starting "users:LINE: " and
 * containing what */
static void bad(const char *text, const char *want)
{
	char err[300];
	struct authdb *db = load(text, err, sizeof err);

	cr_assert_null(db, "accepted: %s", text);
	cr_assert(strstr(err, want) != NULL, "for %s: got '%s', want '%s'", text, err, want);
}

Test(authdb, errors_with_line_numbers)
{
	bad("\n# c\nalice\n", "users:3: want login:hash");
	bad("a:$y$j9T$abc$def\n:$y$j9T$abc$def\n", "users:2: bad login");
	bad("a b:$y$j9T$abc$def\n", "users:1: bad login");
	bad("a:plaintext\n", "users:1: bad password hash");
	bad("a:\n", "users:1: bad password hash");
	bad("a:$y$j9T$a b\n", "users:1: bad password hash");
	bad("a:$y$j9T$abc$def:not-an-address\n", "users:1: bad sender 'not-an-address'");
	bad("a:$y$j9T$abc$def:x@y.example,,\n", "users:1: bad sender");
	bad("a:$y$j9T$abc$def:@\n", "users:1: bad sender");
	bad("a:$y$j9T$abc$def\nb:$y$j9T$abc$def\n\na:$y$j9T$abc$def\n",
	    "users:4: login a already on line 1");
}

Test(authdb, load_missing_file)
{
	struct authdb *db = NULL;
	char err[300];

	cr_assert_eq(authdb_load(&db, "/nonexistent/users", err, sizeof err), -1);
	cr_assert(strstr(err, "/nonexistent/users: No such file") != NULL, "%s", err);
}

Test(authguard, window_block_and_expiry)
{
	unsigned i;

	authguard_reset();
	for (i = 1; i < AUTHGUARD_FAILURES; i++)
		cr_assert_eq(authguard_failed("192.0.2.1", 1000 + i), i);
	cr_assert_eq(authguard_blocked("192.0.2.1", 1100), 0);
	cr_assert_eq(authguard_failed("192.0.2.1", 1100), AUTHGUARD_FAILURES);
	cr_assert_eq(authguard_blocked("192.0.2.1", 1100), AUTHGUARD_BLOCK);
	cr_assert_eq(authguard_blocked("192.0.2.2", 1100), 0, "only that address");
	cr_assert_eq(authguard_blocked("192.0.2.1", 1100 + AUTHGUARD_BLOCK), 0,
	             "the block expires");
	/* failures spread wider than the window never block */
	authguard_reset();
	for (i = 0; i < 3 * AUTHGUARD_FAILURES; i++)
		authguard_failed("192.0.2.3", 10000 + (long long)i * (AUTHGUARD_WINDOW / 5 + 1));
	cr_assert_eq(authguard_blocked("192.0.2.3", 10000 + 3LL * AUTHGUARD_FAILURES *
	             (AUTHGUARD_WINDOW / 5 + 1)), 0);
}

/* an IPv6 host has a /64 to take addresses from: a new address for
 * each guess must not start a new count */
Test(authguard, ipv6_counts_per_64)
{
	char ip[64];
	unsigned i;

	authguard_reset();
	for (i = 1; i <= AUTHGUARD_FAILURES; i++) {
		snprintf(ip, sizeof ip, "2001:db8:1:2::%x", i);
		cr_assert_eq(authguard_failed(ip, 2000), i, "%s", ip);
	}
	cr_assert_eq(authguard_blocked("2001:db8:1:2:ffff:1:2:3", 2001), AUTHGUARD_BLOCK - 1,
	             "the whole /64 blocked");
	cr_assert_eq(authguard_blocked("2001:db8:1:3::1", 2001), 0, "the next /64 not");
	cr_assert_eq(authguard_blocked("192.0.2.9", 2001), 0);
	/* IPv4, and IPv4 written as mapped IPv6, stay per address */
	for (i = 1; i <= AUTHGUARD_FAILURES; i++)
		authguard_failed("::ffff:192.0.2.10", 3000);
	cr_assert_gt(authguard_blocked("::ffff:192.0.2.10", 3001), 0);
	cr_assert_eq(authguard_blocked("::ffff:192.0.2.11", 3001), 0);
	authguard_reset();
}

Test(authguard, bounded_table_forgets_the_oldest)
{
	char ip[64];
	unsigned i;

	authguard_reset();
	for (i = 0; i < AUTHGUARD_FAILURES; i++)
		authguard_failed("198.51.100.1", 5000);
	cr_assert_gt(authguard_blocked("198.51.100.1", 5001), 0);
	/* a flood of other addresses, all newer: the oldest slot goes */
	for (i = 0; i < AUTHGUARD_SLOTS; i++) {
		snprintf(ip, sizeof ip, "10.%u.%u.%u", i >> 16, (i >> 8) & 255, i & 255);
		authguard_failed(ip, 5002);
	}
	cr_assert_eq(authguard_blocked("198.51.100.1", 5003), 0);
	authguard_reset();
}
