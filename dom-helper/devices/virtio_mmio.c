/* virtio-mmio v2 transport and the per-device worker.  Register accesses
 * arrive as MMIO exits on a vCPU thread (slow, set-up only); queue
 * notifications never do: they go through ioeventfds straight to the
 * worker, and interrupts back through an irqfd. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "guest_abi.h"
#include "log.h"
#include "virtio.h"
#include "../vm.h"

#define R_MAGIC			0x000
#define R_VERSION		0x004
#define R_DEVICE_ID		0x008
#define R_VENDOR_ID		0x00c
#define R_DEVICE_FEATURES	0x010
#define R_DEVICE_FEATURES_SEL	0x014
#define R_DRIVER_FEATURES	0x020
#define R_DRIVER_FEATURES_SEL	0x024
#define R_QUEUE_SEL		0x030
#define R_QUEUE_NUM_MAX		0x034
#define R_QUEUE_NUM		0x038
#define R_QUEUE_READY		0x044
#define R_QUEUE_NOTIFY		0x050
#define R_INTERRUPT_STATUS	0x060
#define R_INTERRUPT_ACK		0x064
#define R_STATUS		0x070
#define R_QUEUE_DESC_LOW	0x080
#define R_QUEUE_DESC_HIGH	0x084
#define R_QUEUE_DRIVER_LOW	0x090
#define R_QUEUE_DRIVER_HIGH	0x094
#define R_QUEUE_DEVICE_LOW	0x0a0
#define R_QUEUE_DEVICE_HIGH	0x0a4
#define R_CONFIG_GENERATION	0x0fc
#define R_CONFIG		0x100

#define VIRTIO_MAGIC		0x74726976	/* "virt" */
#define VIRTIO_VENDOR		0x4f4c4f43	/* "COLO" */

static uint64_t all_features(const struct virtio_dev *d)
{
	return d->ops->features | VIRTIO_F_VERSION_1 | VIRTIO_RING_F_EVENT_IDX;
}

bool virtio_dev_driver_ok(const struct virtio_dev *d)
{
	return (d->status & VIRTIO_STATUS_DRIVER_OK) &&
	       !(d->status & VIRTIO_STATUS_NEEDS_RESET);
}

/* Back to the power-on state; the worker must not be in a request. */
static void reset_locked(struct virtio_dev *d)
{
	d->status = 0;
	d->driver_features = 0;
	d->dev_feat_sel = d->drv_feat_sel = d->queue_sel = 0;
	d->isr = 0;
	for (int i = 0; i < d->ops->nqueues; i++)
		vq_reset(&d->q[i]);
	if (d->ops->reset)
		d->ops->reset(d);
}

static struct vq *cur_queue(struct virtio_dev *d)
{
	return d->queue_sel < (uint32_t)d->ops->nqueues ? &d->q[d->queue_sel] :
	       NULL;
}

static uint32_t read_reg(struct virtio_dev *d, uint64_t off)
{
	struct vq *q = cur_queue(d);

	switch (off) {
	case R_MAGIC: return VIRTIO_MAGIC;
	case R_VERSION: return 2;
	case R_DEVICE_ID: return d->ops->device_id;
	case R_VENDOR_ID: return VIRTIO_VENDOR;
	case R_DEVICE_FEATURES:
		return d->dev_feat_sel > 1 ? 0 :
		       (uint32_t)(all_features(d) >> (32 * d->dev_feat_sel));
	case R_QUEUE_NUM_MAX: return q ? d->ops->queue_max : 0;
	case R_QUEUE_READY: return q ? q->ready : 0;
	case R_INTERRUPT_STATUS: return d->isr;
	case R_STATUS: return d->status;
	case R_CONFIG_GENERATION: return d->config_gen;
	}
	return 0;
}

static void set_addr(uint64_t *a, bool high, uint32_t v)
{
	*a = high ? (*a & 0xffffffffu) | ((uint64_t)v << 32) :
	     (*a & ~0xffffffffull) | v;
}

