/* config - mta-smtpd's configuration: an immutable, reference-counted
 * snapshot (mta-smtpd(8), OPTIONS and CONFIGURATION FILE).
 *
 * Contract: options_load() (options.h) builds a struct config from the
 * option table, --config's file and the command line.  Once published
 * with config_publish() a snapshot never changes; every thread may read
 * it without a lock while it holds a reference.  config_get() takes a
 * reference to the current snapshot, config_put() gives one back (the
 * last one frees it).  A connection takes one when it starts and keeps it
 * for its session; the scheduler takes a fresh one each round and each
 * delivery one of its own.  SIGHUP publishes a new snapshot; holders of
 * the old one keep it until they put it.  Every string belongs to the
 * snapshot, and so does its TLS context (tls.h: one reference, put by
 * config_free; connections in progress keep their own TLS objects) and
 * its DANE resolver (dane.h; freed with the snapshot).
 */
#ifndef MTA_CONFIG_H
#define MTA_CONFIG_H

#include <stdatomic.h>
#include <stddef.h>
#include <sys/socket.h>

#include "netaddr.h"
#include "tls.h"

struct tls_ctx;
struct dane_resolver;
struct authdb;

struct listen_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[NETADDR_TEXT_MAX];
};

struct route {
	char domain[256];          /* "*" = every non-local domain */
	char host[256];
	unsigned port;             /* 0 = --smtp-port */
	int has_tls;               /* tls= given: its policy wins */
	enum tls_policy tls;
	/* auth=FILE: the smarthost's credentials (route_auth.h reads the
	 * file into auth_user, auth_pass with the snapshot); "" none.
	 * auth-insecure: they may go without a verified certificate */
	char auth_file[1024];
	int auth_insecure;
	char auth_user[256];
	char auth_pass[513];       /* SMTP_AUTH_FIELD_MAX + 1; wiped at free */
};

struct resolve_tables;

struct config {
	char *queue;               /* -q, --queue (restart only) */
	char *mailroot;            /* -m, --mailroot */
	char *log;                 /* -L, --log; NULL = stderr */
	char *user;                /* --user (restart only) */
	char *dns;                 /* --dns; NULL = /etc/resolv.conf */
	int dane;                  /* --dane: DANE outbound (RFC 7672) */
	char *dns_trust_anchor;    /* --dns-trust-anchor: DNSSEC's anchor */
	/* --dane's validating resolver (config_load_tls), for this
	 * snapshot; NULL without --dane */
	struct dane_resolver *dane_resolver;
	char hostname[256];        /* --hostname or gethostname() */
	struct listen_addr *listen; /* restart only */
	size_t nlisten;
	struct listen_addr *smtps; /* --smtps: implicit TLS (restart only) */
	size_t nsmtps;
	struct listen_addr *submission; /* --submission: STARTTLS, AUTH, MAIL
	                            * only after AUTH (restart only) */
	size_t nsubmission;
	char *users;               /* --users FILE, or NULL */
	char *dovecot_auth;        /* --dovecot-auth PATH (a socket), or NULL */
	/* its logins, read with the snapshot by policy_load_tables() and
	 * freed by authdb_free (authdb.h) */
	struct authdb *authdb;
	void (*authdb_free)(struct authdb *db);
	int auth_on_smtp;          /* --auth-on-smtp: AUTH on --listen too */
	int any_sender;            /* --any-sender: logins not bound to senders */
	int hide_client;           /* --hide-client: no client address in
	                            * Received: on submission and smtps */
	unsigned max_auth_failures; /* --max-auth-failures per connection */
	char **tls_cert, **tls_key; /* --tls-cert, --tls-key: paths, in pairs */
	size_t ntls_cert, ntls_key;
	/* the server's TLS context made from the pairs (config_load_tls);
	 * NULL: no certificate, no STARTTLS */
	struct tls_ctx *tls_server;
	char *tls_ca;              /* --tls-ca; NULL = the system's CAs */
	enum tls_policy tls_client_policy;  /* --tls-client */
	/* the client's TLS context (config_load_tls), for every snapshot */
	struct tls_ctx *tls_client;
	int mta_sts;               /* --mta-sts: honour MTA-STS policies */
	char **domains;            /* lower case */
	size_t ndomains;
	struct cidr *relay;
	size_t nrelay;
	struct route *routes;
	size_t nroutes;
	int mbox, system_users;
	char *aliases;             /* --aliases FILE, or NULL */
	char *virtual;             /* --virtual FILE, or NULL */
	char *local_users;         /* --local-users FILE, or NULL */
	char *root_alias;          /* --root-alias ADDR, or NULL */
	char *recipient_delimiter; /* "" = no subaddresses */
	char *check_address;       /* --check-address ADDR (command line) */
	char *lmtp;                /* --lmtp ADDR: local mailboxes go to this
	                            * LMTP server (a unix socket path, or
	                            * HOST:PORT); NULL: Maildir/mbox here */
	unsigned max_lmtp;         /* --max-lmtp: LMTP deliveries at once */
	unsigned max_per_mailbox;  /* --max-per-mailbox: into one Maildir at
	                            * once; 0: half the local share */
	/* the tables the files above name, read with the snapshot by
	 * policy_load_tables() (policy.h) and freed by tables_free: the
	 * snapshot stays below the layer that knows them */
	struct resolve_tables *tables;
	void (*tables_free)(struct resolve_tables *t);
	unsigned mbox_lock_wait;   /* seconds to wait for an mbox's locks */
	int syslog;                /* --syslog: log through syslog(3), not
	                              --log (restart only) */
	int hold;                  /* queue only: no scheduler, no deliveries
	                            * (restart only) */
	int sync_dirs;             /* --sync-dirs: fsync queue/new after every
	                            * commit and a Maildir's new/ after every
	                            * delivery, journal or not (restart only) */
	unsigned retry, attempts, smtp_port;
	unsigned max_queue_time;   /* seconds a message may wait in the queue */
	unsigned delay_warning;    /* seconds deferred before the sender is
	                            * warned (bounce.h "delayed"); 0 = never */
	unsigned max_clients, max_per_ip, max_deliveries, max_per_dest, max_rcpt;
	unsigned dead_hop_time;    /* seconds a silent next hop is skipped */
	unsigned timeout, max_errors, max_received;
	unsigned soft_errors;      /* errors answered without a pause */
	unsigned error_delay;      /* ms, the first pause; it doubles */
	unsigned max_junk;         /* junk commands per message; 0 = no limit */
	unsigned session_timeout;  /* a whole SMTP session, seconds */
	int max_per_ip_set;        /* --max-per-ip given (file or command
	                            * line): it binds relay clients too
	                            * (server.c per_ip_limit) */
	unsigned data_timeout;     /* whole DATA phase of one message, seconds */
	unsigned smtp_timeout;     /* 0 = RFC 5321 4.5.3.2 client defaults */
	unsigned long long max_size;
	size_t max_line;
	atomic_uint refs;          /* config_get/config_put */
};

