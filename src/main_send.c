/* main_send.c - mta-send(1): options, the choice of mode, main().  The
 * modes themselves are send_inject.c, send_gun.c and send_compat.c
 * (send.h).  Called as mailq it is -bp, as newaliases -bi.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "fromfield.h"
#include "msghdr.h"
#include "send.h"
#include "smtp_client.h"
#include "tls.h"

static const char usage_text[] =
"usage: mta-send [-s HOST:PORT] [-C FILE] [-f SENDER] [-F NAME] [-t] [-i]\n"
"                [-N DSN] [-R RET] [-V ENVID] [--tls] [RCPT...] < message\n"
"       mta-send [-C FILE] -bs | -bp | -q | -bi\n"
"       mta-send [-s HOST:PORT] [-c SESSIONS] [-n REPEAT] [-f SENDER]\n"
"                [--rcpt ADDR]... FILE...\n"
"options: -s/--server HOST:PORT (default $MTA_SERVER; without either one\n"
"  message goes into the queue's maildrop/, -bs and the gun use the\n"
"  configuration file's listen address or 127.0.0.1:2525)\n"
"  -f/--from SENDER  -F NAME  -t  -i  -o OPT  -c/--sessions N  -n/--repeat N\n"
"  --rcpt ADDR  --threads N  -T/--timeout SECONDS  --helo NAME  --gun\n"
"  --tls  --starttls  --per-connection N  --connect-only  --inject  --quiet\n"
"  --auth-user LOGIN [--auth-password-file FILE]  --tls-ca FILE\n"
"  -C/--config FILE  --help; see mta-send(1)\n";

/* usage - the synopsis on stderr, exit EX_USAGE */
static void usage(const char *why)
{
	if (why)
		send_say("%s", why);
	fputs(usage_text, stderr);
	exit(EX_USAGE);
}

/* number - a positive integer option value, or usage() */
static unsigned long number(const char *s, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > UINT_MAX / 2) {
		send_say("bad %s: %s", what, s);
		usage(NULL);
	}
	return v;
}

/* looks_like_file - an operand that names a file, not a recipient */
static int looks_like_file(const char *s)
{
	struct stat st;

	return strchr(s, '@') == NULL && stat(s, &st) == 0;
}

/* add_rcpt - the addresses in arg into l: how many arg held, or -1 */
static int add_rcpt(struct addrlist *l, const char *arg)
{
	struct addrlist one;
	size_t i;
	int n;

	addrlist_init(&one);
	n = msg_parse_addresses(arg, strlen(arg), &one);
	for (i = 0; n > 0 && i < one.n; i++)
		if (addrlist_add(l, one.v[i], strlen(one.v[i])) < 0)
			n = -1;
	addrlist_free(&one);
	return n;
}

/* parse_sender - the -f argument ("addr", "<addr>", "Name <addr>", or
 * "" and "<>" for the null sender) as the address alone in buf, or
 * usage() */
static const char *parse_sender(const char *arg, char *buf, size_t size)
{
	struct addrlist one, dropped;
	int ok;

	if (arg[0] == '\0' || strcmp(arg, "<>") == 0)
		return "";
	addrlist_init(&one);
	addrlist_init(&dropped);
	if (msg_parse_addresses_all(arg, strlen(arg), &one, &dropped) < 0) {
		send_say("out of memory");
		exit(EX_OSERR);
	}
	ok = one.n == 1 && dropped.n == 0 && strlen(one.v[0]) < size;
	if (ok)
		strcpy(buf, one.v[0]);
	addrlist_free(&one);
	addrlist_free(&dropped);
	if (!ok) {
		send_say("bad sender address (one address, ASCII, at most %d "
		         "octets): %s", MSG_ADDR_MAX, arg);
		usage(NULL);
	}
	return buf;
}

/* parse_server - HOST:PORT into o */
static void parse_server(struct send_opts *o, const char *s)
{
	if (smtp_parse_hostport(s, "2525", o->host, sizeof o->host, o->port,
	                        sizeof o->port) < 0) {
		send_say("bad server address: %s", s);
		usage(NULL);
	}
}

