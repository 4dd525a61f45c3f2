/* test_queue.c - the queue's durable write on a real directory: IDs that
 * come round again (a clock set back across a restart) never replace a
 * message, no rename of the queue replaces a name, and the group commit
 * of new/ with its fsync injected (shared, and failed) */
#include <criterion/criterion.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue.h"
#include "queue_priv.h"

static char dir[64];

/* a clock stopped at one instant: every restart makes the same IDs */
static unsigned long long stopped_clock(void) { return 1795422268000000ULL; }

static void setup(void)
{
	strcpy(dir, "/tmp/mta-unit-queue.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0) {
		/* left behind in /tmp: harmless */
	}
}

static struct queue *open_queue(void)
{
	struct queue *q;
	char err[256];

	cr_assert_eq(queue_open(&q, dir, err, sizeof err), 0, "%s", err);
	queue_set_clock(q, stopped_clock);
	return q;
}

/* commit - queue one message with body text, its ID into id; the
 * commit's status */
static struct status commit(struct queue *q, const char *text, char *id)
{
	struct envelope env;
	struct mailbox rcpt;
	struct queue_msg *m;
	struct status st;

	envelope_init(&env);
	env.arrival = 1795422268;
	strcpy(env.client, "192.0.2.7");
	cr_assert_eq(mailbox_from_text(&env.sender, "a@example.org", 13), 0);
	cr_assert_eq(mailbox_from_text(&rcpt, "b@example.org", 13), 0);
	cr_assert_eq(envelope_add_rcpt(&env, &rcpt), 1);
	st = queue_msg_open(q, &env, &m);
	if (st.kind == ST_OK) {
		queue_msg_write(m, text, strlen(text));
		st = queue_msg_commit(m);
	}
	strcpy(id, env.id);
	envelope_free(&env);
	return st;
}

/* queue one message with body text; its ID into id */
static void put(struct queue *q, const char *text, char *id)
{
	struct status st = commit(q, text, id);

	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
}

/* body - the message after the envelope of dir/sub/id, or "" */
static const char *body(const char *sub, const char *id)
{
	static char buf[4096];
	char path[256];
	ssize_t n;
	char *p;
	int fd;

	snprintf(path, sizeof path, "%s/%s/%s", dir, sub, id);
	if ((fd = open(path, O_RDONLY)) < 0)
		return "";
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	p = strstr(buf, "\n\n");
	return p ? p + 2 : "";
}

TestSuite(queue, .init = setup, .fini = teardown, .timeout = 60);

Test(queue, a_reused_id_never_replaces_a_message_in_new)
{
	struct queue *q = open_queue();
	char first[ENVELOPE_ID_MAX], second[ENVELOPE_ID_MAX];

	put(q, "first\n", first);
	queue_close(q);
	q = open_queue();              /* a restart: the sequence starts again */
	put(q, "second\n", second);
	queue_close(q);
	cr_assert_str_neq(first, second);
	cr_assert_str_eq(body("new", first), "first\n");
	cr_assert_str_eq(body("new", second), "second\n");
}

Test(queue, a_reused_id_never_names_a_message_in_mess)
{
	struct queue *q = open_queue();
	char first[ENVELOPE_ID_MAX], second[ENVELOPE_ID_MAX];
	char from[256], to[256];

	put(q, "first\n", first);
	queue_close(q);
	/* taken by the scheduler: its jobs name it by ID */
	snprintf(from, sizeof from, "%s/new/%s", dir, first);
	snprintf(to, sizeof to, "%s/mess/%s", dir, first);
	cr_assert_eq(rename(from, to), 0);
	q = open_queue();
	put(q, "second\n", second);
	queue_close(q);
	cr_assert_str_neq(first, second);
	cr_assert_str_eq(body("mess", first), "first\n");
	cr_assert_str_eq(body("new", second), "second\n");
}

