/* authsrc.c - the credential sources of a snapshot; see authsrc.h */
#include <stdio.h>

#include "authdb.h"
#include "authsrc.h"
#include "dovecot_auth.h"
#include "log.h"

/* authsrc_configured - a source to ask */
int authsrc_configured(const struct config *cfg)
{
	return cfg->authdb != NULL || cfg->dovecot_auth != NULL;
}

/* authsrc_verify - ask the sources: --users first, then Dovecot, so a
 * login of either is accepted; a source that cannot tell now makes the
 * answer temporary (a refusal is final only when every source said no) */
struct status authsrc_verify(const struct config *cfg, const char *login,
                             const char *password, const char *client_ip,
                             int secured, char *user, size_t userlen)
{
	char err[256];

	snprintf(user, userlen, "%s", login);

	if (cfg->authdb == NULL && cfg->dovecot_auth == NULL)
		return status_make(ST_TEMP, 7, 0, "no credential source");
	if (cfg->authdb != NULL) {
		switch (authdb_verify(cfg->authdb, login, password)) {
		case AUTHDB_OK:
			return status_ok();
		case AUTHDB_TEMP:
			return status_make(ST_TEMP, 3, 0, "out of memory");
		default:
			break;
		}
	}
	if (cfg->dovecot_auth != NULL) {
		switch (dovecot_auth_verify(cfg->dovecot_auth, login, password,
		                            client_ip, secured, user, userlen,
		                            err, sizeof err)) {
		case 1:
			return status_ok();
		case 0:
			break;
		default:
			/* the reason goes to the log, not to the client */
			log_event("auth-source-error", "source=dovecot socket=%s error=\"%s\"",
			          cfg->dovecot_auth, err);
			return status_make(ST_TEMP, 7, 0,
			                   "Authentication service unavailable, try again later");
		}
	}
	return status_make(ST_PERM, 7, 8, "Authentication credentials invalid");
}

/* authsrc_sender - the login's own address and its line's senders */
struct status authsrc_sender(const struct config *cfg, const char *login,
                             const struct mailbox *sender)
{
	if (cfg->any_sender || authdb_sender_ok(cfg->authdb, login, sender))
		return status_ok();
	return status_make(ST_PERM, 7, 1, "Sender address <%s> not owned by "
	                   "the authenticated user", sender->text);
}
