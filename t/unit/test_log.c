/* test_log - log values (log.h): what needs quotes gets them, escapes
 * read back to the original octets, and a value cannot fake a key=value
 * pair of its own. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* unquote - read one value at p as a log reader would (log.h); its
 * octets into out, the length into *outlen; returns the first byte past
 * the value (at a space or the end), or NULL when it is malformed */
static const char *unquote(const char *p, char *out, size_t *outlen)
{
	size_t n = 0;

	if (*p != '"') {
		while (*p && *p != ' ')
			out[n++] = *p++;
		*outlen = n;
		return p;
	}
	for (p++; *p != '"'; p++) {
		if (*p == '\0')
			return NULL;
		if (*p != '\\') {
			out[n++] = *p;
			continue;
		}
		p++;
		if (*p == '"' || *p == '\\') {
			out[n++] = *p;
		} else if (*p == 'x' && p[1] && p[2]) {
			char hex[3] = { p[1], p[2], '\0' };

			out[n++] = (char)strtoul(hex, NULL, 16);
			p += 2;
		} else {
			return NULL;
		}
	}
	*outlen = n;
	return p + 1;
}

Test(log, plain_values_stay_as_they_are)
{
	char b[LOG_VALUE_MAX];

	cr_assert_str_eq(log_quote(b, sizeof b, "alice@example.org"), "alice@example.org");
	cr_assert_str_eq(log_addr(b, sizeof b, "alice@example.org"), "<alice@example.org>");
	cr_assert_str_eq(log_addr(b, sizeof b, ""), "<>");
	cr_assert_str_eq(log_quote(b, sizeof b, "mx.test.example"), "mx.test.example");
}

Test(log, what_needs_quotes_gets_them)
{
	char b[LOG_VALUE_MAX];

	cr_assert_str_eq(log_quote(b, sizeof b, ""), "\"\"");
	cr_assert_str_eq(log_quote(b, sizeof b, "a b"), "\"a b\"");
	cr_assert_str_eq(log_quote(b, sizeof b, "a=b"), "\"a=b\"");
	cr_assert_str_eq(log_quote(b, sizeof b, "say \"hi\""), "\"say \\\"hi\\\"\"");
	cr_assert_str_eq(log_quote(b, sizeof b, "back\\slash"), "\"back\\\\slash\"");
	cr_assert_str_eq(log_quoteb(b, sizeof b, "a\r\n\0\x7f\xff", 6),
	                 "\"a\\x0d\\x0a\\x00\\x7f\\xff\"");
	cr_assert_str_eq(log_quote(b, sizeof b, "tab\there"), "\"tab\\x09here\"");
}

/* the address of issue 11: a quoted local part with spaces and '=' */
Test(log, an_address_cannot_fake_fields)
{
	static const char forged[] = "\"x> rcpts=99 id=FAKE\"@example.org";
	char b[LOG_VALUE_MAX], line[2 * LOG_VALUE_MAX], back[LOG_VALUE_MAX];
	const char *p;
	size_t n;

	cr_assert_str_eq(log_addr(b, sizeof b, forged),
	                 "\"<\\\"x> rcpts=99 id=FAKE\\\"@example.org>\"");
	snprintf(line, sizeof line, "id=REAL from=%s rcpts=1", b);
	/* a reader splitting at spaces outside quotes finds three fields */
	p = unquote(line + strlen("id=REAL from="), back, &n);
	cr_assert_not_null(p);
	cr_assert_eq(n, strlen(forged) + 2);
	cr_assert(memcmp(back, "<", 1) == 0 && memcmp(back + 1, forged, n - 2) == 0 &&
	          back[n - 1] == '>');
	cr_assert_str_eq(p, " rcpts=1");
}

