/* test_lmtp - one LMTP transaction carrying several recipients
 * (lmtp.h), against a scripted server on a unix socket in a thread: each
 * recipient gets its own result (its RCPT refusal, or its own reply
 * after the dot), and a server that is not there defers them all as
 * unreachable.  What the scheduler's grouping will hand the transport. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lmtp.h"

struct server {
	int lfd;
	char path[108];
	char heard[4096];          /* the commands it got, one per line */
	int smtp_only;             /* an SMTP server: LHLO is 500 */
	pthread_t tid;
};

/* say - one reply */
static void say(FILE *f, const char *s)
{
	fputs(s, f);
	fflush(f);
}

/* serve - one connection: LHLO, MAIL, three RCPTs (the third refused),
 * DATA, the message, then one reply per accepted recipient: 250, 452 */
static void *serve(void *arg)
{
	struct server *sv = arg;
	char line[1024];
	int fd = accept(sv->lfd, NULL, NULL), nrcpt = 0;
	FILE *f;

	if (fd < 0)
		return NULL;
	f = fdopen(fd, "r+");
	say(f, "220 fake LMTP\r\n");
	while (fgets(line, sizeof line, f) != NULL) {
		if (strlen(sv->heard) + strlen(line) < sizeof sv->heard)
			strcat(sv->heard, line);
		if (strncasecmp(line, "LHLO ", 5) == 0)
			say(f, sv->smtp_only ? "500 5.5.2 Unknown command\r\n"
			                     : "250-fake\r\n250 ENHANCEDSTATUSCODES\r\n");
		else if (strncasecmp(line, "MAIL FROM:", 10) == 0)
			say(f, "250 2.1.0 ok\r\n");
		else if (strncasecmp(line, "RCPT TO:", 8) == 0)
			say(f, ++nrcpt == 3 ? "550 5.1.1 <nosuch> no such user\r\n"
			                    : "250 2.1.5 ok\r\n");
		else if (strncasecmp(line, "DATA", 4) == 0) {
			say(f, "354 go\r\n");
			while (fgets(line, sizeof line, f) != NULL &&
			       strcmp(line, ".\r\n") != 0)
				if (strlen(sv->heard) + strlen(line) < sizeof sv->heard)
					strcat(sv->heard, line);
			say(f, "250 2.0.0 <alice> saved\r\n");
			say(f, "452 4.2.2 <full> Quota exceeded\r\n");
		} else if (strncasecmp(line, "QUIT", 4) == 0) {
			say(f, "221 bye\r\n");
			break;
		} else
			say(f, "500 what\r\n");
	}
	fclose(f);
	return NULL;
}

/* server_start - listen on a fresh unix socket, serve one connection
 * (smtp_only: as an SMTP server would, refusing LHLO) */
static void server_start(struct server *sv, int smtp_only)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	memset(sv, 0, sizeof *sv);
	sv->smtp_only = smtp_only;
	snprintf(sv->path, sizeof sv->path, "/tmp/mta-test-lmtp.%ld.sock", (long)getpid());
	unlink(sv->path);
	memcpy(sun.sun_path, sv->path, strlen(sv->path) + 1);
	sv->lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_geq(sv->lfd, 0);
	cr_assert_eq(bind(sv->lfd, (struct sockaddr *)&sun, sizeof sun), 0);
	cr_assert_eq(listen(sv->lfd, 4), 0);
	cr_assert_eq(pthread_create(&sv->tid, NULL, serve, sv), 0);
}

/* message - a queue-like file: the message from offset 0 */
static int message(void)
{
	char path[] = "/tmp/mta-test-lmtp-msg.XXXXXX";
	const char text[] = "Subject: t\n\n.dot line\nbody\n";
	int fd = mkstemp(path);

	cr_assert_geq(fd, 0);
	unlink(path);
	cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
	return fd;
}

/* ctx - a remote_ctx with a cache that keeps nothing (QUIT at once) */
static void ctx(struct remote_ctx *rc, struct config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	snprintf(cfg->hostname, sizeof cfg->hostname, "mx.test.example");
	memset(rc, 0, sizeof *rc);
	rc->cfg = cfg;
	smtp_timeouts_all(&rc->timeouts, 5000);
	rc->cache = conncache_new(0, 5);
	cr_assert_not_null(rc->cache);
}

