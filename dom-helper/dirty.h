/* Dirty page tracking for checkpoints and live migration.  Two KVM
 * mechanisms are supported, chosen when the VM is created:
 *   bitmap: KVM_GET_DIRTY_LOG with MANUAL_DIRTY_LOG_PROTECT2 and
 *           KVM_CLEAR_DIRTY_LOG;
 *   ring:   the per-vCPU dirty ring, reset with KVM_RESET_DIRTY_RINGS.
 * Either way a harvest also takes the pages the device model wrote.
 *
 * A harvest is a transaction: the bits it returns stay pending until
 * dirty_commit(); if the caller fails to send them, dirty_abort() keeps
 * them so the next harvest returns them again.  No dirty bit is lost. */
#ifndef DH_DIRTY_H
#define DH_DIRTY_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;
struct kvm_dirty_gfn;

enum dirty_mode {
	DIRTY_MODE_BITMAP,
	DIRTY_MODE_RING,
};

#define DIRTY_RING_ENTRIES	65536	/* per vCPU: 1 MiB, the most KVM allows here */

struct dirty_log {
	enum dirty_mode mode;
	bool enabled;
	bool in_txn;
	size_t words;			/* of the page bitmaps */
	uint64_t *pending;		/* seen by KVM, not yet committed */
	uint64_t *txn;			/* what the open harvest returned */
	uint64_t *scratch;		/* KVM_GET_DIRTY_LOG target */
	pthread_mutex_t lock;
	/* ring mode */
	struct kvm_dirty_gfn *ring[32];
	uint32_t ring_next[32];
	uint32_t ring_entries;
	int nr_rings;
	uint64_t ring_full_exits;
};

const char *dirty_mode_name(enum dirty_mode m);
int dirty_mode_parse(const char *s, enum dirty_mode *m);

/* Before vCPUs exist (the ring must be enabled first). */
int dirty_init(struct vm *vm, enum dirty_mode mode);
/* After a vCPU is created: maps its ring. */
int dirty_attach_vcpu(struct vm *vm, int vcpu_id, int vcpu_fd);
void dirty_fini(struct vm *vm);

/* Turns KVM dirty logging on or off for guest RAM.  Turning it on marks
 * every page dirty once, so the first harvest returns all of RAM. */
int dirty_enable(struct vm *vm, bool on);

/* out |= every page dirtied since the last committed harvest.  out must
 * hold mem.npages bits.  Opens the transaction. */
int dirty_harvest(struct vm *vm, uint64_t *out);
void dirty_commit(struct vm *vm);
void dirty_abort(struct vm *vm);

/* Called by a vCPU on KVM_EXIT_DIRTY_RING_FULL: drains the rings into the
 * pending set so the vCPU can go on. */
void dirty_ring_full(struct vm *vm);

size_t dirty_count(const uint64_t *bitmap, size_t words);

#endif
