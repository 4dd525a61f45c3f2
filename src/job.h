/* job - one undelivered recipient of a queued message: its file name in
 * queue/rcpt/ and its content (mta-queue(5)).
 *
 * Name: DUE.ID.N  - DUE = epoch seconds of the next attempt (decimal, no
 * leading zeros), ID = the message's queue ID, N = the recipient's index
 * in the envelope (decimal, from 0).  `ls queue/rcpt | sort -n` is the
 * schedule; renaming a job to another DUE reschedules it.
 *
 * Content: empty for a job never tried (so creating a job is creating an
 * empty file: nothing to fsync but its directory), otherwise "key value"
 * lines:
 *   attempts N        rounds tried so far
 *   first SECONDS     epoch seconds of the first failed attempt
 *   error TEXT        the last error, one line (a reply or a local error)
 *   tls TEXT          the TLS of the last server tried (remote.h: "tls=...
 *                     verify=... policy=..."); only when there was one
 *   warned SECONDS    epoch seconds when the sender was sent the delay
 *                     warning for this recipient (--delay-warning); only
 *                     once there was one, and never a second one after
 *
 * Contract: pure functions on caller buffers; thread-safe.
 */
#ifndef MTA_JOB_H
#define MTA_JOB_H

#include <stddef.h>
#include <time.h>

#include "envelope.h"

enum { JOB_NAME_MAX = 64, JOB_ERROR_MAX = 512, JOB_TLS_MAX = 160 };

/* Two DUEs say more than a time (mta-queue(5), JOB FILES): a job due at
 * JOB_DUE_HELD or later is held (never tried; mta-queue --flush leaves
 * it, a restart keeps it, only a rename releases it), and a job due at
 * JOB_DUE_BOUNCE is failed with a bounce at once instead of being tried.
 * Either is set by one rename in rcpt/, like any reschedule. */
#define JOB_DUE_HELD 9999999999LL
#define JOB_DUE_BOUNCE 0LL

struct job_name {
	long long due;
	char id[ENVELOPE_ID_MAX];
	unsigned n;
};

struct job_info {
	unsigned attempts;
	long long first;             /* 0 = never failed */
	char error[JOB_ERROR_MAX];   /* "" = none */
	char tls[JOB_TLS_MAX];       /* the last attempt's TLS, "" = not known */
	long long warned;            /* delay warning sent at; 0 = not yet */
};

/* job_name_format - "DUE.ID.N" into buf[JOB_NAME_MAX]; its length */
size_t job_name_format(const struct job_name *j, char *buf);
/* job_name_parse - parse a file name; 0, or -1 if it is not a job name */
int job_name_parse(const char *name, struct job_name *j);
/* job_id_valid - letters and digits only, 1..ENVELOPE_ID_MAX-1 long */
int job_id_valid(const char *id, size_t n);
/* job_info_format - the content for info into a buffer of len; length,
 * or -1 if it does not fit (control characters in error become '?') */
int job_info_format(const struct job_info *info, char *buf, size_t len);
/* job_info_parse - content buf[0..n) (may be empty); 0, or -1 if bad */
int job_info_parse(const char *buf, size_t n, struct job_info *info);

#endif
