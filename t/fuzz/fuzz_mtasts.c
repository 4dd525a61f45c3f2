/* fuzz_mtasts.c - libFuzzer harness for mtasts.c (MTA-STS text, which
 * comes from DNS and from any HTTPS server a domain names).
 *
 * Input: the bytes of a policy file, a TXT record or a cache file, as is.
 * They go through mtasts_policy_parse() and mtasts_cache_parse() in a
 * buffer of exactly their size (AddressSanitizer catches a read past
 * it), and, NUL-terminated, through mtasts_txt_parse(); the first line
 * also as an MX pattern and a host name through mtasts_pattern_match().
 * Checked, from mtasts.h: a parsed policy has a known mode, a max_age of
 * at most MTASTS_MAX_AGE, at most MTASTS_MX_MAX non-empty patterns and at
 * least one unless its mode is none; written as a cache file and parsed
 * back it is the same policy; a cache file that parses is a policy too;
 * a record's id is 1 to 32 letters and digits; a pattern always matches
 * itself in upper case when it is a plain name, and "*." never matches
 * the name it stands before.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtasts.h"
#include "oracle.h"

/* check_policy - mtasts.h's promises about a parsed policy */
static void check_policy(const struct mtasts_policy *p)
{
	size_t i;

	if (p->mode != MTASTS_NONE && p->mode != MTASTS_TESTING &&
	    p->mode != MTASTS_ENFORCE)
		oracle_fail("mode %d", (int)p->mode);
	if (p->max_age > MTASTS_MAX_AGE)
		oracle_fail("max_age %lu", p->max_age);
	if (p->nmx > MTASTS_MX_MAX || (p->nmx == 0 && p->mode != MTASTS_NONE))
		oracle_fail("%zu mx patterns in mode %s", p->nmx,
		            mtasts_mode_name(p->mode));
	for (i = 0; i < p->nmx; i++)
		if (p->mx[i][0] == '\0' || strlen(p->mx[i]) >= MTASTS_NAME_MAX)
			oracle_fail("mx pattern %zu empty or unterminated", i);
}

/* same_policy - a and b say the same */
static int same_policy(const struct mtasts_policy *a, const struct mtasts_policy *b)
{
	size_t i;

	if (a->mode != b->mode || a->max_age != b->max_age || a->nmx != b->nmx ||
	    strcmp(a->id, b->id) != 0 || a->fetched != b->fetched)
		return 0;
	for (i = 0; i < a->nmx; i++)
		if (strcmp(a->mx[i], b->mx[i]) != 0)
			return 0;
	return 1;
}

/* check_round_trip - p as a cache file, parsed back */
static void check_round_trip(struct mtasts_policy *p)
{
	static char buf[16384];
	struct mtasts_policy q;
	int len;

	snprintf(p->id, sizeof p->id, "fuzz1");
	p->fetched = 1234567890;
	len = mtasts_cache_format(p, buf, sizeof buf);
	if (len < 0)
		oracle_fail("a parsed policy does not fit a cache file");
	/* a pattern with a ':' or blanks at its ends is still one value */
	if (mtasts_cache_parse(buf, (size_t)len, &q) < 0)
		oracle_fail("a cache file written does not parse: %s", buf);
	if (!same_policy(p, &q))
		oracle_fail("the cache file changed the policy: %s", buf);
}

/* check_txt - the id of a record that parses */
static void check_txt(const char *s)
{
	char id[MTASTS_ID_MAX];
	size_t i, n;

	if (mtasts_txt_parse(s, id) < 0)
		return;
	n = strlen(id);
	if (n == 0 || n >= MTASTS_ID_MAX)
		oracle_fail("an id of %zu octets", n);
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)id[i]))
			oracle_fail("id octet 0x%02x", (unsigned char)id[i]);
	if (strncmp(s, "v=STSv1", 7) != 0)
		oracle_fail("a record without v=STSv1 first");
}

/* check_pattern - the first line as a pattern */
static void check_pattern(const char *s)
{
	char line[MTASTS_NAME_MAX], upper[MTASTS_NAME_MAX];
	size_t i, n = strcspn(s, "\n");

	if (n >= sizeof line)
		return;
	memcpy(line, s, n);
	line[n] = '\0';
	for (i = 0; i <= n; i++)
		upper[i] = (char)toupper((unsigned char)line[i]);
	if (n > 0 && line[0] != '*' && line[0] != '.' &&
	    !mtasts_pattern_match(line, upper))
		oracle_fail("pattern %s does not match itself", line);
	if (n > 2 && line[0] == '*' && line[1] == '.' &&
	    mtasts_pattern_match(line, line + 2))
		oracle_fail("pattern %s matches the bare %s", line, line + 2);
}

/* LLVMFuzzerTestOneInput - one input, every parser */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct mtasts_policy p;
	char *z;

	if (mtasts_policy_parse(s, size, &p) == 0) {
		check_policy(&p);
		check_round_trip(&p);
	}
	if (mtasts_cache_parse(s, size, &p) == 0)
		check_policy(&p);
	if ((z = malloc(size + 1)) == NULL)
		oracle_fail("out of memory");
	memcpy(z, data, size);
	z[size] = '\0';
	check_txt(z);
	check_pattern(z);
	free(z);
	return 0;
}
