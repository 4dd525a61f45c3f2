/* queue - the queue store: the one module that names, creates, renames,
 * unlinks, scans and reads the files of a queue directory (mta-queue(5)
 * has the format and the crash argument of every step).  The scheduler
 * decides what happens to a message; the store does it.  mta-queue
 * (qlist.h) reads and steers the queue through it too.
 *
 *   queue/tmp/ID      being written; only its writer ever opens it
 *   queue/new/ID      complete (durable once its committer has returned
 *                     ST_OK), waiting for the scheduler
 *   queue/mess/ID     taken by the scheduler
 *   queue/rcpt/DUE.ID.N, queue/bad/, queue/lock
 *   queue/maildrop/ID  a local user's submission (mta-send without a
 *                      server), mode 1733: see queue_maildrop_put
 *
 * Files: queue.c (opening, IDs, the rename that never replaces, the one
 * directory reader), queue_maildrop.c (maildrop/), queue_commit.c (a message's create and commit with
 * the group fsync of new/), queue_job.c (reading messages and jobs,
 * explode's steps, job files, moves to bad/), queue_list.c (the listing
 * of mta-queue).  Each of the last three calls only queue.c.
 *
 * A message enters by: create tmp/ID (O_EXCL), write envelope (its seal
 * reserved) and message through a buffer, fill in the seal (size and
 * CRC-32C: seal.h), rename to new/ID, fdatasync, fsync new/, close
 * (where the journal carries the rename, queue_trust_journal: rename,
 * fsync, close).  Only
 * when queue_msg_commit() returns ST_OK may the client hear 250.  From
 * before the rename until the syncs are decided the committer is listed
 * (queue_msg_committing) and the scheduler leaves new/ID alone; the close
 * after the decision tells it (IN_CLOSE_WRITE).  A power cut before the
 * fdatasync returned may keep new/ID with its data lost: never
 * acknowledged, and its seal fails (queue_read_new).  The directory
 * fsync is shared (group commit, group_sync.h): a committer waits for a
 * directory fsync that *started after* its rename, so one fsync can cover
 * many concurrent renames.  A directory fsync that fails fails every
 * committer whose rename came before it returned (every committer that
 * took its number, just before its rename, by then: also those that had
 * not yet come to wait); they take their files back out of new/ and
 * answer 4xx.
 *
 * What is durable when a call returns: a committed message (new/ID and
 * its content); nothing else by itself.  A job file made by
 * queue_job_create(), a link made by queue_take() and an unlink are
 * durable only at the queue_sync() of their directory that follows
 * (explode orders them: jobs, sync rcpt/, links, sync mess/, unlink of
 * the new/ names); queue_job_write() makes a job's content durable before
 * its name takes it (the rename is not synced: a crash keeps the old
 * content, one attempt uncounted).  No call here replaces an existing
 * name with another file (queue_rename_excl), except queue_job_write(),
 * which replaces a job's own content.
 *
 * IDs: 13 upper-case hex digits of the creation time in microseconds,
 * then a per-process sequence number in hex: letters and digits only,
 * unique across threads (atomic counter).  Across restarts the clock may
 * have been set back, so an ID is only taken when no message in new/ or
 * mess/ that this process has seen (at queue_open, and since:
 * queue_note_id) has it (the next one is tried), and no rename ever
 * replaces a name (queue_rename_excl); queue_open() holds the lock that
 * keeps a second daemon away.
 *
 * Thread safety: struct queue is shared by every thread after
 * queue_open(); its only mutable state is the ID counter and the floor
 * of the IDs to look up (atomic), and the group-commit state (under its
 * own mutex).  A struct queue_msg belongs
 * to the one thread that opened it.  Receiver threads (and the scheduler,
 * for bounces) call the queue_msg_* functions; delivery threads only
 * open messages to read them (queue_msg_open_read); every other call
 * that changes the queue is the scheduler thread's (or, from
 * outside the daemon, mta-queue's: each of its changes is one rename or
 * unlink, as an operator's would be).  The directory descriptors are
 * opened once, O_CLOEXEC, and are the store's.
 */
#ifndef MTA_QUEUE_H
#define MTA_QUEUE_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "envelope.h"
#include "job.h"
#include "status.h"

enum { JOB_FILE_MAX = 8192 };  /* job_info_format() never writes 800 bytes */

struct queue;
struct queue_msg;

/* the queue's directories, in the order a message moves through them */
enum queue_dir { QUEUE_TMP, QUEUE_NEW, QUEUE_MESS, QUEUE_RCPT, QUEUE_BAD,
                 QUEUE_MAILDROP, QUEUE_NDIRS };
