/* test_queue.c - the queue's durable write on a real directory: IDs that
 * come round again (a clock set back across a restart) never replace a
 * message, and no rename of the queue replaces a name */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "queue.h"

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

/* queue one message with body text; its ID into id */
static void put(struct queue *q, const char *text, char *id)
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
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	queue_msg_write(m, text, strlen(text));
	st = queue_msg_commit(m);
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	strcpy(id, env.id);
	envelope_free(&env);
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

TestSuite(queue, .init = setup, .fini = teardown);

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
	cr_assert_eq(queue_rename_excl(d, "a", d, "b"), -1);
	cr_assert_eq(errno, EEXIST);
	cr_assert_eq(faccessat(d, "a", F_OK, 0), 0, "the source stays");
	{
		struct stat sb;

		cr_assert_eq(fstatat(d, "b", &sb, 0), 0);
		cr_assert_eq(sb.st_size, 2, "the target is not replaced");
	}
	cr_assert_eq(queue_rename_excl(d, "a", d, "c"), 0);
	cr_assert_neq(faccessat(d, "a", F_OK, 0), 0);
	cr_assert_eq(faccessat(d, "c", F_OK, 0), 0);
	close(d);
}
