/* log.c - event log lines, one write(2) each; see log.h */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Written once by log_open() before threads start, read-only afterwards:
 * log_reopen() changes what the descriptor refers to, never its number. */
static int log_fd = 2;
/* Set once by log_open_syslog() before threads start: lines go to
 * syslog(3) instead of log_fd. */
static int log_to_syslog;
/* Each thread's own tag: no lock needed. */
static __thread char log_tag[16] = "main";

/* log_open - choose the log destination.  Stderr is used through a
 * descriptor of our own, so that log_reopen() may point it at a file
 * without touching the process's stderr. */
int log_open(const char *path)
{
	int fd;

	if (path == NULL) {
		fd = fcntl(2, F_DUPFD_CLOEXEC, 3);
		log_fd = fd < 0 ? 2 : fd;
		return 0;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	log_fd = fd;
	return 0;
}

/* log_open_syslog - log through syslog(3), facility mail.  openlog()
 * once, here, before threads start: LOG_NDELAY connects now, while the
 * daemon is still root; glibc's syslog() is MT-Safe (a lock of its own
 * around its one socket, which it reconnects when the log daemon
 * restarts). */
void log_open_syslog(const char *ident)
{
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_MAIL);
	log_to_syslog = 1;
}

/* log_reopen - the same descriptor number now refers to a fresh open of
 * path (or stderr): dup2() swaps it in one step, so a writer in another
 * thread writes to the old file or to the new one, never to a closed or
 * reused descriptor */
int log_reopen(const char *path)
{
	int fd, saved;

	if (log_to_syslog)           /* syslog's own socket, nothing to reopen */
		return 0;
	if (log_fd == 2)             /* no descriptor of our own to replace */
		return path == NULL ? 0 : (errno = EBADF, -1);
	fd = path ? open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640)
	          : fcntl(2, F_DUPFD_CLOEXEC, 3);
	if (fd < 0)
		return -1;
	if (dup3(fd, log_fd, O_CLOEXEC) < 0) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	close(fd);
	return 0;
}

/* log_set_tag - name the calling thread */
void log_set_tag(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(log_tag, sizeof log_tag, fmt, ap);
	va_end(ap);
}

/* log_event - format and emit one line */
void log_event(const char *event, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	struct timeval tv;
	struct tm tm;
	va_list ap;
	size_t len, i;
	int n, saved_errno = errno;

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	/* syslog stamps its records itself */
	if (log_to_syslog)
		n = snprintf(line, sizeof line, "%s %s ", log_tag, event);
	else
		n = snprintf(line, sizeof line,
		             "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s %s ",
		             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
		             tm.tm_hour, tm.tm_min, tm.tm_sec, (long)tv.tv_usec,
		             log_tag, event);
	len = (n < 0) ? 0 : (size_t)n;
	if (len < sizeof line - 1) {
		va_start(ap, fmt);
		n = vsnprintf(line + len, sizeof line - 1 - len, fmt, ap);
		va_end(ap);
		if (n > 0)
			len += (size_t)n;
	}
	if (len > sizeof line - 2)
		len = sizeof line - 2;
	while (len > 0 && line[len - 1] == ' ')
		len--;
	for (i = 0; i < len; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	if (log_to_syslog) {
		line[len] = '\0';
		syslog(LOG_INFO, "%s", line);
		errno = saved_errno;
		return;
	}
	line[len++] = '\n';
	/* One write: O_APPEND makes it atomic with respect to other lines. */
	if (write(log_fd, line, len) < 0) {
		/* Nowhere left to report it. */
	}
	errno = saved_errno;
}

/* plain - may octet c stand in a value written without quotes? */
static int plain(unsigned char c)
{
	return c > ' ' && c < 0x7f && c != '"' && c != '\\' && c != '=';
}

/* quote_parts - pre, p[0..n) and post as one value in buf (log.h) */
static const char *quote_parts(char *buf, size_t size, const char *pre,
                               const char *p, size_t n, const char *post)
{
	static const char hex[] = "0123456789abcdef";
	size_t lp = strlen(pre), lq = strlen(post), i, len = 0;
	int quoted = lp + n + lq == 0;

	for (i = 0; i < n && !quoted; i++)
		quoted = !plain((unsigned char)p[i]);
	if (!quoted) {
		/* pre and post are the caller's plain text */
		snprintf(buf, size, "%s%.*s%s", pre, (int)n, p, post);
		return buf;
	}
	buf[len++] = '"';
	for (i = 0; i < lp + n + lq; i++) {
		unsigned char c = (unsigned char)(i < lp ? pre[i]
		                  : i < lp + n ? p[i - lp] : post[i - lp - n]);
		char esc[4];
		size_t k = 0;

		if (c == '"' || c == '\\') {
			esc[k++] = '\\';
			esc[k++] = (char)c;
		} else if (c < ' ' || c >= 0x7f) {
			esc[k++] = '\\';
			esc[k++] = 'x';
			esc[k++] = hex[c >> 4];
			esc[k++] = hex[c & 15];
		} else {
			esc[k++] = (char)c;
		}
		if (len + k + 2 > size)          /* room for '"' and NUL */
			break;
		memcpy(buf + len, esc, k);
		len += k;
	}
	buf[len++] = '"';
	buf[len] = '\0';
	return buf;
}

/* log_quoteb - p[0..n) as one log value */
const char *log_quoteb(char *buf, size_t size, const char *p, size_t n)
{
	return quote_parts(buf, size, "", p, n, "");
}

/* log_quote - a C string as one log value */
const char *log_quote(char *buf, size_t size, const char *s)
{
	return quote_parts(buf, size, "", s, strlen(s), "");
}

/* log_addr - "<" text ">" as one log value */
const char *log_addr(char *buf, size_t size, const char *text)
{
	return quote_parts(buf, size, "<", text, strlen(text), ">");
}
