/* scheduler.c - the ground of the scheduler's files: its memory held
 * against the files: forgetting jobs and releasing their messages
 * (unlinked, or after a job of theirs into bad/), the list of jobs whose
 * file went missing, and the names in bad/ that tie a message to a
 * quarantined job.  It calls only the store, the policy and the job
 * table; the thread is scheduler_thread.c.  See scheduler_priv.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "scheduler_priv.h"

/* sched_limits - the policy's settings */
struct sp_limits sched_limits(const struct sched *s)
{
	struct sp_limits l = { s->cfg->retry, s->cfg->attempts,
	                       s->cfg->max_queue_time, s->cfg->dead_hop_time };

	return l;
}

/* sched_job_file - the name of job j */
void sched_job_file(const struct jt_job *j, char *buf)
{
	struct job_name jn;

	jn.due = j->due;
	jn.n = j->n;
	memcpy(jn.id, j->msg->id, sizeof jn.id);
	job_name_format(&jn, buf);
}

/* sched_where - new/ in a message's first attempt, else mess/ */
enum queue_dir sched_where(const struct jt_msg *m)
{
	return m->in_new ? QUEUE_NEW : QUEUE_MESS;
}

/* sched_msg_where - sched_where of the message with this ID; mess/ when
 * the table does not have it */
enum queue_dir sched_msg_where(struct sched *s, const char *id)
{
	struct jt_msg *m = jobtab_msg(s->t, id);

	return m != NULL ? sched_where(m) : QUEUE_MESS;
}

/* sched_message_done - the last job of m has gone: remove its file.  In
 * new/ (its first attempt) that unlink needs no fsync either: undone by a
 * crash, it delivers the message again, never loses it. */
void sched_message_done(struct sched *s, const char *id, enum queue_dir where)
{
	if (queue_unlink(s->q, where, id) < 0 && errno != ENOENT)
		log_event("queue-error", "op=unlink file=%s/%s error=\"%s\"",
		          queue_dir_name[where], id, strerror(errno));
	else
		log_event("message-done", "id=%s", id);
}

/* names_id - is id one of the dot-separated parts of name? */
static int names_id(const char *name, const char *id)
{
	size_t n = strlen(id);
	const char *p = name;

	while ((p = strstr(p, id)) != NULL) {
		if ((p == name || p[-1] == '.') && (p[n] == '\0' || p[n] == '.'))
			return 1;
		p++;
	}
	return 0;
}

/* a job's name in bad/: "rcpt." and the name it had (queue_quarantine) */
static const char bad_job[] = "rcpt.";

/* struct lookfor - named_in_bad at work */
struct lookfor {
	const char *id;
	int found;
};

/* has_id - does a job's name in bad/ name the ID looked for?  (stops the
 * scan if so) */
static int has_id(void *arg, const char *name, unsigned char type)
{
	struct lookfor *lf = arg;

	(void)type;
	if (strncmp(name, bad_job, sizeof bad_job - 1) != 0)
		return 0;
	return lf->found = names_id(name + sizeof bad_job - 1, lf->id);
}

/* named_in_bad - does a job's name in bad/ name id?  1, 0, or -1 (errno
 * set) when bad/ could not be read */
static int named_in_bad(struct sched *s, const char *id)
{
	struct lookfor lf = { id, 0 };

	if (queue_scan(s->q, QUEUE_BAD, has_id, &lf) < 0 && !lf.found)
		return -1;
	return lf.found;
}

/* mark_one - every known message whose ID is a part of a job's name in
 * bad/ */
static int mark_one(void *arg, const char *name, unsigned char type)
{
	struct sched *s = arg;
	const char *p = name + sizeof bad_job - 1;

	(void)type;
	if (strncmp(name, bad_job, sizeof bad_job - 1) != 0)
		return 0;
	while (*p) {
		size_t n = strcspn(p, ".");
		char part[ENVELOPE_ID_MAX];
		struct jt_msg *m;

		if (n < sizeof part) {
			memcpy(part, p, n);
			part[n] = '\0';
			if (job_id_valid(part, n) && (m = jobtab_msg(s->t, part)) != NULL) {
				if (m->named_gen != s->name_gen) {
					m->named_gen = s->name_gen;
					m->named = 0;
				}
				m->named |= SP_NAMED_BAD;
			}
		}
		p += n;
		if (*p == '.')
			p++;
	}
	return 0;
}

