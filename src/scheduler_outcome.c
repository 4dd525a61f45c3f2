/* scheduler_outcome.c - the scheduler applying delivery outcomes:
 * delivered, deferred (renamed to the next DUE), failed (reported to the
 * sender, several recipients at once); the slots it held go to the jobs
 * waiting for them.  See
 * scheduler.h and scheduler_priv.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "bounce.h"
#include "log.h"
#include "scheduler_explode.h"
#include "scheduler_notice.h"
#include "scheduler_outcome.h"
#include "scheduler_route.h"

/* sched_postpone - job j (taken out of the heap) waits again until due.
 * Its file is renamed to the new DUE first: the name is where the due
 * time lives, and memory must name the file that is there, or finishing
 * the job would unlink nothing and leave it to be delivered again.  The
 * rename never replaces a file: a name taken (a copy of the job made by
 * hand) moves the job a second later.  A job whose file is gone (removed
 * or renamed by hand while it was delivered, the events not read yet) is
 * gone: its outcome is dropped and it is noted missing, to be forgotten
 * or found under its new name once the events are read, at once.  If the
 * rename fails otherwise the job keeps its name and its old (past) due
 * time; then the queue cannot record outcomes, and rather than deliver
 * the job again at once, and again, the scheduler starts no delivery at
 * all for --retry seconds.  A job of a message in its first attempt
 * with no files (jt_msg.unfiled) waits in memory only: its message's
 * file in new/ keeps it pending. */
int sched_postpone(struct sched *s, struct jt_job *j, long long due)
{
	char old[JOB_NAME_MAX], name[JOB_NAME_MAX];
	long long was = j->due;
	unsigned k;
	int r = 0;

	if (j->msg->unfiled) {
		jobtab_stop(s->t, j, due);
		return 0;
	}
	sched_job_file(j, old);
	for (k = 0; k < 60; k++, due++) {
		j->due = due;
		sched_job_file(j, name);
		if (strcmp(old, name) == 0 ||
		    (r = queue_job_rename(s->q, old, name)) == 0 ||
		    errno != EEXIST)
			break;
	}
	if (r < 0 && errno == ENOENT) {
		log_event("job-gone", "job=%s outcome=dropped", old);
		jobtab_stop(s->t, j, was);
		sched_note_missing(s, j, 0);
		return -1;
	}
	if (r < 0) {
		log_event("queue-error", "op=rename file=rcpt/%s error=\"%s\" "
		          "action=pause seconds=%u", old, strerror(errno), s->cfg->retry);
		s->paused_until = (long long)time(NULL) + s->cfg->retry;
		jobtab_stop(s->t, j, was);
		return -1;
	}
	jobtab_stop(s->t, j, due);
	return 0;
}

/* sched_returned_status - the failure of a job an operator returned to
 * its sender (DUE JOB_DUE_BOUNCE, mta-queue --bounce) */
struct status sched_returned_status(void)
{
	return status_make(ST_PERM, 0, 0, "Returned to the sender by the "
	                   "postmaster of this system, untried");
}

/* defer - a round failed for a while: rename the job to its next DUE,
 * then record the attempt in it.  A round that could not try every MX
 * (a DNS failure, remote.h) is recorded but not counted.  Returns 0, or
 * -1 when the attempts are used up or the message has been queued for
 * --max-queue-time (then x->result says so; the caller fails the
 * recipient): sched_policy_retry decides. */
static int defer(struct sched *s, struct jt_job *j, const struct delivery *d,
                 struct delivery_rcpt *x, long long now)
{
	struct sp_limits lim = sched_limits(s);
	char name[JOB_NAME_MAX], qrcpt[LOG_VALUE_MAX];
	struct job_info info;
	struct sp_retry r;