/* every octet string reads back to itself */
Test(log, escapes_read_back)
{
	char in[200], b[LOG_VALUE_MAX], back[LOG_VALUE_MAX];
	unsigned seed = 11;
	int round;

	for (round = 0; round < 2000; round++) {
		size_t n = (size_t)(rand_r(&seed) % 200), i, m;
		const char *end;

		for (i = 0; i < n; i++)
			in[i] = (char)(round % 3 == 0 ? 'a' + rand_r(&seed) % 26
			                              : rand_r(&seed) % 256);
		log_quoteb(b, sizeof b, in, n);
		for (i = 0; b[i]; i++)
			cr_assert(b[i] > ' ' - (b[0] == '"') && b[i] < 0x7f,
			          "octet 0x%02x in a value", (unsigned char)b[i]);
		end = unquote(b, back, &m);
		cr_assert_not_null(end, "malformed: %s", b);
		cr_assert_eq(*end, '\0', "value ends early: %s", b);
		cr_assert_eq(m, n);
		cr_assert(memcmp(back, in, n) == 0);
	}
}

/* a value that does not fit is cut at a whole escape, its quote closed */
Test(log, cut_values_stay_well_formed)
{
	char in[100], b[16], back[16];
	size_t size, n;

	memset(in, '"', sizeof in);
	for (size = 8; size <= sizeof b; size++) {
		log_quoteb(b, size, in, sizeof in);
		cr_assert_lt(strlen(b), size);
		cr_assert_not_null(unquote(b, back, &n), "size %zu: %s", size, b);
		cr_assert_eq(b[strlen(b) - 1], '"');
	}
	cr_assert_str_eq(log_quote(b, 8, "abcdefghijk"), "abcdefg");
}

/* ---- log_reopen ------------------------------------------------------ */

static atomic_int writing;
static atomic_ulong written;

/* writer - log numbered lines until told to stop, counting them */
static void *writer(void *arg)
{
	(void)arg;
	log_set_tag("w");
	while (atomic_load(&writing)) {
		log_event("line", "n=%lu", atomic_load(&written));
		atomic_fetch_add(&written, 1);
	}
	return NULL;
}

/* wait_lines - until the writer has written n more lines (bounded) */
static void wait_lines(unsigned long n)
{
	unsigned long from = atomic_load(&written);
	int i;

	for (i = 0; i < 10000 && atomic_load(&written) < from + n; i++)
		usleep(1000);
}

/* count_lines - lines in path, each checked to be a whole "line n=N" */
static unsigned long count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256];
	unsigned long n = 0;

	cr_assert_not_null(f, "%s", path);
	while (fgets(line, sizeof line, f)) {
		cr_assert(strstr(line, " w line n=") != NULL && line[strlen(line) - 1] == '\n',
		          "a torn or foreign line: %s", line);
		n++;
	}
	fclose(f);
	return n;
}

/* logrotate: after a rename, log_reopen() makes the name a new file,
 * while another thread logs; every line lands whole in one of the two
 * files, none is lost */
Test(log, reopen_while_another_thread_logs)
{
	char dir[] = "/tmp/mta-logtest.XXXXXX", path[64], moved[64];
	pthread_t t;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/log", dir);
	snprintf(moved, sizeof moved, "%s/log.1", dir);
	cr_assert_eq(log_open(path), 0);
	atomic_store(&writing, 1);
	cr_assert_eq(pthread_create(&t, NULL, writer, NULL), 0);
	wait_lines(100);
	cr_assert_eq(rename(path, moved), 0);
	cr_assert_eq(log_reopen(path), 0);
	wait_lines(100);
	atomic_store(&writing, 0);
	pthread_join(t, NULL);
	cr_assert_gt(count_lines(path), 0, "the new file is written");
	cr_assert_eq(count_lines(moved) + count_lines(path), atomic_load(&written));
	cr_assert_eq(log_reopen("/nonexistent/dir/log"), -1, "an error");
	log_set_tag("w");
	log_event("line", "n=%d", 0);
	cr_assert_eq(count_lines(moved) + count_lines(path), atomic_load(&written) + 1,
	             "after a failed reopen the old file is kept");
	unlink(path);
	unlink(moved);
	rmdir(dir);
}
