/* dir_sync.c - a group_sync per directory in use, found by device and
 * inode number, freed when its last ticket is given back; see dir_sync.h */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dir_sync.h"
#include "group_sync.h"

struct group {
	struct group *next;
	dev_t dev;
	ino_t ino;
	unsigned users;               /* tickets not yet given back */
	struct group_sync sync;
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
		group_sync_init(&g->sync);
		g->next = ds_groups;
		ds_groups = g;
	}
	g->users++;
	return g;
}

/* leave - a ticket of g given back; the last one frees the group (no
 * thread is in group_sync_wait for it then: each holds a ticket) */
static void leave(struct group *g)
{
	struct group **pp;

	pthread_mutex_lock(&ds_lock);
	if (--g->users == 0) {
		for (pp = &ds_groups; *pp != g; pp = &(*pp)->next)
			;
		*pp = g->next;
		group_sync_destroy(&g->sync);
		free(g);
	}
	pthread_mutex_unlock(&ds_lock);
}

void dir_sync_enter(int fd, struct dir_sync_ticket *t)
{
	struct stat sb;
	struct group *g = NULL;

	if (fstat(fd, &sb) == 0) {      /* no I/O under ds_lock */
		pthread_mutex_lock(&ds_lock);
		g = join(sb.st_dev, sb.st_ino);
		pthread_mutex_unlock(&ds_lock);
	}
	if (g != NULL)
		t->seq = group_sync_enter(&g->sync);
	t->group = g;
}

void dir_sync_leave(struct dir_sync_ticket *t)
{
	if (t->group != NULL)
		leave(t->group);
	t->group = NULL;
}

int dir_sync_wait(int fd, struct dir_sync_ticket *t)
{
	struct group *g = t->group;
	int (*sync)(int);
	int r, e;

	t->group = NULL;
	pthread_mutex_lock(&ds_lock);
	sync = ds_sync;
	pthread_mutex_unlock(&ds_lock);
	if (g == NULL)
		return sync(fd);
	r = group_sync_wait(&g->sync, t->seq, fd, sync);
	e = errno;
	leave(g);
	errno = e;
	return r;
}