/* A message put into mess/ by hand while the daemon runs, under the ID
 * the clock is about to make again: once it has been read (as a delivery
 * or explode reads every message), IDs of its time are looked up again,
 * and the next message takes another one. */
/* seen_then_made - new/ID or mess/ID put there by hand after start-up
 * under the ID the clock is about to make again, then read as the daemon
 * reads (open_read: a delivery, the mess/ case; read_new: explode): the
 * next message takes another ID */
static void seen_then_made(const char *sub, int read_new)
{
	struct queue *q = open_queue();
	char first[ENVELOPE_ID_MAX], second[ENVELOPE_ID_MAX], path[256];
	struct envelope env;
	int fd;

	queue_new_id(q, first);        /* the ID the next message would get */
	queue_close(q);
	q = open_queue();              /* its sequence starts again */
	snprintf(path, sizeof path, "%s/%s/%s", dir, sub, first);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "x", 1), 1);
	close(fd);
	if (read_new) {
		queue_read_new(q, first, &env);   /* no envelope: its verdict */
		envelope_free(&env);
	} else {
		fd = queue_msg_open_read(q, QUEUE_MESS, first);
		cr_assert_geq(fd, 0);
		close(fd);
	}
	put(q, "second\n", second);
	cr_assert_str_neq(first, second);
	cr_assert_str_eq(body("new", second), "second\n");
	queue_close(q);
}

/* A message put into mess/ or new/ by hand while the daemon runs, under
 * the ID the clock is about to make again: once it has been read (as a
 * delivery or explode reads every message), IDs of its time are looked
 * up again, and the next message takes another one. */
Test(queue, an_id_seen_after_start_up_is_never_made_again)
{
	seen_then_made("mess", 0);
}

Test(queue, an_id_seen_in_new_after_start_up_is_never_made_again)
{
	seen_then_made("new", 1);
}

/* A maildrop pickup under a name like the daemon's (a submitter chooses
 * it), committed, then a receiver's fresh ID made while the scheduler is
 * still to read it (and moves it into mess/ before the receiver's
 * rename): the receiver's ID was looked up, and is another. */
Test(queue, a_picked_up_name_like_an_id_is_never_made_again)
{
	struct queue *q = open_queue();
	char first[ENVELOPE_ID_MAX], from[256], to[256];
	struct envelope env, renv;
	struct mailbox rcpt;
	struct queue_msg *m, *r;
	struct status st;

	queue_new_id(q, first);
	queue_close(q);
	q = open_queue();
	envelope_init(&env);
	env.arrival = 1795422268;
	cr_assert_eq(mailbox_from_text(&env.sender, "a@example.org", 13), 0);
	cr_assert_eq(mailbox_from_text(&rcpt, "b@example.org", 13), 0);
	cr_assert_eq(envelope_add_rcpt(&env, &rcpt), 1);
	st = queue_msg_open_as(q, &env, first, &m);
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	queue_msg_write(m, "first\n", 6);
	st = queue_msg_commit(m);
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	envelope_init(&renv);
	renv.arrival = 1795422268;
	cr_assert_eq(mailbox_from_text(&renv.sender, "a@example.org", 13), 0);
	cr_assert_eq(envelope_add_rcpt(&renv, &rcpt), 1);
	st = queue_msg_open(q, &renv, &r);
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	queue_msg_write(r, "second\n", 7);
	snprintf(from, sizeof from, "%s/new/%s", dir, first);
	snprintf(to, sizeof to, "%s/mess/%s", dir, first);
	cr_assert_eq(rename(from, to), 0);
	st = queue_msg_commit(r);
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	cr_assert_str_neq(renv.id, first);
	cr_assert_str_eq(body("mess", first), "first\n");
	cr_assert_str_eq(body("new", renv.id), "second\n");
	envelope_free(&env);
	envelope_free(&renv);
	queue_close(q);
}