/* the sendmail modes besides sending one message (-b, -q, -I) */
enum bmode { B_SEND, B_SMTP, B_LIST, B_FLUSH, B_ALIASES };

/* set_mode - one of -bs, -bp, -q, -bi at a time */
static void set_mode(enum bmode *m, enum bmode want)
{
	if (*m != B_SEND && *m != want)
		usage("one of -bm, -bs, -bp, -bi and -q at a time");
	*m = want;
}

/* b_mode - the -b argument */
static enum bmode b_mode(const char *arg)
{
	if (strcmp(arg, "m") == 0)
		return B_SEND;
	if (strcmp(arg, "s") == 0)
		return B_SMTP;
	if (strcmp(arg, "p") == 0)
		return B_LIST;
	if (strcmp(arg, "i") == 0)
		return B_ALIASES;
	usage("only -bm, -bs, -bp and -bi are supported");
	return B_SEND;
}

/* is_number - all digits, at least one */
static int is_number(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

/* main - parse the options, choose the mode, run it */
int main(int argc, char **argv)
{
	enum { O_RCPT = 256, O_HELO, O_GUN, O_INJECT, O_QUIET, O_HELP,
	       O_THREADS, O_TLS, O_STARTTLS, O_PER_CONN, O_CONNECT_ONLY, O_CONFIG,
	       O_AUTH_USER, O_AUTH_PWFILE, O_AUTH_PW, O_TLS_CA };
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "from", required_argument, NULL, 'f' },
		{ "sessions", required_argument, NULL, 'c' },
		{ "repeat", required_argument, NULL, 'n' },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "timeout", required_argument, NULL, 'T' },
		{ "rcpt", required_argument, NULL, O_RCPT },
		{ "helo", required_argument, NULL, O_HELO },
		{ "gun", no_argument, NULL, O_GUN },
		{ "tls", no_argument, NULL, O_TLS },
		{ "starttls", no_argument, NULL, O_STARTTLS },
		{ "per-connection", required_argument, NULL, O_PER_CONN },
		{ "connect-only", no_argument, NULL, O_CONNECT_ONLY },
		{ "inject", no_argument, NULL, O_INJECT },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "help", no_argument, NULL, O_HELP },
		{ "config", required_argument, NULL, O_CONFIG },
		{ "auth-user", required_argument, NULL, O_AUTH_USER },
		{ "auth-password-file", required_argument, NULL, O_AUTH_PWFILE },
		/* named only to be refused: getopt_long would take it for an
		 * abbreviation of --auth-password-file, the password for a
		 * file name, there for ps to show */
		{ "auth-password", required_argument, NULL, O_AUTH_PW },
		{ "tls-ca", required_argument, NULL, O_TLS_CA },
		{ NULL, 0, NULL, 0 }
	};
	struct send_opts o;
	static char sender[MSG_ADDR_MAX + 1];
	const char *server = getenv("MTA_SERVER"), *config = NULL, *me;
	const char *pwfile = NULL;
	enum bmode mode = B_SEND;
	int ch, i, nfiles = 0, ex, server_given = 0, first;
	unsigned long t;

	if (tls_library_init() < 0) {
		fprintf(stderr, "mta-send: OpenSSL cannot be initialised\n");
		return EX_OSERR;
	}
	memset(&o, 0, sizeof o);
	o.sessions = 1;
	o.repeat = 1;
	smtp_timeouts_default(&o.to);
	addrlist_init(&o.rcpt);
	signal(SIGPIPE, SIG_IGN);
	me = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	if (strcmp(me, "mailq") == 0)
		mode = B_LIST;
	else if (strcmp(me, "newaliases") == 0)
		mode = B_ALIASES;
	if (server && *server) {
		parse_server(&o, server);
		server_given = 1;
	} else {
		parse_server(&o, "127.0.0.1:2525");
	}
	while ((ch = getopt_long(argc, argv,
	                         ":s:f:r:tio:c:n:T:F:B:N:R:V:b:vmUO:C:L:X:q::I",
	                         longopts, NULL)) != -1) {
		switch (ch) {
		case 's': parse_server(&o, optarg); server_given = 1; break;
		case 'C': case O_CONFIG: config = optarg; break;
		case 'f': case 'r':
			o.sender = parse_sender(optarg, sender, sizeof sender);
			break;
		case 'F':
			if (!fromfield_name_ok(optarg)) {
				send_say("bad full name (-F): UTF-8 without control "
				         "characters, at most %d octets",
				         FROMFIELD_NAME_MAX);
				usage(NULL);
			}
			o.fullname = optarg;
			o.sendmail_opts = 1;
			break;
		case 't': o.tflag = 1; break;
		case 'c': o.sessions = number(optarg, "session count");
		          o.gun_opts = 1; break;
		case 'n':
			/* the gun's -n REPEAT, or sendmail's -n (no aliasing:
			 * ignored), which takes no value: what follows a
			 * sendmail -n is given back to the parser */
			if (is_number(optarg)) {
				o.repeat = number(optarg, "repeat count");
			} else if (optarg == argv[optind - 1]) {
				optind--;
				o.sendmail_opts = 1;
			} else {
				usage("-n takes a repeat count or nothing");
			}
			break;
		case O_THREADS: o.threads = number(optarg, "thread count");
		          o.gun_opts = 1; break;
		case 'T':
			t = number(optarg, "timeout");
			if (t > INT_MAX / 1000)
				usage("timeout too long");
			smtp_timeouts_all(&o.to, (int)t * 1000);
			break;
		case O_RCPT:
			if (add_rcpt(&o.rcpt, optarg) <= 0)
				usage("--rcpt needs an address");
			o.gun_opts = 1;
			break;
		case O_HELO: o.helo = optarg; break;
		case O_GUN: o.gun = 1; break;
		case O_TLS: case O_STARTTLS:
			if (o.tls && o.tls != (ch == O_TLS ? 1 : 2))
				usage("--tls and --starttls together");
			o.tls = ch == O_TLS ? 1 : 2;
			/* --tls also serves one message (-s to a
			 * submissions port): the arguments decide */
			if (ch == O_STARTTLS)
				o.gun_opts = 1;
			break;
		case O_PER_CONN:
			o.per_connection = number(optarg, "messages per connection");
			o.gun_opts = 1;
			break;
		case O_CONNECT_ONLY: o.connect_only = 1; o.gun_opts = 1; break;
		case O_AUTH_USER:
			if (optarg[0] == '\0' || strlen(optarg) > 512)
				usage("--auth-user takes a login of 1 to 512 octets");
			o.auth_user = optarg;
			break;
		case O_AUTH_PWFILE: pwfile = optarg; break;
		case O_AUTH_PW:
			usage("no password on the command line (ps shows it to everyone): "
			      "--auth-password-file FILE or MTA_AUTH_PASSWORD");
			break;
		case O_TLS_CA: o.tls_ca = optarg; break;
		case O_INJECT: o.inject = 1; break;
		case O_QUIET: o.quiet = 1; break;
		case O_HELP: fputs(usage_text, stdout); return EX_OK;
		case 'b':
			set_mode(&mode, b_mode(optarg));
			o.sendmail_opts = 1;
			break;
		case 'I': set_mode(&mode, B_ALIASES); break;
		case 'q':
			/* -q, or -q with an interval (meaningless without a
			 * sendmail daemon: the same flush); -qR, -qS, -qI
			 * select messages, which mta-queue --flush cannot */
			if (optarg && !isdigit((unsigned char)optarg[0]))
				usage("-q with a selection (-qR, -qS, -qI) is not "
				      "supported; -q flushes the whole queue");
			set_mode(&mode, B_FLUSH);
			break;
		case 'N':
			if (send_dsn_notify(&o, optarg) < 0)
				usage("-N takes NEVER, or SUCCESS, FAILURE, DELAY "
				      "separated by commas");
			o.sendmail_opts = 1;
			break;
		case 'R':
			if (send_dsn_ret(&o, optarg) < 0)
				usage("-R takes FULL or HDRS");
			o.sendmail_opts = 1;
			break;
		case 'V':
			if (send_dsn_envid(&o, optarg) < 0)
				usage("-V takes printable ASCII, at most 100 octets");
			o.sendmail_opts = 1;
			break;
		/* sendmail compatibility, harmless here: -i -oX -OOPT=V -B
		 * -v -m -U, and -L LABEL -X FILE as Postfix ignores them.
		 * The message is always read to end of file. */
		case 'i': case 'o': case 'O': case 'B': case 'v': case 'm':
		case 'U': case 'L': case 'X':
			o.sendmail_opts = 1;
			break;
		case ':':
			/* sendmail's -n last: its value was never there */
			if (optopt == 'n') {
				o.sendmail_opts = 1;
				break;
			}
			send_say("option needs a value: %s", argv[optind - 1]);
			usage(NULL);
			break;
		default:
			send_say("bad option: %s", argv[optind - 1]);
			usage(NULL);
		}
	}
	/* options_load (send_config) runs getopt_long over its own argv */
	first = optind;
	if (send_config(&o, config) < 0)
		return EX_CONFIG;
	optind = first;
	/* one message without a server named: the queue's maildrop, which
	 * works with the daemon down; -bs and the gun need a server */
	o.maildrop = !server_given;
	if (!server_given && o.config_server[0])
		parse_server(&o, o.config_server);
	switch (mode) {
	case B_ALIASES:
		/* nothing to rebuild: mta-smtpd reads its tables itself */
		free(o.queue);
		return EX_OK;
	case B_LIST: case B_FLUSH:
		if (optind < argc)
			usage("-bp and -q take no arguments");
		ex = send_queue_tool(&o, mode == B_FLUSH);
		free(o.queue);
		return ex;
	default:
		break;
	}
	if (gethostname(o.hostname, sizeof o.hostname - 1) < 0 ||
	    o.hostname[0] == '\0')
		strcpy(o.hostname, "localhost");
	if (o.helo == NULL)
		o.helo = o.hostname;
	if (!smtp_helo_ok(o.helo))
		usage("bad EHLO name: printable ASCII without spaces or angle "
		      "brackets, at most 255 octets");
	if (o.connect_only && o.per_connection)
		usage("--connect-only and --per-connection together");
	if (o.gun && o.inject)
		usage("--gun and --inject together");
	if ((o.gun || o.gun_opts) && (o.inject || o.tflag))
		usage("-t/--inject and the gun's options together");
	if (pwfile != NULL && o.auth_user == NULL)
		usage("--auth-password-file without --auth-user");
	if (o.auth_user != NULL && (o.inject || mode == B_SMTP))
		usage("--auth-user is for SMTP sending (-s, the gun), not "
		      "--inject or -bs");
	if (o.auth_user != NULL && send_auth_password(&o, pwfile) < 0) {
		free(o.queue);
		return EX_USAGE;
	}
	if (mode == B_SMTP) {
		if (optind < argc || o.gun || o.gun_opts || o.tls)
			usage("-bs takes no arguments");
		ex = send_session(&o);
		free(o.queue);
		return ex;
	}
	for (i = optind; i < argc; i++)
		nfiles += looks_like_file(argv[i]);
	if (!o.gun && !o.gun_opts && (o.inject || o.tflag || o.sendmail_opts ||
	                              nfiles == 0 || nfiles < argc - optind)) {
		if (o.tls && o.maildrop)
			usage("--tls needs a server (-s HOST:PORT)");
		ex = send_inject(&o, argv + optind, argc - optind);
	} else if (optind == argc)
		usage("the gun needs FILEs");
	else
		ex = send_fire(&o, argv + optind, argc - optind);
	addrlist_free(&o.rcpt);
	free(o.queue);
	return ex;
}