/* their names: "tmp", "new", ..., "maildrop" (local users' submissions,
 * queue_maildrop.c; not on the way of a queued message) */
extern const char *const queue_dir_name[QUEUE_NDIRS];

/* queue_open - create the directories if needed, take queue/lock (a
 * second daemon fails here), remove stale tmp/ files.  0, or -1 with a
 * message in err. */
int queue_open(struct queue **q, const char *dir, char *err, size_t errlen);
/* queue_attach - open an existing queue from outside the daemon, without
 * its lock and without changing anything: new/, mess/ and rcpt/ must
 * exist, tmp/ and bad/ may not (queue_has_dir).  0, or -1 with a message
 * in err. */
int queue_attach(struct queue **q, const char *dir, char *err, size_t errlen);
/* queue_close - release the lock and memory */
void queue_close(struct queue *q);
/* queue_dir - the queue's directory as given */
const char *queue_dir(const struct queue *q);
/* queue_has_dir - is directory d there (queue_attach may lack tmp/, bad/)? */
int queue_has_dir(const struct queue *q, enum queue_dir d);
/* queue_new_id - a fresh message ID into id[ENVELOPE_ID_MAX]: the time
 * in microseconds as QUEUE_ID_TIME_DIGITS hexadecimal digits, then a
 * sequence number (not checked against the directories: queue_msg_open
 * does that, with queue_id_in_use) */
enum { QUEUE_ID_TIME_DIGITS = 13 };
void queue_new_id(struct queue *q, char *id);
/* queue_id_in_use - does a message in new/ or mess/ have id?  For an ID
 * of queue_new_id's (made_here) the directories are looked at only while
 * the clock has not passed the time of every name seen in them (at
 * queue_open, and since by queue_note_id): a clock set back across a
 * restart makes IDs again that messages still queued have. */
int queue_id_in_use(const struct queue *q, const char *id, int made_here);
/* queue_note_id - a name seen in new/ or mess/ (put there by hand, say):
 * IDs made before the clock passes its time are looked up */
void queue_note_id(const struct queue *q, const char *name);

/* the source of an ID's time: microseconds since the epoch */
typedef unsigned long long queue_clock_fn(void);
/* queue_clock_real - gettimeofday(), the default */
unsigned long long queue_clock_real(void);
/* queue_set_clock - replace the clock of IDs (for tests: a clock set
 * back); call before any other thread uses q */
void queue_set_clock(struct queue *q, queue_clock_fn *clock);
/* the fsync of a directory descriptor: 0, or -1 with errno */
typedef int queue_sync_fn(int fd);
/* queue_set_sync - replace the fsync of every directory sync the store
 * makes (for tests: injected failures); call before any other thread
 * uses q */
void queue_set_sync(struct queue *q, queue_sync_fn *sync);

/* queue_trust_journal - let the journal of new/'s file system stand in
 * for the fsync of new/ after each commit where it carries a rename with
 * the file's fsync (fs_journal.h: ext4 with a journal): the committer
 * then fsyncs its file after the rename and not the directory.  1 when it
 * does (the journal's name in journal[len]), 0 when new/ stays fsynced
 * (the default; always after queue_set_sync).  Call before any other
 * thread uses q. */
int queue_trust_journal(struct queue *q, char *journal, size_t len);
/* queue_journal_orders - is a directory on device dev (st_dev) on the
 * queue's file system, and did queue_trust_journal say yes?  Then its
 * journal commits every change of metadata there in order: a rename into
 * that directory is durable before any change the queue makes after it
 * (a job or a message unlinked), with no fsync of the directory.  (A
 * Maildir delivery must be durable before the queue forgets the message,
 * not before.) */
int queue_journal_orders(const struct queue *q, dev_t dev);

/* queue_rename_excl - renameat(odir, old, ndir, new) that never replaces
 * an existing new (-1 with EEXIST instead): renameat2(RENAME_NOREPLACE),
 * or where the file system lacks it (EINVAL), link, sync of ndir (the
 * queue's sync, on a descriptor of its own, so that ndir's own fsync
 * still reports a lost write), unlink of old; without hard links either, a check that new is free, then
 * renameat().  Every rename that gives a queue file a new name goes through
 * it.  0, or -1 with errno.  Thread-safe. */
int queue_rename_excl(queue_sync_fn *sync, int odir, const char *old, int ndir,
                      const char *new);

