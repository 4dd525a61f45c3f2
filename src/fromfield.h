/* fromfield - the From: field mta-send(1) adds to a message that has
 * none, as sendmail(8) does, with the sender's full name (-F).
 *
 * The field is "From: NAME <ADDR>", or "From: ADDR" without a name.  NAME
 * (RFC 5322 3.2.5 phrase) is written
 *   - as it is, when it is words of atext (letters, digits and
 *     !#$%&'*+-/=?^_`{|}~) separated by spaces;
 *   - as a quoted string, '"' and '\' escaped, when it is other printable
 *     ASCII ("J. Smith" -> "\"J. Smith\"");
 *   - as RFC 2047 encoded words (=?UTF-8?B?...?=, each at most 75
 *     characters, never splitting a character, folded onto lines of their
 *     own) when it has 8-bit bytes.
 * Spaces at either end of NAME are left out; a NAME of spaces is none.  A
 * NAME must be valid UTF-8 without control characters and at most
 * FROMFIELD_NAME_MAX octets (fromfield_name_ok), or nothing is made.
 *
 * Where: after the last field of the header (the place mta-smtpd(8) adds
 * its missing fields), in the message's own line ends (CRLF when its first
 * line ends so, else LF).  A message with no header field at all gets the
 * field at the top, followed by an empty line unless the message starts
 * with one or is empty, so that its first line stays body.  A header that
 * ends without a line end (the message is only a header) gets one first.
 *
 * Contract: pure functions, thread-safe; 0/1 or -1 with errno.
 */
#ifndef MTA_FROMFIELD_H
#define MTA_FROMFIELD_H

#include <stddef.h>

#include <stralloc.h>

enum { FROMFIELD_NAME_MAX = 200 };   /* longest full name, octets */

/* fromfield_name_ok - may s be used as a full name? */
int fromfield_name_ok(const char *s);

/* fromfield_make - the field, name (NULL or "" for none), addr and eol
 * appended to out; 0, or -1 with errno EINVAL (name not ok) or ENOMEM */
int fromfield_make(stralloc *out, const char *name, const char *addr,
                   const char *eol);

/* fromfield_add - add the field to the message in msg unless its header
 * has a From: field already; 1 added, 0 there already, -1 with errno
 * (EINVAL, ENOMEM; msg is unchanged then) */
int fromfield_add(stralloc *msg, const char *name, const char *addr);

#endif
