/* scheduler_explode.c - the scheduler taking new messages: each message
 * seen in new/ gets a job file per recipient and is taken into mess/, a
 * batch at a time, so that one fsync of rcpt/ and one of mess/ cover many
 * messages.  The file steps are the store's (queue.h); the order of them
 * is mta-queue(5)'s crash argument.  See scheduler_priv.h. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "scheduler_explode.h"
#include "scheduler_route.h"

/* sched_arrived - a message in new/: explode it with the next batch */
int sched_arrived(struct sched *s, const char *name, unsigned char type,
                  unsigned char created)
{
	if (!job_id_valid(name, strlen(name))) {
		queue_quarantine(s->q, QUEUE_NEW, name, "not a queue ID");
		return 0;
	}
	if (queue_not_regular(s->q, QUEUE_NEW, name, type)) {
		queue_quarantine(s->q, QUEUE_NEW, name, "not a regular file");
		return 0;
	}
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
 * is not (or no longer) taken into mess/: none of them has started,
 * since deliveries start only once the message is in mess/ (their files
 * stay) */
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

/* create_jobs - the job files and table entries for message id in new/;
 * 0, 1 (nothing to do), 2 (the same file is in mess/ already: its new/
 * name goes once mess/ is synced), or -1 (the message stays in new/ and
 * is tried again later).  A bad envelope in a file only seen created is
 * left for the next scan: it may still be being written. */
static int create_jobs(struct sched *s, const char *id, int created)
{
	char qfrom[LOG_VALUE_MAX];
	struct envelope env;
	struct jt_msg *m;
	size_t n;

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
	for (n = 0; n < env.nrcpt; n++) {
		struct job_name jn;

		if (jobtab_job(m, (unsigned)n) != NULL)
			continue;           /* exists under some DUE: idempotent */
		jn.due = (long long)env.arrival;
		jn.n = (unsigned)n;
		memcpy(jn.id, id, sizeof jn.id);
		if (queue_job_create(s->q, &jn) < 0) {
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
	sched_route_message(s, m, &env);   /* dispatch reads no file */
	log_event("explode", "id=%s rcpts=%zu from=%s", id, env.nrcpt,
	          log_addr(qfrom, sizeof qfrom, env.sender.text));
	envelope_free(&env);
	return 0;
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

/* sched_explode - turn every message seen in new/ into jobs, with one
 * fsync of rcpt/ and one of mess/ for the whole batch.  A message moves
 * from new/ to mess/ as link, fsync of mess/, unlink, never as a rename:
 * an fsync of new/ by a committer in between (queue_commit.c) could make a
 * rename's removal from new/ durable before its arrival in mess/, and a
 * power cut then would leave the message in neither.  Each step's crash
 * case is in mta-queue(5), CRASH SAFETY.  Should either fsync fail, the
 * batch is not taken: its messages stay in new/ only, their jobs are
 * forgotten (no delivery starts) and it is tried again shortly. */
void sched_explode(struct sched *s)
{
	size_t i, ok = 0, linked = 0, nboth = 0;
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
		ok = 0;
		s->next_rescan = time(NULL) + EXPLODE_RETRY;
	}
	for (i = 0; i < ok; i++) {
		int r = take(s, s->arrived[i]);

		if (r == 0 || r == 1)
			memcpy(s->arrived[linked++], s->arrived[i], ENVELOPE_ID_MAX);
		else if (r < 0) {
			sched_forget_untaken(s, s->arrived[i]);  /* not in mess/: no delivery */
			s->next_rescan = time(NULL) + EXPLODE_RETRY;
		}
	}
	/* Until this fsync a crash may leave the message in new/ only; it is
	 * exploded again then, finding its jobs already there.  A message
	 * found under both names (a crash between a link and this fsync)
	 * needs it as much before its new/ name goes: a receiver's fsync of
	 * new/ could make that removal durable while the link is not. */
	if (linked > 0 || nboth > 0) {
		synced = queue_sync(s->q, QUEUE_MESS) == 0;
		if (!synced)
			log_event("queue-error", "op=fsync dir=mess error=\"%s\" action=retry seconds=%d",
			          strerror(errno), EXPLODE_RETRY);
	}
	if (synced == 0) {
		/* The links may not be durable, and a later fsync that succeeds
		 * would not show they are: unlink them (new/ID stays, synced by
		 * its receiver), start no delivery, link again shortly. */
		unlink_names(s, QUEUE_MESS, s->arrived, linked);
		for (i = 0; i < linked; i++)
			sched_forget_untaken(s, s->arrived[i]);
		s->next_rescan = time(NULL) + EXPLODE_RETRY;
	} else {
		/* Only now may new/ forget them. */
		unlink_names(s, QUEUE_NEW, s->arrived, linked);
		unlink_names(s, QUEUE_NEW, both, nboth);
	}
	free(both);
}
