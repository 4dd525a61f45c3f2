/* test_local.c - local delivery: Maildir and mbox files byte for byte,
 * unique names and intact messages under many threads, mboxo quoting
 * (also across read boundaries), dotlocks (stale and fresh), fcntl locks
 * held by another process, symlinks and hard links refused, errors that
 * leave nothing behind (tmp file removed, mbox truncated back).
 * Every test works in its own temporary directory. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "durable_dirs.h"
#include "local.h"
#include "local_io.h"
#include "maildir.h"
#include "maildir_dirs.h"
#include "mbox.h"

#define SENDER "alice@example.com"
#define RCPT "bob@example.org"
#define HDR(s, r) "Return-Path: <" s ">\nDelivered-To: " r "\n"
#define MSG "Subject: hello\nFrom: Alice <alice@example.com>\n\nHi Bob.\n"

/* This test process's directories (each test runs in its own process). */
static char dir[64];           /* the temporary directory */
static char root[PATH_MAX];    /* dir/mail: the mail root */

/* rm_one - nftw callback: remove one entry */
static int rm_one(const char *path, const struct stat *sb, int flag,
                  struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

/* chmod_one - nftw callback: make directories writable again */
static int chmod_one(const char *path, const struct stat *sb, int flag,
                     struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (flag == FTW_D || flag == FTW_DP || flag == FTW_DNR)
		chmod(path, 0700);
	return 0;
}

/* setup - a fresh temporary directory, UTC dates */
static void setup(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	strcpy(dir, "/tmp/test_local.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cr_assert_lt(snprintf(root, sizeof root, "%s/mail", dir),
	             (int)sizeof root);
}

/* teardown - remove the temporary directory */
static void teardown(void)
{
	nftw(dir, chmod_one, 16, FTW_PHYS);
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* skip - skip this test; Criterion does not run .fini then, so clean up */
static void skip(const char *why)
{
	teardown();
	cr_skip_test("%s", why);
}

TestSuite(local_maildir, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(local_mbox, .init = setup, .fini = teardown, .timeout = 60);
TestSuite(local, .init = setup, .fini = teardown, .timeout = 60);

/* path_of - "dir/rel" into a static-free caller buffer */
static char *path_of(char *buf, const char *base, const char *rel)
{
	int n = snprintf(buf, PATH_MAX, "%s/%s", base, rel);

	cr_assert(n > 0 && n < PATH_MAX, "path too long");
	return buf;
}

/* queue_file - a queue-style file name: envelope, empty line, msg[0..n);
 * returns an O_RDONLY fd and the message offset */
static int queue_file(const char *name, const char *msg, size_t n, off_t *off)
{
	static const char env[] = "mta-envelope 1\nid ABC\narrival 1\n"
	                          "sender " SENDER "\nrcpt " RCPT "\n\n";
	char path[PATH_MAX];
	int fd;

	path_of(path, dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	cr_assert(fd >= 0, "queue file %s: %s", path, strerror(errno));
	cr_assert_eq(write(fd, env, sizeof env - 1), (ssize_t)(sizeof env - 1));
	cr_assert_eq(write(fd, msg, n), (ssize_t)n);
	*off = (off_t)(sizeof env - 1);
	return fd;
}

/* slurp - a whole file, NUL-terminated, malloc'ed; NULL if it is absent */
static char *slurp(const char *path, size_t *len)
{
	struct stat sb;
	char *buf;
	int fd;

	fd = open(path, O_RDONLY);
	if (fd < 0)
		return NULL;
	cr_assert_eq(fstat(fd, &sb), 0);
	buf = malloc((size_t)sb.st_size + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(read(fd, buf, (size_t)sb.st_size), sb.st_size);
	buf[sb.st_size] = '\0';
	close(fd);
	if (len != NULL)
		*len = (size_t)sb.st_size;
	return buf;
}

/* entries - how many names a directory holds (not . and ..); the first
 * goes into first when given; -1 when it cannot be read */
static int entries(const char *path, char *first)
{
	struct dirent *de;
	DIR *d;
	int n = 0;

	d = opendir(path);
	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n++ == 0 && first != NULL)
			snprintf(first, NAME_MAX + 1, "%s", de->d_name);
	}
	closedir(d);
	return n;
}

/* config - the settings used by most tests */
static struct local_config config(int mbox)
{
	struct local_config c = {
		.mailroot = root, .hostname = "mx.example.org",
		.mbox = mbox, .system_users = 0,
	};
	return c;
}

/* deliver - msg to mailbox name through a fresh queue file */
static struct status deliver(const struct local_config *c, const char *name,
                             const char *sender, const char *msg, size_t n)
{
	struct status st;
	off_t off;
	int fd;

	fd = queue_file("queue.msg", msg, n, &off);
	st = local_deliver(c, name, RCPT, sender, fd, off);
	close(fd);
	return st;
}

/* delivered - the one file in root/bob/new (asserting there is one) */
static char *delivered(size_t *len)
{
	char path[PATH_MAX], first[NAME_MAX + 1], sub[PATH_MAX];

	path_of(path, root, "bob/new");
	cr_assert_eq(entries(path, first), 1);
	return slurp(path_of(sub, path, first), len);
}

/* mode_of - permission bits of path (not following a symlink) */
static unsigned mode_of(const char *path)
{
	struct stat sb;

	cr_assert_eq(lstat(path, &sb), 0, "%s", path);
	return sb.st_mode & 07777;
}

/* drop_root - when root, give the directory to nobody and become nobody,
 * so that permissions mean something; this test process only */
static void drop_root(void)
{
	struct passwd *pw;
	char cmd[PATH_MAX + 64];

	if (geteuid() != 0)
		return;
	pw = getpwnam("nobody");
	if (pw == NULL)
		skip("running as root and there is no user nobody");
	snprintf(cmd, sizeof cmd, "chown -R %lu:%lu '%s'",
	         (unsigned long)pw->pw_uid, (unsigned long)pw->pw_gid, dir);
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(setgroups(0, NULL), 0);
	cr_assert_eq(setgid(pw->pw_gid), 0);
	cr_assert_eq(setuid(pw->pw_uid), 0);
}

/* now_sec - monotonic seconds */
static double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- Maildir ------------------------------------------------------- */

Test(local_maildir, exact_bytes_and_directories)
{
	struct local_config c = config(0);
	struct status st;
	char path[PATH_MAX], *got;
	size_t len;

	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	got = delivered(&len);
	cr_assert_str_eq(got, HDR(SENDER, RCPT) MSG);
	cr_assert_eq(len, strlen(HDR(SENDER, RCPT) MSG));
	free(got);
	/* the mail root did not exist: created, like everything below it */
	cr_assert_eq(mode_of(root), 0700);
	cr_assert_eq(mode_of(path_of(path, root, "bob")), 0700);
	cr_assert_eq(mode_of(path_of(path, root, "bob/tmp")), 0700);
	cr_assert_eq(mode_of(path_of(path, root, "bob/new")), 0700);
	cr_assert_eq(mode_of(path_of(path, root, "bob/cur")), 0700);
	cr_assert_eq(entries(path_of(path, root, "bob/tmp"), NULL), 0);
	cr_assert_eq(entries(path_of(path, root, "bob/cur"), NULL), 0);
	path_of(path, root, "bob/new");
	{
		char first[NAME_MAX + 1], file[PATH_MAX];

		entries(path, first);
		cr_assert_eq(mode_of(path_of(file, path, first)), 0600);
		cr_assert(strstr(first, ".mx.example.org") != NULL, "%s", first);
	}
}

Test(local_maildir, null_sender_and_no_final_newline)
{
	struct local_config c = config(0);
	struct status st;
	char *got;

	st = deliver(&c, "bob", "", "Subject: x\n\nno newline", 22);
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	got = delivered(NULL);
	/* Maildir keeps the message exactly as it is */
	cr_assert_str_eq(got, HDR("", RCPT) "Subject: x\n\nno newline");
	free(got);
}

Test(local_maildir, large_message_byte_exact)
{
	struct local_config c = config(0);
	size_t n = 3 * 1024 * 1024 + 12345, i, len, hl = strlen(HDR(SENDER, RCPT));
	struct status st;
	char *msg, *got;

	msg = malloc(n);
	cr_assert_not_null(msg);
	for (i = 0; i < n; i++)
		msg[i] = (i % 71 == 70) ? '\n' : (char)('!' + (i * 7 + i / 71) % 90);
	st = deliver(&c, "bob", SENDER, msg, n);
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	got = delivered(&len);
	cr_assert_eq(len, hl + n);
	cr_assert_eq(memcmp(got, HDR(SENDER, RCPT), hl), 0);
	cr_assert_eq(memcmp(got + hl, msg, n), 0);
	free(got);
	free(msg);
}

Test(local_maildir, unique_name_format)
{
	char a[NAME_MAX + 1], b[NAME_MAX + 1], small[8], host[400];
	long long sec;
	long usec, pid;
	unsigned long q;
	int n, used = 0;

	n = maildir_unique(a, sizeof a, "mx/a:b");
	cr_assert(n > 0);
	cr_assert_eq(sscanf(a, "%lld.M%6ldP%ldQ%lu.%n", &sec, &usec, &pid, &q,
	                    &used), 4, "%s", a);
	cr_assert_eq(pid, (long)getpid());
	cr_assert_str_eq(a + used, "mx\\057a\\072b");
	maildir_unique(b, sizeof b, "mx/a:b");
	cr_assert_str_neq(a, b);
	cr_assert_eq(maildir_unique(small, sizeof small, "h"), -1);
	/* a long host name is cut so that the name fits NAME_MAX, and an
	 * escape is never cut in half */
	memset(host, '/', sizeof host - 1);
	host[sizeof host - 1] = '\0';
	n = maildir_unique(a, sizeof a, host);
	cr_assert(n > 0 && n <= NAME_MAX);
	cr_assert_eq(strlen(a), (size_t)n);
	cr_assert_eq((n - (int)(strchr(a, '\\') - a)) % 4, 0, "%s", a);
	cr_assert_eq(strchr(a, '/'), NULL);
}

enum { THREADS = 8, PER_THREAD = 50 };

/* make_msg - message i of thread t: distinct, of varying length, with
 * lines that mbox must quote */
static char *make_msg(int t, int i, size_t *len)
{
	size_t cap = 64 * 1024, n;
	int lines = 5 + (t * 37 + i * 13) % 400, k;
	char *m = malloc(cap);

	cr_assert_not_null(m);
	n = (size_t)snprintf(m, cap, "Subject: t=%d i=%d\n\n", t, i);
	for (k = 0; k < lines; k++) {
		const char *form = (k % 17 == 3) ? "From the middle t%d i%d k%d\n" :
		                   (k % 17 == 9) ? ">From quoted t%d i%d k%d\n" :
		                   "line of text for t%d i%d number %d\n";

		n += (size_t)snprintf(m + n, cap - n, form, t, i, k);
	}
	*len = n;
	return m;
}

struct worker {
	pthread_t tid;
	int t;
	int mbox;
	int failures;
	char failure[200];
};

/* work - one thread: PER_THREAD deliveries to "bob" */
static void *work(void *arg)
{
	struct worker *w = arg;
	struct local_config c = config(w->mbox);
	struct status st;
	char qname[64], *msg;
	size_t len;
	off_t off;
	int i, fd;

	for (i = 0; i < PER_THREAD; i++) {
		msg = make_msg(w->t, i, &len);
		snprintf(qname, sizeof qname, "queue.%d", w->t);
		fd = queue_file(qname, msg, len, &off);
		st = local_deliver(&c, "bob", RCPT, SENDER, fd, off);
		close(fd);
		free(msg);
		if (st.kind != ST_OK) {
			w->failures++;
			snprintf(w->failure, sizeof w->failure, "%s", st.text);
		}
	}
	return NULL;
}

/* run_workers - THREADS threads at once */
static void run_workers(int mbox)
{
	struct worker w[THREADS];
	int t;

	memset(w, 0, sizeof w);
	for (t = 0; t < THREADS; t++) {
		w[t].t = t;
		w[t].mbox = mbox;
		cr_assert_eq(pthread_create(&w[t].tid, NULL, work, &w[t]), 0);
	}
	for (t = 0; t < THREADS; t++) {
		pthread_join(w[t].tid, NULL);
		cr_assert_eq(w[t].failures, 0, "thread %d: %s", t, w[t].failure);
	}
}

/* expect - what mailbox "bob" must hold for message (t, i) */
static char *expect(int t, int i, size_t *len)
{
	size_t n, hl = strlen(HDR(SENDER, RCPT));
	char *msg = make_msg(t, i, &n), *e = malloc(hl + n + 1);

	cr_assert_not_null(e);
	memcpy(e, HDR(SENDER, RCPT), hl);
	memcpy(e + hl, msg, n);
	e[hl + n] = '\0';
	free(msg);
	*len = hl + n;
	return e;
}

/* which - (t, i) from a delivered text; 0, or -1 if no Subject */
static int which(const char *text, int *t, int *i)
{
	const char *s = strstr(text, "\nSubject: t=");

	if (s == NULL || sscanf(s, "\nSubject: t=%d i=%d", t, i) != 2 ||
	    *t < 0 || *t >= THREADS || *i < 0 || *i >= PER_THREAD)
		return -1;
	return 0;
}

Test(local_maildir, many_threads_unique_and_intact)
{
	static char seen[THREADS][PER_THREAD];
	char path[PATH_MAX], file[PATH_MAX], *got, *want;
	struct dirent *de;
	size_t len, wlen;
	DIR *d;
	int t, i, n = 0;

	run_workers(0);
	path_of(path, root, "bob/new");
	d = opendir(path);
	cr_assert_not_null(d);
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		got = slurp(path_of(file, path, de->d_name), &len);
		cr_assert_not_null(got);
		cr_assert_eq(which(got, &t, &i), 0, "%s", de->d_name);
		cr_assert_eq(seen[t][i], 0, "t=%d i=%d twice", t, i);
		seen[t][i] = 1;
		want = expect(t, i, &wlen);
		cr_assert_eq(len, wlen, "t=%d i=%d", t, i);
		cr_assert_eq(memcmp(got, want, len), 0, "t=%d i=%d", t, i);
		free(want);
		free(got);
		n++;
	}
	closedir(d);
	cr_assert_eq(n, THREADS * PER_THREAD);
	cr_assert_eq(entries(path_of(path, root, "bob/tmp"), NULL), 0);
}

struct sharer {
	pthread_t tid;
	int fd;
	off_t off;
	char name[16];
	struct status st;
};

/* share - deliver the shared fd to this thread's mailbox */
static void *share(void *arg)
{
	struct sharer *s = arg;
	struct local_config c = config(0);

	s->st = local_deliver(&c, s->name, RCPT, SENDER, s->fd, s->off);
	return NULL;
}

Test(local_maildir, one_queue_fd_many_threads)
{
	struct sharer s[4];
	char path[PATH_MAX], file[PATH_MAX], first[NAME_MAX + 1], *msg, *got;
	size_t n = 200000, i, len, hl = strlen(HDR(SENDER, RCPT));
	off_t off;
	int fd, k;

	msg = malloc(n);
	cr_assert_not_null(msg);
	for (i = 0; i < n; i++)
		msg[i] = (i % 50 == 49) ? '\n' : (char)('a' + i % 26);
	fd = queue_file("queue.msg", msg, n, &off);
	for (k = 0; k < 4; k++) {
		s[k].fd = fd;
		s[k].off = off;
		snprintf(s[k].name, sizeof s[k].name, "user%d", k);
		cr_assert_eq(pthread_create(&s[k].tid, NULL, share, &s[k]), 0);
	}
	for (k = 0; k < 4; k++) {
		pthread_join(s[k].tid, NULL);
		cr_assert_eq(s[k].st.kind, ST_OK, "%s", s[k].st.text);
		snprintf(file, sizeof file, "user%d/new", k);
		path_of(path, root, file);
		cr_assert_eq(entries(path, first), 1);
		got = slurp(path_of(file, path, first), &len);
		cr_assert_eq(len, hl + n);
		cr_assert_eq(memcmp(got + hl, msg, n), 0);
		free(got);
	}
	close(fd);
	free(msg);
}

Test(local_maildir, symlink_mailbox_refused)
{
	struct local_config c = config(0);
	struct status st;
	char path[PATH_MAX], other[PATH_MAX];

	cr_assert_eq(mkdir(root, 0700), 0);
	cr_assert_eq(mkdir(path_of(other, dir, "elsewhere"), 0700), 0);
	cr_assert_eq(symlink(other, path_of(path, root, "bob")), 0);
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_TEMP);
	cr_assert_eq(st.subject, 2);
	cr_assert_eq(st.detail, 0);
	cr_assert(strstr(st.text, "symbolic link") != NULL, "%s", st.text);
	cr_assert_eq(entries(other, NULL), 0);
}

Test(local_maildir, symlink_new_refused)
{
	struct local_config c = config(0);
	struct status st;
	char path[PATH_MAX], other[PATH_MAX];

	cr_assert_eq(mkdir(root, 0700), 0);
	cr_assert_eq(mkdir(path_of(path, root, "bob"), 0700), 0);
	cr_assert_eq(mkdir(path_of(path, root, "bob/tmp"), 0700), 0);
	cr_assert_eq(mkdir(path_of(other, dir, "elsewhere"), 0700), 0);
	cr_assert_eq(symlink(other, path_of(path, root, "bob/new")), 0);
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_TEMP);
	cr_assert_eq(st.subject, 2);
	cr_assert(strstr(st.text, "symbolic link") != NULL, "%s", st.text);
	cr_assert_eq(entries(other, NULL), 0);
	cr_assert_eq(entries(path_of(path, root, "bob/tmp"), NULL), 0);
}

