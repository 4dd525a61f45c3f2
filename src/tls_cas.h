/* tls_cas - the system's trust anchors (its CA file and hashed
 * directory, or SSL_CERT_FILE and SSL_CERT_DIR) loaded into an OpenSSL
 * context once, so that a certificate check costs no directory scan.
 *
 * Contract: called while the context is made, before any thread uses it
 * (OpenSSL's stores are then read-only and shared safely).
 */
#ifndef MTA_TLS_CAS_H
#define MTA_TLS_CAS_H

#include <openssl/ssl.h>

/* tls_system_cas - the system's CA file and directory into c's store,
 * those that are there and readable (best effort: none is no error) */
void tls_system_cas(SSL_CTX *c);

#endif
