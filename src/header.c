/* header.c - Received: in front, Date:/From:/Message-ID: when missing and
 * the hop count, done while the message streams through; see header.h.
 *
 * Each header line goes through a small machine (struct header .state):
 *   ST_LINE   nothing of the line seen yet
 *   ST_NAME   octets that may still be a field name, held in pending
 *   ST_WSP    a name then white space (obsolete "From :"), held as well
 *   ST_FIELD  a field or continuation line: the rest passes straight out
 *   ST_BODY   past the header: everything passes straight out
 * A line leaves ST_NAME/ST_WSP at the first octet that decides it, or
 * when pending is full, so pending never holds more than HEADER_NAME_MAX
 * octets.  Only when the decision is "not a field" do the missing fields
 * have to go out before the line, which is why its start is held back.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "header.h"

enum header_state { ST_LINE, ST_NAME, ST_WSP, ST_FIELD, ST_BODY };

enum {
	FOLD_AT = 78,     /* RFC 5322 2.1.1: lines SHOULD be no longer */
	DATE_MAX = 64     /* header_format_date needs 32 up to year 9999 */
};

/* put - hand p[0..n) to the writer; empty pieces are not worth a call */
static void put(struct header *h, const char *p, size_t n)
{
	if (n > 0)
		h->out(h->ctx, p, n);
}

/* put_str - hand a C string to the writer; returns its length */
static size_t put_str(struct header *h, const char *s)
{
	size_t n = strlen(s);

	put(h, s, n);
	return n;
}

/* header_format_date - RFC 5322 3.3 date-time, local time, numeric zone */
size_t header_format_date(char *buf, size_t len, time_t t)
{
	/* Our own names: strftime's %a/%b would follow the locale. */
	static const char day[7][4] = {
		"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"
	};
	static const char month[12][4] = {
		"Jan", "Feb", "Mar", "Apr", "May", "Jun",
		"Jul", "Aug", "Sep", "Oct", "Nov", "Dec"
	};
	struct tm tm;
	long year, off;
	char sign = '+';
	int n;

	if (len > 0)
		buf[0] = '\0';
	if (localtime_r(&t, &tm) == NULL)
		return 0;
	/* long: tm_year + 1900 may overflow an int for absurd t */
	year = (long)tm.tm_year + 1900;
	if (year < 0 || tm.tm_wday < 0 || tm.tm_wday > 6 ||
	    tm.tm_mon < 0 || tm.tm_mon > 11)
		return 0;
	/* Whole minutes: historic zones with seconds in their offset lose
	 * them, the zone syntax has no place for them. */
	off = tm.tm_gmtoff / 60;
	if (off < 0) {
		sign = '-';
		off = -off;
	}
	n = snprintf(buf, len, "%s, %02d %s %04ld %02d:%02d:%02d %c%02ld%02ld",
	             day[tm.tm_wday], tm.tm_mday, month[tm.tm_mon], year,
	             tm.tm_hour, tm.tm_min, tm.tm_sec, sign, off / 60, off % 60);
	return n < 0 ? 0 : (size_t)n;
}

/* received_end - the end of a Received: field whose last line is col
 * characters long so far: "for <rcpt>" on a line of its own, then ";"
 * and the date, on the same line if it fits (FOLD_AT) */
static void received_end(struct header *h, size_t col)
{
	const struct header_info *in = h->info;
	char date[DATE_MAX];
	size_t dlen = header_format_date(date, sizeof date, in->arrival);

	if (in->rcpt != NULL) {
		put_str(h, "\n");
		col = put_str(h, "\tfor <");
		col += put_str(h, in->rcpt);
		col += put_str(h, ">");
	}
	col += put_str(h, ";");
	put_str(h, col + 1 + dlen <= FOLD_AT ? " " : "\n\t");
	put(h, date, dlen);
	put_str(h, "\n");
}

/* write_local_received - the trace field of a local submission
 * (maildrop): no client host, the submitting user as the kernel named
 * it, in a comment as RFC 5322 allows anything there */
static void write_local_received(struct header *h)
{
	const struct header_info *in = h->info;
	char uid[64];
	size_t col;

	snprintf(uid, sizeof uid, "%lu", in->uid);
	put_str(h, "Received: by ");
	put_str(h, in->hostname);
	put_str(h, " (mta, from userid ");
	put_str(h, uid);
	put_str(h, ")\n");
	col = put_str(h, "\tid ");
	col += put_str(h, in->id);
	received_end(h, col);
}

