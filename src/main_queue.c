/* main_queue.c - mta-queue: list the queue (as text or JSON), make every
 * job due now, or hold, release, requeue, bounce or delete messages.
 * See mta-queue(1); the work is done in qlist.c, qctl.c and qjson.c.
 * Exit status: 0 done, 1 error (no queue, no such message, a failed
 * rename or unlink, output not written, a bad configuration file), 64
 * usage (EX_USAGE). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "options.h"
#include "qctl.h"
#include "qjson.h"
#include "qlist.h"

#define DEFAULT_CONFIG "/etc/mta/mta.conf"

static const char usage[] =
	"usage: mta-queue [-q DIR] [--config FILE]     list messages and recipients\n"
	"       mta-queue [...] --json [SELECTION]     list them as JSON, one line each\n"
	"       mta-queue [...] --flush                make every job due now (not held ones)\n"
	"       mta-queue [...] --hold ID|ALL [SELECTION]     never try them until released\n"
	"       mta-queue [...] --release ID|ALL [SELECTION]  held ones: due now\n"
	"       mta-queue [...] --requeue ID|ALL [SELECTION]  due now, attempts kept\n"
	"       mta-queue [...] --bounce ID|ALL [SELECTION]   fail them now with a bounce\n"
	"       mta-queue [...] --delete ID|ALL [SELECTION]   remove them, no bounce\n"
	"SELECTION: --from ADDR, --to ADDR, --domain DOMAIN (recipients' domain)\n";

/* the operations that take ID|ALL, by their option's val */
static const struct {
	int val;
	enum qctl_op op;
	const char *done;       /* "held", ... */
} ops[] = {
	{ 'H', QCTL_HOLD, "held" },
	{ 'R', QCTL_RELEASE, "released" },
	{ 'Q', QCTL_REQUEUE, "requeued" },
	{ 'B', QCTL_BOUNCE, "returned to the sender" },
	{ 'D', QCTL_DELETE, "deleted" },
};
enum { NOPS = sizeof ops / sizeof ops[0] };

/* queue_from_config - the queue directory the configuration file names
 * (the table's default when it names none) into dir; 0, or -1 (said) */
static int queue_from_config(const char *file, char *dir, size_t len)
{
	char prog[] = "mta-queue", opt[] = "--config", path[4096], err[1024];
	char *argv[] = { prog, opt, path, NULL };
	enum options_action act;
	struct config *cfg;

	snprintf(path, sizeof path, "%s", file);
	cfg = options_load(3, argv, &act, err, sizeof err);
	if (cfg == NULL) {
		fprintf(stderr, "mta-queue: %s\n", err);
		return -1;
	}
	snprintf(dir, len, "%s", cfg->queue);
	config_free(cfg);
	return 0;
}

/* run_op - one operation of ops[k] on target (an ID or ALL); exit status */
static int run_op(struct qlist *ql, size_t k, const char *target,
                  const struct qselect *sel, long long now)
{
	const char *id = strcmp(target, "ALL") == 0 ? NULL : target;
	struct qctl_done d;
	struct qlist_deleted del;

	/* one message, no selection: the delete of before, said as before */
	if (ops[k].op == QCTL_DELETE && id && !sel->from && !qselect_by_rcpt(sel)) {
		if (qlist_delete(ql, id, &del) == 0) {
			if (del.from)
				printf("deleted %s: %s/%s and %u job%s\n", id, del.from, id,
				       del.jobs, del.jobs == 1 ? "" : "s");
			else
				printf("deleted %s: %u job%s (there was no message file)\n", id,
				       del.jobs, del.jobs == 1 ? "" : "s");
			return 0;
		}
	} else if (qctl_apply(ql, ops[k].op, id, sel, now, &d) == 0) {
		printf("%s %u job%s of %u message%s", ops[k].done, d.jobs,
		       d.jobs == 1 ? "" : "s", d.msgs, d.msgs == 1 ? "" : "s");
		if (d.whole)
			printf(" (%u with the message file)", d.whole);
		if (d.unscheduled)
			printf("; %u message%s not yet scheduled, untouched", d.unscheduled,
			       d.unscheduled == 1 ? "" : "s");
		putchar('\n');
		return d.failed ? 1 : 0;
	}
	if (errno == ENOENT || errno == EINVAL)
		fprintf(stderr, "mta-queue: no such message: %s%s\n", target,
		        errno == EINVAL ? " (not a queue ID)" : "");
	else
		fprintf(stderr, "mta-queue: cannot change %s: %s\n", target, strerror(errno));
	return 1;
}

