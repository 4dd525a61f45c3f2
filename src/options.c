/* options.c - the option table and its readers; see options.h */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"
#include "optval.h"

enum kind {
	K_STR,      /* a string field; the last one given wins */
	K_NUM,      /* an unsigned field in [min, max] */
	K_FLAG,     /* an int field set to 1; no value */
	K_LIST,     /* repeatable: each value added by add() */
	K_HOST,     /* --hostname: into the char array */
	K_SET,      /* a value parsed into its field by add() */
	K_CONFIG,   /* --config FILE: command line only */
	K_HELP, K_VERSION
};

struct opt {
	const char *name;          /* the long name, also the file's */
	int letter;                /* the short option, 0 = none */
	enum kind kind;
	size_t off, size;          /* the field (K_LIST: the array's, and
	                            * the size of one element) */
	size_t count_off;          /* K_LIST: its element count */
	unsigned long long min, max;
	int (*add)(struct config *cfg, const char *value);   /* K_LIST, K_SET */
	int (*check)(const char *value);                     /* K_STR */
	const char *want;          /* the form a bad value should have had */
	const char *dflt;          /* parsed like a given value; NULL = none
	                            * (K_LIST: space-separated, when the list
	                            * is empty at the end) */
	const char *arg;           /* the value's name in the usage text */
	int restart;               /* a change needs a restart */
	int marks_per_ip;          /* sets max_per_ip_set when given */
	int strings;               /* K_LIST of strings the list owns */
	int cmdline;               /* the command line only, not the file */
};

#define FIELD(f) .off = offsetof(struct config, f), \
                 .size = sizeof(((struct config *)0)->f)
#define LIST(fn, f, n) .kind = K_LIST, .add = optval_##fn, \
                       .off = offsetof(struct config, f), \
                       .size = sizeof *((struct config *)0)->f, \
                       .count_off = offsetof(struct config, n)
#define NUM(f, lo, hi) .kind = K_NUM, FIELD(f), .min = (lo), .max = (hi)
#define STR(f) .kind = K_STR, FIELD(f)
#define FLAG(f) .kind = K_FLAG, FIELD(f)

/* The table: usage order.  Defaults are the documented ones
 * (mta-smtpd(8)); max-per-ip's binds relay clients only when given. */