/* queue_mkdir_durable - make directory path (mode) unless it exists, and
 * fsync the directory above it, so that its name survives a power cut
 * with whatever is put in it later (a name is durable only at fsync of
 * its directory).  The fsync is done when path already existed too: a
 * racing thread may have made it and not synced yet.  0, or -1 with
 * errno.  Thread-safe. */
int queue_mkdir_durable(const char *path, mode_t mode);

/* ---- receiving a message (queue_commit.c): receiver threads ---- */

/* queue_msg_open - give env a new ID, create tmp/ID, write the envelope */
struct status queue_msg_open(struct queue *q, struct envelope *env,
                             struct queue_msg **m);
/* queue_msg_open_as - the same under the ID given (a maildrop file's:
 * letters and digits); ST_TEMP when a message of that ID is in new/ or
 * mess/, or tmp/ID exists.  Its commit syncs the data before the rename
 * (the order before the seal): new/ID never names lost data, so the
 * maildrop copy may go once new/ID exists (maildrop.c) */
struct status queue_msg_open_as(struct queue *q, struct envelope *env,
                                const char *id, struct queue_msg **m);
/* queue_msg_write - append message bytes; an error is kept for commit */
void queue_msg_write(struct queue_msg *m, const char *p, size_t n);
/* queue_msg_commit - make the message durable in new/; frees m */
struct status queue_msg_commit(struct queue_msg *m);
/* queue_msg_committing - is a receiver of this process between its
 * rename of new/id and the decision of its commit (fdatasync, fsync of
 * new/)?  The scheduler leaves such a file alone: the committer's close
 * of it (IN_CLOSE_WRITE in new/) follows the decision.  Thread-safe. */
int queue_msg_committing(struct queue *q, const char *id);
/* queue_msg_committed - did a commit of id in this process succeed (its
 * data durable, whole as written)?  Answered once per success (then
 * forgotten), and only for the last 256 or so: a 0 means "check it".
 * Thread-safe. */
int queue_msg_committed(struct queue *q, const char *id);
/* queue_msg_abort - remove the tmp file; frees m */
void queue_msg_abort(struct queue_msg *m);

/* ---- names (queue.c, queue_list.c): any thread ---- */

/* called for one name of a directory with its d_type (DT_UNKNOWN where
 * the file system does not say); 0 goes on, >0 stops the scan (it
 * returns 0), <0 stops it (it returns -1, errno as fn left it) */
typedef int queue_name_fn(void *arg, const char *name, unsigned char type);
/* queue_scan - fn for every name in directory d but "." and "..", read
 * on a fresh open file description (one scan never shares an offset);
 * 0, or -1 with errno set when it could not be read to its end: its
 * names are not known then (a failed readdir() is no end) */
int queue_scan(const struct queue *q, enum queue_dir d, queue_name_fn *fn,
               void *arg);
/* queue_exists - does d/name exist (a symbolic link counts, unfollowed)? */
int queue_exists(const struct queue *q, enum queue_dir d, const char *name);
/* queue_not_regular - is d/name known to be something other than a
 * regular file?  type is its d_type, or DT_UNKNOWN to ask the file
 * system; a name gone meanwhile is not known to be anything */
int queue_not_regular(const struct queue *q, enum queue_dir d,
                      const char *name, unsigned char type);

/* one message in a listing (queue_list) */
struct queue_entry {
	char id[ENVELOPE_ID_MAX];
	enum queue_dir where;        /* QUEUE_NEW or QUEUE_MESS */
	size_t job, njobs;           /* its jobs: jobs[job .. job+njobs) */
};
/* one job file in a listing */
struct queue_entry_job {
	struct job_name jn;
	char name[JOB_NAME_MAX];
	int claimed;                 /* a message of its ID is listed */
};
struct queue_listing {
	struct queue_entry *msgs;    /* by ID */
	size_t nmsgs;
	struct queue_entry_job *jobs; /* by ID, recipient, due time */
	size_t njobs;
};
/* called for a name that is no queue ID (new/, mess/) or no job name
 * (rcpt/): it is left out of the listing */
typedef void queue_skip_fn(void *arg, enum queue_dir d, const char *name);
/* queue_list - the messages of new/ and mess/ and the job files of
 * rcpt/, read in that order (the order a message moves in: one that
 * moves during the listing is seen at least once, and a job is never
 * seen without its message unless it has none).  Each message is listed
 * once: one caught under both names by explode (linked into mess/, its
 * new/ name not yet unlinked) is listed in mess/.  0, or -1 with errno
 * (a directory could not be read, or ENOMEM); free it with
 * queue_listing_free() either way. */