/* write_received - our trace field (RFC 5321 4.4), folded */
static void write_received(struct header *h)
{
	const struct header_info *in = h->info;
	const char *helo = in->helo != NULL && in->helo[0] != '\0' ?
	                   in->helo : "unknown";
	const char *ip = in->client_ip != NULL ? in->client_ip : "";
	size_t col;

	if (in->local) {
		write_local_received(h);
		return;
	}

	put_str(h, "Received: from ");
	put_str(h, helo);
	/* RFC 5321 4.1.3: an IPv6 address literal is tagged; only IPv6
	 * addresses have a ':' */
	if (in->hide_client) {
		put_str(h, "\n");
	} else {
		put_str(h, strchr(ip, ':') != NULL ? " ([IPv6:" : " ([");
		put_str(h, ip);
		put_str(h, "])\n");
	}
	if (in->tls != NULL && in->tls->version[0] != '\0') {
		char clause[200];
		int n = snprintf(clause, sizeof clause,
		                 "\t(using %s with cipher %s (%d/%d bits))\n",
		                 in->tls->version, in->tls->cipher, in->tls->bits,
		                 in->tls->alg_bits);

		if (n > 0 && (size_t)n < sizeof clause)
			put(h, clause, (size_t)n);
	}
	/* col counts characters, so the tab is one (RFC 5322 2.1.1) */
	col = put_str(h, "\tby ");
	col += put_str(h, in->hostname);
	col += put_str(h, " (mta) with ");
	col += put_str(h, in->esmtp ? "ESMTP" : "SMTP");
	/* RFC 3848 defines ESMTPS; there is no "SMTPS": after HELO a
	 * session under TLS is plain SMTP (the TLS clause above says it) */
	if (in->tls != NULL && in->esmtp)
		col += put_str(h, "S");
	/* RFC 3848: AUTH needs EHLO, so it is always ESMTP here */
	if (in->authenticated && in->esmtp)
		col += put_str(h, "A");
	col += put_str(h, " id ");
	col += put_str(h, in->id);
	received_end(h, col);
}

/* write_missing - append the fields the client left out, in a fixed order */
static void write_missing(struct header *h)
{
	const struct header_info *in = h->info;
	char date[DATE_MAX];
	size_t dlen;

	if (!h->seen_date) {
		dlen = header_format_date(date, sizeof date, in->arrival);
		put_str(h, "Date: ");
		put(h, date, dlen);
		put_str(h, "\n");
	}
	/* With the null sender there is nobody to name: header_end refuses
	 * the message, so writing "From: " would only be wrong. */
	if (!h->seen_from && in->sender != NULL && in->sender[0] != '\0') {
		put_str(h, "From: ");
		put_str(h, in->sender);
		put_str(h, "\n");
	}
	if (!h->seen_msgid) {
		put_str(h, "Message-ID: <");
		put_str(h, in->id);
		put_str(h, "@");
		put_str(h, in->hostname);
		put_str(h, ">\n");
	}
}

/* end_header - the header is over: append, then the separator if asked */
static void end_header(struct header *h, int separator)
{
	write_missing(h);
	if (separator)
		put_str(h, "\n");
	h->state = ST_BODY;
}

/* flush_pending - the held start of the line goes out now it is decided */
static void flush_pending(struct header *h)
{
	put(h, h->pending, h->pending_len);
	h->pending_len = 0;
}

/* name_is - is the pending name this one, ASCII case ignored?  (No
 * strcasecmp: its idea of case follows the locale.) */
static int name_is(const struct header *h, const char *name)
{
	size_t i;

	for (i = 0; i < h->name_len; i++) {
		unsigned char a = (unsigned char)h->pending[i];
		unsigned char b = (unsigned char)name[i];

		if (b == '\0')
			return 0;
		if (a >= 'A' && a <= 'Z')
			a = (unsigned char)(a - 'A' + 'a');
		if (b >= 'A' && b <= 'Z')
			b = (unsigned char)(b - 'A' + 'a');
		if (a != b)
			return 0;
	}
	return name[i] == '\0';
}

/* from_add - keep p[0..n) of a From: body */
static void from_add(struct header *h, const char *p, size_t n)
{
	if (h->from_over || n == 0)
		return;
	if (h->from_len + n > sizeof h->from) {
		h->from_over = 1;
		return;
	}
	memcpy(h->from + h->from_len, p, n);
	h->from_len += n;
}