/* cur/ is checked at every delivery, also once it is known durable (then
 * by one statx, without opening it): replaced by a symlink it is refused,
 * removed it is made again, made again by someone else it is synced and
 * noted again (a new directory: new inode or birth time) */
Test(local_maildir, cur_checked_at_every_delivery)
{
	struct local_config c = config(0);
	struct durable_dir id;
	struct status st;
	char path[PATH_MAX], other[PATH_MAX];
	int fd;

	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	cr_assert_eq(local_io_dir_known(AT_FDCWD, path_of(path, root, "bob/cur")), 1,
	             "cur/ known durable after the first delivery");
	/* replaced by a symlink to a directory elsewhere */
	cr_assert_eq(rmdir(path_of(path, root, "bob/cur")), 0);
	cr_assert_eq(mkdir(path_of(other, dir, "elsewhere"), 0700), 0);
	cr_assert_eq(symlink(other, path), 0);
	cr_assert_eq(local_io_dir_known(AT_FDCWD, path), 0, "a symlink is never known");
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_TEMP);
	cr_assert(strstr(st.text, "symbolic link") != NULL, "%s", st.text);
	cr_assert_eq(entries(path_of(path, root, "bob/new"), NULL), 1, "nothing more delivered");
	/* removed: made again by the next delivery */
	cr_assert_eq(unlink(path_of(path, root, "bob/cur")), 0);
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	cr_assert_eq(local_io_dir_known(AT_FDCWD, path), 1);
	/* made again by another program: not known until a delivery syncs
	 * the mailbox and notes it */
	cr_assert_eq(rmdir(path), 0);
	usleep(50000);   /* a later clock tick: another birth time */
	cr_assert_eq(mkdir(path, 0700), 0);
	fd = open(path, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(fd, 0);
	if (durable_dirs_id(fd, &id) == 0 && durable_dirs_known(&id)) {
		close(fd);   /* same inode and birth time tick: cannot be told */
		cr_skip_test("cur/ made again with the same identity");
	}
	close(fd);
	cr_assert_eq(local_io_dir_known(AT_FDCWD, path), 0, "a new cur/ is not known");
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	cr_assert_eq(local_io_dir_known(AT_FDCWD, path), 1, "the new cur/ noted once synced");
	cr_assert_eq(entries(path_of(path, root, "bob/new"), NULL), 3);
}

