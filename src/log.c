/* log.c - event log lines, one write(2) each; see log.h */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Written once by log_open() before threads start, read-only afterwards. */
static int log_fd = 2;
/* Each thread's own tag: no lock needed. */
static __thread char log_tag[16] = "main";

/* log_open - choose the log destination */
int log_open(const char *path)
{
	int fd;

	if (path == NULL) {
		log_fd = 2;
		return 0;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
	if (fd < 0)
		return -1;
	log_fd = fd;
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
	n = snprintf(line, sizeof line,
	             "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ %s %s ",
	             tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	             tm.tm_min, tm.tm_sec, (long)tv.tv_usec, log_tag, event);
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
	line[len++] = '\n';
	/* One write: O_APPEND makes it atomic with respect to other lines. */
	if (write(log_fd, line, len) < 0) {
		/* Nowhere left to report it. */
	}
	errno = saved_errno;
}
