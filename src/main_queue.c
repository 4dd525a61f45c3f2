/* main_queue.c - mta-queue: list the queue, make every job due now, or
 * delete one message.  See mta-queue(1); the work is done in qlist.c.
 * Exit status: 0 done, 1 error (no queue, no such message, a failed
 * rename or unlink, output not written), 64 usage (EX_USAGE). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "qlist.h"

int main(int argc, char **argv)
{
	static const char usage[] =
		"usage: mta-queue [-q DIR]               list messages and recipients\n"
		"       mta-queue [-q DIR] --flush       make every job due now\n"
		"       mta-queue [-q DIR] --delete ID   remove a message and its jobs\n";
	static const struct option opts[] = {
		{ "queue", required_argument, NULL, 'q' },
		{ "flush", no_argument, NULL, 'F' },
		{ "delete", required_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *dir = "./queue", *del = NULL;
	struct qlist *ql;
	char err[1024];
	long long now;
	int flush = 0, c, rc = 0;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "q:h", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			dir = optarg;
			break;
		case 'F':
			flush = 1;
			break;
		case 'D':
			if (del) {
				fprintf(stderr, "mta-queue: one --delete at a time\n%s", usage);
				return EX_USAGE;
			}
			del = optarg;
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:   /* a long option's optopt is its val: name it as typed */
			if (strncmp(argv[optind - 1], "--", 2) == 0 || optopt == 0)
				fprintf(stderr, "mta-queue: bad option or missing argument: %s\n%s",
				        argv[optind - 1], usage);
			else
				fprintf(stderr, "mta-queue: bad option or missing argument: -%c\n%s",
				        optopt, usage);
			return EX_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "mta-queue: unexpected argument: %s\n%s", argv[optind], usage);
		return EX_USAGE;
	}
	if (flush && del) {
		fprintf(stderr, "mta-queue: --flush and --delete exclude each other\n%s", usage);
		return EX_USAGE;
	}
	if (qlist_open(&ql, dir, stderr, err, sizeof err) < 0) {
		fprintf(stderr, "mta-queue: %s\n", err);
		return 1;
	}
	now = (long long)time(NULL);
	if (flush) {
		struct qlist_flushed f;

		if (qlist_flush(ql, now, &f) < 0) {
			fprintf(stderr, "mta-queue: cannot read %s/rcpt: %s\n", dir, strerror(errno));
			rc = 1;
		} else {
			printf("flushed %u job%s (%u already due)\n", f.moved,
			       f.moved == 1 ? "" : "s", f.already);
			if (f.failed) {
				fprintf(stderr, "mta-queue: %u job%s could not be renamed\n",
				        f.failed, f.failed == 1 ? "" : "s");
				rc = 1;
			}
		}
	} else if (del) {
		struct qlist_deleted d;

		if (qlist_delete(ql, del, &d) < 0) {
			if (errno == ENOENT || errno == EINVAL)
				fprintf(stderr, "mta-queue: no such message: %s%s\n", del,
				        errno == EINVAL ? " (not a queue ID)" : "");
			else
				fprintf(stderr, "mta-queue: cannot delete %s: %s\n", del,
				        strerror(errno));
			rc = 1;
		} else if (d.from) {
			printf("deleted %s: %s/%s and %u job%s\n", del, d.from, del, d.jobs,
			       d.jobs == 1 ? "" : "s");
		} else {
			printf("deleted %s: %u job%s (there was no message file)\n", del,
			       d.jobs, d.jobs == 1 ? "" : "s");
		}
	} else if (qlist_print(ql, stdout, now) < 0) {
		fprintf(stderr, "mta-queue: cannot list %s: %s\n", dir, strerror(errno));
		rc = 1;
	}
	qlist_close(ql);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "mta-queue: cannot write the output: %s\n", strerror(errno));
		rc = 1;
	}
	return rc;
}
