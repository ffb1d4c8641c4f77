/* virtio-net: queue 0 receives, queue 1 transmits.  The socket is
 * non-blocking with bounded buffers on both sides, so a slow peer slows
 * the guest (backpressure) instead of stalling the worker. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "log.h"
#include "util.h"
#include "virtio_net.h"
#include "../vm.h"

#define VIRTIO_ID_NET		1
#define VIRTIO_NET_F_MAC	(1ull << 5)
#define VIRTIO_NET_F_STATUS	(1ull << 16)
#define VIRTIO_NET_S_LINK_UP	1
#define VNET_HDR_LEN		12	/* virtio_net_hdr_v1 */
#define VNET_RECONNECT_US	2000000	/* a peer's reconnect after a load */
#define VNET_DRAIN_MS		1000	/* bound on the pause-time TX drain */
#define RXQ 0
#define TXQ 1

static struct vnet *vnet_of(struct virtio_dev *d)
{
	return d->priv;
}

static void config_read(struct virtio_dev *d, uint32_t off, void *buf,
		uint32_t len)
{
	struct vnet *n = vnet_of(d);
	uint8_t cfg[8] = { 0 };

	memcpy(cfg, n->mac, 6);
	cfg[6] = VIRTIO_NET_S_LINK_UP;
	memcpy(buf, cfg + off, len);
}

static void drop_conn(struct vnet *n, const char *why)
{
	if (n->conn_fd < 0)
		return;
	log_info("%s: peer %s", n->path, why);
	virtio_dev_unwatch(&n->dev, n->conn_fd);
	close(n->conn_fd);
	n->conn_fd = -1;
	n->in_len = 0;
	n->out_len = 0;
	n->conn_frames = 0;
}

static void watch_conn(struct vnet *n)
{
	uint32_t ev = 0;

	if (n->conn_fd < 0)
		return;
	if (n->rx_count < VNET_RX_PENDING)
		ev |= EPOLLIN;		/* room for more input */
	if (n->out_len)
		ev |= EPOLLOUT;
	virtio_dev_watch(&n->dev, n->conn_fd, ev | EPOLLRDHUP);
}

/* Splits n->in into frames; a bad length means the peer is not speaking
 * our framing, and the connection is dropped. */
static void parse_input(struct vnet *n)
{
	size_t off = 0;

	while (n->in_len - off >= 4 && n->rx_count < VNET_RX_PENDING) {
		uint32_t len = ((uint32_t)n->in[off] << 24) |
			       ((uint32_t)n->in[off + 1] << 16) |
			       ((uint32_t)n->in[off + 2] << 8) | n->in[off + 3];
		struct vnet_frame *f;

		if (len < 14 || len > VNET_FRAME_MAX) {
			n->bad_frames++;
			log_warn("%s: frame length %u from the peer is invalid",
				 n->path, len);
			drop_conn(n, "sent a bad frame length");
			return;
		}
		if (n->in_len - off - 4 < len)
			break;
		n->conn_frames++;
		f = &n->rx[(n->rx_head + n->rx_count) % VNET_RX_PENDING];
		f->data = malloc(len);
		if (!f->data) {
			n->rx_dropped++;
		} else {
			memcpy(f->data, n->in + off + 4, len);
			f->len = len;
			n->rx_count++;
		}
		off += 4 + len;
	}
	memmove(n->in, n->in + off, n->in_len - off);
	n->in_len -= off;
}

static void read_conn(struct vnet *n)
{
	while (n->conn_fd >= 0 && n->rx_count < VNET_RX_PENDING) {
		size_t room = 4 + VNET_FRAME_MAX - n->in_len;
		ssize_t r = read(n->conn_fd, n->in + n->in_len, room);

		if (r == 0) {
			drop_conn(n, "closed the connection");
			return;
		}
		if (r < 0) {
			if (errno != EAGAIN && errno != EINTR)
				drop_conn(n, "read failed");
			return;
		}
		n->in_len += (size_t)r;
		parse_input(n);
		/* A short read emptied the stream: another would only hear
		 * EAGAIN.  The epoll that follows sees anything new. */
		if ((size_t)r < room)
			return;
	}
}

static void flush_out(struct vnet *n)
{
	while (n->conn_fd >= 0 && n->out_len) {
		ssize_t w = send(n->conn_fd, n->out, n->out_len, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno != EAGAIN && errno != EINTR)
				drop_conn(n, "write failed");
			return;
		}
		memmove(n->out, n->out + w, n->out_len - (size_t)w);
		n->out_len -= (size_t)w;
	}
}