	/* renamed while it ran: returned by the operator, it fails now */
	if (j->due == JOB_DUE_BOUNCE) {
		x->result = sched_returned_status();
		return -1;
	}
	/* A first attempt's deferral is what needs job files: made now, for
	 * every job the message has left (failing that, it waits in memory,
	 * its file in new/ keeping it pending; its attempts then count from
	 * nothing again, but not its time in the queue). */
	sched_file_message(s, j->msg, "deferred");
	sched_job_file(j, name);
	/* an unreadable content counts as none: the attempts start again */
	queue_job_read(s->q, name, &info, 0);
	r = sched_policy_retry(&lim, info.attempts, info.first, d->uncounted != 0,
	                       d->arrival, now);
	if (r.verdict == SP_GIVE_UP)
		return -1;
	if (r.verdict == SP_EXPIRED) {
		/* RFC 3463 4.4.7: delivery time expired, the last error kept */
		struct status last = x->result;

		x->result = status_make(ST_TEMP, 4, 7, "Gave up after %lld seconds "
		                        "in the queue: %s", now - d->arrival, last.text);
		return -1;
	}
	if (j->due >= JOB_DUE_HELD)
		r.due = j->due;     /* held while it ran: it stays held */
	/* before the job is written: the mark goes with this attempt's
	 * record (a crash between the two warns again, never not at all) */
	if (x->warned_now || sched_warn_delay(s, d, x, &info, now))
		info.warned = now;
	info.attempts = r.attempts;
	info.first = r.first;
	snprintf(info.error, sizeof info.error, "%s", x->result.text);
	snprintf(info.tls, sizeof info.tls, "%s", x->tls);
	/* Rename first: a crash after it leaves the old content under the new
	 * name (one attempt uncounted), never two files for one recipient. */
	if (sched_postpone(s, j, r.due) == 0 && !j->msg->unfiled) {
		sched_job_file(j, name);
		/* ENOENT: renamed away by an operator since (mta-queue --hold):
		 * found under its new name, this attempt uncounted */
		if (queue_job_write(s->q, name, &info) < 0 && errno != ENOENT)
			log_event("queue-error", "op=write file=rcpt/%s error=\"%s\"", name,
			          strerror(errno));
	}
	log_event("retry", "id=%s rcpt=%s attempt=%u%s next=%lld", d->id,
	          log_addr(qrcpt, sizeof qrcpt, x->rcpt), info.attempts,
	          d->uncounted == UNCOUNTED_DNS ? " uncounted=dns"
	          : d->uncounted ? " uncounted=dead-hop" : "", r.due);
	return 0;
}

/* a job's file sought under any DUE (renamed_to) */
struct seek {
	struct job_name jn;
	char found[JOB_NAME_MAX];
};

/* renamed_to - queue_scan: is name the sought job under another DUE? */
static int renamed_to(void *arg, const char *name, unsigned char type)
{
	struct seek *k = arg;
	struct job_name jn;

	(void)type;
	if (k->found[0] == '\0' && strlen(name) < JOB_NAME_MAX &&
	    job_name_parse(name, &jn) == 0 && jn.n == k->jn.n &&
	    strcmp(jn.id, k->jn.id) == 0)
		memcpy(k->found, name, strlen(name) + 1);
	return 0;
}

/* finish_job - the recipient is done (delivered or failed): unlink it.
 * Gone from its name, it may have been renamed by an operator as the
 * outcome came (mta-queue --hold), the event not read yet: the outcome
 * holds under the new name (mta-queue(5)), or a held job would deliver
 * the message again once released. */
static void finish_job(struct sched *s, struct jt_job *j)
{
	char name[JOB_NAME_MAX];
	struct seek k;

	sched_job_file(j, name);
	if (!j->msg->unfiled && queue_unlink(s->q, QUEUE_RCPT, name) < 0) {
		if (errno != ENOENT)
			log_event("queue-error", "op=unlink file=rcpt/%s error=\"%s\"", name,
			          strerror(errno));
		else if (job_name_parse(name, &k.jn) == 0) {
			k.found[0] = '\0';
			if (queue_scan(s->q, QUEUE_RCPT, renamed_to, &k) == 0 && k.found[0] &&
			    queue_unlink(s->q, QUEUE_RCPT, k.found) == 0)
				log_event("job-renamed", "job=%s now=%s outcome=applied", name,
				          k.found);
		}
	}
	sched_forget_job(s, j);
}

/* running_siblings - jobs of m other than j still being delivered */
static int running_siblings(const struct jt_msg *m, const struct jt_job *j)
{
	const struct jt_job *k;

	for (k = m->jobs; k; k = k->next)
		if (k != j && (k->state == JT_RUNNING || k->state == JT_PARKED))
			return 1;
	return 0;
}

