/* fuzz_mime8.c - libFuzzer harness for mime8.c (the 8-bit downgrade).
 *
 * Input: two parameter octets (the seed of the piece lengths), then a
 * message as stored in the queue.  Both passes run twice: on the whole
 * message at once, and cut into random pieces (empty ones included).
 * Checked, from mime8.h: the scan's verdict and the output are the same
 * however the message is cut; a message the scan finds nothing to change
 * in comes out unchanged; the output never has more 8-bit octets than
 * the input (what the converter writes is 7-bit).  Nothing leaks
 * (LeakSanitizer).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mime8.h"
#include "oracle.h"

enum { PARAMS = 2 };

/* out - collect the module's output */
static void out(void *ctx, const char *p, size_t n)
{
	if (n == 0)
		oracle_fail("out() called with nothing");
	fbuf_add(ctx, p, n);
}

/* feed - in[0..n) whole (r NULL) or in random pieces */
static void feed(void (*f)(struct mime8 *, const char *, size_t),
                 struct mime8 *m, const char *in, size_t n, struct rng *r)
{
	size_t k;

	if (r == NULL) {
		f(m, in, n);
		return;
	}
	while (n > 0) {
		k = rng_below(r, 5) == 0 ? 0 : 1 + rng_below(r, 1100);
		if (k > n)
			k = n;
		f(m, in, k);
		in += k;
		n -= k;
	}
}

/* run - scan and convert; the verdict, the output in b */
static int run(const char *in, size_t n, struct rng *r, struct fbuf *b)
{
	struct mime8 m;
	int need;

	mime8_init(&m);
	feed(mime8_scan, &m, in, n, r);
	need = mime8_scan_end(&m);
	if (need < 0)
		oracle_fail("out of memory in the scan");
	mime8_convert_start(&m, out, b);
	feed(mime8_convert, &m, in, n, r);
	mime8_convert_end(&m);
	if (m.oom)
		oracle_fail("out of memory in the conversion");
	mime8_free(&m);
	return need;
}

/* high - octets over 127 */
static size_t high(const char *p, size_t n)
{
	size_t i, c = 0;

	for (i = 0; i < n; i++)
		c += (unsigned char)p[i] > 127;
	return c;
}

/* LLVMFuzzerTestOneInput - one message */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fbuf whole = { 0 }, cut = { 0 };
	const char *in = (const char *)data + PARAMS;
	struct rng rng;
	size_t n;
	int a, b;

	if (size < PARAMS)
		return 0;
	n = size - PARAMS;
	rng_seed(&rng, data, PARAMS);
	a = run(in, n, NULL, &whole);
	b = run(in, n, &rng, &cut);
	if (a != b || whole.len != cut.len ||
	    (whole.len && memcmp(whole.p, cut.p, whole.len) != 0))
		oracle_fail("the output depends on how the message is cut");
	if (a == 0 && (whole.len != n || (n && memcmp(whole.p, in, n) != 0)))
		oracle_fail("nothing to change, yet the message changed");
	if (high(whole.p, whole.len) > high(in, n))
		oracle_fail("the downgrade added 8-bit octets");
	fbuf_free(&whole);
	fbuf_free(&cut);
	return 0;
}
