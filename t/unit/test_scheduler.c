/* test_scheduler.c - the scheduler's pieces driven in-process on a queue
 * in a temporary directory: settling removed jobs, lines letting jobs go
 * when a slot comes free, failures reported while siblings wait */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "scheduler_explode.h"
#include "scheduler_files.h"
#include "scheduler_outcome.h"
#include "scheduler_priv.h"
#include "scheduler_route.h"

#define ID "0000000000001A"

static char dir[64];
static struct config cfg;
static struct sched *s;

static void setup(void)
{
	char err[256];

	strcpy(dir, "/tmp/mta-unit-sched.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	cfg.max_deliveries = 10;
	cfg.max_per_dest = 1;
	cfg.retry = 300;
	cfg.attempts = 5;
	cfg.max_queue_time = 86400;
	s = calloc(1, sizeof *s);
	cr_assert_not_null(s);
	cr_assert_eq(queue_open(&s->q, dir, err, sizeof err), 0, "%s", err);
	s->cfg = &cfg;
	s->t = jobtab_new();
	s->dests = destlimit_new();
	s->ino_fd = -1;
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	/* a temp dir left behind fails no test: said on stderr, never with
	 * cr_log_warn, which Criterion's runner counts as a failure of the
	 * whole run (exit 1 with every test ok) */
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

/* touch - create dir/sub/name, empty */
static void touch(const char *sub, const char *name)
{
	char path[256];
	int fd;

	snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0, "%s", path);
	close(fd);
}

/* rm - remove dir/sub/name */
static void rm(const char *sub, const char *name)
{
	char path[256];

	snprintf(path, sizeof path, "%s/%s/%s", dir, sub, name);
	cr_assert_eq(unlink(path), 0, "%s", path);
}

/* message - queue/mess/ID from the null sender to two recipients (a
 * report about it is logged and dropped) */
static void message(const char *id)
{
	char path[256];
	FILE *fp;

	snprintf(path, sizeof path, "%s/mess/%s", dir, id);
	fp = fopen(path, "w");
	cr_assert_not_null(fp);
	fprintf(fp, "mta-envelope 1\nid %s\narrival 50\nclient local\nhelo x\n"
	        "sender \nrcpt a@x.example\nrcpt b@x.example\n\nSubject: t\n\nbody\n", id);
	fclose(fp);
}

/* fail - j failed for good, waiting for its report */
static void fail(struct jt_job *j, const char *rcpt)
{
	struct failed_rcpt *f = calloc(1, sizeof *f);

	cr_assert_not_null(f);
	jobtab_start(s->t, j);
	j->state = JT_FAILED;
	f->job = j;
	f->st = status_make(ST_PERM, 1, 1, "550 no such user");
	snprintf(f->rcpt, sizeof f->rcpt, "%s", rcpt);
	f->next = j->msg->fails;
	j->msg->fails = f;
}

TestSuite(scheduler, .init = setup, .fini = teardown);

Test(scheduler, a_forgotten_job_leaves_the_missing_list)
{
	struct jt_msg *m = jobtab_add_msg(s->t, ID);
	struct jt_job *a = jobtab_add(s->t, m, 0, 100);

	jobtab_add(s->t, m, 1, 100);
	sched_note_missing(s, a, 0);
	cr_assert_eq(s->nmissing, 1);
	jobtab_start(s->t, a);
	sched_forget_job(s, a);
	cr_assert_eq(s->nmissing, 0, "a freed job stays on the list, to be settled");
}

/* a failed job and its sibling waiting in the heap, both removed by hand
 * (the sibling first): settling the sibling reports the failure, which
 * forgets the failed job, listed as missing still (under ASan: use after
 * free before the fix) */
Test(scheduler, removing_a_failed_job_and_its_waiting_sibling_settles_both)
{
	char path[256];
	struct jt_msg *m;
	struct jt_job *a;

	message(ID);
	touch("rcpt", "100." ID ".0");
	touch("rcpt", "50." ID ".1");
	snprintf(path, sizeof path, "%s/new", dir);
	s->ino_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	s->wd_new = inotify_add_watch(s->ino_fd, path, IN_MOVED_TO | IN_CREATE);
	snprintf(path, sizeof path, "%s/rcpt", dir);
	s->wd_rcpt = inotify_add_watch(s->ino_fd, path,
	                               IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE);
	m = jobtab_add_msg(s->t, ID);
	a = jobtab_add(s->t, m, 0, 100);
	jobtab_add(s->t, m, 1, 50);
	fail(a, "a@x.example");
	rm("rcpt", "50." ID ".1");
	rm("rcpt", "100." ID ".0");
	sched_read_events(s);
	cr_assert_eq(s->nmissing, 0);
	cr_assert_null(jobtab_msg(s->t, ID), "both jobs forgotten, the message with them");
	snprintf(path, sizeof path, "%s/mess/%s", dir, ID);
	cr_assert_neq(access(path, F_OK), 0, "the message is released");
}

/* park - j waits in hop's line */
static void park(struct jt_job *j, const char *hop)
{
	jobtab_start(s->t, j);
	j->state = JT_PARKED;
	cr_assert_eq(destlimit_wait(s->dests, DL_HOP, TRANSPORT_SMTP, hop, j), 0);
}

/* complete - the delivery of j to hop, which held a slot, ended well */
static void complete(struct jt_job *j, const char *hop)
{
	struct delivery *d = delivery_new(1);

	cr_assert_not_null(d);
	d->owner = s;
	d->r[0].job = j;
	d->r[0].n = j->n;
	d->transport = TRANSPORT_SMTP;
	d->slotted = 1;
	snprintf(d->hop, sizeof d->hop, "%s", hop);
	memcpy(d->id, j->msg->id, sizeof d->id);
	d->r[0].result = status_ok();
	sched_completed(s, d);
	delivery_free(d);
}

/* a delivery to a hop ends while two jobs wait in its line, the first of
 * them removed (gone) or held (renamed to a far due) by hand: it takes
 * no slot, so the second goes */
static void first_in_line_takes_no_slot(int gone)
{
	struct jt_msg *ma = jobtab_add_msg(s->t, "AAAA");
	struct jt_msg *mb = jobtab_add_msg(s->t, "BBBB");
	struct jt_msg *mc = jobtab_add_msg(s->t, "CCCC");
	struct jt_job *a0 = jobtab_add(s->t, ma, 0, 1);
	struct jt_job *b0 = jobtab_add(s->t, mb, 0, 2);
	struct jt_job *c0 = jobtab_add(s->t, mc, 0, 3);

	jobtab_start(s->t, a0);
	cr_assert_eq(destlimit_take(s->dests, TRANSPORT_SMTP, "h.example:25"), 0);
	s->running = 1;
	park(b0, "h.example:25");
	park(c0, "h.example:25");
	if (gone)
		b0->gone = 1;
	else
		b0->due = 9999999999LL;
	complete(a0, "h.example:25");
	sched_release_freed(s);
	cr_assert_eq(c0->state, JT_WAITING, "the next in line goes");
	cr_assert_eq(destlimit_hop_running(s->dests, "h.example:25"), 0);
}

Test(scheduler, a_job_removed_in_a_line_takes_no_slot)
{
	first_in_line_takes_no_slot(1);
}

Test(scheduler, a_job_held_in_a_line_takes_no_slot)
{
	first_in_line_takes_no_slot(0);
}

/* the backstop: a hop with nothing running and a line lets it go at the
 * rescan, however it came to be idle */
Test(scheduler, an_idle_hop_with_a_line_lets_it_go_at_the_rescan)
{
	struct jt_msg *m = jobtab_add_msg(s->t, "CCCC");
	struct jt_job *c0 = jobtab_add(s->t, m, 0, 3);

	park(c0, "h.example:25");
	sched_recheck_lines(s);
	sched_release_freed(s);
	cr_assert_eq(c0->state, JT_WAITING);
	sched_recheck_freed(s);
	cr_assert_eq(s->nfreed, 0);
}

/* the transport line: a held job let out of it takes no slot either */
Test(scheduler, a_job_held_in_a_transport_line_takes_no_slot)
{
	struct jt_msg *ma = jobtab_add_msg(s->t, "AAAA");
	struct jt_msg *mb = jobtab_add_msg(s->t, "BBBB");
	struct jt_job *a0 = jobtab_add(s->t, ma, 0, 2);
	struct jt_job *b0 = jobtab_add(s->t, mb, 0, 3);

	jobtab_start(s->t, a0);
	a0->state = JT_PARKED;
	cr_assert_eq(destlimit_wait(s->dests, DL_TRANSPORT, TRANSPORT_SMTP, "", a0), 0);
	jobtab_start(s->t, b0);
	b0->state = JT_PARKED;
	cr_assert_eq(destlimit_wait(s->dests, DL_TRANSPORT, TRANSPORT_SMTP, "", b0), 0);
	a0->due = 9999999999LL;
	sched_unwait_transport(s, TRANSPORT_SMTP);
	cr_assert_eq(b0->state, JT_WAITING, "the next in line goes");
}

/* the note that a hop's slot came free needs no memory when the
 * delivery ends (out of memory then, its line would wait for good): the
 * room is taken before the delivery starts */
Test(scheduler, a_slot_coming_free_is_noted_without_allocating)
{
	struct jt_msg *ma = jobtab_add_msg(s->t, "AAAA");
	struct jt_msg *mc = jobtab_add_msg(s->t, "CCCC");
	struct jt_job *a0 = jobtab_add(s->t, ma, 0, 1);
	struct jt_job *c0 = jobtab_add(s->t, mc, 0, 3);
	struct freed_hop *room;
	size_t cap;

	cr_assert_eq(sched_reserve_freed(s), 0);   /* as sched_dispatch does */
	jobtab_start(s->t, a0);
	cr_assert_eq(destlimit_take(s->dests, TRANSPORT_SMTP, "h.example:25"), 0);
	s->running = 1;
	park(c0, "h.example:25");
	room = s->freed;
	cap = s->freed_cap;
	cr_assert_geq(cap, s->nfreed + s->running);
	complete(a0, "h.example:25");
	cr_assert_eq(s->freed, room);
	cr_assert_eq(s->freed_cap, cap, "no allocation on the way");
	cr_assert_eq(s->nfreed, 1);
	sched_release_freed(s);
	cr_assert_eq(c0->state, JT_WAITING);
}

/* a failed recipient waits for its report behind a sibling parked in a
 * line; the sibling is held by hand meanwhile: let out of the line, it
 * goes nowhere soon, and the failure is reported then */
Test(scheduler, a_sibling_held_in_a_line_does_not_hold_back_a_report)
{
	struct jt_msg *mx = jobtab_add_msg(s->t, "0000000000001X");
	struct jt_msg *m = jobtab_add_msg(s->t, ID);
	struct jt_job *x0 = jobtab_add(s->t, mx, 0, 1);
	struct jt_job *a = jobtab_add(s->t, m, 0, 2);
	struct jt_job *b = jobtab_add(s->t, m, 1, 2);

	message(ID);
	jobtab_start(s->t, x0);
	cr_assert_eq(destlimit_take(s->dests, TRANSPORT_SMTP, "h:25"), 0);
	s->running = 1;
	park(b, "h:25");
	fail(a, "a@x.example");
	b->due = 9999999999LL;
	complete(x0, "h:25");
	cr_assert_not_null(m->fails, "b is parked: the report waits for it");
	sched_release_freed(s);
	cr_assert_eq(b->state, JT_WAITING);
	cr_assert_null(m->fails, "reported");
	cr_assert_null(jobtab_job(m, 0), "the failed job is done");
}

/* a message in new/ that cannot be read now is tried again shortly, not
 * at the next whole rescan (a directory under its name: read fails) */
Test(scheduler, an_unreadable_new_message_is_tried_again_shortly)
{
	char path[256];
	long long later = (long long)time(NULL) + SCHED_RESCAN;

	snprintf(path, sizeof path, "%s/new/%s", dir, ID);
	cr_assert_eq(mkdir(path, 0700), 0);
	s->arrived = calloc(1, sizeof *s->arrived);
	s->created = calloc(1, 1);
	cr_assert(s->arrived && s->created);
	s->arrived_cap = 1;
	snprintf(s->arrived[0], sizeof s->arrived[0], "%s", ID);
	s->narrived = 1;
	s->next_rescan = later;
	sched_explode(s);
	cr_assert_null(jobtab_msg(s->t, ID));
	cr_assert_leq(s->next_rescan, (long long)time(NULL) + EXPLODE_RETRY);
}

/* grouping (scheduler_route.c sched_group): a delivery of a job relayed
 * over SMTP takes along the message's other jobs that wait, are due, and
 * go to the same next hop and domain (without case), in recipient order;
 * not one due later, held, returned by an operator (due 0), of another
 * domain, or local */
Test(scheduler, a_delivery_gathers_the_due_siblings_on_its_route)
{
	static char local[] = "local.example";
	static char *domains[] = { local };
	const char *to[] = { "a@g.example", "b@G.Example", "c@g.example",
	                     "d@h.example", "e@g.example", "f@g.example",
	                     "g@g.example", "h@g.example", "user@local.example" };
	enum { N = sizeof to / sizeof to[0] };
	struct jt_msg *m = jobtab_add_msg(s->t, ID);
	struct jt_job *j[N];
	struct envelope env;
	struct delivery *d;
	struct mailbox mb;
	long long now = 1000;
	size_t i;

	cfg.domains = domains;
	cfg.ndomains = 1;
	envelope_init(&env);
	for (i = 0; i < N; i++) {
		cr_assert_eq(mailbox_from_text(&mb, to[i], strlen(to[i])), 0, "%s", to[i]);
		cr_assert_eq(envelope_add_rcpt(&env, &mb), 1);
		/* made in reverse order: the delivery sorts them */
		j[N - 1 - i] = jobtab_add(s->t, m, (unsigned)(N - 1 - i), now - 10);
	}
	j[5]->due = now + 1;             /* f: due later */
	j[6]->due = 9999999999LL;        /* g: held */
	j[7]->due = 0;                   /* h: returned by an operator */
	sched_route_message(s, m, &env);
	envelope_free(&env);
	jobtab_start(s->t, j[2]);        /* c is the one dispatched */
	d = delivery_new(1);
	cr_assert_not_null(d);
	sched_use_route(s, j[2], d);
	cr_assert_eq(d->transport, TRANSPORT_SMTP);
	d->r[0].n = 2;
	d->r[0].job = j[2];
	d = sched_group(s, j[2], d, now);
	cr_assert_eq(d->nrcpt, 4, "c with a, b and e: %zu", d->nrcpt);
	cr_assert_eq(d->r[0].n, 0);
	cr_assert_eq(d->r[1].n, 1);
	cr_assert_eq(d->r[2].n, 2);
	cr_assert_eq(d->r[3].n, 4);
	cr_assert_str_eq(d->r[1].rcpt, "b@G.Example");
	for (i = 0; i < 4; i++)
		cr_assert_eq(((struct jt_job *)d->r[i].job)->state, JT_RUNNING);
	cr_assert_eq(j[3]->state, JT_WAITING, "another domain stays");
	cr_assert_eq(j[5]->state, JT_WAITING, "not due yet stays");
	cr_assert_eq(j[8]->state, JT_WAITING, "local stays");
	delivery_free(d);
}