/* Delivers pending frames into the guest's receive buffers. */
static void rx_work(struct virtio_dev *d)
{
	struct vnet *n = vnet_of(d);
	static const uint8_t hdr[VNET_HDR_LEN] = { [10] = 1 };	/* 1 buffer */
	struct vq *q = &d->q[RXQ];
	struct vq_elem e;
	int rc = 0, delivered = 0;

	while (n->rx_count) {
		struct vnet_frame *f = &n->rx[n->rx_head];
		uint32_t w;

		rc = vq_pop(q, &e);
		if (rc <= 0)
			break;
		if (e.in_len < VNET_HDR_LEN + (uint64_t)f->len) {
			n->rx_dropped++;	/* a buffer too small for it */
			w = 0;
		} else {
			vq_copy_to(q, &e, 0, hdr, VNET_HDR_LEN);
			vq_copy_to(q, &e, VNET_HDR_LEN, f->data, f->len);
			w = VNET_HDR_LEN + f->len;
			n->rx_frames++;
		}
		vq_push(q, &e, w);
		delivered++;
		free(f->data);
		n->rx_head = (n->rx_head + 1) % VNET_RX_PENDING;
		n->rx_count--;
	}
	if (rc < 0)
		virtio_dev_broken(d);
	vq_set_notify(q, true);
	virtio_dev_notify(d, RXQ);
	if (delivered)
		vm_kick(d->vm);		/* a polling guest has input */
}

/* Takes frames from the guest, as long as the socket keeps up. */
static void tx_work(struct virtio_dev *d)
{
	struct vnet *n = vnet_of(d);
	struct vq *q = &d->q[TXQ];
	struct vq_elem e;
	int rc;

	while (n->out_len + 4 + VNET_FRAME_MAX <= VNET_TX_BUFFER &&
	       (rc = vq_pop(q, &e)) > 0) {
		uint64_t len = e.out_len > VNET_HDR_LEN ?
			       e.out_len - VNET_HDR_LEN : 0;

		if (len < 14 || len > VNET_FRAME_MAX ||
		    (n->conn_fd < 0 && util_mono_us() >= n->hold_until_us)) {
			n->tx_dropped++;
		} else {
			uint8_t *p = n->out + n->out_len;

			p[0] = (uint8_t)(len >> 24);
			p[1] = (uint8_t)(len >> 16);
			p[2] = (uint8_t)(len >> 8);
			p[3] = (uint8_t)len;
			vq_copy_from(&e, VNET_HDR_LEN, p + 4, len);
			n->out_len += 4 + len;
			n->tx_frames++;
		}
		vq_push(q, &e, 0);
	}
	if (q->broken)
		virtio_dev_broken(d);
	vq_set_notify(q, true);
	virtio_dev_notify(d, TXQ);
	flush_out(n);
}

/* Frames the guest handed over before a pause are output of the epoch
 * being closed.  Left in n->out, they would reach the peer after the
 * resume and be compared as output of the next epoch, which the other
 * VM (loaded from the checkpoint, where they are already sent) never
 * produces.  So the pause waits for the socket to take them. */
static void drain_tx(struct virtio_dev *d)
{
	struct vnet *n = vnet_of(d);
	uint64_t until = util_mono_us() + VNET_DRAIN_MS * 1000ull;

	flush_out(n);
	while (n->conn_fd >= 0 && n->out_len && util_mono_us() < until) {
		struct pollfd pf = { n->conn_fd, POLLOUT, 0 };

		if (poll(&pf, 1, 10) > 0)
			flush_out(n);
	}
	if (n->out_len) {
		n->tx_late++;
		log_warn("%s: %zu bytes of output not taken by the pause; "
			 "they go out in the next epoch", n->path, n->out_len);
	}
}

static void queue_work(struct virtio_dev *d, int qi)
{
	struct vnet *n = vnet_of(d);

	if (qi == TXQ)
		tx_work(d);
	else
		rx_work(d);
	watch_conn(n);
}

/* The newest peer wins: a restarted netproxy reconnects, and netproxy
 * reconnects after every checkpoint load.  Every connection waiting in
 * the backlog is older than the last one; one made while the devices
 * were parked for a load carries input sent before the replay position
 * was known, so the older ones are closed unread. */
