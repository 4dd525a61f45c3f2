/* durable_dirs.c - a set of (device, inode) pairs, open addressing with
 * linear probing, grown at half full; see durable_dirs.h */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "durable_dirs.h"

struct dd_key {
	dev_t dev;
	ino_t ino;
	int used;
};

/* The set, process-wide: every access holds dd_lock. */
static pthread_mutex_t dd_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dd_key *dd_slots;
static size_t dd_cap, dd_count;

/* slot_of - where (dev, ino) is, or the empty slot where it would go */
static size_t slot_of(const struct dd_key *slots, size_t cap, dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)ino * 0x9E3779B97F4A7C15ull) ^ (uint64_t)dev;
	size_t i = (size_t)(h ^ (h >> 29)) & (cap - 1);

	while (slots[i].used && (slots[i].dev != dev || slots[i].ino != ino))
		i = (i + 1) & (cap - 1);
	return i;
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
			slots[slot_of(slots, cap, dd_slots[i].dev, dd_slots[i].ino)] = dd_slots[i];
	free(dd_slots);
	dd_slots = slots;
	dd_cap = cap;
	return 0;
}

/* durable_dirs_known - is st's directory in the set? */
int durable_dirs_known(const struct stat *st)
{
	int known = 0;

	pthread_mutex_lock(&dd_lock);
	if (dd_cap > 0)
		known = dd_slots[slot_of(dd_slots, dd_cap, st->st_dev, st->st_ino)].used;
	pthread_mutex_unlock(&dd_lock);
	return known;
}

/* durable_dirs_note - put st's directory in the set (unless it is full,
 * or memory is short: then it is simply not known, see the header) */
void durable_dirs_note(const struct stat *st)
{
	size_t i;

	pthread_mutex_lock(&dd_lock);
	if (dd_count < DURABLE_DIRS_MAX &&
	    (2 * (dd_count + 1) <= dd_cap || grow() == 0)) {
		i = slot_of(dd_slots, dd_cap, st->st_dev, st->st_ino);
		if (!dd_slots[i].used) {
			dd_slots[i] = (struct dd_key){ st->st_dev, st->st_ino, 1 };
			dd_count++;
		}
	}
	pthread_mutex_unlock(&dd_lock);
}
