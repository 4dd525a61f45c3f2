/* msghdr - the envelope a message's header implies, and the header edits
 * mta-send makes (-t, Bcc: removal, the From: it adds).
 *
 * Header addresses (RFC 5322 3.4, leniently): the header is every line up
 * to the first empty line, or up to the first line that is neither a
 * field nor a continuation.  Fields are unfolded, then read as an
 * address-list: "Name <a@b>" and bare a@b forms, several per field,
 * comments (nested, with escapes), quoted strings (a quoted local part is
 * kept quoted), domain literals, groups ("team: a@b, c@d;" gives a@b and
 * c@d, "undisclosed-recipients:;" nothing), obsolete source routes
 * ("<@x,@y:a@b>" gives a@b).  A word list without '@' and without angle
 * brackets ("John Doe") is not an address; a single word ("root") is
 * kept: the caller may qualify it.  Addresses with control characters,
 * 8-bit bytes or over 254 octets are dropped (without SMTPUTF8 they
 * cannot be sent); the _all variants hand them over too (an address over
 * 254 octets cut short), so that a caller can refuse them out loud.
 *
 * The other functions see the header the same way, LF and CRLF line ends
 * alike.
 *
 * Contract: pure functions, thread-safe; every addrlist string is
 * malloc'ed and owned by the list until addrlist_free().  Functions
 * return 0 (or a count) on success, -1 with errno (ENOMEM) on failure.
 */
#ifndef MTA_MSGHDR_H
#define MTA_MSGHDR_H

#include <stddef.h>

enum { MSG_ADDR_MAX = 254 };   /* longest address kept (RFC 5321 4.5.3.1.3) */

/* a list of distinct addresses, each malloc'ed */
struct addrlist {
	char **v;
	size_t n, cap;
};

/* addrlist_init - an empty list */
void addrlist_init(struct addrlist *l);
/* addrlist_free - release every address; the list is empty again */
void addrlist_free(struct addrlist *l);
/* addrlist_add - append a[0..n) unless it is there already (domain
 * compared without case); 1 added, 0 duplicate, -1 ENOMEM */
int addrlist_add(struct addrlist *l, const char *a, size_t n);

/* msg_parse_addresses - every address in the field body s[0..n) into l;
 * returns how many were added, or -1 (ENOMEM) */
int msg_parse_addresses(const char *s, size_t n, struct addrlist *l);
/* msg_parse_addresses_all - the same, and every address dropped into
 * dropped (when not NULL) */
int msg_parse_addresses_all(const char *s, size_t n, struct addrlist *l,
                            struct addrlist *dropped);
/* msg_header_addrs - from the header of m[0..n): the first From: address
 * into from (size fromlen; "" when none), every To:, Cc: and Bcc: address
 * into rcpt (when not NULL); returns 0 or -1 (ENOMEM) */
int msg_header_addrs(const char *m, size_t n, char *from, size_t fromlen,
                     struct addrlist *rcpt);
/* msg_header_addrs_all - the same, and every To:, Cc: and Bcc: address
 * dropped into dropped (when not NULL) */
int msg_header_addrs_all(const char *m, size_t n, char *from, size_t fromlen,
                         struct addrlist *rcpt, struct addrlist *dropped);
/* msg_header_find - does the header of m[0..n) have a field called name
 * (any case)?  *fields_end (when not NULL) gets the offset just past the
 * last header field, 0 when there is none: where a field is added */
int msg_header_find(const char *m, size_t n, const char *name,
                    size_t *fields_end);
/* msg_skip_from_line - the length of a first line starting "From " (an
 * mbox From_ line, as git format-patch writes one), with its line end;
 * 0 when m[0..n) does not start so */
size_t msg_skip_from_line(const char *m, size_t n);
/* msg_remove_bcc - delete the Bcc: fields (with their continuation lines)
 * from the header of m[0..n) in place; returns the new length */
size_t msg_remove_bcc(char *m, size_t n);
/* msg_header_end - offset just past the header's terminating empty line
 * (or of the first body line, or n) */
size_t msg_header_end(const char *m, size_t n);
/* msg_has_8bit - does m[0..n) contain bytes above 0x7f? */
int msg_has_8bit(const char *m, size_t n);

#endif
