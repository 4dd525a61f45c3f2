/* test_options - the option table (options.h): every option from the
 * command line and from a --config file lands in its field, the command
 * line wins (a repeatable option's list is replaced), file errors name
 * the file and line; and the snapshot's references (config.h). */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "options.h"

static char err[1024];
static char path[64];

/* load - options_load() of the NULL-terminated arguments after argv[0] */
static struct config *load(const char *first, ...)
{
	char *argv[128];
	int argc = 0;
	enum options_action action;
	va_list ap;
	const char *a;

	argv[argc++] = (char *)(uintptr_t)"mta-smtpd";
	va_start(ap, first);
	for (a = first; a != NULL && argc < 127; a = va_arg(ap, const char *))
		argv[argc++] = strdup(a);   /* getopt permutes: our own copies */
	va_end(ap);
	argv[argc] = NULL;
	err[0] = '\0';
	struct config *c = options_load(argc, argv, &action, err, sizeof err);
	while (--argc > 0)
		free(argv[argc]);
	return c;
}

/* file - a config file with this text; its path */
static const char *file(const char *text)
{
	FILE *f;
	int fd;

	snprintf(path, sizeof path, "/tmp/mta-options.XXXXXX");
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	f = fdopen(fd, "w");
	fputs(text, f);
	fclose(f);
	return path;
}

static void drop(void)
{
	if (path[0])
		unlink(path);
	path[0] = '\0';
}

TestSuite(options, .fini = drop);

/* every option but the flags and help/version/config, and values none of
 * them has by default */
static const char every_file[] =
	"# every option\n"
	"queue /q\n"
	"listen 127.0.0.2:2600\n"
	"listen [::1]:2601\n"
	"domains A.example,b.example\n"
	"mailroot /m\n"
	"mbox\n"
	"mbox-lock-wait 7\n"
	"system-users\n"
	"retry 11\n"
	"attempts 3\n"
	"max-queue-time 1000\n"
	"route x.example=relay.example:2525\n"
	"route *=[::1]:26 tls=verify\n"
	"smtp-port 2526\n"
	"dns 127.0.0.9:5353\n"
	"relay-from 10.0.0.0/8\n"
	"max-clients 12\n"
	"max-per-ip 13\n"
	"max-deliveries 14\n"
	"max-per-dest 15\n"
	"max-size 16000\n"
	"max-rcpt 17\n"
	"max-line 1018\n"
	"max-errors 19\n"
	"soft-errors 20\n"
	"error-delay 21\n"
	"max-junk 22\n"
	"max-received 23\n"
	"timeout 24\n"
	"smtp-timeout 25\n"
	"data-timeout 26\n"
	"session-timeout 27\n"
	"lmtp /run/dovecot/lmtp\n"
	"max-lmtp 28\n"
	"   hostname   mx.example   \n"
	"\n"
	"log /l\n"
	"user nobody\n"
	"hold\n";

/* check_every - the values of every_file (or the same on the command line) */
static void check_every(const struct config *c)
{
	cr_assert_str_eq(c->queue, "/q");
	cr_assert_eq(c->nlisten, 2);
	cr_assert_str_eq(c->listen[0].text, "127.0.0.2:2600");
	cr_assert_str_eq(c->listen[1].text, "[::1]:2601");
	cr_assert_eq(c->ndomains, 2);
	cr_assert_str_eq(c->domains[0], "a.example", "lower-cased");
	cr_assert_str_eq(c->domains[1], "b.example");
	cr_assert_str_eq(c->mailroot, "/m");
	cr_assert_eq(c->mbox, 1);
	cr_assert_eq(c->mbox_lock_wait, 7);
	cr_assert_eq(c->system_users, 1);
	cr_assert_eq(c->retry, 11);
	cr_assert_str_eq(c->lmtp, "/run/dovecot/lmtp");
	cr_assert_eq(c->max_lmtp, 28);
	cr_assert_eq(c->attempts, 3);
	cr_assert_eq(c->max_queue_time, 1000);
	cr_assert_eq(c->nroutes, 2);
	cr_assert_str_eq(c->routes[0].domain, "x.example");
	cr_assert_str_eq(c->routes[0].host, "relay.example");
	cr_assert_eq(c->routes[0].port, 2525);
	cr_assert_str_eq(c->routes[1].host, "[::1]");
	cr_assert_eq(c->routes[1].port, 26);
	cr_assert(!c->routes[0].has_tls && c->routes[1].has_tls);
	cr_assert_eq(c->routes[1].tls, TLS_POLICY_VERIFY);
	cr_assert_eq(c->smtp_port, 2526);
	cr_assert_str_eq(c->dns, "127.0.0.9:5353");
	cr_assert_eq(c->nrelay, 1);
	cr_assert_eq(c->max_clients, 12);
	cr_assert_eq(c->max_per_ip, 13);
	cr_assert_eq(c->max_per_ip_set, 1, "given: it binds relay clients too");
	cr_assert_eq(c->max_deliveries, 14);
	cr_assert_eq(c->max_per_dest, 15);
	cr_assert_eq(c->max_size, 16000);
	cr_assert_eq(c->max_rcpt, 17);
	cr_assert_eq(c->max_line, 1018);
	cr_assert_eq(c->max_errors, 19);
	cr_assert_eq(c->soft_errors, 20);
	cr_assert_eq(c->error_delay, 21);
	cr_assert_eq(c->max_junk, 22);
	cr_assert_eq(c->max_received, 23);
	cr_assert_eq(c->timeout, 24);
	cr_assert_eq(c->smtp_timeout, 25);
	cr_assert_eq(c->data_timeout, 26);
	cr_assert_eq(c->session_timeout, 27);
	cr_assert_str_eq(c->hostname, "mx.example");
	cr_assert_str_eq(c->log, "/l");
	cr_assert_str_eq(c->user, "nobody");
	cr_assert_eq(c->hold, 1);
}

