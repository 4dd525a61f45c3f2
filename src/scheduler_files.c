/* scheduler_files.c - the scheduler reading the queue: start-up and
 * periodic scans, and inotify events (operators' renames and removals,
 * messages arriving); new messages go to scheduler_explode.c, jobs
 * found gone are settled here.  See scheduler.h and scheduler_priv.h. */
#include <dirent.h>
#include <sys/inotify.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "maildrop.h"
#include "scheduler_explode.h"
#include "scheduler_files.h"
#include "scheduler_outcome.h"

/* hold_named - a job file is going to bad/: hold every message it names
 * (a job name's ID, or any dot-separated part of a mistyped one that is
 * a known message), so that message is not removed with its last job */
static void hold_named(struct sched *s, const char *name)
{
	char part[NAME_MAX + 1];
	const char *p = name;

	while (*p) {
		size_t n = strcspn(p, ".");
		struct jt_msg *m;

		if (n < sizeof part) {
			memcpy(part, p, n);
			part[n] = '\0';
			if (job_id_valid(part, n) && (m = jobtab_msg(s->t, part)) != NULL &&
			    !m->held) {
				m->held = 1;
				log_event("message-held", "id=%s job=bad/rcpt.%s", m->id, name);
			}
		}
		p += n;
		if (*p == '.')
			p++;
	}
}

/* hold_renamed - a job renamed (inotify cookie) to a name that goes to
 * bad/ takes its message's body with it in the end, even when the new
 * name no longer says whose job it is (a mistyped ID) */
static void hold_renamed(struct sched *s, uint32_t cookie)
{
	size_t i;

	for (i = 0; cookie != 0 && i < s->nmissing; i++) {
		struct jt_job *j = s->missing[i].job;

		if (s->missing[i].cookie == cookie && j->missing && !j->msg->held) {
			j->msg->held = 1;
			log_event("message-held", "id=%s reason=\"a job of it was renamed to a name in bad/\"",
			          j->msg->id);
		}
	}
}

/* reject_job_file - a file in rcpt/ that is no usable job: to bad/.  A
 * regular file there may be a job mistyped by hand (a renamed job, or a
 * name with a known ID in it): its message is held, so that it follows
 * the job to bad/ instead of being removed with its last job. */
static void reject_job_file(struct sched *s, const char *name, uint32_t cookie,
                            const char *why, int regular)
{
	if (regular) {
		hold_renamed(s, cookie);
		hold_named(s, name);
	}
	queue_quarantine(s->q, QUEUE_RCPT, name, why);
}

/* known_job - is name a job this table knows under this very name, and
 * not missing?  The creation event of such a name is explode's own job
 * file (one per job made): nothing to learn from it, and no system call
 * is spent on it.  Another file in its place would have needed its
 * removal first, whose event marked the job missing. */
static int known_job(struct sched *s, const char *name)
{
	struct job_name jn;
	struct jt_msg *m;
	struct jt_job *j;

	return job_name_parse(name, &jn) == 0 && (m = jobtab_msg(s->t, jn.id)) != NULL &&
	       (j = jobtab_job(m, jn.n)) != NULL && j->due == jn.due && !j->missing;
}

/* add_job_file - a job file found on disk (scan, or inotify with the
 * cookie of its rename) */
