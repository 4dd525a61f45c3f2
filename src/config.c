/* config.c - command-line parsing for mta-smtpd; see config.h */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "config.h"

enum {
	OPT_MBOX = 256, OPT_SYSTEM_USERS, OPT_ROUTE, OPT_SMTP_PORT, OPT_DNS,
	OPT_RELAY_FROM, OPT_MAX_DELIVERIES, OPT_MAX_SIZE, OPT_MAX_RCPT,
	OPT_TIMEOUT, OPT_HOSTNAME, OPT_USER, OPT_MAX_LINE, OPT_MAX_ERRORS,
	OPT_MAX_RECEIVED, OPT_MAX_PER_IP, OPT_SMTP_TIMEOUT, OPT_MAX_PER_DEST, OPT_DATA_TIMEOUT, OPT_HOLD, OPT_HELP,
	OPT_MBOX_LOCK_WAIT, OPT_MAX_QUEUE_TIME, OPT_SOFT_ERRORS, OPT_ERROR_DELAY,
	OPT_MAX_JUNK, OPT_SESSION_TIMEOUT
};

static const struct option long_options[] = {
	{"queue", required_argument, NULL, 'q'},
	{"listen", required_argument, NULL, 'l'},
	{"domains", required_argument, NULL, 'd'},
	{"mailroot", required_argument, NULL, 'm'},
	{"mbox", no_argument, NULL, OPT_MBOX},
	{"mbox-lock-wait", required_argument, NULL, OPT_MBOX_LOCK_WAIT},
	{"system-users", no_argument, NULL, OPT_SYSTEM_USERS},
	{"retry", required_argument, NULL, 'r'},
	{"attempts", required_argument, NULL, 'a'},
	{"max-queue-time", required_argument, NULL, OPT_MAX_QUEUE_TIME},
	{"route", required_argument, NULL, OPT_ROUTE},
	{"smtp-port", required_argument, NULL, OPT_SMTP_PORT},
	{"dns", required_argument, NULL, OPT_DNS},
	{"relay-from", required_argument, NULL, OPT_RELAY_FROM},
	{"max-clients", required_argument, NULL, 'c'},
	{"max-per-ip", required_argument, NULL, OPT_MAX_PER_IP},
	{"max-deliveries", required_argument, NULL, OPT_MAX_DELIVERIES},
	{"max-per-dest", required_argument, NULL, OPT_MAX_PER_DEST},
	{"max-size", required_argument, NULL, OPT_MAX_SIZE},
	{"max-rcpt", required_argument, NULL, OPT_MAX_RCPT},
	{"max-line", required_argument, NULL, OPT_MAX_LINE},
	{"max-errors", required_argument, NULL, OPT_MAX_ERRORS},
	{"soft-errors", required_argument, NULL, OPT_SOFT_ERRORS},
	{"error-delay", required_argument, NULL, OPT_ERROR_DELAY},
	{"max-junk", required_argument, NULL, OPT_MAX_JUNK},
	{"max-received", required_argument, NULL, OPT_MAX_RECEIVED},
	{"timeout", required_argument, NULL, OPT_TIMEOUT},
	{"smtp-timeout", required_argument, NULL, OPT_SMTP_TIMEOUT},
	{"data-timeout", required_argument, NULL, OPT_DATA_TIMEOUT},
	{"session-timeout", required_argument, NULL, OPT_SESSION_TIMEOUT},
	{"hostname", required_argument, NULL, OPT_HOSTNAME},
	{"log", required_argument, NULL, 'L'},
	{"user", required_argument, NULL, OPT_USER},
	{"hold", no_argument, NULL, OPT_HOLD},
	{"help", no_argument, NULL, OPT_HELP},
	{NULL, 0, NULL, 0}
};