Test(options, defaults)
{
	struct config *c = load(NULL);

	cr_assert_not_null(c, "%s", err);
	cr_assert_str_eq(c->queue, "./queue");
	cr_assert_str_eq(c->mailroot, "./mail");
	cr_assert_null(c->log);
	cr_assert_null(c->user);
	cr_assert_null(c->dns);
	cr_assert_eq(c->nlisten, 1);
	cr_assert_str_eq(c->listen[0].text, "127.0.0.1:2525");
	cr_assert_eq(c->nrelay, 2, "loopback, both families");
	cr_assert_eq(c->ndomains, 2, "host name and localhost");
	cr_assert_str_eq(c->domains[1], "localhost");
	cr_assert_eq(c->retry, 300);
	cr_assert_eq(c->attempts, 2);
	cr_assert_eq(c->max_queue_time, 432000);
	cr_assert_eq(c->smtp_port, 25);
	cr_assert_eq(c->max_clients, 1000);
	cr_assert_eq(c->max_per_ip, 50);
	cr_assert_eq(c->max_per_ip_set, 0, "the default binds relay clients not");
	cr_assert_eq(c->max_deliveries, 100);
	cr_assert_eq(c->max_per_dest, 20);
	cr_assert_eq(c->max_lmtp, 10);
	cr_assert_null(c->lmtp, "no --lmtp: Maildir/mbox here");
	cr_assert_eq(c->mbox_lock_wait, 5);
	cr_assert_eq(c->max_size, 33554432);
	cr_assert_eq(c->max_rcpt, 1000);
	cr_assert_eq(c->max_line, 1000);
	cr_assert_eq(c->max_errors, 20);
	cr_assert_eq(c->soft_errors, 10);
	cr_assert_eq(c->error_delay, 100);
	cr_assert_eq(c->max_junk, 100);
	cr_assert_eq(c->session_timeout, 3600);
	cr_assert_eq(c->max_received, 100);
	cr_assert_eq(c->timeout, 300);
	cr_assert_eq(c->smtp_timeout, 0);
	cr_assert_eq(c->data_timeout, 1200);
	cr_assert_eq(c->mbox + c->system_users + c->hold, 0);
	config_free(c);
}

Test(options, every_option_from_the_file)
{
	struct config *c = load("--config", file(every_file), NULL);

	cr_assert_not_null(c, "%s", err);
	check_every(c);
	config_free(c);
}

