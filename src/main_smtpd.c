/* main_smtpd.c - mta-smtpd: parse options, open the queue, bind, drop
 * privileges, start the threads, then wait for a signal.  See
 * mta-smtpd(8).  Signals are blocked in every thread and taken here with
 * sigwait(), the only place that handles them: SIGHUP reloads the
 * configuration (a new snapshot, config.h) and reopens the log. */
#include <errno.h>
#include <grp.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "config.h"
#include "log.h"
#include "mtasts_cache.h"
#include "mtasts_fetch.h"
#include "notify.h"
#include "options.h"
#include "policy.h"
#include "route_auth.h"
#include "queue.h"
#include "scheduler.h"
#include "server.h"
#include "tls.h"
#include "transport.h"
#include "version.h"

/* give_to_user - make the queue and mail root usable by --user: the
 * directories root created (or found) become the user's */
static int give_to_user(const struct config *cfg, const struct passwd *pw,
                        char *err, size_t errlen)
{
	static const char *const parts[] = { "", "/tmp", "/new", "/mess", "/rcpt",
	                                     "/bad", "/lock", "/maildrop" };
	char path[4096];
	size_t i;

	for (i = 0; i < sizeof parts / sizeof parts[0]; i++) {
		snprintf(path, sizeof path, "%s%s", cfg->queue, parts[i]);
		if (lchown(path, pw->pw_uid, pw->pw_gid) < 0) {
			snprintf(err, errlen, "chown %.900s: %s", path, strerror(errno));
			return -1;
		}
	}
	if (queue_mkdir_durable(cfg->mailroot, 0700) < 0) {
		snprintf(err, errlen, "mkdir %s: %s", cfg->mailroot, strerror(errno));
		return -1;
	}
	if (!cfg->system_users && lchown(cfg->mailroot, pw->pw_uid, pw->pw_gid) < 0) {
		snprintf(err, errlen, "chown %s: %s", cfg->mailroot, strerror(errno));
		return -1;
	}
	return 0;
}

