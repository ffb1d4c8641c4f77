/* virtio-mmio (version 2, "modern") transport and the device framework:
 * register file, feature negotiation, queue set-up, queue notifications
 * through KVM ioeventfd and interrupts through irqfd, and a worker thread
 * per device that does the work and can be quiesced for checkpoints. */
#ifndef DH_VIRTIO_H
#define DH_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "tlv.h"
#include "vq.h"

struct vm;
struct virtio_dev;

#define VIRTIO_MAX_QUEUES	4
#define VIRTIO_MAX_FDS		4

#define VIRTIO_F_VERSION_1	(1ull << 32)
#define VIRTIO_RING_F_EVENT_IDX	(1ull << 29)

#define VIRTIO_STATUS_ACK		1
#define VIRTIO_STATUS_DRIVER		2
#define VIRTIO_STATUS_DRIVER_OK		4
#define VIRTIO_STATUS_FEATURES_OK	8
#define VIRTIO_STATUS_NEEDS_RESET	0x40
#define VIRTIO_STATUS_FAILED		0x80

struct virtio_ops {
	const char *name;
	uint32_t device_id;
	int nqueues;
	uint16_t queue_max;
	uint64_t features;		/* beyond VERSION_1 and EVENT_IDX */
	uint32_t config_size;
	void (*config_read)(struct virtio_dev *d, uint32_t off, void *buf,
			    uint32_t len);
	/* Worker thread: queue q was kicked (or may have work). */
	void (*queue_work)(struct virtio_dev *d, int q);
	/* Worker thread: a backend fd is readable or writable. */
	void (*fd_ready)(struct virtio_dev *d, int fd, uint32_t events);
	/* Worker thread, before it parks for a pause: finish the work
	 * that belongs to the epoch being closed.  Optional. */
	void (*quiesce)(struct virtio_dev *d);
	/* Driver reset: drop in-flight state. */
	void (*reset)(struct virtio_dev *d);
	/* Device-specific state for checkpoints. */
	int (*save)(struct virtio_dev *d, struct tlv_buf *out);
	int (*load)(struct virtio_dev *d, const uint8_t *p, uint32_t len);
};

struct virtio_dev {
	struct vm *vm;
	const struct virtio_ops *ops;
	void *priv;
	int index;
	uint64_t base;
	uint32_t gsi;
	pthread_mutex_t lock;

	/* Registers. */
	uint32_t status;
	uint32_t dev_feat_sel, drv_feat_sel, queue_sel;
	uint64_t driver_features;
	uint32_t isr;
	uint32_t config_gen;
	struct vq q[VIRTIO_MAX_QUEUES];

	int kick_fd[VIRTIO_MAX_QUEUES];
	int irq_fd;

	/* The worker. */
	pthread_t thread;
	bool thread_started;
	int epfd;
	int wake_fd;
	pthread_cond_t cond;
	bool quiesce_req, quiesced, stop;
	int fds[VIRTIO_MAX_FDS];
	uint32_t fd_events[VIRTIO_MAX_FDS];
	uint64_t interrupts, kicks;
};

/* Window n of the virtio-mmio area: base 0xd0000000 + n * 0x200, GSI 5+n. */
int virtio_dev_init(struct virtio_dev *d, struct vm *vm, int index,
		const struct virtio_ops *ops, void *priv);
int virtio_dev_start(struct virtio_dev *d);
void virtio_dev_fini(struct virtio_dev *d);

/* The "virtio_mmio.device=512@0x...:N" word for the guest command line. */
void virtio_dev_cmdline(const struct virtio_dev *d, char *buf, size_t len);

/* For devices: watch a backend fd in the worker (EPOLLIN/EPOLLOUT). */
int virtio_dev_watch(struct virtio_dev *d, int fd, uint32_t events);
void virtio_dev_unwatch(struct virtio_dev *d, int fd);
/* Raises the used-buffer interrupt if the driver wants one. */
void virtio_dev_notify(struct virtio_dev *d, int q);
/* The device found the driver's rings broken. */
void virtio_dev_broken(struct virtio_dev *d);
/* Wakes the worker to look at queue work (from another thread). */
void virtio_dev_wake(struct virtio_dev *d);
bool virtio_dev_driver_ok(const struct virtio_dev *d);

/* Checkpoint support: stop the worker between requests / let it go. */
void virtio_dev_quiesce(struct virtio_dev *d);
void virtio_dev_unquiesce(struct virtio_dev *d);
int virtio_dev_save(struct virtio_dev *d, struct tlv_buf *out);
int virtio_dev_load(struct virtio_dev *d, const uint8_t *p, uint32_t len,
		char *err, size_t errlen);

#endif
