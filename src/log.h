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
 */
#ifndef MTA_LOG_H
#define MTA_LOG_H

enum { LOG_LINE_MAX = 2048 };

/* log_open - log to path (appending; created 0640), or stderr when NULL */
int log_open(const char *path);
/* log_set_tag - name the calling thread in its log lines (printf format) */
void log_set_tag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* log_event - one line: event name, then printf-formatted key=value pairs */
void log_event(const char *event, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