/* report_failures - once no delivery of m is running, tell the sender
 * about every failed recipient in one report, then drop their jobs */
static void report_failures(struct sched *s, struct jt_msg *m)
{
	struct failed_rcpt *f, *list = m->fails, *next;
	char qaddr[LOG_VALUE_MAX];
	struct bounce_rcpt *br;
	struct envelope env;
	long long offset;
	struct status st;
	size_t n = 0, i;
	int fd, ok = 0, r;

	if (!sched_policy_report_now(list != NULL, running_siblings(m, NULL)))
		return;
	m->fails = NULL;
	for (f = list; f; f = f->next)
		n++;
	br = calloc(n, sizeof *br);
	fd = queue_msg_read(s->q, sched_where(m), m->id, &env, &offset);
	if (br != NULL && fd >= 0) {
		for (f = list, i = 0; f; f = f->next, i++)
			br[i] = (struct bounce_rcpt){ f->rcpt, f->st, f->remote_mta, f->diag,
			                              BOUNCE_FAILED, 0 };
		if (env.sender.text[0] == '\0') {
			/* a bounce that bounced: log it, never bounce it again */
			for (f = list; f; f = f->next)
				log_event("bounce-dropped", "id=%s rcpt=%s reason=null-sender",
				          m->id, log_addr(qaddr, sizeof qaddr, f->rcpt));
			ok = 1;
		} else if ((r = bounce_send(s->q, s->cfg->hostname, &env, fd, offset,
		                            br, n, &st)) >= 0) {
			size_t wanted = 0;

			for (i = 0; i < n; i++)
				wanted += (size_t)bounce_wanted(&env, br[i].rcpt, BOUNCE_FAILED);
			if (wanted > 0)
				log_event("bounce", "id=%s to=%s rcpts=%zu", m->id,
				          log_addr(qaddr, sizeof qaddr, env.sender.text), wanted);
			if (wanted < n)  /* NOTIFY= without FAILURE, or NEVER */
				log_event("bounce-dropped", "id=%s rcpts=%zu reason=notify",
				          m->id, n - wanted);
			ok = 1;
		} else {
			log_event("bounce-error", "id=%s error=%s", m->id,
			          log_quote(qaddr, sizeof qaddr, st.text));
		}
	}
	if (fd >= 0)
		close(fd);
	envelope_free(&env);
	free(br);
	for (f = list; f; f = next) {
		next = f->next;
		f->job->state = JT_RUNNING;  /* out of the heap, reported */
		if (ok) {
			finish_job(s, f->job);   /* may free m with its last job */
		} else if (f->job->gone) {
			sched_drop_removed(s, f->job, NAMED_LOOK); /* deleted while it waited */
		} else {
			/* No report was written: deliver again later, and report
			 * then if it fails again. */
			sched_postpone(s, f->job, (long long)time(NULL) + s->cfg->retry);
		}
		free(f);
	}
}

/* fail_job - a recipient failed for good: keep it until reported */
static void fail_job(struct sched *s, struct jt_job *j, const struct delivery *d,
                     const struct delivery_rcpt *x)
{
	struct failed_rcpt *f = calloc(1, sizeof *f);
	char qrcpt[LOG_VALUE_MAX], qerr[LOG_LINE_MAX / 2];

	log_event("failed-rcpt", "id=%s rcpt=%s error=%s", d->id,
	          log_addr(qrcpt, sizeof qrcpt, x->rcpt),
	          log_quote(qerr, sizeof qerr, x->result.text));
	if (f == NULL) {
		sched_postpone(s, j, (long long)time(NULL) + s->cfg->retry);
		return;
	}
	f->job = j;
	f->st = x->result;
	if (f->st.kind == ST_OK)
		f->st.kind = ST_PERM;
	memcpy(f->rcpt, x->rcpt, sizeof f->rcpt);
	memcpy(f->remote_mta, x->remote_mta, sizeof f->remote_mta);
	memcpy(f->diag, x->diag, sizeof f->diag);
	j->state = JT_FAILED;        /* stays out of the heap */
	f->next = j->msg->fails;
	j->msg->fails = f;
}