Test(options, every_option_from_the_command_line)
{
	struct config *c = load("-q", "/q", "-l", "127.0.0.2:2600", "--listen", "[::1]:2601",
		"-d", "A.example,b.example", "-m", "/m", "--mbox", "--mbox-lock-wait", "7",
		"--system-users", "-r", "11", "-a", "3", "--max-queue-time", "1000",
		"--route", "x.example=relay.example:2525", "--route", "*=[::1]:26 tls=verify",
		"--smtp-port", "2526", "--dns", "127.0.0.9:5353", "--relay-from", "10.0.0.0/8",
		"-c", "12", "--max-per-ip", "13", "--max-deliveries", "14",
		"--max-per-dest", "15", "--max-size", "16000", "--max-rcpt", "17",
		"--max-line", "1018", "--max-errors", "19", "--soft-errors", "20",
		"--error-delay", "21", "--max-junk", "22", "--max-received", "23",
		"--timeout", "24", "--smtp-timeout", "25", "--data-timeout", "26",
		"--session-timeout", "27", "--lmtp", "/run/dovecot/lmtp",
		"--max-lmtp", "28", "--hostname", "mx.example", "-L", "/l",
		"--user", "nobody", "--hold", NULL);

	cr_assert_not_null(c, "%s", err);
	check_every(c);
	config_free(c);
}

Test(options, the_command_line_wins_and_replaces_lists)
{
	struct config *c = load("--config", file(every_file), "--max-size", "99",
	                        "-l", "127.0.0.3:2700", "--relay-from", "192.0.2.0/24",
	                        "--relay-from", "198.51.100.0/24", NULL);

	cr_assert_not_null(c, "%s", err);
	cr_assert_eq(c->max_size, 99, "the command line's value");
	cr_assert_eq(c->nlisten, 1, "the command line's list replaces the file's");
	cr_assert_str_eq(c->listen[0].text, "127.0.0.3:2700");
	cr_assert_eq(c->nrelay, 2, "both command-line values, none of the file's");
	cr_assert_eq(c->nroutes, 2, "lists not given on the command line stay");
	cr_assert_eq(c->max_rcpt, 17, "the file's value where the command line says nothing");
	config_free(c);
}

Test(options, max_per_ip_default_stays_relay_exempt_with_a_file)
{
	struct config *c = load("--config", file("max-clients 5\n"), NULL);

	cr_assert_not_null(c, "%s", err);
	cr_assert_eq(c->max_per_ip_set, 0);
	config_free(c);
}

/* bad_file - loading text fails with this message */
static void bad_file(const char *text, const char *want)
{
	char expect[512];
	struct config *c = load("--config", file(text), NULL);

	cr_assert_null(c, "%s loaded", text);
	snprintf(expect, sizeof expect, "%s:%s", path, want);
	cr_assert_str_eq(err, expect);
	drop();
}

#define ROUTE_WANT "DOMAIN=HOST[:PORT] [tls=MODE] [auth=FILE [auth-insecure]]; " \
	"auth= wants tls=verify or auth-insecure"

Test(options, file_errors_name_file_and_line)
{
	bad_file("# ok\nqueue /q\nbogus 1\n", "3: unknown option 'bogus'");
	bad_file("\n\nmax-size lots\n", "3: bad value 'lots' for --max-size (1..1099511627776)");
	bad_file("max-line 10\n", "1: bad value '10' for --max-line (512..1048576)");
	bad_file("listen 127.0.0.1:99999\n",
	         "1: bad value '127.0.0.1:99999' for --listen (want ADDR:PORT or [IPv6]:PORT)");
	bad_file("retry 1\nroute nohost\n",
	         "2: bad value 'nohost' for --route (want " ROUTE_WANT ")");
	bad_file("route a.example=h:25 tls=maybe\n",
	         "1: bad value 'a.example=h:25 tls=maybe' for --route (want " ROUTE_WANT ")");
	bad_file("route a.example=h:25 tls=may tls=verify\n",
	         "1: bad value 'a.example=h:25 tls=may tls=verify' for --route (want " ROUTE_WANT ")");
	bad_file("route a.example=h:25 verify\n",
	         "1: bad value 'a.example=h:25 verify' for --route (want " ROUTE_WANT ")");
	/* credentials only where the certificate is verified, unless asked */
	bad_file("route *=h:587 auth=/etc/c tls=encrypt\n",
	         "1: bad value '*=h:587 auth=/etc/c tls=encrypt' for --route (want "
	         ROUTE_WANT ")");
	bad_file("route *=h:587 tls=may auth-insecure\n",
	         "1: bad value '*=h:587 tls=may auth-insecure' for --route (want "
	         ROUTE_WANT ")");
	bad_file("route *=h:587 auth=/a auth=/b\n",
	         "1: bad value '*=h:587 auth=/a auth=/b' for --route (want "
	         ROUTE_WANT ")");
	bad_file("tls-client always\n",
	         "1: bad value 'always' for --tls-client (want none, may, encrypt or verify)");
	bad_file("mta-sts off\n", "1: bad value 'off' for --mta-sts (want yes or no)");
	bad_file("relay-from 10.0.0.0/99\n",
	         "1: bad value '10.0.0.0/99' for --relay-from (want ADDR/BITS)");
	bad_file("dns dns.example\n",
	         "1: bad value 'dns.example' for --dns (want an IPv4 ADDR[:PORT])");
	bad_file("mbox yes\n", "1: 'mbox' takes no value");
	bad_file("timeout\n", "1: 'timeout' needs a value");
	bad_file("config /etc/other\n", "1: 'config' is for the command line only");
	bad_file("version\n", "1: 'version' is for the command line only");
	bad_file("-q /q\n", "1: unknown option '-q'");
	bad_file("--queue /q\n", "1: unknown option '--queue'");
}