/* config_load_tls - make cfg's TLS contexts: the server's from its
 * --tls-cert and --tls-key pairs (none: no context), the client's with
 * --tls-ca's trust anchors (or the system's), and with --dane DANE's
 * validating resolver (dane.h: --dns-trust-anchor, --dns); 0, or -1 with
 * err set (a file missing, unreadable or broken, pairs unmatched,
 * --smtps or --submission without a certificate, --dane without a resolver that
 * validates) */
int config_load_tls(struct config *cfg, char *err, size_t errlen);
/* config_reload_tls - config_load_tls for a reload (next replaces
 * running), but when a --tls-cert or --tls-key file cannot be read for
 * lack of permission (after --user the daemon is no longer root) and
 * running has a server context, next takes running's server context and
 * warn says which file ("" when nothing was kept): the rest of a reload
 * must not fail for a renewed key only root can read.  0, or -1 with err
 * set */
int config_reload_tls(struct config *next, const struct config *running,
                      char *warn, size_t warnlen, char *err, size_t errlen);
/* config_publish - make cfg (one reference, which passes to the
 * publication) the current snapshot; the previous one is put */
void config_publish(struct config *cfg);
/* config_get - a reference to the current snapshot (never NULL once one
 * was published) */
const struct config *config_get(void);
/* config_hold - one more reference to a snapshot the caller holds */
const struct config *config_hold(const struct config *cfg);
/* config_put - give a reference back; NULL is ignored */
void config_put(const struct config *cfg);
/* config_free - free a snapshot nobody else holds (one never published) */
void config_free(struct config *cfg);
/* config_is_local - is domain (any case) one of --domains? */
int config_is_local(const struct config *cfg, const char *domain);
/* config_may_relay - is the client in a --relay-from block? */
int config_may_relay(const struct config *cfg, const struct sockaddr *client);
/* config_fds_needed - file descriptors the configured limits may hold
 * open at once (-c, --max-deliveries, the listeners and a fixed part) */
unsigned long config_fds_needed(const struct config *cfg);

#endif