static void add_job_file(struct sched *s, const char *name, unsigned char type,
                         uint32_t cookie)
{
	struct job_name jn;
	struct jt_msg *m;
	struct jt_job *j;

	/* An event for a name that is gone again (a job the scheduler made
	 * and renamed since, say): its removal's event follows. */
	if (type == DT_UNKNOWN && !queue_exists(s->q, QUEUE_RCPT, name))
		return;
	if (job_name_parse(name, &jn) < 0) {
		reject_job_file(s, name, cookie, "not a job name",
		                !queue_not_regular(s->q, QUEUE_RCPT, name, type));
		return;
	}
	/* A link or a directory posing as a job is no job: never followed. */
	if (queue_not_regular(s->q, QUEUE_RCPT, name, type)) {
		reject_job_file(s, name, cookie, "not a regular file", 0);
		return;
	}
	/* A message and job put here by hand may have an ID the clock is
	 * about to make again: receivers look it up from now on. */
	queue_note_id(s->q, jn.id);
	m = jobtab_msg(s->t, jn.id);
	if (m == NULL) {
		/* Its message must be waiting in new/ or taken in mess/. */
		int taken = queue_exists(s->q, QUEUE_MESS, jn.id);

		if (!taken && !queue_exists(s->q, QUEUE_NEW, jn.id)) {
			reject_job_file(s, name, cookie, "no such message", 1);
			return;
		}
		if ((m = jobtab_add_msg(s->t, jn.id)) == NULL)
			goto nomem;
		/* Not taken yet (a crash or a failed explode before its link):
		 * the message is exploded with this batch, before any dispatch,
		 * which keeps its jobs or forgets them again; never a delivery
		 * of a message that is not in mess/. */
		if (!taken && sched_arrived(s, jn.id, DT_UNKNOWN, 0) < 0) {
			jobtab_drop_msg(s->t, m);
			return;
		}
		m->in_batch = !taken;   /* found_new need not queue it again */
	}
	j = jobtab_job(m, jn.n);
	if (j == NULL) {
		if (jobtab_add(s->t, m, jn.n, jn.due) == NULL)
			goto nomem;
		return;
	}
	j->missing = 0;
	if (j->due == jn.due)
		return;                 /* our own rename, or nothing new */
	if (j->state != JT_WAITING) {
		j->due = jn.due;        /* the outcome will use the new name */
		return;
	}
	/* Moved by someone else.  If the old name still exists too, two files
	 * claim one recipient: keep the earlier, quarantine the other. */
	{
		char old[JOB_NAME_MAX];

		sched_job_file(j, old);
		if (queue_exists(s->q, QUEUE_RCPT, old)) {
			if (jn.due < j->due) {
				queue_quarantine(s->q, QUEUE_RCPT, old, "duplicate job");
				jobtab_set_due(s->t, j, jn.due);
			} else {
				queue_quarantine(s->q, QUEUE_RCPT, name, "duplicate job");
			}
			return;
		}
	}
	jobtab_set_due(s->t, j, jn.due);
	log_event("rescheduled", "job=%s", name);
	return;
nomem:
	log_event("sched-error", "error=\"out of memory\" job=%s", name);
}

/* found_mess - a message file in mess/ at start-up (queue_scan) */
static int found_mess(void *arg, const char *name, unsigned char type)
{
	struct sched *s = arg;

	if (!job_id_valid(name, strlen(name)))
		queue_quarantine(s->q, QUEUE_MESS, name, "not a queue ID");
	else if (queue_not_regular(s->q, QUEUE_MESS, name, type))
		queue_quarantine(s->q, QUEUE_MESS, name, "not a regular file");
	else if (jobtab_add_msg(s->t, name) == NULL)
		log_event("sched-error", "error=\"out of memory\" id=%s", name);
	return 0;
}

/* sched_recover_mess - every message file in mess/ known */
int sched_recover_mess(struct sched *s)
{
	return queue_scan(s->q, QUEUE_MESS, found_mess, s);
}

/* found_new - a message in new/ (scan, or renamed in) */
static void found_new(struct sched *s, const char *name, unsigned char type)
{
	struct jt_msg *m = jobtab_msg(s->t, name);

	if (m != NULL && m->in_batch)
		return;                 /* a job file of it queued it already */
	sched_arrived(s, name, type, 0);
}

/* scanned_new - found_new for a scan of new/ (queue_scan) */
static int scanned_new(void *arg, const char *name, unsigned char type)
{
	found_new(arg, name, type);
	return 0;
}

/* scanned_job - a job file in rcpt/ (queue_scan) */
static int scanned_job(void *arg, const char *name, unsigned char type)
{
	add_job_file(arg, name, type, 0);
	return 0;
}

/* sched_drop_jobless - unlink a message file whose jobs are all gone
 * (start-up only) */