Test(options, a_nul_byte_is_an_error)
{
	static const char text[] = "retry 1\nmax-size 1\0000\n";
	FILE *f = fopen(file(""), "w");

	cr_assert_not_null(f);
	fwrite(text, 1, sizeof text - 1, f);
	fclose(f);
	cr_assert_null(load("--config", path, NULL), "a value cut at the NUL was taken");
	cr_assert(strstr(err, ":2: a NUL byte in the line") != NULL, "%s", err);
}

Test(options, missing_file)
{
	struct config *c = load("--config", "/nonexistent/mta.conf", NULL);

	cr_assert_null(c);
	cr_assert_str_eq(err, "/nonexistent/mta.conf: No such file or directory");
}

Test(options, command_line_errors)
{
	cr_assert_null(load("--max-size", "lots", NULL));
	cr_assert_str_eq(err, "bad value 'lots' for --max-size (1..1099511627776)");
	cr_assert_null(load("--hostname", "", NULL));
	cr_assert_null(load("stray", NULL));
	cr_assert(strstr(err, "unexpected argument 'stray'") != NULL, "%s", err);
}

Test(options, version)
{
	char *argv[] = { (char *)(uintptr_t)"mta-smtpd", (char *)(uintptr_t)"--version", NULL };
	enum options_action action;

	cr_assert_null(options_load(2, argv, &action, err, sizeof err));
	cr_assert_eq(action, OPTIONS_VERSION);
}

Test(options, usage_names_every_option)
{
	static const char *const names[] = {
		"--config FILE", "-q DIR", "-l ADDR:PORT]...", "-d DOMAINS", "-m DIR",
		"--mbox]", "--mbox-lock-wait", "--system-users", "-r SECONDS", "-a N",
		"--max-queue-time", "--route", "--smtp-port", "--dns", "--relay-from",
		"-c N", "--max-per-ip", "--max-deliveries", "--max-per-dest",
		"--max-size", "--max-rcpt", "--max-line", "--max-errors", "--soft-errors",
		"--error-delay", "--max-junk", "--max-received", "--timeout",
		"--smtp-timeout", "--data-timeout", "--session-timeout", "--hostname",
		"-L FILE", "--user", "--hold", "--version", "--smtps ADDR:PORT]...",
		"--tls-cert FILE]...", "--tls-key FILE]...", "--tls-ca FILE]",
		"--tls-client MODE]", "--mta-sts yes|no]"
	};
	const char *u = options_usage();
	size_t i;

	cr_assert(strncmp(u, "usage: mta-smtpd", 16) == 0);
	for (i = 0; i < sizeof names / sizeof names[0]; i++)
		cr_assert(strstr(u, names[i]) != NULL, "usage lacks %s", names[i]);
	cr_assert(options_restart_only("smtps") && !options_restart_only("tls-cert"));
	cr_assert(options_restart_only("listen") && options_restart_only("queue") &&
	          options_restart_only("user") && !options_restart_only("domains"));
}

/* The client's TLS: may by default, --tls-client and --tls-ca from the
 * file or the command line; a route's own tls= (with or without a port,
 * an IPv6 host) */
