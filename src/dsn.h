/* dsn - the parameters of RFC 3461 delivery status notification
 * requests: NOTIFY= and ORCPT= of RCPT, RET= and ENVID= of MAIL, and the
 * xtext encoding (RFC 3461 4) that ORCPT and ENVID are written in.
 *
 * Values are kept as the client wrote them (xtext, validated), so that
 * they pass on to a next hop unchanged; dsn_xtext_decode gives the text
 * a report shows.
 *
 * Contract: pure functions on caller buffers; thread-safe.
 */
#ifndef MTA_DSN_H
#define MTA_DSN_H

#include <stddef.h>

/* NOTIFY bits; NEVER is alone (RFC 3461 4.1); 0 = not given */
enum { DSN_NEVER = 1, DSN_SUCCESS = 2, DSN_FAILURE = 4, DSN_DELAY = 8 };
/* RET: not given, FULL, HDRS */
enum { DSN_RET_NONE = 0, DSN_RET_FULL = 1, DSN_RET_HDRS = 2 };
/* ENVID is at most 100 characters of xtext (RFC 3461 4.4); ORCPT's
 * "type;xtext" at most 500 (RFC 3461 4.2, the limit of a parameter) */
enum { DSN_ENVID_MAX = 101, DSN_ORCPT_MAX = 501, DSN_NOTIFY_TEXT_MAX = 32 };

/* dsn_xtext_valid - is p[0..n) xtext (printable ASCII but '+' and '=',
 * "+XX" with upper-case hex for the rest)?  n may be 0 */
int dsn_xtext_valid(const char *p, size_t n);
/* dsn_xtext_decode - decode valid xtext p[0..n) into out[len]; control
 * characters (below 0x20, 0x7f) and octets above 0x7e become '?', so
 * the result is one printable line; its length, or -1 if p is not valid
 * xtext or out too small */
int dsn_xtext_decode(const char *p, size_t n, char *out, size_t len);
/* dsn_xtext_encode - encode the string s as xtext into out[len]; its
 * length, or -1 when out is too small */
int dsn_xtext_encode(const char *s, char *out, size_t len);
/* dsn_notify_parse - "NEVER" or a comma list of SUCCESS, FAILURE,
 * DELAY (any case, each at most once) in p[0..n) into *bits; 0, or -1 */
int dsn_notify_parse(const char *p, size_t n, unsigned *bits);
/* dsn_notify_format - bits as "NEVER" or "SUCCESS,FAILURE,DELAY" (that
 * order) into buf[DSN_NOTIFY_TEXT_MAX]; "" for 0 */
void dsn_notify_format(unsigned bits, char *buf);
/* dsn_orcpt_valid - is p[0..n) "addr-type;xtext" (addr-type an atom,
 * RFC 3461 4.2) and shorter than DSN_ORCPT_MAX? */
int dsn_orcpt_valid(const char *p, size_t n);
/* dsn_ret_parse - "FULL" or "HDRS" (any case): DSN_RET_*, or -1 */
int dsn_ret_parse(const char *p, size_t n);
/* dsn_wants - with NOTIFY bits given at RCPT (0: none given), is a
 * report of kind (DSN_SUCCESS, DSN_FAILURE or DSN_DELAY) wanted?
 * Without NOTIFY, failures and delays are reported (RFC 3461 4.1), and
 * success is not */
int dsn_wants(unsigned notify, unsigned kind);

#endif
