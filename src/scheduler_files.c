/* scheduler_files.c - the scheduler reading the queue: start-up and
 * periodic scans, exploding new messages into jobs, and inotify events
 * (operators' renames and removals).  See scheduler.h and
 * scheduler_priv.h. */
#include <dirent.h>
#include <sys/inotify.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "scheduler_priv.h"

/* not_regular - is dir_fd/name known to be something other than a regular
 * file (a symbolic link, a directory, ...)?  type is its d_type from
 * readdir(), or DT_UNKNOWN (inotify) to ask the file system.  A name gone
 * meanwhile is not known to be anything: its caller deals with that. */
static int not_regular(int dir_fd, const char *name, unsigned char type)
{
	struct stat sb;

	if (type == DT_UNKNOWN)
		return fstatat(dir_fd, name, &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
		       !S_ISREG(sb.st_mode);
	return type != DT_REG;
}

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
	sched_quarantine(s, s->rcpt_fd, "rcpt", name, why);
}

static int arrived(struct sched *s, const char *name, unsigned char type,
                   unsigned char created);

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
	if (type == DT_UNKNOWN && !sched_file_exists(s->rcpt_fd, name))
		return;
	if (job_name_parse(name, &jn) < 0) {
		reject_job_file(s, name, cookie, "not a job name",
		                !not_regular(s->rcpt_fd, name, type));
		return;
	}
	/* A link or a directory posing as a job is no job: never followed. */
	if (not_regular(s->rcpt_fd, name, type)) {
		reject_job_file(s, name, cookie, "not a regular file", 0);
		return;
	}
	m = jobtab_msg(s->t, jn.id);
	if (m == NULL) {
		/* Its message must be waiting in new/ or taken in mess/. */
		int taken = sched_file_exists(s->mess_fd, jn.id);

		if (!taken && !sched_file_exists(s->new_fd, jn.id)) {
			reject_job_file(s, name, cookie, "no such message", 1);
			return;
		}
		if ((m = jobtab_add_msg(s->t, jn.id)) == NULL)
			goto nomem;
		/* Not taken yet (a crash or a failed explode before its link):
		 * the message is exploded with this batch, before any dispatch,
		 * which keeps its jobs or forgets them again; never a delivery
		 * of a message that is not in mess/. */
		if (!taken && arrived(s, jn.id, DT_UNKNOWN, 0) < 0) {
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
	if (j->running) {
		j->due = jn.due;        /* the outcome will use the new name */
		return;
	}
	/* Moved by someone else.  If the old name still exists too, two files
	 * claim one recipient: keep the earlier, quarantine the other. */
	{
		char old[JOB_NAME_MAX];

		sched_job_file(j, old);
		if (sched_file_exists(s->rcpt_fd, old)) {
			if (jn.due < j->due) {
				sched_quarantine(s, s->rcpt_fd, "rcpt", old, "duplicate job");
				jobtab_set_due(s->t, j, jn.due);
			} else {
				sched_quarantine(s, s->rcpt_fd, "rcpt", name, "duplicate job");
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

/* sched_scan_dir - call fn for every entry of dir (not . and ..); 0, or
 * -1 with errno set when the directory could not be read to its end
 * (readdir() says so only through errno: a failed read is no end) */
int sched_scan_dir(struct sched *s, int dir_fd,
                   void (*fn)(struct sched *s, const char *name,
                              unsigned char type))
{
	struct dirent *de;
	int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd < 0 ? NULL : fdopendir(fd);
	int e;

	if (d == NULL) {
		e = errno;
		if (fd >= 0)
			close(fd);
		errno = e;
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			fn(s, de->d_name, de->d_type);
	}
	e = errno;
	closedir(d);
	errno = e;
	return e == 0 ? 0 : -1;
}

/* sched_found_mess - a message file in mess/ at start-up */
void sched_found_mess(struct sched *s, const char *name, unsigned char type)
{
	if (!job_id_valid(name, strlen(name))) {
		sched_quarantine(s, s->mess_fd, "mess", name, "not a queue ID");
		return;
	}
	if (not_regular(s->mess_fd, name, type)) {
		sched_quarantine(s, s->mess_fd, "mess", name, "not a regular file");
		return;
	}
	if (jobtab_add_msg(s->t, name) == NULL)
		log_event("sched-error", "error=\"out of memory\" id=%s", name);
}

/* arrived - a message in new/ (created: seen by IN_CREATE, that is made
 * by a link, or written in place by hand and perhaps not complete yet):
 * explode it with the next batch */
static int arrived(struct sched *s, const char *name, unsigned char type,
                   unsigned char created)
{
	if (!job_id_valid(name, strlen(name))) {
		sched_quarantine(s, s->new_fd, "new", name, "not a queue ID");
		return 0;
	}
	if (not_regular(s->new_fd, name, type)) {
		sched_quarantine(s, s->new_fd, "new", name, "not a regular file");
		return 0;
	}
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

/* found_new - a message in new/ (scan, or renamed in) */
static void found_new(struct sched *s, const char *name, unsigned char type)
{
	struct jt_msg *m = jobtab_msg(s->t, name);

	if (m != NULL && m->in_batch)
		return;                 /* a job file of it queued it already */
	arrived(s, name, type, 0);
}

/* found_job - a job file in rcpt/ */
static void found_job(struct sched *s, const char *name, unsigned char type)
{
	add_job_file(s, name, type, 0);
}

/* forget_untaken - forget the jobs in memory of message id, which is not
 * (or no longer) taken into mess/: none of them has started, since
 * deliveries start only once the message is in mess/ (their files stay) */
static void forget_untaken(struct sched *s, const char *id)
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
 * is tried again later).  A bad envelope in a file only seen created is left for
 * the next scan: it may still be being written. */
static int create_jobs(struct sched *s, const char *id, int created)
{
	char qfrom[LOG_VALUE_MAX];
	struct envelope env;
	struct jt_msg *m;
	long long offset;
	size_t n;
	int fd = openat(s->new_fd, id, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0 && errno == ELOOP) {
		/* a link put there after it was seen: never followed */
		sched_quarantine(s, s->new_fd, "new", id, "not a regular file");
		return 1;
	}
	if (fd < 0)
		return errno == ENOENT ? 1 : -1;   /* already taken: nothing to do */
	if (sched_file_exists(s->mess_fd, id)) {
		struct stat a, b;

		/* Two messages under one ID: never merge them, never replace.
		 * One file under both names is a crash between the link and the
		 * unlink of a rename done as link + unlink (queue.h): it has
		 * been taken already. */
		if (fstat(fd, &a) == 0 && fstatat(s->mess_fd, id, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
			close(fd);
			return 2;
		}
		close(fd);
		sched_quarantine(s, s->new_fd, "new", id, "queue ID in use in mess/");
		return 1;
	}
	envelope_init(&env);
	if (envelope_read(fd, &env, &offset) < 0 || strcmp(env.id, id) != 0) {
		int e = errno;

		close(fd);
		envelope_free(&env);
		if ((e == EINVAL || e == 0) && created)
			return 1;
		if (e == EINVAL || e == 0) {
			sched_quarantine(s, s->new_fd, "new", id, "bad envelope");
			return 1;
		}
		return -1;
	}
	close(fd);
	if ((m = jobtab_add_msg(s->t, id)) == NULL)
		goto fail;
	for (n = 0; n < env.nrcpt; n++) {
		struct job_name jn;
		char name[JOB_NAME_MAX];
		int jfd;

		if (jobtab_job(m, (unsigned)n) != NULL)
			continue;           /* exists under some DUE: idempotent */
		jn.due = (long long)env.arrival;
		jn.n = (unsigned)n;
		memcpy(jn.id, id, sizeof jn.id);
		job_name_format(&jn, name);
		/* An empty file is a whole job: nothing to fsync but rcpt/. */
		jfd = openat(s->rcpt_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (jfd < 0 && errno != EEXIST) {
			log_event("queue-error", "op=create file=rcpt/%s error=\"%s\"",
			          name, strerror(errno));
			goto fail;
		}
		if (jfd >= 0)
			close(jfd);
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
	forget_untaken(s, id);
	envelope_free(&env);
	s->next_rescan = time(NULL) + EXPLODE_RETRY;
	return -1;
}

/* take_link - give message id in new/ its name in mess/ too (a link): 1,
 * 0 when it has it already (the same file: a crash after a link, or a
 * scan that met a message of this batch again), 2 (logged) when the link
 * could not be made and the message was moved by rename instead, or -1
 * (logged) when it was not moved at all */
static int take_link(struct sched *s, const char *id)
{
	struct stat a, b;

	if (linkat(s->new_fd, id, s->mess_fd, id, 0) == 0)
		return 1;
	if (errno == EEXIST && fstatat(s->new_fd, id, &a, AT_SYMLINK_NOFOLLOW) == 0 &&
	    fstatat(s->mess_fd, id, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		return 0;
	if (errno == EPERM || errno == EOPNOTSUPP || errno == ENOSYS) {
		/* No hard links here: a rename, whose two sides a crash may
		 * tear apart where new/ is synced before mess/. */
		if (queue_rename_excl(s->new_fd, id, s->mess_fd, id) == 0)
			return 2;
	}
	log_event("queue-error", "op=link file=new/%s error=\"%s\"", id, strerror(errno));
	return -1;
}

/* unlink_names - unlink dir/ID for the first n IDs of ids (logged) */
static void unlink_names(int dir_fd, const char *dir,
                         char (*ids)[ENVELOPE_ID_MAX], size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (unlinkat(dir_fd, ids[i], 0) < 0 && errno != ENOENT)
			log_event("queue-error", "op=unlink file=%s/%s error=\"%s\"", dir,
			          ids[i], strerror(errno));
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
		if (unlinkat(s->rcpt_fd, name, 0) < 0 && errno != ENOENT)
			log_event("queue-error", "op=unlink file=rcpt/%s error=\"%s\"",
			          name, strerror(errno));
	}
	forget_untaken(s, id);
}

/* explode_arrived - turn every message seen in new/ into jobs, with one
 * fsync of rcpt/ and one of mess/ for the whole batch.  A message moves
 * from new/ to mess/ as link, fsync of mess/, unlink, never as a rename:
 * an fsync of new/ by a committer in between (queue.c) could make a
 * rename's removal from new/ durable before its arrival in mess/, and a
 * power cut then would leave the message in neither.  Each step's crash
 * case is in mta-queue(5), CRASH SAFETY.  Should either fsync fail, the
 * batch is not taken: its messages stay in new/ only, their jobs are
 * forgotten (no delivery starts) and it is tried again shortly. */
static void explode_arrived(struct sched *s)
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
	if (ok > 0 && fsync(s->rcpt_fd) < 0) {
		log_event("queue-error", "op=fsync dir=rcpt error=\"%s\" action=retry seconds=%d",
		          strerror(errno), EXPLODE_RETRY);
		for (i = 0; i < ok; i++)
			unmake_jobs(s, s->arrived[i]);
		ok = 0;
		s->next_rescan = time(NULL) + EXPLODE_RETRY;
	}
	for (i = 0; i < ok; i++) {
		int r = take_link(s, s->arrived[i]);

		if (r == 0 || r == 1)
			memcpy(s->arrived[linked++], s->arrived[i], ENVELOPE_ID_MAX);
		else if (r < 0) {
			forget_untaken(s, s->arrived[i]);  /* not in mess/: no delivery */
			s->next_rescan = time(NULL) + EXPLODE_RETRY;
		}
	}
	/* Until this fsync a crash may leave the message in new/ only; it is
	 * exploded again then, finding its jobs already there.  A message
	 * found under both names (a crash between a link and this fsync)
	 * needs it as much before its new/ name goes: a receiver's fsync of
	 * new/ could make that removal durable while the link is not. */
	if (linked > 0 || nboth > 0) {
		synced = fsync(s->mess_fd) == 0;
		if (!synced)
			log_event("queue-error", "op=fsync dir=mess error=\"%s\" action=retry seconds=%d",
			          strerror(errno), EXPLODE_RETRY);
	}
	if (synced == 0) {
		/* The links may not be durable, and a later fsync that succeeds
		 * would not show they are: unlink them (new/ID stays, synced by
		 * its receiver), start no delivery, link again shortly. */
		unlink_names(s->mess_fd, "mess", s->arrived, linked);
		for (i = 0; i < linked; i++)
			forget_untaken(s, s->arrived[i]);
		s->next_rescan = time(NULL) + EXPLODE_RETRY;
	} else {
		/* Only now may new/ forget them. */
		unlink_names(s->new_fd, "new", s->arrived, linked);
		unlink_names(s->new_fd, "new", both, nboth);
	}
	free(both);
}

/* sched_drop_jobless - unlink a message file whose jobs are all gone
 * (start-up only) */
void sched_drop_jobless(void *arg, struct jt_msg *m)
{
	struct sched *s = arg;

	if (m->pending == 0 && !sched_file_exists(s->new_fd, m->id)) {
		char id[ENVELOPE_ID_MAX];

		int named;

		/* a job of it in bad/ (put there by hand or before a restart)
		 * takes it along rather than leave it without a body; one pass
		 * over the directories serves every such message */
		if (s->name_gen == 0 && sched_mark_names(s) < 0)
			s->names_unread = 1;
		named = s->names_unread ? NAMED_UNKNOWN
		      : m->named_gen == s->name_gen ? m->named : 0;
		memcpy(id, m->id, sizeof id);
		jobtab_drop_msg(s->t, m);
		sched_release_message(s, id, 0, named);
	}
}

static void settle_missing(struct sched *s);
static void note_job_missing(struct sched *s, struct jt_job *j, uint32_t cookie);

/* note_if_gone - note every job of m whose file is not under its name
 * (jobtab_each_msg; after a scan of rcpt/ failed, see sched_rescan) */
static void note_if_gone(void *arg, struct jt_msg *m)
{
	struct sched *s = arg;
	struct jt_job *j;

	for (j = m->jobs; j; j = j->next) {
		char name[JOB_NAME_MAX];

		sched_job_file(j, name);
		if (!sched_file_exists(s->rcpt_fd, name))
			note_job_missing(s, j, 0);
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
	s->next_rescan = time(NULL) + SCHED_RESCAN;
	if (sched_scan_dir(s, s->rcpt_fd, found_job) < 0) {
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
	if (sched_scan_dir(s, s->new_fd, found_new) < 0) {
		scan_failed(s, "new");
		r = -1;
	}
	explode_arrived(s);
	return r;
}

/* sched_note_missing - j's file is gone from its name: confirm after
 * this batch of events (a rename shows up as a pair of events) */
void sched_note_missing(struct sched *s, struct jt_job *j)
{
	note_job_missing(s, j, 0);
}

/* note_job_missing - j is missing, taken away by the rename cookie */
static void note_job_missing(struct sched *s, struct jt_job *j, uint32_t cookie)
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
	sched_job_file(j, current);
	if (strcmp(current, name) != 0)
		return;                 /* not its current name: our own rename */
	note_job_missing(s, j, cookie);
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
	for (i = 0; i < s->nmissing; i++) {
		struct jt_job *j = s->missing[i].job;
		char name[JOB_NAME_MAX];

		j->listed = 0;
		if (!j->missing)
			continue;           /* it reappeared under a new name */
		j->missing = 0;
		sched_job_file(j, name);
		if (sched_file_exists(s->rcpt_fd, name))
			continue;
		log_event("job-removed", "job=%s by=operator", name);
		if (j->running) {
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
		sched_drop_removed(s, j, j->msg->pending != 1 ? 0 : unsure ? NAMED_UNKNOWN
		                         : j->msg->named_gen == s->name_gen ? j->msg->named : 0);
	}
	s->nmissing = 0;
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
			else if (ev->wd == s->wd_new && (ev->mask & IN_CREATE))
				arrived(s, ev->name, DT_UNKNOWN, 1);
			else if (ev->wd == s->wd_rcpt && (ev->mask & IN_MOVED_TO))
				add_job_file(s, ev->name, DT_UNKNOWN, ev->cookie);
			else if (ev->wd == s->wd_rcpt && (ev->mask & IN_CREATE)) {
				if (!known_job(s, ev->name))
					add_job_file(s, ev->name, DT_UNKNOWN, 0);
			}
			else if (ev->wd == s->wd_rcpt)
				note_missing(s, ev->name, ev->cookie);
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
	explode_arrived(s);
}

