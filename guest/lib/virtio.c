/* The guest side of virtio-mmio and split virtqueues. */
#include "virtio.h"

#define R_MAGIC			0x000
#define R_VERSION		0x004
#define R_DEVICE_ID		0x008
#define R_DEVICE_FEATURES	0x010
#define R_DEVICE_FEATURES_SEL	0x014
#define R_DRIVER_FEATURES	0x020
#define R_DRIVER_FEATURES_SEL	0x024
#define R_QUEUE_SEL		0x030
#define R_QUEUE_NUM_MAX		0x034
#define R_QUEUE_NUM		0x038
#define R_QUEUE_READY		0x044
#define R_QUEUE_NOTIFY		0x050
#define R_STATUS		0x070
#define R_QUEUE_DESC_LOW	0x080
#define R_QUEUE_DESC_HIGH	0x084
#define R_QUEUE_DRIVER_LOW	0x090
#define R_QUEUE_DRIVER_HIGH	0x094
#define R_QUEUE_DEVICE_LOW	0x0a0
#define R_QUEUE_DEVICE_HIGH	0x0a4
#define R_CONFIG		0x100

#define S_ACK		1
#define S_DRIVER	2
#define S_DRIVER_OK	4
#define S_FEATURES_OK	8

#define DESC_F_NEXT	1
#define DESC_F_WRITE	2
#define USED_F_NO_NOTIFY 1

static uintptr_t heap_next;

void *galloc(size_t size, size_t align)
{
	uintptr_t p;

	if (!heap_next)
		heap_next = heap_start();
	p = (heap_next + align - 1) & ~(uintptr_t)(align - 1);
	if (p + size > ram_top())
		panic("galloc: out of memory (%lu bytes)", (uint64_t)size);
	heap_next = p + size;
	memset((void *)p, 0, size);
	return (void *)p;
}

static uint32_t rd(struct vdev *d, uint32_t off)
{
	return *(volatile uint32_t *)(d->base + off);
}

static void wr(struct vdev *d, uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(d->base + off) = v;
}

uint32_t vdev_config32(struct vdev *d, uint32_t off)
{
	return rd(d, R_CONFIG + off);
}

uint8_t vdev_config8(struct vdev *d, uint32_t off)
{
	return *(volatile uint8_t *)(d->base + R_CONFIG + off);
}

uint32_t vdev_status(struct vdev *d)
{
	return rd(d, R_STATUS);
}

int vdev_find(struct vdev *d, uint32_t device_id, int n)
{
	char word[64];

	for (int i = 0; cmdline_get_nth("virtio_mmio.device", i, word,
					sizeof(word)) > 0; i++) {
		const char *at = word, *end;
		uint64_t base;

		while (*at && *at != '@')
			at++;
		if (!*at)
			continue;
		base = parse_u64(at + 1, &end);
		memset(d, 0, sizeof(*d));
		d->base = (volatile uint8_t *)(uintptr_t)base;
		d->gsi = *end == ':' ? (uint32_t)parse_u64(end + 1, NULL) : 0;
		if (rd(d, R_MAGIC) != 0x74726976 || rd(d, R_VERSION) != 2)
			continue;
		d->device_id = rd(d, R_DEVICE_ID);
		if (d->device_id == device_id && n-- == 0)
			return 0;
	}
	return -1;
}

static int setup_queue(struct vdev *d, int i)
{
	struct gvq *q = &d->q[i];
	uint32_t max;
	uint64_t a;

	wr(d, R_QUEUE_SEL, (uint32_t)i);
	max = rd(d, R_QUEUE_NUM_MAX);
	if (max == 0)
		return -1;
	q->size = max < GVQ_SIZE ? (uint16_t)max : GVQ_SIZE;
	q->desc = galloc(16u * q->size, 16);
	q->avail = galloc(6u + 2u * q->size, 2);
	q->used = galloc(6u + 8u * q->size, 4);
	for (uint16_t k = 0; k < q->size; k++)
		q->desc[k].next = (uint16_t)(k + 1);
	q->num_free = q->size;
	q->notify = (volatile uint32_t *)(d->base + R_QUEUE_NOTIFY);
	q->index = i;
	q->event_idx = (d->features & VIRTIO_RING_F_EVENT_IDX) != 0;
	/* We poll: ask for no interrupts at all. */
	q->avail[0] = 1;
	wr(d, R_QUEUE_NUM, q->size);
	a = (uintptr_t)q->desc;
	wr(d, R_QUEUE_DESC_LOW, (uint32_t)a);
	wr(d, R_QUEUE_DESC_HIGH, (uint32_t)(a >> 32));
	a = (uintptr_t)q->avail;
	wr(d, R_QUEUE_DRIVER_LOW, (uint32_t)a);
	wr(d, R_QUEUE_DRIVER_HIGH, (uint32_t)(a >> 32));
	a = (uintptr_t)q->used;
	wr(d, R_QUEUE_DEVICE_LOW, (uint32_t)a);
	wr(d, R_QUEUE_DEVICE_HIGH, (uint32_t)(a >> 32));
	wr(d, R_QUEUE_READY, 1);
	return rd(d, R_QUEUE_READY) == 1 ? 0 : -1;
}

