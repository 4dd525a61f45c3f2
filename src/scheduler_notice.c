/* scheduler_notice.c - the reports to a sender that are no bounce: the
 * delay warning (--delay-warning) and the success report (NOTIFY=SUCCESS);
 * see scheduler_notice.h */
#include <stdio.h>
#include <unistd.h>

#include "bounce.h"
#include "log.h"
#include "scheduler_notice.h"

/* sched_warn_delay - d's recipient x has waited --delay-warning since its
 * message arrived and was not warned of yet: the sender is sent one
 * report (bounce.h, "delayed") saying until when it will be tried, the
 * earlier of --max-queue-time after arrival and the rounds --attempts
 * has left (an estimate: uncounted rounds add to it).  Returns 1 when
 * the warning is done with (sent; or none wanted: the null sender,
 * NOTIFY= without DELAY), to be marked in the job (job.h warned); 0
 * when it could not be written (tried again at the next deferral) or
 * is not due. */
int sched_warn_delay(struct sched *s, const struct delivery *d,
                     const struct delivery_rcpt *x,
                     const struct job_info *info, long long now)
{
	long long until = d->arrival + (long long)s->cfg->max_queue_time;
	long long by_rounds = now + (long long)(s->cfg->attempts > info->attempts
	                      ? s->cfg->attempts - info->attempts : 0) * s->cfg->retry;
	char qaddr[LOG_VALUE_MAX], qerr[LOG_VALUE_MAX];
	struct bounce_rcpt br;
	struct envelope env;
	long long offset;
	struct status st;
	int fd, r = -1;

	if (s->cfg->delay_warning == 0 || info->warned != 0 || d->arrival <= 0 ||
	    now - d->arrival < (long long)s->cfg->delay_warning)
		return 0;
	if (by_rounds < until)
		until = by_rounds;
	br = (struct bounce_rcpt){ x->rcpt, x->result, x->remote_mta, x->diag,
	                           BOUNCE_DELAYED, (time_t)until };
	if ((fd = queue_msg_read(s->q, QUEUE_MESS, d->id, &env, &offset)) < 0) {
		envelope_free(&env);
		return 0;
	}
	if (env.sender.text[0] == '\0')
		r = 1;              /* never to the null sender */
	else if ((r = bounce_send(s->q, s->cfg->hostname, &env, fd, offset, &br,
	                          1, &st)) == 0)
		log_event("delay-warning", "id=%s rcpt=%s to=%s until=%lld", d->id,
		          log_addr(qaddr, sizeof qaddr, x->rcpt),
		          log_addr(qerr, sizeof qerr, env.sender.text), until);
	else if (r < 0)
		log_event("bounce-error", "id=%s error=%s", d->id,
		          log_quote(qerr, sizeof qerr, st.text));
	close(fd);
	envelope_free(&env);
	return r >= 0;
}

/* sched_report_success - d's recipient x asked for NOTIFY=SUCCESS and was
 * delivered here or over LMTP ("delivered") or to a server that does not
 * offer DSN
 * ("relayed"; one that does reports itself).  Best effort, before the
 * job (and maybe the message) is gone: a report that cannot be written
 * is logged, the delivery stands. */
void sched_report_success(struct sched *s, const struct delivery *d,
                          const struct delivery_rcpt *x)
{
	char qaddr[LOG_VALUE_MAX], qerr[LOG_VALUE_MAX];
	/* LMTP delivers into the mailbox too: its server is the final one */
	enum bounce_action act = d->transport == TRANSPORT_LOCAL ||
	                         d->transport == TRANSPORT_LMTP
	                         ? BOUNCE_DELIVERED : BOUNCE_RELAYED;
	struct bounce_rcpt br = { x->rcpt, status_ok(), x->remote_mta, "", act, 0 };
	struct envelope env;
	long long offset;
	struct status st;
	int fd, r;

	if (!(x->notify & DSN_SUCCESS) || x->dsn_passed)
		return;
	snprintf(br.st.text, sizeof br.st.text, "%s", act == BOUNCE_DELIVERED
	         ? "delivered to the mailbox" : "passed on; no further reports "
	         "will come from the next server");
	if ((fd = queue_msg_read(s->q, QUEUE_MESS, d->id, &env, &offset)) < 0) {
		envelope_free(&env);
		return;
	}
	if (env.sender.text[0] == '\0')
		r = 1;
	else
		r = bounce_send(s->q, s->cfg->hostname, &env, fd, offset, &br, 1, &st);
	if (r == 0)
		log_event("success-report", "id=%s rcpt=%s to=%s action=%s", d->id,
		          log_addr(qaddr, sizeof qaddr, x->rcpt),
		          log_addr(qerr, sizeof qerr, env.sender.text),
		          act == BOUNCE_DELIVERED ? "delivered" : "relayed");
	else if (r < 0)
		log_event("bounce-error", "id=%s error=%s", d->id,
		          log_quote(qerr, sizeof qerr, st.text));
	close(fd);
	envelope_free(&env);
}
