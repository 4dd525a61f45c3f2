/* scheduler_explode.c - the scheduler taking new messages.  A message
 * seen in new/ gets a job in memory per recipient and is delivered from
 * there: its file in new/ is what keeps every recipient pending, so a
 * first attempt that succeeds leaves no file behind but the message's
 * own unlink.  Job files, with their retry times in their names, are made
 * only once a recipient must wait (sched_file_message), and the message
 * is then taken into mess/, a batch at a time (sched_file_batch), so that
 * one fsync of rcpt/ and one of mess/ cover many messages.  A message
 * found in new/ with job files (a crash before its move) is taken the
 * same way at once, with a file for every recipient.  The file steps are
 * the store's (queue.h); the order of them is mta-queue(5)'s crash
 * argument.  See scheduler_priv.h. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "monotonic.h"
#include "scheduler_explode.h"
#include "scheduler_route.h"

/* sched_arrived - a message in new/: explode it with the next batch */
int sched_arrived(struct sched *s, const char *name, unsigned char type,
                  unsigned char created)
{
	struct jt_msg *m;

	if (!job_id_valid(name, strlen(name))) {
		queue_quarantine(s->q, QUEUE_NEW, name, "not a queue ID");
		return 0;
	}
	if (queue_not_regular(s->q, QUEUE_NEW, name, type)) {
		queue_quarantine(s->q, QUEUE_NEW, name, "not a regular file");
		return 0;
	}
	/* In its first attempt already (a rescan, a late event): exploding it
	 * again would deliver it twice, or take it into mess/ without the job
	 * files of its recipients. */
	if ((m = jobtab_msg(s->t, name)) != NULL && m->in_new)
		return 0;
	/* Its receiver is still committing it (fdatasync, fsync of new/):
	 * the close that follows the decision brings it back (closed_new). */
	if (queue_msg_committing(s->q, name))
		return 0;
	if (s->narrived == s->arrived_cap) {
		size_t cap = s->arrived_cap ? s->arrived_cap * 2 : 64;
		void *a = realloc(s->arrived, cap * sizeof *s->arrived);
		void *c = a ? realloc(s->created, cap) : NULL;

		if (a != NULL)
			s->arrived = a;
		if (c == NULL) {
			s->next_rescan = time(NULL) + EXPLODE_RETRY;
			return -1;
		}
		s->created = c;
		s->arrived_cap = cap;
	}
	s->created[s->narrived] = created;
	snprintf(s->arrived[s->narrived++], ENVELOPE_ID_MAX, "%s", name);
	return 0;
}

/* sched_closed_new - a receiver closed new/name: its commit is decided
 * (queue_msg_committing), a file left alone at its rename is taken now;
 * one in this batch already is not queued twice, but is finished now (no
 * longer "created": a file that fails its checks goes to bad/ at once,
 * not at the next rescan) */
int sched_closed_new(struct sched *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->narrived; i++)
		if (strcmp(s->arrived[i], name) == 0) {
			s->created[i] = 0;
			return 0;
		}
	return sched_arrived(s, name, DT_UNKNOWN, 0);
}

/* sched_forget_untaken - forget the jobs in memory of message id, which
 * explode did not finish (its files stay): none of them has started,
 * since deliveries start only once a batch is done */
void sched_forget_untaken(struct sched *s, const char *id)
{
	struct jt_msg *m = jobtab_msg(s->t, id);

	if (m == NULL)
		return;
	while (m->jobs && m->pending > 1) {
		sched_unlist(s, m->jobs);
		jobtab_remove(s->t, m->jobs);
	}
	if (m->jobs) {
		sched_unlist(s, m->jobs);
		jobtab_remove(s->t, m->jobs);
	} else {
		jobtab_drop_msg(s->t, m);
	}
}

/* young_push - a first attempt begins now: filed at FILE_AFTER_MS if it
 * is still under way then (sched_file_young); 0, or -1 out of memory */
static int young_push(struct sched *s, const char *id)
{
	struct first_attempt *y;

	if (s->nyoung == s->young_cap && s->young_head > 0) {
		memmove(s->young, s->young + s->young_head,
		        (s->nyoung - s->young_head) * sizeof *s->young);
		s->nyoung -= s->young_head;
		s->young_head = 0;
	}
	if (s->nyoung == s->young_cap) {
		size_t cap = s->young_cap ? s->young_cap * 2 : 64;

		if ((y = realloc(s->young, cap * sizeof *y)) == NULL)
			return -1;
		s->young = y;
		s->young_cap = cap;
	}
	y = &s->young[s->nyoung++];
	y->ms = monotonic_ms();
	memcpy(y->id, id, sizeof y->id);
	return 0;
}

