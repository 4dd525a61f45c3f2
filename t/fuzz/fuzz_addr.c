/* fuzz_addr.c - libFuzzer harness for addr.c (RFC 5321 paths).
 *
 * Input: the bytes after "MAIL FROM:" or "RCPT TO:", as is.  Each input
 * goes through addr_parse_path() with all four flag combinations, in a
 * buffer of exactly its size (AddressSanitizer catches a read past it).
 * Checked, from addr.h: on failure the mailbox is the null path and
 * *used 0; on success *used <= n, s[0] is '<' and s[*used - 1] '>', and
 * parsing just s[0..*used) gives the same (nothing after '>' is read);
 * the mailbox text is NUL-terminated, at most 254 octets of printable
 * ASCII; '@' at mb->at splits a local part of at most 64 octets from a
 * valid domain or (mb->literal) address literal that
 * addr_literal_sockaddr() accepts; "<" text ">" parses back to the same
 * mailbox; the flags only matter for "<>" and a bare postmaster;
 * addr_local() fits buffers of every size or says it does not, and
 * addr_domain() points inside the text.  addr_domain_valid() and
 * addr_literal_valid() also get the raw input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "addr.h"
#include "oracle.h"

/* same_mailbox - are a and b the same parse? */
static int same_mailbox(const struct mailbox *a, const struct mailbox *b)
{
	return strcmp(a->text, b->text) == 0 && a->at == b->at &&
	       a->literal == b->literal;
}

/* check_local - addr_local() into buffers of every size */
static void check_local(const struct mailbox *mb)
{
	char buf[ADDR_MAX + 1];
	int full, r;
	size_t len;

	full = addr_local(mb, buf, sizeof buf);
	if (full < 0 || (size_t)full != strlen(buf))
		oracle_fail("addr_local failed with room to spare");
	if (full > 64 && mb->at > 0)
		oracle_fail("local part of %d octets", full);
	for (len = 0; len <= (size_t)full + 1; len++) {
		char *small = malloc(len ? len : 1);

		if (small == NULL)
			oracle_fail("out of memory");
		r = addr_local(mb, small, len);
		if (len > (size_t)full ? r != full || strcmp(small, buf) != 0
		                       : r != -1)
			oracle_fail("addr_local into %zu octets returned %d", len, r);
		free(small);
	}
}

/* check_ok - everything addr.h promises about a good parse */
static void check_ok(const char *s, size_t n, const struct mailbox *mb,
                     size_t used, int allow_null, int allow_postmaster)
{
	struct mailbox again;
	struct sockaddr_storage ss;
	socklen_t sslen;
	size_t tl = strnlen(mb->text, ADDR_MAX), i, used2;
	const char *d;
	char *copy;

	if (used < 2 || used > n || s[0] != '<' || s[used - 1] != '>')
		oracle_fail("*used %zu of %zu does not end at '>'", used, n);
	if (tl > 254)
		oracle_fail("mailbox of %zu octets", tl);
	for (i = 0; i < tl; i++)
		if (mb->text[i] < 32 || mb->text[i] > 126)
			oracle_fail("byte 0x%02x in the mailbox",
			            (unsigned char)mb->text[i]);
	if (tl == 0 && (!allow_null || used != 2 || mb->at || mb->literal))
		oracle_fail("null path where none is allowed");
	if (tl > 0 && mb->at == 0 &&
	    (!allow_postmaster || strcasecmp(mb->text, "postmaster") != 0))
		oracle_fail("a mailbox without '@'");
	d = addr_domain(mb);
	if (mb->at > 0) {
		if (mb->at >= tl || mb->text[mb->at] != '@' ||
		    d != mb->text + mb->at + 1)
			oracle_fail("mb->at does not point at the '@'");
		if (mb->literal != (d[0] == '['))
			oracle_fail("mb->literal is wrong");
		if (mb->literal ? !addr_literal_valid(d, strlen(d)) ||
		                  addr_literal_sockaddr(mb, &ss, &sslen) != 0
		                : !addr_domain_valid(d, strlen(d)))
			oracle_fail("accepted a bad domain");
	} else if (*d != '\0' || mb->literal) {
		oracle_fail("a domain for the null path or postmaster");
	}
	check_local(mb);

	/* nothing after the '>' matters */
	copy = malloc(used);
	if (copy == NULL)
		oracle_fail("out of memory");
	memcpy(copy, s, used);
	if (addr_parse_path(copy, used, &again, &used2, allow_null,
	                    allow_postmaster) != ADDR_OK ||
	    used2 != used || !same_mailbox(mb, &again))
		oracle_fail("parsing s[0..*used) differs");
	free(copy);

	/* the text is a mailbox again, without its source route */
	copy = malloc(tl + 2);
	if (copy == NULL)
		oracle_fail("out of memory");
	copy[0] = '<';
	memcpy(copy + 1, mb->text, tl);
	copy[tl + 1] = '>';
	if (addr_parse_path(copy, tl + 2, &again, &used2, allow_null,
	                    allow_postmaster) != ADDR_OK ||
	    used2 != tl + 2 || !same_mailbox(mb, &again))
		oracle_fail("\"<\" text \">\" does not parse to the same");
	free(copy);
}

/* LLVMFuzzerTestOneInput - one path, four ways */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct mailbox mb[4];
	enum addr_error e[4];
	size_t used[4];
	int k;

	(void)addr_domain_valid(s, size);
	(void)addr_literal_valid(s, size);
	for (k = 0; k < 4; k++) {
		int allow_null = k & 1, allow_postmaster = k >> 1;

		memset(&mb[k], 0x5a, sizeof mb[k]);
		used[k] = 12345;
		e[k] = addr_parse_path(s, size, &mb[k], &used[k], allow_null,
		                       allow_postmaster);
		if (e[k] > ADDR_E8BIT || addr_error_text(e[k]) == NULL)
			oracle_fail("unknown error %d", (int)e[k]);
		if (e[k] != ADDR_OK) {
			if (mb[k].text[0] != '\0' || mb[k].at != 0 ||
			    mb[k].literal != 0 || used[k] != 0)
				oracle_fail("a failed parse left a mailbox");
			continue;
		}
		check_ok(s, size, &mb[k], used[k], allow_null, allow_postmaster);
	}
	/* the flags change nothing but "<>" and a bare postmaster */
	for (k = 1; k < 4; k++) {
		int special = (e[k] == ADDR_OK && mb[k].at == 0) ||
		              (e[0] == ADDR_OK && mb[0].at == 0);

		if (special)
			continue;
		if (e[k] != e[0] || (e[k] == ADDR_OK &&
		    (used[k] != used[0] || !same_mailbox(&mb[k], &mb[0]))))
			oracle_fail("flags %d change the parse", k);
	}
	return 0;
}
