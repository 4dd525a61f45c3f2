/* job.c - job file names and content; see job.h */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"

/* job_id_valid - letters and digits only */
int job_id_valid(const char *id, size_t n)
{
	size_t i;

	if (n == 0 || n >= ENVELOPE_ID_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = id[i];
		if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
		      (c >= 'a' && c <= 'z')))
			return 0;
	}
	return 1;
}

/* job_name_format - the file name */
size_t job_name_format(const struct job_name *j, char *buf)
{
	int n = snprintf(buf, JOB_NAME_MAX, "%lld.%s.%u", j->due, j->id, j->n);

	return n < 0 ? 0 : (size_t)n;
}

/* decimal - parse p[0..n) as a decimal without sign or leading zeros */
static int decimal(const char *p, size_t n, unsigned long long max,
                   unsigned long long *v)
{
	size_t i;

	if (n == 0 || n > 19 || (n > 1 && p[0] == '0'))
		return -1;
	*v = 0;
	for (i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		*v = *v * 10 + (unsigned long long)(p[i] - '0');
	}
	return *v <= max ? 0 : -1;
}

/* job_name_parse - "DUE.ID.N" */
int job_name_parse(const char *name, struct job_name *j)
{
	const char *d1 = strchr(name, '.'), *d2;
	unsigned long long v;

	if (d1 == NULL || (d2 = strchr(d1 + 1, '.')) == NULL)
		return -1;
	if (decimal(name, (size_t)(d1 - name), (1ULL << 62), &v) < 0)
		return -1;
	j->due = (long long)v;
	if (!job_id_valid(d1 + 1, (size_t)(d2 - d1 - 1)))
		return -1;
	memcpy(j->id, d1 + 1, (size_t)(d2 - d1 - 1));
	j->id[d2 - d1 - 1] = '\0';
	if (decimal(d2 + 1, strlen(d2 + 1), 1000000, &v) < 0)
		return -1;
	j->n = (unsigned)v;
	return 0;
}

/* job_info_format - the content */
int job_info_format(const struct job_info *info, char *buf, size_t len)
{
	char err[JOB_ERROR_MAX], tls[JOB_TLS_MAX];
	size_t i;
	int n;

	snprintf(err, sizeof err, "%s", info->error);
	snprintf(tls, sizeof tls, "%s", info->tls);
	for (i = 0; err[i]; i++)
		if ((unsigned char)err[i] < 0x20 || err[i] == 0x7f)
			err[i] = '?';
	for (i = 0; tls[i]; i++)
		if ((unsigned char)tls[i] < 0x20 || tls[i] == 0x7f)
			tls[i] = '?';
	n = snprintf(buf, len, "attempts %u\nfirst %lld\nerror %s\n%s%s%s",
	             info->attempts, info->first, err, tls[0] ? "tls " : "", tls,
	             tls[0] ? "\n" : "");
	if (n >= 0 && (size_t)n < len && info->warned > 0)
		n += snprintf(buf + n, len - (size_t)n, "warned %lld\n", info->warned);
	if (n < 0 || (size_t)n >= len)
		return -1;
	return n;
}

/* job_info_parse - the content; unknown keys are ignored (newer versions) */
int job_info_parse(const char *buf, size_t n, struct job_info *info)
{
	size_t pos = 0;

	memset(info, 0, sizeof *info);
	while (pos < n) {
		const char *line = buf + pos, *nl = memchr(line, '\n', n - pos);
		size_t len = nl ? (size_t)(nl - line) : n - pos;
		unsigned long long v;

		pos += len + 1;
		if (len >= 9 && memcmp(line, "attempts ", 9) == 0) {
			if (decimal(line + 9, len - 9, 1000000, &v) < 0)
				return -1;
			info->attempts = (unsigned)v;
		} else if (len >= 6 && memcmp(line, "first ", 6) == 0) {
			if (decimal(line + 6, len - 6, (1ULL << 62), &v) < 0)
				return -1;
			info->first = (long long)v;
		} else if (len >= 6 && memcmp(line, "error ", 6) == 0) {
			size_t k = len - 6 < JOB_ERROR_MAX - 1 ? len - 6 : JOB_ERROR_MAX - 1;
			memcpy(info->error, line + 6, k);
			info->error[k] = '\0';
		} else if (len >= 7 && memcmp(line, "warned ", 7) == 0) {
			if (decimal(line + 7, len - 7, (1ULL << 62), &v) < 0)
				return -1;
			info->warned = (long long)v;
		} else if (len >= 4 && memcmp(line, "tls ", 4) == 0) {
			size_t k = len - 4 < JOB_TLS_MAX - 1 ? len - 4 : JOB_TLS_MAX - 1;
			memcpy(info->tls, line + 4, k);
			info->tls[k] = '\0';
		} else if (len != 0 && memchr(line, ' ', len) == NULL) {
			return -1;   /* not "key value" at all */
		}
	}
	return 0;
}