static void write_status(struct virtio_dev *d, uint32_t v)
{
	if (v == 0) {
		reset_locked(d);
		return;
	}
	/* FEATURES_OK only sticks if we accept the driver's features. */
	if ((v & VIRTIO_STATUS_FEATURES_OK) &&
	    !(d->status & VIRTIO_STATUS_FEATURES_OK) &&
	    ((d->driver_features & ~all_features(d)) ||
	     !(d->driver_features & VIRTIO_F_VERSION_1)))
		v &= ~VIRTIO_STATUS_FEATURES_OK;
	d->status = v | (d->status & VIRTIO_STATUS_NEEDS_RESET);
	for (int i = 0; i < d->ops->nqueues; i++)
		d->q[i].event_idx = d->driver_features & VIRTIO_RING_F_EVENT_IDX;
}

static void write_reg(struct virtio_dev *d, uint64_t off, uint32_t v)
{
	struct vq *q = cur_queue(d);

	switch (off) {
	case R_DEVICE_FEATURES_SEL: d->dev_feat_sel = v; return;
	case R_DRIVER_FEATURES_SEL: d->drv_feat_sel = v; return;
	case R_DRIVER_FEATURES:
		if (d->drv_feat_sel < 2 &&
		    !(d->status & VIRTIO_STATUS_FEATURES_OK)) {
			uint64_t mask = 0xffffffffull << (32 * d->drv_feat_sel);

			d->driver_features = (d->driver_features & ~mask) |
					     ((uint64_t)v << (32 * d->drv_feat_sel));
		}
		return;
	case R_QUEUE_SEL: d->queue_sel = v; return;
	case R_INTERRUPT_ACK: d->isr &= ~v; return;
	case R_STATUS: write_status(d, v); return;
	case R_QUEUE_NOTIFY:
		/* Only when the ioeventfd did not catch it (bad value). */
		virtio_dev_wake(d);
		return;
	}
	if (!q || q->ready) {
		if (q && off == R_QUEUE_READY && v == 0)
			q->ready = false;
		return;		/* a live queue's layout is frozen */
	}
	switch (off) {
	case R_QUEUE_NUM:
		q->size = v <= d->ops->queue_max && v && !(v & (v - 1)) ?
			  (uint16_t)v : 0;
		return;
	case R_QUEUE_READY: q->ready = v == 1 && q->size; return;
	case R_QUEUE_DESC_LOW: set_addr(&q->desc, false, v); return;
	case R_QUEUE_DESC_HIGH: set_addr(&q->desc, true, v); return;
	case R_QUEUE_DRIVER_LOW: set_addr(&q->avail, false, v); return;
	case R_QUEUE_DRIVER_HIGH: set_addr(&q->avail, true, v); return;
	case R_QUEUE_DEVICE_LOW: set_addr(&q->used, false, v); return;
	case R_QUEUE_DEVICE_HIGH: set_addr(&q->used, true, v); return;
	}
}

static void mmio_io(void *opaque, uint64_t off, uint8_t *data, uint32_t len,
		bool is_write)
{
	struct virtio_dev *d = opaque;
	uint32_t v = 0;

	pthread_mutex_lock(&d->lock);
	if (off >= R_CONFIG) {
		uint32_t coff = (uint32_t)(off - R_CONFIG);

		if (!is_write) {
			memset(data, 0, len);
			if (coff < d->ops->config_size &&
			    len <= d->ops->config_size - coff)
				d->ops->config_read(d, coff, data, len);
		}
	} else if (len == 4 && off % 4 == 0) {
		if (is_write) {
			memcpy(&v, data, 4);
			write_reg(d, off, v);
		} else {
			v = read_reg(d, off);
			memcpy(data, &v, 4);
		}
	} else if (!is_write) {
		memset(data, 0xff, len);	/* the spec allows only 32-bit */
	}
	pthread_mutex_unlock(&d->lock);
	if (is_write && off == R_QUEUE_READY)
		virtio_dev_wake(d);
}

void virtio_dev_wake(struct virtio_dev *d)
{
	uint64_t one = 1;

	if (write(d->wake_fd, &one, sizeof(one)) < 0)
		log_debug("%s: wake: %m", d->ops->name);
}

