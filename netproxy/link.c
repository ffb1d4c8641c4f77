/* Framed stream I/O with bounded buffers on both sides: a slow reader
 * costs frames (as on a switch), never a stalled proxy. */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "frame.h"
#include "link.h"
#include "log.h"

#define CTL_LEN 20
#define VNET_HDR_MAX 64		/* virtio_net_hdr_v1 is 12 bytes */
#define IN_MAX (8 + VNET_HDR_MAX + FRAME_MAX)

int link_init(struct np_link *l, const char *name, bool control)
{
	memset(l, 0, sizeof(*l));
	l->name = name;
	l->fd = -1;
	l->control = control;
	l->in = malloc(IN_MAX);
	l->out = malloc(LINK_OUT_MAX);
	return l->in && l->out ? 0 : -ENOMEM;
}

void link_fini(struct np_link *l)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = -1;
	free(l->in);
	free(l->out);
	l->in = l->out = NULL;
}

void link_attach(struct np_link *l, int fd)
{
	if (l->fd >= 0)
		close(l->fd);
	l->fd = fd;
	l->in_len = l->out_len = 0;
}

void link_close(struct np_link *l, const char *why)
{
	if (l->fd < 0)
		return;
	log_info("%s: %s", l->name, why);
	close(l->fd);
	l->fd = -1;
	l->in_len = l->out_len = 0;
}

static int parse(struct np_link *l, const struct link_ops *ops, void *opaque)
{
	size_t off = 0;

	while (l->in_len - off >= 4) {
		uint8_t *p = l->in + off;
		uint32_t len = frame_get32(p);

		if (len == 0 && l->control) {
			if (l->in_len - off < 4 + CTL_LEN)
				break;
			ops->control(opaque, frame_get32(p + 4),
				     (uint64_t)frame_get32(p + 8) << 32 |
				     frame_get32(p + 12),
				     (uint64_t)frame_get32(p + 16) << 32 |
				     frame_get32(p + 20));
			off += 4 + CTL_LEN;
			if (l->fd < 0)
				return -ECONNRESET;	/* closed by the handler */
			continue;
		}
		uint32_t hl = 4, vh = 0;

		if (l->vnet_hdr) {
			if (l->in_len - off < 8)
				break;
			hl = 8;
			vh = frame_get32(p + 4);
		}
		if (len > FRAME_MAX + VNET_HDR_MAX || vh > VNET_HDR_MAX ||
		    len < vh + FRAME_MIN || len - vh > FRAME_MAX) {
			l->bad++;
			log_warn("%s: frame length %u (header %u) is invalid; "
				 "dropping the connection", l->name, len, vh);
			link_close(l, "bad framing");
			return -EPROTO;
		}
		if (l->in_len - off - hl < len)
			break;
		l->frames_in++;
		ops->frame(opaque, p + hl + vh, len - vh);
		off += hl + len;
		if (l->fd < 0)
			return -ECONNRESET;	/* closed by the handler */
	}
	memmove(l->in, l->in + off, l->in_len - off);
	l->in_len -= off;
	return 0;
}

int link_read(struct np_link *l, const struct link_ops *ops, void *opaque)
{
	for (int i = 0; i < 16 && l->fd >= 0; i++) {
		size_t room = IN_MAX - l->in_len;
		ssize_t n = read(l->fd, l->in + l->in_len, room);
		int rc;

		if (n == 0) {
			link_close(l, "closed by the other end");
			return -ECONNRESET;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			rc = -errno;
			link_close(l, "read failed");
			return rc;
		}
		l->in_len += (size_t)n;
		rc = parse(l, ops, opaque);
		if (rc < 0)
			return rc;
		/* A short read emptied the stream socket: asking again
		 * would only hear EAGAIN, a system call for nothing.  The
		 * poll that follows sees anything new. */
		if ((size_t)n < room)
			return 0;	/* a link a handler closed returned above */
	}
	return l->fd >= 0 ? 1 : -ECONNRESET;
}

bool link_room(const struct np_link *l, size_t len)
{
	return l->fd >= 0 && l->out_len + 8 + len <= LINK_OUT_MAX;
}

static bool put(struct np_link *l, const void *hdr, size_t hlen,
		const uint8_t *body, size_t blen)
{
	if (!link_room(l, hlen + blen - 4)) {
		l->dropped_out++;
		return false;
	}
	memcpy(l->out + l->out_len, hdr, hlen);
	if (blen)
		memcpy(l->out + l->out_len + hlen, body, blen);
	l->out_len += hlen + blen;
	/* Flushed by the caller once per batch: one send for many frames.
	 * A full buffer is flushed now so that it can take more. */
	if (l->out_len > LINK_OUT_MAX / 2)
		link_flush(l);
	return true;
}

bool link_send(struct np_link *l, const uint8_t *f, size_t len)
{
	uint8_t h[8] = { 0 };

	frame_put32(h, (uint32_t)len);
	if (!put(l, h, l->vnet_hdr ? 8 : 4, f, len))
		return false;
	l->frames_out++;
	return true;
}

bool link_send_control(struct np_link *l, uint32_t type, uint64_t a,
		       uint64_t b)
{
	uint8_t r[4 + CTL_LEN];

	frame_put32(r, 0);
	frame_put32(r + 4, type);
	frame_put32(r + 8, (uint32_t)(a >> 32));
	frame_put32(r + 12, (uint32_t)a);
	frame_put32(r + 16, (uint32_t)(b >> 32));
	frame_put32(r + 20, (uint32_t)b);
	return put(l, r, sizeof(r), NULL, 0);
}

void link_flush(struct np_link *l)
{
	size_t done = 0;

	while (l->fd >= 0 && done < l->out_len) {
		ssize_t n = send(l->fd, l->out + done, l->out_len - done,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				link_close(l, "write failed");
			break;
		}
		done += (size_t)n;
	}
	if (l->fd < 0)
		return;
	memmove(l->out, l->out + done, l->out_len - done);
	l->out_len -= done;
}
