/* Split virtqueue processing with every guest value checked. */
#include "config.h"
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include "log.h"
#include "vq.h"

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct vring_used_elem {
	uint32_t id;
	uint32_t len;
};

void vq_reset(struct vq *q)
{
	struct guest_mem *m = q->mem;

	memset(q, 0, sizeof(*q));
	q->mem = m;
}

static uint16_t *avail_field(struct vq *q, uint64_t off)
{
	return mem_ptr(q->mem, q->avail + off, 2);
}

static void *used_ptr(struct vq *q, uint64_t off, uint64_t len)
{
	return mem_ptr(q->mem, q->used + off, len);
}

static int broken(struct vq *q, const char *why)
{
	if (!q->broken)
		log_error("virtqueue: %s; the device needs a reset", why);
	q->broken = true;
	return -EPROTO;
}

/* Layout checks, once the queue is ready: the rings must lie in RAM. */
static bool rings_ok(struct vq *q)
{
	uint64_t n = q->size;

	return q->size && (q->size & (q->size - 1)) == 0 &&
	       q->size <= VQ_MAX_SIZE &&
	       mem_ptr(q->mem, q->desc, 16 * n) &&
	       mem_ptr(q->mem, q->avail, 6 + 2 * n) &&
	       mem_ptr(q->mem, q->used, 6 + 8 * n);
}

bool vq_has_work(struct vq *q)
{
	uint16_t *idx;

	if (!q->ready || q->broken || !rings_ok(q))
		return false;
	idx = avail_field(q, 2);
	return __atomic_load_n(idx, __ATOMIC_ACQUIRE) != q->last_avail;
}

static int add_seg(struct vq *q, struct vq_elem *e,
		const struct vring_desc *d)
{
	void *host = mem_ptr(q->mem, d->addr, d->len);
	struct vq_seg *s;

	if (!host || d->len == 0)
		return broken(q, "descriptor buffer outside guest RAM");
	if (d->flags & VRING_DESC_F_WRITE) {
		if (e->nin == VQ_MAX_SEGS)
			return broken(q, "too many segments");
		s = &e->in[e->nin++];
		e->in_len += d->len;
	} else {
		if (e->nin)
			return broken(q, "readable descriptor after a "
				      "writable one");
		if (e->nout == VQ_MAX_SEGS)
			return broken(q, "too many segments");
		s = &e->out[e->nout++];
		e->out_len += d->len;
	}
	s->gpa = d->addr;
	s->len = d->len;
	s->host = host;
	return 0;
}

int vq_pop(struct vq *q, struct vq_elem *e)
{
	uint16_t avail_idx, head, i;
	struct vring_desc d;
	unsigned steps = 0;
	int rc;

	if (!q->ready || q->broken)
		return 0;
	if (!rings_ok(q))
		return broken(q, "rings outside guest RAM or bad size");
	avail_idx = __atomic_load_n(avail_field(q, 2), __ATOMIC_ACQUIRE);
	if (avail_idx == q->last_avail)
		return 0;
	if ((uint16_t)(avail_idx - q->last_avail) > q->size)
		return broken(q, "avail index moved by more than the queue size");
	head = *avail_field(q, 4 + 2ull * (q->last_avail % q->size));
	if (head >= q->size)
		return broken(q, "head descriptor index out of range");
	memset(e, 0, offsetof(struct vq_elem, out));
	e->nout = e->nin = 0;
	e->out_len = e->in_len = 0;
	e->head = head;
	i = head;
	for (;;) {
		/* A chain longer than the table has a loop. */
		if (++steps > q->size)
			return broken(q, "descriptor chain loops");
		memcpy(&d, mem_ptr(q->mem, q->desc + 16ull * i, 16), 16);
		if (d.flags & VRING_DESC_F_INDIRECT)
			return broken(q, "indirect descriptors were not offered");
		rc = add_seg(q, e, &d);
		if (rc < 0)
			return rc;
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		if (d.next >= q->size)
			return broken(q, "next descriptor index out of range");
		i = d.next;
	}
	q->last_avail++;
	return 1;
}

int vq_push(struct vq *q, const struct vq_elem *e, uint32_t written)
{
	struct vring_used_elem ue = { e->head, written };
	uint64_t off = 4 + 8ull * (q->used_idx % q->size);
	void *slot = used_ptr(q, off, sizeof(ue));
	uint16_t *idx = used_ptr(q, 2, 2);

	if (!slot || !idx)
		return broken(q, "used ring outside guest RAM");
	memcpy(slot, &ue, sizeof(ue));
	mem_mark_dirty(q->mem, q->used + off, sizeof(ue));
	q->used_idx++;
	__atomic_store_n(idx, q->used_idx, __ATOMIC_RELEASE);
	mem_mark_dirty(q->mem, q->used + 2, 2);
	return 0;
}

bool vq_need_interrupt(struct vq *q)
{
	uint16_t old = q->signalled, now = q->used_idx, event;
	uint16_t *flags, *ue;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (old == now)
		return false;
	q->signalled = now;
	if (!q->event_idx) {
		flags = avail_field(q, 0);
		return !flags || !(*flags & VRING_AVAIL_F_NO_INTERRUPT);
	}
	ue = avail_field(q, 4 + 2ull * q->size);
	if (!ue)
		return true;
	event = *ue;
	/* The virtio spec's vring_need_event(). */
	return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

void vq_set_notify(struct vq *q, bool want)
{
	uint64_t off = q->event_idx ? 4 + 8ull * q->size : 0;
	uint16_t *p = used_ptr(q, off, 2);

	if (!p || !q->ready)
		return;
	if (q->event_idx)
		*p = q->last_avail;	/* avail_event: notify for the next */
	else
		*p = want ? 0 : VRING_USED_F_NO_NOTIFY;
	mem_mark_dirty(q->mem, q->used + off, 2);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

size_t vq_copy_from(const struct vq_elem *e, size_t off, void *buf,
		size_t len)
{
	size_t done = 0;

	for (int i = 0; i < e->nout && done < len; i++) {
		size_t n;

		if (off >= e->out[i].len) {
			off -= e->out[i].len;
			continue;
		}
		n = e->out[i].len - off;
		if (n > len - done)
			n = len - done;
		memcpy((char *)buf + done, (char *)e->out[i].host + off, n);
		done += n;
		off = 0;
	}
	return done;
}

size_t vq_copy_to(struct vq *q, const struct vq_elem *e, size_t off,
		const void *buf, size_t len)
{
	size_t done = 0;

	for (int i = 0; i < e->nin && done < len; i++) {
		size_t n;

		if (off >= e->in[i].len) {
			off -= e->in[i].len;
			continue;
		}
		n = e->in[i].len - off;
		if (n > len - done)
			n = len - done;
		memcpy((char *)e->in[i].host + off, (const char *)buf + done, n);
		mem_mark_dirty(q->mem, e->in[i].gpa + off, n);
		done += n;
		off = 0;
	}
	return done;
}
