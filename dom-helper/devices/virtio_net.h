/* virtio-net whose backend is a unix stream socket the helper listens on.
 * Frames cross it as a 4-byte big-endian length and the Ethernet frame,
 * as QEMU's socket netdev and colo-compare chardevs frame them, so
 * netproxy, a test peer or QEMU's filters can be the other end. */
#ifndef DH_VIRTIO_NET_H
#define DH_VIRTIO_NET_H

#include <stdint.h>
#include "virtio.h"

#define VNET_FRAME_MAX		65536
#define VNET_RX_PENDING		256	/* frames waiting for rx buffers */
#define VNET_TX_BUFFER		(1u << 20)

struct vnet_frame {
	uint32_t len;
	uint8_t *data;
};

struct vnet {
	struct virtio_dev dev;
	char path[108];
	uint8_t mac[6];
	int listen_fd;
	int conn_fd;
	/* Bytes read from the socket, not yet a whole frame. */
	uint8_t *in;
	size_t in_len;
	/* Frames read, waiting for the guest's rx buffers. */
	struct vnet_frame rx[VNET_RX_PENDING];
	unsigned rx_head, rx_count;
	/* Frames from the guest, waiting for the socket. */
	uint8_t *out;
	size_t out_len;
	uint64_t rx_frames, tx_frames, rx_dropped, tx_dropped, bad_frames;
	uint64_t tx_late;		/* output a pause could not drain */
	uint64_t stale_conns;		/* backlog connections closed unread */
	/* Frames read from the current connection: netproxy's input epochs
	 * count in these (colo-phase net-rx). */
	uint64_t conn_frames;
	/* After a load, until this time, output waits for the peer to
	 * reconnect instead of being dropped: it is the loaded state's. */
	uint64_t hold_until_us;
};

int vnet_init(struct vnet *n, struct vm *vm, int index, const uint8_t mac[6],
		const char *path, char *err, size_t errlen);
void vnet_fini(struct vnet *n);

#endif
