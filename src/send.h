/* send - the modes of mta-send(1), as the program's runtime: read
 * the input, talk SMTP through smtp_client (one message) or gun (many),
 * report on stderr and stdout, and return a sysexits.h code.
 *
 *   send_inject  one message from standard input to the recipients given
 *                (without a server named by -s or $MTA_SERVER: written
 *                into the queue's maildrop/ for mta-smtpd to take,
 *                queue_maildrop_put, whether the daemon runs or not)
 *                (and, with -t, those of its To/Cc/Bcc, Bcc removed); a
 *                first line starting "From " (mbox From_ line) is left
 *                out, and a From: field added when there is none
 *                (fromfield.h).  A recipient that cannot be sent to (8-bit,
 *                no SMTPUTF8) refuses the whole message: nothing is sent;
 *   send_fire    every message of the FILEs (msgsrc), envelope from each
 *                header or from the options, over o->sessions sessions;
 *   send_session -bs: the SMTP session on stdin/stdout relayed to the
 *                server, byte for byte;
 *   send_queue_tool  -bp, -q: mta-queue (beside our binary, else on
 *                $PATH) run in our place on the configured queue.
 * send_config reads the configuration file (mta-smtpd's, options.h) for
 * the queue directory and the first listen address; send_dsn_* check
 * and keep the DSN requests of -N, -R, -V.
 * Exit codes: mta-send(1), EXIT STATUS.
 *
 * (Inside: send_inject.c and send_gun.c the two modes, send_compat.c
 * the rest of sendmail's interface, send.c what all use; send_priv.h is
 * theirs alone.)
 *
 * Contract: called from the main thread only (stdio, signal mask); the
 * options are borrowed.  send_fire blocks SIGINT and SIGTERM in the
 * calling thread (the session threads inherit it) and polls them to stop
 * early.  Nothing here calls exit().
 */
#ifndef MTA_SEND_H
#define MTA_SEND_H

#include "msghdr.h"
#include "smtp_client.h"

/* read when it exists and no -C/--config names another */
#define SEND_CONFIG_DEFAULT "/etc/mta/mta.conf"

struct send_opts {
	char host[256], port[32];    /* the server (-s, $MTA_SERVER, the
	                                configuration file) */
	char config_server[96];      /* the file's first listen address,
	                                loopback for a wildcard; "": none */
	char *queue;                 /* the file's queue (mta-queue's default
	                                without one); send_config's, freed by
	                                main */
	unsigned max_rcpt;           /* the file's max-rcpt, 0: not given
	                                there (checked for maildrop/ only) */
	/* -N, -R, -V checked (send_dsn_*); "": not given */
	char dsn_notify[32], dsn_ret[8], dsn_envid[301];
	const char *sender;          /* -f, the address alone; NULL: From:
	                                (gun) or user@host */
	const char *fullname;        /* -F; NULL: none */
	const char *helo;            /* our EHLO name */
	int maildrop;                /* no server named (-s, $MTA_SERVER):
	                                one message goes into the queue's
	                                maildrop/ (queue.h) */
	int tflag;                   /* -t */
	int gun, inject;             /* --gun, --inject */
	int quiet;                   /* --quiet: no progress */
	int gun_opts;                /* -c, -n, --rcpt, --tls, --starttls,
	                                --per-connection or --connect-only
	                                was given */
	int tls;                     /* --tls 1, --starttls 2 (gun.h's
	                                GUN_TLS_IMPLICIT, GUN_TLS_STARTTLS) */
	int sendmail_opts;           /* -i, -o... was given */
	unsigned sessions;           /* -c */
	unsigned threads;            /* --threads; 0: the gun chooses */
	unsigned long repeat;        /* -n */
	unsigned per_connection;     /* --per-connection; 0: no limit */
	int connect_only;            /* --connect-only */
	struct smtp_timeouts to;     /* -T, else the RFC 5321 defaults */
	struct addrlist rcpt;        /* --rcpt, as given */
	const char *auth_user;       /* --auth-user; NULL: no AUTH */
	char auth_pass[513];         /* its password (send_auth_password) */
	const char *tls_ca;          /* --tls-ca: -s's trust anchors for AUTH;
	                                NULL: the system's */
	char hostname[256];          /* gethostname(): qualifies bare names */
};

/* send_say - one line on stderr, prefixed "mta-send: " */
void send_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* send_inject - the message on stdin; returns the exit status */
int send_inject(struct send_opts *o, char **args, int nargs);
/* send_fire - the mail gun over files[0..nfiles); returns the exit status */
int send_fire(struct send_opts *o, char **files, int nfiles);
/* send_config - the configuration file path (NULL: SEND_CONFIG_DEFAULT
 * when it exists and is readable, else none) into o->queue and
 * o->config_server; 0, or -1 said on stderr */
int send_config(struct send_opts *o, const char *path);
/* send_auth_password - --auth-user's password into o->auth_pass: the
 * first line of file (--auth-password-file; NULL: none), else the
 * environment's MTA_AUTH_PASSWORD (never the command line, where ps
 * would show it); 0, or -1 said on stderr */
int send_auth_password(struct send_opts *o, const char *file);
/* send_session - -bs; returns the exit status */
int send_session(struct send_opts *o);
/* send_queue_tool - exec mta-queue on o->queue (with flush: --flush);
 * returns the exit status only when it could not be run */
int send_queue_tool(const struct send_opts *o, int flush);
/* send_dsn_notify, send_dsn_ret, send_dsn_envid - check the value of
 * -N, -R, -V and keep it in o ready for the wire; 0, or -1 when bad */
int send_dsn_notify(struct send_opts *o, const char *arg);
int send_dsn_ret(struct send_opts *o, const char *arg);
int send_dsn_envid(struct send_opts *o, const char *arg);

#endif