void virtio_dev_notify(struct virtio_dev *d, int q)
{
	uint64_t one = 1;

	if (!vq_need_interrupt(&d->q[q]))
		return;
	d->isr |= 1;
	d->interrupts++;
	if (write(d->irq_fd, &one, sizeof(one)) < 0)
		log_debug("%s: irqfd: %m", d->ops->name);
}

void virtio_dev_broken(struct virtio_dev *d)
{
	d->status |= VIRTIO_STATUS_NEEDS_RESET;
	d->config_gen++;
	log_error("%s at %#llx: the driver broke a virtqueue; device needs "
		  "reset", d->ops->name, (unsigned long long)d->base);
}

int virtio_dev_watch(struct virtio_dev *d, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };
	int slot = -1, op = EPOLL_CTL_ADD;

	/* The fd's own slot wins over a free one before it, which would
	 * add it to epoll a second time. */
	for (int i = 0; i < VIRTIO_MAX_FDS; i++) {
		if (d->fds[i] == fd) {
			slot = i;
			op = EPOLL_CTL_MOD;
			break;
		}
		if (d->fds[i] < 0 && slot < 0)
			slot = i;
	}
	if (slot < 0)
		return -ENOSPC;
	/* Called after every queue's work: most calls change nothing, and
	 * each epoll_ctl is a system call. */
	if (op == EPOLL_CTL_MOD && d->fd_events[slot] == events)
		return 0;
	if (epoll_ctl(d->epfd, op, fd, &ev) < 0)
		return -errno;
	d->fds[slot] = fd;
	d->fd_events[slot] = events;
	return 0;
}

void virtio_dev_unwatch(struct virtio_dev *d, int fd)
{
	for (int i = 0; i < VIRTIO_MAX_FDS; i++) {
		if (d->fds[i] != fd)
			continue;
		epoll_ctl(d->epfd, EPOLL_CTL_DEL, fd, NULL);
		d->fds[i] = -1;
	}
}

/* Parks between requests while a checkpoint or pause wants quiet. */
static void worker_park(struct virtio_dev *d)
{
	pthread_mutex_lock(&d->lock);
	if (d->quiesce_req && !d->quiesced && d->ops->quiesce)
		d->ops->quiesce(d);
	while (d->quiesce_req && !d->stop) {
		d->quiesced = true;
		pthread_cond_broadcast(&d->cond);
		pthread_cond_wait(&d->cond, &d->lock);
	}
	d->quiesced = false;
	pthread_mutex_unlock(&d->lock);
}

static void *worker(void *arg)
{
	struct virtio_dev *d = arg;
	char name[16];

	snprintf(name, sizeof(name), "virtio%d", d->index);
	pthread_setname_np(pthread_self(), name);
	while (!d->stop) {
		struct epoll_event ev[8];
		int n = epoll_wait(d->epfd, ev, 8, 1000);

		worker_park(d);
		if (d->stop)
			break;
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;
			uint64_t v;
			bool ours = fd == d->wake_fd;

			for (int k = 0; k < d->ops->nqueues; k++)
				ours = ours || fd == d->kick_fd[k];
			if (ours) {
				if (read(fd, &v, sizeof(v)) > 0)
					d->kicks++;
				continue;
			}
			pthread_mutex_lock(&d->lock);
			if (d->ops->fd_ready)
				d->ops->fd_ready(d, fd, ev[i].events);
			pthread_mutex_unlock(&d->lock);
		}
		/* Look at every queue: cheap, and no kick is ever lost. */
		pthread_mutex_lock(&d->lock);
		for (int k = 0; k < d->ops->nqueues; k++)
			if (virtio_dev_driver_ok(d) && d->q[k].ready)
				d->ops->queue_work(d, k);
		pthread_mutex_unlock(&d->lock);
	}
	return NULL;
}