void sched_drop_jobless(void *arg, struct jt_msg *m)
{
	struct sched *s = arg;

	if (m->pending == 0 && !queue_exists(s->q, QUEUE_NEW, m->id)) {
		char id[ENVELOPE_ID_MAX];

		int named;

		/* a job of it in bad/ (put there by hand or before a restart)
		 * takes it along rather than leave it without a body; one pass
		 * over the directories serves every such message */
		if (s->name_gen == 0 && sched_mark_names(s) < 0)
			s->names_unread = 1;
		named = s->names_unread ? SP_NAMED_UNKNOWN
		      : m->named_gen == s->name_gen ? m->named : 0;
		memcpy(id, m->id, sizeof id);
		jobtab_drop_msg(s->t, m);
		sched_release_message(s, id, QUEUE_MESS, 0, named);
	}
}

static void settle_missing(struct sched *s);

/* note_if_gone - note every job of m whose file is not under its name
 * (jobtab_each_msg; after a scan of rcpt/ failed, see sched_rescan) */
static void note_if_gone(void *arg, struct jt_msg *m)
{
	struct sched *s = arg;
	struct jt_job *j;

	if (m->unfiled)
		return;                 /* no files, none to miss */
	for (j = m->jobs; j; j = j->next) {
		char name[JOB_NAME_MAX];

		sched_job_file(j, name);
		if (!queue_exists(s->q, QUEUE_RCPT, name))
			sched_note_missing(s, j, 0);
	}
}

/* scan_failed - a scan of dir could not read it to its end: logged, and
 * the next rescan comes soon */
static void scan_failed(struct sched *s, const char *dir)
{
	s->next_rescan = time(NULL) + SCAN_RETRY;
	s->scan_dir = dir;
	s->scan_error = errno;
	log_event("queue-error", "op=scan dir=%s error=\"%s\" action=retry seconds=%d",
	          dir, strerror(errno), SCAN_RETRY);
}

/* sched_rescan - bring memory in line with the directories (start-up, inotify
 * overflow, and every SCHED_RESCAN seconds as a backstop); 0, or -1 when
 * rcpt/ or new/ could not be read (logged, tried again shortly) */
int sched_rescan(struct sched *s)
{
	int r = 0;

	/* After a failed scan, jobs noted missing were let go unsettled (a
	 * job renamed meanwhile is only found by a whole scan): every job
	 * whose file is not under its name now is noted again. */
	if (s->scan_owed)
		jobtab_each_msg(s->t, note_if_gone, s);
	/* Local submissions first: each taken goes to new/, read below.  A
	 * maildrop/ that cannot be read holds nothing else up. */
	if (maildrop_scan(s->q, s->cfg) < 0)
		log_event("queue-error", "op=scan dir=maildrop error=\"%s\" action=retry",
		          strerror(errno));
	s->next_rescan = time(NULL) + SCHED_RESCAN;
	if (queue_scan(s->q, QUEUE_RCPT, scanned_job, s) < 0) {
		/* A job not seen is no job gone: settle nothing, and deliver
		 * nothing (a job renamed during an overflow would be delivered
		 * under its old name) until a scan has read all of rcpt/. */
		scan_failed(s, "rcpt");
		s->scan_owed = 1;
		settle_missing(s);
		if (s->paused_until < s->next_rescan)
			s->paused_until = s->next_rescan;
		return -1;
	}
	s->scan_owed = 0;
	/* Only now, when the scan has found every job under its current name,
	 * is a job noted missing before an overflow really gone. */
	settle_missing(s);
	if (queue_scan(s->q, QUEUE_NEW, scanned_new, s) < 0) {
		scan_failed(s, "new");
		r = -1;
	}
	sched_explode(s);
	return r;
}

/* note_missing - a job's file was renamed away (cookie) or removed */
static void note_missing(struct sched *s, const char *name, uint32_t cookie)
{
	struct job_name jn;
	struct jt_msg *m;
	struct jt_job *j;
	char current[JOB_NAME_MAX];

	if (job_name_parse(name, &jn) < 0 || (m = jobtab_msg(s->t, jn.id)) == NULL ||
	    (j = jobtab_job(m, jn.n)) == NULL)
		return;
	/* A message unfiled has no job files: one gone is the scheduler's own
	 * undoing of a filing (sched_file_batch), never an operator's. */
	if (m->unfiled)
		return;
	sched_job_file(j, current);
	if (strcmp(current, name) != 0)
		return;                 /* not its current name: our own rename */
	sched_note_missing(s, j, cookie);
}