static const struct opt opts[] = {
	{ "config", 0, K_CONFIG, .arg = "FILE" },
	{ "queue", 'q', STR(queue), .dflt = "./queue", .arg = "DIR", .restart = 1 },
	{ "listen", 'l', LIST(listen, listen, nlisten), .dflt = "127.0.0.1:2525",
	  .want = "ADDR:PORT or [IPv6]:PORT", .arg = "ADDR:PORT", .restart = 1 },
	{ "smtps", 0, LIST(smtps, smtps, nsmtps), .want = "ADDR:PORT or [IPv6]:PORT",
	  .arg = "ADDR:PORT", .restart = 1 },
	{ "submission", 0, LIST(submission, submission, nsubmission),
	  .want = "ADDR:PORT or [IPv6]:PORT", .arg = "ADDR:PORT", .restart = 1 },
	{ "users", 0, STR(users), .arg = "FILE" },
	{ "dovecot-auth", 0, STR(dovecot_auth), .arg = "PATH" },
	{ "auth-on-smtp", 0, FLAG(auth_on_smtp) },
	{ "any-sender", 0, FLAG(any_sender) },
	{ "hide-client", 0, FLAG(hide_client) },
	{ "max-auth-failures", 0, NUM(max_auth_failures, 1, 1000), .dflt = "3",
	  .arg = "N" },
	{ "tls-cert", 0, LIST(tls_cert, tls_cert, ntls_cert), .want = "a file name",
	  .arg = "FILE", .strings = 1 },
	{ "tls-key", 0, LIST(tls_key, tls_key, ntls_key), .want = "a file name",
	  .arg = "FILE", .strings = 1 },
	{ "tls-ca", 0, STR(tls_ca), .arg = "FILE" },
	{ "tls-client", 0, .kind = K_SET, .add = optval_tls_client, .dflt = "may",
	  .want = "none, may, encrypt or verify", .arg = "MODE" },
	{ "mta-sts", 0, .kind = K_SET, .add = optval_mta_sts, .dflt = "yes",
	  .want = "yes or no", .arg = "yes|no" },
	{ "domains", 'd', LIST(domains, domains, ndomains), .arg = "DOMAINS",
	  .strings = 1 },
	{ "mailroot", 'm', STR(mailroot), .dflt = "./mail", .arg = "DIR" },
	{ "mbox", 0, FLAG(mbox) },
	{ "mbox-lock-wait", 0, NUM(mbox_lock_wait, 1, 3600), .dflt = "5", .arg = "SECONDS" },
	{ "system-users", 0, FLAG(system_users) },
	{ "aliases", 0, STR(aliases), .arg = "FILE" },
	{ "virtual", 0, STR(virtual), .arg = "FILE" },
	{ "local-users", 0, STR(local_users), .arg = "FILE" },
	{ "root-alias", 0, STR(root_alias), .check = optval_address,
	  .want = "an address user@domain", .arg = "ADDR" },
	{ "recipient-delimiter", 0, STR(recipient_delimiter), .dflt = "+",
	  .check = optval_delimiter, .want = "one character, or empty", .arg = "C" },
	{ "lmtp", 0, STR(lmtp), .check = optval_lmtp,
	  .want = "a socket path /PATH, or HOST:PORT", .arg = "ADDR" },
	{ "max-lmtp", 0, NUM(max_lmtp, 1, 100000), .dflt = "10", .arg = "N" },
	{ "retry", 'r', NUM(retry, 0, 100000000), .dflt = "300", .arg = "SECONDS" },
	{ "attempts", 'a', NUM(attempts, 1, 1000), .dflt = "2", .arg = "N" },
	/* five days, as Postfix */
	{ "max-queue-time", 0, NUM(max_queue_time, 1, 100000000), .dflt = "432000",
	  .arg = "SECONDS" },
	/* four hours, as Postfix's delay_warning_time when set; 0 = none */
	{ "delay-warning", 0, NUM(delay_warning, 0, 100000000), .dflt = "14400",
	  .arg = "SECONDS" },
	{ "route", 0, LIST(route, routes, nroutes),
	  .want = "DOMAIN=HOST[:PORT] [tls=MODE] [auth=FILE [auth-insecure]]; "
	  "auth= wants tls=verify or auth-insecure", .arg = "D=HOST[:PORT]" },
	{ "smtp-port", 0, NUM(smtp_port, 1, 65535), .dflt = "25", .arg = "PORT" },
	{ "dns", 0, STR(dns), .check = optval_dns, .want = "an IPv4 ADDR[:PORT]",
	  .arg = "ADDR[:PORT]" },
	{ "dane", 0, FLAG(dane) },
	{ "dns-trust-anchor", 0, STR(dns_trust_anchor),
	  .dflt = "/usr/share/dns/root.key", .arg = "FILE" },
	{ "relay-from", 0, LIST(relay, relay, nrelay), .dflt = "127.0.0.0/8 ::1/128",
	  .want = "ADDR/BITS", .arg = "CIDR" },
	{ "max-clients", 'c', NUM(max_clients, 1, 1000000), .dflt = "1000", .arg = "N" },
	{ "max-per-ip", 0, NUM(max_per_ip, 0, 1000000), .dflt = "50", .arg = "N",
	  .marks_per_ip = 1 },
	{ "max-deliveries", 0, NUM(max_deliveries, 1, 100000), .dflt = "100", .arg = "N" },
	{ "max-per-dest", 0, NUM(max_per_dest, 1, 100000), .dflt = "20", .arg = "N" },
	{ "max-per-mailbox", 0, NUM(max_per_mailbox, 0, 100000), .dflt = "0", .arg = "N" },
	{ "dead-hop-time", 0, NUM(dead_hop_time, 0, 86400), .dflt = "60", .arg = "SECONDS" },
	{ "max-size", 0, NUM(max_size, 1, 1ULL << 40), .dflt = "33554432", .arg = "BYTES" },
	{ "max-rcpt", 0, NUM(max_rcpt, 1, 100000), .dflt = "1000", .arg = "N" },
	{ "max-line", 0, NUM(max_line, 512, 1 << 20), .dflt = "1000", .arg = "BYTES" },
	{ "max-errors", 0, NUM(max_errors, 0, 1000000), .dflt = "20", .arg = "N" },
	{ "soft-errors", 0, NUM(soft_errors, 0, 1000000), .dflt = "10", .arg = "N" },
	/* a pause is at most 30 s */
	{ "error-delay", 0, NUM(error_delay, 0, 30000), .dflt = "100", .arg = "MS" },
	{ "max-junk", 0, NUM(max_junk, 0, 1000000), .dflt = "100", .arg = "N" },
	{ "max-received", 0, NUM(max_received, 1, 10000), .dflt = "100", .arg = "N" },
	{ "timeout", 0, NUM(timeout, 1, 86400), .dflt = "300", .arg = "SECONDS" },
	{ "smtp-timeout", 0, NUM(smtp_timeout, 1, 86400), .arg = "SECONDS" },
	{ "data-timeout", 0, NUM(data_timeout, 1, 86400), .dflt = "1200", .arg = "SECONDS" },
	{ "session-timeout", 0, NUM(session_timeout, 1, 1000000), .dflt = "3600",
	  .arg = "SECONDS" },
	{ "hostname", 0, K_HOST, .want = "1 to 255 characters", .arg = "NAME" },
	{ "log", 'L', STR(log), .arg = "FILE" },
	{ "syslog", 0, FLAG(syslog), .restart = 1 },
	{ "user", 0, STR(user), .arg = "NAME", .restart = 1 },
	{ "hold", 0, FLAG(hold), .restart = 1 },
	{ "sync-dirs", 0, FLAG(sync_dirs), .restart = 1 },
	{ "check-address", 0, STR(check_address), .arg = "ADDR", .cmdline = 1 },
	{ "help", 0, K_HELP, .arg = NULL },
	{ "version", 0, K_VERSION, .arg = NULL },
};
enum { NOPTS = sizeof opts / sizeof opts[0] };

