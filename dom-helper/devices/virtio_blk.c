/* virtio-blk request processing.  A request is checked whole (layout,
 * sector range, alignment) before any I/O; a bad one completes with
 * IOERR or UNSUPP, never with a partial transfer. */
#include "config.h"
#include <errno.h>
#include <inttypes.h>
#include <libnbd.h>
#include <stdio.h>
#include <string.h>
#include "log.h"
#include "virtio_blk.h"

#define VIRTIO_ID_BLOCK		2
#define VIRTIO_BLK_F_SEG_MAX	(1ull << 2)
#define VIRTIO_BLK_F_RO		(1ull << 5)
#define VIRTIO_BLK_F_BLK_SIZE	(1ull << 6)
#define VIRTIO_BLK_F_FLUSH	(1ull << 9)

#define VIRTIO_BLK_T_IN		0
#define VIRTIO_BLK_T_OUT	1
#define VIRTIO_BLK_T_FLUSH	4
#define VIRTIO_BLK_T_GET_ID	8

#define VIRTIO_BLK_S_OK		0
#define VIRTIO_BLK_S_IOERR	1
#define VIRTIO_BLK_S_UNSUPP	2

#define SECTOR 512u

struct blk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

static struct vblk *vblk_of(struct virtio_dev *d)
{
	return d->priv;
}

static void config_read(struct virtio_dev *d, uint32_t off, void *buf,
		uint32_t len)
{
	struct vblk *b = vblk_of(d);
	uint8_t cfg[24] = { 0 };
	uint64_t sectors = b->size / SECTOR;
	uint32_t seg_max = VQ_MAX_SEGS - 2, blk = SECTOR;

	memcpy(cfg, &sectors, 8);
	memcpy(cfg + 12, &seg_max, 4);
	memcpy(cfg + 20, &blk, 4);
	memcpy(buf, cfg + off, len);
}

/* Reads or writes the data segments (all but the status byte). */
static int transfer(struct vblk *b, struct vq *q, const struct vq_elem *e,
		bool write, uint64_t off)
{
	if (write) {
		/* out[0] holds the header; data may follow in it. */
		size_t skip = sizeof(struct blk_hdr);

		for (int i = 0; i < e->nout; i++) {
			const struct vq_seg *s = &e->out[i];

			if (skip >= s->len) {
				skip -= s->len;
				continue;
			}
			if (nbd_pwrite(b->nbd, (char *)s->host + skip,
				       s->len - skip, off, 0) < 0)
				return -EIO;
			off += s->len - skip;
			skip = 0;
		}
		return 0;
	}
	for (int i = 0; i < e->nin; i++) {
		const struct vq_seg *s = &e->in[i];
		uint32_t len = i == e->nin - 1 ? s->len - 1 : s->len;

		if (len && nbd_pread(b->nbd, s->host, len, off, 0) < 0)
			return -EIO;
		mem_mark_dirty(q->mem, s->gpa, len);
		off += len;
	}
	return 0;
}

static uint8_t handle(struct vblk *b, struct vq *q, const struct vq_elem *e,
		uint32_t *written)
{
	struct blk_hdr h;
	uint64_t len, off;
	char id[20] = { 0 };

	*written = 1;
	if (vq_copy_from(e, 0, &h, sizeof(h)) != sizeof(h))
		return VIRTIO_BLK_S_IOERR;
	switch (h.type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		len = h.type == VIRTIO_BLK_T_IN ? e->in_len - 1 :
		      e->out_len - sizeof(h);
		if (len % SECTOR || h.sector > b->size / SECTOR ||
		    len > b->size - h.sector * SECTOR) {
			log_warn("%s: request beyond the disk or unaligned "
				 "(sector %" PRIu64 ", %" PRIu64 " bytes)",
				 b->desc, h.sector, len);
			return VIRTIO_BLK_S_IOERR;
		}
		if (h.type == VIRTIO_BLK_T_OUT && b->readonly)
			return VIRTIO_BLK_S_IOERR;
		off = h.sector * SECTOR;
		if (transfer(b, q, e, h.type == VIRTIO_BLK_T_OUT, off) < 0) {
			log_error("%s: %s", b->desc, nbd_get_error());
			return VIRTIO_BLK_S_IOERR;
		}
		if (h.type == VIRTIO_BLK_T_IN) {
			b->reads++;
			*written = (uint32_t)len + 1;
		} else {
			b->writes++;
		}
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_FLUSH:
		b->flushes++;
		if (b->can_flush && nbd_flush(b->nbd, 0) < 0) {
			log_error("%s: flush: %s", b->desc, nbd_get_error());
			return VIRTIO_BLK_S_IOERR;
		}
		return VIRTIO_BLK_S_OK;
	case VIRTIO_BLK_T_GET_ID:
		memcpy(id, b->serial, strnlen(b->serial, sizeof(id)));
		*written = (uint32_t)vq_copy_to(q, e, 0, id,
					e->in_len > 20 ? 20 : e->in_len - 1) + 1;
		return VIRTIO_BLK_S_OK;
	}
	return VIRTIO_BLK_S_UNSUPP;
}

