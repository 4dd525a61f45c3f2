/* optval - the value parsers of the option table (options.c): each
 * checks one value, as given on the command line or in the --config
 * file, and adds it to a configuration being built.
 *
 * Contract: 0, or -1 when the value is malformed or memory is short (the
 * configuration keeps what it had); no state of their own.  Lists grow
 * by realloc() and belong to the configuration (config_free).
 */
#ifndef MTA_OPTVAL_H
#define MTA_OPTVAL_H

#include "config.h"

/* optval_number - a decimal in [min, max] into *v */
int optval_number(const char *text, unsigned long long min,
                  unsigned long long max, unsigned long long *v);
/* optval_listen - one ADDR:PORT or [IPv6]:PORT, appended */
int optval_listen(struct config *cfg, const char *v);
/* optval_smtps - one ADDR:PORT or [IPv6]:PORT for --smtps, appended */
int optval_smtps(struct config *cfg, const char *v);
/* optval_submission - one ADDR:PORT or [IPv6]:PORT for --submission */
int optval_submission(struct config *cfg, const char *v);
/* optval_tls_cert, optval_tls_key - one file name, appended (read when
 * the snapshot is complete: config_load_tls) */
int optval_tls_cert(struct config *cfg, const char *v);
int optval_tls_key(struct config *cfg, const char *v);
/* optval_domains - a comma-separated list, lower-cased, appended */
int optval_domains(struct config *cfg, const char *list);
/* optval_relay - one ADDR/BITS, appended */
int optval_relay(struct config *cfg, const char *v);
/* optval_route - one "DOMAIN=HOST[:PORT] [tls=MODE] [auth=FILE
 * [auth-insecure]]", appended (MODE: a tls.h policy name, for this route
 * instead of --tls-client; FILE: the smarthost's credentials, read by
 * route_auth_load; with it MODE is verify unless given, and a MODE
 * below verify needs auth-insecure) */
int optval_route(struct config *cfg, const char *text);
/* optval_mta_sts - --mta-sts yes|no */
int optval_mta_sts(struct config *cfg, const char *v);
/* optval_tls_client - --tls-client: none, may, encrypt or verify */
int optval_tls_client(struct config *cfg, const char *v);
/* optval_dns - is v an address the resolver accepts (dns.h)? */
int optval_dns(const char *v);

/* optval_lmtp - is v an LMTP server for --lmtp: an absolute path that
 * fits a unix socket address, or HOST:PORT / [IPv6]:PORT? */
int optval_lmtp(const char *v);
/* optval_address - is v an address user@domain (--root-alias)? */
int optval_address(const char *v);
/* optval_delimiter - is v one character to split subaddresses at
 * (printable, not '@', '"', '\\' or a blank), or empty? */
int optval_delimiter(const char *v);

#endif
