/* dir_sync.c - groups of waiters per directory, each with a count of
 * arrivals and the highest arrival a finished fsync covers; see dir_sync.h */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dir_sync.h"

struct group {
	struct group *next;
	dev_t dev;
	ino_t ino;
	unsigned users;               /* threads in dir_sync_wait for it */
	int syncing;                  /* an fsync runs for it */
	unsigned long arrived;        /* waiters so far, numbered 1.. */
	unsigned long covered;        /* 1..covered: an fsync succeeded after */
	unsigned long failed;         /* 1..failed: told fsync failed */
	int err;                      /* that fsync's errno */
	pthread_cond_t done;          /* an fsync of it ended */
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
		pthread_cond_init(&g->done, NULL);
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
	pthread_cond_destroy(&g->done);
	free(g);
}

/* dir_sync_wait - wait for (or run) an fsync that starts after now */
int dir_sync_wait(int fd)
{
	struct stat sb;
	struct group *g;
	unsigned long me, upto;
	int (*sync)(int);
	int e, ret;

	if (fstat(fd, &sb) < 0)
		return -1;
	pthread_mutex_lock(&ds_lock);
	if ((g = join(sb.st_dev, sb.st_ino)) == NULL) {
		sync = ds_sync;
		pthread_mutex_unlock(&ds_lock);
		return sync(fd);
	}
	me = ++g->arrived;
	for (;;) {
		if (me <= g->failed) {
			errno = g->err;
			ret = -1;
			break;
		}
		if (me <= g->covered) {
			ret = 0;
			break;
		}
		if (g->syncing) {
			pthread_cond_wait(&g->done, &ds_lock);
			continue;
		}
		/* Nobody syncs: this thread does, for all who arrived so far
		 * (their renames are done: they came here after them). */
		g->syncing = 1;
		upto = g->arrived;
		sync = ds_sync;
		pthread_mutex_unlock(&ds_lock);
		e = sync(fd) < 0 ? errno : 0;
		pthread_mutex_lock(&ds_lock);
		g->syncing = 0;
		if (e == 0) {
			if (upto > g->covered)
				g->covered = upto;
		} else {
			g->failed = g->arrived;
			g->err = e;
		}
		pthread_cond_broadcast(&g->done);
	}
	leave(g);
	pthread_mutex_unlock(&ds_lock);
	return ret;
}
