/* smtp_client_priv - what smtp_client.c lends smtp_client_tx.c.
 *
 * Not for other modules: the public interface is smtp_client.h.  Same
 * contract: everything works on one caller-owned struct smtp_client.
 */
#ifndef MTA_SMTP_CLIENT_PRIV_H
#define MTA_SMTP_CLIENT_PRIV_H

#include "smtp_client.h"

/* smtpc_reply_clear - no reply at all */
void smtpc_reply_clear(struct smtp_reply *r);
/* smtpc_local_result - an outcome decided here, without a server reply */
void smtpc_local_result(struct smtp_result *res, enum smtp_stage stage,
                        enum status_kind kind, int subject, int detail,
                        const char *text);
/* smtpc_not_connected - the result of a call on a closed client: -1 */
int smtpc_not_connected(struct smtp_result *res, enum smtp_stage stage);
/* smtpc_flush - send the output buffer within timeout_ms; 0, or -1 with
 * the connection closed and res saying why */
int smtpc_flush(struct smtp_client *c, enum smtp_stage stage,
                int timeout_ms, struct smtp_result *res);
/* smtpc_printf - queue a command; -1 (EOVERFLOW) when it does not fit */
int smtpc_printf(struct smtp_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* smtpc_get_reply - read the reply to the command of stage into res;
 * returns its code, or -1 when none came or it was malformed (closed) */
int smtpc_get_reply(struct smtp_client *c, enum smtp_stage stage,
                    int timeout_ms, struct smtp_result *res);
/* smtpc_text_ok - may s (at most max octets) go into a command line? */
int smtpc_text_ok(const char *s, size_t max);

#endif
