/* addr - RFC 5321 reverse-paths, forward-paths and domains.
 *
 * Contract: pure functions on caller-owned buffers; no allocation, no
 * globals, thread-safe.  A parsed address keeps the text the client wrote
 * (local part quoted or not, domain as written) minus angle brackets and
 * any source route ("<@a,@b:user@c>" parses as "user@c", RFC 5321 4.1.2
 * and C.).  Only ASCII is accepted (no SMTPUTF8).
 *
 * Grammar (RFC 5321 4.1.2, 4.1.3):
 *   Path      = "<" [ A-d-l ":" ] Mailbox ">"
 *   Mailbox   = Local-part "@" ( Domain / address-literal )
 *   Local-part= Dot-string / Quoted-string      (at most 64 octets)
 *   Domain    = sub-domain *("." sub-domain)    (at most 255 octets,
 *               labels of let-dig [*ldh let-dig], at most 63 octets)
 *   address-literal = "[" IPv4 "]" / "[IPv6:" IPv6 "]"  (checked with
 *               inet_pton; General-address-literal is refused)
 *   a trailing "." on a domain is refused.
 * A Path is at most 256 octets with its brackets (RFC 5321 4.5.3.1.3),
 * so a mailbox is at most 254 octets and always fits in ADDR_MAX.
 */
#ifndef MTA_ADDR_H
#define MTA_ADDR_H

#include <stddef.h>
#include <sys/socket.h>

enum { ADDR_MAX = 256 };      /* mailbox text plus NUL always fits */

enum addr_error {
	ADDR_OK = 0,
	ADDR_ESYNTAX,     /* not a path at all: no brackets, junk, spaces inside */
	ADDR_ELOCAL,      /* bad local part (syntax, or longer than 64) */
	ADDR_EDOMAIN,     /* bad domain or address literal */
	ADDR_ETOOLONG,    /* path longer than 256 octets */
	ADDR_E8BIT        /* a byte outside printable ASCII */
};

struct mailbox {
	char text[ADDR_MAX];  /* "local@domain" as written; "" = null path <> */
	size_t at;            /* offset of the '@' that splits local and domain;
	                         0 when text is "" or a bare "postmaster" */
	int literal;          /* domain is an address literal "[...]" */
};

/* addr_parse_path - parse a Path or the null path "<>" from s[0..n).
 * s must start at '<' (the caller skips spaces after the colon).  On
 * success *mb is filled and *used is how many bytes the path took, so the
 * caller can go on to the ESMTP parameters.  allow_null: accept "<>"
 * (MAIL FROM).  allow_postmaster: accept "<postmaster>" (any case) with no
 * domain (RCPT TO, RFC 5321 4.5.1); then mb->at is 0 and text is as sent.
 * Only s[0..n) is read, never past the closing '>'; NUL bytes are data.
 * On failure *mb is the null path and *used is 0.  Which error: scanning
 * for the closing '>', the first of a byte outside printable ASCII
 * (E8BIT), a space outside the quoted local part or no '>' (ESYNTAX), or
 * the path passing 256 octets (ETOOLONG); then, between the brackets,
 * "<>" without allow_null, bad source-route punctuation and a mailbox
 * without '@' are ESYNTAX, a source-route domain EDOMAIN, a bad local
 * part or one over 64 octets as written (quotes and backslashes count)
 * ELOCAL, a bad domain or address literal EDOMAIN. */
enum addr_error addr_parse_path(const char *s, size_t n, struct mailbox *mb,
                                size_t *used, int allow_null,
                                int allow_postmaster);

/* addr_domain - the domain part of mb ("" for the null path/postmaster) */
const char *addr_domain(const struct mailbox *mb);

/* addr_local - the local part of mb, unquoted (quotes and backslash
 * escapes removed), into buf of size len, NUL-terminated ("" for the null
 * path, the text as sent for a bare postmaster).  Returns its length, or
 * -1 if it does not fit. */
int addr_local(const struct mailbox *mb, char *buf, size_t len);

/* addr_domain_valid - is d[0..n) a Domain as in the grammar above? */
int addr_domain_valid(const char *d, size_t n);
/* addr_angle_free - no '<' or '>' in p[0..n) outside a quoted string,
 * and no quoted string left open: text that cannot end a path's <...>
 * early when put between its brackets.  1 or 0 */
int addr_angle_free(const char *p, size_t n);

/* addr_literal_valid - is d[0..n) an address-literal "[1.2.3.4]" or
 * "[IPv6:...]" as in the grammar above? */
int addr_literal_valid(const char *d, size_t n);

/* addr_literal_sockaddr - the address inside a literal domain, port 0.
 * Returns 0, or -1 when mb is not a valid literal. */
int addr_literal_sockaddr(const struct mailbox *mb,
                          struct sockaddr_storage *ss, socklen_t *sslen);

/* addr_error_text - a short English phrase for an error, for replies */
const char *addr_error_text(enum addr_error e);

#endif
