/* test_seal.c - the seal of a queue file fed bytes: CRC-32C against its
 * published check value, the line's exact form, and the check of a file
 * whole, cut short, emptied, zeroed, grown, or still reserved */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "envelope.h"
#include "seal.h"

Test(seal, crc32c_check_value_and_streaming)
{
	const char *s = "123456789";

	cr_assert_eq(seal_crc(0, s, 9), 0xE3069283u);   /* the CRC-32C check value */
	cr_assert_eq(seal_crc(seal_crc(0, s, 4), s + 4, 5), 0xE3069283u);
	cr_assert_eq(seal_crc(0, "", 0), 0);
}

/* bitwise - CRC-32C one bit at a time: the reference */
static uint32_t bitwise(const unsigned char *s, size_t n)
{
	uint32_t c = ~0u;
	int k;

	while (n--) {
		c ^= *s++;
		for (k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
	}
	return ~c;
}

/* every start (aligned or not) and length up to 100, and in pieces: the
 * CPU's instruction (where used) and the table (what a CPU without it
 * runs) both agree with the reference */
Test(seal, crc32c_matches_the_bitwise_reference_at_any_alignment)
{
	unsigned char buf[128];
	size_t i, off, n;

	for (i = 0; i < sizeof buf; i++)
		buf[i] = (unsigned char)(i * 37 + 11);
	for (off = 0; off < 8; off++)
		for (n = 0; n <= 100; n++) {
			cr_assert_eq(seal_crc(0, buf + off, n), bitwise(buf + off, n),
			             "off %zu len %zu", off, n);
			cr_assert_eq(seal_crc(seal_crc(0, buf + off, n / 3), buf + off + n / 3,
			                      n - n / 3), bitwise(buf + off, n));
			cr_assert_eq(seal_crc_table(0, buf + off, n), bitwise(buf + off, n),
			             "table: off %zu len %zu", off, n);
			cr_assert_eq(seal_crc_table(seal_crc_table(0, buf + off, n / 3),
			                            buf + off + n / 3, n - n / 3),
			             bitwise(buf + off, n));
		}
}

Test(seal, line_round_trip_and_refusals)
{
	char line[SEAL_LINE_LEN + 1];
	unsigned long long size;
	uint32_t crc;
	static const char *const bad[] = {
		"seal 0000000000000046 0000000",          /* short */
		"seal 0000000000000046 0000000A",         /* upper case */
		"seal 000000000000004x 00000000",
		"seal  000000000000046 00000000",
		"Seal 0000000000000046 00000000",
		"seal 0000000000000046-00000000",
		"seal 0000000000000046 00000000 ",
	};
	size_t i;

	seal_format(line, 4711, 0xdeadbeef);
	cr_assert_str_eq(line, "seal 0000000000004711 deadbeef\n");
	cr_assert_eq(strlen(line), SEAL_LINE_LEN);
	cr_assert_eq(seal_parse(line, SEAL_LINE_LEN - 1, &size, &crc), 0);
	cr_assert_eq(size, 4711);
	cr_assert_eq(crc, 0xdeadbeef);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++)
		cr_assert_eq(seal_parse(bad[i], strlen(bad[i]), &size, &crc), -1, "%s", bad[i]);
}

/* sealed_file - a message file as the queue writes one (envelope with its
 * seal filled in, then body); an unlinked temporary file's descriptor */
