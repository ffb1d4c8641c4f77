/* The primary's record of what the secondary missed: one bit per 64 KiB
 * block, in a file that is made durable before a write the bit covers is
 * acknowledged, so a crash of the primary cannot lose it. */
#ifndef COLO_BLKREP_DIRTYMAP_H
#define COLO_BLKREP_DIRTYMAP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DIRTY_BLOCK	(64u << 10)

struct dirtymap {
	pthread_mutex_t lock;
	int fd;
	uint8_t *bits;		/* mapped from the file */
	size_t bytes;
	uint64_t nblocks;
};

/* Opens or creates path for a disk of size bytes; an existing map (from
 * before a restart) is kept. */
int dirtymap_open(struct dirtymap *m, const char *path, uint64_t size,
		char *err, size_t errlen);
void dirtymap_close(struct dirtymap *m);
/* Marks [off, off + len) and makes the change durable; 0 or -errno. */
int dirtymap_mark(struct dirtymap *m, uint64_t off, uint64_t len);
uint64_t dirtymap_count(struct dirtymap *m);
bool dirtymap_test(struct dirtymap *m, uint64_t block);
/* Clears one block's bit; made durable lazily (dirtymap_sync), since a
 * bit that comes back after a crash only costs a copy. */
void dirtymap_clear(struct dirtymap *m, uint64_t block);
void dirtymap_sync(struct dirtymap *m);

#endif