/* config_usage - the usage text */
const char *config_usage(void)
{
	return "usage: mta-smtpd [-q DIR] [-l ADDR:PORT]... [-d DOMAINS] [-m DIR]\n"
	       "  [--mbox] [--mbox-lock-wait SECONDS] [--system-users]\n"
	       "  [-r SECONDS] [-a N] [--max-queue-time SECONDS]\n"
	       "  [--route D=HOST[:PORT]]...\n"
	       "  [--smtp-port PORT] [--dns ADDR[:PORT]] [--relay-from CIDR]...\n"
	       "  [-c N] [--max-per-ip N] [--max-deliveries N] [--max-per-dest N]\n"
	       "  [--max-size BYTES]\n"
	       "  [--max-rcpt N] [--max-line BYTES] [--max-errors N] [--max-received N]\n"
	       "  [--soft-errors N] [--error-delay MS] [--max-junk N]\n"
	       "  [--timeout SECONDS] [--data-timeout SECONDS] [--session-timeout SECONDS]\n"
	       "  [--smtp-timeout SECONDS]\n"
	       "  [--hostname NAME]\n"
	       "  [-L FILE] [--user NAME] [--hold]\n"
	       "see mta-smtpd(8)\n";
}

/* fail - format an error message; always -1 */
static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* number - a decimal in [min, max], or -1 */
static int number(const char *text, unsigned long long min,
                  unsigned long long max, unsigned long long *v)
{
	char *end;

	if (*text < '0' || *text > '9')
		return -1;
	errno = 0;
	*v = strtoull(text, &end, 10);
	if (*end || errno || *v < min || *v > max)
		return -1;
	return 0;
}

/* grow - append one zeroed element to *array; its address, or NULL */
static void *grow(void *array_ptr, size_t *n, size_t size)
{
	void **array = array_ptr;
	char *a = realloc(*array, (*n + 1) * size);

	if (a == NULL)
		return NULL;
	*array = a;
	memset(a + *n * size, 0, size);
	return a + (*n)++ * size;
}

/* add_domains - split a comma-separated list into cfg->domains */
static int add_domains(struct config *cfg, const char *list)
{
	const char *p = list;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p), i;
		char **slot, *d;

		if (n > 0) {
			if ((d = strndup(p, n)) == NULL)
				return -1;
			for (i = 0; i < n; i++)
				d[i] = (char)tolower((unsigned char)d[i]);
			if ((slot = grow(&cfg->domains, &cfg->ndomains, sizeof *slot)) == NULL) {
				free(d);
				return -1;
			}
			*slot = d;
		}
		p += n + (end ? 1 : 0);
	}
	return 0;
}

/* add_route - "DOMAIN=HOST[:PORT]" */
static int add_route(struct config *cfg, const char *text)
{
	const char *eq = strchr(text, '='), *colon;
	struct route *r;
	size_t n;

	if (eq == NULL || eq == text || eq[1] == '\0')
		return -1;
	if ((r = grow(&cfg->routes, &cfg->nroutes, sizeof *r)) == NULL)
		return -1;
	n = (size_t)(eq - text);
	if (n >= sizeof r->domain)
		return -1;
	memcpy(r->domain, text, n);
	colon = strrchr(eq + 1, ':');
	if (eq[1] == '[') {                      /* [IPv6]:port */
		const char *close = strchr(eq + 1, ']');
		if (close == NULL)
			return -1;
		colon = close[1] == ':' ? close + 1 : NULL;
	}
	n = colon ? (size_t)(colon - eq - 1) : strlen(eq + 1);
	if (n == 0 || n >= sizeof r->host)
		return -1;
	memcpy(r->host, eq + 1, n);
	if (colon) {
		unsigned long long v;
		if (number(colon + 1, 1, 65535, &v) < 0)
			return -1;
		r->port = (unsigned)v;
	}
	return 0;
}

