/* mtasts_lookup.c - DNS, then cache or HTTPS; see mtasts_lookup.h */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "mtasts_cache.h"
#include "mtasts_fetch.h"
#include "mtasts_lookup.h"

/* TXT_RECORDS: the records of _mta-sts.DOMAIN looked at, whatever else
 * lives there (a 64 KiB answer holds a few thousand tiny ones; past this
 * many the rest is not read), 128 KiB on the heap */
enum { TXT_RECORDS = 256, FAILED_MAX = 64 };

/* Fetches that failed lately (domain and id), so that a policy host
 * that is down or slow costs one fetch per MTASTS_RETRY_SECONDS, not one
 * per delivery (each up to its time limit).  Shared by the delivery
 * threads: only under failed_lock.  Full, the entry that ends first
 * makes room. */
static struct failed_fetch {
	char domain[MTASTS_NAME_MAX];
	char id[MTASTS_ID_MAX];
	time_t until;
} failed[FAILED_MAX];
static pthread_mutex_t failed_lock = PTHREAD_MUTEX_INITIALIZER;

/* failed_lately - did the fetch of domain's policy id fail lately? */
static int failed_lately(const char *domain, const char *id, time_t now)
{
	int hit = 0;
	size_t i;

	pthread_mutex_lock(&failed_lock);
	for (i = 0; i < FAILED_MAX && !hit; i++)
		hit = failed[i].until > now && strcmp(failed[i].domain, domain) == 0 &&
		      strcmp(failed[i].id, id) == 0;
	pthread_mutex_unlock(&failed_lock);
	return hit;
}

/* note_failure - remember (or forget: ok) a failed fetch of domain's id */
static void note_failure(const char *domain, const char *id, time_t now, int ok)
{
	size_t i, slot = 0;

	pthread_mutex_lock(&failed_lock);
	for (i = 0; i < FAILED_MAX; i++) {
		if (strcmp(failed[i].domain, domain) == 0) {
			slot = i;
			break;
		}
		if (failed[i].until < failed[slot].until)
			slot = i;
	}
	if (ok) {
		if (i < FAILED_MAX)
			failed[slot].until = 0;
	} else {
		snprintf(failed[slot].domain, sizeof failed[slot].domain, "%s", domain);
		snprintf(failed[slot].id, sizeof failed[slot].id, "%s", id);
		failed[slot].until = now + MTASTS_RETRY_SECONDS;
	}
	pthread_mutex_unlock(&failed_lock);
}

/* record_id - the id of the one STSv1 record of domain: 0, or -1 (none,
 * several, or the lookup failed) */
static int record_id(const struct mtasts_env *env, const char *domain,
                     char id[MTASTS_ID_MAX])
{
	char name[DNS_NAME_MAX + 16], (*txt)[DNS_TXT_MAX];
	size_t n, i, found = 0;
	int broken = 0;

	snprintf(name, sizeof name, "_mta-sts.%s", domain);
	if ((txt = malloc(TXT_RECORDS * sizeof *txt)) == NULL)
		return -1;
	if (dns_txt(env->dns, name, txt, TXT_RECORDS, &n) != DNS_OK)
		n = 0;
	for (i = 0; i < n; i++)
		if (mtasts_txt_is_sts(txt[i])) {
			found++;
			if (mtasts_txt_parse(txt[i], id) < 0)
				broken = 1;     /* a broken one: no record */
		}
	free(txt);
	return found == 1 && !broken ? 0 : -1;  /* several: none (3.1) */
}

/* fetch - the policy anew: 0 with *p (id and time set) stored, or -1 */
static int fetch(const struct mtasts_env *env, const char *domain,
                 const char *id, struct mtasts_policy *p)
{
	char qd[LOG_VALUE_MAX], qe[LOG_VALUE_MAX], err[512];
	char *buf = malloc(MTASTS_POLICY_MAX + 1);
	const char *why;
	size_t len;
	int r = -1;

	if (buf == NULL)
		return -1;
	log_quote(qd, sizeof qd, domain);
	if (mtasts_fetch(env->dns, domain, env->ca, env->timeout_s, buf,
	                 MTASTS_POLICY_MAX + 1, &len, err, sizeof err) < 0)
		;
	else if (mtasts_policy_parse_why(buf, len, p, &why) < 0)
		snprintf(err, sizeof err, "the policy file is not a valid STSv1 policy: %s",
		         why);
	else
		r = 0;
	free(buf);
	if (r < 0) {
		log_event("mta-sts-error", "domain=%s id=%s error=%s", qd, id,
		          log_quote(qe, sizeof qe, err));
		return -1;
	}
	snprintf(p->id, sizeof p->id, "%s", id);
	p->fetched = time(NULL);
	log_event("mta-sts", "domain=%s id=%s mode=%s max_age=%lu mx=%zu fetched=yes",
	          qd, id, mtasts_mode_name(p->mode), p->max_age, p->nmx);
	if (mtasts_cache_store(env->queue, domain, p) < 0) {
		snprintf(err, sizeof err, "cannot store the policy in %s/sts: %s",
		         env->queue, strerror(errno));
		log_event("mta-sts-error", "domain=%s id=%s error=%s", qd, id,
		          log_quote(qe, sizeof qe, err));
	}
	return 0;
}

/* mtasts_lookup - RFC 8461 5.1 */
int mtasts_lookup(const struct mtasts_env *env, const char *domain,
                  struct mtasts_policy *p)
{
	char name[MTASTS_NAME_MAX], id[MTASTS_ID_MAX];
	struct mtasts_policy *fresh;
	int cached, i;

	for (i = 0; domain[i] && i < MTASTS_NAME_MAX - 1; i++)
		name[i] = (char)tolower((unsigned char)domain[i]);
	name[i] = '\0';
	cached = mtasts_cache_load(env->queue, name, p) == 0 &&
	         mtasts_valid(p, time(NULL));
	if (record_id(env, name, id) < 0 || (cached && strcmp(p->id, id) == 0))
		return cached;
	if (failed_lately(name, id, time(NULL)) ||
	    (fresh = malloc(sizeof *fresh)) == NULL)
		return cached;
	if (fetch(env, name, id, fresh) == 0) {
		*p = *fresh;
		cached = 1;
		note_failure(name, id, time(NULL), 1);
	} else
		note_failure(name, id, time(NULL), 0);
	free(fresh);
	return cached;
}
