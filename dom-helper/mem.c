/* Guest RAM and the device-model dirty bitmap. */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "mem.h"

int mem_init(struct guest_mem *m, uint64_t size)
{
	int rc;

	memset(m, 0, sizeof(*m));
	m->memfd = -1;
	if (size == 0 || size % GUEST_PAGE_SIZE || size > GUEST_RAM_MAX)
		return -EINVAL;
	m->memfd = memfd_create("colo-guest-ram", MFD_CLOEXEC);
	if (m->memfd < 0)
		return -errno;
	if (ftruncate(m->memfd, (off_t)size) < 0)
		goto fail;
	m->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       m->memfd, 0);
	if (m->base == MAP_FAILED) {
		m->base = NULL;
		goto fail;
	}
	/* Guest RAM is not worth a core dump, and THP would make the dirty
	 * log's 4 KiB granularity cost a 2 MiB fault. */
	madvise(m->base, size, MADV_DONTDUMP);
	madvise(m->base, size, MADV_NOHUGEPAGE);
	m->size = size;
	m->npages = size >> GUEST_PAGE_SHIFT;
	m->bitmap_words = (m->npages + 63) / 64;
	m->dm_dirty = calloc(m->bitmap_words, sizeof(uint64_t));
	if (!m->dm_dirty) {
		errno = ENOMEM;
		goto fail;
	}
	return 0;
fail:
	rc = -errno;
	mem_fini(m);
	return rc;
}

void mem_fini(struct guest_mem *m)
{
	if (m->base)
		munmap(m->base, m->size);
	if (m->memfd >= 0)
		close(m->memfd);
	free((void *)m->dm_dirty);
	memset(m, 0, sizeof(*m));
	m->memfd = -1;
}

void *mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	if (gpa >= m->size || len > m->size - gpa)
		return NULL;
	return m->base + gpa;
}

void mem_mark_dirty(struct guest_mem *m, uint64_t gpa, uint64_t len)
{
	uint64_t first, last;

	if (len == 0 || gpa >= m->size)
		return;
	if (len > m->size - gpa)
		len = m->size - gpa;
	first = gpa >> GUEST_PAGE_SHIFT;
	last = (gpa + len - 1) >> GUEST_PAGE_SHIFT;
	for (uint64_t p = first; p <= last; p++)
		atomic_fetch_or_explicit(&m->dm_dirty[p / 64], 1ull << (p % 64),
					 memory_order_relaxed);
}

void mem_take_dm_dirty(struct guest_mem *m, uint64_t *bitmap)
{
	for (size_t i = 0; i < m->bitmap_words; i++) {
		if (atomic_load_explicit(&m->dm_dirty[i], memory_order_relaxed))
			bitmap[i] |= atomic_exchange_explicit(&m->dm_dirty[i],
						0, memory_order_acq_rel);
	}
}

int mem_read(const struct guest_mem *m, uint64_t gpa, void *buf, size_t len)
{
	const void *p = mem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(buf, p, len);
	return 0;
}

int mem_write(struct guest_mem *m, uint64_t gpa, const void *buf, size_t len)
{
	void *p = mem_ptr(m, gpa, len);

	if (!p)
		return -EFAULT;
	memcpy(p, buf, len);
	mem_mark_dirty(m, gpa, len);
	return 0;
}
