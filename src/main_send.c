/* main_send.c - mta-send(1): options, the choice of mode, main().  The
 * modes themselves are send_inject.c and send_gun.c (send.h).
 */
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

static const char usage_text[] =
"usage: mta-send [-s HOST:PORT] [-f SENDER] [-F NAME] [-t] [-i] [RCPT...] < message\n"
"       mta-send [-s HOST:PORT] [-c SESSIONS] [-n REPEAT] [-f SENDER]\n"
"                [--rcpt ADDR]... FILE...\n"
"options: -s/--server HOST:PORT (default $MTA_SERVER or 127.0.0.1:2525)\n"
"  -f/--from SENDER  -F NAME  -t  -i  -o OPT  -c/--sessions N  -n/--repeat N\n"
"  --rcpt ADDR  --threads N  -T/--timeout SECONDS  --helo NAME  --gun\n"
"  --tls  --starttls  --per-connection N  --connect-only  --inject  --quiet\n"
"  --help; see mta-send(1)\n";

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

/* main - parse the options, choose the mode, run it */
int main(int argc, char **argv)
{
	enum { O_RCPT = 256, O_HELO, O_GUN, O_INJECT, O_QUIET, O_HELP,
	       O_THREADS, O_TLS, O_STARTTLS, O_PER_CONN, O_CONNECT_ONLY };
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
		{ NULL, 0, NULL, 0 }
	};
	struct send_opts o;
	static char sender[MSG_ADDR_MAX + 1];
	const char *server = getenv("MTA_SERVER");
	int ch, i, nfiles = 0, ex;
	unsigned long t;

	memset(&o, 0, sizeof o);
	o.sessions = 1;
	o.repeat = 1;
	smtp_timeouts_default(&o.to);
	addrlist_init(&o.rcpt);
	signal(SIGPIPE, SIG_IGN);
	parse_server(&o, server && *server ? server : "127.0.0.1:2525");
	while ((ch = getopt_long(argc, argv, "s:f:r:tio:c:n:T:F:B:N:R:V:b:vmU",
	                         longopts, NULL)) != -1) {
		switch (ch) {
		case 's': parse_server(&o, optarg); break;
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
		case 'n': o.repeat = number(optarg, "repeat count");
		          o.gun_opts = 1; break;
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
			o.gun_opts = 1;
			break;
		case O_PER_CONN:
			o.per_connection = number(optarg, "messages per connection");
			o.gun_opts = 1;
			break;
		case O_CONNECT_ONLY: o.connect_only = 1; o.gun_opts = 1; break;
		case O_INJECT: o.inject = 1; break;
		case O_QUIET: o.quiet = 1; break;
		case O_HELP: fputs(usage_text, stdout); return EX_OK;
		case 'b':
			if (strcmp(optarg, "m") != 0)
				usage("only -bm (deliver mail) is supported");
			o.sendmail_opts = 1;
			break;
		/* sendmail compatibility, harmless here: -i -oX -B -N -R -V
		 * -v -m -U.  The message is always read to end of file. */
		case 'i': case 'o': case 'B': case 'N': case 'R':
		case 'V': case 'v': case 'm': case 'U':
			o.sendmail_opts = 1;
			break;
		default:
			usage(NULL);
		}
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
	for (i = optind; i < argc; i++)
		nfiles += looks_like_file(argv[i]);
	if (!o.gun && !o.gun_opts && (o.inject || o.tflag || o.sendmail_opts ||
	                              nfiles == 0 || nfiles < argc - optind))
		ex = send_inject(&o, argv + optind, argc - optind);
	else if (optind == argc)
		usage("the gun needs FILEs");
	else
		ex = send_fire(&o, argv + optind, argc - optind);
	addrlist_free(&o.rcpt);
	return ex;
}