int queue_list(const struct queue *q, struct queue_listing *l,
               queue_skip_fn *skip, void *arg);
/* queue_list_jobs - the same for the job files of rcpt/ alone (no
 * message listed, none claimed) */
int queue_list_jobs(const struct queue *q, struct queue_listing *l,
                    queue_skip_fn *skip, void *arg);
/* queue_listing_free - free what queue_list filled */
void queue_listing_free(struct queue_listing *l);

/* ---- messages and jobs (queue_job.c) ---- */

/* queue_msg_open_read - open message d/id to read (never through a
 * symbolic link: ELOOP; never blocking on a FIFO); a descriptor, or -1
 * with errno */
int queue_msg_open_read(const struct queue *q, enum queue_dir d,
                        const char *id);
/* queue_msg_read - open message d/id (queue_msg_open_read) and read its
 * envelope into env (initialised here: envelope_free it in any case);
 * the descriptor, at the message's first byte *offset, or -1 with errno:
 * ENOENT gone, ELOOP a symbolic link, EINVAL no valid envelope, anything
 * else: not readable now.  The envelope's ID is not compared with id. */
int queue_msg_read(const struct queue *q, enum queue_dir d, const char *id,
                   struct envelope *env, long long *offset);

/* what explode finds in new/ (queue_read_new) */
enum queue_new_state {
	QUEUE_NEW_READ,              /* env read, seal met, data synced
	                              * (fdatasync): to be exploded */
	QUEUE_NEW_GONE,              /* no such name: taken already */
	QUEUE_NEW_LINK,              /* a symbolic link: never followed */
	QUEUE_NEW_TAKEN,             /* the same file is mess/ID: taken, its
	                              * new/ name not unlinked yet */
	QUEUE_NEW_CLASH,             /* another file is mess/ID */
	QUEUE_NEW_BAD,               /* no valid envelope, or another ID's */
	QUEUE_NEW_UNSEALED,          /* its seal not met: data lost before
	                              * its writer's fdatasync ended */
	QUEUE_NEW_UNSYNCED,          /* its fdatasync failed (errno): its data
	                              * may not be on disk, and a second one
	                              * would say 0 (Linux reports a writeback
	                              * error once); never acknowledged, as an
	                              * acknowledged file has nothing left to
	                              * write */
	QUEUE_NEW_ERROR              /* not readable now (errno) */
};
/* queue_read_new - open new/id and read its envelope into env (as
 * queue_msg_read; env needs envelope_free in any case), check its seal
 * and fdatasync it: what is then linked into mess/ is durable whoever
 * wrote it, so no reader of mess/ checks the seal (mta-queue(5)) */
enum queue_new_state queue_read_new(const struct queue *q, const char *id,
                                    struct envelope *env);
/* queue_read_new_as - the same, but with synced set (a commit seen to
 * succeed: queue_msg_committed) neither the seal check, which reads the
 * whole file, nor the fdatasync */
enum queue_new_state queue_read_new_as(const struct queue *q, const char *id,
                                       struct envelope *env, int synced);
/* queue_take - give message id in new/ its name in mess/ too (a link; a
 * rename where there are no hard links): 1 linked, 0 when it has it
 * already (the same file), 2 moved by a rename instead, or -1 with errno */
int queue_take(struct queue *q, const char *id);
/* queue_sync - fsync directory d: what was made, linked or unlinked in
 * it before is durable; 0, or -1 with errno (then it may not be, and a
 * later sync that succeeds does not show that it is) */
int queue_sync(struct queue *q, enum queue_dir d);
/* queue_unlink - unlink d/name; 0, or -1 with errno (ENOENT: not there) */
int queue_unlink(struct queue *q, enum queue_dir d, const char *name);
/* queue_quarantine - move d/name aside into bad/ (kept, never
 * delivered) as bad/DIR.NAME, or DIR.NAME.1, .2, ... if that is taken;
 * logged (quarantine, or queue-error) with why */
void queue_quarantine(struct queue *q, enum queue_dir d, const char *name,
                      const char *why);

/* queue_job_create - the empty job file of jn in rcpt/ (an empty file is
 * a whole job); 0 (made, or there already), or -1 with errno */
int queue_job_create(struct queue *q, const struct job_name *jn);
/* queue_job_rename - rename rcpt/from to rcpt/to, never over a file
 * (EEXIST); 0, or -1 with errno (ENOENT: from is gone) */