/* settle_missing - jobs still missing after their events: forgotten;
 * while a scan of rcpt/ is owed, not known to be gone (see sched_rescan):
 * let go unsettled, to be noted again by the next scan */
static void settle_missing(struct sched *s)
{
	size_t i;
	int marked = 0, unsure = 0;

	if (s->scan_owed) {
		for (i = 0; i < s->nmissing; i++)
			s->missing[i].job->missing = s->missing[i].job->listed = 0;
		s->nmissing = 0;
		return;
	}
	/* Taken from the end: settling one job can forget others still
	 * listed (its failed siblings, reported), and forgetting takes them
	 * off the list (sched_unlist), which moves its last entry. */
	while (s->nmissing > 0) {
		struct jt_job *j = s->missing[--s->nmissing].job;
		char name[JOB_NAME_MAX];

		j->listed = 0;
		if (!j->missing)
			continue;           /* it reappeared under a new name */
		j->missing = 0;
		if (j->msg->unfiled)
			continue;           /* it has no file now (unfiled) */
		sched_job_file(j, name);
		if (queue_exists(s->q, QUEUE_RCPT, name))
			continue;
		log_event("job-removed", "job=%s by=operator", name);
		if (j->state != JT_WAITING) {
			j->gone = 1;        /* its delivery finishes; then forget it */
			continue;
		}
		sched_report_failures(s, j->msg); /* not running: siblings need not wait */
		/* The last job of its message: does a job file in bad/ name
		 * the message?  One pass over bad/ answers that for the whole
		 * batch (rm of many jobs at once). */
		if (j->msg->pending == 1 && !marked) {
			unsure = sched_mark_names(s) < 0;
			marked = 1;
		}
		sched_drop_removed(s, j, j->msg->pending != 1 ? 0 : unsure ? SP_NAMED_UNKNOWN
		                         : j->msg->named_gen == s->name_gen ? j->msg->named : 0);
	}
}

/* sched_read_events - drain inotify */
void sched_read_events(struct sched *s)
{
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	int overflow = 0;

	while ((n = read(s->ino_fd, buf, sizeof buf)) > 0) {
		char *p = buf;

		while (p < buf + n) {
			struct inotify_event *ev = (struct inotify_event *)p;

			p += sizeof *ev + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				overflow = 1;
				continue;
			}
			if (ev->len == 0)
				continue;
			if (ev->wd == s->wd_new && (ev->mask & IN_MOVED_TO))
				found_new(s, ev->name, DT_UNKNOWN);
			else if (ev->wd == s->wd_new && (ev->mask & IN_CLOSE_WRITE))
				sched_closed_new(s, ev->name);
			else if (ev->wd == s->wd_tmp) {
				/* a commit whose rename was a link: closed as tmp/ID */
				if (job_id_valid(ev->name, strlen(ev->name)) &&
				    queue_exists(s->q, QUEUE_NEW, ev->name))
					sched_closed_new(s, ev->name);
			}
			else if (ev->wd == s->wd_new && (ev->mask & IN_CREATE))
				sched_arrived(s, ev->name, DT_UNKNOWN, 1);
			else if (ev->wd == s->wd_rcpt && (ev->mask & IN_MOVED_TO))
				add_job_file(s, ev->name, DT_UNKNOWN, ev->cookie);
			else if (ev->wd == s->wd_rcpt && (ev->mask & IN_CREATE)) {
				if (!known_job(s, ev->name))
					add_job_file(s, ev->name, DT_UNKNOWN, 0);
			}
			else if (ev->wd == s->wd_rcpt)
				note_missing(s, ev->name, ev->cookie);
			else if (ev->wd == s->wd_maildrop && (ev->mask & IN_MOVED_TO))
				maildrop_take(s->q, s->cfg, ev->name);
		}
	}
	/* Events were dropped, perhaps the IN_MOVED_TO half of a rename: a job
	 * renamed away would look removed, and forgetting it could unlink its
	 * message.  The rescan finds it under its new name, then settles. */
	if (overflow) {
		sched_rescan(s);
		return;
	}
	settle_missing(s);
	sched_explode(s);
}

