/* fuzz_header.c - libFuzzer harness for header.c (header completion).
 *
 * Input: three parameter octets, eight more for the arrival time when
 * asked, then the message as the session hands it over (lines ending in
 * LF; a last line without LF is left unfinished for header_end):
 *   [0] bit 0 ESMTP, bit 1 a single recipient, bit 2 the null sender,
 *       bits 3-5 max_received, bit 6 arrival from the next eight octets,
 *       bit 7 empty HELO and an IPv6 client
 *   [1] [2] seed of the fragment lengths
 * The message goes through header_begin/feed/end twice: each line in one
 * piece, and cut into random pieces (empty ones and a separate line end
 * included).  Checked: both runs give the same output and result (header.h:
 * however a message is cut into pieces, the output is the same); the
 * result and the output match the line model in oracle.c (Received:
 * first, every line ends in LF, client lines unchanged, the right fields
 * added); no NUL comes out unless the input had one.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "header.h"
#include "oracle.h"

enum { PARAMS = 3, TIME_OCTETS = 8 };

/* out - collect the module's output */
static void out(void *ctx, const char *p, size_t n)
{
	if (n == 0)
		oracle_fail("out() called with nothing");
	fbuf_add(ctx, p, n);
}

/* feed_line - one line l[0..n) (eol: it ended with LF) in pieces; r NULL
 * feeds it whole */
static void feed_line(struct header *h, const char *l, size_t n, int eol,
                      struct rng *r)
{
	size_t k;

	if (r == NULL) {
		header_feed(h, l, n, eol);
		return;
	}
	do {
		k = rng_below(r, 4) == 0 ? 0 : 1 + rng_below(r, 40);
		if (k > n)
			k = n;
		/* the line end alone in an empty last piece, sometimes */
		if (k == n && eol && rng_below(r, 2)) {
			header_feed(h, l, k, 0);
			header_feed(h, "", 0, 1);
			return;
		}
		header_feed(h, l, k, k == n ? eol : 0);
		l += k;
		n -= k;
	} while (n > 0);
}

/* run - the whole message through the module; its output into *o */
static enum header_result run(const struct header_info *info,
                              const char *msg, size_t n, struct rng *r,
                              struct fbuf *o)
{
	struct header h;
	size_t start = 0, i;

	header_begin(&h, info, out, o);
	for (i = 0; i < n; i++) {
		if (msg[i] != '\n')
			continue;
		feed_line(&h, msg + start, i - start, 1, r);
		start = i + 1;
	}
	if (start < n)
		feed_line(&h, msg + start, n - start, 0, r);
	return header_end(&h);
}

/* LLVMFuzzerTestOneInput - one message, two ways */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct header_info info;
	struct fbuf whole = { 0 }, cut = { 0 };
	enum header_result r1, r2;
	struct oline *lines;
	struct rng rng;
	const char *msg;
	size_t n, nl;
	uint8_t f;

	if (size < PARAMS)
		return 0;
	f = data[0];
	memset(&info, 0, sizeof info);
	info.hostname = "mx.fuzz.example";
	info.helo = f & 0x80 ? "" : "client.fuzz.example";
	info.client_ip = f & 0x80 ? "2001:db8::1" : "192.0.2.1";
	info.id = "FUZZID1";
	info.sender = f & 4 ? "" : "bob@fuzz.example";
	info.rcpt = f & 2 ? "alice@fuzz.example" : NULL;
	info.esmtp = f & 1;
	info.max_received = (f >> 3) & 7;
	info.arrival = 1700000000;
	rng_seed(&rng, data + 1, 2);
	msg = (const char *)data + PARAMS;
	n = size - PARAMS;
	if ((f & 0x40) && n >= TIME_OCTETS) {
		int64_t t;

		memcpy(&t, msg, sizeof t);
		info.arrival = (time_t)t;
		msg += TIME_OCTETS;
		n -= TIME_OCTETS;
	}

	r1 = run(&info, msg, n, NULL, &whole);
	r2 = run(&info, msg, n, &rng, &cut);
	if (r1 != r2 || whole.len != cut.len ||
	    memcmp(whole.p, cut.p, whole.len) != 0)
		oracle_fail("output depends on how the message was cut");
	if (memchr(msg, '\0', n) == NULL && memchr(whole.p, '\0', whole.len))
		oracle_fail("a NUL came out that did not go in");

	lines = oracle_split(msg, n, &nl);
	if (r1 != oracle_header_result(lines, nl, &info))
		oracle_fail("header_end returned %d, the model says %d", (int)r1,
		            (int)oracle_header_result(lines, nl, &info));
	oracle_header(lines, nl, &info, whole.p, whole.len);
	free(lines);
	fbuf_free(&whole);
	fbuf_free(&cut);
	return 0;
}