/* An ID later than every queued name is used without looking: a file
 * with it, put there unseen, is no reason to skip it.  (What makes the
 * saving safe is that such a file comes only by hand, or from maildrop/,
 * whose pickup notes its name first.) */
Test(queue, an_id_later_than_every_queued_name_is_not_looked_up)
{
	struct queue *q = open_queue();
	char first[ENVELOPE_ID_MAX], second[ENVELOPE_ID_MAX], path[256];
	int fd;

	queue_set_clock(q, queue_clock_real);
	snprintf(path, sizeof path, "%s/mess/%llX0", dir, queue_clock_real() + 60000000ULL);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(queue_id_in_use(q, strrchr(path, '/') + 1, 1), 0,
	             "not looked up: a minute later than anything seen");
	cr_assert_eq(queue_id_in_use(q, strrchr(path, '/') + 1, 0), 1,
	             "an ID not made here is always looked up");
	{
		/* the same name in lower case, as a directory that ignores
		 * case may hold it, counts as that time too */
		char lower[ENVELOPE_ID_MAX];
		size_t i;

		snprintf(lower, sizeof lower, "%s", strrchr(path, '/') + 1);
		for (i = 0; lower[i]; i++)
			lower[i] = (char)tolower((unsigned char)lower[i]);
		queue_note_id(q, lower);
	}
	cr_assert_eq(queue_id_in_use(q, strrchr(path, '/') + 1, 1), 1,
	             "looked up once a name of that time was seen");
	put(q, "first\n", first);
	queue_close(q);
	q = open_queue();
	queue_set_clock(q, queue_clock_real);
	cr_assert_eq(queue_id_in_use(q, strrchr(path, '/') + 1, 1), 1,
	             "looked up after a restart: the name was there at start-up");
	put(q, "second\n", second);
	queue_close(q);
}

