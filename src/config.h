/* config - mta-smtpd's command line (mta-smtpd(8), OPTIONS).
 *
 * Contract: config_parse() fills a struct config once, in main(), before
 * any thread starts; afterwards the struct is read-only and may be read
 * from every thread without a lock.  Strings point into argv or into
 * memory owned by the config (never freed: it lives as long as the
 * process).
 */
#ifndef MTA_CONFIG_H
#define MTA_CONFIG_H

#include <stddef.h>
#include <sys/socket.h>

#include "netaddr.h"

struct listen_addr {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[NETADDR_TEXT_MAX];
};

struct route {
	char domain[256];          /* "*" = every non-local domain */
	char host[256];
	unsigned port;             /* 0 = --smtp-port */
};

struct config {
	const char *queue;         /* -q, --queue */
	const char *mailroot;      /* -m, --mailroot */
	const char *log;           /* -L, --log; NULL = stderr */
	const char *user;          /* --user */
	const char *dns;           /* --dns; NULL = /etc/resolv.conf */
	char hostname[256];        /* --hostname or gethostname() */
	struct listen_addr *listen;
	size_t nlisten;
	char **domains;            /* lower case */
	size_t ndomains;
	struct cidr *relay;
	size_t nrelay;
	struct route *routes;
	size_t nroutes;
	int mbox, system_users;
	unsigned mbox_lock_wait;   /* seconds to wait for an mbox's locks */
	int hold;                  /* queue only: no scheduler, no deliveries */
	unsigned retry, attempts, smtp_port;
	unsigned max_queue_time;   /* seconds a message may wait in the queue */
	unsigned max_clients, max_per_ip, max_deliveries, max_per_dest, max_rcpt;
	unsigned timeout, max_errors, max_received;
	unsigned soft_errors;      /* errors answered without a pause */
	unsigned error_delay;      /* ms, the first pause; it doubles */
	unsigned max_junk;         /* junk commands per message; 0 = no limit */
	unsigned session_timeout;  /* a whole SMTP session, seconds */
	int max_per_ip_set;        /* --max-per-ip given: it binds relay
	                            * clients too (server.c per_ip_limit) */
	unsigned data_timeout;     /* whole DATA phase of one message, seconds */
	unsigned smtp_timeout;     /* 0 = RFC 5321 4.5.3.2 client defaults */
	unsigned long long max_size;
	size_t max_line;
};

/* config_parse - defaults, then argv; 0, or -1 with a message in err */
int config_parse(struct config *cfg, int argc, char **argv,
                 char *err, size_t errlen);
/* config_usage - the one-paragraph usage text */
const char *config_usage(void);
/* config_is_local - is domain (any case) one of --domains? */
int config_is_local(const struct config *cfg, const char *domain);
/* config_may_relay - is the client in a --relay-from block? */
int config_may_relay(const struct config *cfg, const struct sockaddr *client);
/* config_fds_needed - file descriptors the configured limits may hold
 * open at once (-c, --max-deliveries, the listeners and a fixed part) */
unsigned long config_fds_needed(const struct config *cfg);

#endif
