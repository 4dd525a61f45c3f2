/* main_smtpd.c - mta-smtpd: parse options, open the queue, bind, drop
 * privileges, start the threads, then wait for a signal.  See
 * mta-smtpd(8).  Signals are blocked in every thread and taken here with
 * sigwait(), the only place that handles them. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "queue.h"
#include "scheduler.h"
#include "server.h"

/* drop_privileges - become --user after binding; 0 or -1 with err set */
static int drop_privileges(const char *user, char *err, size_t errlen)
{
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (getpwnam_r(user, &pw, buf, sizeof buf, &res) != 0 || res == NULL) {
		snprintf(err, errlen, "--user %s: no such user", user);
		return -1;
	}
	if (initgroups(pw.pw_name, pw.pw_gid) < 0 || setgid(pw.pw_gid) < 0 ||
	    setuid(pw.pw_uid) < 0) {
		snprintf(err, errlen, "--user %s: %s", user, strerror(errno));
		return -1;
	}
	if (setuid(0) == 0) {
		snprintf(err, errlen, "--user %s: could regain root", user);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct queue *q = NULL;
	struct server *srv = NULL;
	struct sched *sch = NULL;
	char err[1024];
	sigset_t sigs;
	int sig;

	if (config_parse(&cfg, argc, argv, err, sizeof err) < 0) {
		fprintf(stderr, "mta-smtpd: %s%s", err, err[strlen(err) ? strlen(err) - 1 : 0] == '\n' ? "" : "\n");
		return 1;
	}
	tzset();   /* before threads: localtime_r() then needs no lock */
	if (log_open(cfg.log) < 0) {
		fprintf(stderr, "mta-smtpd: cannot open log %s: %s\n", cfg.log, strerror(errno));
		return 1;
	}
	/* SIGPIPE would kill us on a client's reset; the write fails instead */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	if (queue_open(&q, cfg.queue, err, sizeof err) < 0) {
		fprintf(stderr, "mta-smtpd: %s\n", err);
		return 1;
	}
	if (server_bind(&srv, &cfg, q, err, sizeof err) < 0) {
		fprintf(stderr, "mta-smtpd: %s\n", err);
		return 1;
	}
	if (cfg.user && drop_privileges(cfg.user, err, sizeof err) < 0) {
		fprintf(stderr, "mta-smtpd: %s\n", err);
		return 1;
	}
	if (sched_start(&sch, &cfg, q, err, sizeof err) < 0) {
		fprintf(stderr, "mta-smtpd: %s\n", err);
		return 1;
	}
	if (server_start(srv, err, sizeof err) < 0) {
		fprintf(stderr, "mta-smtpd: %s\n", err);
		return 1;
	}
	log_event("start", "queue=%s hostname=%s pid=%ld", cfg.queue, cfg.hostname,
	          (long)getpid());
	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT)
			break;
		/* SIGHUP: nothing to reload yet; say so */
		log_event("signal", "sig=HUP action=ignored");
	}
	log_event("stopping", "signal=%s", sig == SIGTERM ? "TERM" : "INT");
	server_stop(srv, 30);
	sched_stop(sch, 10);
	queue_close(q);
	log_event("stop", "status=0");
	return 0;
}
