/* group_sync.c - a group's counts of tickets and arrivals, the highest
 * arrival a finished fsync covers and the highest ticket a failed one
 * fails; see group_sync.h */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>

#include "group_sync.h"

/* a thread waiting in a group; it sleeps on a semaphore of its own,
 * posted once by the thread that decides it or hands it the next fsync,
 * so a finished fsync wakes only those it decided and one more, and
 * those it decided return without taking the group's lock again */
struct group_sync_waiter {
	struct group_sync_waiter *next;
	unsigned long ticket;         /* taken before its rename */
	unsigned long me;             /* its arrival number */
	int lead;                     /* woken to run the next fsync */
	int ret, err;                 /* decided: group_sync_wait's result */
	sem_t wake;
};

void group_sync_init(struct group_sync *g)
{
	*g = (struct group_sync){ .waiting = NULL };
	pthread_mutex_init(&g->lock, NULL);
}

void group_sync_destroy(struct group_sync *g)
{
	pthread_mutex_destroy(&g->lock);
}

unsigned long group_sync_enter(struct group_sync *g)
{
	unsigned long ticket;

	pthread_mutex_lock(&g->lock);
	ticket = ++g->entered;
	pthread_mutex_unlock(&g->lock);
	return ticket;
}

/* settled - has an fsync settled x?  Then its result is in it.  Called
 * when an fsync ends, for the waiters still asleep: a failure fails every
 * one of them (failed == entered), those it could not cover too.  Lock
 * held. */
static int settled(const struct group_sync *g, struct group_sync_waiter *x)
{
	if (x->ticket <= g->failed) {
		x->ret = -1;
		x->err = g->err;
		return 1;
	}
	x->ret = x->err = 0;
	return x->me <= g->covered;
}

/* run_sync - w leads: fsync fd for every arrival so far, settle the
 * waiters it covers (or its failure fails), and hand the next fsync to
 * one it does not (g->syncing stays set for it) or clear g->syncing.
 * Called with the lock held and g->syncing set; returns with it
 * released. */
static void run_sync(struct group_sync *g, int fd, int (*sync)(int),
                     struct group_sync_waiter *w)
{
	unsigned long upto = g->arrived;  /* their renames are done: they came
	                                   * here after them */
	struct group_sync_waiter *wake = NULL, *next_leader, **pp;
	int e, caller_errno = errno;   /* kept on success */

	pthread_mutex_unlock(&g->lock);
	/* a -1 without an errno is a failure all the same */
	errno = 0;
	e = sync(fd) < 0 ? (errno != 0 ? errno : EIO) : 0;
	errno = caller_errno;
	pthread_mutex_lock(&g->lock);
	if (e == 0) {
		if (upto > g->covered)
			g->covered = upto;
	} else {
		g->failed = g->entered;   /* those still renaming too */
		g->err = e;
	}
	for (pp = &g->waiting; *pp; ) {
		struct group_sync_waiter *x = *pp;

		if (settled(g, x)) {
			*pp = x->next;
			x->next = wake;
			wake = x;
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
	pthread_mutex_unlock(&g->lock);
	/* Each posted once, outside the lock; x is gone once posted. */
	while (wake) {
		struct group_sync_waiter *x = wake;

		wake = x->next;
		sem_post(&x->wake);
	}
	if (next_leader)
		sem_post(&next_leader->wake);
}

int group_sync_wait(struct group_sync *g, unsigned long ticket, int fd,
                    int (*sync)(int fd))
{
	struct group_sync_waiter w;

	pthread_mutex_lock(&g->lock);
	if (ticket <= g->failed) {
		/* a failed fsync returned since the ticket: it may have
		 * consumed the error of this rename */
		int e = g->err;

		pthread_mutex_unlock(&g->lock);
		errno = e;
		return -1;
	}
	w.ticket = ticket;
	w.me = ++g->arrived;
	w.lead = 0;
	if (g->syncing) {
		sem_init(&w.wake, 0, 0);
		w.next = g->waiting;
		g->waiting = &w;
		pthread_mutex_unlock(&g->lock);
		while (sem_wait(&w.wake) < 0 && errno == EINTR)
			;
		sem_destroy(&w.wake);
		if (!w.lead)
			goto done;
		/* handed the next fsync: g->syncing was left set for it */
		pthread_mutex_lock(&g->lock);
	} else {
		g->syncing = 1;
	}
	run_sync(g, fd, sync, &w);
done:
	if (w.ret < 0)
		errno = w.err;
	return w.ret;
}
