/* status - the outcome of an operation that can fail for a while or for good.
 *
 * Contract: a status is a plain value (no pointers), so it can be returned
 * and copied freely between threads.  Temporary versus permanent is the
 * kind; the RFC 3463 subject.detail says what went wrong; the text is for
 * people.  Only the protocol edge (session.c, the SMTP client) maps a
 * status to a three-digit SMTP reply.
 */
#ifndef MTA_STATUS_H
#define MTA_STATUS_H

enum status_kind { ST_OK = 0, ST_TEMP, ST_PERM };

struct status {
	enum status_kind kind;
	unsigned char subject;   /* RFC 3463 subject, e.g. 1 in 5.1.1 */
	unsigned short detail;   /* RFC 3463 detail, e.g. 1 in 5.1.1 */
	char text[200];          /* human-readable, no CR or LF */
};

/* status_ok - the success value */
struct status status_ok(void);
/* status_make - a status with printf-formatted text (truncated to fit) */
struct status status_make(enum status_kind kind, int subject, int detail,
                          const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