/* A thread keeps the Maildir it delivered into last open
 * (maildir_dirs.h); moved away by its owner, the next message goes to the
 * path, where the Maildir is made again, not after the moved one. */
Test(local_maildir, kept_maildir_moved_away_next_goes_to_the_path)
{
	struct local_config c = config(0);
	struct status st;
	char path[PATH_MAX], old[PATH_MAX];

	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	cr_assert_eq(rename(path_of(path, root, "bob"), path_of(old, root, "bob.old")), 0);
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	cr_assert_eq(entries(path_of(path, root, "bob.old/new"), NULL), 1,
	             "nothing more in the moved Maildir");
	cr_assert_eq(entries(path_of(path, root, "bob/new"), NULL), 1,
	             "the second message in the Maildir made again at the path");
	/* and moved back: the path's Maildir is the old one again */
	cr_assert_eq(rename(path_of(path, root, "bob"), path_of(old, root, "bob.2")), 0);
	cr_assert_eq(rename(path_of(path, root, "bob.old"), path_of(old, root, "bob")), 0);
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	cr_assert_eq(entries(path_of(path, root, "bob/new"), NULL), 2);
	cr_assert_eq(entries(path_of(path, root, "bob.2/new"), NULL), 1);
}

/* sub (tmp or new) of a kept Maildir replaced by a symlink: refused as a
 * fresh open refuses it, nothing written through the directory kept (moved
 * away) nor through the link */
static void kept_sub_replaced_by_a_symlink(const char *sub)
{
	struct local_config c = config(0);
	struct status st;
	char path[PATH_MAX], other[PATH_MAX], moved[PATH_MAX], name[16];

	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	snprintf(name, sizeof name, "bob/%s", sub);
	cr_assert_eq(rename(path_of(path, root, name), path_of(moved, root, "moved")), 0);
	cr_assert_eq(mkdir(path_of(other, dir, "elsewhere"), 0700), 0);
	cr_assert_eq(symlink(other, path), 0);
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_TEMP);
	cr_assert(strstr(st.text, "symbolic link") != NULL, "%s", st.text);
	cr_assert_eq(entries(other, NULL), 0);
	cr_assert_eq(entries(moved, NULL), strcmp(sub, "new") == 0,
	             "nothing more in the %s/ moved away", sub);
}

Test(local_maildir, kept_maildir_new_replaced_by_a_symlink)
{
	kept_sub_replaced_by_a_symlink("new");
}

Test(local_maildir, kept_maildir_tmp_replaced_by_a_symlink)
{
	char path[PATH_MAX];

	kept_sub_replaced_by_a_symlink("tmp");
	cr_assert_eq(entries(path_of(path, root, "bob/new"), NULL), 1,
	             "nothing more delivered");
}