/* job_removed - forget j, removed by hand while it was delivered or
 * parked; if it was the last delivery of its message under way, the
 * failed recipients that waited for it are reported now */
static void job_removed(struct sched *s, struct jt_job *j)
{
	char id[ENVELOPE_ID_MAX];
	struct jt_msg *m;

	memcpy(id, j->msg->id, sizeof id);
	sched_drop_removed(s, j, NAMED_LOOK);
	if ((m = jobtab_msg(s->t, id)) != NULL)
		report_failures(s, m);
}

/* sched_unwait - j leaves its waiting line: due already, it goes now.
 * 1 when it went back to the heap due now, to take a slot at the next
 * dispatch; 0 when it will not (NULL; removed by hand; held by hand,
 * renamed to a later due, while it waited) */
int sched_unwait(struct sched *s, struct jt_job *j)
{
	if (j == NULL)
		return 0;
	j->state = JT_RUNNING;       /* out of the heap, in no line */
	if (j->gone) {
		/* removed while it waited: its failed siblings may have
		 * waited for it to report */
		job_removed(s, j);
		return 0;
	}
	/* Parked, it counted as running, and failed siblings wait for it
	 * still: due, it goes next, and its outcome (sched_completed)
	 * reports them, its own failure with theirs.  Reporting them now
	 * would send the sender a second bounce for j, were it to fail.
	 * Held by hand while it waited (renamed to a later due), it goes
	 * nowhere soon: they are reported now. */
	jobtab_stop(s->t, j, j->due);
	if (j->due <= (long long)time(NULL))
		return 1;
	sched_report_failures(s, j->msg);
	return 0;
}

/* riders_go - k left the line of hop (NULL: of transport tr) for a
 * slot: the siblings parked right behind it on its route (a message's
 * jobs park one after the other) leave with it and take no slot of their
 * own, as k's delivery carries them (sched_group); else each would take
 * a slot, and go alone */
static void riders_go(struct sched *s, const struct jt_job *k, const char *hop,
                      enum transport_id tr)
{
	unsigned left = transport_table[tr].group;
	struct jt_job *n;

	while (--left > 0 &&
	       (n = hop ? destlimit_first_hop(s->dests, hop)
	                : destlimit_first_transport(s->dests, tr)) != NULL &&
	       sched_rides_with(n, k)) {
		if (hop)
			destlimit_unwait_hop(s->dests, hop);
		else
			destlimit_unwait_transport(s->dests, tr);
		sched_unwait(s, n);
	}
}

/* sched_unwait_transport - the first job in transport tr's line that
 * goes back to the heap due (those that will not are let go on the way),
 * with its riders */
void sched_unwait_transport(struct sched *s, enum transport_id tr)
{
	struct jt_job *k;

	while ((k = destlimit_unwait_transport(s->dests, tr)) != NULL)
		if (sched_unwait(s, k)) {
			riders_go(s, k, NULL, tr);
			return;
		}
}

/* sched_report_failures - report m's failed recipients if no delivery of
 * m runs any more (a job of m not running was just forgotten) */
void sched_report_failures(struct sched *s, struct jt_msg *m)
{
	report_failures(s, m);
}

/* sched_reserve_freed - room in s->freed for one entry per delivery
 * running and one more: called before a delivery starts, so that
 * note_freed, when it ends, never needs memory (out of memory there the
 * hop's last delivery would leave its line waiting for good); 0, or -1
 * when out of memory (then no delivery should start) */
int sched_reserve_freed(struct sched *s)
{
	size_t need = s->nfreed + s->running + 1, cap;
	struct freed_hop *f;

	if (s->freed_cap >= need)
		return 0;
	cap = s->freed_cap ? s->freed_cap * 2 : 16;
	if (cap < need)
		cap = need;
	if ((f = realloc(s->freed, cap * sizeof *f)) == NULL)
		return -1;
	s->freed = f;
	s->freed_cap = cap;
	return 0;
}

/* note_freed - a slot of hop (transport tr) came free: its line moves at
 * the next sched_release_freed.  Not at once: a job let go is not running
 * until the next dispatch, so a second delivery to the same hop ending
 * in the same batch would count its slot as free as well and let go one
 * job too many, then two, ... (each sent back into the line, at the end
 * of it, and routed and logged again); once per hop per batch counts
 * right.  The room was reserved when the delivery started
 * (sched_reserve_freed); were it not, and memory is out, the next
 * rescan looks again, at once. */