/* fail - format an error message; always NULL */
static void *fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void *fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return NULL;
}

/* clear_list - empty a K_LIST option (the command line replaces the
 * file's list) */
static void clear_list(struct config *cfg, const struct opt *o)
{
	size_t *n = (size_t *)((char *)cfg + o->count_off), i;
	void **array = (void **)((char *)cfg + o->off);

	if (o->strings)
		for (i = 0; i < *n; i++)
			free(((char **)*array)[i]);
	free(*array);
	*array = NULL;
	*n = 0;
}

/* set_value - apply one value of option o; 0, or -1 with msg set */
static int set_value(struct config *cfg, const struct opt *o, const char *v,
                     char *msg, size_t msglen)
{
	char *field = (char *)cfg + o->off, *copy;
	unsigned long long n;

	switch (o->kind) {
	case K_STR:
		if (o->check && o->check(v) < 0)
			break;
		if ((copy = strdup(v)) == NULL)
			goto oom;
		free(*(char **)field);
		*(char **)field = copy;
		return 0;
	case K_NUM:
		if (optval_number(v, o->min, o->max, &n) < 0) {
			snprintf(msg, msglen, "bad value '%s' for --%s (%llu..%llu)",
			         v, o->name, o->min, o->max);
			return -1;
		}
		if (o->size == sizeof(unsigned long long))
			*(unsigned long long *)field = n;
		else
			*(unsigned *)field = (unsigned)n;
		if (o->marks_per_ip)
			cfg->max_per_ip_set = 1;
		return 0;
	case K_FLAG:
		*(int *)field = 1;
		return 0;
	case K_LIST:
		if (o->add(cfg, v) == 0)
			return 0;
		if (o->want == NULL)
			goto oom;
		break;
	case K_SET:
		if (o->add(cfg, v) == 0)
			return 0;
		break;
	case K_HOST:
		if (*v == '\0' || strlen(v) >= sizeof cfg->hostname)
			break;
		strcpy(cfg->hostname, v);
		return 0;
	default:
		break;
	}
	snprintf(msg, msglen, "bad value '%s' for --%s (want %s)", v, o->name,
	         o->want ? o->want : "something else");
	return -1;
oom:
	snprintf(msg, msglen, "out of memory");
	return -1;
}

/* find - the table entry of a long name, or NULL */
static const struct opt *find(const char *name)
{
	size_t i;

	for (i = 0; i < NOPTS; i++)
		if (strcmp(opts[i].name, name) == 0)
			return &opts[i];
	return NULL;
}

/* options_restart_only - see options.h */
int options_restart_only(const char *name)
{
	const struct opt *o = find(name);

	return o != NULL && o->restart;
}

/* note - append a name to the space-separated list in changed */
static void note(char *changed, size_t len, const char *name)
{
	size_t n = strlen(changed);

	snprintf(changed + n, len - n, "%s%s", n ? " " : "", name);
}

/* options_keep_restart_only - see options.h; the lists among those
 * options hold plain structs (no pointers), so they compare and copy
 * whole */