/* sched_mark_names - one pass over bad/rcpt.* */
int sched_mark_names(struct sched *s)
{
	s->name_gen++;
	if (queue_scan(s->q, QUEUE_BAD, mark_one, s) < 0) {
		log_event("queue-error", "op=scan dir=bad error=\"%s\"", strerror(errno));
		return -1;
	}
	return 0;
}

/* sched_release_message - message id has no job left in memory.  Unlink
 * it, unless a job of it was moved to bad/ (held, or a name in bad/ names
 * it): then the message follows it to bad/.  A job file in rcpt/ that
 * names it is always known by now: rcpt/ is watched for created files
 * too, and the events of a batch are read before its removals settle. */
void sched_release_message(struct sched *s, const char *id, enum queue_dir where,
                           int held, int named)
{
	if (named == NAMED_LOOK) {
		int r = named_in_bad(s, id);

		if (r < 0)
			log_event("queue-error", "op=scan dir=bad error=\"%s\"", strerror(errno));
		named = r < 0 ? SP_NAMED_UNKNOWN : r ? SP_NAMED_BAD : 0;
	}
	switch (sched_policy_release(held, named)) {
	case SP_RELEASE_BAD:
		queue_quarantine(s->q, where, id, "a job of it is in bad/");
		break;
	case SP_RELEASE_KEEP:
		log_event("message-kept", "id=%s reason=\"bad/ could not be read\"", id);
		break;
	case SP_RELEASE_UNLINK:
		sched_message_done(s, id, where);
		break;
	}
}

/* sched_unlist - take j off the list of missing jobs */
void sched_unlist(struct sched *s, struct jt_job *j)
{
	size_t i;

	if (!j->listed)
		return;
	for (i = 0; i < s->nmissing; i++)
		if (s->missing[i].job == j) {
			s->missing[i] = s->missing[--s->nmissing];
			break;
		}
	j->listed = j->missing = 0;
}

/* sched_forget_job - drop j from memory; the message with its last job.
 * Off the missing list first: a job freed there would be met again when
 * the list settles. */
void sched_forget_job(struct sched *s, struct jt_job *j)
{
	char id[ENVELOPE_ID_MAX];
	int held = j->msg->held;
	enum queue_dir where = sched_where(j->msg);

	sched_unlist(s, j);
	memcpy(id, j->msg->id, sizeof id);
	if (jobtab_remove(s->t, j) == 0)
		sched_release_message(s, id, where, held, 0);
}

/* sched_drop_removed - forget j, whose file an operator removed or
 * renamed away; with its last job its message is unlinked, or follows a
 * job file of it in bad/ there */
void sched_drop_removed(struct sched *s, struct jt_job *j, int named)
{
	char id[ENVELOPE_ID_MAX];
	int held = j->msg->held;
	enum queue_dir where = sched_where(j->msg);

	sched_unlist(s, j);          /* as sched_forget_job */
	memcpy(id, j->msg->id, sizeof id);
	if (jobtab_remove(s->t, j) == 0)
		sched_release_message(s, id, where, held, named);
}

/* sched_note_missing - j is missing, taken away by the rename cookie */
void sched_note_missing(struct sched *s, struct jt_job *j, uint32_t cookie)
{
	if (j->missing)
		return;
	if (j->listed) {
		/* missing again after it reappeared: listed once, or settling
		 * would meet it again after forgetting it */
		size_t i;

		for (i = 0; i < s->nmissing; i++)
			if (s->missing[i].job == j)
				s->missing[i].cookie = cookie;
		j->missing = 1;
		return;
	}
	if (s->nmissing == s->missing_cap) {
		size_t cap = s->missing_cap ? s->missing_cap * 2 : 16;
		void *a = realloc(s->missing, cap * sizeof *s->missing);

		if (a == NULL) {
			s->next_rescan = 0;  /* let a rescan sort it out */
			return;
		}
		s->missing = a;
		s->missing_cap = cap;
	}
	j->missing = 1;
	j->listed = 1;
	s->missing[s->nmissing].job = j;
	s->missing[s->nmissing++].cookie = cookie;
}
