/* Dirty page tracking: the KVM bitmap or ring, plus the device-model
 * bitmap, behind one transactional harvest. */
#include "config.h"
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "dirty.h"
#include "log.h"
#include "vm.h"

const char *dirty_mode_name(enum dirty_mode m)
{
	return m == DIRTY_MODE_RING ? "ring" : "bitmap";
}

int dirty_mode_parse(const char *s, enum dirty_mode *m)
{
	if (strcmp(s, "bitmap") == 0)
		*m = DIRTY_MODE_BITMAP;
	else if (strcmp(s, "ring") == 0)
		*m = DIRTY_MODE_RING;
	else
		return -EINVAL;
	return 0;
}

int dirty_init(struct vm *vm, enum dirty_mode mode)
{
	struct dirty_log *d = &vm->dirty;
	struct kvm_enable_cap cap = { 0 };

	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	d->mode = mode;
	d->words = vm->mem.bitmap_words;
	d->pending = calloc(d->words, sizeof(uint64_t));
	d->scratch = calloc(d->words, sizeof(uint64_t));
	d->txn = calloc(d->words, sizeof(uint64_t));
	if (!d->pending || !d->scratch || !d->txn)
		return -ENOMEM;
	if (mode == DIRTY_MODE_RING) {
		int acq = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION,
				KVM_CAP_DIRTY_LOG_RING_ACQ_REL) > 0;

		d->ring_entries = DIRTY_RING_ENTRIES;
		cap.cap = acq ? KVM_CAP_DIRTY_LOG_RING_ACQ_REL :
			  KVM_CAP_DIRTY_LOG_RING;
		cap.args[0] = d->ring_entries * sizeof(struct kvm_dirty_gfn);
		if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0)
			return -errno;
		return 0;
	}
	/* Manual protect: GET_DIRTY_LOG reads, CLEAR_DIRTY_LOG re-protects
	 * exactly the pages we took, so writes in between are not lost. */
	cap.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2;
	cap.args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE;
	if (ioctl(vm->vm_fd, KVM_ENABLE_CAP, &cap) < 0)
		return -errno;
	return 0;
}

int dirty_attach_vcpu(struct vm *vm, int vcpu_id, int vcpu_fd)
{
	struct dirty_log *d = &vm->dirty;
	size_t len = d->ring_entries * sizeof(struct kvm_dirty_gfn);
	void *p;

	if (d->mode != DIRTY_MODE_RING)
		return 0;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu_fd,
		 (off_t)KVM_DIRTY_LOG_PAGE_OFFSET * getpagesize());
	if (p == MAP_FAILED)
		return -errno;
	d->ring[vcpu_id] = p;
	if (vcpu_id >= d->nr_rings)
		d->nr_rings = vcpu_id + 1;
	return 0;
}

void dirty_fini(struct vm *vm)
{
	struct dirty_log *d = &vm->dirty;

	for (int i = 0; i < d->nr_rings; i++)
		if (d->ring[i])
			munmap(d->ring[i], d->ring_entries *
			       sizeof(struct kvm_dirty_gfn));
	free(d->pending);
	free(d->scratch);
	free(d->txn);
	d->pending = d->scratch = d->txn = NULL;
	d->nr_rings = 0;
}

static int set_slot_flags(struct vm *vm, uint32_t flags)
{
	struct kvm_userspace_memory_region r = {
		.slot = 0,
		.flags = flags,
		.guest_phys_addr = 0,
		.memory_size = vm->mem.size,
		.userspace_addr = (uintptr_t)vm->mem.base,
	};

	return ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0 ? -errno : 0;
}

/* Ring mode: collect every harvested entry into d->pending. */
static void drain_rings_locked(struct vm *vm)
{
	struct dirty_log *d = &vm->dirty;
	uint32_t mask = d->ring_entries - 1;
	bool any = false;

	for (int i = 0; i < d->nr_rings; i++) {
		struct kvm_dirty_gfn *ring = d->ring[i];

		if (!ring)
			continue;
		for (;;) {
			struct kvm_dirty_gfn *e = &ring[d->ring_next[i] & mask];
			uint32_t flags = __atomic_load_n(&e->flags,
							 __ATOMIC_ACQUIRE);

			if (!(flags & KVM_DIRTY_GFN_F_DIRTY))
				break;
			if (e->slot == 0 && e->offset < vm->mem.npages)
				d->pending[e->offset / 64] |=
					1ull << (e->offset % 64);
			__atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET,
					 __ATOMIC_RELEASE);
			d->ring_next[i]++;
			any = true;
		}
	}
	if (any && ioctl(vm->vm_fd, KVM_RESET_DIRTY_RINGS, 0) < 0)
		log_error("KVM_RESET_DIRTY_RINGS: %m");
}