int vdev_init(struct vdev *d, uint64_t want, int nq)
{
	uint64_t offered;

	wr(d, R_STATUS, 0);
	wr(d, R_STATUS, S_ACK);
	wr(d, R_STATUS, S_ACK | S_DRIVER);
	wr(d, R_DEVICE_FEATURES_SEL, 0);
	offered = rd(d, R_DEVICE_FEATURES);
	wr(d, R_DEVICE_FEATURES_SEL, 1);
	offered |= (uint64_t)rd(d, R_DEVICE_FEATURES) << 32;
	if (!(offered & VIRTIO_F_VERSION_1)) {
		gprintf("virtio: device %u is not a modern device\n",
			d->device_id);
		return -1;
	}
	d->features = (want | VIRTIO_F_VERSION_1) & offered;
	wr(d, R_DRIVER_FEATURES_SEL, 0);
	wr(d, R_DRIVER_FEATURES, (uint32_t)d->features);
	wr(d, R_DRIVER_FEATURES_SEL, 1);
	wr(d, R_DRIVER_FEATURES, (uint32_t)(d->features >> 32));
	wr(d, R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
	if (!(rd(d, R_STATUS) & S_FEATURES_OK)) {
		gprintf("virtio: device %u refused our features\n", d->device_id);
		return -1;
	}
	for (int i = 0; i < nq; i++)
		if (setup_queue(d, i) < 0) {
			gprintf("virtio: queue %d of device %u failed\n", i,
				d->device_id);
			return -1;
		}
	d->nq = nq;
	wr(d, R_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
	return 0;
}

int gvq_add(struct gvq *q, const struct gbuf *out, int nout,
		const struct gbuf *in, int nin, void *cookie)
{
	int n = nout + nin;
	uint16_t head = q->free_head, i = head, last = head;

	if (n == 0 || n > q->num_free)
		return -1;
	for (int k = 0; k < n; k++) {
		const struct gbuf *b = k < nout ? &out[k] : &in[k - nout];

		q->desc[i].addr = (uintptr_t)b->addr;
		q->desc[i].len = b->len;
		q->desc[i].flags = (uint16_t)((k < nout ? 0 : DESC_F_WRITE) |
					      (k + 1 < n ? DESC_F_NEXT : 0));
		last = i;
		i = q->desc[i].next;
	}
	q->free_head = q->desc[last].next;
	q->num_free = (uint16_t)(q->num_free - n);
	q->cookie[head] = cookie;
	q->chain_len[head] = (uint16_t)n;
	q->avail[2 + q->avail_idx % q->size] = head;
	barrier();
	q->avail_idx++;
	mb();
	q->avail[1] = q->avail_idx;
	return 0;
}

void gvq_kick(struct gvq *q)
{
	uint16_t new_idx = q->avail_idx, old = (uint16_t)q->kicks_saved;
	int need;

	mb();
	if (q->event_idx) {
		uint16_t ev = *(volatile uint16_t *)(q->used + 4 + 8u * q->size);

		need = (uint16_t)(new_idx - ev - 1) < (uint16_t)(new_idx - old);
	} else {
		need = !(*(volatile uint16_t *)q->used & USED_F_NO_NOTIFY);
	}
	q->kicks_saved = new_idx;
	if (need) {
		*q->notify = (uint32_t)q->index;
		q->kicks++;
	}
}

void *gvq_get(struct gvq *q, uint32_t *len)
{
	uint16_t used_idx = *(volatile uint16_t *)(q->used + 2);
	volatile uint32_t *e;
	uint16_t head, n, i;
	void *cookie;

	if (used_idx == q->last_used)
		return NULL;
	barrier();
	e = (volatile uint32_t *)(q->used + 4 + 8u * (q->last_used % q->size));
	head = (uint16_t)e[0];
	if (len)
		*len = e[1];
	q->last_used++;
	if (head >= q->size)
		panic("virtio: device returned descriptor %u", head);
	cookie = q->cookie[head];
	n = q->chain_len[head];
	i = head;
	for (uint16_t k = 1; k < n; k++)
		i = q->desc[i].next;
	q->desc[i].next = q->free_head;
	q->free_head = head;
	q->num_free = (uint16_t)(q->num_free + n);
	return cookie;
}

int gvq_pending(const struct gvq *q)
{
	return q->size - q->num_free;
}
