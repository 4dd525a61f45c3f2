/* session_priv.h - what the SMTP server session's files share: the
 * session itself and the helpers every part uses.  Private to session*.c;
 * the public interface is session.h, and its contract holds here too (no
 * sockets, no threads, no clock but the one passed in, no files).
 *
 *   session.c       the engine: life cycle, output, line assembly,
 *                   feeding and the actions it returns
 *   session_cmd.c   the commands: one check and one proceed step each
 *   session_auth.c  AUTH: its mechanisms and 334 continuations
 *   session_data.c  DATA: the end-marker automaton, the message's start
 *                   and end
 *   session_reply.c replies, error counting, the transaction's reset
 *
 * Each file calls only the ones below it in this order: session.c,
 * session_cmd.c, session_auth.c, session_data.c, session_reply.c.
 */
#ifndef MTA_SESSION_PRIV_H
#define MTA_SESSION_PRIV_H

#include <stralloc.h>

#include "header.h"
#include "session.h"

/* AUTH exchange states: what the next line from the client answers */
enum auth_state { A_NONE, A_PLAIN, A_LOGIN_USER, A_LOGIN_PASS };

/* the longest login kept (an address fits) */
enum { SESSION_LOGIN_MAX = 256 };

/* DATA automaton states; "bol" = at the beginning of a line */
enum data_state { D_BOL, D_DOT, D_DOT_CR, D_MID, D_CR };

struct session {
	const struct session_config *cfg;
	const struct session_ops *ops;
	void *ctx;
	time_t (*now)(void);
	stralloc out;               /* replies not yet sent */

	char client_ip[ENVELOPE_CLIENT_MAX];
	char helo[ENVELOPE_HELO_MAX]; /* "" until HELO/EHLO */
	int esmtp;
	int tls;                    /* the connection is encrypted */
	struct tls_info tls_info;   /* its version and cipher ("" unknown) */
	int tls_pending;            /* STARTTLS accepted, TLS not yet up */
	int authenticated;          /* the client authenticated (AUTH) */
	int local;                  /* a local submission (session_local_user) */
	unsigned long uid;          /* ... by this user */
	char login[SESSION_LOGIN_MAX]; /* as whom ("" until then) */
	enum auth_state auth;       /* inside an AUTH exchange */
	unsigned auth_failures;     /* 535 replies in this session */
	int done;
	unsigned errors;
	unsigned junk;              /* junk commands since the last message */
	unsigned long long pause;   /* ms to wait before the output goes out */

	/* command mode */
	char *line;                 /* cfg->max_line octets */
	size_t line_len;
	int line_too_long;
	int line_crlf;              /* the last command line ended with CRLF */

	/* the transaction: valid from MAIL to its end */
	int in_mail;
	struct envelope env;
	unsigned over_rcpt;         /* RCPT refused 452 for being over max_rcpt */

	/* DATA mode */
	int in_data;
	enum data_state dstate;
	int crlf_before;            /* the previous line ended with CRLF */
	int oversize;
	unsigned long long size;
	struct header hdr;
	struct header_info hinfo;
};

/* ---- replies, error counting, the transaction (session_reply.c) ---- */

/* sess_reply - queue a reply's last (or only) line "CODE X.Y.Z text" */
void sess_reply(struct session *s, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* sess_reply_more - queue a line of a multi-line reply, not the last */
void sess_reply_more(struct session *s, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* sess_reply_status - queue the reply for a failed status; perm_code and
 * temp_code are this command's usual codes for each kind */
void sess_reply_status(struct session *s, const struct status *st,
                       int perm_code, int temp_code);
/* sess_temp_code - the 4xx for a temporary failure st, else usual */
int sess_temp_code(const struct status *st, int usual);
/* sess_error - a refused command (its reply already queued) counts */
void sess_error(struct session *s);
/* sess_junk - a command that moves no mail (its reply queued) counts */
void sess_junk(struct session *s);
/* sess_tx_reset - forget the transaction (RSET, HELO, after DATA) */
void sess_tx_reset(struct session *s);

/* ---- the command table (session_cmd.c) ----
 *
 * Every command is a check step and a proceed step.  The check decides
 * from the session and the argument whether the command may go ahead: it
 * queues nothing and changes no state but a count of its own refusals
 * (RCPT over max_rcpt); it may ask the recipient policy.  When it
 * refuses, it leaves its refusal in the command's args for the engine to
 * queue and count as an error (unless not_error).  The proceed step does
 * the command and queues its reply; it can still fail, but only for the
 * server's own reasons (no memory, the queue), which are not errors; it
 * is NULL only where the check always refuses.  Before either, the engine
 * applies the flags. */

enum {
	CMD_PRE_TLS = 1 << 0,  /* allowed before TLS when cfg->tls_required */
	CMD_AUTH    = 1 << 1,  /* needs an authenticated client when
	                        * cfg->auth_required */
	CMD_JUNK    = 1 << 2,  /* moves no mail: sess_junk() once done */
};

/* what a check step leaves for the engine and for its proceed step */
struct cmd_args {
	const char *verb;           /* the table's spelling */
	/* the refusal, when the check returns its code */
	char text[512];             /* "X.Y.Z text" */
	int not_error;              /* the server's own condition: no error */
	/* the argument, parsed */
	char name[ENVELOPE_HELO_MAX]; /* HELO, EHLO */
	struct mailbox mb;          /* MAIL, RCPT */
	int body_8bit;              /* MAIL: BODY=8BITMIME */
	int ret;                    /* MAIL: RET= (dsn.h DSN_RET_*) */
	char envid[DSN_ENVID_MAX];  /* MAIL: ENVID= as written, "" = none */
	unsigned notify;            /* RCPT: NOTIFY= bits, 0 = none */
	char orcpt[DSN_ORCPT_MAX];  /* RCPT: ORCPT= as written, "" = none */
	int mech;                   /* AUTH: 'P' PLAIN, 'L' LOGIN */
	const char *initial;        /* AUTH: the initial response, or NULL */
};

struct session_cmd {
	const char *verb;
	unsigned flags;             /* CMD_* */
	/* 0: go ahead; else the code of the refusal left in a->text; NULL:
	 * nothing to check */
	int (*check)(struct session *s, const char *arg, struct cmd_args *a);
	void (*proceed)(struct session *s, struct cmd_args *a);
};

/* sess_cmd_find - the table's entry for verb (any case), or NULL */
const struct session_cmd *sess_cmd_find(const char *verb);

/* ---- AUTH (session_auth.c) ---- */

/* sess_auth_check - AUTH's check step (a command table entry) */
int sess_auth_check(struct session *s, const char *arg, struct cmd_args *a);
/* sess_auth_proceed - AUTH's proceed step: verify an initial response,
 * or ask for the next with 334 */
void sess_auth_proceed(struct session *s, struct cmd_args *a);
/* sess_auth_line - a line answering a 334 (CRLF gone, NUL-free); too_long:
 * the line was over cfg->max_line and is lost */
void sess_auth_line(struct session *s, const char *line, int too_long);
/* sess_auth_ehlo - the AUTH keyword for EHLO's reply, or NULL */
const char *sess_auth_ehlo(const struct session *s);

/* sess_data_begin - DATA accepted: open the message, 354 (or refuse) */
void sess_data_begin(struct session *s);
/* sess_data_feed - run the DATA automaton over p[0..n); returns bytes
 * used (less than n only when the end marker was found) */
size_t sess_data_feed(struct session *s, const char *p, size_t n);

#endif