Test(options, tls_client_options)
{
	struct config *c = load(NULL);
	struct config *d = load("--config", file("tls-client verify\ntls-ca /ca.pem\n"),
	                        "--tls-client", "encrypt",
	                        "--route", "a.example=smart.example tls=none",
	                        "--route", "b.example=[::1]:2525  tls=verify ",
	                        "--route", "c.example=h.example:26", NULL);

	cr_assert_not_null(c, "%s", err);
	cr_assert_eq(c->tls_client_policy, TLS_POLICY_MAY);
	cr_assert_null(c->tls_ca);
	cr_assert(c->mta_sts, "MTA-STS on by default");
	cr_assert_not_null(d, "%s", err);
	cr_assert_eq(d->tls_client_policy, TLS_POLICY_ENCRYPT, "the command line wins");
	cr_assert_str_eq(d->tls_ca, "/ca.pem");
	cr_assert_eq(d->nroutes, 3);
	cr_assert_str_eq(d->routes[0].host, "smart.example");
	cr_assert_eq(d->routes[0].port, 0);
	cr_assert(d->routes[0].has_tls && d->routes[0].tls == TLS_POLICY_NONE);
	cr_assert_str_eq(d->routes[1].host, "[::1]");
	cr_assert_eq(d->routes[1].port, 2525);
	cr_assert(d->routes[1].has_tls && d->routes[1].tls == TLS_POLICY_VERIFY);
	cr_assert_str_eq(d->routes[2].host, "h.example");
	cr_assert_eq(d->routes[2].port, 26);
	cr_assert(!d->routes[2].has_tls);
	config_free(c);
	config_free(d);
}

/* --mta-sts: yes by default, no from the file, yes again on the command
 * line */
Test(options, mta_sts_option)
{
	struct config *c = load("--config", file("mta-sts no\n"), NULL);
	struct config *d = load("--config", file("mta-sts no\n"), "--mta-sts", "yes", NULL);

	cr_assert_not_null(c, "%s", err);
	cr_assert_not_null(d, "%s", err);
	cr_expect_eq(c->mta_sts, 0);
	cr_expect_eq(d->mta_sts, 1, "the command line wins");
	config_free(c);
	config_free(d);
}

/* The TLS options: pairs of files in order, --smtps listeners; the
 * command line's lists replace the file's (the strings freed: ASan);
 * --smtps needs a restart, the certificates do not.  The files are only
 * read by config_load_tls (t/unit/test_tls.c, t/90-tls-server.t). */
Test(options, tls_options)
{
	static const char tls_file[] =
		"tls-cert /etc/ec.crt\ntls-key /etc/ec.key\n"
		"tls-cert /etc/rsa.crt\ntls-key /etc/rsa.key\n"
		"smtps 127.0.0.2:465\nsmtps [::1]:465\n";
	struct config *c = load("--config", file(tls_file), NULL);
	struct config *d = load("--config", file(tls_file), "--tls-cert", "/x.crt",
	                        "--tls-key", "/x.key", "--smtps", "127.0.0.3:465", NULL);
	char changed[200];

	cr_assert_not_null(c, "%s", err);
	cr_assert_not_null(d, "%s", err);
	cr_assert_eq(c->ntls_cert, 2);
	cr_assert_eq(c->ntls_key, 2);
	cr_assert_str_eq(c->tls_cert[0], "/etc/ec.crt");
	cr_assert_str_eq(c->tls_key[1], "/etc/rsa.key");
	cr_assert_eq(c->nsmtps, 2);
	cr_assert_str_eq(c->smtps[1].text, "[::1]:465");
	cr_assert_null(c->tls_server, "no context before config_load_tls");
	cr_assert_eq(d->ntls_cert, 1);
	cr_assert_str_eq(d->tls_cert[0], "/x.crt");
	cr_assert_eq(d->nsmtps, 1);
	cr_assert_eq(options_keep_restart_only(d, c, changed, sizeof changed), 0);
	cr_assert_str_eq(changed, "smtps");
	cr_assert_eq(d->nsmtps, 2, "the running listeners stay");
	cr_assert_str_eq(d->tls_cert[0], "/x.crt", "certificates change at reload");
	cr_assert_null(load("--smtps", "nowhere", NULL));
	cr_assert(strstr(err, "--smtps"), "%s", err);
	cr_assert_null(load("--tls-cert", "", NULL));
	config_free(c);
	config_free(d);
}

Test(options, restart_only_settings_keep_the_running_values)
{
	struct config *running = load("-q", "/q1", "-l", "127.0.0.2:2600", "-d", "a.example", NULL);
	struct config *next = load("-q", "/q2", "-l", "127.0.0.2:2601", "--user", "nobody",
	                           "--hold", "-d", "b.example", NULL);
	char changed[200];

	cr_assert_not_null(running);
	cr_assert_not_null(next);
	cr_assert_eq(options_keep_restart_only(next, running, changed, sizeof changed), 0);
	cr_assert_str_eq(changed, "queue listen user hold");
	cr_assert_str_eq(next->queue, "/q1");
	cr_assert_str_eq(next->listen[0].text, "127.0.0.2:2600");
	cr_assert_null(next->user);
	cr_assert_eq(next->hold, 0);
	cr_assert_str_eq(next->domains[0], "b.example", "the rest is the new file's");
	cr_assert_eq(options_keep_restart_only(next, running, changed, sizeof changed), 0);
	cr_assert_str_eq(changed, "", "nothing differs any more");
	config_free(running);
	config_free(next);
}