/* Bitmap mode: get and re-protect, 64 pages at a time where dirty. */
static int take_bitmap_locked(struct vm *vm)
{
	struct dirty_log *d = &vm->dirty;
	struct kvm_dirty_log get = { .slot = 0, .dirty_bitmap = d->scratch };

	memset(d->scratch, 0, d->words * sizeof(uint64_t));
	if (ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &get) < 0)
		return -errno;
	for (size_t i = 0; i < d->words; i++) {
		size_t run;
		struct kvm_clear_dirty_log clr = { .slot = 0 };

		if (!d->scratch[i])
			continue;
		/* Clear whole runs of non-zero words in one ioctl. */
		for (run = i; run < d->words && d->scratch[run]; run++)
			d->pending[run] |= d->scratch[run];
		clr.first_page = i * 64;
		clr.num_pages = (uint32_t)((run - i) * 64);
		if (clr.first_page + clr.num_pages > vm->mem.npages)
			clr.num_pages = (uint32_t)(vm->mem.npages -
						   clr.first_page);
		clr.dirty_bitmap = &d->scratch[i];
		if (ioctl(vm->vm_fd, KVM_CLEAR_DIRTY_LOG, &clr) < 0)
			return -errno;
		i = run;
	}
	return 0;
}

int dirty_enable(struct vm *vm, bool on)
{
	struct dirty_log *d = &vm->dirty;
	int rc;

	pthread_mutex_lock(&d->lock);
	if (d->enabled == on) {
		pthread_mutex_unlock(&d->lock);
		return 0;
	}
	rc = set_slot_flags(vm, on ? KVM_MEM_LOG_DIRTY_PAGES : 0);
	if (rc == 0) {
		d->enabled = on;
		/* Everything counts as dirty until first sent. */
		memset(d->pending, on ? 0xff : 0, d->words * sizeof(uint64_t));
		if (on && vm->mem.npages % 64)
			d->pending[d->words - 1] =
				(1ull << (vm->mem.npages % 64)) - 1;
		d->in_txn = false;
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

int dirty_harvest(struct vm *vm, uint64_t *out)
{
	struct dirty_log *d = &vm->dirty;
	int rc = 0;

	pthread_mutex_lock(&d->lock);
	if (!d->enabled) {
		rc = -ENOTCONN;
		goto out;
	}
	if (d->mode == DIRTY_MODE_RING)
		drain_rings_locked(vm);
	else
		rc = take_bitmap_locked(vm);
	mem_take_dm_dirty(&vm->mem, d->pending);
	if (rc == 0) {
		memcpy(d->txn, d->pending, d->words * sizeof(uint64_t));
		for (size_t i = 0; i < d->words; i++)
			out[i] |= d->txn[i];
		d->in_txn = true;
	}
out:
	pthread_mutex_unlock(&d->lock);
	return rc;
}

void dirty_commit(struct vm *vm)
{
	struct dirty_log *d = &vm->dirty;

	/* Only what was handed out is done: bits a ring drain added since
	 * the harvest stay pending. */
	pthread_mutex_lock(&d->lock);
	if (d->in_txn)
		for (size_t i = 0; i < d->words; i++)
			d->pending[i] &= ~d->txn[i];
	d->in_txn = false;
	pthread_mutex_unlock(&d->lock);
}

void dirty_abort(struct vm *vm)
{
	pthread_mutex_lock(&vm->dirty.lock);
	vm->dirty.in_txn = false;	/* the bits stay pending */
	pthread_mutex_unlock(&vm->dirty.lock);
}

void dirty_ring_full(struct vm *vm)
{
	pthread_mutex_lock(&vm->dirty.lock);
	vm->dirty.ring_full_exits++;
	drain_rings_locked(vm);
	pthread_mutex_unlock(&vm->dirty.lock);
}

size_t dirty_count(const uint64_t *bitmap, size_t words)
{
	size_t n = 0;

	for (size_t i = 0; i < words; i++)
		n += (size_t)__builtin_popcountll(bitmap[i]);
	return n;
}