static int sealed_file(const char *body, char **text_out, size_t *len_out)
{
	struct envelope env;
	struct mailbox r;
	char *head, *text, line[SEAL_LINE_LEN + 1], path[] = "/tmp/mta-unit-seal.XXXXXX";
	size_t hlen, blen = strlen(body), len;
	int fd;

	envelope_init(&env);
	strcpy(env.id, "SEAL1");
	env.arrival = 1;
	strcpy(env.client, "local");
	strcpy(env.helo, "h");
	mailbox_from_text(&env.sender, "a@b", 3);
	mailbox_from_text(&r, "c@d", 3);
	envelope_add_rcpt(&env, &r);
	cr_assert_eq(envelope_format(&env, &head, &hlen), 0);
	envelope_free(&env);
	len = hlen + blen;
	text = malloc(len);
	memcpy(text, head, hlen);
	memcpy(text + hlen, body, blen);
	free(head);
	seal_format(line, len, seal_crc(0, text + ENVELOPE_SEAL_END, len - ENVELOPE_SEAL_END));
	memcpy(text + ENVELOPE_SEAL_AT, line, SEAL_LINE_LEN);
	fd = mkstemp(path);
	cr_assert(fd >= 0);
	unlink(path);
	cr_assert_eq(write(fd, text, len), (ssize_t)len);
	*text_out = text;
	*len_out = len;
	return fd;
}

/* verdict - envelope_read then envelope_verify of fd: 0 whole, 1 seal
 * not met (EINVAL), 2 no envelope */
static int verdict(int fd)
{
	struct envelope env;
	long long off;
	int r;

	if (envelope_read(fd, &env, &off) < 0)
		return 2;
	r = envelope_verify(fd, &env) == 0 ? 0 : errno == EINVAL ? 1 : -1;
	envelope_free(&env);
	return r;
}

Test(seal, a_whole_file_passes_one_damaged_anyhow_fails)
{
	char *text, zeros[4096] = { 0 };
	size_t len;
	int fd = sealed_file("Subject: x\n\nhello\n", &text, &len);

	cr_assert_eq(verdict(fd), 0);
	/* cut short in the body: the envelope still reads, the seal fails */
	cr_assert_eq(ftruncate(fd, (off_t)len - 3), 0);
	cr_assert_eq(verdict(fd), 1);
	/* the same length, its end zeroed (blocks allocated, data lost) */
	cr_assert_eq(pwrite(fd, zeros, 3, (off_t)len - 3), 3);
	cr_assert_eq(verdict(fd), 1);
	/* whole again, then one byte changed in the envelope after the seal */
	cr_assert_eq(pwrite(fd, text, len, 0), (ssize_t)len);
	cr_assert_eq(verdict(fd), 0);
	cr_assert_eq(pwrite(fd, "X", 1, ENVELOPE_SEAL_END + 3), 1);
	cr_assert_eq(verdict(fd), 1);
	/* grown past its size */
	cr_assert_eq(pwrite(fd, text, len, 0), (ssize_t)len);
	cr_assert_eq(pwrite(fd, "more", 4, (off_t)len), 4);
	cr_assert_eq(verdict(fd), 1);
	/* all zeros, as long as it was; and empty: no envelope at all */
	cr_assert_eq(ftruncate(fd, 0), 0);
	cr_assert_eq(pwrite(fd, zeros, len < sizeof zeros ? len : sizeof zeros, 0) > 0, 1);
	cr_assert_eq(verdict(fd), 2);
	cr_assert_eq(ftruncate(fd, 0), 0);
	cr_assert_eq(verdict(fd), 2);
	/* the reservation never filled in (size 0): not whole */
	cr_assert_eq(pwrite(fd, text, len, 0), (ssize_t)len);
	cr_assert_eq(pwrite(fd, "seal 0000000000000000 00000000\n", SEAL_LINE_LEN,
	                    ENVELOPE_SEAL_AT), SEAL_LINE_LEN);
	cr_assert_eq(verdict(fd), 1);
	free(text);
	close(fd);
}

Test(seal, an_unsealed_older_file_passes)
{
	static const char v3[] = "mta-envelope 3\nid A\narrival 1\nclient x\n"
	                         "helo h\nsender a@b\nrcpt c@d\nnotify NEVER\n\nbody\n";
	char path[] = "/tmp/mta-unit-seal.XXXXXX";
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	unlink(path);
	cr_assert_eq(write(fd, v3, sizeof v3 - 1), (ssize_t)(sizeof v3 - 1));
	cr_assert_eq(verdict(fd), 0);
	close(fd);
}