/* sched_young_wait - milliseconds until the oldest first attempt is due
 * to be filed (0: now), or -1 when none is under way; never less than
 * 100 ms ahead, so that a burst of messages wakes the scheduler a few
 * times a second for them, not once for each */
long long sched_young_wait(const struct sched *s)
{
	long long left;

	if (s->young_head == s->nyoung)
		return -1;
	left = s->young[s->young_head].ms + FILE_AFTER_MS - monotonic_ms();
	return left <= 0 ? 0 : left < 100 ? 100 : left;
}

/* sched_file_young - every message whose first attempt has run for
 * FILE_AFTER_MS is filed (sched_file_message): what takes that long is
 * waiting for something (a slow server, a lock, a slot), and an operator
 * may want to see it in rcpt/ and steer it (mta-queue(5), WORKING ON THE
 * QUEUE BY HAND).  One whose filing fails stays in memory, as after a
 * deferral that could not file it. */
void sched_file_young(struct sched *s)
{
	long long now = monotonic_ms();

	while (s->young_head < s->nyoung &&
	       s->young[s->young_head].ms + FILE_AFTER_MS <= now) {
		struct jt_msg *m = jobtab_msg(s->t, s->young[s->young_head++].id);

		if (m != NULL && m->unfiled)
			sched_file_message(s, m, "slow");
	}
	if (s->young_head == s->nyoung)
		s->young_head = s->nyoung = 0;
}

/* create_jobs - the jobs of message id in new/: in memory only (3: its
 * first attempt, from new/), or, when job files of it exist already (a
 * crash or a failed explode before its move), with a file for every
 * recipient (0: to be taken into mess/); 1 (nothing to do), 2 (the same
 * file is in mess/ already: its new/ name goes once mess/ is synced), or
 * -1 (the message stays in new/ and is tried again later).  A bad
 * envelope in a file only seen created is left for the next scan: it may
 * still be being written. */
static int create_jobs(struct sched *s, const char *id, int created)
{
	char qfrom[LOG_VALUE_MAX];
	struct envelope env;
	struct jt_msg *m;
	size_t n;
	int first;

	/* In its first attempt already: nothing to read (a second read would
	 * check and sync it again, and could take it to bad/ under its
	 * deliveries) */
	if ((m = jobtab_msg(s->t, id)) != NULL && m->in_new)
		return 1;
	/* A commit seen to succeed here left its data durable and whole: no
	 * seal check (a read of the whole file), no fdatasync; any other
	 * file (a start-up or overflow scan, another writer) gets both */
	switch (queue_read_new_as(s->q, id, &env, queue_msg_committed(s->q, id))) {
	case QUEUE_NEW_READ:
		break;
	case QUEUE_NEW_LINK:
		envelope_free(&env);
		queue_quarantine(s->q, QUEUE_NEW, id, "not a regular file");
		return 1;
	case QUEUE_NEW_GONE:
		envelope_free(&env);
		return 1;               /* already taken: nothing to do */
	case QUEUE_NEW_TAKEN:
		envelope_free(&env);
		return 2;
	case QUEUE_NEW_CLASH:
		envelope_free(&env);
		queue_quarantine(s->q, QUEUE_NEW, id, "queue ID in use in mess/");
		return 1;
	case QUEUE_NEW_UNSEALED:
		/* Never answered 250 (mta-queue(5), CRASH SAFETY, 2): kept for
		 * the operator, never exploded, never bounced.  One written in
		 * place (created) may be unfinished: its close brings it back,
		 * as for QUEUE_NEW_BAD. */
		envelope_free(&env);
		if (!created)
			queue_quarantine(s->q, QUEUE_NEW, id,
			                 "incomplete: seal not met, never acknowledged");
		return 1;
	case QUEUE_NEW_BAD:
		envelope_free(&env);
		if (!created)
			queue_quarantine(s->q, QUEUE_NEW, id, "bad envelope");
		return 1;
	case QUEUE_NEW_UNSYNCED:
		/* Never tried again: the next fdatasync would say 0 for data
		 * that may be lost.  Kept for the operator, who can move it
		 * back once the disk is sound. */
		log_event("queue-error", "op=fdatasync file=new/%s error=\"%s\" action=quarantine",
		          id, strerror(errno));
		envelope_free(&env);
		queue_quarantine(s->q, QUEUE_NEW, id, "its fdatasync failed: data may not be on disk");
		return 1;
	default:
		/* not readable now (an I/O error, memory short): soon again */
		log_event("queue-error", "op=read file=new/%s error=\"%s\" action=retry seconds=%d",
		          id, strerror(errno), EXPLODE_RETRY);
		envelope_free(&env);
		s->next_rescan = time(NULL) + EXPLODE_RETRY;
		return -1;
	}
	if ((m = jobtab_add_msg(s->t, id)) == NULL)
		goto fail;
	/* Job files of it found (add_job_file): every recipient gets one;
	 * so does every recipient of a message that cannot be timed (out of
	 * memory): the first attempt of either runs from mess/. */
	first = m->pending == 0 && young_push(s, id) == 0;
	for (n = 0; n < env.nrcpt; n++) {
		struct job_name jn;

		if (jobtab_job(m, (unsigned)n) != NULL)
			continue;           /* exists under some DUE: idempotent */
		jn.due = (long long)env.arrival;
		jn.n = (unsigned)n;
		memcpy(jn.id, id, sizeof jn.id);
		if (!first && queue_job_create(s->q, &jn) < 0) {
			char name[JOB_NAME_MAX];
			int e = errno;

			job_name_format(&jn, name);
			log_event("queue-error", "op=create file=rcpt/%s error=\"%s\"",
			          name, strerror(e));
			goto fail;
		}
		if (jobtab_add(s->t, m, (unsigned)n, jn.due) == NULL)
			goto fail;
	}
	m->in_new = m->unfiled = (unsigned char)first;
	sched_route_message(s, m, &env);   /* dispatch reads no file */
	log_event("explode", "id=%s rcpts=%zu from=%s", id, env.nrcpt,
	          log_addr(qfrom, sizeof qfrom, env.sender.text));
	envelope_free(&env);
	return first ? 3 : 0;
fail:
	/* Forget this message's jobs in memory (their files stay and are
	 * found again by the next attempt).  Nothing can have started. */
	sched_forget_untaken(s, id);
	envelope_free(&env);
	s->next_rescan = time(NULL) + EXPLODE_RETRY;
	return -1;
}