/* field_starts - the line is a field named pending[0..name_len) */
static void field_starts(struct header *h)
{
	h->in_from = 0;
	if (name_is(h, "Received")) {
		if (h->received < UINT_MAX)
			h->received++;
	} else if (name_is(h, "Date")) {
		h->seen_date = 1;
	} else if (name_is(h, "From")) {
		if (h->seen_from)
			from_add(h, ", ", 2);
		h->seen_from = 1;
		h->in_from = 2;        /* 2: its ':' is still to come */
	} else if (name_is(h, "Message-ID")) {
		h->seen_msgid = 1;
	}
	h->seen_field = 1;
	flush_pending(h);
	h->state = ST_FIELD;
}

/* not_a_field - the line starts the body: complete the header before it */
static void not_a_field(struct header *h)
{
	end_header(h, 1);
	flush_pending(h);
}

/* header_begin - start a message: writes the Received: field at once */
void header_begin(struct header *h, const struct header_info *info,
                  header_out_fn out, void *ctx)
{
	memset(h, 0, sizeof *h);
	h->info = info;
	h->out = out;
	h->ctx = ctx;
	h->state = ST_LINE;
	write_received(h);
}

/* header_feed - the next piece of the message; see header.h */
void header_feed(struct header *h, const char *p, size_t n, int eol)
{
	size_t i = 0;

	/* Decide the line octet by octet; a decision consumes nothing, the
	 * deciding octet goes out with the rest of the piece. */
	while (i < n && h->state != ST_FIELD && h->state != ST_BODY) {
		unsigned char c = (unsigned char)p[i];
		int wsp = c == ' ' || c == '\t';

		if (h->state == ST_LINE) {
			if (!wsp)
				h->state = ST_NAME;
			else if (h->seen_field)
				h->state = ST_FIELD;
			else
				not_a_field(h);   /* continues nothing */
			continue;
		}
		if (c == ':') {
			if (h->state == ST_NAME)
				h->name_len = h->pending_len;
			if (h->name_len > 0)
				field_starts(h);
			else
				not_a_field(h);   /* ":..." has no name */
			continue;
		}
		if (h->state == ST_NAME && wsp) {
			h->name_len = h->pending_len;
			h->state = ST_WSP;
		} else if (h->state == ST_NAME ? c < 33 || c > 126 : !wsp) {
			not_a_field(h);
			continue;
		}
		if (h->pending_len == sizeof h->pending) {
			not_a_field(h);           /* name too long */
			continue;
		}
		h->pending[h->pending_len++] = p[i++];
	}
	if (h->state == ST_FIELD || h->state == ST_BODY)
		put(h, p + i, n - i);
	if (h->state == ST_FIELD && h->in_from) {
		size_t k = i;

		if (h->in_from == 2 && k < n && p[k] == ':') {
			k++;
			h->in_from = 1;
		}
		from_add(h, p + k, n - k);
	}
	if (!eol) {
		if (n > 0)
			h->mid_line = 1;
		return;
	}
	h->mid_line = 0;
	switch (h->state) {
	case ST_LINE:                          /* the empty line */
		end_header(h, 1);
		break;
	case ST_NAME:                          /* no ':' on the whole line */
	case ST_WSP:
		not_a_field(h);
		put_str(h, "\n");
		break;
	case ST_FIELD:
		put_str(h, "\n");
		if (h->in_from)
			from_add(h, " ", 1);      /* unfolded: the line end is a space */
		h->state = ST_LINE;
		break;
	default:
		put_str(h, "\n");
		break;
	}
}

/* header_from - the From: bodies kept */
int header_from(const struct header *h, const char **p, size_t *n)
{
	if (!h->seen_from)
		return 0;
	if (h->from_over)
		return -1;
	*p = h->from;
	*n = h->from_len;
	return 1;
}

/* header_end - the message is complete; see header.h */
enum header_result header_end(struct header *h)
{
	if (h->mid_line)
		header_feed(h, "", 0, 1);
	if (h->state != ST_BODY)
		end_header(h, 0);      /* no body: no separator either */
	if (h->received > h->info->max_received)
		return HEADER_LOOP;
	if (!h->seen_from && (h->info->sender == NULL ||
	                      h->info->sender[0] == '\0'))
		return HEADER_NO_FROM;
	return HEADER_OK;
}
