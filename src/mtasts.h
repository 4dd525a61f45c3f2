/* mtasts - MTA-STS (RFC 8461) as text: the _mta-sts TXT record, the
 * policy file, MX host patterns, and the policy cache's file format.
 *
 * The TXT record (3.1): "v=STSv1; id=ID[; ext=value]...", v first, ID 1
 * to 32 letters and digits.  The policy (3.2): "key: value" lines (LF or
 * CRLF) with version STSv1, mode enforce|testing|none, max_age seconds
 * (at most MTASTS_MAX_AGE; more is cut to it) and, unless the mode is
 * none, one or more mx patterns (at most MTASTS_MX_MAX: a policy with
 * more is refused whole, since enforcing a part of its list would refuse
 * MX hosts it names); unknown keys are ignored, a repeated key other
 * than mx keeps its first value.  A value is never cut: one longer than
 * MTASTS_NAME_MAX - 1 bytes, or holding a NUL, makes the policy invalid
 * (3.2: a policy that does not parse is as none).  An mx pattern (4.1)
 * is a host name (RFC 5321 Domain: labels of letters, digits and inner
 * hyphens; a trailing dot allowed), or "*." and a name, which stands for
 * exactly one more label in front (a "*" elsewhere makes the policy
 * invalid): "*.example.net" matches "mx.example.net", neither
 * "example.net" nor "a.mx.example.net".  Names compare without case and
 * without a trailing dot.
 * The cache file (mtasts_cache.h) is the policy in this same format,
 * after two lines of its own: "id: ID" (the TXT record's) and
 * "fetched: SECONDS" (since the epoch).
 *
 * Contract: pure functions on caller memory; any thread may call them.
 */
#ifndef MTA_MTASTS_H
#define MTA_MTASTS_H

#include <stddef.h>
#include <time.h>

enum {
	MTASTS_ID_MAX = 33,             /* 32 characters and the NUL */
	MTASTS_MX_MAX = 64,             /* mx lines taken; more: invalid */
	MTASTS_NAME_MAX = 256,
	MTASTS_MAX_AGE = 31557600,      /* one year (3.2) */
	MTASTS_POLICY_MAX = 64 * 1024   /* the largest policy file taken */
};

enum mtasts_mode { MTASTS_NONE, MTASTS_TESTING, MTASTS_ENFORCE };

struct mtasts_policy {
	enum mtasts_mode mode;
	unsigned long max_age;          /* seconds */
	size_t nmx;
	char mx[MTASTS_MX_MAX][MTASTS_NAME_MAX];
	char id[MTASTS_ID_MAX];         /* the cache's: the TXT record's id */
	time_t fetched;                 /* the cache's: when it was fetched */
};

/* mtasts_txt_is_sts - is the TXT record an STSv1 one: "v=STSv1" then
 * blanks and ";" or its end?  1 or 0 (others are discarded, 3.1) */
int mtasts_txt_is_sts(const char *txt);
/* mtasts_txt_parse - a TXT record's text: 0 with its id in id[], or -1
 * (not an STSv1 record, or a malformed one) */
int mtasts_txt_parse(const char *txt, char id[MTASTS_ID_MAX]);
/* mtasts_policy_parse - the policy file text[len]: 0, or -1 (invalid) */
int mtasts_policy_parse(const char *text, size_t len, struct mtasts_policy *p);
/* mtasts_policy_parse_why - the same; when invalid, *why says why (a
 * static string) */
int mtasts_policy_parse_why(const char *text, size_t len, struct mtasts_policy *p,
                            const char **why);
/* mtasts_mx_match - does host match one of p's mx patterns? 1 or 0 */
int mtasts_mx_match(const struct mtasts_policy *p, const char *host);
/* mtasts_pattern_match - does host match the one pattern? 1 or 0 */
int mtasts_pattern_match(const char *pattern, const char *host);
/* mtasts_valid - is p (fetched at p->fetched) still fresh at now? */
int mtasts_valid(const struct mtasts_policy *p, time_t now);
/* mtasts_mode_name - "none", "testing", "enforce" */
const char *mtasts_mode_name(enum mtasts_mode m);
/* mtasts_cache_format - p as a cache file into buf[len]: its length, or
 * -1 when it does not fit */
int mtasts_cache_format(const struct mtasts_policy *p, char *buf, size_t len);
/* mtasts_cache_parse - a cache file's text[len]: 0, or -1 (damaged, or
 * without its id or time) */
int mtasts_cache_parse(const char *text, size_t len, struct mtasts_policy *p);

#endif
