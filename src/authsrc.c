/* authsrc.c - the credential sources of a snapshot; see authsrc.h */
#include "authdb.h"
#include "authsrc.h"

/* authsrc_configured - a source to ask */
int authsrc_configured(const struct config *cfg)
{
	return cfg->authdb != NULL;
}

/* authsrc_verify - ask the source */
struct status authsrc_verify(const struct config *cfg, const char *login,
                             const char *password, const char *client_ip,
                             int secured)
{
	(void)client_ip;
	(void)secured;
	if (cfg->authdb == NULL)
		return status_make(ST_TEMP, 7, 0, "no credential source");
	switch (authdb_verify(cfg->authdb, login, password)) {
	case AUTHDB_OK:
		return status_ok();
	case AUTHDB_TEMP:
		return status_make(ST_TEMP, 3, 0, "out of memory");
	default:
		return status_make(ST_PERM, 7, 8, "Authentication credentials invalid");
	}
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
