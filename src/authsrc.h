/* authsrc - where the daemon's logins are checked (mta-smtpd(8),
 * AUTHENTICATION): the credential sources of a snapshot, behind one call,
 * so the connection code does not know which source answered.
 *
 * Two sources: --users FILE (authdb.h) and Dovecot's authentication
 * service (--dovecot-auth PATH, dovecot_auth.h), asked in that order.
 * Each answers accepted, refused or "cannot tell now" for one login,
 * password and client; authsrc_configured() says whether any source is
 * there.
 *
 * Contract: reads the snapshot only; thread-safe (authdb_verify is).
 */
#ifndef MTA_AUTHSRC_H
#define MTA_AUTHSRC_H

#include "addr.h"
#include "config.h"
#include "status.h"

/* authsrc_configured - does cfg name a credential source? */
int authsrc_configured(const struct config *cfg);
/* authsrc_verify - ST_OK: the password is login's, and user (userlen
 * octets, > 0) holds the name the source settled on, the one to give
 * authsrc_sender (Dovecot's user=, which its auth_username_format may
 * make of the login: "Alice@any.example" can be "alice"; the login
 * itself for --users); ST_PERM: it is not (or no such login); ST_TEMP:
 * the source cannot tell now (text says why, shown to the client).
 * client_ip and secured (the connection is under TLS) are for sources
 * that want them */
struct status authsrc_verify(const struct config *cfg, const char *login,
                             const char *password, const char *client_ip,
                             int secured, char *user, size_t userlen);
/* authsrc_sender - may login use sender?  ST_OK, or ST_PERM with the
 * refusal's text (--any-sender: always ST_OK) */
struct status authsrc_sender(const struct config *cfg, const char *login,
                             const struct mailbox *sender);

#endif
