/* Polled virtio-mmio (modern) driver core for colo-kvm guests: device
 * discovery from virtio_mmio.device= on the command line, feature
 * negotiation, and split virtqueues with notification suppression
 * (VIRTIO_RING_F_EVENT_IDX).  No interrupts: the guest polls, and idles
 * on the PV idle port. */
#ifndef COLO_GUEST_VIRTIO_H
#define COLO_GUEST_VIRTIO_H

#include "guest.h"

#define GVQ_SIZE	256

struct gvq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct gvq {
	uint16_t size;
	struct gvq_desc *desc;
	volatile uint16_t *avail;	/* flags, idx, ring[size], used_event */
	volatile uint8_t *used;		/* flags, idx, ring[size], avail_event */
	uint16_t free_head, num_free, last_used, avail_idx;
	void *cookie[GVQ_SIZE];
	uint16_t chain_len[GVQ_SIZE];
	volatile uint32_t *notify;
	int index;
	int event_idx;
	uint64_t kicks, kicks_saved;
};

struct gbuf {
	void *addr;
	uint32_t len;
};

struct vdev {
	volatile uint8_t *base;
	uint32_t device_id;
	uint32_t gsi;		/* its interrupt line, from the command line */
	uint64_t features;
	struct gvq q[2];
	int nq;
};

/* Allocates zeroed, aligned guest memory (never freed). */
void *galloc(size_t size, size_t align);

/* Finds the n-th virtio-mmio device of type device_id; 0 or -1. */
int vdev_find(struct vdev *d, uint32_t device_id, int n);
/* Resets, negotiates (want & offered; VERSION_1 is required), sets up
 * nq queues and sets DRIVER_OK.  Returns 0 or -1 with a message. */
int vdev_init(struct vdev *d, uint64_t want, int nq);
uint32_t vdev_config32(struct vdev *d, uint32_t off);
uint8_t vdev_config8(struct vdev *d, uint32_t off);
uint32_t vdev_status(struct vdev *d);

/* Queues a chain: out buffers (device reads), then in buffers (device
 * writes).  Returns 0, or -1 when the ring is full. */
int gvq_add(struct gvq *q, const struct gbuf *out, int nout,
		const struct gbuf *in, int nin, void *cookie);
/* Notifies the device, unless it said it does not need to be. */
void gvq_kick(struct gvq *q);
/* A completed chain's cookie and written length, or NULL. */
void *gvq_get(struct gvq *q, uint32_t *len);
int gvq_pending(const struct gvq *q);

#define VIRTIO_F_VERSION_1	(1ull << 32)
#define VIRTIO_RING_F_EVENT_IDX	(1ull << 29)

#endif