int queue_job_rename(struct queue *q, const char *from, const char *to);
/* what queue_job_read found */
enum queue_job_state {
	QUEUE_JOB_READ,              /* info filled */
	QUEUE_JOB_GONE,              /* no such job (finished meanwhile) */
	QUEUE_JOB_ERROR,             /* it could not be opened or read (errno) */
	QUEUE_JOB_NOT_FILE,          /* not a regular file, or too large */
	QUEUE_JOB_BAD                /* its content is not job lines */
};
/* queue_job_read - the content of rcpt/name into info (zero unless
 * QUEUE_JOB_READ).  regular_only: an fstat() refuses anything but a
 * regular file under JOB_FILE_MAX bytes (the scheduler knows its job files
 * are regular and reads without it; mta-queue does not know). */
enum queue_job_state queue_job_read(const struct queue *q, const char *name,
                                    struct job_info *info, int regular_only);
/* queue_job_write - replace the content of rcpt/name with info: written
 * to tmp/job.NAME, fdatasync'd, exchanged with it (RENAME_EXCHANGE: a job
 * renamed away meanwhile is not made again; renamed over it where the
 * file system cannot exchange), the old content unlinked; 0, or -1 with
 * errno (ENOENT: rcpt/name is gone) */
int queue_job_write(struct queue *q, const char *name,
                    const struct job_info *info);

/* ---- maildrop (queue_maildrop.c) ----
 *
 * maildrop/ is mode 1733 (QUEUE_MAILDROP_MODE): anyone may create a file
 * in it and open one whose name they know, nobody but its owner (and the
 * queue's owner) may list it, rename or unlink a file there.  The queue
 * directory itself is searchable by all (0711), its other directories
 * 0700.  A submission is a file ID (the time and 64 random bits, so that
 * nobody can guess another's name), mode 0600 with an ACL entry letting
 * maildrop/'s owner (the daemon's user) read it, or 0644 where the file
 * system has no ACLs; its owner, as the kernel keeps it, is the
 * submitting user.  Format: maildrop.h, mta-queue(5) MAILDROP. */
enum { QUEUE_MAILDROP_MODE = 01733 };
/* the prefix of a submission still being written (ignored by the daemon) */
#define QUEUE_MAILDROP_TMP "tmp."
/* queue_maildrop_put - called by any user (mta-send): write the iovcnt
 * pieces of iov to dir/maildrop/tmp.ID (O_EXCL, modes above), fsync,
 * rename to dir/maildrop/ID (never over a file), syncfs (the user cannot
 * open maildrop/ to fsync it); the ID in
 * id[ENVELOPE_ID_MAX].  0 when durable, or -1 with errno (the file
 * removed again). */
struct iovec;
int queue_maildrop_put(const char *dir, const struct iovec *iov, int iovcnt,
                       char *id);
/* queue_maildrop_name - is name a submission's (an ID), not one being
 * written (QUEUE_MAILDROP_TMP) nor anything else? */
int queue_maildrop_name(const char *name);
/* queue_maildrop_taken - is submission name in the queue already (taken
 * before a crash that kept its maildrop/ copy)?  1 when mess/name exists
 * (mess/ holds only synced data: mta-queue(5)) or new/name reads whole
 * (its envelope, its seal met, or a file from before the seal) and
 * syncs, and that directory's fsync succeeds (the name must be durable
 * before the maildrop/ copy goes); 0 when neither exists, or new/name is
 * not whole or its fdatasync fails: then it is moved to bad/, and the
 * submission is to be taken again (the pickup syncs before its rename,
 * so its own commit never leaves that).  -1 (errno) when new/name cannot
 * be read now, a directory's fsync failed, or the move failed. */
int queue_maildrop_taken(struct queue *q, const char *name);
/* queue_maildrop_open - open maildrop/name to read: never a symbolic
 * link (ELOOP), never through a mount point (EXDEV: a user's FUSE mount
 * could block the reader), never blocking (a FIFO), only a regular file
 * with one link (else EINVAL; EMLINK for more links: another file linked
 * in);
 * its stat in *st; a descriptor, or -1 with errno */
int queue_maildrop_open(const struct queue *q, const char *name,
                        struct stat *st);
/* queue_maildrop_remove - unlink maildrop/name and fsync maildrop/; 0,
 * or -1 with errno (not known to be gone for good) */
int queue_maildrop_remove(struct queue *q, const char *name);
/* queue_maildrop_stale - unlink maildrop/tmp.* files older than age
 * seconds (a writer killed half-way); none younger */
void queue_maildrop_stale(struct queue *q, long age);

#endif
