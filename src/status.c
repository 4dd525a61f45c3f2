/* status.c - constructors for struct status */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "status.h"

/* status_ok - the success value */
struct status status_ok(void)
{
	struct status st;

	memset(&st, 0, sizeof st);
	st.kind = ST_OK;
	return st;
}

/* status_make - a status with formatted text; CR and LF become spaces */
struct status status_make(enum status_kind kind, int subject, int detail,
                          const char *fmt, ...)
{
	struct status st;
	va_list ap;
	char *p;

	st.kind = kind;
	st.subject = (unsigned char)subject;
	st.detail = (unsigned short)detail;
	va_start(ap, fmt);
	vsnprintf(st.text, sizeof st.text, fmt, ap);
	va_end(ap);
	for (p = st.text; *p; p++)
		if (*p == '\r' || *p == '\n')
			*p = ' ';
	return st;
}
