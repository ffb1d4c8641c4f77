/* Split virtqueues (virtio 1.x), device side.  Everything the driver
 * wrote is untrusted: indices, descriptor chains and buffer addresses are
 * checked, and a bad chain puts the device into NEEDS_RESET instead of
 * crashing the helper.  Every byte the device writes to guest memory is
 * marked dirty for checkpoints. */
#ifndef DH_VQ_H
#define DH_VQ_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>
#include "../mem.h"

#define VQ_MAX_SIZE	1024
#define VQ_MAX_SEGS	64

#define VRING_DESC_F_NEXT	1
#define VRING_DESC_F_WRITE	2
#define VRING_DESC_F_INDIRECT	4
#define VRING_AVAIL_F_NO_INTERRUPT 1
#define VRING_USED_F_NO_NOTIFY	1

struct vq {
	struct guest_mem *mem;
	uint16_t size;		/* QueueNum */
	bool ready;
	bool event_idx;		/* VIRTIO_RING_F_EVENT_IDX negotiated */
	uint64_t desc, avail, used;	/* guest-physical */
	uint16_t last_avail;	/* next avail entry to take */
	uint16_t used_idx;	/* next used entry to fill */
	uint16_t signalled;	/* used_idx at the last interrupt */
	bool broken;
};

struct vq_seg {
	uint64_t gpa;
	uint32_t len;
	void *host;
};

/* One descriptor chain: readable segments, then writable ones. */
struct vq_elem {
	uint16_t head;
	int nout, nin;
	struct vq_seg out[VQ_MAX_SEGS];
	struct vq_seg in[VQ_MAX_SEGS];
	uint64_t out_len, in_len;
};

void vq_reset(struct vq *q);
/* 1 with a chain in e, 0 when none is waiting, -EPROTO for a malformed
 * ring or chain (q->broken is then set and the reason logged). */
int vq_pop(struct vq *q, struct vq_elem *e);
/* Returns chain e with written bytes written to the used ring. */
int vq_push(struct vq *q, const struct vq_elem *e, uint32_t written);
/* Whether the driver wants an interrupt for what was pushed since the
 * last one (honours NO_INTERRUPT and used_event). */
bool vq_need_interrupt(struct vq *q);
/* Tells the driver to notify for the next buffer (or not). */
void vq_set_notify(struct vq *q, bool want);
bool vq_has_work(struct vq *q);

/* Copies between a chain's segments and a flat buffer; writes into
 * guest memory are marked dirty.  Return the bytes copied. */
size_t vq_copy_from(const struct vq_elem *e, size_t off, void *buf,
		size_t len);
size_t vq_copy_to(struct vq *q, const struct vq_elem *e, size_t off,
		const void *buf, size_t len);

#endif