/* need_birth_times - skip unless the test's file system tells directories
 * apart by birth time (without it nothing is kept: maildir_dirs.h) */
static void need_birth_times(void)
{
	struct durable_dir id;
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	cr_assert_geq(fd, 0);
	if (durable_dirs_id(fd, &id) < 0) {
		close(fd);
		skip("no birth times here: no Maildir is kept");
	}
	close(fd);
}

/* open_fds - how many descriptors this process has open */
static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;              /* not the one readdir reads */
}

/* kept_fds - in a thread of its own: after deliveries into one Maildir
 * and then another, three descriptors more than before; returned */
static void *kept_fds(void *arg)
{
	struct local_config c = config(0);
	struct status st;
	int before = open_fds(), i;
	long after_one, after_two;

	(void)arg;
	for (i = 0; i < 3; i++) {
		st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
		cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	}
	after_one = open_fds() - before;
	st = deliver(&c, "carol", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	after_two = open_fds() - before;
	return (void *)(after_one * 100 + after_two);
}

/* A thread keeps one Maildir open (its Maildir, tmp/ and new/), not one
 * more for each Maildir it delivered into, and none once it has ended;
 * a delivery that failed keeps none. */
Test(local_maildir, kept_maildir_one_set_per_thread_closed_when_it_ends)
{
	struct local_config c = config(0);
	struct status st;
	char path[PATH_MAX], moved[PATH_MAX];
	pthread_t t;
	void *r;
	int before = open_fds();

	need_birth_times();
	cr_assert_eq(pthread_create(&t, NULL, kept_fds, NULL), 0);
	cr_assert_eq(pthread_join(t, &r), 0);
	cr_assert_eq((long)r, 303, "kept: %ld after one Maildir, %ld after two",
	             (long)r / 100, (long)r % 100);
	cr_assert_eq(open_fds(), before, "the thread's set closed when it ended");
	cr_assert_eq(entries(path_of(path, root, "bob/new"), NULL), 3);
	cr_assert_eq(entries(path_of(path, root, "carol/new"), NULL), 1);
	/* in this thread: kept after a delivery, none after a failed one (a
	 * failure of the delivery itself, with the kept set: cur/ a symlink) */
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	cr_assert_eq(open_fds(), before + 3);
	cr_assert_eq(rename(path_of(path, root, "bob/cur"), path_of(moved, root, "bob/x")), 0);
	cr_assert_eq(symlink("x", path_of(path, root, "bob/cur")), 0);
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_TEMP);
	cr_assert(strstr(st.text, "cur: is a symbolic link") != NULL, "%s", st.text);
	cr_assert_eq(open_fds(), before, "nothing kept after a failed delivery");
}

/* The kept set itself: given back, the same descriptors, while its path
 * names the same directories; taken once; closed for another path */
Test(local_maildir, kept_set_given_back_while_the_path_is_the_same)
{
	struct local_owner own = { 0, 0, 0 };
	struct maildir_dirs d, again;
	struct status st;
	char path[PATH_MAX], other[PATH_MAX];
	int before, boxfd;

	need_birth_times();
	cr_assert_eq(mkdir(path_of(path, dir, "box"), 0700), 0);
	before = open_fds();
	boxfd = open(path, O_RDONLY | O_DIRECTORY);
	cr_assert_geq(boxfd, 0);
	cr_assert_eq(maildir_dirs_open(boxfd, "box", &own, &d, &st), 0, "%s", st.text);
	cr_assert_eq(d.box, boxfd);
	maildir_dirs_keep(path, 0, &d);
	cr_assert_eq(d.box, -1, "kept: no longer the caller's");
	cr_assert_eq(maildir_dirs_reuse(path, 0, &again), 1);
	cr_assert_eq(again.box, boxfd, "the same descriptors given back");
	cr_assert_eq(maildir_dirs_reuse(path, 0, &d), 0, "taken once");
	cr_assert_eq(open_fds(), before + 3);
	maildir_dirs_keep(path, 0, &again);
	cr_assert_eq(maildir_dirs_reuse(path_of(other, dir, "other"), 0, &d), 0);
	cr_assert_eq(open_fds(), before, "closed when another path is asked for");
	cr_assert_eq(maildir_dirs_reuse(path, 0, &d), 0, "nothing kept any more");
}

/* the Maildir's own name, and a virtual domain's directory, replaced by a
 * symlink to the very directory kept: refused as a fresh open refuses
 * them, not delivered through the kept set */
Test(local_maildir, kept_maildir_and_domain_replaced_by_symlinks)
{
	struct local_config c = config(0);
	struct status st;
	char path[PATH_MAX], moved[PATH_MAX];

	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	cr_assert_eq(rename(path_of(path, root, "bob"), path_of(moved, root, "bob.old")), 0);
	cr_assert_eq(symlink("bob.old", path), 0);
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_TEMP);
	cr_assert(strstr(st.text, "mailbox bob: is a symbolic link") != NULL, "%s", st.text);
	cr_assert_eq(entries(path_of(path, root, "bob.old/new"), NULL), 1);

	c.domain = "dom.example";
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	cr_assert_eq(rename(path_of(path, root, "dom.example"), path_of(moved, root, "dom.moved")), 0);
	cr_assert_eq(symlink("dom.moved", path), 0);
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_TEMP);
	cr_assert(strstr(st.text, "domain directory dom.example: is a symbolic link") != NULL,
	          "%s", st.text);
	cr_assert_eq(entries(path_of(path, root, "dom.moved/bob/new"), NULL), 1);
}

Test(local_maildir, file_where_mailbox_should_be)
{
	struct local_config c = config(0);
	struct status st;
	char path[PATH_MAX];
	int fd;

	cr_assert_eq(mkdir(root, 0700), 0);
	fd = open(path_of(path, root, "bob"), O_WRONLY | O_CREAT, 0600);
	cr_assert(fd >= 0);
	close(fd);
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_TEMP);
	cr_assert_eq(st.subject, 2);
	cr_assert_eq(st.detail, 0);
}

Test(local_maildir, read_error_leaves_nothing)
{
	struct local_config c = config(0);
	struct status st;
	char path[PATH_MAX];
	int fd;

	/* a directory as the "queue file": pread fails with EISDIR */
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	cr_assert(fd >= 0);
	st = local_deliver(&c, "bob", RCPT, SENDER, fd, 0);
	close(fd);
	cr_assert_eq(st.kind, ST_TEMP);
	cr_assert_eq(st.subject, 3);
	cr_assert_eq(entries(path_of(path, root, "bob/tmp"), NULL), 0);
	cr_assert_eq(entries(path_of(path, root, "bob/new"), NULL), 0);
}

Test(local_maildir, write_error_leaves_nothing)
{
	struct local_config c = config(0);
	struct rlimit rl = { 100000, 100000 };
	struct status st;
	char path[PATH_MAX], *msg;
	size_t n = 300000;
	off_t off;
	int fd;

	msg = malloc(n);
	cr_assert_not_null(msg);
	memset(msg, 'x', n);
	fd = queue_file("queue.msg", msg, n, &off);
	/* files may not grow past 100000 bytes: write() fails with EFBIG
	 * half way (this test process only) */
	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	st = local_deliver(&c, "bob", RCPT, SENDER, fd, off);
	close(fd);
	free(msg);
	cr_assert_eq(st.kind, ST_TEMP);
	cr_assert(strstr(st.text, "too large") != NULL, "%s", st.text);
	cr_assert_eq(entries(path_of(path, root, "bob/tmp"), NULL), 0);
	cr_assert_eq(entries(path_of(path, root, "bob/new"), NULL), 0);
}

