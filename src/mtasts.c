/* mtasts.c - MTA-STS records, policies and patterns; see mtasts.h */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "mtasts.h"

/* is_wsp - RFC 5234 WSP */
static int is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* mtasts_txt_is_sts - "v=STSv1" as a whole field (3.1): "v=STSv10"
 * or "v=STSv1x" is another kind of record, discarded */
int mtasts_txt_is_sts(const char *txt)
{
	const char *p = txt + 7;

	if (strncmp(txt, "v=STSv1", 7) != 0)
		return 0;
	while (is_wsp(*p))
		p++;
	return *p == '\0' || *p == ';';
}

/* mtasts_txt_parse - "v=STSv1; id=ID; ..." (3.1) */
int mtasts_txt_parse(const char *txt, char id[MTASTS_ID_MAX])
{
	const char *p = txt;
	int have_id = 0;

	if (!mtasts_txt_is_sts(p))
		return -1;
	p += 7;
	while (is_wsp(*p))
		p++;
	while (*p == ';') {
		const char *key, *val;
		size_t klen, vlen;

		p++;
		while (is_wsp(*p))
			p++;
		if (*p == '\0')
			break;              /* a trailing ";" */
		key = p;
		while (isalnum((unsigned char)*p) || *p == '_' || *p == '-' || *p == '.')
			p++;
		klen = (size_t)(p - key);
		if (klen == 0 || *p != '=')
			return -1;
		val = ++p;
		while (*p > ' ' && *p < 0x7f && *p != ';' && *p != '=')
			p++;
		vlen = (size_t)(p - val);
		while (is_wsp(*p))
			p++;
		if (klen == 2 && memcmp(key, "id", 2) == 0 && !have_id) {
			size_t i;

			if (vlen == 0 || vlen >= MTASTS_ID_MAX)
				return -1;
			for (i = 0; i < vlen; i++)
				if (!isalnum((unsigned char)val[i]))
					return -1;
			memcpy(id, val, vlen);
			id[vlen] = '\0';
			have_id = 1;
		}
	}
	return *p == '\0' && have_id ? 0 : -1;
}

/* next_field - the next "key: value" line of text[len] from *pos: 1 with
 * key and value (trimmed, NUL-terminated), 0 at the end, -1 for a line
 * that is not a field, or whose value holds a NUL or does not fit val
 * (vlen - 1 bytes), with the reason in *why: a value is never cut, a
 * policy with one is refused whole (3.2: as if there were none) */
static int next_field(const char *text, size_t len, size_t *pos,
                      char *key, size_t klen, char *val, size_t vlen,
                      const char **why)
{
	size_t start, end, colon, a, b;

	for (;;) {
		if (*pos >= len)
			return 0;
		start = *pos;
		for (end = start; end < len && text[end] != '\n'; end++)
			;
		*pos = end < len ? end + 1 : end;
		if (end > start && text[end - 1] == '\r')
			end--;
		if (end > start)
			break;              /* blank lines are skipped */
	}
	for (colon = start; colon < end && text[colon] != ':'; colon++)
		;
	if (colon == end || colon == start) {
		*why = "a line that is not a key: value field";
		return -1;
	}
	snprintf(key, klen, "%.*s", (int)(colon - start), text + start);
	for (a = colon + 1; a < end && is_wsp(text[a]); a++)
		;
	if (memchr(text + a, '\0', end - a) != NULL) {
		*why = "a NUL byte in a value";
		return -1;
	}
	/* without blanks or CRs at its end: what the cache file writes back
	 * parses to the same value */
	for (b = end; b > a && (is_wsp(text[b - 1]) || text[b - 1] == '\r'); b--)
		;
	if (b - a > vlen - 1) {
		*why = "a value longer than 255 bytes";
		return -1;
	}
	snprintf(val, vlen, "%.*s", (int)(b - a), text + a);
	return 1;
}

/* pattern_valid - an mx value (4.1, RFC 5321 Domain): "*." at most at
 * its start, then labels of letters, digits and inner hyphens, at most
 * 63 each, a trailing dot allowed; a "*" anywhere else matches nothing
 * and is refused, not kept as a pattern that never matches */
static int pattern_valid(const char *v)
{
	size_t label = 0;
	const char *p = v;

	if (p[0] == '*' && p[1] == '.')
		p += 2;
	if (*p == '\0' || *p == '.')
		return 0;
	for (; *p; p++) {
		if (*p == '.') {
			if (label == 0 || p[-1] == '-')
				return 0;
			label = 0;
		} else if (isalnum((unsigned char)*p) || (*p == '-' && label > 0)) {
			if (++label > 63)
				return 0;
		} else
			return 0;
	}
	return label == 0 || p[-1] != '-';
}

/* parse_seconds - a max_age value: digits only; 0 or -1 */
static int parse_seconds(const char *v, unsigned long *out)
{
	unsigned long n = 0;

	if (*v == '\0' || strlen(v) > 10)
		return -1;
	for (; *v; v++) {
		if (!isdigit((unsigned char)*v))
			return -1;
		n = n * 10 + (unsigned long)(*v - '0');
	}
	*out = n > MTASTS_MAX_AGE ? MTASTS_MAX_AGE : n;
	return 0;
}

/* mtasts_policy_parse - the fields of 3.2 */
int mtasts_policy_parse(const char *text, size_t len, struct mtasts_policy *p)
{
	const char *why;

	return mtasts_policy_parse_why(text, len, p, &why);
}