Test(options, snapshots_live_while_held)
{
	struct config *a = load("-d", "a.example", NULL);
	struct config *b = load("-d", "b.example", NULL);
	const struct config *held, *now;

	config_publish(a);
	held = config_get();
	cr_assert_eq(held, a);
	config_publish(b);           /* a: only the holder's reference left */
	cr_assert_str_eq(held->domains[0], "a.example", "still readable");
	now = config_get();
	cr_assert_eq(now, b);
	cr_assert(config_is_local(now, "B.example"));
	config_put(held);            /* frees a (ASan: no use after free above) */
	config_put(now);
}

/* --syslog: a flag, from the file or the command line, restart only */
Test(options, syslog_is_a_flag_that_needs_a_restart)
{
	static char *argv[] = { "mta-smtpd", "--syslog", NULL };
	enum options_action a;
	char why[256];
	struct config *c = options_load(2, argv, &a, why, sizeof why);

	cr_assert_not_null(c, "%s", why);
	cr_assert_eq(c->syslog, 1);
	config_free(c);
	cr_assert(strstr(options_usage(), "--syslog") != NULL);
	cr_assert(options_restart_only("syslog"));
}

Test(options, address_tables)
{
	struct config *c = load("--config", file("aliases /etc/a\nvirtual /etc/v\n"
	                        "local-users /etc/u\nroot-alias admin@example.org\n"
	                        "recipient-delimiter -\n"), NULL);

	cr_assert_not_null(c, "%s", err);
	cr_assert_str_eq(c->aliases, "/etc/a");
	cr_assert_str_eq(c->virtual, "/etc/v");
	cr_assert_str_eq(c->local_users, "/etc/u");
	cr_assert_str_eq(c->root_alias, "admin@example.org");
	cr_assert_str_eq(c->recipient_delimiter, "-");
	cr_assert_null(c->check_address);
	cr_assert_null(c->tables, "the tables are read by policy_load_tables");
	config_free(c);
	c = load("--recipient-delimiter", "", "--check-address", "a@b.example", NULL);
	cr_assert_not_null(c, "%s", err);
	cr_assert_str_eq(c->recipient_delimiter, "", "empty: no subaddresses");
	cr_assert_str_eq(c->check_address, "a@b.example");
	config_free(c);
	c = load(NULL);
	cr_assert_str_eq(c->recipient_delimiter, "+", "the default");
	config_free(c);
	bad_file("recipient-delimiter ++\n", "1: bad value '++' for --recipient-delimiter "
	         "(want one character, or empty)");
	bad_file("recipient-delimiter @\n", "1: bad value '@' for --recipient-delimiter "
	         "(want one character, or empty)");
	bad_file("root-alias root\n", "1: bad value 'root' for --root-alias "
	         "(want an address user@domain)");
	bad_file("check-address a@b.example\n", "1: 'check-address' is for the command line only");
}

/* auth=FILE: verify unless tls= says otherwise; a weaker tls= only with
 * auth-insecure */
Test(options, route_auth)
{
	struct config *c = load("--route", "*=smart.example:587 auth=/etc/mta/smart",
	                        "--route", "a.example=h tls=none auth=/x auth-insecure",
	                        "--route", "b.example=h auth=/y tls=verify", NULL);

	cr_assert_not_null(c, "%s", err);
	cr_assert_str_eq(c->routes[0].auth_file, "/etc/mta/smart");
	cr_assert(c->routes[0].has_tls);
	cr_assert_eq(c->routes[0].tls, TLS_POLICY_VERIFY);
	cr_assert_eq(c->routes[0].auth_insecure, 0);
	cr_assert_str_eq(c->routes[1].auth_file, "/x");
	cr_assert_eq(c->routes[1].tls, TLS_POLICY_NONE);
	cr_assert_eq(c->routes[1].auth_insecure, 1);
	cr_assert_eq(c->routes[2].tls, TLS_POLICY_VERIFY);
	cr_assert_str_eq(c->routes[0].auth_user, "", "read later, by route_auth");
	drop();
}