Test(local_maildir, unwritable_tmp)
{
	struct local_config c = config(0);
	struct status st;
	char path[PATH_MAX];

	cr_assert_eq(mkdir(root, 0700), 0);
	cr_assert_eq(mkdir(path_of(path, root, "bob"), 0700), 0);
	cr_assert_eq(mkdir(path_of(path, root, "bob/tmp"), 0700), 0);
	drop_root();
	cr_assert_eq(chmod(path_of(path, root, "bob/tmp"), 0500), 0);
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_TEMP);
	cr_assert_eq(st.subject, 3);
	cr_assert(strstr(st.text, "Permission denied") != NULL, "%s", st.text);
	cr_assert_eq(entries(path_of(path, root, "bob/new"), NULL), 0);
}

Test(local_maildir, owner_given_to_user)
{
	struct local_msg m = { 0 };
	struct local_owner own = { 1, 0, 0 };
	struct maildir_dirs dirs;
	struct passwd *pw;
	struct status st;
	struct stat sb;
	char path[PATH_MAX], first[NAME_MAX + 1], file[PATH_MAX];
	int boxfd;

	if (geteuid() != 0)
		skip("only root can give files away");
	pw = getpwnam("nobody");
	if (pw == NULL)
		skip("no user nobody");
	own.uid = pw->pw_uid;
	own.gid = pw->pw_gid;
	m.rcpt = RCPT;
	m.sender = SENDER;
	m.fd = queue_file("queue.msg", MSG, strlen(MSG), &m.offset);
	cr_assert_eq(mkdir(path_of(path, dir, "Maildir"), 0700), 0);
	boxfd = open(path, O_RDONLY | O_DIRECTORY);
	cr_assert(boxfd >= 0);
	cr_assert_eq(maildir_dirs_open(boxfd, "test", &own, &dirs, &st), 0, "%s", st.text);
	st = maildir_deliver(&dirs, "test", "h", &m, &own);
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	cr_assert_eq(stat(path_of(file, path, "new"), &sb), 0);
	cr_assert_eq(sb.st_uid, pw->pw_uid);
	cr_assert_eq(entries(file, first), 1);
	cr_assert_eq(stat(path_of(path, file, first), &sb), 0);
	cr_assert_eq(sb.st_uid, pw->pw_uid);
	cr_assert_eq(sb.st_gid, pw->pw_gid);
	maildir_dirs_close(&dirs);   /* boxfd with them */
	close(m.fd);
}

/* --- mbox ---------------------------------------------------------- */

/* from_line_ok - does the From_ line start s, with sender and a date
 * between before and after (inclusive)?  Returns its length, or 0 */
static size_t from_line_ok(const char *s, const char *sender, time_t before,
                           time_t after)
{
	char want[MBOX_DATE_MAX + 300];
	time_t t;
	size_t n;

	for (t = before; t <= after; t++) {
		char date[MBOX_DATE_MAX];

		mbox_date(t, date);
		n = (size_t)snprintf(want, sizeof want, "From %s %s\n", sender, date);
		if (strncmp(s, want, n) == 0)
			return n;
	}
	return 0;
}

Test(local_mbox, date_like_asctime)
{
	char buf[MBOX_DATE_MAX];

	mbox_date((time_t)1795421667, buf);
	cr_assert_str_eq(buf, "Mon Nov 23 08:14:27 2026");
	mbox_date((time_t)1793750399, buf);
	cr_assert_str_eq(buf, "Tue Nov  3 23:59:59 2026");
	mbox_date((time_t)951782400, buf);
	cr_assert_str_eq(buf, "Tue Feb 29 00:00:00 2000");
}

Test(local_mbox, entry_exact)
{
	struct local_config c = config(1);
	struct status st;
	char path[PATH_MAX], *got;
	time_t before, after;
	size_t n;

	before = time(NULL);
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	after = time(NULL);
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	got = slurp(path_of(path, root, "bob"), NULL);
	cr_assert_not_null(got);
	n = from_line_ok(got, SENDER, before, after);
	cr_assert(n > 0, "%s", got);
	cr_assert_str_eq(got + n, HDR(SENDER, RCPT) MSG "\n");
	cr_assert_eq(mode_of(path), 0600);
	cr_assert_eq(access(path_of(path, root, "bob.lock"), F_OK), -1);
	free(got);
}

Test(local_mbox, null_sender_and_missing_newline)
{
	struct local_config c = config(1);
	struct status st;
	char path[PATH_MAX], *got;
	size_t n;

	st = deliver(&c, "bob", "", "Subject: x\n\nno newline", 22);
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	got = slurp(path_of(path, root, "bob"), NULL);
	n = from_line_ok(got, "MAILER-DAEMON", time(NULL) - 5, time(NULL));
	cr_assert(n > 0, "%s", got);
	cr_assert_str_eq(got + n, HDR("", RCPT) "Subject: x\n\nno newline\n\n");
	free(got);
}

/* what from_quoting's message must become (with the final empty line) */
#define QUOTED \
	">From x\n" \
	"Subject: q\n\n" \
	">From me\n" \
	">From one\n" \
	">>From two\n" \
	"From\n" \
	"Fromage\n" \
	" From indented\n" \
	"From: not a From_ line\n" \
	">From\n" \
	"a From in the middle\n" \
	">\n" \
	"\n" \
	">From \n\n"

Test(local_mbox, from_quoting)
{
	static const char in[] =
		"From x\n"
		"Subject: q\n\n"
		"From me\n"
		">From one\n"
		">>From two\n"
		"From\n"
		"Fromage\n"
		" From indented\n"
		"From: not a From_ line\n"
		">From\n"
		"a From in the middle\n"
		">\n"
		"\n"
		"From ";
	struct local_config c = config(1);
	struct status st;
	char path[PATH_MAX], *got;
	size_t n;

	st = deliver(&c, "bob", SENDER, in, sizeof in - 1);
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	got = slurp(path_of(path, root, "bob"), NULL);
	n = from_line_ok(got, SENDER, time(NULL) - 5, time(NULL));
	cr_assert(n > 0, "%s", got);
	cr_assert_str_eq(got + n, HDR(SENDER, RCPT) QUOTED);
	free(got);
}

/* quote_lines - the reference mboxo quoting, line by line, of in[0..n):
 * a '>' before every line starting "From ", nothing else; malloc'ed */
static char *quote_lines(const char *in, size_t n, size_t *len)
{
	char *out = malloc(2 * n + 8);
	size_t i = 0, o = 0;

	cr_assert_not_null(out);
	while (i < n) {
		if (n - i >= 5 && memcmp(in + i, "From ", 5) == 0)
			out[o++] = '>';
		while (i < n && in[i] != '\n')
			out[o++] = in[i++];
		if (i < n)
			out[o++] = in[i++];
	}
	*len = o;
	return out;
}

/* quote_ref - quote_lines, with the trailing newline and empty line mbox
 * adds */
static char *quote_ref(const char *in, size_t n, size_t *len)
{
	char *out = quote_lines(in, n, len);
	size_t o = *len;

	if (o == 0 || out[o - 1] != '\n')
		out[o++] = '\n';
	out[o++] = '\n';
	*len = o;
	return out;
}

