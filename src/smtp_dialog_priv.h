/* smtp_dialog_priv - what the client engine's files share.
 *
 * Not for other modules: the interface is smtp_dialog.h.  Same contract:
 * everything works on one caller-owned struct smtp_dialog, no I/O.
 * Each file calls only the ones below it in this order:
 *
 *   smtp_dialog.c       the connection: greeting, hello, RSET, QUIT,
 *                       the body's output, a lost connection
 *   smtp_dialog_auth.c  AUTH PLAIN and LOGIN, after the hello
 *   smtp_dialog_tx.c    the transaction: MAIL, RCPT, DATA, the dot
 *   smtp_dialog_wire.c  commands queued, replies expected, results
 */
#ifndef MTA_SMTP_DIALOG_PRIV_H
#define MTA_SMTP_DIALOG_PRIV_H

#include "smtp_dialog.h"

/* what is known of each recipient of the transaction (rstate[]) */
enum { R_OPEN = 0, R_ACCEPTED, R_DONE };

/* ---- smtp_dialog_wire.c ---- */

/* sd_compact - keep what is unsent at the front of out[] */
void sd_compact(struct smtp_dialog *d);
/* sd_put - queue a command; -1 when it does not fit */
int sd_put(struct smtp_dialog *d, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* sd_quit - say QUIT; its reply (or the server closing) ends it */
void sd_quit(struct smtp_dialog *d);
/* sd_expect - a reply to what was just queued will come */
void sd_expect(struct smtp_dialog *d, enum smtp_pending what);
/* sd_is_class - does code belong to the class want (2 for 2xx) */
int sd_is_class(int code, int want);
/* sd_cur_as - the reply being handled (d->cur) as the result of stage;
 * want 250: any 2xx is right, want 354: only 354; a wrong one that is
 * no refusal for good counts as temporary */
const struct smtp_result *sd_cur_as(struct smtp_dialog *d,
                                    enum smtp_stage stage, int want);
/* sd_local - d->cur as a result decided here */
struct smtp_result *sd_local(struct smtp_dialog *d, enum smtp_stage stage,
                             enum status_kind kind, int subject, int detail,
                             const char *text);

/* ---- smtp_dialog_auth.c ---- */

/* sd_auth_begin - the last hello was accepted and credentials are set:
 * AUTH (state SD_AUTH), or the failure noted and QUIT (SD_QUIT) */
void sd_auth_begin(struct smtp_dialog *d);
/* sd_auth_reply - d->cur answers AUTH or a continuation: 235 ready,
 * 334 the next step, else noted (temporary) and QUIT; always 0 */
int sd_auth_reply(struct smtp_dialog *d);

/* ---- smtp_dialog_tx.c ---- */

/* sd_fail_tx - the transaction failed as r says (the first reason wins) */
void sd_fail_tx(struct smtp_dialog *d, const struct smtp_result *r);
/* sd_finish - the transaction is over: every recipient's fate, then its
 * result (ops->done); the dialogue is ready again unless closed */
void sd_finish(struct smtp_dialog *d);
/* sd_tx_reply - d->cur answers a command of the transaction; 0, or -1
 * when the connection must go */
int sd_tx_reply(struct smtp_dialog *d);
/* sd_dot_reply - d->cur came after (or during) the message; 0, or -1 */
int sd_dot_reply(struct smtp_dialog *d);

#endif