static int add_ioeventfd(struct virtio_dev *d, int q)
{
	struct kvm_ioeventfd io = {
		.datamatch = (uint64_t)q,
		.addr = d->base + R_QUEUE_NOTIFY,
		.len = 4,
		.fd = d->kick_fd[q],
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};

	return ioctl(d->vm->vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

int virtio_dev_init(struct virtio_dev *d, struct vm *vm, int index,
		const struct virtio_ops *ops, void *priv)
{
	struct kvm_irqfd irqfd = { 0 };
	struct epoll_event ev = { .events = EPOLLIN };
	int rc;

	memset(d, 0, sizeof(*d));
	d->vm = vm;
	d->ops = ops;
	d->priv = priv;
	d->index = index;
	d->base = VIRTIO_MMIO_BASE + (uint64_t)index * VIRTIO_MMIO_SIZE;
	d->gsi = VIRTIO_MMIO_FIRST_GSI + (uint32_t)index;
	d->irq_fd = d->epfd = d->wake_fd = -1;
	for (int i = 0; i < VIRTIO_MAX_QUEUES; i++) {
		d->kick_fd[i] = -1;
		d->q[i].mem = &vm->mem;
	}
	for (int i = 0; i < VIRTIO_MAX_FDS; i++)
		d->fds[i] = -1;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	d->irq_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->epfd < 0 || d->wake_fd < 0 || d->irq_fd < 0)
		return -errno;
	ev.data.fd = d->wake_fd;
	epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->wake_fd, &ev);
	for (int q = 0; q < ops->nqueues; q++) {
		d->kick_fd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->kick_fd[q] < 0)
			return -errno;
		rc = add_ioeventfd(d, q);
		if (rc < 0)
			return rc;
		ev.data.fd = d->kick_fd[q];
		epoll_ctl(d->epfd, EPOLL_CTL_ADD, d->kick_fd[q], &ev);
	}
	irqfd.fd = (uint32_t)d->irq_fd;
	irqfd.gsi = d->gsi;
	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
		return -errno;
	return io_bus_add(&vm->mmio, d->base, VIRTIO_MMIO_SIZE, mmio_io, d);
}

int virtio_dev_start(struct virtio_dev *d)
{
	int rc = pthread_create(&d->thread, NULL, worker, d);

	if (rc == 0)
		d->thread_started = true;
	return -rc;
}

void virtio_dev_fini(struct virtio_dev *d)
{
	if (d->thread_started) {
		pthread_mutex_lock(&d->lock);
		d->stop = true;
		pthread_cond_broadcast(&d->cond);
		pthread_mutex_unlock(&d->lock);
		virtio_dev_wake(d);
		pthread_join(d->thread, NULL);
		d->thread_started = false;
	}
	for (int q = 0; q < VIRTIO_MAX_QUEUES; q++)
		if (d->kick_fd[q] >= 0)
			close(d->kick_fd[q]);
	if (d->irq_fd >= 0)
		close(d->irq_fd);
	if (d->wake_fd >= 0)
		close(d->wake_fd);
	if (d->epfd >= 0)
		close(d->epfd);
	d->irq_fd = d->wake_fd = d->epfd = -1;
}

void virtio_dev_cmdline(const struct virtio_dev *d, char *buf, size_t len)
{
	snprintf(buf, len, "virtio_mmio.device=%u@%#llx:%u", VIRTIO_MMIO_SIZE,
		 (unsigned long long)d->base, d->gsi);
}

void virtio_dev_quiesce(struct virtio_dev *d)
{
	if (!d->thread_started)
		return;
	pthread_mutex_lock(&d->lock);
	d->quiesce_req = true;
	pthread_mutex_unlock(&d->lock);
	virtio_dev_wake(d);
	pthread_mutex_lock(&d->lock);
	while (!d->quiesced && !d->stop)
		pthread_cond_wait(&d->cond, &d->lock);
	pthread_mutex_unlock(&d->lock);
}

void virtio_dev_unquiesce(struct virtio_dev *d)
{
	pthread_mutex_lock(&d->lock);
	d->quiesce_req = false;
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	virtio_dev_wake(d);
}

/* Transport state, then the device's own. */
struct virtio_state {
	uint32_t status, dev_feat_sel, drv_feat_sel, queue_sel;
	uint64_t driver_features;
	uint32_t isr, config_gen;
	struct {
		uint64_t desc, avail, used;
		uint16_t size, last_avail, used_idx, signalled;
		uint8_t ready, broken, pad[6];
	} q[VIRTIO_MAX_QUEUES];
};