Test(queue, rename_excl_refuses_an_existing_name)
{
	int d, fd;
	char path[256];

	snprintf(path, sizeof path, "%s", dir);
	d = open(path, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(d, 0);
	fd = openat(d, "a", O_WRONLY | O_CREAT, 0600);
	cr_assert_eq(write(fd, "A", 1), 1);
	close(fd);
	fd = openat(d, "b", O_WRONLY | O_CREAT, 0600);
	cr_assert_eq(write(fd, "BB", 2), 2);
	close(fd);
	errno = 0;
	cr_assert_eq(queue_rename_excl(fsync, d, "a", d, "b"), -1);
	cr_assert_eq(errno, EEXIST);
	cr_assert_eq(faccessat(d, "a", F_OK, 0), 0, "the source stays");
	{
		struct stat sb;

		cr_assert_eq(fstatat(d, "b", &sb, 0), 0);
		cr_assert_eq(sb.st_size, 2, "the target is not replaced");
	}
	cr_assert_eq(queue_rename_excl(fsync, d, "a", d, "c"), 0);
	cr_assert_neq(faccessat(d, "a", F_OK, 0), 0);
	cr_assert_eq(faccessat(d, "c", F_OK, 0), 0);
	close(d);
}

/* ---- group commit of new/, with the directory fsync injected ---- */

enum { COMMITTERS = 6 };

static atomic_int sync_calls;     /* fsyncs of a directory so far */
static int fail_call;             /* this call fails (EIO); 0: none */
static int hold_first;            /* the first call waits for this many
                                   * names in new/ (every committer renamed) */

/* names_in - how many names dir/sub holds */
static int names_in(const char *sub)
{
	char path[128];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof path, "%s/%s", dir, sub);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

/* waiting - how many committers of held_q have come to wait for the
 * fsync of new/ (renamed, and their fdatasync done: an arrival number in
 * its group_sync; one failed already by an earlier fsync is not counted,
 * and there is none before the first) */
static struct queue *held_q;

static int waiting(void)
{
	unsigned long n;

	pthread_mutex_lock(&held_q->new_sync.lock);
	n = held_q->new_sync.arrived;
	pthread_mutex_unlock(&held_q->new_sync.lock);
	return (int)n;
}

/* injected_sync - the store's directory fsync, counted, failing on call
 * fail_call, the first holding until hold_first committers have renamed
 * and come to wait (the rename comes before the file's fdatasync, the
 * wait after it; a bounded wait: 30 s) */
static int injected_sync(int fd)
{
	int call = atomic_fetch_add(&sync_calls, 1) + 1, tries;

	if (call == 1 && hold_first > 0)
		for (tries = 0; tries < 3000 && (names_in("new") < hold_first ||
		                                 waiting() < hold_first); tries++)
			usleep(10000);
	if (call == fail_call) {
		errno = EIO;
		return -1;
	}
	return fsync(fd);
}

/* a committer running in a thread of its own */
struct committer {
	pthread_t t;
	struct queue *q;
	struct status st;
	char id[ENVELOPE_ID_MAX];
};

static void *commit_thread(void *arg)
{
	struct committer *c = arg;

	c->st = commit(c->q, "body\n", c->id);
	return NULL;
}

/* run_committers - COMMITTERS commits at once into a queue whose fsync
 * is injected; how many succeeded (each checked: in new/ if it did, in
 * neither new/ nor tmp/ if it did not) */
static int run_committers(void)
{
	struct committer c[COMMITTERS];
	struct queue *q = open_queue();
	char path[256];
	int i, ok = 0;

	queue_set_clock(q, queue_clock_real);
	queue_set_sync(q, injected_sync);
	held_q = q;
	for (i = 0; i < COMMITTERS; i++) {
		c[i].q = q;
		cr_assert_eq(pthread_create(&c[i].t, NULL, commit_thread, &c[i]), 0);
	}
	for (i = 0; i < COMMITTERS; i++)
		pthread_join(c[i].t, NULL);
	for (i = 0; i < COMMITTERS; i++) {
		snprintf(path, sizeof path, "%s/new/%s", dir, c[i].id);
		if (c[i].st.kind == ST_OK) {
			ok++;
			cr_assert_eq(access(path, F_OK), 0, "a committed message is in new/");
		} else {
			cr_assert_eq(c[i].st.kind, ST_TEMP, "a failed commit is a 4xx");
			cr_assert_neq(access(path, F_OK), 0, "a failed commit leaves no file in new/");
		}
	}
	cr_assert_eq(names_in("tmp"), 0, "nothing left in tmp/");
	cr_assert_eq(names_in("new"), ok);
	queue_close(q);
	return ok;
}

static void reset_injection(int fail, int hold)
{
	atomic_store(&sync_calls, 0);
	fail_call = fail;
	hold_first = hold;
}

Test(queue, a_failed_fsync_of_new_fails_the_commit_and_takes_it_back)
{
	struct queue *q = open_queue();
	char id[ENVELOPE_ID_MAX];
	struct status st;

	reset_injection(1, 0);
	queue_set_sync(q, injected_sync);
	st = commit(q, "body\n", id);
	cr_assert_eq(st.kind, ST_TEMP);
	cr_assert_eq(names_in("new"), 0);
	cr_assert_eq(names_in("tmp"), 0);
	/* numbered after the failure: it waits for an fsync of its own */
	st = commit(q, "body\n", id);
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	cr_assert_eq(atomic_load(&sync_calls), 2);
	cr_assert_str_eq(body("new", id), "body\n");
	queue_close(q);
}

/* The first committer's fsync is held until every committer has renamed
 * into new/: they all wait for the next fsync, which started after their
 * renames, and that one covers them all. */
Test(queue, one_fsync_of_new_covers_every_committer_waiting)
{
	reset_injection(0, COMMITTERS);
	cr_assert_eq(run_committers(), COMMITTERS);
	cr_assert_eq(atomic_load(&sync_calls), 2, "%d fsyncs", atomic_load(&sync_calls));
}

/* The shared fsync fails: every committer it was to cover hears 4xx and
 * its message is taken back out of new/; the first, covered by the fsync
 * before, keeps its 250. */
Test(queue, a_failed_shared_fsync_fails_every_committer_it_covers)
{
	reset_injection(2, COMMITTERS);
	cr_assert_eq(run_committers(), 1);
	cr_assert_eq(atomic_load(&sync_calls), 2);
}

/* The first fsync of new/ fails while a second committer renames: that
 * one was numbered before the failure returned, so it fails too, though
 * the failed fsync began before its rename and the next would succeed
 * (the failure may have taken its entry's error with it). */
Test(queue, a_failed_fsync_fails_a_committer_numbered_while_it_ran)
{
	struct queue *q = open_queue();
	struct committer a;
	char id[ENVELOPE_ID_MAX];
	struct status st;

	reset_injection(1, 2);
	queue_set_clock(q, queue_clock_real);
	queue_set_sync(q, injected_sync);
	held_q = q;
	a.q = q;
	cr_assert_eq(pthread_create(&a.t, NULL, commit_thread, &a), 0);
	while (atomic_load(&sync_calls) == 0)     /* a's fsync runs, held */
		usleep(1000);
	st = commit(q, "body\n", id);
	pthread_join(a.t, NULL);
	cr_assert_eq(a.st.kind, ST_TEMP, "the committer whose fsync failed");
	cr_assert_eq(st.kind, ST_TEMP, "numbered while it ran: %s", st.text);
	cr_assert_eq(atomic_load(&sync_calls), 1, "decided by the failure: no second fsync");
	cr_assert_eq(names_in("new"), 0);
	queue_close(q);
}

/* counted_sync - a directory fsync, counted, a little slow */
static int counted_sync(int fd)
{
	atomic_fetch_add(&sync_calls, 1);
	usleep(200);
	return fsync(fd);
}

enum { STEADY_ROUNDS = 150 };

/* steady_committer - STEADY_ROUNDS commits one after another; how many
 * failed */
static void *steady_committer(void *arg)
{
	struct queue *q = arg;
	char id[ENVELOPE_ID_MAX];
	long failed = 0;
	int i;

	for (i = 0; i < STEADY_ROUNDS; i++)
		failed += commit(q, "body\n", id).kind != ST_OK;
	return (void *)failed;
}

/* Committers keep arriving while fsyncs of new/ run: each fsync hands
 * the next to one it did not cover, so every commit returns (none is
 * left asleep), succeeds, and they share the fsyncs. */
Test(queue, steady_committers_all_return_and_share_the_fsync)
{
	struct queue *q = open_queue();
	pthread_t t[COMMITTERS];
	void *r;
	int i;

	reset_injection(0, 0);
	queue_set_clock(q, queue_clock_real);
	queue_set_sync(q, counted_sync);
	for (i = 0; i < COMMITTERS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, steady_committer, q), 0);
	for (i = 0; i < COMMITTERS; i++) {
		pthread_join(t[i], &r);
		cr_assert_eq((long)r, 0, "committer %d: %ld commits failed", i, (long)r);
	}
	cr_assert_eq(names_in("new"), COMMITTERS * STEADY_ROUNDS);
	cr_assert_lt(atomic_load(&sync_calls), COMMITTERS * STEADY_ROUNDS,
	             "%d fsyncs for %d commits", atomic_load(&sync_calls),
	             COMMITTERS * STEADY_ROUNDS);
	queue_close(q);
}

