/* durable_dirs.c - a set of (device, inode, birth time), open
 * addressing with linear probing, grown at half full; see durable_dirs.h */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "durable_dirs.h"

struct dd_key {
	struct durable_dir id;
	int used;
};

/* The set, process-wide: every access holds dd_lock. */
static pthread_mutex_t dd_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dd_key *dd_slots;
static size_t dd_cap, dd_count;

/* durable_dirs_same - one directory? */
int durable_dirs_same(const struct durable_dir *a, const struct durable_dir *b)
{
	return a->dev == b->dev && a->ino == b->ino && a->btime_sec == b->btime_sec &&
	       a->btime_nsec == b->btime_nsec;
}

/* slot_of - where id is, or the empty slot where it would go */
static size_t slot_of(const struct dd_key *slots, size_t cap, const struct durable_dir *id)
{
	uint64_t h = ((uint64_t)id->ino * 0x9E3779B97F4A7C15ull) ^ (uint64_t)id->dev;
	size_t i = (size_t)(h ^ (h >> 29)) & (cap - 1);

	while (slots[i].used && !durable_dirs_same(&slots[i].id, id))
		i = (i + 1) & (cap - 1);
	return i;
}

/* id_from - the identity in sx; -1 when sx lacks a part of it */
static int id_from(const struct statx *sx, struct durable_dir *id)
{
	if (!(sx->stx_mask & STATX_INO) || !(sx->stx_mask & STATX_BTIME))
		return -1;
	id->dev = makedev(sx->stx_dev_major, sx->stx_dev_minor);
	id->ino = sx->stx_ino;
	id->btime_sec = sx->stx_btime.tv_sec;
	id->btime_nsec = sx->stx_btime.tv_nsec;
	return 0;
}

/* durable_dirs_id - statx: device, inode and birth time */
int durable_dirs_id(int fd, struct durable_dir *id)
{
	struct statx sx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_INO | STATX_BTIME, &sx) < 0)
		return -1;
	return id_from(&sx, id);
}

/* durable_dirs_id_at - statx of a name, not followed: a directory's */
int durable_dirs_id_at(int dirfd, const char *name, struct durable_dir *id)
{
	unsigned want = STATX_TYPE | STATX_INO | STATX_BTIME;
	struct statx sx;

	if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW, want, &sx) < 0 ||
	    !(sx.stx_mask & STATX_TYPE) || !S_ISDIR(sx.stx_mode))
		return -1;
	return id_from(&sx, id);
}

/* grow - double the table (64 slots at first); -1 when out of memory */
static int grow(void)
{
	size_t cap = dd_cap ? dd_cap * 2 : 64, i;
	struct dd_key *slots = calloc(cap, sizeof *slots);

	if (slots == NULL)
		return -1;
	for (i = 0; i < dd_cap; i++)
		if (dd_slots[i].used)
			slots[slot_of(slots, cap, &dd_slots[i].id)] = dd_slots[i];
	free(dd_slots);
	dd_slots = slots;
	dd_cap = cap;
	return 0;
}

/* durable_dirs_known - is id's directory in the set? */
int durable_dirs_known(const struct durable_dir *id)
{
	int known = 0;

	pthread_mutex_lock(&dd_lock);
	if (dd_cap > 0)
		known = dd_slots[slot_of(dd_slots, dd_cap, id)].used;
	pthread_mutex_unlock(&dd_lock);
	return known;
}

/* durable_dirs_note - put id's directory in the set (unless it is full,
 * or memory is short: then it is simply not known, see the header) */
void durable_dirs_note(const struct durable_dir *id)
{
	size_t i;

	pthread_mutex_lock(&dd_lock);
	if (dd_count < DURABLE_DIRS_MAX &&
	    (2 * (dd_count + 1) <= dd_cap || grow() == 0)) {
		i = slot_of(dd_slots, dd_cap, id);
		if (!dd_slots[i].used) {
			dd_slots[i] = (struct dd_key){ *id, 1 };
			dd_count++;
		}
	}
	pthread_mutex_unlock(&dd_lock);
}