static void note_freed(struct sched *s, enum transport_id tr, const char *hop)
{
	size_t i;

	for (i = 0; i < s->nfreed; i++)
		if (s->freed[i].tr == tr && strcasecmp(s->freed[i].hop, hop) == 0) {
			s->freed[i].released = 0;
			return;
		}
	if (s->nfreed == s->freed_cap && sched_reserve_freed(s) < 0) {
		s->next_rescan = 0;  /* not reserved, and out of memory */
		return;
	}
	s->freed[s->nfreed].tr = tr;
	s->freed[s->nfreed].released = 0;
	snprintf(s->freed[s->nfreed].hop, sizeof s->freed[s->nfreed].hop, "%s", hop);
	s->nfreed++;
}

/* release_hop - f's line lets go as many jobs as its hop has free slots,
 * counting only those that go back to the heap due: one removed or held
 * by hand while it waited takes no slot */
static void release_hop(struct sched *s, struct freed_hop *f)
{
	unsigned running = destlimit_hop_running(s->dests, f->hop);
	unsigned limit = transport_hop_limit(s->cfg, f->tr);
	struct jt_job *k;

	while (running < limit && (k = destlimit_unwait_hop(s->dests, f->hop)) != NULL)
		if (sched_unwait(s, k)) {
			running++;
			riders_go(s, k, f->hop, f->tr);
		}
	f->released = 1;
}

/* sched_release_freed - the hops whose slots came free since the last
 * call let go as many waiting jobs as they have free slots; the hops are
 * kept for sched_recheck_freed */
void sched_release_freed(struct sched *s)
{
	size_t i;

	for (i = 0; i < s->nfreed; i++)
		if (!s->freed[i].released)
			release_hop(s, &s->freed[i]);
}

/* sched_recheck_freed - once the jobs let go have all been dispatched
 * (nothing due is left in the heap), the counts are exact again: a job
 * that took no slot of its hop after all (routed to another hop since a
 * reload) left it free, so each hop freed lets go again while it has a
 * free slot; then the hops are done with */
void sched_recheck_freed(struct sched *s)
{
	size_t i;

	for (i = 0; i < s->nfreed; i++)
		release_hop(s, &s->freed[i]);
	s->nfreed = 0;
}

/* note_line - destlimit_each_line: a hop with a line is looked at again */
static void note_line(void *arg, enum transport_id tr, const char *hop)
{
	struct sched *s = arg;

	/* the room of the deliveries running is theirs */
	if (sched_reserve_freed(s) == 0)
		note_freed(s, tr, hop);
}

/* sched_recheck_lines - the backstop (each rescan): every hop with a
 * line is looked at again at the next dispatch, and every transport's
 * line lets a job go if it has a free slot */
void sched_recheck_lines(struct sched *s)
{
	int tr;

	destlimit_each_line(s->dests, note_line, s);
	for (tr = 0; tr < TRANSPORT_COUNT; tr++)
		if (destlimit_running(s->dests, (enum transport_id)tr) <
		    transport_limit(s->cfg, (enum transport_id)tr))
			sched_unwait_transport(s, (enum transport_id)tr);
}

/* release_slots - d's delivery ended: give its slots back and let the
 * jobs waiting for them go; a hop found dead sends every job waiting for
 * it on (to be deferred at once) */
static void release_slots(struct sched *s, const struct delivery *d)
{
	enum transport_id tr = (enum transport_id)d->transport;
	char qhop[LOG_VALUE_MAX];
	long long now = (long long)time(NULL);
	struct sp_limits lim = sched_limits(s);
	unsigned dt = sched_policy_dead_time(&lim);
	struct jt_job *k;

	if (d->transport < 0 || d->transport >= TRANSPORT_COUNT)
		return;
	if (d->slotted)
		destlimit_give(s->dests, tr, d->hop);
	if (d->unreachable && dt > 0 && d->hop[0]) {
		destlimit_set_dead(s->dests, d->hop, now + dt);
		log_event("hop-dead", "hop=%s seconds=%u until=%lld",
		          log_quote(qhop, sizeof qhop, d->hop), dt, now + dt);
		while ((k = destlimit_unwait_hop(s->dests, d->hop)) != NULL)
			sched_unwait(s, k);
	}
	if (!d->slotted)
		return;
	note_freed(s, tr, d->hop);
	/* one for the slot freed; one that finds its hop full hands its
	 * turn on (sched_dispatch) */
	if (destlimit_running(s->dests, tr) < transport_limit(s->cfg, tr))
		sched_unwait_transport(s, tr);
}

