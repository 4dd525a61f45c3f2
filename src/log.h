/* log - one line per event, emitted with a single write(2).
 *
 * Line format (mta-smtpd(8), LOGGING):
 *   2026-11-23T08:14:27.123456Z c17 event key=value key="value with spaces"
 * The timestamp is UTC with microseconds; the tag names the thread
 * (c17 = connection 17, d42 = delivery 42, main, sched).
 *
 * Thread safety: every function may be called from any thread.  Each line
 * is formatted in a stack buffer and written with one write() on an
 * O_APPEND descriptor, so lines from different threads never interleave.
 * Control characters in the formatted line (from client-supplied data)
 * are replaced by '?', so one event is always exactly one line.  Lines
 * longer than LOG_LINE_MAX are truncated.  log_open() must be called
 * before any other thread starts; it is not itself thread-safe.
 * log_reopen() (SIGHUP, for logrotate) may run while other threads log:
 * each line goes wholly to the old file or wholly to the new one.
 *
 * Syslog (log_open_syslog, mta-smtpd --syslog): the same line without
 * its timestamp (syslog adds its own), one syslog(3) record per event,
 * facility mail, priority info.  glibc's syslog() is MT-Safe (its
 * attributes in syslog(3); it locks around its socket), so every function
 * stays callable from any thread.
 *
 * Values: every value that comes from outside (an address, a HELO name,
 * reply text, an error message quoting either) goes through log_quote(),
 * log_quoteb() or log_addr(), so that it is one value and cannot fake a
 * key=value pair of its own.  A value is written as it is when it is
 * non-empty printable ASCII without SP, '"', '\\' and '='; otherwise in
 * double quotes, with '"' and '\\' preceded by a backslash and every
 * octet outside printable ASCII written as \xHH.  They write into the
 * caller's buffer and keep no state.
 */
#ifndef MTA_LOG_H
#define MTA_LOG_H

#include <stddef.h>

enum { LOG_LINE_MAX = 2048 };
/* room for a value of up to 256 octets, fully escaped, with its angle
 * brackets, quotes and NUL: the size of a buffer for log_addr() */
enum { LOG_VALUE_MAX = 4 * 258 + 3 };

/* log_open - log to path (appending; created 0640), or stderr when NULL */
int log_open(const char *path);
/* log_open_syslog - log through syslog(3) as ident, facility mail; before
 * any other thread starts, instead of log_open() */
void log_open_syslog(const char *ident);
/* log_reopen - open path (or stderr, when NULL) again, in place of the
 * current destination; 0, or -1 with errno (the old one is kept).  One
 * thread at a time.  With syslog: nothing to do, 0. */
int log_reopen(const char *path);
/* log_set_tag - name the calling thread in its log lines (printf format) */
void log_set_tag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_event - one line: event name, then printf-formatted key=value pairs */
void log_event(const char *event, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* log_quoteb - p[0..n) as one log value in buf (see above), cut at a
 * whole escape with its quote closed when it does not fit size (which
 * must be at least 8); returns buf */
const char *log_quoteb(char *buf, size_t size, const char *p, size_t n);
/* log_quote - log_quoteb() of the C string s */
const char *log_quote(char *buf, size_t size, const char *s);
/* log_addr - an envelope address as one log value: "<" text ">", quoted
 * when it must be; text "" (the null path) gives <> */
const char *log_addr(char *buf, size_t size, const char *text);

#endif