/* take - message id in new/ gets its name in mess/ (queue_take): as
 * queue_take, -1 logged */
static int take(struct sched *s, const char *id)
{
	int r = queue_take(s->q, id);

	if (r < 0)
		log_event("queue-error", "op=link file=new/%s error=\"%s\"", id, strerror(errno));
	return r;
}

/* mess_sync_failed - log a failed fsync of mess/ (errno): linked
 * messages are tried again; renamed ones cannot be undone and stay */
static void mess_sync_failed(int retried)
{
	if (retried)
		log_event("queue-error", "op=fsync dir=mess error=\"%s\" action=retry seconds=%d",
		          strerror(errno), EXPLODE_RETRY);
	else
		log_event("queue-error", "op=fsync dir=mess error=\"%s\" action=none",
		          strerror(errno));
}

/* unlink_names - unlink d/ID for the first n IDs of ids (logged) */
static void unlink_names(struct sched *s, enum queue_dir d,
                         char (*ids)[ENVELOPE_ID_MAX], size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (queue_unlink(s->q, d, ids[i]) < 0 && errno != ENOENT)
			log_event("queue-error", "op=unlink file=%s/%s error=\"%s\"",
			          queue_dir_name[d], ids[i], strerror(errno));
}

/* unmake_jobs - the fsync of rcpt/ failed: unlink the job files of
 * message id (not taken: no delivery of it has started, and they are
 * all empty) and forget them.  A lost directory write is reported once
 * only, so a later fsync that succeeds proves nothing about names made
 * before it: the next attempt makes them again, and syncs them then. */
static void unmake_jobs(struct sched *s, const char *id)
{
	struct jt_msg *m = jobtab_msg(s->t, id);
	struct jt_job *j;

	for (j = m ? m->jobs : NULL; j; j = j->next) {
		char name[JOB_NAME_MAX];

		sched_job_file(j, name);
		if (queue_unlink(s->q, QUEUE_RCPT, name) < 0 && errno != ENOENT)
			log_event("queue-error", "op=unlink file=rcpt/%s error=\"%s\"",
			          name, strerror(errno));
	}
	sched_forget_untaken(s, id);
}