Test(lmtp, each_recipient_its_own_reply)
{
	struct server sv;
	struct remote_ctx rc;
	struct config cfg;
	const char *rcpt[3] = { "alice", "full", "nosuch" };
	struct lmtp_result res[3];
	int fd = message(), unreachable = -1;

	server_start(&sv, 0);
	ctx(&rc, &cfg);
	lmtp_deliver(&rc, sv.path, "carol@test.example", rcpt, 3, 0, fd, 0, res,
	             &unreachable);
	pthread_join(sv.tid, NULL);
	close(sv.lfd);
	unlink(sv.path);
	conncache_free(rc.cache);
	close(fd);
	cr_assert_eq(unreachable, 0);
	cr_assert_eq(res[0].st.kind, ST_OK, "%s", res[0].st.text);
	cr_assert_eq(res[1].st.kind, ST_TEMP, "452 defers that one only: %s", res[1].st.text);
	cr_assert_str_eq(res[1].diag, "452 4.2.2 <full> Quota exceeded");
	cr_assert_eq(res[1].st.subject, 2);
	cr_assert_eq(res[1].st.detail, 2);
	cr_assert_eq(res[2].st.kind, ST_PERM, "550 at RCPT fails that one only");
	cr_assert_str_eq(res[2].diag, "550 5.1.1 <nosuch> no such user");
	cr_assert(strstr(res[2].st.text, sv.path) != NULL, "names the server: %s",
	          res[2].st.text);
	cr_assert(strstr(sv.heard, "LHLO mx.test.example\r\n") != NULL, "%s", sv.heard);
	cr_assert(strstr(sv.heard, "MAIL FROM:<carol@test.example>") != NULL);
	cr_assert(strstr(sv.heard, "RCPT TO:<alice>\r\nRCPT TO:<full>\r\nRCPT TO:<nosuch>\r\n")
	          != NULL, "one transaction, three RCPTs: %s", sv.heard);
	cr_assert(strstr(sv.heard, "..dot line\r\n") != NULL, "dot-stuffed");
}

Test(lmtp, a_server_not_there_defers_everyone)
{
	struct remote_ctx rc;
	struct config cfg;
	const char *rcpt[2] = { "alice", "bob" };
	struct lmtp_result res[2];
	int fd = message(), unreachable = 0;
	char path[64];

	snprintf(path, sizeof path, "/tmp/mta-test-lmtp-none.%ld", (long)getpid());
	unlink(path);
	ctx(&rc, &cfg);
	lmtp_deliver(&rc, path, "", rcpt, 2, 0, fd, 0, res, &unreachable);
	conncache_free(rc.cache);
	close(fd);
	cr_assert_eq(unreachable, 1, "remembered as a dead next hop");
	cr_assert_eq(res[0].st.kind, ST_TEMP, "%s", res[0].st.text);
	cr_assert_eq(res[1].st.kind, ST_TEMP);
	cr_assert_str_eq(res[0].diag, "", "no reply to quote");
	cr_assert(strstr(res[0].st.text, "connect to unix:") != NULL, "%s", res[0].st.text);
}

/* --lmtp given an SMTP server's socket, or a listener that refuses LHLO:
 * nothing about the recipients was said, so nothing may bounce */
Test(lmtp, a_refused_lhlo_defers_everyone)
{
	struct server sv;
	struct remote_ctx rc;
	struct config cfg;
	const char *rcpt[2] = { "alice", "bob" };
	struct lmtp_result res[2];
	int fd = message(), unreachable = -1;

	server_start(&sv, 1);
	ctx(&rc, &cfg);
	lmtp_deliver(&rc, sv.path, "carol@test.example", rcpt, 2, 0, fd, 0, res,
	             &unreachable);
	pthread_join(sv.tid, NULL);
	close(sv.lfd);
	unlink(sv.path);
	conncache_free(rc.cache);
	close(fd);
	cr_assert_eq(unreachable, 0, "it answered: not a dead next hop");
	cr_assert_eq(res[0].st.kind, ST_TEMP, "a 5xx to LHLO is no verdict on alice: %s",
	             res[0].st.text);
	cr_assert_eq(res[1].st.kind, ST_TEMP);
	cr_assert(strstr(res[0].st.text, "500 5.5.2") != NULL, "the reply quoted: %s",
	          res[0].st.text);
}