/* set_defaults - the embedded defaults (mta-smtpd(8)) */
static void set_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->queue = "./queue";
	cfg->mailroot = "./mail";
	cfg->retry = 300;
	cfg->attempts = 2;
	cfg->max_queue_time = 5 * 86400;   /* as Postfix */
	cfg->smtp_port = 25;
	cfg->max_clients = 1000;
	cfg->max_per_ip = 50;      /* clients outside --relay-from, unless given */
	cfg->max_deliveries = 100;
	cfg->max_per_dest = 20;
	cfg->mbox_lock_wait = 5;
	cfg->max_size = 33554432;
	cfg->max_rcpt = 1000;
	cfg->max_line = 1000;
	cfg->max_errors = 20;
	cfg->soft_errors = 10;
	cfg->error_delay = 100;
	cfg->max_junk = 100;
	cfg->session_timeout = 3600;
	cfg->max_received = 100;
	cfg->timeout = 300;
	cfg->data_timeout = 1200;
}

/* config_parse - defaults, then the command line */
int config_parse(struct config *cfg, int argc, char **argv,
                 char *err, size_t errlen)
{
	unsigned long long v;
	int c;

	set_defaults(cfg);
	optind = 1;
	while ((c = getopt_long(argc, argv, "q:l:d:m:r:a:c:L:", long_options, NULL)) != -1) {
		switch (c) {
		case 'q': cfg->queue = optarg; break;
		case 'm': cfg->mailroot = optarg; break;
		case 'L': cfg->log = optarg; break;
		case OPT_USER: cfg->user = optarg; break;
		case OPT_DNS: cfg->dns = optarg; break;
		case OPT_MBOX: cfg->mbox = 1; break;
		case OPT_HOLD: cfg->hold = 1; break;
		case OPT_SYSTEM_USERS: cfg->system_users = 1; break;
		case OPT_HOSTNAME:
			if (strlen(optarg) == 0 || strlen(optarg) >= sizeof cfg->hostname)
				return fail(err, errlen, "bad --hostname");
			strcpy(cfg->hostname, optarg);
			break;
		case 'l': {
			struct listen_addr *la = grow(&cfg->listen, &cfg->nlisten, sizeof *la);
			if (la == NULL || netaddr_parse(optarg, 0, &la->ss, &la->len) < 0)
				return fail(err, errlen, "bad --listen address '%s' (want ADDR:PORT or [IPv6]:PORT)", optarg);
			snprintf(la->text, sizeof la->text, "%s", optarg);
			break;
		}
		case 'd':
			if (add_domains(cfg, optarg) < 0)
				return fail(err, errlen, "out of memory");
			break;
		case OPT_RELAY_FROM: {
			struct cidr *cb = grow(&cfg->relay, &cfg->nrelay, sizeof *cb);
			if (cb == NULL || cidr_parse(optarg, cb) < 0)
				return fail(err, errlen, "bad --relay-from '%s' (want ADDR/BITS)", optarg);
			break;
		}
		case OPT_MAX_PER_IP:
			if (number(optarg, 0, 1000000, &v) < 0)
				return fail(err, errlen, "bad value '%s' for --max-per-ip (0..1000000)",
				            optarg);
			cfg->max_per_ip = (unsigned)v;
			cfg->max_per_ip_set = 1;
			break;
		case OPT_ROUTE:
			if (add_route(cfg, optarg) < 0)
				return fail(err, errlen, "bad --route '%s' (want DOMAIN=HOST[:PORT])", optarg);
			break;
#define NUM(opt, field, min, max) \
		case opt: \
			if (number(optarg, min, max, &v) < 0) \
				return fail(err, errlen, "bad value '%s' for --%s (%llu..%llu)", \
				            optarg, #field, (unsigned long long)(min), \
				            (unsigned long long)(max)); \
			cfg->field = v; \
			break;
		NUM('r', retry, 0, 100000000)
		NUM('a', attempts, 1, 1000)
		NUM(OPT_MAX_QUEUE_TIME, max_queue_time, 1, 100000000)
		NUM(OPT_SMTP_PORT, smtp_port, 1, 65535)
		NUM('c', max_clients, 1, 1000000)
		NUM(OPT_MAX_DELIVERIES, max_deliveries, 1, 100000)
		NUM(OPT_MAX_PER_DEST, max_per_dest, 1, 100000)
		NUM(OPT_MAX_SIZE, max_size, 1, 1ULL << 40)
		NUM(OPT_MAX_RCPT, max_rcpt, 1, 100000)
		NUM(OPT_MAX_LINE, max_line, 512, 1 << 20)
		NUM(OPT_MAX_ERRORS, max_errors, 0, 1000000)
		NUM(OPT_MAX_RECEIVED, max_received, 1, 10000)
		NUM(OPT_TIMEOUT, timeout, 1, 86400)
		NUM(OPT_SMTP_TIMEOUT, smtp_timeout, 1, 86400)
		NUM(OPT_DATA_TIMEOUT, data_timeout, 1, 86400)
		NUM(OPT_MBOX_LOCK_WAIT, mbox_lock_wait, 1, 3600)
		NUM(OPT_SOFT_ERRORS, soft_errors, 0, 1000000)
		NUM(OPT_ERROR_DELAY, error_delay, 0, 30000)  /* a pause is at most 30 s */
		NUM(OPT_MAX_JUNK, max_junk, 0, 1000000)
		NUM(OPT_SESSION_TIMEOUT, session_timeout, 1, 1000000)
#undef NUM
		case OPT_HELP:
			return fail(err, errlen, "%s", config_usage());
		default:
			return fail(err, errlen, "%s", config_usage());
		}
	}
	if (optind < argc)
		return fail(err, errlen, "unexpected argument '%s'\n%s", argv[optind], config_usage());
	if (cfg->hostname[0] == '\0' &&
	    (gethostname(cfg->hostname, sizeof cfg->hostname - 1) < 0 || !cfg->hostname[0]))
		strcpy(cfg->hostname, "localhost");
	if (cfg->ndomains == 0 &&
	    (add_domains(cfg, cfg->hostname) < 0 || add_domains(cfg, "localhost") < 0))
		return fail(err, errlen, "out of memory");
	if (cfg->nlisten == 0) {
		struct listen_addr *la = grow(&cfg->listen, &cfg->nlisten, sizeof *la);
		if (la == NULL || netaddr_parse("127.0.0.1:2525", 0, &la->ss, &la->len) < 0)
			return fail(err, errlen, "out of memory");
		strcpy(la->text, "127.0.0.1:2525");
	}
	if (cfg->nrelay == 0) {
		struct cidr *a = grow(&cfg->relay, &cfg->nrelay, sizeof *a);
		struct cidr *b = a ? grow(&cfg->relay, &cfg->nrelay, sizeof *b) : NULL;
		if (b == NULL)
			return fail(err, errlen, "out of memory");
		cidr_parse("127.0.0.0/8", &cfg->relay[0]);
		cidr_parse("::1/128", &cfg->relay[1]);
	}
	return 0;
}

/* config_is_local - is domain one of ours? */
int config_is_local(const struct config *cfg, const char *domain)
{
	size_t i;

	for (i = 0; i < cfg->ndomains; i++)
		if (strcasecmp(cfg->domains[i], domain) == 0)
			return 1;
	return 0;
}

/* config_may_relay - is the client allowed to relay? */
int config_may_relay(const struct config *cfg, const struct sockaddr *client)
{
	size_t i;

	for (i = 0; i < cfg->nrelay; i++)
		if (cidr_match(&cfg->relay[i], client))
			return 1;
	return 0;
}

/* config_fds_needed - descriptors the limits may hold open at once: each
 * connection its socket and its queue file; each delivery its message
 * file, then a mailbox's directories, file and lock (at most 5), or a
 * socket and a DNS query, plus a connection kept for the next delivery
 * (conncache keeps at most --max-deliveries); and a fixed part for the
 * standard streams, log, queue lock and directories, inotify, eventfds
 * and the scheduler's directory scans */
unsigned long config_fds_needed(const struct config *cfg)
{
	return 2UL * cfg->max_clients + 6UL * cfg->max_deliveries +
	       (unsigned long)cfg->nlisten + 64;
}