/* sched_explode - turn every message seen in new/ into jobs: in memory
 * for a first attempt from new/ (nothing written), or, for one found
 * with job files, files for all, with one fsync of rcpt/ and one of
 * mess/ for the whole batch.  A message moves
 * from new/ to mess/ as link, fsync of mess/, unlink, never as a rename:
 * an fsync of new/ by a committer in between (queue_commit.c) could make a
 * rename's removal from new/ durable before its arrival in mess/, and a
 * power cut then would leave the message in neither.  Each step's crash
 * case is in mta-queue(5), CRASH SAFETY.  Should either fsync fail, the
 * batch is not taken: its messages stay in new/ only, their jobs are
 * forgotten (no delivery starts) and it is tried again shortly. */
void sched_explode(struct sched *s)
{
	size_t i, ok = 0, linked = 0, nboth = 0, renamed = 0;
	char (*both)[ENVELOPE_ID_MAX] = NULL;
	int synced = -1;                /* mess/: -1 not tried, 0 failed, 1 synced */

	for (i = 0; i < s->narrived; i++) {
		struct jt_msg *m = jobtab_msg(s->t, s->arrived[i]);
		int r;

		if (m != NULL)
			m->in_batch = 0;
		r = create_jobs(s, s->arrived[i], s->created[i]);

		if (r == 0)
			memcpy(s->arrived[ok++], s->arrived[i], ENVELOPE_ID_MAX);
		else if (r == 2 && (both != NULL ||
		                    (both = malloc(s->narrived * sizeof *both)) != NULL))
			memcpy(both[nboth++], s->arrived[i], ENVELOPE_ID_MAX);
	}
	s->narrived = 0;
	/* The jobs durable before the message's name in mess/: a message in
	 * mess/ after a crash always has its jobs. */
	if (ok > 0 && queue_sync(s->q, QUEUE_RCPT) < 0) {
		log_event("queue-error", "op=fsync dir=rcpt error=\"%s\" action=retry seconds=%d",
		          strerror(errno), EXPLODE_RETRY);
		for (i = 0; i < ok; i++)
			unmake_jobs(s, s->arrived[i]);
		/* the error may be for job files of messages being filed: the
		 * kernel reports a lost directory write once, to this fsync */
		sched_unfile_unsynced(s);
		ok = 0;
		s->next_rescan = time(NULL) + EXPLODE_RETRY;
	}
	for (i = 0; i < ok; i++) {
		int r = take(s, s->arrived[i]);

		if (r == 0 || r == 1)
			memcpy(s->arrived[linked++], s->arrived[i], ENVELOPE_ID_MAX);
		else if (r == 2)
			renamed++;      /* no hard links here: in mess/ only */
		else if (r < 0) {
			sched_forget_untaken(s, s->arrived[i]);  /* not in mess/: no delivery */
			s->next_rescan = time(NULL) + EXPLODE_RETRY;
		}
	}
	/* Until this fsync a crash may leave the message in new/ only; it is
	 * exploded again then, finding its jobs already there.  A message
	 * found under both names (a crash between a link and this fsync)
	 * needs it as much before its new/ name goes: a receiver's fsync of
	 * new/ could make that removal durable while the link is not.  A
	 * message renamed where there are no hard links has lost its new/
	 * name already: the sooner mess/ is synced, the shorter the time in
	 * which such an fsync of new/ could leave it in neither.  It cannot
	 * be undone (a rename back has the same two sides), so a failure
	 * leaves it where it is, logged. */
	if (linked > 0 || nboth > 0 || renamed > 0) {
		synced = queue_sync(s->q, QUEUE_MESS) == 0;
		if (!synced)
			mess_sync_failed(linked + nboth > 0);
	}
	if (synced == 0) {
		/* The links may not be durable, and a later fsync that succeeds
		 * would not show they are: unlink them (new/ID stays, synced by
		 * its receiver), start no delivery, link again shortly. */
		unlink_names(s, QUEUE_MESS, s->arrived, linked);
		for (i = 0; i < linked; i++)
			sched_forget_untaken(s, s->arrived[i]);
		if (linked + nboth > 0)     /* renamed ones need no rescan */
			s->next_rescan = time(NULL) + EXPLODE_RETRY;
	} else {
		/* Only now may new/ forget them. */
		unlink_names(s, QUEUE_NEW, s->arrived, linked);
		unlink_names(s, QUEUE_NEW, both, nboth);
	}
	free(both);
}

