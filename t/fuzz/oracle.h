/* oracle - what the libFuzzer harnesses in t/fuzz/ share: a seeded
 * generator for fragment lengths, a growable byte buffer, and the checks
 * that more than one harness needs (SMTP reply syntax, the header
 * completion of header.h modelled line by line).
 *
 * Contract: every check calls oracle_fail() on a violation, which prints
 * what was wrong and abort()s, so libFuzzer keeps the input as a crash.
 * Nothing here is thread-safe or meant for the daemon: test code only.
 */
#ifndef MTA_FUZZ_ORACLE_H
#define MTA_FUZZ_ORACLE_H

#include <stddef.h>
#include <stdint.h>

#include "header.h"

/* the entry point libFuzzer calls; each harness defines it */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* oracle_fail - report a broken invariant and abort() */
void oracle_fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

/* A small xorshift generator: the state comes from input bytes, so the
 * fuzzer steers it and every run of one input is the same. */
struct rng {
	uint32_t s;
};

/* rng_seed - start from up to four input bytes (never the zero state) */
void rng_seed(struct rng *r, const uint8_t *p, size_t n);
/* rng_below - a number in [0, bound), bound > 0 */
uint32_t rng_below(struct rng *r, uint32_t bound);

/* A growable byte buffer; out of memory aborts (it is a test). */
struct fbuf {
	char *p;
	size_t len, cap;
};

/* fbuf_add - append p[0..n) */
void fbuf_add(struct fbuf *b, const void *p, size_t n);
/* fbuf_adds - append a C string */
void fbuf_adds(struct fbuf *b, const char *s);
/* fbuf_free - release; the buffer is empty again */
void fbuf_free(struct fbuf *b);

/* A line of a message, without its LF. */
struct oline {
	const char *p;
	size_t n;
};

/* oracle_split - the LF-separated lines of p[0..n) into a malloc'ed
 * array (*nl of them); a last line without LF counts when not empty */
struct oline *oracle_split(const char *p, size_t n, size_t *nl);

/* oracle_replies - p[0..n) is a sequence of whole SMTP replies as an RFC
 * 5321 4.2 server sends them: every line "DDD" SP-or-"-" text CRLF, at
 * most 512 octets, text of HT and printable ASCII only, the lines of one
 * reply with one code and only the last with SP; every 4xx/5xx, 221 and
 * 252 line carries an RFC 3463 code of its class, and any line whose text
 * starts like one has it of the right class.  Exempt (RFC 2034 3): 3xx,
 * the 220 greeting, and a 250 reply whose first line starts with
 * hostname (the answer to HELO/EHLO).  Returns how many replies. */
size_t oracle_replies(const char *p, size_t n, const char *hostname);

/* oracle_header_result - what header_end() must return for a message
 * made of lines msg[0..nl) with info (header.h, modelled independently) */
enum header_result oracle_header_result(const struct oline *msg, size_t nl,
                                        const struct header_info *info);

/* oracle_header - out[0..n) is what header.c wrote for the lines
 * msg[0..nl): check it line by line against header.h (our Received:
 * first, the client's lines unchanged and in order, the missing fields
 * after the header, an empty line when a non-field line ended it).
 * info->esmtp < 0: accept "with SMTP" and "with ESMTP". */
void oracle_header(const struct oline *msg, size_t nl,
                   const struct header_info *info, const char *out,
                   size_t n);

#endif