enum { VS_TRANSPORT = 1, VS_DEVICE = 2 };

int virtio_dev_save(struct virtio_dev *d, struct tlv_buf *out)
{
	struct virtio_state s;
	struct tlv_buf dev;
	int rc;

	memset(&s, 0, sizeof(s));
	s.status = d->status;
	s.dev_feat_sel = d->dev_feat_sel;
	s.drv_feat_sel = d->drv_feat_sel;
	s.queue_sel = d->queue_sel;
	s.driver_features = d->driver_features;
	s.isr = d->isr;
	s.config_gen = d->config_gen;
	for (int i = 0; i < d->ops->nqueues; i++) {
		s.q[i].desc = d->q[i].desc;
		s.q[i].avail = d->q[i].avail;
		s.q[i].used = d->q[i].used;
		s.q[i].size = d->q[i].size;
		s.q[i].last_avail = d->q[i].last_avail;
		s.q[i].used_idx = d->q[i].used_idx;
		s.q[i].signalled = d->q[i].signalled;
		s.q[i].ready = d->q[i].ready;
		s.q[i].broken = d->q[i].broken;
	}
	tlv_buf_init(&dev);
	rc = tlv_put(&dev, VS_TRANSPORT, &s, sizeof(s));
	if (rc == 0 && d->ops->save) {
		struct tlv_buf ds;

		tlv_buf_init(&ds);
		rc = d->ops->save(d, &ds);
		if (rc == 0)
			rc = tlv_put(&dev, VS_DEVICE, ds.data, ds.len);
		tlv_buf_fini(&ds);
	}
	if (rc == 0)
		rc = tlv_put(out, 16 + (uint32_t)d->index, dev.data, dev.len);
	tlv_buf_fini(&dev);
	return rc;
}

int virtio_dev_load(struct virtio_dev *d, const uint8_t *p, uint32_t len,
		char *err, size_t errlen)
{
	const struct virtio_state *s = NULL;
	const uint8_t *dp = NULL, *sec;
	uint32_t dlen = 0, tag, slen;
	struct tlv_iter it;
	int rc;

	tlv_iter_init(&it, p, len);
	while ((rc = tlv_next(&it, &tag, &sec, &slen)) > 0) {
		if (tag == VS_TRANSPORT && slen == sizeof(*s))
			s = (const void *)sec;
		else if (tag == VS_DEVICE)
			dp = sec, dlen = slen;
	}
	if (rc < 0 || !s) {
		snprintf(err, errlen, "%s: malformed device state",
			 d->ops->name);
		return -EPROTO;
	}
	for (int i = 0; i < d->ops->nqueues; i++)
		if (s->q[i].size > d->ops->queue_max ||
		    (s->q[i].size & (s->q[i].size - 1))) {
			snprintf(err, errlen, "%s: bad queue size", d->ops->name);
			return -EPROTO;
		}
	pthread_mutex_lock(&d->lock);
	d->status = s->status;
	d->dev_feat_sel = s->dev_feat_sel;
	d->drv_feat_sel = s->drv_feat_sel;
	d->queue_sel = s->queue_sel;
	d->driver_features = s->driver_features;
	d->isr = s->isr;
	d->config_gen = s->config_gen;
	for (int i = 0; i < d->ops->nqueues; i++) {
		struct vq *q = &d->q[i];

		q->desc = s->q[i].desc;
		q->avail = s->q[i].avail;
		q->used = s->q[i].used;
		q->size = s->q[i].size;
		q->last_avail = s->q[i].last_avail;
		q->used_idx = s->q[i].used_idx;
		q->signalled = s->q[i].signalled;
		q->ready = s->q[i].ready;
		q->broken = s->q[i].broken;
		q->event_idx = d->driver_features & VIRTIO_RING_F_EVENT_IDX;
	}
	rc = 0;
	if (d->ops->load)
		rc = d->ops->load(d, dp, dlen);
	pthread_mutex_unlock(&d->lock);
	if (rc < 0)
		snprintf(err, errlen, "%s: bad device state", d->ops->name);
	virtio_dev_wake(d);
	return rc;
}