/* sched_file_message - m, in its first attempt, gets a file for each job
 * it has left, under the job's current name, so that the outcome about
 * to be recorded (a deferral) has a file to go in; its move into mess/
 * is queued for sched_file_batch.  The recipients already delivered or
 * reported have no job any more and get none: in mess/ the job files
 * are what is pending.  0, or -1 (logged; m stays unfiled, its file in
 * new/ still keeping every recipient pending, and the outcome is kept in
 * memory only) */
int sched_file_message(struct sched *s, struct jt_msg *m, const char *why)
{
	struct jt_job *j, *k;
	unsigned n = 0;

	if (!m->unfiled)
		return 0;
	if (s->nfiling == s->filing_cap) {
		size_t cap = s->filing_cap ? s->filing_cap * 2 : 16;
		void *a = realloc(s->filing, cap * sizeof *s->filing);

		if (a == NULL) {
			log_event("sched-error", "error=\"out of memory\" id=%s", m->id);
			return -1;
		}
		s->filing = a;
		s->filing_cap = cap;
	}
	for (j = m->jobs; j; j = j->next) {
		struct job_name jn;

		jn.due = j->due;
		jn.n = j->n;
		memcpy(jn.id, m->id, sizeof jn.id);
		if (queue_job_create(s->q, &jn) < 0) {
			char name[JOB_NAME_MAX];

			sched_job_file(j, name);
			log_event("queue-error", "op=create file=rcpt/%s error=\"%s\"",
			          name, strerror(errno));
			for (k = m->jobs; k != j; k = k->next) {
				sched_job_file(k, name);
				queue_unlink(s->q, QUEUE_RCPT, name);
			}
			return -1;
		}
		n++;
	}
	log_event("filed", "id=%s jobs=%u why=%s", m->id, n, why);
	m->unfiled = 0;
	m->filing = 1;
	memcpy(s->filing[s->nfiling++], m->id, ENVELOPE_ID_MAX);
	return 0;
}

/* unlink_job_files - unlink the file of every job m has (logged) */
static void unlink_job_files(struct sched *s, const struct jt_msg *m)
{
	const struct jt_job *j;

	for (j = m->jobs; j; j = j->next) {
		char name[JOB_NAME_MAX];

		sched_job_file(j, name);
		if (queue_unlink(s->q, QUEUE_RCPT, name) < 0 && errno != ENOENT)
			log_event("queue-error", "op=unlink file=rcpt/%s error=\"%s\"",
			          name, strerror(errno));
	}
}

/* removed_by_hand - m's file left new/ before its move into mess/ (an
 * operator's mta-queue --delete, or rm): its job files go too, and its
 * jobs are settled as removed by the operator (settle_missing) */
static void removed_by_hand(struct sched *s, struct jt_msg *m)
{
	struct jt_job *j;

	log_event("queue-error", "op=link file=new/%s error=\"%s\" action=drop",
	          m->id, strerror(ENOENT));
	m->filing = 0;
	unlink_job_files(s, m);
	for (j = m->jobs; j; j = j->next)
		sched_note_missing(s, j, 0);
}

/* unfile - an fsync of rcpt/ failed, perhaps for m's job files: they
 * are unlinked and m is unfiled again, in new/ with its jobs in memory
 * (their due times kept; what the files recorded lost), to be filed
 * afresh a second on (or at its next deferral).  A lost directory write
 * is reported once only, so a later fsync that succeeds would prove
 * nothing about these names. */
static void unfile(struct sched *s, struct jt_msg *m)
{
	m->filing = 0;
	m->unfiled = 1;             /* first: their removal is no operator's */
	unlink_job_files(s, m);
	if (young_push(s, m->id) < 0)
		log_event("sched-error", "error=\"out of memory\" id=%s action=unfiled", m->id);
}

/* retry_later - the batch's rest is tried again in EXPLODE_RETRY s */
static void retry_later(struct sched *s, long long now)
{
	s->filing_retry = now + EXPLODE_RETRY;
	if (s->next_rescan > s->filing_retry)
		s->next_rescan = s->filing_retry;
}

/* sched_unfile_unsynced - an fsync of rcpt/ failed: every message being
 * filed whose job files no fsync has yet covered is unfiled.  One whose
 * files an fsync did cover keeps them: a link of it into mess/ that a
 * failed fsync of mess/ left undone may still be on disk, with them. */