Test(local_mbox, quoting_across_read_boundaries)
{
	static const char *const tails[] = {
		"From x\n", ">>From y\nFrom z\n", "Fro\nFrom\n", ">>>>\n>From",
		"From",
	};
	struct local_config c = config(1);
	char path[PATH_MAX], *msg, *got, *want;
	size_t cap = 70000, n, len, wlen, k, fl, t, hl = strlen(HDR(SENDER, RCPT));
	struct status st;

	msg = malloc(cap + 64);
	cr_assert_not_null(msg);
	path_of(path, root, "bob");
	for (t = 0; t < sizeof tails / sizeof tails[0]; t++) {
		/* the tail starts at every position around 64 KiB from the
		 * start of the message: where one pread() ends */
		for (k = 65536 - 12; k <= 65536 + 2; k++) {
			memset(msg, 'a', k);
			msg[k - 1] = '\n';
			n = k;
			memcpy(msg + n, tails[t], strlen(tails[t]));
			n += strlen(tails[t]);
			unlink(path);
			st = deliver(&c, "bob", SENDER, msg, n);
			cr_assert_eq(st.kind, ST_OK, "%s", st.text);
			got = slurp(path, &len);
			fl = from_line_ok(got, SENDER, time(NULL) - 5, time(NULL));
			cr_assert(fl > 0);
			want = quote_ref(msg, n, &wlen);
			cr_assert_eq(len, fl + hl + wlen, "tail %zu at %zu", t, k);
			cr_assert_eq(memcmp(got + fl + hl, want, wlen), 0,
			             "tail %zu at %zu", t, k);
			free(want);
			free(got);
		}
	}
	free(msg);
}

Test(local_mbox, appends_after_existing_entries)
{
	struct local_config c = config(1);
	struct status st;
	char path[PATH_MAX], *got;
	size_t n, m;

	st = deliver(&c, "bob", SENDER, "Subject: 1\n\none\n", 16);
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	st = deliver(&c, "bob", SENDER, "Subject: 2\n\ntwo\n", 16);
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	got = slurp(path_of(path, root, "bob"), NULL);
	n = from_line_ok(got, SENDER, time(NULL) - 5, time(NULL));
	cr_assert(n > 0);
	cr_assert_eq(strncmp(got + n, HDR(SENDER, RCPT) "Subject: 1\n\none\n\n",
	                     strlen(HDR(SENDER, RCPT)) + 17), 0);
	n += strlen(HDR(SENDER, RCPT)) + 17;
	m = from_line_ok(got + n, SENDER, time(NULL) - 5, time(NULL));
	cr_assert(m > 0, "%s", got + n);
	cr_assert_str_eq(got + n + m, HDR(SENDER, RCPT) "Subject: 2\n\ntwo\n\n");
	free(got);
}

Test(local_mbox, many_threads_no_interleaving)
{
	static char seen[THREADS][PER_THREAD];
	char path[PATH_MAX], *got, *p, *end, *next, *want, *quoted;
	size_t len, n, wlen, qlen;
	int t, i, count = 0;

	run_workers(1);
	got = slurp(path_of(path, root, "bob"), &len);
	cr_assert_not_null(got);
	cr_assert_eq(access(path_of(path, root, "bob.lock"), F_OK), -1);
	p = got;
	end = got + len;
	while (p < end) {
		/* an entry: the From_ line, then everything up to the next
		 * "\n\nFrom " (quoting keeps "From " out of bodies) */
		cr_assert_eq(strncmp(p, "From " SENDER " ", 6 + strlen(SENDER)), 0,
		             "entry %d", count);
		p = strchr(p, '\n') + 1;
		next = strstr(p, "\n\nFrom ");
		next = (next != NULL) ? next + 2 : end;
		cr_assert(next - p >= 2 && next[-1] == '\n' && next[-2] == '\n');
		n = (size_t)(next - p) - 1;   /* minus the empty line */
		p[n] = '\0';
		cr_assert_eq(which(p, &t, &i), 0, "entry %d", count);
		cr_assert_eq(seen[t][i], 0, "t=%d i=%d twice", t, i);
		seen[t][i] = 1;
		want = expect(t, i, &wlen);
		quoted = quote_lines(want, wlen, &qlen);
		cr_assert_eq(n, qlen, "t=%d i=%d", t, i);
		cr_assert_eq(memcmp(p, quoted, n), 0, "t=%d i=%d", t, i);
		free(quoted);
		free(want);
		count++;
		p = next;
	}
	cr_assert_eq(count, THREADS * PER_THREAD);
	free(got);
}

/* struct aside - move_later's work: rename from to to after a second */
struct aside {
	const char *from, *to;
	int ok;                        /* the rename found the file */
};

/* move_later - after one second, move a file aside (unlike an unlink,
 * this shows the file was still there and keeps its content) */
static void *move_later(void *arg)
{
	struct aside *a = arg;
	struct timespec ts = { 1, 0 };

	nanosleep(&ts, NULL);
	a->ok = rename(a->from, a->to) == 0;
	return NULL;
}

/* aged_file - create path holding text, last modified age seconds ago */
static void aged_file(const char *path, const char *text, time_t age)
{
	struct timespec old[2];
	int fd;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
	cr_assert(fd >= 0, "%s", path);
	cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	old[0].tv_sec = old[1].tv_sec = time(NULL) - age;
	old[0].tv_nsec = old[1].tv_nsec = 0;
	cr_assert_eq(utimensat(AT_FDCWD, path, old, 0), 0);
}

/* old_file - create path holding text, last modified ten minutes ago */
static void old_file(const char *path, const char *text)
{
	aged_file(path, text, 600);
}

/* lock_kept - a bob.lock holding text, age seconds old, that must not be
 * broken: the delivery waits until somebody else moves it away, and it
 * keeps its content */
static void lock_kept(const char *text, time_t age)
{
	struct local_config c = config(1);
	struct aside a;
	struct status st;
	pthread_t tid;
	char lock[PATH_MAX], saved[PATH_MAX], *got;
	double t0, t1;

	cr_assert_eq(mkdir(root, 0700), 0);
	aged_file(path_of(lock, root, "bob.lock"), text, age);
	a.from = lock;
	a.to = path_of(saved, dir, "saved");
	a.ok = 0;
	t0 = now_sec();
	cr_assert_eq(pthread_create(&tid, NULL, move_later, &a), 0);
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	t1 = now_sec();
	pthread_join(tid, NULL);
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	cr_assert(a.ok, "the old file was removed by the delivery");
	cr_assert(t1 - t0 >= 0.9, "did not wait: %f s", t1 - t0);
	got = slurp(saved, NULL);
	cr_assert_str_eq(got, text);
	free(got);
}

Test(local_mbox, stale_foreign_dotlock_kept)
{
	lock_kept("99999\n", 600);     /* another program's */
}

/* lock_broken - an old bob.lock holding text is broken at once */
static void lock_broken(const char *text)
{
	struct local_config c = config(1);
	struct status st;
	char lock[PATH_MAX], path[PATH_MAX];
	double t0;

	cr_assert_eq(mkdir(root, 0700), 0);
	old_file(path_of(lock, root, "bob.lock"), text);
	t0 = now_sec();
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	cr_assert(now_sec() - t0 < 5);
	cr_assert_eq(access(lock, F_OK), -1);
	cr_assert_eq(access(path_of(path, root, "bob"), F_OK), 0);
}

Test(local_mbox, stale_dotlock_broken)
{
	lock_broken("4242 " MBOX_LOCK_TAG "\n");     /* ours */
}

/* An old empty one (a writer that died before writing it, or a lock of
 * ours whose text a power cut lost) too: removing it loses nothing */
Test(local_mbox, stale_empty_dotlock_broken)
{
	lock_broken("");
}

/* ...but a young one is kept: its writer may be about to write it */
Test(local_mbox, young_empty_dotlock_kept)
{
	lock_kept("", 0);
}

