/* virtio-blk backed by an NBD export through libnbd (qemu-nbd, nbdkit,
 * colo-blkrep).  Reads and writes go straight between guest memory and
 * libnbd; FLUSH maps to NBD_CMD_FLUSH; read-only disks refuse writes. */
#ifndef DH_VIRTIO_BLK_H
#define DH_VIRTIO_BLK_H

#include <stdbool.h>
#include <stdint.h>
#include "domain.h"
#include "virtio.h"

struct nbd_handle;

struct vblk {
	struct virtio_dev dev;
	struct nbd_handle *nbd;
	char desc[700];		/* for messages: the NBD address */
	char serial[21];
	uint64_t size;
	bool readonly;
	bool can_flush;
	uint64_t reads, writes, flushes, errors;
};

int vblk_init(struct vblk *b, struct vm *vm, int index, int disk_no,
		const struct domain_disk *disk, const char *serial, char *err,
		size_t errlen);
void vblk_fini(struct vblk *b);

#endif