/* state_after - queue_read_new's verdict on new/id once its file is cut
 * to len bytes (-1: left whole) */
static enum queue_new_state state_after(struct queue *q, const char *id, long long len)
{
	struct envelope env;
	enum queue_new_state st;
	char path[256];

	snprintf(path, sizeof path, "%s/new/%s", dir, id);
	if (len >= 0)
		cr_assert_eq(truncate(path, (off_t)len), 0);
	st = queue_read_new(q, id, &env);
	envelope_free(&env);
	return st;
}

Test(queue, a_committed_message_is_sealed_and_its_data_lost_is_found)
{
	struct queue *q = open_queue();
	char small[ENVELOPE_ID_MAX], big[ENVELOPE_ID_MAX], path[256];
	char *text = malloc(200001);
	struct stat st;

	/* one that fits the buffer (sealed in memory), one that does not
	 * (sealed in the file) */
	memset(text, 'x', 200000);
	text[200000] = '\0';
	put(q, "Subject: s\n\nsmall\n", small);
	put(q, text, big);
	free(text);
	cr_assert_eq(state_after(q, small, -1), QUEUE_NEW_READ);
	cr_assert_eq(state_after(q, big, -1), QUEUE_NEW_READ);
	snprintf(path, sizeof path, "%s/new/%s", dir, big);
	cr_assert_eq(stat(path, &st), 0);
	/* a power cut that kept the name and lost the end of the data */
	cr_assert_eq(state_after(q, big, (long long)st.st_size - 65536), QUEUE_NEW_UNSEALED);
	cr_assert_eq(state_after(q, small, 0), QUEUE_NEW_BAD);
	queue_close(q);
}

