/* json - writing JSON text (RFC 8259) from strings nobody vouches for.
 *
 * json_put_string() writes s as one JSON string, quotes included: '"'
 * and '\' escaped, every control character (below 0x20, DEL, and the
 * C1 controls U+0080..U+009F) as \u00XX, so a queue file can neither break the syntax nor drive a
 * terminal; valid UTF-8 passes through; each byte that is not part of a
 * valid UTF-8 sequence (a stray continuation byte, an overlong form, a
 * surrogate, a code point above U+10FFFF, a cut sequence) becomes
 * U+FFFD, so the output is always valid UTF-8 and always parses.
 *
 * Contract: writes to the caller's stream only (its errors stay in the
 * stream for the caller's ferror()); thread-safe on separate streams.
 */
#ifndef MTA_JSON_H
#define MTA_JSON_H

#include <stdio.h>

/* json_put_string - s as a JSON string on out */
void json_put_string(FILE *out, const char *s);

#endif