Test(local_mbox, old_mailbox_named_like_a_lock_kept)
{
	/* delivered into "bob.lock" before such names were refused */
	lock_kept("From x@example.org Mon Nov 23 08:14:27 2026\n"
	          "Subject: kept\n\nmail\n\n", 600);
}

Test(local_mbox, lock_names_are_no_mailboxes)
{
	struct local_config c = config(1);
	struct status st;
	char path[PATH_MAX];

	st = deliver(&c, "alice.lock", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_PERM, "%s", st.text);
	cr_assert_eq(st.subject, 1);
	cr_assert_eq(st.detail, 1);
	cr_assert_eq(access(path_of(path, root, "alice.lock"), F_OK), -1);
	/* Maildir has no lock files: there it is a name like any other */
	c = config(0);
	st = deliver(&c, "alice.lock", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
}

/* unlock_later - remove the dotlock after one second */
static void *unlock_later(void *arg)
{
	struct timespec ts = { 1, 0 };

	nanosleep(&ts, NULL);
	unlink(arg);
	return NULL;
}

Test(local_mbox, fresh_dotlock_waited_for)
{
	struct local_config c = config(1);
	struct status st;
	pthread_t tid;
	char lock[PATH_MAX], path[PATH_MAX], *got;
	double t0, t1;
	int fd;

	cr_assert_eq(mkdir(root, 0700), 0);
	fd = open(path_of(lock, root, "bob.lock"), O_WRONLY | O_CREAT, 0600);
	cr_assert(fd >= 0);
	close(fd);
	t0 = now_sec();
	cr_assert_eq(pthread_create(&tid, NULL, unlock_later, lock), 0);
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	t1 = now_sec();
	pthread_join(tid, NULL);
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	cr_assert(t1 - t0 >= 0.9, "did not wait: %f s", t1 - t0);
	cr_assert(t1 - t0 < 10, "waited too long: %f s", t1 - t0);
	cr_assert_eq(access(lock, F_OK), -1);
	got = slurp(path_of(path, root, "bob"), NULL);
	cr_assert(strstr(got, MSG) != NULL);
	free(got);
}

Test(local_mbox, fcntl_lock_of_another_process_waited_for)
{
	struct local_config c = config(1);
	struct status st;
	struct flock fl;
	char path[PATH_MAX], ok;
	double t0, t1;
	int p[2], fd, status;
	pid_t pid;

	cr_assert_eq(mkdir(root, 0700), 0);
	path_of(path, root, "bob");
	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		/* a MUA: classic POSIX lock, held for one second */
		struct timespec ts = { 1, 0 };

		fd = open(path, O_RDWR | O_CREAT, 0600);
		memset(&fl, 0, sizeof fl);
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fd < 0 || fcntl(fd, F_SETLKW, &fl) < 0)
			_exit(1);
		if (write(p[1], "L", 1) != 1)
			_exit(1);
		nanosleep(&ts, NULL);
		_exit(0);
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &ok, 1), 1);
	t0 = now_sec();
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	t1 = now_sec();
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	cr_assert(t1 - t0 >= 0.8, "did not wait: %f s", t1 - t0);
	close(p[0]);
}

/* hold_lock - fork a "MUA" that keeps a classic POSIX write lock on path
 * until killed; returns its pid once it holds the lock */
static pid_t hold_lock(const char *path)
{
	struct flock fl;
	char ok;
	int p[2], fd;
	pid_t pid;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		fd = open(path, O_RDWR | O_CREAT, 0600);
		memset(&fl, 0, sizeof fl);
		fl.l_type = F_WRLCK;
		fl.l_whence = SEEK_SET;
		if (fd < 0 || fcntl(fd, F_SETLKW, &fl) < 0)
			_exit(1);
		if (write(p[1], "L", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	cr_assert_eq(read(p[0], &ok, 1), 1);
	close(p[0]);
	return pid;
}

Test(local_mbox, fcntl_lock_held_for_good_gives_up)
{
	struct local_config c = config(1);
	struct status st;
	char path[PATH_MAX];
	struct stat sb;
	pid_t pid;

	cr_assert_eq(mkdir(root, 0700), 0);
	pid = hold_lock(path_of(path, root, "bob"));
	c.lock_wait = 1;
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	cr_assert_eq(st.kind, ST_TEMP, "%s", st.text);
	cr_assert_eq(st.subject, 2);
	cr_assert(strstr(st.text, "still locked by another program after 1 s "
	                 "(fcntl lock)") != NULL, "%s", st.text);
	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_eq(sb.st_size, 0, "written while locked");
	cr_assert_eq(access(path_of(path, root, "bob.lock"), F_OK), -1);
	/* and once it is free, delivery goes */
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
}

Test(local_mbox, dotlock_held_for_good_gives_up)
{
	struct local_config c = config(1);
	struct status st;
	char lock[PATH_MAX], path[PATH_MAX];
	int fd;

	cr_assert_eq(mkdir(root, 0700), 0);
	fd = open(path_of(lock, root, "bob.lock"), O_WRONLY | O_CREAT, 0600);
	cr_assert(fd >= 0);
	close(fd);
	c.lock_wait = 1;
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_TEMP, "%s", st.text);
	cr_assert(strstr(st.text, "still locked by another program after 1 s "
	                 "(dotlock bob.lock)") != NULL, "%s", st.text);
	cr_assert_eq(access(lock, F_OK), 0, "another's dotlock removed");
	cr_assert_eq(access(path_of(path, root, "bob"), F_OK), 0);
}

Test(local_mbox, symlink_refused)
{
	struct local_config c = config(1);
	struct status st;
	char path[PATH_MAX], other[PATH_MAX], *got;
	size_t len;
	int fd;

	cr_assert_eq(mkdir(root, 0700), 0);
	fd = open(path_of(other, dir, "elsewhere"), O_WRONLY | O_CREAT, 0600);
	cr_assert(fd >= 0);
	close(fd);
	cr_assert_eq(symlink(other, path_of(path, root, "bob")), 0);
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_TEMP);
	cr_assert_eq(st.subject, 2);
	cr_assert_eq(st.detail, 0);
	cr_assert(strstr(st.text, "symbolic link") != NULL, "%s", st.text);
	got = slurp(other, &len);
	cr_assert_eq(len, 0);
	free(got);
	/* a dangling symlink: nothing created at its target either */
	path_of(other, dir, "nothing-here");
	cr_assert_eq(symlink(other, path_of(path, root, "carol")), 0);
	st = deliver(&c, "carol", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_TEMP);
	cr_assert_eq(st.subject, 2);
	cr_assert_eq(access(other, F_OK), -1);
	cr_assert_eq(access(path_of(path, root, "bob.lock"), F_OK), -1);
}

Test(local_mbox, hard_link_refused)
{
	struct local_config c = config(1);
	struct status st;
	char path[PATH_MAX], other[PATH_MAX], *got;
	size_t len;
	int fd;

	cr_assert_eq(mkdir(root, 0700), 0);
	fd = open(path_of(other, dir, "elsewhere"), O_WRONLY | O_CREAT, 0600);
	cr_assert(fd >= 0);
	close(fd);
	cr_assert_eq(link(other, path_of(path, root, "bob")), 0);
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_TEMP);
	cr_assert_eq(st.subject, 2);
	got = slurp(other, &len);
	cr_assert_eq(len, 0);
	free(got);
}

Test(local_mbox, directory_where_mbox_should_be)
{
	struct local_config c = config(1);
	struct status st;
	char path[PATH_MAX];

	cr_assert_eq(mkdir(root, 0700), 0);
	cr_assert_eq(mkdir(path_of(path, root, "bob"), 0700), 0);
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_TEMP);
	cr_assert_eq(st.subject, 2);
	cr_assert_eq(st.detail, 0);
	cr_assert_eq(entries(path, NULL), 0);
}