/* the queue whose committer the probe below watches, and what it saw */
static struct queue *probe_q;
static int probe_seen, probe_committing;

/* probe_sync - the fsync of new/: every file there is still being
 * committed (the scheduler must leave it alone), then the real fsync */
static int probe_sync(int fd)
{
	char path[256];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof path, "%s/new", dir);
	d = opendir(path);
	while (d != NULL && (e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		probe_seen++;
		probe_committing += queue_msg_committing(probe_q, e->d_name);
	}
	if (d != NULL)
		closedir(d);
	return fsync(fd);
}

Test(queue, a_message_is_committing_from_its_rename_to_the_decision)
{
	char id[ENVELOPE_ID_MAX];

	probe_q = open_queue();
	probe_seen = probe_committing = 0;
	queue_set_sync(probe_q, probe_sync);
	put(probe_q, "body\n", id);
	cr_assert_eq(probe_seen, 1);
	cr_assert_eq(probe_committing, 1, "in new/ and still committing at its fsync");
	cr_assert_not(queue_msg_committing(probe_q, id), "decided once commit returns");
	cr_assert_str_eq(body("new", id), "body\n");
	queue_close(probe_q);
}

/* A commit seen to succeed is remembered once, so explode may skip the
 * seal check and the fdatasync (the whole file read) for it; any other
 * file, and the same one asked again, is checked. */
Test(queue, a_commit_seen_to_succeed_is_trusted_once)
{
	struct queue *q = open_queue();
	struct envelope env;
	char id[ENVELOPE_ID_MAX], path[256];
	struct stat st;
	int fd;

	put(q, "Subject: t\n\nseen committed\n", id);
	/* its last bytes zeroed, its length kept: the seal not met */
	snprintf(path, sizeof path, "%s/new/%s", dir, id);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert((fd = open(path, O_WRONLY)) >= 0);
	cr_assert_eq(pwrite(fd, "\0\0\0\0", 4, st.st_size - 4), 4);
	close(fd);
	cr_assert_eq(queue_msg_committed(q, "NOSUCHID"), 0);
	cr_assert_eq(queue_msg_committed(q, id), 1);
	cr_assert_eq(queue_msg_committed(q, id), 0, "answered once");
	cr_assert_eq(queue_read_new_as(q, id, &env, 1), QUEUE_NEW_READ);
	envelope_free(&env);
	cr_assert_eq(queue_read_new(q, id, &env), QUEUE_NEW_UNSEALED);
	envelope_free(&env);
	queue_close(q);
}
