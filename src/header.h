/* header - completes a message's header while the message streams through.
 *
 * What it does (mta-smtpd(8), HEADER PROCESSING):
 *   - writes a Received: field first, always (RFC 5321 4.4);
 *   - passes the client's header fields through unchanged, counting
 *     Received: fields (a hop count over info->max_received is a loop);
 *   - at the end of the header, appends Date:, From: (the envelope sender)
 *     and Message-ID: <ID@hostname> when the message has none; a message
 *     without From: and with the null sender cannot be completed;
 *   - the header ends at the first empty line, or at the first line that
 *     is not a header field (no "name:" and not a continuation); in that
 *     second case an empty line is inserted after the appended fields, so
 *     the offending line becomes the first line of the body, as careful
 *     MTAs do.  A message that ends inside its header gets the missing
 *     fields and no empty line.
 * Lines are handed over as pieces (a long line may come in several), and
 * leave as pieces, each line ending in a single LF; however a message is
 * cut into pieces, the output is the same.  Only the start of each header
 * line (up to HEADER_NAME_MAX octets) is buffered: the memory used is
 * bounded whatever the input.  Body pieces pass straight through.
 *
 * Exactly (RFC 5322 2.2, 3.6.8; RFC 5321 4.4):
 *   - a header field line is a name of printable ASCII but ':' (33..126),
 *     optional SP/HTAB (the obsolete "From :"), then ':'; the name and that
 *     white space together at most HEADER_NAME_MAX octets.  So the mbox
 *     "From alice ..." line is not a field: it starts the body;
 *   - a line starting with SP or HTAB continues the field before it; as
 *     the very first line it continues nothing and starts the body;
 *   - names are matched without regard to ASCII case;
 *   - Received: is
 *       Received: from HELO ([IP])            IPv6: ([IPv6:2001:db8::1]);
 *                                            no ([IP]) with hide_client
 *       \t(using VERSION with cipher CIPHER (BITS/ALG bits))   under TLS
 *       \tby HOSTNAME (mta) with ESMTP id ID  SMTP after plain HELO;
 *                                            ESMTPS under TLS
 *                                            (after HELO still SMTP);
 *                                            ESMTPA, ESMTPSA when the
 *                                            client authenticated (RFC
 *                                            3848; never the login)
 *       \tfor <RCPT>; DATE                    only for a single recipient
 *     (an empty HELO is written "unknown"); a local submission (maildrop,
 *     info->local) has instead
 *       Received: by HOSTNAME (mta, from userid UID)
 *       \tid ID
 *       \tfor <RCPT>; DATE                    as above
 *     without a recipient the
 *     "; DATE" ends the "by" line; the date goes to a line of its own
 *     when it would make its line longer than the 78 characters RFC 5322
 *     2.1.1 recommends;
 *   - the appended fields, in this order, each only when missing:
 *       Date: DATE  /  From: SENDER  /  Message-ID: <ID@HOSTNAME>
 *     DATE is header_format_date(arrival), SENDER info->sender as is;
 *   - our own Received: is not counted as a hop.
 *
 * Contract: one struct header per message, used by one thread.  The
 * strings in struct header_info are borrowed and must outlive the
 * message.  out() is called with the completed bytes; it cannot fail as
 * far as this module knows (the writer keeps a sticky error).
 */
#ifndef MTA_HEADER_H
#define MTA_HEADER_H

#include <stddef.h>
#include <time.h>

#include "tls.h"

/* A field name, with any white space before its colon, longer than this
 * makes the line not a field; it is also the size of the line buffer. */
enum { HEADER_NAME_MAX = 1000 };
/* The From: field bodies kept for header_from(), unfolded */
enum { HEADER_FROM_MAX = 2048 };

struct header_info {
	const char *hostname;    /* ours: "by" in Received, right side of Message-ID */
	const char *helo;        /* the client's HELO/EHLO argument */
	const char *client_ip;   /* "192.0.2.1" or "2001:db8::1" */
	const char *id;          /* queue ID of this message */
	const char *sender;      /* envelope sender text, "" for the null sender */
	const char *rcpt;        /* the single recipient, or NULL when several */
	int esmtp;               /* 1: "with ESMTP", 0: "with SMTP" */
	const struct tls_info *tls; /* the session's TLS (as Postfix names
	                          * it: "(using ...)", "with ESMTPS"); NULL:
	                          * in the clear */
	int authenticated;       /* AUTH succeeded: "with ESMTPA"/"ESMTPSA" */
	int hide_client;         /* the client's address is left out */
	time_t arrival;          /* date used in Received: and a missing Date: */
	unsigned max_received;   /* more Received: fields than this = a loop */
	int local;               /* a local submission (maildrop) by uid:
	                          * helo, client_ip, esmtp, tls unused */
	unsigned long uid;
};

enum header_result {
	HEADER_OK = 0,
	HEADER_LOOP,       /* too many Received: fields: refuse, 554 5.4.6 */
	HEADER_NO_FROM     /* no From: and the null sender: refuse, 554 5.6.0 */
};

typedef void (*header_out_fn)(void *ctx, const char *p, size_t n);

/* The members are private to header.c; the struct is here only so that a
 * caller can embed it (no allocation). */
struct header {
	const struct header_info *info;
	header_out_fn out;
	void *ctx;
	int state;                 /* where in the message/line: see header.c */
	int mid_line;              /* the last piece did not end its line */
	int seen_field;            /* a field was seen: WSP lines continue it */
	int seen_date, seen_from, seen_msgid;
	unsigned received;         /* Received: fields seen, ours not counted */
	size_t name_len;           /* octets of pending that are the name */
	size_t pending_len;        /* undecided start of the current line */
	char pending[HEADER_NAME_MAX];
	int in_from;               /* the current field is a From: */
	int from_over;             /* the From: bodies passed HEADER_FROM_MAX */
	size_t from_len;
	char from[HEADER_FROM_MAX]; /* every From: body, unfolded, ", " between */
};

/* header_begin - start a message: writes the Received: field at once */
void header_begin(struct header *h, const struct header_info *info,
                  header_out_fn out, void *ctx);
/* header_feed - the next piece p[0..n) of the message; eol: the piece
 * ends its line (the line terminator itself is not in p) */
void header_feed(struct header *h, const char *p, size_t n, int eol);
/* header_end - the message is complete: emits what is still missing and
 * tells whether the message may be accepted.  An unfinished last line is
 * ended with LF first.  HEADER_LOOP wins over HEADER_NO_FROM. */
enum header_result header_end(struct header *h);

/* header_from - the message's own From: field bodies (every From:
 * field, unfolded, joined by ", ") in *p, *n: 1; 0 when it has none;
 * -1 when they are longer than HEADER_FROM_MAX.  Valid after header_end
 * until the next header_begin. */
int header_from(const struct header *h, const char **p, size_t *n);

/* header_format_date - an RFC 5322 date-time for t in local time
 * ("Mon, 23 Nov 2026 08:14:27 +0000") into buf; returns its length.
 * Like snprintf: the result is cut to fit len and NUL-terminated, and a
 * return >= len means it was cut (32 octets suffice up to year 9999).
 * Returns 0 (buf "") when t has no local time with a year from 0 up.
 * Thread-safe: localtime_r, tm_gmtoff, no locale. */
size_t header_format_date(char *buf, size_t len, time_t t);

#endif
