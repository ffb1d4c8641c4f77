/* A framed byte stream: the dom-helper's virtio-net socket or the link to
 * the other host's netproxy.  Frames are a 4-byte big-endian length and
 * the Ethernet frame, as QEMU's colo-compare chardevs frame them.  On the
 * peer link only, a length of zero introduces a 20-byte control record
 * (type u32, a u64, b u64, big-endian), which QEMU never sends.  With
 * vnet_hdr, every frame's length is followed by its header's length, as
 * QEMU's colo-compare chardevs do with vnet_hdr_support. */
#ifndef NP_LINK_H
#define NP_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LINK_OUT_MAX (4u << 20)	/* unsent bytes before frames drop */

enum link_ctl {
	LINK_CTL_SNAPSHOT = 1,	/* P->S: snapshot a consumed mirror frames < b */
	LINK_CTL_LOADED = 2,	/* S->P: the SVM loaded checkpoint a */
};

struct np_link {
	const char *name;	/* for messages */
	int fd;			/* -1 when down */
	bool control;		/* control records allowed */
	/* QEMU's vnet_hdr_support framing: a second 4-byte length (of a
	 * virtio-net header that starts the frame) follows the first.  The
	 * header is stripped on input; output carries none (length 0). */
	bool vnet_hdr;
	uint8_t *in;
	size_t in_len;
	uint8_t *out;
	size_t out_len;
	uint64_t frames_in, frames_out, dropped_out, bad;
};

struct link_ops {
	void (*frame)(void *opaque, uint8_t *f, size_t len);
	void (*control)(void *opaque, uint32_t type, uint64_t a, uint64_t b);
};

int link_init(struct np_link *l, const char *name, bool control);
void link_fini(struct np_link *l);

/* Takes fd (non-blocking) as the link's connection, dropping any old one
 * and everything buffered. */
void link_attach(struct np_link *l, int fd);
void link_close(struct np_link *l, const char *why);

/* Reads what is available, up to a bound that keeps one busy link from
 * starving the others, and hands each complete frame or record to ops.
 * Returns 0 once the socket is empty, 1 if the bound stopped it, or
 * -errno once the link was closed (EOF, error, or a framing error, which
 * is logged). */
int link_read(struct np_link *l, const struct link_ops *ops, void *opaque);

/* Queues a frame; false (counted in dropped_out) when the link is down
 * or its buffer is full.  Nothing is written until link_flush. */
bool link_send(struct np_link *l, const uint8_t *f, size_t len);
bool link_send_control(struct np_link *l, uint32_t type, uint64_t a,
		       uint64_t b);
/* Writes what the socket takes now. */
void link_flush(struct np_link *l);
bool link_room(const struct np_link *l, size_t len);

#endif
