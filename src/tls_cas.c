/* tls_cas.c - the system's trust anchors for a client context; see
 * tls_cas.h */
#include <stdlib.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "tls_cas.h"

/* tls_system_cas - the system's trust anchors into c's store, read once:
 * the CA file (its certificates kept in memory) and the hashed
 * directory, as OpenSSL's defaults or SSL_CERT_FILE and SSL_CERT_DIR
 * name them.  Not SSL_CTX_set_default_verify_paths(): in OpenSSL 3 it
 * also adds a "store" lookup that reads the whole directory at every
 * certificate check, that is at every handshake (a profile of the mail
 * gun had most of its time in readdir of /etc/ssl/certs).  Best effort,
 * as that call was: a host without them (no ca-certificates) still
 * starts, and only the connections that verify find no anchor. */
void tls_system_cas(SSL_CTX *c)
{
	const char *file = getenv(X509_get_default_cert_file_env());
	const char *dir = getenv(X509_get_default_cert_dir_env());

	if (file == NULL || *file == '\0')
		file = X509_get_default_cert_file();
	if (dir == NULL || *dir == '\0')
		dir = X509_get_default_cert_dir();
	if (access(file, R_OK) != 0)
		file = NULL;
	if (access(dir, X_OK) != 0)
		dir = NULL;
	if ((file != NULL || dir != NULL) &&
	    SSL_CTX_load_verify_locations(c, file, dir) != 1)
		ERR_clear_error();
}