static void queue_work(struct virtio_dev *d, int qi)
{
	struct vblk *b = vblk_of(d);
	struct vq *q = &d->q[qi];
	struct vq_elem e;
	int rc;

	while ((rc = vq_pop(q, &e)) > 0) {
		uint32_t written = 1;
		uint8_t status;

		/* The last writable byte is the status. */
		if (e.nin == 0 || e.out_len < sizeof(struct blk_hdr)) {
			status = VIRTIO_BLK_S_IOERR;
			written = 0;
		} else {
			status = handle(b, q, &e, &written);
		}
		if (status != VIRTIO_BLK_S_OK)
			b->errors++;
		if (e.nin) {
			const struct vq_seg *s = &e.in[e.nin - 1];

			*((uint8_t *)s->host + s->len - 1) = status;
			mem_mark_dirty(q->mem, s->gpa + s->len - 1, 1);
		}
		vq_push(q, &e, written);
	}
	if (rc < 0)
		virtio_dev_broken(d);
	vq_set_notify(q, true);
	virtio_dev_notify(d, qi);
}

static const struct virtio_ops vblk_ops_rw = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.nqueues = 1,
	.queue_max = 256,
	.features = VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE |
		    VIRTIO_BLK_F_FLUSH,
	.config_size = 24,
	.config_read = config_read,
	.queue_work = queue_work,
};

static const struct virtio_ops vblk_ops_ro = {
	.name = "virtio-blk",
	.device_id = VIRTIO_ID_BLOCK,
	.nqueues = 1,
	.queue_max = 256,
	.features = VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE |
		    VIRTIO_BLK_F_FLUSH | VIRTIO_BLK_F_RO,
	.config_size = 24,
	.config_read = config_read,
	.queue_work = queue_work,
};

static int connect_nbd(struct vblk *b, const struct domain_disk *disk)
{
	char port[8];

	b->nbd = nbd_create();
	if (!b->nbd)
		return -ENOMEM;
	if (nbd_set_export_name(b->nbd, disk->export_name) < 0)
		return -EINVAL;
	if (disk->socket[0]) {
		snprintf(b->desc, sizeof(b->desc), "nbd+unix:///%s?socket=%s",
			 disk->export_name, disk->socket);
		return nbd_connect_unix(b->nbd, disk->socket) < 0 ? -EIO : 0;
	}
	snprintf(port, sizeof(port), "%u", disk->port);
	snprintf(b->desc, sizeof(b->desc), "nbd://%s:%s/%s", disk->host, port,
		 disk->export_name);
	return nbd_connect_tcp(b->nbd, disk->host, port) < 0 ? -EIO : 0;
}

int vblk_init(struct vblk *b, struct vm *vm, int index, int disk_no,
		const struct domain_disk *disk, const char *serial, char *err,
		size_t errlen)
{
	int64_t size;
	int rc;

	memset(b, 0, sizeof(*b));
	snprintf(b->serial, sizeof(b->serial), "%s", serial);
	rc = connect_nbd(b, disk);
	if (rc < 0) {
		snprintf(err, errlen, "disk vd%c: cannot connect to %s: %s",
			 'a' + disk_no,
			 b->desc, b->nbd ? nbd_get_error() : "out of memory");
		return rc;
	}
	size = nbd_get_size(b->nbd);
	if (size < 0 || size % SECTOR) {
		snprintf(err, errlen, "disk vd%c: %s has a size that is not "
			 "whole 512-byte sectors", 'a' + disk_no, b->desc);
		return -EINVAL;
	}
	b->size = (uint64_t)size;
	b->readonly = disk->readonly || nbd_is_read_only(b->nbd) == 1;
	b->can_flush = nbd_can_flush(b->nbd) == 1;
	rc = virtio_dev_init(&b->dev, vm, index, b->readonly ? &vblk_ops_ro :
			     &vblk_ops_rw, b);
	if (rc < 0)
		snprintf(err, errlen, "disk vd%c: %s", 'a' + disk_no,
			 strerror(-rc));
	return rc;
}

void vblk_fini(struct vblk *b)
{
	virtio_dev_fini(&b->dev);
	if (b->nbd) {
		nbd_shutdown(b->nbd, 0);
		nbd_close(b->nbd);
	}
	b->nbd = NULL;
}