/* flush - every job due now; exit status */
static int flush(struct qlist *ql, const char *dir, long long now)
{
	struct qlist_flushed f;

	if (qlist_flush(ql, now, &f) < 0) {
		fprintf(stderr, "mta-queue: cannot read %s/rcpt: %s\n", dir, strerror(errno));
		return 1;
	}
	printf("flushed %u job%s (%u already due", f.moved, f.moved == 1 ? "" : "s",
	       f.already);
	if (f.held)
		printf(", %u held", f.held);
	fputs(")\n", stdout);
	if (f.failed) {
		fprintf(stderr, "mta-queue: %u job%s could not be renamed\n", f.failed,
		        f.failed == 1 ? "" : "s");
		return 1;
	}
	return 0;
}

/* bad_usage - say why, then the usage; EX_USAGE */
static int bad_usage(const char *why, const char *what)
{
	fprintf(stderr, "mta-queue: %s%s\n%s", why, what, usage);
	return EX_USAGE;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "queue", required_argument, NULL, 'q' },
		{ "config", required_argument, NULL, 'c' },
		{ "flush", no_argument, NULL, 'F' },
		{ "json", no_argument, NULL, 'J' },
		{ "hold", required_argument, NULL, 'H' },
		{ "release", required_argument, NULL, 'R' },
		{ "requeue", required_argument, NULL, 'Q' },
		{ "bounce", required_argument, NULL, 'B' },
		{ "delete", required_argument, NULL, 'D' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 't' },
		{ "domain", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *dir = NULL, *conf = NULL, *target = NULL;
	struct qselect sel = { NULL, NULL, NULL };
	char confdir[4096], err[1024];
	struct qlist *ql;
	size_t k, op = NOPS;
	long long now;
	int do_flush = 0, json = 0, modes = 0, c, rc;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "q:h", longopts, NULL)) != -1) {
		for (k = 0; k < NOPS && ops[k].val != c; k++)
			;
		if (k < NOPS) {
			if (op != NOPS)
				return bad_usage("one operation at a time", "");
			op = k;
			target = optarg;
			modes++;
			continue;
		}
		switch (c) {
		case 'q':
			dir = optarg;
			break;
		case 'c':
			conf = optarg;
			break;
		case 'F':
			do_flush = 1;
			modes++;
			break;
		case 'J':
			json = 1;
			modes++;
			break;
		case 'f':
			sel.from = optarg;
			break;
		case 't':
			sel.to = optarg;
			break;
		case 'd':
			sel.domain = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:   /* a long option's optopt is its val: name it as typed */
			if (strncmp(argv[optind - 1], "--", 2) == 0 || optopt == 0)
				return bad_usage("bad option or missing argument: ", argv[optind - 1]);
			fprintf(stderr, "mta-queue: bad option or missing argument: -%c\n%s",
			        optopt, usage);
			return EX_USAGE;
		}
	}
	if (optind < argc)
		return bad_usage("unexpected argument: ", argv[optind]);
	if (modes > 1)
		return bad_usage("--flush, --json and the operations exclude each other", "");
	if ((sel.from || sel.to || sel.domain) && op == NOPS && !json)
		return bad_usage("--from, --to and --domain go with --json or an operation", "");
	if (dir == NULL) {
		if (conf == NULL && access(DEFAULT_CONFIG, F_OK) == 0)
			conf = DEFAULT_CONFIG;
		if (conf != NULL) {
			if (queue_from_config(conf, confdir, sizeof confdir) < 0)
				return 1;
			dir = confdir;
		} else {
			dir = "./queue";
		}
	}
	if (qlist_open(&ql, dir, stderr, err, sizeof err) < 0) {
		fprintf(stderr, "mta-queue: %s\n", err);
		return 1;
	}
	now = (long long)time(NULL);
	if (do_flush) {
		rc = flush(ql, dir, now);
	} else if (op != NOPS) {
		rc = run_op(ql, op, target, &sel, now);
	} else if ((json ? qjson_print(ql, stdout, &sel) : qlist_print(ql, stdout, now)) < 0) {
		fprintf(stderr, "mta-queue: cannot list %s: %s\n", dir, strerror(errno));
		rc = 1;
	} else {
		rc = 0;
	}
	qlist_close(ql);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "mta-queue: cannot write the output: %s\n", strerror(errno));
		rc = 1;
	}
	return rc;
}
