/* mtasts_cache - MTA-STS policies kept on disk: QUEUE/sts/DOMAIN, one
 * file per policy domain in mtasts.h's cache format, so that a policy
 * outlives a restart and serves while its host is down (RFC 8461 5.1).
 *
 * A file is written whole to a unique temporary name in the same
 * directory (QUEUE/sts/.tmp.PID.N: short, so that it fits whatever the
 * domain's length), fsync'd, renamed over the old one, and the directory
 * fsync'd (QUEUE/sts itself made durably: mkdir, fsync of QUEUE): a
 * reader sees the old file or the new one, never half of one, and a
 * power cut after a store cannot bring the old policy back; two
 * deliveries storing the same domain at once both succeed, the later
 * rename wins.  Temporary files a crash left (every name starting with
 * '.', the older .DOMAIN.tmp.* ones too) are removed by
 * mtasts_cache_clean at start-up.  Domains are lower case, letters, digits, '-' and '.',
 * not starting with '.'; others are neither read nor stored.
 *
 * Contract: any thread may call these at once; nothing is kept in
 * memory.
 */
#ifndef MTA_MTASTS_CACHE_H
#define MTA_MTASTS_CACHE_H

#include "mtasts.h"

/* mtasts_cache_load - the cached policy of domain: 0, or -1 (none, or a
 * damaged file) */
int mtasts_cache_load(const char *queue, const char *domain,
                      struct mtasts_policy *p);
/* mtasts_cache_store - replace the cached policy of domain: 0, or -1
 * with errno */
int mtasts_cache_store(const char *queue, const char *domain,
                       const struct mtasts_policy *p);

/* mtasts_cache_clean - remove the temporary files left in QUEUE/sts;
 * only while nothing stores (start-up, before the scheduler) */
void mtasts_cache_clean(const char *queue);

#endif
