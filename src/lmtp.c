/* lmtp.c - delivery to an LMTP server; see lmtp.h */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lmtp.h"
#include "log.h"

/* the cache's key: "lmtp ADDR" under this pseudo address; no SMTP
 * connection is ever kept under it (those are kept under their IP) */
#define LMTP_CACHE_IP "lmtp"

/* open_conn - a new connection to addr, greeted and LHLO'd; NULL with
 * r saying why */
static struct smtp_client *open_conn(const struct remote_ctx *rc,
                                     const char *addr, struct smtp_result *r)
{
	struct smtp_client *c = malloc(sizeof *c);
	char host[256], port[16];
	int rv;

	if (c == NULL) {
		smtp_result_local(r, SMTP_STAGE_CONNECT, ST_TEMP, 3, 0, "Out of memory");
		return NULL;
	}
	smtp_client_init(c, &rc->timeouts);
	smtp_client_lmtp(c);
	if (addr[0] == '/')
		rv = smtp_client_connect_unix(c, addr, r);
	else if (smtp_parse_hostport(addr, "24", host, sizeof host, port,
	                             sizeof port) < 0) {
		smtp_result_local(r, SMTP_STAGE_CONNECT, ST_TEMP, 4, 2,
		                  "bad LMTP server address");
		rv = -1;
	} else
		rv = smtp_client_connect(c, host, port, r);
	if (rv == 0 && smtp_client_handshake(c, rc->cfg->hostname, r) == 0)
		return c;
	smtp_client_close(c);
	free(c);
	return NULL;
}

/* outcome - what r means for one recipient.  A proper refusal keeps
 * its class and enhanced code, quoted; anything else (no reply, a
 * malformed one) is temporary: the server may do better next time. */
static void outcome(const char *addr, const struct smtp_result *r,
                    struct lmtp_result *out)
{
	out->diag[0] = '\0';
	if (r->st.kind == ST_OK) {
		out->st = status_ok();
		return;
	}
	if (r->reply.code >= 400 && r->reply.code < 600 &&
	    r->reply.error == SMTP_REPLY_OK) {
		smtp_reply_summary(&r->reply, out->diag, sizeof out->diag);
		out->st = status_make(r->reply.code >= 500 ? ST_PERM : ST_TEMP,
		                      r->reply.enh_class ? r->reply.enh_subject : r->st.subject,
		                      r->reply.enh_class ? r->reply.enh_detail : r->st.detail,
		                      "LMTP server %s said: %s", addr, out->diag);
		return;
	}
	/* the client's texts name the server mostly ("unix:PATH", IP:port) */
	out->st = status_make(r->st.kind == ST_PERM && r->reply.code == 0
	                      ? ST_PERM : ST_TEMP, r->st.subject, r->st.detail,
	                      "LMTP server%s%s: %s", strstr(r->st.text, addr) ? "" : " ",
	                      strstr(r->st.text, addr) ? "" : addr, r->st.text);
}

/* stale - a kept connection the server had closed before the message
 * went out: nothing was accepted, a new connection deserves the try */
static int stale(const struct smtp_client *c, const struct smtp_result *r)
{
	if (r->stage != SMTP_STAGE_RSET && r->stage != SMTP_STAGE_MAIL &&
	    r->stage != SMTP_STAGE_RCPT && r->stage != SMTP_STAGE_DATA)
		return 0;
	return !smtp_client_connected(c);
}

/* all_fail - every recipient gets r's failure */
static void all_fail(const char *addr, const struct smtp_result *r, size_t n,
                     struct lmtp_result *res)
{
	size_t i;

	for (i = 0; i < n; i++)
		outcome(addr, r, &res[i]);
}

/* lmtp_deliver - one transaction carrying n recipients */
void lmtp_deliver(const struct remote_ctx *rc, const char *addr,
                  const char *sender, const char *const *rcpt, size_t n,
                  int body_8bit, int fd, off_t offset,
                  struct lmtp_result *res, int *unreachable)
{
	char key[CONNCACHE_TLS_MAX + 1], qa[LOG_VALUE_MAX];
	struct smtp_result r, *rr = NULL;
	struct smtp_client *c;
	struct smtp_tx tx;
	struct stat st;
	size_t i;
	int kept;

	*unreachable = 0;
	if (n == 0)
		return;
	rr = calloc(n, sizeof *rr);
	if (rr == NULL) {
		smtp_result_local(&r, SMTP_STAGE_CONNECT, ST_TEMP, 3, 0, "Out of memory");
		all_fail(addr, &r, n, res);
		return;
	}
	snprintf(key, sizeof key, "lmtp %s", addr);
	c = conncache_take(rc->cache, LMTP_CACHE_IP, 0, key);
	kept = c != NULL;
	memset(&tx, 0, sizeof tx);
	tx.sender = sender;
	tx.rcpt = rcpt;
	tx.nrcpt = n;
	tx.fd = fd;
	tx.body_8bit = body_8bit;
	if (fstat(fd, &st) == 0 && st.st_size > offset)
		tx.size = (unsigned long long)(st.st_size - offset);
	for (;;) {
		if (c == NULL && (c = open_conn(rc, addr, &r)) == NULL) {
			/* no greeting at all: the server is down (the scheduler
			 * remembers it a while, --dead-hop-time) */
			*unreachable = r.reply.code == 0;
			all_fail(addr, &r, n, res);
			/* a refused greeting or LHLO says nothing about these
			 * recipients (a misconfigured listener, an SMTP port
			 * given for LMTP): never a bounce for that (RFC 5321 3.1) */
			for (i = 0; i < n; i++)
				if (res[i].st.kind == ST_PERM)
					res[i].st.kind = ST_TEMP;
			free(rr);
			return;
		}
		if (lseek(fd, offset, SEEK_SET) < 0) {
			smtp_result_local(&r, SMTP_STAGE_MAIL, ST_TEMP, 3, 0,
			                  "Cannot read the queue file");
			all_fail(addr, &r, n, res);
			conncache_give(rc->cache, LMTP_CACHE_IP, 0, key, c);
			free(rr);
			return;
		}
		if (smtp_client_send(c, &tx, rr, &r) == 0 || !kept || !stale(c, &r))
			break;
		log_event("lmtp-stale", "server=%s", log_quote(qa, sizeof qa, addr));
		smtp_client_close(c);
		free(c);
		c = NULL;
		kept = 0;
	}
	for (i = 0; i < n; i++)
		outcome(addr, &rr[i], &res[i]);
	/* still usable (delivered, or refused with a reply): kept */
	conncache_give(rc->cache, LMTP_CACHE_IP, 0, key, c);
	free(rr);
}
