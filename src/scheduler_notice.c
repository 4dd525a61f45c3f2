/* scheduler_notice.c - the reports to a sender that are no bounce: the
 * delay warning (--delay-warning) and the success report (NOTIFY=SUCCESS);
 * see scheduler_notice.h */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "bounce.h"
#include "log.h"
#include "scheduler_notice.h"

/* warn_until - until when the recipient of info is tried: the earlier
 * of --max-queue-time after arrival and the rounds --attempts has left
 * (an estimate: uncounted rounds add to it) */
static long long warn_until(const struct sched *s, const struct delivery *d,
                            const struct job_info *info, long long now)
{
	long long until = d->arrival + (long long)s->cfg->max_queue_time;
	long long by_rounds = now + (long long)(s->cfg->attempts > info->attempts
	                      ? s->cfg->attempts - info->attempts : 0) * s->cfg->retry;

	return by_rounds < until ? by_rounds : until;
}

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
	long long until;
	char qaddr[LOG_VALUE_MAX], qerr[LOG_VALUE_MAX];
	struct bounce_rcpt br;
	struct envelope env;
	long long offset;
	struct status st;
	int fd, r = -1;

	if (s->cfg->delay_warning == 0 || info->warned != 0 || d->arrival <= 0 ||
	    now - d->arrival < (long long)s->cfg->delay_warning)
		return 0;
	until = warn_until(s, d, info, now);
	br = (struct bounce_rcpt){ x->rcpt, x->result, x->remote_mta, x->diag,
	                           BOUNCE_DELAYED, (time_t)until };
	if ((fd = queue_msg_read(s->q, sched_msg_where(s, d->id), d->id, &env, &offset)) < 0) {
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
 * offer DSN ("relayed"; one that does reports itself).  Best effort,
 * before the job (and maybe the message) is gone: a report that cannot
 * be written is logged, the delivery stands. */
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
	if ((fd = queue_msg_read(s->q, sched_msg_where(s, d->id), d->id, &env, &offset)) < 0) {
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

/* due - is x (of d) deferred now with its warning due and not sent? */
static int due(struct sched *s, const struct delivery *d,
               const struct delivery_rcpt *x, struct job_info *info,
               long long now)
{
	struct sp_limits lim = sched_limits(s);
	const struct jt_job *j = x->job;
	char name[JOB_NAME_MAX];
	struct sp_retry r;

	if (x->result.kind != ST_TEMP || x->bad || j->gone ||
	    j->due == JOB_DUE_BOUNCE)
		return 0;
	sched_job_file(j, name);
	queue_job_read(s->q, name, info, 0);
	if (info->warned != 0)
		return 0;
	r = sched_policy_retry(&lim, info->attempts, info->first, d->uncounted != 0,
	                       d->arrival, now);
	return r.verdict != SP_GIVE_UP && r.verdict != SP_EXPIRED;
}

/* sched_warn_group - d's recipients deferred together: the delay
 * warnings due for them go in one report (a message to two hundred
 * recipients at one slow domain would otherwise send two hundred); each
 * one in it is marked (x->warned_now), and defer() records the mark in
 * its job as it would after its own warning: written after the report,
 * so a crash between warns again, never not at all.  Nothing when fewer
 * than two are due: defer() warns a single one itself. */
void sched_warn_group(struct sched *s, struct delivery *d, long long now)
{
	char qerr[LOG_VALUE_MAX];
	struct bounce_rcpt *br;
	struct envelope env;
	struct job_info info;
	struct status st;
	long long offset;
	size_t *idx, i, n = 0;
	int fd, r;

	if (d->nrcpt < 2 || s->cfg->delay_warning == 0 || d->arrival <= 0 ||
	    now - d->arrival < (long long)s->cfg->delay_warning)
		return;
	br = calloc(d->nrcpt, sizeof *br);
	idx = calloc(d->nrcpt, sizeof *idx);
	for (i = 0; br != NULL && idx != NULL && i < d->nrcpt; i++) {
		const struct delivery_rcpt *x = &d->r[i];

		if (!due(s, d, x, &info, now))
			continue;
		br[n] = (struct bounce_rcpt){ x->rcpt, x->result, x->remote_mta,
		                              x->diag, BOUNCE_DELAYED,
		                              (time_t)warn_until(s, d, &info, now) };
		idx[n++] = i;
	}
	if (n < 2 || (fd = queue_msg_read(s->q, sched_msg_where(s, d->id), d->id, &env,
	                                   &offset)) < 0) {
		if (n >= 2)
			envelope_free(&env);
		free(idx);
		free(br);
		return;
	}
	if (env.sender.text[0] == '\0')
		r = 1;              /* never to the null sender */
	else if ((r = bounce_send(s->q, s->cfg->hostname, &env, fd, offset, br, n,
	                          &st)) == 0)
		log_event("delay-warning", "id=%s rcpts=%zu to=%s", d->id, n,
		          log_addr(qerr, sizeof qerr, env.sender.text));
	else if (r < 0)
		log_event("bounce-error", "id=%s error=%s", d->id,
		          log_quote(qerr, sizeof qerr, st.text));
	for (i = 0; r >= 0 && i < n; i++)
		d->r[idx[i]].warned_now = 1;
	close(fd);
	envelope_free(&env);
	free(idx);
	free(br);
}
