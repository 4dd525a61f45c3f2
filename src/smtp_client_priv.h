/* smtp_client_priv - what smtp_client.c lends smtp_client_tx.c: the
 * driving loop of the engine.
 *
 * Not for other modules: the public interface is smtp_client.h.  Same
 * contract: everything works on one caller-owned struct smtp_client.
 */
#ifndef MTA_SMTP_CLIENT_PRIV_H
#define MTA_SMTP_CLIENT_PRIV_H

#include "smtp_client.h"

/* smtpc_expect - the engine's reports of the call starting now go to
 * rres (per recipient, may be NULL) and res */
void smtpc_expect(struct smtp_client *c, struct smtp_result *rres,
                  struct smtp_result *res);
/* smtpc_flush - write all the engine has to say, each piece within the
 * limit of its stage; 0, or -1 when the connection was lost (the loss
 * reported, the client closed) */
int smtpc_flush(struct smtp_client *c);
/* smtpc_drive - write, then read replies until done(c), until the engine
 * wants the message, or until the connection ends (closed: -1, unless
 * done(c) then holds) */
int smtpc_drive(struct smtp_client *c,
                int (*done)(const struct smtp_client *c));

#endif
