/* The persistent dirty-block bitmap. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include "dirtymap.h"

int dirtymap_open(struct dirtymap *m, const char *path, uint64_t size,
		char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	m->nblocks = (size + DIRTY_BLOCK - 1) / DIRTY_BLOCK;
	m->bytes = (size_t)((m->nblocks + 7) / 8);
	m->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (m->fd < 0 || ftruncate(m->fd, (off_t)(m->bytes ? m->bytes : 1)) < 0) {
		snprintf(err, errlen, "dirty map %s: %s", path, strerror(errno));
		return -errno;
	}
	m->bits = mmap(NULL, m->bytes ? m->bytes : 1, PROT_READ | PROT_WRITE,
		       MAP_SHARED, m->fd, 0);
	if (m->bits == MAP_FAILED) {
		snprintf(err, errlen, "dirty map %s: %s", path, strerror(errno));
		m->bits = NULL;
		return -errno;
	}
	pthread_mutex_init(&m->lock, NULL);
	return 0;
}

void dirtymap_close(struct dirtymap *m)
{
	if (m->bits)
		munmap(m->bits, m->bytes ? m->bytes : 1);
	if (m->fd >= 0)
		close(m->fd);
	m->bits = NULL;
	m->fd = -1;
}

int dirtymap_mark(struct dirtymap *m, uint64_t off, uint64_t len)
{
	uint64_t first = off / DIRTY_BLOCK, last;
	long page = sysconf(_SC_PAGESIZE);
	size_t lo = SIZE_MAX, hi = 0;
	int rc = 0;

	if (len == 0 || first >= m->nblocks)
		return 0;
	last = (off + len - 1) / DIRTY_BLOCK;
	if (last >= m->nblocks)
		last = m->nblocks - 1;
	pthread_mutex_lock(&m->lock);
	for (uint64_t b = first; b <= last; b++) {
		uint8_t bit = (uint8_t)(1u << (b % 8));

		if (m->bits[b / 8] & bit)
			continue;
		m->bits[b / 8] |= bit;
		if (b / 8 < lo)
			lo = (size_t)(b / 8);
		hi = (size_t)(b / 8);
	}
	/* Only a bit that was clear costs a sync: a block dirtied again is
	 * already on record. */
	if (lo <= hi) {
		size_t start = lo / (size_t)page * (size_t)page;

		if (msync(m->bits + start, hi + 1 - start, MS_SYNC) < 0)
			rc = -errno;
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

uint64_t dirtymap_count(struct dirtymap *m)
{
	uint64_t n = 0;

	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->bytes; i++)
		n += (uint64_t)__builtin_popcount(m->bits[i]);
	pthread_mutex_unlock(&m->lock);
	return n;
}

bool dirtymap_test(struct dirtymap *m, uint64_t block)
{
	bool set;

	pthread_mutex_lock(&m->lock);
	set = block < m->nblocks && (m->bits[block / 8] & (1u << (block % 8)));
	pthread_mutex_unlock(&m->lock);
	return set;
}

void dirtymap_clear(struct dirtymap *m, uint64_t block)
{
	pthread_mutex_lock(&m->lock);
	if (block < m->nblocks)
		m->bits[block / 8] &= (uint8_t)~(1u << (block % 8));
	pthread_mutex_unlock(&m->lock);
}

void dirtymap_sync(struct dirtymap *m)
{
	if (m->bits)
		msync(m->bits, m->bytes ? m->bytes : 1, MS_SYNC);
}