/* first_entry - deliver one message and return the mbox as it is then */
static char *first_entry(const struct local_config *c, size_t *len)
{
	struct status st;
	char path[PATH_MAX];

	st = deliver(c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	return slurp(path_of(path, root, "bob"), len);
}

Test(local_mbox, read_error_changes_nothing)
{
	struct local_config c = config(1);
	struct status st;
	char path[PATH_MAX], *before, *after;
	size_t blen, alen;
	int fd;

	before = first_entry(&c, &blen);
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	st = local_deliver(&c, "bob", RCPT, SENDER, fd, 0);
	close(fd);
	cr_assert_eq(st.kind, ST_TEMP);
	after = slurp(path_of(path, root, "bob"), &alen);
	cr_assert_eq(alen, blen);
	cr_assert_eq(memcmp(before, after, blen), 0);
	cr_assert_eq(access(path_of(path, root, "bob.lock"), F_OK), -1);
	free(before);
	free(after);
}

Test(local_mbox, write_error_truncates_back)
{
	struct local_config c = config(1);
	struct rlimit rl;
	struct status st;
	char path[PATH_MAX], *before, *after, *msg;
	size_t blen, alen, n = 300000;
	off_t off;
	int fd;

	before = first_entry(&c, &blen);
	msg = malloc(n);
	cr_assert_not_null(msg);
	memset(msg, 'x', n);
	fd = queue_file("queue.msg", msg, n, &off);
	/* the mbox may not pass 100000 bytes: part of the entry is written
	 * (64 KiB buffers), then write() fails with EFBIG */
	rl.rlim_cur = rl.rlim_max = 100000;
	signal(SIGXFSZ, SIG_IGN);
	cr_assert_eq(setrlimit(RLIMIT_FSIZE, &rl), 0);
	st = local_deliver(&c, "bob", RCPT, SENDER, fd, off);
	close(fd);
	free(msg);
	cr_assert_eq(st.kind, ST_TEMP);
	cr_assert(strstr(st.text, "too large") != NULL, "%s", st.text);
	after = slurp(path_of(path, root, "bob"), &alen);
	cr_assert_eq(alen, blen);
	cr_assert_eq(memcmp(before, after, blen), 0);
	cr_assert_eq(access(path_of(path, root, "bob.lock"), F_OK), -1);
	free(before);
	free(after);
}

Test(local_mbox, unwritable_mail_root)
{
	struct local_config c = config(1);
	struct status st;
	char path[PATH_MAX];

	cr_assert_eq(mkdir(root, 0700), 0);
	drop_root();
	cr_assert_eq(chmod(root, 0500), 0);
	st = deliver(&c, "bob", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_TEMP);
	cr_assert_eq(st.subject, 3);
	cr_assert_eq(access(path_of(path, root, "bob"), F_OK), -1);
}

Test(local_mbox, owner_given_to_user)
{
	struct local_msg m = { 0 };
	struct local_owner own = { 1, 0, 0 };
	struct passwd *pw;
	struct status st;
	struct stat sb;
	char path[PATH_MAX];
	int rootfd;

	if (geteuid() != 0)
		skip("only root can give files away");
	pw = getpwnam("nobody");
	if (pw == NULL)
		skip("no user nobody");
	own.uid = pw->pw_uid;
	own.gid = pw->pw_gid;
	m.rcpt = RCPT;
	m.sender = SENDER;
	m.fd = queue_file("queue.msg", MSG, strlen(MSG), &m.offset);
	rootfd = open(dir, O_RDONLY | O_DIRECTORY);
	cr_assert(rootfd >= 0);
	st = mbox_deliver(rootfd, "nobody", &m, &own, 0);
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	cr_assert_eq(stat(path_of(path, dir, "nobody"), &sb), 0);
	cr_assert_eq(sb.st_uid, pw->pw_uid);
	cr_assert_eq(sb.st_gid, pw->pw_gid);
	cr_assert_eq(sb.st_mode & 07777, 0600);
	close(rootfd);
	close(m.fd);
}

/* --- local_deliver as a whole -------------------------------------- */

Test(local, unsafe_names_refused)
{
	static const char names[][8] = { "", ".", "..", "../x", "a/b", ".bob" };
	struct local_config c = config(0);
	struct status st;
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		st = deliver(&c, names[i], SENDER, MSG, strlen(MSG));
		cr_assert_eq(st.kind, ST_TEMP, "name \"%s\"", names[i]);
	}
	cr_assert_eq(access(root, F_OK), -1);
	cr_assert_eq(entries(dir, NULL), 1);   /* queue.msg only */
}

Test(local, unknown_system_user)
{
	struct local_config c = config(0);
	struct status st;

	c.system_users = 1;
	st = deliver(&c, "no-such-user-xq7", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_PERM);
	cr_assert_eq(st.subject, 1);
	cr_assert_eq(st.detail, 1);
	c.mbox = 1;
	st = deliver(&c, "no-such-user-xq7", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_PERM);
	cr_assert_eq(access(root, F_OK), -1);
}

Test(local, system_user_mbox_in_mail_root)
{
	struct local_config c = config(1);
	struct passwd *pw = getpwuid(geteuid());
	struct status st;
	char path[PATH_MAX], name[NAME_MAX + 1], *got;

	cr_assert_not_null(pw);
	snprintf(name, sizeof name, "%s", pw->pw_name);
	c.system_users = 1;
	st = deliver(&c, name, SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_OK, "%s", st.text);
	got = slurp(path_of(path, root, name), NULL);
	cr_assert_not_null(got);
	cr_assert(strstr(got, HDR(SENDER, RCPT) MSG "\n") != NULL);
	free(got);
}

Test(local, system_account_refused)
{
	struct local_config c = config(0);
	struct passwd *pw = getpwnam("nobody");
	struct status st;
	char path[PATH_MAX];

	/* nobody: uid 65534 and a nologin shell, or a low uid */
	if (pw == NULL || pw->pw_dir == NULL || pw->pw_dir[0] != '/')
		skip("needs user nobody");
	c.system_users = 1;
	st = deliver(&c, "nobody", SENDER, MSG, strlen(MSG));
	cr_assert_eq(st.kind, ST_PERM, "%s", st.text);
	cr_assert_eq(st.subject, 1);
	cr_assert_eq(st.detail, 1);
	cr_assert_lt(snprintf(path, sizeof path, "%s/Maildir", pw->pw_dir),
	             (int)sizeof path);
	cr_assert_eq(access(path, F_OK), -1, "%s was created", path);
}

Test(local, virtual_domain_mailboxes_are_under_their_domain)
{
	struct local_config c = config(0);
	char path[PATH_MAX], first[NAME_MAX + 1];

	c.domain = "one.example";
	c.system_users = 1;              /* never a system user's, even so */
	cr_assert_eq(deliver(&c, "bob", SENDER, MSG, strlen(MSG)).kind, ST_OK);
	cr_assert_eq(entries(path_of(path, root, "one.example/bob/new"), first), 1);
	cr_assert_eq(entries(path_of(path, root, "bob/new"), first), -1,
	             "the local bob's mailbox is another");
	c.mbox = 1;
	cr_assert_eq(deliver(&c, "carol", SENDER, MSG, strlen(MSG)).kind, ST_OK);
	cr_assert_eq(access(path_of(path, root, "one.example/carol"), F_OK), 0, "an mbox file");
	c.domain = "../escape";
	cr_assert_eq(deliver(&c, "bob", SENDER, MSG, strlen(MSG)).kind, ST_TEMP,
	             "an unsafe domain directory is refused");
}