int options_keep_restart_only(struct config *cfg, const struct config *running,
                              char *changed, size_t changedlen)
{
	size_t i;

	changed[0] = '\0';
	for (i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];
		char *f = (char *)cfg + o->off;
		const char *r = (const char *)running + o->off;

		if (!o->restart)
			continue;
		if (o->kind == K_STR) {
			char **mine = (char **)f;
			const char *was = *(char *const *)r;
			char *copy = NULL;

			if (*mine == was || (*mine && was && strcmp(*mine, was) == 0))
				continue;
			if (was && (copy = strdup(was)) == NULL)
				return -1;
			free(*mine);
			*mine = copy;
		} else if (o->kind == K_LIST) {
			size_t *n = (size_t *)((char *)cfg + o->count_off);
			size_t rn = *(const size_t *)((const char *)running + o->count_off);
			const void *ra = *(void *const *)r;
			void *copy;

			if (*n == rn && (rn == 0 || memcmp(*(void **)f, ra, rn * o->size) == 0))
				continue;
			if ((copy = malloc(rn * o->size + 1)) == NULL)
				return -1;
			if (rn)
				memcpy(copy, ra, rn * o->size);
			free(*(void **)f);
			*(void **)f = copy;
			*n = rn;
		} else {                  /* K_FLAG, K_NUM: plain values */
			if (memcmp(f, r, o->size) == 0)
				continue;
			memcpy(f, r, o->size);
		}
		note(changed, changedlen, o->name);
	}
	return 0;
}

/* usage_text, build_usage - the usage text, wrapped, made once */
static char usage_text[4096];
static pthread_once_t usage_once = PTHREAD_ONCE_INIT;

static void build_usage(void)
{
	size_t len, col, i;

	len = col = (size_t)snprintf(usage_text, sizeof usage_text, "usage: mta-smtpd");
	for (i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];
		char item[80];
		int n;

		if (o->kind == K_HELP)
			continue;
		if (o->letter)
			n = snprintf(item, sizeof item, "[-%c %s]", o->letter, o->arg);
		else if (o->arg)
			n = snprintf(item, sizeof item, "[--%s %s]", o->name, o->arg);
		else
			n = snprintf(item, sizeof item, "[--%s]", o->name);
		if (o->kind == K_LIST && o->add != optval_domains)
			n += snprintf(item + n, sizeof item - (size_t)n, "...");
		if (col + 1 + (size_t)n > 76) {
			len += (size_t)snprintf(usage_text + len, sizeof usage_text - len, "\n ");
			col = 1;
		}
		len += (size_t)snprintf(usage_text + len, sizeof usage_text - len, " %s", item);
		col += 1 + (size_t)n;
	}
	snprintf(usage_text + len, sizeof usage_text - len, "\nsee mta-smtpd(8)\n");
}

/* options_usage - see options.h */
const char *options_usage(void)
{
	pthread_once(&usage_once, build_usage);
	return usage_text;
}

/* set_defaults - every default in the table but the lists' */
static int set_defaults(struct config *cfg)
{
	char msg[200];
	size_t i;

	for (i = 0; i < NOPTS; i++)
		if (opts[i].dflt && opts[i].kind != K_LIST &&
		    set_value(cfg, &opts[i], opts[i].dflt, msg, sizeof msg) < 0)
			return -1;
	cfg->max_per_ip_set = 0;    /* the default binds relay clients not */
	return 0;
}

/* finish - the defaults that depend on what was given */
static int finish(struct config *cfg)
{
	char msg[200], words[200], *w, *save;
	size_t i;

	for (i = 0; i < NOPTS; i++) {
		const struct opt *o = &opts[i];

		if (o->kind != K_LIST || o->dflt == NULL ||
		    *(size_t *)((char *)cfg + o->count_off) != 0)
			continue;
		snprintf(words, sizeof words, "%s", o->dflt);
		for (w = strtok_r(words, " ", &save); w; w = strtok_r(NULL, " ", &save))
			if (set_value(cfg, o, w, msg, sizeof msg) < 0)
				return -1;
	}
	if (cfg->hostname[0] == '\0' &&
	    (gethostname(cfg->hostname, sizeof cfg->hostname - 1) < 0 || !cfg->hostname[0]))
		strcpy(cfg->hostname, "localhost");
	if (cfg->ndomains == 0 &&
	    (optval_domains(cfg, cfg->hostname) < 0 || optval_domains(cfg, "localhost") < 0))
		return -1;
	return 0;
}

