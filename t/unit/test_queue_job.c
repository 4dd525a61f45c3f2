/* test_queue_job.c - the queue store after the commit, on a temporary
 * queue: explode's steps (read new/, make jobs, link into mess/, sync,
 * unlink new/), every job transition (create, content, rename, unlink,
 * bad/), the one directory reader and the listing of mta-queue */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "queue.h"

static char dir[64];
static struct queue *q;

static void setup(void)
{
	char err[256];

	strcpy(dir, "/tmp/mta-unit-qjob.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_eq(queue_open(&q, dir, err, sizeof err), 0, "%s", err);
}

static void teardown(void)
{
	char cmd[128];

	queue_close(q);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0) {
		/* left behind in /tmp: harmless */
	}
}

TestSuite(queue_job, .init = setup, .fini = teardown);

/* there - does dir/sub/name exist (not followed)? */
static int there(const char *sub, const char *name)
{
	char path[256];
	struct stat sb;

	snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
	return lstat(path, &sb) == 0;
}

/* put_file - dir/sub/name with content text */
static void put_file(const char *sub, const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
	cr_assert_not_null(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

/* commit - a message with nrcpt recipients into new/; its ID into id */
static void commit(char *id, unsigned nrcpt)
{
	struct envelope env;
	struct queue_msg *m;
	struct status st;
	unsigned i;

	envelope_init(&env);
	env.arrival = 1795422268;
	strcpy(env.client, "192.0.2.7");
	cr_assert_eq(mailbox_from_text(&env.sender, "a@example.org", 13), 0);
	for (i = 0; i < nrcpt; i++) {
		struct mailbox rcpt;
		char addr[32];

		snprintf(addr, sizeof addr, "r%u@example.org", i);
		cr_assert_eq(mailbox_from_text(&rcpt, addr, strlen(addr)), 0);
		cr_assert_eq(envelope_add_rcpt(&env, &rcpt), 1);
	}
	st = queue_msg_open(q, &env, &m);
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	queue_msg_write(m, "body\n", 5);
	st = queue_msg_commit(m);
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	strcpy(id, env.id);
	envelope_free(&env);
}

/* job - the job name of recipient n of id, due at due, into name */
static struct job_name job(const char *id, unsigned n, long long due, char *name)
{
	struct job_name jn;

	jn.due = due;
	jn.n = n;
	snprintf(jn.id, sizeof jn.id, "%s", id);
	job_name_format(&jn, name);
	return jn;
}

Test(queue_job, explode_moves_a_message_from_new_to_mess_with_its_jobs)
{
	char id[ENVELOPE_ID_MAX], name[2][JOB_NAME_MAX];
	struct envelope env;
	unsigned n;

	commit(id, 2);
	cr_assert_eq(queue_read_new(q, id, &env), QUEUE_NEW_READ);
	cr_assert_eq(env.nrcpt, 2);
	for (n = 0; n < 2; n++) {
		struct job_name jn = job(id, n, (long long)env.arrival, name[n]);

		cr_assert_eq(queue_job_create(q, &jn), 0);
		cr_assert_eq(queue_job_create(q, &jn), 0, "made again: there already");
		cr_assert(there("rcpt", name[n]));
	}
	envelope_free(&env);
	cr_assert_eq(queue_sync(q, QUEUE_RCPT), 0);
	cr_assert_eq(queue_take(q, id), 1, "linked");
	cr_assert(there("new", id) && there("mess", id), "the link window: both names");
	cr_assert_eq(queue_read_new(q, id, &env), QUEUE_NEW_TAKEN);
	envelope_free(&env);
	cr_assert_eq(queue_take(q, id), 0, "the same file: taken already");
	cr_assert_eq(queue_sync(q, QUEUE_MESS), 0);
	cr_assert_eq(queue_unlink(q, QUEUE_NEW, id), 0);
	cr_assert(!there("new", id) && there("mess", id));
	cr_assert_eq(queue_read_new(q, id, &env), QUEUE_NEW_GONE);
	envelope_free(&env);
}

Test(queue_job, explode_never_follows_a_link_nor_merges_two_messages)
{
	char id[ENVELOPE_ID_MAX], path[256];
	struct envelope env;

	commit(id, 1);
	put_file("mess", id, "another message\n");
	cr_assert_eq(queue_read_new(q, id, &env), QUEUE_NEW_CLASH);
	envelope_free(&env);
	cr_assert_eq(queue_take(q, id), -1, "never over another file");
	cr_assert_eq(errno, EEXIST);

	snprintf(path, sizeof path, "%s/new/LINK1", dir);
	cr_assert_eq(symlink("/etc/passwd", path), 0);
	cr_assert_eq(queue_read_new(q, "LINK1", &env), QUEUE_NEW_LINK);
	envelope_free(&env);

	put_file("new", "BAD1", "no envelope\n\nbody\n");
	cr_assert_eq(queue_read_new(q, "BAD1", &env), QUEUE_NEW_BAD);
	envelope_free(&env);
}

Test(queue_job, a_message_is_read_through_the_store)
{
	char id[ENVELOPE_ID_MAX], buf[16];
	struct envelope env;
	long long offset;
	int fd;

	commit(id, 1);
	fd = queue_msg_read(q, QUEUE_NEW, id, &env, &offset);
	cr_assert_geq(fd, 0);
	cr_assert_str_eq(env.id, id);
	cr_assert_eq(pread(fd, buf, 5, offset), 5);
	cr_assert_eq(memcmp(buf, "body\n", 5), 0);
	close(fd);
	envelope_free(&env);
	cr_assert_eq(queue_msg_read(q, QUEUE_MESS, id, &env, &offset), -1);
	cr_assert_eq(errno, ENOENT);
	envelope_free(&env);
}

Test(queue_job, every_job_transition)
{
	char name[JOB_NAME_MAX], later[JOB_NAME_MAX], path[256];
	struct job_name jn = job("ABC1", 0, 100, name), jl = job("ABC1", 0, 200, later);
	struct job_info info, got;

	(void)jl;
	/* created: empty, never tried */
	cr_assert_eq(queue_job_create(q, &jn), 0);
	cr_assert_eq(queue_job_read(q, name, &got, 1), QUEUE_JOB_READ);
	cr_assert_eq(got.attempts, 0);
	cr_assert_eq(got.first, 0);
	/* deferred: renamed to its next DUE first, then its content */
	cr_assert_eq(queue_job_rename(q, name, later), 0);
	cr_assert(!there("rcpt", name) && there("rcpt", later));
	memset(&info, 0, sizeof info);
	info.attempts = 2;
	info.first = 90;
	strcpy(info.error, "451 try later");
	cr_assert_eq(queue_job_write(q, later, &info), 0);
	cr_assert_eq(queue_job_read(q, later, &got, 0), QUEUE_JOB_READ);
	cr_assert_eq(got.attempts, 2);
	cr_assert_eq(got.first, 90);
	cr_assert_str_eq(got.error, "451 try later");
	cr_assert(!there("tmp", "job.1"), "nothing left in tmp/");
	/* a rename never replaces: a second file of the recipient stays apart */
	cr_assert_eq(queue_job_create(q, &jn), 0);
	cr_assert_eq(queue_job_rename(q, name, later), -1);
	cr_assert_eq(errno, EEXIST);
	cr_assert_eq(queue_job_read(q, later, &got, 0), QUEUE_JOB_READ);
	cr_assert_eq(got.attempts, 2, "the content is kept");
	/* quarantined: into bad/, a second one of the name beside it */
	queue_quarantine(q, QUEUE_RCPT, name, "test");
	cr_assert(there("bad", "rcpt.100.ABC1.0") && !there("rcpt", name));
	cr_assert_eq(queue_job_create(q, &jn), 0);
	queue_quarantine(q, QUEUE_RCPT, name, "test");
	cr_assert(there("bad", "rcpt.100.ABC1.0.1"));
	/* finished: unlinked; gone for a reader */
	cr_assert_eq(queue_unlink(q, QUEUE_RCPT, later), 0);
	cr_assert_eq(queue_job_read(q, later, &got, 0), QUEUE_JOB_GONE);
	cr_assert_eq(queue_job_rename(q, later, name), -1);
	cr_assert_eq(errno, ENOENT);
	snprintf(path, sizeof path, "%s/rcpt/%s", dir, later);
	cr_assert_neq(access(path, F_OK), 0);
}

Test(queue_job, content_is_never_written_to_a_job_renamed_away)
{
	char name[JOB_NAME_MAX], held[JOB_NAME_MAX], tmp[128];
	struct job_name jn = job("ABC2", 0, 100, name), jh = job("ABC2", 0, 9999999999LL, held);
	struct job_info info, got;
	DIR *d;
	struct dirent *e;
	int files = 0;

	(void)jh;
	cr_assert_eq(queue_job_create(q, &jn), 0);
	/* an operator holds it between the scheduler's rename and its write */
	cr_assert_eq(queue_job_rename(q, name, held), 0);
	memset(&info, 0, sizeof info);
	info.attempts = 1;
	strcpy(info.error, "451 later");
	cr_assert_eq(queue_job_write(q, name, &info), -1);
	cr_assert_eq(errno, ENOENT, "the name is gone: nothing written");
	cr_assert(!there("rcpt", name), "the job is not made again under its old name");
	cr_assert_eq(queue_job_read(q, held, &got, 0), QUEUE_JOB_READ);
	cr_assert_eq(got.attempts, 0, "the held job keeps its content");
	/* and the write under the name that is there leaves nothing behind */
	cr_assert_eq(queue_job_write(q, held, &info), 0);
	cr_assert_eq(queue_job_read(q, held, &got, 0), QUEUE_JOB_READ);
	cr_assert_eq(got.attempts, 1);
	snprintf(tmp, sizeof tmp, "%s/tmp", dir);
	cr_assert_not_null(d = opendir(tmp));
	while ((e = readdir(d)) != NULL)
		files += e->d_name[0] != '.';
	closedir(d);
	cr_assert_eq(files, 0, "no old content left in tmp/");
}

Test(queue_job, a_job_that_is_no_job_file_is_told_apart)
{
	char path[256];
	struct job_info got;

	snprintf(path, sizeof path, "%s/rcpt/100.DIR1.0", dir);
	cr_assert_eq(mkdir(path, 0700), 0);
	cr_assert_eq(queue_job_read(q, "100.DIR1.0", &got, 1), QUEUE_JOB_NOT_FILE);
	put_file("rcpt", "100.TXT1.0", "attempts 3\ngarbage\n");
	cr_assert_eq(queue_job_read(q, "100.TXT1.0", &got, 1), QUEUE_JOB_BAD);
	cr_assert_eq(got.attempts, 0);
}

/* stop_at - a queue_scan callback counting names, stopping at the
 * second with the sign of *(int *)arg */
static int count, stop_sign;
static int stop_at(void *arg, const char *name, unsigned char type)
{
	(void)arg;
	(void)name;
	(void)type;
	return ++count == 2 ? stop_sign : 0;
}

Test(queue_job, the_one_reader_reads_every_name_or_stops_when_told)
{
	put_file("bad", "a", "");
	put_file("bad", "b", "");
	put_file("bad", "c", "");
	count = 0;
	stop_sign = 0;
	cr_assert_eq(queue_scan(q, QUEUE_BAD, stop_at, NULL), 0);
	cr_assert_eq(count, 3, ". and .. are no names");
	count = 0;
	stop_sign = 1;
	cr_assert_eq(queue_scan(q, QUEUE_BAD, stop_at, NULL), 0);
	cr_assert_eq(count, 2);
	count = 0;
	stop_sign = -1;
	errno = 0;
	cr_assert_eq(queue_scan(q, QUEUE_BAD, stop_at, NULL), -1);
}

static int skips;
static void skip(void *arg, enum queue_dir d, const char *name)
{
	(void)arg;
	(void)d;
	(void)name;
	skips++;
}

/* During explode's link window a message has both names: listed once,
 * in mess/, with its jobs. */
Test(queue_job, a_message_between_new_and_mess_is_listed_once)
{
	char id[ENVELOPE_ID_MAX], other[ENVELOPE_ID_MAX], name[JOB_NAME_MAX];
	struct queue_listing l;
	struct job_name jn;

	commit(id, 1);
	commit(other, 1);
	jn = job(id, 0, 100, name);
	cr_assert_eq(queue_job_create(q, &jn), 0);
	cr_assert_eq(queue_take(q, id), 1);
	put_file("new", "not-an-id!", "");
	put_file("rcpt", "not-a-job", "");
	skips = 0;
	cr_assert_eq(queue_list(q, &l, skip, NULL), 0);
	cr_assert_eq(skips, 2);
	cr_assert_eq(l.nmsgs, 2);
	cr_assert_eq(l.njobs, 1);
	{
		size_t i = strcmp(l.msgs[0].id, id) == 0 ? 0 : 1;

		cr_assert_str_eq(l.msgs[i].id, id);
		cr_assert_eq(l.msgs[i].where, QUEUE_MESS);
		cr_assert_eq(l.msgs[i].njobs, 1);
		cr_assert_str_eq(l.jobs[l.msgs[i].job].name, name);
		cr_assert(l.jobs[l.msgs[i].job].claimed);
		cr_assert_eq(l.msgs[1 - i].where, QUEUE_NEW);
		cr_assert_eq(l.msgs[1 - i].njobs, 0);
	}
	queue_listing_free(&l);
}

/* failing_sync - an fsync whose write was lost */
static int failing_sync(int fd)
{
	(void)fd;
	errno = EIO;
	return -1;
}

Test(queue_job, a_failed_directory_sync_is_reported)
{
	queue_set_sync(q, failing_sync);
	errno = 0;
	cr_assert_eq(queue_sync(q, QUEUE_RCPT), -1);
	cr_assert_eq(errno, EIO);
	cr_assert_eq(queue_sync(q, QUEUE_MESS), -1);
}

Test(queue_job, mta_queue_attaches_without_the_lock_or_bad)
{
	struct queue *a;
	char err[256], path[128];

	snprintf(path, sizeof path, "%s/bad", dir);
	cr_assert_eq(rmdir(path), 0);
	cr_assert_eq(queue_attach(&a, dir, err, sizeof err), 0, "%s", err);
	cr_assert(!queue_has_dir(a, QUEUE_BAD));
	cr_assert(queue_has_dir(a, QUEUE_RCPT));
	queue_close(a);
	snprintf(path, sizeof path, "%s/rcpt", dir);
	cr_assert_eq(rmdir(path), 0);
	cr_assert_eq(queue_attach(&a, dir, err, sizeof err), -1);
	cr_assert_not_null(strstr(err, "is not a queue"), "%s", err);
}

/* renameat2 as a file system without RENAME_NOREPLACE answers it, while
 * no_noreplace is set: queue_rename_excl falls back to link, sync, unlink */
static int no_noreplace;
int renameat2(int odir, const char *old, int ndir, const char *new, unsigned flags)
{
	if (no_noreplace && flags != 0) {
		errno = EINVAL;
		return -1;
	}
	return (int)syscall(SYS_renameat2, odir, old, ndir, new, flags);
}

/* the fallback's directory sync is the queue's: injected, it fails the
 * rename, which leaves the job under its old name */
Test(queue_job, a_rename_by_link_syncs_through_the_queue)
{
	char name[JOB_NAME_MAX], later[JOB_NAME_MAX];
	struct job_name jn = job("ABC1", 0, 100, name);

	job("ABC1", 0, 200, later);
	cr_assert_eq(queue_job_create(q, &jn), 0);
	no_noreplace = 1;
	queue_set_sync(q, failing_sync);
	errno = 0;
	cr_assert_eq(queue_job_rename(q, name, later), -1, "a lost directory write is a failure");
	cr_assert_eq(errno, EIO);
	cr_assert(there("rcpt", name) && !there("rcpt", later));
	queue_set_sync(q, fsync);
	cr_assert_eq(queue_job_rename(q, name, later), 0);
	cr_assert(!there("rcpt", name) && there("rcpt", later));
	no_noreplace = 0;
}
