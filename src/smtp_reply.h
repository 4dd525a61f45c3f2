/* smtp_reply - an incremental parser for SMTP replies (RFC 5321 4.2).
 *
 * The caller feeds whatever bytes the server sent, in any fragments (one
 * byte at a time is fine); the parser hands back one complete reply at a
 * time: its three-digit code, the RFC 3463 enhanced status code of its
 * first line when it has one, and the text of all its lines.
 *
 * A reply is
 *     *( code "-" [text] CRLF )  code [ SP text ] CRLF
 * Bare LF is accepted as a line end too (servers that send it exist; it
 * cannot confuse a client).  Everything else a hostile or broken server
 * may send is survived and reported, never trusted:
 *   - a line whose code is not three digits (first digit 2-5), or whose
 *     fourth byte is neither SP, "-" nor the line end, ends the reply at
 *     once as SMTP_REPLY_EBADCODE;
 *   - a code that changes between the lines of one reply is
 *     SMTP_REPLY_EMIXED (reported when the reply ends);
 *   - a reply of more than SMTP_REPLY_LINES_MAX lines or
 *     SMTP_REPLY_BYTES_MAX bytes is cut off as SMTP_REPLY_ETOOBIG; the rest
 *     of the line it was cut off in is skipped;
 *   - long lines are kept to SMTP_REPLY_LINE_MAX bytes each and the whole
 *     text to SMTP_REPLY_TEXT_MAX (r->truncated says so), but every byte is
 *     consumed, so the next reply starts where it should;
 *   - control characters, NUL, DEL and bytes above 0x7e in the text become
 *     '?' before they are stored.
 * A reply with an error is still returned (code 0 when the first line had
 * none): the caller decides, and an SMTP client should drop a connection
 * whose replies it cannot parse.
 *
 * Text: the text of each line (after the code, its separator, and the
 * enhanced status code when the line starts with one), lines joined by a
 * single '\n'.  '\n' is the only control character text can contain.
 *
 * Contract: pure code on caller-owned structs: no allocation, no globals,
 * thread-safe.  One parser per connection.
 */
#ifndef MTA_SMTP_REPLY_H
#define MTA_SMTP_REPLY_H

#include <stddef.h>

#include "status.h"

enum {
	SMTP_REPLY_LINE_MAX = 512,      /* stored per line (RFC 5321 4.5.3.1.5) */
	SMTP_REPLY_TEXT_MAX = 1024,     /* stored per reply, NUL included */
	SMTP_REPLY_LINES_MAX = 256,     /* lines per reply before ETOOBIG */
	SMTP_REPLY_BYTES_MAX = 1 << 20  /* bytes per reply before ETOOBIG */
};

enum smtp_reply_error {
	SMTP_REPLY_OK = 0,
	SMTP_REPLY_EBADCODE,   /* a line without a valid code and separator */
	SMTP_REPLY_EMIXED,     /* lines of one reply with different codes */
	SMTP_REPLY_ETOOBIG     /* too many lines or bytes */
};

struct smtp_reply {
	int code;                  /* 200..599; 0 when the first line had none */
	enum smtp_reply_error error;
	int enh_class;             /* enhanced status code of the first line, */
	int enh_subject;           /* e.g. 5.1.1; enh_class is 0 when the line */
	int enh_detail;            /* had none (or one that did not match code) */
	unsigned lines;            /* lines in the reply */
	int truncated;             /* text was cut to fit */
	size_t len;                /* strlen(text) */
	char text[SMTP_REPLY_TEXT_MAX];
};

struct smtp_reply_parser {
	struct smtp_reply cur;     /* the reply being assembled */
	size_t reply_bytes;        /* bytes of cur seen so far */
	size_t line_len;           /* bytes of the current line seen (no LF) */
	size_t line_stored;        /* of which kept in line[] */
	int skip_line;             /* discard up to the next LF */
	int mixed;                 /* a line's code differed from the first */
	char line[SMTP_REPLY_LINE_MAX];
};

/* smtp_reply_init - a parser at the start of a reply */
void smtp_reply_init(struct smtp_reply_parser *p);

/* smtp_reply_feed - consume buf[0..n) up to the end of one reply.
 * Returns 1 when a reply is complete: it is in *r and *used bytes of buf
 * were consumed (the rest belongs to later replies; feed it again).
 * Returns 0 when all n bytes were consumed (*used = n) and no reply is
 * complete yet. */
int smtp_reply_feed(struct smtp_reply_parser *p, const char *buf, size_t n,
                    size_t *used, struct smtp_reply *r);

/* smtp_reply_pending - true when part of a reply has been fed */
int smtp_reply_pending(const struct smtp_reply_parser *p);

/* smtp_reply_clear - r holds no reply (code 0, no text) */
void smtp_reply_clear(struct smtp_reply *r);

/* smtp_reply_status - what a server reply means: ST_OK for 2xx/3xx,
 * ST_TEMP for 4xx, ST_PERM for 5xx; text "code [x.y.z ]text" */
struct status smtp_reply_status(const struct smtp_reply *r);

/* smtp_reply_error_text - a short English phrase for an error */
const char *smtp_reply_error_text(enum smtp_reply_error e);

/* smtp_reply_line - the n-th line (from 0) of r's text into buf of size
 * len, NUL-terminated and cut to fit; returns the length stored, or -1
 * when r has no such line (or len is 0) */
int smtp_reply_line(const struct smtp_reply *r, unsigned n, char *buf,
                    size_t len);
/* smtp_reply_summary - "550 5.1.1 first line" (no enhanced code when r
 * had none) into buf of size len, cut to fit: a refusal quoted in one
 * line, for logs and DSNs */
void smtp_reply_summary(const struct smtp_reply *r, char *buf, size_t len);

#endif