void sched_unfile_unsynced(struct sched *s)
{
	size_t i, n = 0;

	for (i = 0; i < s->nfiling; i++) {
		struct jt_msg *m = jobtab_msg(s->t, s->filing[i]);

		if (m == NULL || !m->filing)
			continue;
		if (m->synced)
			memmove(s->filing[n++], s->filing[i], ENVELOPE_ID_MAX);
		else
			unfile(s, m);
	}
	s->nfiling = n;
}

/* sched_file_batch - the messages filed since the last batch move into
 * mess/ as explode moves them: their job files synced first, then a
 * link, the fsync of mess/, and only then the unlink from new/.  Should
 * the fsync of rcpt/ fail, the batch is unfiled again (unfile); should
 * the one of mess/ fail, its links are undone and it stays in new/ with
 * its job files, tried again after EXPLODE_RETRY seconds. */
void sched_file_batch(struct sched *s)
{
	enum { MOVED, LINKED, AGAIN };
	long long now = (long long)time(NULL);
	size_t i, n = 0, linked = 0, renamed = 0;
	unsigned char *st;
	int synced = 1;

	if (s->nfiling == 0 || now < s->filing_retry)
		return;
	/* drop what needs no move any more (done, or removed) */
	for (i = 0; i < s->nfiling; i++) {
		struct jt_msg *m = jobtab_msg(s->t, s->filing[i]);

		if (m != NULL && m->filing)
			memmove(s->filing[n++], s->filing[i], ENVELOPE_ID_MAX);
	}
	s->nfiling = n;
	if (n == 0)
		return;
	if ((st = malloc(n)) == NULL) {
		log_event("sched-error", "error=\"out of memory\" action=retry seconds=%d",
		          EXPLODE_RETRY);
		retry_later(s, now);
		return;
	}
	if (queue_sync(s->q, QUEUE_RCPT) < 0) {
		log_event("queue-error", "op=fsync dir=rcpt error=\"%s\" action=unfile",
		          strerror(errno));
		sched_unfile_unsynced(s);
		if (s->nfiling > 0)
			retry_later(s, now);
		free(st);
		return;
	}
	for (i = 0; i < n; i++) {
		struct jt_msg *m = jobtab_msg(s->t, s->filing[i]);
		int r = queue_take(s->q, m->id);

		m->synced = 1;
		st[i] = AGAIN;
		if (r == 0 || r == 1) {
			st[i] = LINKED;
			linked++;
		} else if (r == 2) {
			st[i] = MOVED;      /* renamed: in mess/ only */
			renamed++;
		} else if (errno == ENOENT && queue_exists(s->q, QUEUE_MESS, m->id)) {
			st[i] = MOVED;      /* there already (by hand): its jobs are */
		} else if (errno == ENOENT) {
			removed_by_hand(s, m);
		} else {
			log_event("queue-error", "op=link file=new/%s error=\"%s\" action=retry seconds=%d",
			          m->id, strerror(errno), EXPLODE_RETRY);
			retry_later(s, now);
		}
	}
	/* renamed ones too, as in sched_explode (not undone on failure:
	 * only the linked ones are tried again) */
	if ((linked > 0 || renamed > 0) && queue_sync(s->q, QUEUE_MESS) < 0) {
		mess_sync_failed(linked > 0);
		if (linked > 0)
			retry_later(s, now);
		synced = 0;
	}
	for (i = 0, n = 0; i < s->nfiling; i++) {
		struct jt_msg *m = jobtab_msg(s->t, s->filing[i]);

		if (st[i] == LINKED && !synced) {
			/* as in sched_explode: a link not shown durable by its
			 * fsync is not shown so by a later one: undone, made
			 * again later */
			unlink_names(s, QUEUE_MESS, &s->filing[i], 1);
			st[i] = AGAIN;
		} else if (st[i] == LINKED) {
			/* only now may new/ forget it */
			unlink_names(s, QUEUE_NEW, &s->filing[i], 1);
			st[i] = MOVED;
		}
		if (st[i] == MOVED)
			m->in_new = m->filing = m->synced = 0;
		else if (st[i] == AGAIN && m->filing)
			memmove(s->filing[n++], s->filing[i], ENVELOPE_ID_MAX);
	}
	s->nfiling = n;
	free(st);
}

/* sched_filing_at - when sched_file_batch has work (epoch seconds; now
 * or earlier: at once), or -1 when it has none */
long long sched_filing_at(const struct sched *s)
{
	return s->nfiling > 0 ? s->filing_retry : -1;
}