/* apply_outcome - x's job (one recipient of d) delivered, deferred,
 * failed or quarantined; now: the clock of d's completion */
static void apply_outcome(struct sched *s, const struct delivery *d,
                          struct delivery_rcpt *x, long long now)
{
	struct jt_job *j = x->job;
	struct jt_msg *m = j->msg;
	char name[JOB_NAME_MAX];
	enum sp_bad bad = x->bad == DELIVERY_BAD_MESSAGE ? SP_MESSAGE_UNUSABLE
	                : x->bad ? SP_JOB_UNUSABLE : SP_SOUND;

	/* j is still out of the heap here (JT_RUNNING): removing it must
	 * not touch the heap, which it left when it started. */
	switch (sched_policy_outcome(x->result.kind, bad, j->gone)) {
	case SP_DROP:
		job_removed(s, j);           /* removed by an operator meanwhile */
		return;
	case SP_BAD_MESSAGE:
	case SP_BAD_JOB:
		sched_job_file(j, name);
		if (!m->unfiled)
			queue_quarantine(s->q, QUEUE_RCPT, name, x->result.text);
		if (bad == SP_MESSAGE_UNUSABLE) {
			if (queue_exists(s->q, sched_where(m), d->id))
				queue_quarantine(s->q, sched_where(m), d->id, x->result.text);
			m->filing = 0;      /* not to be moved: gone to bad/ */
			sched_unlist(s, j);
			jobtab_remove(s->t, j);
		} else {
			sched_forget_job(s, j);  /* a sound message goes with its last job */
		}
		/* failed siblings that waited for this delivery report now (or,
		 * the message gone to bad/, are tried again and follow it) */
		if ((m = jobtab_msg(s->t, d->id)) != NULL)
			report_failures(s, m);
		return;
	case SP_DONE:
		/* The message outlives this job while failed recipients of it
		 * wait for their report (they are jobs too). */
		sched_report_success(s, d, x);
		finish_job(s, j);
		if ((m = jobtab_msg(s->t, d->id)) != NULL)
			report_failures(s, m);
		return;
	case SP_RETRY:
		if (defer(s, j, d, x, now) == 0) {
			/* (j may be gone meanwhile, and m with it) */
			if ((m = jobtab_msg(s->t, d->id)) != NULL)
				report_failures(s, m);
			return;
		}
		break;
	case SP_FAIL:
		break;
	}
	fail_job(s, j, d, x);
	report_failures(s, m);
}

/* sched_completed - apply one delivery's outcomes, each recipient's to
 * its own job (in recipient order: the jobs of a group still to come are
 * JT_RUNNING, so a failure's report waits for them and takes theirs
 * along, one bounce), then give its slots to the jobs waiting for them:
 * in this order, a sibling of a failed job still waits in its line (and
 * counts as running) when the failure is reported, so the report waits
 * for it too; let go first, it would be neither, and fail later in a
 * bounce of its own */
void sched_completed(struct sched *s, struct delivery *d)
{
	/* One clock reading for the delivery: read twice, a second boundary
	 * between the group's check and a recipient's made the group "not
	 * yet due" and each recipient "due": a warning each, not one.  Not
	 * time(): it follows a coarser clock, which can still say the last
	 * second a few milliseconds after the log (and the delivery's own
	 * "deferred" line) stamped the next, and a retry's DUE would then be
	 * a second short. */
	struct timespec ts;
	long long now;
	size_t i;

	clock_gettime(CLOCK_REALTIME, &ts);
	now = (long long)ts.tv_sec;

	s->running--;
	sched_warn_group(s, d, now);
	for (i = 0; i < d->nrcpt; i++)
		apply_outcome(s, d, &d->r[i], now);
	release_slots(s, d);
}