/* trim - s without leading and trailing white space (in place) */
static char *trim(char *s)
{
	size_t n;

	while (isspace((unsigned char)*s))
		s++;
	n = strlen(s);
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* read_file - apply every "name value" line of path; 0, or -1 with err
 * "PATH:LINE: ..." */
static int read_file(struct config *cfg, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *line = NULL, msg[600];
	size_t cap = 0;
	unsigned lineno = 0;
	ssize_t got;
	int rc = 0;

	if (f == NULL) {
		fail(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (rc == 0 && (got = getline(&line, &cap, f)) >= 0) {
		char *name, *value;
		const struct opt *o;

		lineno++;
		if (strlen(line) != (size_t)got) {
			fail(err, errlen, "%s:%u: a NUL byte in the line", path, lineno);
			rc = -1;
			break;
		}
		name = trim(line);
		if (*name == '\0' || *name == '#')
			continue;
		for (value = name; *value && !isspace((unsigned char)*value); value++)
			;
		if (*value)
			*value++ = '\0';
		value = trim(value);
		o = find(name);
		if (o == NULL) {
			fail(err, errlen, "%s:%u: unknown option '%s'", path, lineno, name);
			rc = -1;
		} else if (o->kind == K_CONFIG || o->kind == K_HELP || o->kind == K_VERSION ||
		           o->cmdline) {
			fail(err, errlen, "%s:%u: '%s' is for the command line only", path,
			     lineno, name);
			rc = -1;
		} else if (o->kind == K_FLAG && *value) {
			fail(err, errlen, "%s:%u: '%s' takes no value", path, lineno, name);
			rc = -1;
		} else if (o->kind != K_FLAG && *value == '\0') {
			fail(err, errlen, "%s:%u: '%s' needs a value", path, lineno, name);
			rc = -1;
		} else if (set_value(cfg, o, value, msg, sizeof msg) < 0) {
			fail(err, errlen, "%s:%u: %s", path, lineno, msg);
			rc = -1;
		}
	}
	if (rc == 0 && ferror(f)) {
		fail(err, errlen, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	free(line);
	fclose(f);
	return rc;
}

/* one option from the command line, applied after the file */
struct given {
	const struct opt *o;
	const char *value;
};

/* options_load - see options.h */
struct config *options_load(int argc, char **argv, enum options_action *action,
                            char *err, size_t errlen)
{
	struct option longs[NOPTS + 1];
	char shorts[2 * NOPTS + 1], msg[600];
	struct given *given = calloc((size_t)argc + 1, sizeof *given);
	unsigned char replaced[NOPTS];
	const char *file = NULL;
	struct config *cfg = NULL;
	size_t i, ngiven = 0, ns = 0;
	int c;

	*action = OPTIONS_RUN;
	if (given == NULL)
		return fail(err, errlen, "out of memory");
	memset(longs, 0, sizeof longs);
	memset(replaced, 0, sizeof replaced);
	for (i = 0; i < NOPTS; i++) {
		longs[i].name = opts[i].name;
		longs[i].has_arg = opts[i].arg ? required_argument : no_argument;
		longs[i].val = opts[i].letter ? opts[i].letter : 256 + (int)i;
		if (opts[i].letter) {
			shorts[ns++] = (char)opts[i].letter;
			if (opts[i].arg)
				shorts[ns++] = ':';
		}
	}
	shorts[ns] = '\0';
	optind = 0;     /* glibc: start afresh (a reload parses argv again) */
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		const struct opt *o = NULL;

		for (i = 0; i < NOPTS && o == NULL; i++)
			if (longs[i].val == c)
				o = &opts[i];
		if (o == NULL || o->kind == K_HELP) {
			fail(err, errlen, "%s", options_usage());
			goto out;
		}
		if (o->kind == K_VERSION) {
			*action = OPTIONS_VERSION;
			fail(err, errlen, "--version");
			goto out;
		}
		if (o->kind == K_CONFIG)
			file = optarg;
		else
			given[ngiven++] = (struct given){ o, optarg };
	}
	if (optind < argc) {
		fail(err, errlen, "unexpected argument '%s'\n%s", argv[optind], options_usage());
		goto out;
	}
	if ((cfg = calloc(1, sizeof *cfg)) == NULL || set_defaults(cfg) < 0) {
		fail(err, errlen, "out of memory");
		goto bad;
	}
	if (file && read_file(cfg, file, err, errlen) < 0)
		goto bad;
	for (i = 0; i < ngiven; i++) {
		const struct opt *o = given[i].o;
		size_t k = (size_t)(o - opts);

		if (o->kind == K_LIST && !replaced[k]) {
			clear_list(cfg, o);
			replaced[k] = 1;
		}
		if (set_value(cfg, o, given[i].value ? given[i].value : "", msg, sizeof msg) < 0) {
			fail(err, errlen, "%s", msg);
			goto bad;
		}
	}
	if (finish(cfg) < 0) {
		fail(err, errlen, "out of memory");
		goto bad;
	}
	atomic_init(&cfg->refs, 1);
	goto out;
bad:
	if (cfg)
		config_free(cfg);
	cfg = NULL;
out:
	free(given);
	return cfg;
}
