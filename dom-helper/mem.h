/* Guest RAM: one memfd mapped shared, so a checkpoint can copy it and a
 * crash dump can read it.  Also the dirty bitmap of pages the device model
 * wrote, which KVM's dirty log cannot see. */
#ifndef DH_MEM_H
#define DH_MEM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_PAGE_SHIFT	12
#define GUEST_PAGE_SIZE		(1u << GUEST_PAGE_SHIFT)
/* RAM lives below the virtio-mmio windows at 0xd0000000. */
#define GUEST_RAM_MAX		(3072ull << 20)

struct guest_mem {
	int memfd;
	uint8_t *base;
	uint64_t size;
	uint64_t npages;
	_Atomic uint64_t *dm_dirty;	/* one bit per page */
	size_t bitmap_words;
};

int mem_init(struct guest_mem *m, uint64_t size);
void mem_fini(struct guest_mem *m);

/* Host pointer for [gpa, gpa + len), or NULL if any of it is outside RAM
 * (overflow-safe: guest-controlled values go straight in). */
void *mem_ptr(const struct guest_mem *m, uint64_t gpa, uint64_t len);

/* Records that the device model wrote [gpa, gpa + len). */
void mem_mark_dirty(struct guest_mem *m, uint64_t gpa, uint64_t len);
/* Moves the device-model bits into bitmap (OR) and clears them. */
void mem_take_dm_dirty(struct guest_mem *m, uint64_t *bitmap);

/* Copies into and out of guest RAM with bounds checks; writes are marked
 * dirty.  Return 0 or -EFAULT. */
int mem_read(const struct guest_mem *m, uint64_t gpa, void *buf, size_t len);
int mem_write(struct guest_mem *m, uint64_t gpa, const void *buf, size_t len);

#endif