/* drop_privileges - become --user after binding; 0 or -1 with err set */
static int drop_privileges(const struct config *cfg, char *err, size_t errlen)
{
	const char *user = cfg->user;
	struct passwd pw, *res = NULL;
	char buf[4096];

	if (getpwnam_r(user, &pw, buf, sizeof buf, &res) != 0 || res == NULL) {
		snprintf(err, errlen, "--user %s: no such user", user);
		return -1;
	}
	if (geteuid() == 0 && give_to_user(cfg, &pw, err, errlen) < 0)
		return -1;
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

/* raise_fd_limit - make RLIMIT_NOFILE's soft limit what the configured
 * limits need (config_fds_needed), up to the hard limit, which is the
 * administrator's to set; say what was done, and say it loudly when the
 * hard limit is too low: at that load accept(), queue files and
 * deliveries would fail with EMFILE */
static void raise_fd_limit(const struct config *cfg)
{
	unsigned long need = config_fds_needed(cfg);
	struct rlimit rl;
	char text[400], q[LOG_VALUE_MAX];
	rlim_t soft;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_event("fd-limit", "error=%s", log_quote(q, sizeof q, strerror(errno)));
		return;
	}
	soft = rl.rlim_cur;
	if (soft != RLIM_INFINITY && soft < need) {
		rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need
		            ? rl.rlim_max : (rlim_t)need;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			rl.rlim_cur = soft;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need) {
		log_event("fd-limit", "need=%lu soft=%llu action=%s", need,
		          (unsigned long long)rl.rlim_cur, rl.rlim_cur == soft ? "none" : "raised");
		return;
	}
	snprintf(text, sizeof text, "the open-file limit is %llu (hard limit %llu), "
	         "below the %lu descriptors that -c %u and --max-deliveries %u may "
	         "need: at that load connections, queue files and deliveries fail "
	         "with 'Too many open files'; raise the hard limit (ulimit -Hn, "
	         "systemd LimitNOFILE=) or lower -c and --max-deliveries",
	         (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
	         need, cfg->max_clients, cfg->max_deliveries);
	log_event("fd-limit", "need=%lu soft=%llu hard=%llu action=short warning=%s",
	          need, (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
	          log_quote(q, sizeof q, text));
	if (cfg->log != NULL)     /* else that line went to stderr already */
		fprintf(stderr, "mta-smtpd: warning: %s\n", text);
}

/* public_in - an address of list[0..n) other than loopback, or NULL */
static const char *public_in(const struct listen_addr *list, size_t n)
{
	struct cidr lo4, lo6;
	size_t i;

	cidr_parse("127.0.0.0/8", &lo4);
	cidr_parse("::1/128", &lo6);
	for (i = 0; i < n; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&list[i].ss;

		if (!cidr_match(&lo4, sa) && !cidr_match(&lo6, sa))
			return list[i].text;
	}
	return NULL;
}

/* table_warning - a refused table target, logged at each load */
static void table_warning(void *ctx, const char *text)
{
	char q[LOG_VALUE_MAX];

	(void)ctx;
	log_event("table-warning", "text=%s", log_quote(q, sizeof q, text));
}

/* mailbox_path - where a final local recipient's mail is kept */
static void mailbox_path(const struct config *cfg, const struct resolve_target *t,
                         char *buf, size_t len)
{
	char name[ADDR_MAX];

	if (policy_mailbox_name(&t->addr, name, sizeof name) < 0)
		snprintf(name, sizeof name, "?");
	if (t->kind == RESOLVE_VIRTUAL)
		snprintf(buf, len, "%s/%s/%s%s", cfg->mailroot, addr_domain(&t->addr),
		         name, cfg->mbox ? "" : "/");
	else if (cfg->system_users && !cfg->mbox)
		snprintf(buf, len, "~%s/Maildir/", name);
	else
		snprintf(buf, len, "%s/%s%s", cfg->mailroot, name, cfg->mbox ? "" : "/");
}

/* check_address - --check-address: how one address resolves, and why;
 * 0 when mail to it would be accepted, else 1 */
static int check_address(const struct config *cfg, const char *addr)
{
	char path[ADDR_MAX + 4], where[4096 + ADDR_MAX], user[ADDR_MAX];
	struct resolve_result r;
	struct mailbox mb;
	struct status st;
	size_t used, i;

	snprintf(path, sizeof path, addr[0] == '<' ? "%s" : "<%s>", addr);
	if (addr_parse_path(path, strlen(path), &mb, &used, 0, 1) != ADDR_OK ||
	    used != strlen(path)) {
		printf("%s: not an address\n", addr);
		return 1;
	}
	st = policy_check_rcpt(cfg, &mb, 1, &r);
	if (r.why != NULL)
		fputs(r.why, stdout);
	else if (st.kind == ST_OK)
		printf("%s: remote address (relayed for --relay-from clients only)\n",
		       mb.text);
	if (st.kind != ST_OK)
		printf("refused: %d.%u.%u %s\n", st.kind == ST_TEMP ? 4 : 5,
		       st.subject, st.detail, st.text);
	for (i = 0; st.kind == ST_OK && i < r.n; i++) {
		if (r.t[i].kind == RESOLVE_REMOTE) {
			printf("remote %s\n", r.t[i].addr.text);
			continue;
		}
		/* under --lmtp: the server, and the user it is asked for */
		if (cfg->lmtp != NULL && transport_lmtp_user(cfg, &r.t[i].addr, user) == 0)
			snprintf(where, sizeof where, "lmtp:%s <%s>", cfg->lmtp, user);
		else
			mailbox_path(cfg, &r.t[i], where, sizeof where);
		printf("%s %s %s\n", r.t[i].kind == RESOLVE_VIRTUAL ? "virtual" : "mailbox",
		       r.t[i].addr.text, where);
	}
	resolve_result_free(&r);
	return st.kind == ST_OK ? 0 : 1;
}

/* public_listener - a --listen, --submission or --smtps address other
 * than loopback,
 * or NULL */
static const char *public_listener(const struct config *cfg)
{
	const char *a = public_in(cfg->listen, cfg->nlisten);

	if (a == NULL)
		a = public_in(cfg->submission, cfg->nsubmission);
	return a ? a : public_in(cfg->smtps, cfg->nsmtps);
}

/* reload - SIGHUP: the file and the command line again; the new
 * snapshot replaces the running one only when all of it is valid.  The
 * log is reopened (logrotate) before the outcome is logged, so the new
 * file says what happened. */
static void reload(int argc, char **argv)
{
	enum options_action action;
	char err[1024], changed[200], q[LOG_VALUE_MAX], q2[LOG_VALUE_MAX];
	char tls_kept[1024] = "";
	const struct config *running = config_get(), *now;
	struct config *next = options_load(argc, argv, &action, err, sizeof err);
	int reopened;

	/* the tables belong to the snapshot: a broken one keeps the old */
	if (next && policy_load_tables(next, table_warning, NULL, err, sizeof err) < 0) {
		config_free(next);
		next = NULL;
	}
	/* so are the smarthosts' credentials: a changed password is taken */
	if (next && route_auth_load(next, err, sizeof err) < 0) {
		config_free(next);
		next = NULL;
	}
	if (next && options_keep_restart_only(next, running, changed, sizeof changed) < 0) {
		config_free(next);
		next = NULL;
		snprintf(err, sizeof err, "out of memory");
	}
	/* the certificates are read again (a renewed one takes effect for
	 * new handshakes); a broken pair keeps the running snapshot whole,
	 * a file this user may not read keeps only the running certificates */
	if (next && config_reload_tls(next, running, tls_kept, sizeof tls_kept,
	                              err, sizeof err) < 0) {
		config_free(next);
		next = NULL;
	}
	if (next)
		config_publish(next);
	now = config_get();
	reopened = log_reopen(now->log);
	if (reopened < 0)
		log_event("log-reopen", "file=%s error=%s",
		          log_quote(q, sizeof q, now->log ? now->log : "stderr"),
		          log_quote(q2, sizeof q2, strerror(errno)));
	if (next == NULL) {
		log_event("reload", "status=error action=kept error=%s",
		          log_quote(q, sizeof q, err));
	} else {
		if (changed[0])
			log_event("reload-warning", "options=%s action=kept reason=%s",
			          log_quote(q, sizeof q, changed), "\"a restart is needed\"");
		if (tls_kept[0])
			log_event("reload-warning", "tls=kept error=%s reason=%s",
			          log_quote(q, sizeof q, tls_kept),
			          "\"readable only by another user: a restart takes it\"");
		if (config_fds_needed(now) != config_fds_needed(running))
			raise_fd_limit(now);
		log_event("reload", "status=ok log=%s", reopened < 0 ? "kept" : "reopened");
	}
	config_put(now);
	config_put(running);
}

int main(int argc, char **argv)
{
	/* Static: the startup snapshot (main's reference, which the
	 * listeners keep using) and the scheduler live as long as the
	 * process (sched_stop() leaves the scheduler to late deliveries), so
	 * they must stay reachable after main() returns, or LeakSanitizer
	 * reports them and the asan build exits 23 instead of 0. */
	static const struct config *cfg;
	static struct sched *sch;
	struct queue *q = NULL;
	struct server *srv = NULL;
	struct config *loaded;
	enum options_action action;
	char err[4096];              /* --help's usage text comes in it */
	char jname[64], new_sync[80];
	sigset_t sigs;
	int sig;

	/* A receiver takes a 64 KiB buffer per message and a delivery two,
	 * each freed after.  glibc gives the top of a thread's arena back to
	 * the kernel once it passes the trim threshold (128 KiB), and the
	 * next message faults those pages in again: in 3000 messages end to
	 * end, 1431 madvise calls and 4012 page faults; with 4 MiB, 0 and
	 * 754 (t/bench/README).  At most that much more stays resident per
	 * arena.  A threshold set here also fixes the mmap threshold at its
	 * 128 KiB, which nothing per message reaches.  Before any thread,
	 * as mallopt() wants. */
	mallopt(M_TRIM_THRESHOLD, 4 << 20);
	if (tls_library_init() < 0) {
		fprintf(stderr, "mta-smtpd: OpenSSL cannot be initialised\n");
		return 1;
	}
	if ((loaded = options_load(argc, argv, &action, err, sizeof err)) == NULL) {
		if (action == OPTIONS_VERSION) {
			printf("mta-smtpd %s\n", MTA_VERSION);
			return 0;
		}
		fprintf(stderr, "mta-smtpd: %s%s", err, err[strlen(err) ? strlen(err) - 1 : 0] == '\n' ? "" : "\n");
		return 1;
	}
	/* before any thread (libunbound's contexts, made by config_load_tls,
	 * may start some): curl_global_init is not thread-safe */
	if (mtasts_fetch_init() < 0) {
		fprintf(stderr, "mta-smtpd: libcurl cannot be initialised\n");
		config_free(loaded);
		return 1;
	}
	/* the log first: loading the tables logs what they refuse */
	tzset();   /* before threads: localtime_r() then needs no lock */
	notify_init();
	if (loaded->syslog && loaded->log) {
		fprintf(stderr, "mta-smtpd: --log and --syslog exclude each other\n");
		return 1;
	}
	if (loaded->check_address == NULL && loaded->syslog)
		log_open_syslog("mta-smtpd");
	else if (loaded->check_address == NULL && log_open(loaded->log) < 0) {
		fprintf(stderr, "mta-smtpd: cannot open log %s: %s\n", loaded->log,
		        strerror(errno));
		return 1;
	}
	if (policy_load_tables(loaded, table_warning, NULL, err, sizeof err) < 0) {
		fprintf(stderr, "mta-smtpd: %s\n", err);
		return 1;
	}
	if (loaded->check_address != NULL) {
		int rc = check_address(loaded, loaded->check_address);

		config_free(loaded);
		return rc;
	}
	if (config_load_tls(loaded, err, sizeof err) < 0 ||
	    route_auth_load(loaded, err, sizeof err) < 0) {
		fprintf(stderr, "mta-smtpd: %s\n", err);
		config_free(loaded);
		return 1;
	}
	config_publish(loaded);
	cfg = config_get();
	/* Root is needed only to bind port 25; a server open to the network
	 * must not go on running as root. */
	if (geteuid() == 0 && cfg->user == NULL && public_listener(cfg)) {
		fprintf(stderr, "mta-smtpd: refusing to run as root while listening on %s;"
		        " give --user NAME\n", public_listener(cfg));
		return 1;
	}
	raise_fd_limit(cfg);
	/* SIGPIPE would kill us on a client's reset; the write fails instead */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	if (queue_open(&q, cfg->queue, err, sizeof err) < 0) {
		fprintf(stderr, "mta-smtpd: %s\n", err);
		return 1;
	}
	/* how a message's name in queue/new is made durable, for the log */
	if (!cfg->sync_dirs && queue_trust_journal(q, jname, sizeof jname))
		snprintf(new_sync, sizeof new_sync, "journal:%s", jname);
	else
		snprintf(new_sync, sizeof new_sync, "dir");
	/* under the queue's lock, before any delivery stores a policy */
	mtasts_cache_clean(cfg->queue);
	if (server_bind(&srv, cfg, q, err, sizeof err) < 0) {
		fprintf(stderr, "mta-smtpd: %s\n", err);
		return 1;
	}
	if (cfg->user && drop_privileges(cfg, err, sizeof err) < 0) {
		fprintf(stderr, "mta-smtpd: %s\n", err);
		return 1;
	}
	if (!cfg->hold && sched_start(&sch, config_hold(cfg), q, err, sizeof err) < 0) {
		fprintf(stderr, "mta-smtpd: %s\n", err);
		return 1;
	}
	if (server_start(srv, err, sizeof err) < 0) {
		fprintf(stderr, "mta-smtpd: %s\n", err);
		return 1;
	}
	log_event("start", "queue=%s hostname=%s pid=%ld new-sync=%s%s",
	          log_quote(err, sizeof err, cfg->queue), cfg->hostname,
	          (long)getpid(), new_sync, cfg->hold ? " hold=yes" : "");
	/* listening and delivering: what Type=notify waits for */
	notify_send("READY=1");
	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT)
			break;
		log_event("signal", "sig=HUP action=reload");
		notify_send("RELOADING=1");
		reload(argc, argv);
		notify_send("READY=1");
	}
	notify_send("STOPPING=1");
	log_event("stopping", "signal=%s", sig == SIGTERM ? "TERM" : "INT");
	server_stop(srv, 30);
	if (sch != NULL)
		sched_stop(sch, 10);
	queue_close(q);
	log_event("stop", "status=0");
	return 0;
}