static void accept_peer(struct vnet *n)
{
	int fd, newest = -1;

	while ((fd = accept4(n->listen_fd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (newest >= 0) {
			close(newest);
			n->stale_conns++;
		}
		newest = fd;
	}
	if (newest < 0)
		return;
	drop_conn(n, "replaced by a new connection");
	n->conn_fd = newest;
	log_info("%s: peer connected", n->path);
	watch_conn(n);
}

static void fd_ready(struct virtio_dev *d, int fd, uint32_t events)
{
	struct vnet *n = vnet_of(d);

	if (fd == n->listen_fd) {
		accept_peer(n);
		return;
	}
	if (fd != n->conn_fd)
		return;
	if (events & EPOLLIN)
		read_conn(n);
	if (events & EPOLLOUT)
		flush_out(n);
	if ((events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR)) && !(events & EPOLLIN))
		drop_conn(n, "hung up");
	if (virtio_dev_driver_ok(d)) {
		rx_work(d);
		tx_work(d);
	}
	watch_conn(n);
}

static void drop_pending(struct vnet *n)
{
	while (n->rx_count) {
		free(n->rx[n->rx_head].data);
		n->rx_head = (n->rx_head + 1) % VNET_RX_PENDING;
		n->rx_count--;
	}
	n->rx_head = 0;
}

static void reset(struct virtio_dev *d)
{
	drop_pending(vnet_of(d));
}

/* Pending received frames are device state: a checkpoint keeps them. */
static int save(struct virtio_dev *d, struct tlv_buf *out)
{
	struct vnet *n = vnet_of(d);

	for (unsigned i = 0; i < n->rx_count; i++) {
		struct vnet_frame *f = &n->rx[(n->rx_head + i) % VNET_RX_PENDING];
		int rc = tlv_put(out, 1, f->data, f->len);

		if (rc < 0)
			return rc;
	}
	return 0;
}

static int load(struct virtio_dev *d, const uint8_t *p, uint32_t len)
{
	struct vnet *n = vnet_of(d);
	struct tlv_iter it;
	const uint8_t *fp;
	uint32_t tag, flen;
	int rc;

	drop_pending(n);
	/* The peer's stream belongs to the state just replaced: what it
	 * sent and we have not read would be stale input.  netproxy
	 * reconnects and replays from the loaded state's position. */
	drop_conn(n, "dropped: device state loaded");
	n->hold_until_us = util_mono_us() + VNET_RECONNECT_US;
	tlv_iter_init(&it, p, len);
	while ((rc = tlv_next(&it, &tag, &fp, &flen)) > 0) {
		struct vnet_frame *f = &n->rx[n->rx_count];

		if (tag != 1 || flen < 14 || flen > VNET_FRAME_MAX ||
		    n->rx_count == VNET_RX_PENDING)
			return -EPROTO;
		f->data = malloc(flen);
		if (!f->data)
			return -ENOMEM;
		memcpy(f->data, fp, flen);
		f->len = flen;
		n->rx_count++;
	}
	return rc;
}

static const struct virtio_ops vnet_ops = {
	.name = "virtio-net",
	.device_id = VIRTIO_ID_NET,
	.nqueues = 2,
	.queue_max = 256,
	.features = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS,
	.config_size = 8,
	.config_read = config_read,
	.queue_work = queue_work,
	.fd_ready = fd_ready,
	.quiesce = drain_tx,
	.reset = reset,
	.save = save,
	.load = load,
};

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(path, 0600) < 0 || listen(fd, 4) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

int vnet_init(struct vnet *n, struct vm *vm, int index, const uint8_t mac[6],
		const char *path, char *err, size_t errlen)
{
	int rc;

	memset(n, 0, sizeof(*n));
	n->listen_fd = n->conn_fd = -1;
	memcpy(n->mac, mac, 6);
	snprintf(n->path, sizeof(n->path), "%s", path);
	n->in = malloc(4 + VNET_FRAME_MAX);
	n->out = malloc(VNET_TX_BUFFER);
	if (!n->in || !n->out)
		return -ENOMEM;
	rc = virtio_dev_init(&n->dev, vm, index, &vnet_ops, n);
	if (rc < 0) {
		snprintf(err, errlen, "virtio-net %d: %s", index, strerror(-rc));
		return rc;
	}
	n->listen_fd = listen_unix(path);
	if (n->listen_fd < 0) {
		snprintf(err, errlen, "virtio-net %d: cannot listen on %s: %s",
			 index, path, strerror(-n->listen_fd));
		return n->listen_fd;
	}
	return virtio_dev_watch(&n->dev, n->listen_fd, EPOLLIN);
}

void vnet_fini(struct vnet *n)
{
	virtio_dev_fini(&n->dev);
	if (n->conn_fd >= 0)
		close(n->conn_fd);
	if (n->listen_fd >= 0) {
		close(n->listen_fd);
		unlink(n->path);
	}
	drop_pending(n);
	free(n->in);
	free(n->out);
	n->in = n->out = NULL;
	n->listen_fd = n->conn_fd = -1;
}
