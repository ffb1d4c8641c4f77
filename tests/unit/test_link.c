/* netproxy framed links over a real socketpair: plain and vnet_hdr
 * framing, control records, and a lying length closing the link. */
#include "config.h"
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "frame.h"
#include "link.h"
#include "unit.h"

struct got {
	int frames, controls;
	uint32_t type;
	size_t last_len;
	uint8_t last[128];
	uint64_t a, b;
};

static void on_frame(void *opaque, uint8_t *f, size_t len)
{
	struct got *g = opaque;

	g->frames++;
	g->last_len = len;
	memcpy(g->last, f, len < sizeof(g->last) ? len : sizeof(g->last));
}

static void on_control(void *opaque, uint32_t type, uint64_t a, uint64_t b)
{
	struct got *g = opaque;

	g->controls++;
	g->type = type;
	g->a = a;
	g->b = b;
}

static const struct link_ops ops = { on_frame, on_control };

static void pair(struct np_link *tx, struct np_link *rx, bool vnet)
{
	int sv[2];

	CU_ASSERT_EQUAL_FATAL(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	link_init(tx, "tx", true);
	link_init(rx, "rx", true);
	tx->vnet_hdr = rx->vnet_hdr = vnet;
	link_attach(tx, sv[0]);
	link_attach(rx, sv[1]);
}

static void test_frames_and_control(void)
{
	struct np_link tx, rx;
	struct got g = { 0 };
	uint8_t f[60];

	for (int vnet = 0; vnet < 2; vnet++) {
		memset(&g, 0, sizeof(g));
		pair(&tx, &rx, vnet);
		memset(f, 0xab, sizeof(f));
		CU_ASSERT_TRUE(link_send(&tx, f, sizeof(f)));
		CU_ASSERT_TRUE(link_send_control(&tx, LINK_CTL_SNAPSHOT, 7,
						 1ull << 40));
		CU_ASSERT_TRUE(link_send(&tx, f, 20));
		link_flush(&tx);
		CU_ASSERT_EQUAL(link_read(&rx, &ops, &g), 0);
		CU_ASSERT_EQUAL(g.frames, 2);
		CU_ASSERT_EQUAL(g.controls, 1);
		CU_ASSERT_EQUAL(g.type, LINK_CTL_SNAPSHOT);
		CU_ASSERT_EQUAL(g.a, 7);
		CU_ASSERT_EQUAL(g.b, 1ull << 40);
		CU_ASSERT_EQUAL(g.last_len, 20);
		link_fini(&tx);
		link_fini(&rx);
	}
}

/* A batch read at once: 1000 frames in the socket, some of them
 * straddling the reads' edges, all delivered in order by one call that
 * reports the socket empty. */
static void test_batch_in_one_call(void)
{
	struct np_link tx, rx;
	struct got g = { 0 };
	uint8_t f[61];
	int sent = 0;

	pair(&tx, &rx, false);
	for (int i = 0; i < 1000; i++) {
		memset(f, i & 0xff, sizeof(f));
		sent += link_send(&tx, f, sizeof(f));
	}
	link_flush(&tx);
	CU_ASSERT_EQUAL(sent, 1000);
	CU_ASSERT_EQUAL(tx.out_len, 0);
	CU_ASSERT_EQUAL(link_read(&rx, &ops, &g), 0);
	CU_ASSERT_EQUAL(g.frames, 1000);
	CU_ASSERT_EQUAL(g.last_len, sizeof(f));
	CU_ASSERT_EQUAL(g.last[0], 999 & 0xff);
	CU_ASSERT_EQUAL(rx.in_len, 0);
	link_fini(&tx);
	link_fini(&rx);
}

/* The largest frame the framing allows, with the largest header, fits
 * the input buffer: a buffer one byte short would never parse it and
 * read into no room, taking that for the end of the stream. */
static void test_largest_frame(void)
{
	struct np_link tx, rx;
	struct got g = { 0 };
	size_t len = 8 + 64 + FRAME_MAX;
	uint8_t *rec = calloc(1, len);

	CU_ASSERT_PTR_NOT_NULL_FATAL(rec);
	pair(&tx, &rx, true);
	frame_put32(rec, 64 + FRAME_MAX);
	frame_put32(rec + 4, 64);
	memset(rec + 8 + 64, 0x77, FRAME_MAX);
	CU_ASSERT_EQUAL(write(tx.fd, rec, len), (ssize_t)len);
	for (int i = 0; i < 4 && g.frames == 0; i++)
		CU_ASSERT_TRUE(link_read(&rx, &ops, &g) >= 0);
	CU_ASSERT_EQUAL(g.frames, 1);
	CU_ASSERT_EQUAL(g.last_len, FRAME_MAX);
	CU_ASSERT_EQUAL(g.last[0], 0x77);
	CU_ASSERT_TRUE(rx.fd >= 0);
	free(rec);
	link_fini(&tx);
	link_fini(&rx);
}

/* As QEMU sends with vnet_hdr_support: the header is stripped. */
static void test_vnet_header_stripped(void)
{
	struct np_link tx, rx;
	struct got g = { 0 };
	uint8_t rec[8 + 12 + 60];

	pair(&tx, &rx, true);
	frame_put32(rec, 12 + 60);
	frame_put32(rec + 4, 12);
	memset(rec + 8, 0, 12);
	memset(rec + 20, 0x5a, 60);
	CU_ASSERT_EQUAL(write(tx.fd, rec, sizeof(rec)), (ssize_t)sizeof(rec));
	CU_ASSERT_EQUAL(link_read(&rx, &ops, &g), 0);
	CU_ASSERT_EQUAL(g.frames, 1);
	CU_ASSERT_EQUAL(g.last_len, 60);
	CU_ASSERT_EQUAL(g.last[0], 0x5a);
	/* A header longer than the frame: the link is closed. */
	frame_put32(rec, 20);
	frame_put32(rec + 4, 30);
	CU_ASSERT_EQUAL(write(tx.fd, rec, 28), 28);
	CU_ASSERT_TRUE(link_read(&rx, &ops, &g) < 0);
	CU_ASSERT_EQUAL(rx.fd, -1);
	CU_ASSERT_EQUAL(rx.bad, 1);
	link_fini(&tx);
	link_fini(&rx);
}

static void test_bad_length_and_eof(void)
{
	struct np_link tx, rx;
	struct got g = { 0 };
	uint8_t rec[8];

	pair(&tx, &rx, false);
	frame_put32(rec, 13);		/* shorter than an Ethernet header */
	CU_ASSERT_EQUAL(write(tx.fd, rec, 4), 4);
	CU_ASSERT_TRUE(link_read(&rx, &ops, &g) < 0);
	CU_ASSERT_EQUAL(rx.bad, 1);
	link_fini(&rx);
	link_fini(&tx);
	pair(&tx, &rx, false);
	link_close(&tx, "test");
	CU_ASSERT_TRUE(link_read(&rx, &ops, &g) < 0);
	CU_ASSERT_EQUAL(rx.fd, -1);
	CU_ASSERT_FALSE(link_send(&rx, rec, 8));	/* down: refused */
	link_fini(&tx);
	link_fini(&rx);
}

static struct np_link *closing;

static void close_on_frame(void *opaque, uint8_t *f, size_t len)
{
	(void)opaque;
	(void)f;
	(void)len;
	link_close(closing, "closed by the handler");
}

/* A handler that closes the link it is being fed from (a failed write
 * on the same link) ends the parse cleanly. */
static void test_closed_by_handler(void)
{
	static const struct link_ops cops = { close_on_frame, on_control };
	struct np_link tx, rx;
	uint8_t f[60] = { 0 };

	pair(&tx, &rx, false);
	closing = &rx;
	for (int i = 0; i < 3; i++)
		link_send(&tx, f, sizeof(f));
	link_flush(&tx);
	CU_ASSERT_TRUE(link_read(&rx, &cops, NULL) < 0);
	CU_ASSERT_EQUAL(rx.fd, -1);
	CU_ASSERT_EQUAL(rx.frames_in, 1);
	link_fini(&tx);
	link_fini(&rx);
}

void unit_suite_link(void)
{
	static const struct unit_case cases[] = {
		{ "frames and control records", test_frames_and_control },
		{ "vnet header stripped", test_vnet_header_stripped },
		{ "a batch in one call", test_batch_in_one_call },
		{ "the largest frame", test_largest_frame },
		{ "bad length, eof", test_bad_length_and_eof },
		{ "closed by the handler", test_closed_by_handler },
		{ NULL, NULL },
	};

	unit_add_suite("netproxy link", cases);
}
