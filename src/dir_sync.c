/* dir_sync.c - groups of waiters per directory, each with a count of
 * tickets, a count of arrivals, the highest arrival a finished fsync
 * covers and the highest ticket a failed one fails; see dir_sync.h */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dir_sync.h"

/* a thread waiting in a group; it sleeps on a semaphore of its own,
 * posted once by the thread that decides it or hands it the next fsync,
 * so a finished fsync wakes only those it decided and one more, and
 * those it decided return without taking the lock again */
struct waiter {
	struct waiter *next;
	unsigned long seq;            /* its ticket, taken before its rename */
	unsigned long me;             /* its arrival number */
	int lead;                     /* woken to run the next fsync */
	int ret, err;                 /* decided: dir_sync_wait's result */
	sem_t wake;
};

struct group {
	struct group *next;
	dev_t dev;
	ino_t ino;
	unsigned users;               /* threads holding a ticket of it */
	int syncing;                  /* an fsync runs for it */
	unsigned long entered;        /* tickets so far, numbered 1.. */
	unsigned long arrived;        /* waiters so far, numbered 1.. */
	unsigned long covered;        /* arrivals 1..covered: an fsync
	                               * succeeded after */
	unsigned long failed;         /* tickets 1..failed: a failed fsync
	                               * returned after they were taken */
	int err;                      /* that fsync's errno */
	struct waiter *waiting;       /* undecided, asleep */
};

static pthread_mutex_t ds_lock = PTHREAD_MUTEX_INITIALIZER;
static struct group *ds_groups;   /* short: one per directory in use */
static int (*ds_sync)(int fd) = fsync;

void dir_sync_hook(int (*sync)(int fd))
{
	pthread_mutex_lock(&ds_lock);
	ds_sync = sync != NULL ? sync : fsync;
	pthread_mutex_unlock(&ds_lock);
}

/* join - the group of dev/ino, made when missing; NULL when out of
 * memory.  Called with ds_lock held. */
static struct group *join(dev_t dev, ino_t ino)
{
	struct group *g;

	for (g = ds_groups; g != NULL; g = g->next)
		if (g->dev == dev && g->ino == ino)
			break;
	if (g == NULL) {
		if ((g = calloc(1, sizeof *g)) == NULL)
			return NULL;
		g->dev = dev;
		g->ino = ino;
		g->next = ds_groups;
		ds_groups = g;
	}
	g->users++;
	return g;
}

/* leave - the last one out frees the group.  ds_lock held. */
static void leave(struct group *g)
{
	struct group **pp;

	if (--g->users > 0)
		return;
	for (pp = &ds_groups; *pp != g; pp = &(*pp)->next)
		;
	*pp = g->next;
	free(g);
}

/* settled - has an fsync settled x?  Then its result is in it.  Called
 * when an fsync ends, for the waiters still asleep: a failure fails every
 * one of them (failed == entered), those it could not cover too.  ds_lock
 * held. */
static int settled(const struct group *g, struct waiter *x)
{
	if (x->seq <= g->failed) {
		x->ret = -1;
		x->err = g->err;
		return 1;
	}
	x->ret = x->err = 0;
	return x->me <= g->covered;
}

/* run_sync - w leads: fsync fd for every arrival so far, settle the
 * waiters it covers (or its failure fails), hand the next fsync to one it
 * does not (g->syncing stays set for it) or clear g->syncing, and leave
 * the group for w and for every waiter settled.  Called with ds_lock held
 * and g->syncing set; returns with it released. */
static void run_sync(struct group *g, int fd, struct waiter *w)
{
	unsigned long upto = g->arrived;  /* their renames are done: they came
	                                   * here after them */
	int (*sync)(int) = ds_sync;
	struct waiter *wake = NULL, *next_leader, **pp;
	int e;

	pthread_mutex_unlock(&ds_lock);
	e = sync(fd) < 0 ? errno : 0;
	pthread_mutex_lock(&ds_lock);
	if (e == 0) {
		if (upto > g->covered)
			g->covered = upto;
	} else {
		g->failed = g->entered;   /* those still renaming too */
		g->err = e;
	}
	for (pp = &g->waiting; *pp; ) {
		struct waiter *x = *pp;

		if (settled(g, x)) {
			*pp = x->next;
			x->next = wake;
			wake = x;
			g->users--;       /* for x: w is still in, so g stays */
		} else {
			pp = &x->next;
		}
	}
	if ((next_leader = g->waiting) != NULL) {
		g->waiting = next_leader->next;
		next_leader->lead = 1;
	} else {
		g->syncing = 0;
	}
	settled(g, w);            /* its own fsync began after it arrived */
	leave(g);
	pthread_mutex_unlock(&ds_lock);
	/* Each posted once, outside the lock; x is gone once posted. */
	while (wake) {
		struct waiter *x = wake;

		wake = x->next;
		sem_post(&x->wake);
	}
	if (next_leader)
		sem_post(&next_leader->wake);
}

/* dir_sync_enter - a ticket in the group of fd's directory, or none */
void dir_sync_enter(int fd, struct dir_sync_ticket *t)
{
	struct stat sb;
	struct group *g = NULL;

	pthread_mutex_lock(&ds_lock);
	if (fstat(fd, &sb) == 0 && (g = join(sb.st_dev, sb.st_ino)) != NULL)
		t->seq = ++g->entered;
	pthread_mutex_unlock(&ds_lock);
	t->group = g;
}

void dir_sync_leave(struct dir_sync_ticket *t)
{
	if (t->group == NULL)
		return;
	pthread_mutex_lock(&ds_lock);
	leave(t->group);
	pthread_mutex_unlock(&ds_lock);
	t->group = NULL;
}

/* dir_sync_wait - wait for (or run) an fsync that starts after now */
int dir_sync_wait(int fd, struct dir_sync_ticket *t)
{
	struct group *g = t->group;
	struct waiter w;

	t->group = NULL;
	if (g == NULL) {
		int (*sync)(int);

		pthread_mutex_lock(&ds_lock);
		sync = ds_sync;
		pthread_mutex_unlock(&ds_lock);
		return sync(fd);
	}
	pthread_mutex_lock(&ds_lock);
	if (t->seq <= g->failed) {
		/* a failed fsync returned since its ticket: it may have
		 * consumed the error of this rename */
		int e = g->err;

		leave(g);
		pthread_mutex_unlock(&ds_lock);
		errno = e;
		return -1;
	}
	w.seq = t->seq;
	w.me = ++g->arrived;
	w.lead = 0;
	if (g->syncing) {
		sem_init(&w.wake, 0, 0);
		w.next = g->waiting;
		g->waiting = &w;
		pthread_mutex_unlock(&ds_lock);
		while (sem_wait(&w.wake) < 0 && errno == EINTR)
			;
		sem_destroy(&w.wake);
		if (!w.lead)
			goto done;
		/* handed the next fsync: g->syncing was left set for it */
		pthread_mutex_lock(&ds_lock);
	} else {
		g->syncing = 1;
	}
	run_sync(g, fd, &w);
done:
	if (w.ret < 0)
		errno = w.err;
	return w.ret;
}