/* mtasts_policy_parse_why - the same, and why not */
int mtasts_policy_parse_why(const char *text, size_t len, struct mtasts_policy *p,
                            const char **why)
{
	char key[32], val[MTASTS_NAME_MAX];
	int have_version = 0, have_mode = 0, have_age = 0, r;
	size_t pos = 0;

	memset(p, 0, sizeof *p);
	while ((r = next_field(text, len, &pos, key, sizeof key, val, sizeof val, why)) != 0) {
		if (r < 0)
			return -1;
		if (strcmp(key, "version") == 0 && !have_version) {
			*why = "a version other than STSv1";
			if (strcmp(val, "STSv1") != 0)
				return -1;
			have_version = 1;
		} else if (strcmp(key, "mode") == 0 && !have_mode) {
			if (strcmp(val, "enforce") == 0)
				p->mode = MTASTS_ENFORCE;
			else if (strcmp(val, "testing") == 0)
				p->mode = MTASTS_TESTING;
			else if (strcmp(val, "none") == 0)
				p->mode = MTASTS_NONE;
			else {
				*why = "an unknown mode";
				return -1;
			}
			have_mode = 1;
		} else if (strcmp(key, "max_age") == 0 && !have_age) {
			*why = "a max_age that is not a number of seconds";
			if (parse_seconds(val, &p->max_age) < 0)
				return -1;
			have_age = 1;
		} else if (strcmp(key, "mx") == 0) {
			*why = "a malformed mx pattern";
			if (!pattern_valid(val))
				return -1;
			/* more than we hold: refused, not cut short (the hosts
			 * past the cut would be refused in enforce mode) */
			*why = "more than 64 mx patterns";
			if (p->nmx == MTASTS_MX_MAX)
				return -1;
			snprintf(p->mx[p->nmx++], MTASTS_NAME_MAX, "%s", val);
		}
	}
	*why = "no version, mode or max_age";
	if (!have_version || !have_mode || !have_age)
		return -1;
	*why = "no mx pattern";
	return p->mode == MTASTS_NONE || p->nmx > 0 ? 0 : -1;
}

/* name_len - a name's length without its trailing dot */
static size_t name_len(const char *s)
{
	size_t n = strlen(s);

	return n > 0 && s[n - 1] == '.' ? n - 1 : n;
}

/* mtasts_pattern_match - 4.1: exact, or "*." and one label more */
int mtasts_pattern_match(const char *pattern, const char *host)
{
	size_t plen = name_len(pattern), hlen = name_len(host), label;

	if (plen == 0 || hlen == 0)
		return 0;
	if (pattern[0] != '*')
		return plen == hlen && strncasecmp(pattern, host, plen) == 0;
	if (plen < 3 || pattern[1] != '.')
		return 0;
	/* the first label of host, then the rest must be pattern + 1 */
	for (label = 0; label < hlen && host[label] != '.'; label++)
		;
	if (label == 0 || label == hlen)
		return 0;
	return hlen - label == plen - 1 &&
	       strncasecmp(host + label, pattern + 1, plen - 1) == 0;
}

/* mtasts_mx_match - any pattern */
int mtasts_mx_match(const struct mtasts_policy *p, const char *host)
{
	size_t i;

	for (i = 0; i < p->nmx; i++)
		if (mtasts_pattern_match(p->mx[i], host))
			return 1;
	return 0;
}

/* mtasts_valid - fetched + max_age not yet passed */
int mtasts_valid(const struct mtasts_policy *p, time_t now)
{
	return now >= p->fetched && (unsigned long)(now - p->fetched) < p->max_age;
}

/* mtasts_mode_name - the policy file's word */
const char *mtasts_mode_name(enum mtasts_mode m)
{
	return m == MTASTS_ENFORCE ? "enforce" : m == MTASTS_TESTING ? "testing" : "none";
}

/* mtasts_cache_format - "id:", "fetched:", then the policy's fields */
int mtasts_cache_format(const struct mtasts_policy *p, char *buf, size_t len)
{
	size_t used, i;
	int n;

	n = snprintf(buf, len, "id: %s\nfetched: %lld\nversion: STSv1\nmode: %s\n"
	             "max_age: %lu\n", p->id, (long long)p->fetched,
	             mtasts_mode_name(p->mode), p->max_age);
	if (n < 0 || (size_t)n >= len)
		return -1;
	used = (size_t)n;
	for (i = 0; i < p->nmx; i++) {
		n = snprintf(buf + used, len - used, "mx: %s\n", p->mx[i]);
		if (n < 0 || (size_t)n >= len - used)
			return -1;
		used += (size_t)n;
	}
	return (int)used;
}

/* mtasts_cache_parse - the policy, then the two lines of the cache */
int mtasts_cache_parse(const char *text, size_t len, struct mtasts_policy *p)
{
	char key[32], val[MTASTS_NAME_MAX];
	int have_id = 0, have_time = 0, r;
	const char *why;
	size_t pos = 0;

	if (mtasts_policy_parse(text, len, p) < 0)
		return -1;
	while ((r = next_field(text, len, &pos, key, sizeof key, val, sizeof val, &why)) > 0) {
		if (strcmp(key, "id") == 0 && !have_id) {
			size_t vl = strlen(val);

			if (vl == 0 || vl >= sizeof p->id)
				return -1;
			memcpy(p->id, val, vl + 1);
			have_id = 1;
		} else if (strcmp(key, "fetched") == 0 && !have_time) {
			char *end;
			long long t = strtoll(val, &end, 10);

			if (*end != '\0' || end == val || t < 0)
				return -1;
			p->fetched = (time_t)t;
			have_time = 1;
		}
	}
	return have_id && have_time ? 0 : -1;
}
