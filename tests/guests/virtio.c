/* Test guest: drives virtio-blk and virtio-net with polled drivers.
 *
 * blk: writes sectors 0..7 with a pattern from blk_seed=, flushes, reads
 * them back and compares, then checks that a read past the end fails:
 *   BLK capacity N seed S OK          (or BLK ... FAIL reason)
 * A read-only disk must refuse the write: BLK RO write refused
 * net: sends one frame "HELLO <mac>" and answers every frame it receives
 * with "ECHO " + its payload, swapping the MAC addresses; a frame whose
 * payload is QUIT powers off.
 * On serial 'r' it reads 16 sectors into a buffer only the device writes
 * and prints READBUF <first pfn> <last pfn>, for the dirty-log test.
 * On serial 'L' it posts a block request whose descriptor chains to
 * itself and prints "BLK loop NEEDS-RESET" once the device has refused it
 * by asking for a reset (or "BLK loop IGNORED"). */
#include "virtio.h"

#define SECTOR 512
#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define F_RO (1ull << 5)
#define F_FLUSH (1ull << 9)
#define NET_F_MAC (1ull << 5)
#define NET_HDR 12

struct blk_req {
	uint32_t type, reserved;
	uint64_t sector;
};

static struct vdev blk, net;
static int have_blk, have_net;

/* One synchronous request; returns the status byte. */
static int blk_rw(uint32_t type, uint64_t sector, void *buf, uint32_t len)
{
	static struct blk_req req;
	static volatile uint8_t status;
	struct gbuf out[2] = { { &req, sizeof(req) }, { buf, len } };
	struct gbuf in[2] = { { buf, len }, { (void *)&status, 1 } };
	struct gvq *q = &blk.q[0];

	req.type = type;
	req.sector = sector;
	status = 0xff;
	if (type == T_OUT)
		gvq_add(q, out, len ? 2 : 1, &in[1], 1, &req);
	else if (type == T_IN)
		gvq_add(q, out, 1, in, 2, &req);
	else
		gvq_add(q, out, 1, &in[1], 1, &req);
	gvq_kick(q);
	while (!gvq_get(q, NULL))
		cpu_relax();
	return status;
}

static void test_blk(void)
{
	uint64_t cap = (uint64_t)vdev_config32(&blk, 0) |
		       ((uint64_t)vdev_config32(&blk, 4) << 32);
	uint64_t seed = cmdline_u64("blk_seed", 1);
	uint8_t *buf = galloc(8 * SECTOR, 4096), *back = galloc(8 * SECTOR, 4096);
	int st;

	for (int i = 0; i < 8 * SECTOR; i++)
		buf[i] = (uint8_t)(seed * 131 + (uint64_t)i * 7);
	st = blk_rw(T_OUT, 0, buf, 8 * SECTOR);
	if (blk.features & F_RO) {
		gprintf("BLK RO write %s\n", st ? "refused" : "ACCEPTED");
		return;
	}
	if (st || blk_rw(T_FLUSH, 0, NULL, 0)) {
		gprintf("BLK FAIL write status %d\n", st);
		return;
	}
	if (blk_rw(T_IN, 0, back, 8 * SECTOR) || memcmp(buf, back, 8 * SECTOR)) {
		gprintf("BLK FAIL read-back mismatch\n");
		return;
	}
	if (blk_rw(T_IN, cap, back, SECTOR) == 0) {
		gprintf("BLK FAIL read past the end succeeded\n");
		return;
	}
	gprintf("BLK capacity %lu seed %lu OK\n", cap, seed);
}

static void read_for_dirty_test(void)
{
	static uint8_t *buf;
	uint64_t pfn;

	if (!buf)
		buf = galloc(16 * SECTOR, 4096);
	pfn = (uintptr_t)buf / 4096;
	gprintf("READBUF %lu %lu status %d\n", pfn, pfn + 1,
		blk_rw(T_IN, 0, buf, 16 * SECTOR));
}

#define NRX 32
#define FRAME 1536

static uint8_t *rxbuf[NRX];

static void net_post_rx(uint8_t *b)
{
	struct gbuf in = { b, NET_HDR + FRAME };

	gvq_add(&net.q[0], NULL, 0, &in, 1, b);
}

static void net_send(const uint8_t *frame, uint32_t len)
{
	static uint8_t *tx;
	static uint8_t hdr[NET_HDR];
	struct gbuf out[2];
	struct gvq *q = &net.q[1];

	if (!tx)
		tx = galloc(FRAME, 64);
	while (gvq_get(q, NULL))
		;
	memcpy(tx, frame, len);
	out[0] = (struct gbuf){ hdr, NET_HDR };
	out[1] = (struct gbuf){ tx, len };
	gvq_add(q, out, 2, NULL, 0, tx);
	gvq_kick(q);
	while (gvq_pending(q))
		while (gvq_get(q, NULL))
			;
}

static int net_poll(void)
{
	uint8_t frame[FRAME + 5];
	uint32_t len;
	uint8_t *b;

	while ((b = gvq_get(&net.q[0], &len))) {
		uint8_t *f = b + NET_HDR;
		uint32_t flen = len - NET_HDR;

		if (flen >= 18 && memcmp(f + 14, "QUIT", 4) == 0)
			return 1;
		if (flen >= 14 && flen + 5 <= FRAME) {
			memcpy(frame, f + 6, 6);	/* dst = their src */
			memcpy(frame + 6, f, 6);
			memcpy(frame + 12, f + 12, 2);
			memcpy(frame + 14, "ECHO ", 5);
			memcpy(frame + 19, f + 14, flen - 14);
			net_send(frame, flen + 5);
		}
		net_post_rx(b);
		gvq_kick(&net.q[0]);
	}
	return 0;
}

static void start_net(void)
{
	uint8_t mac[6], hello[64];

	for (int i = 0; i < 6; i++)
		mac[i] = vdev_config8(&net, (uint32_t)i);
	for (int i = 0; i < NRX; i++) {
		rxbuf[i] = galloc(NET_HDR + FRAME, 64);
		net_post_rx(rxbuf[i]);
	}
	gvq_kick(&net.q[0]);
	memset(hello, 0xff, 6);
	memcpy(hello + 6, mac, 6);
	hello[12] = 0x88;
	hello[13] = 0xb5;	/* local experimental ethertype */
	gsnprintf((char *)hello + 14, 50, "HELLO %02x:%02x:%02x:%02x:%02x:%02x",
		  mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
	net_send(hello, 14 + 23);
	gprintf("NET mac %02x:%02x:%02x:%02x:%02x:%02x\n", mac[0], mac[1],
		mac[2], mac[3], mac[4], mac[5]);
}

/* A descriptor that chains to itself: a broken driver.  The device must
 * stop using the queue and ask for a reset, and the host stay unharmed. */
static void blk_post_loop(void)
{
	static struct blk_req req = { T_IN, 0, 0 };
	struct gvq *q = &blk.q[0];
	uint16_t head = q->free_head;
	uint64_t spins = 0;

	q->desc[head].addr = (uintptr_t)&req;
	q->desc[head].len = sizeof(req);
	q->desc[head].flags = 1;	/* NEXT */
	q->desc[head].next = head;
	q->avail[2 + q->avail_idx % q->size] = head;
	barrier();
	q->avail_idx++;
	mb();
	q->avail[1] = q->avail_idx;
	gvq_kick(q);
	while (!(vdev_status(&blk) & 0x40) && ++spins < 2000)
		pv_idle(1000);
	gprintf("BLK loop %s\n", vdev_status(&blk) & 0x40 ? "NEEDS-RESET" :
		"IGNORED");
	have_blk = 0;	/* the device is out of use until a reset */
}

int guest_main(void)
{
	if (vdev_find(&blk, 2, 0) == 0 &&
	    vdev_init(&blk, F_RO | F_FLUSH | VIRTIO_RING_F_EVENT_IDX, 1) == 0) {
		have_blk = 1;
		test_blk();
	}
	if (vdev_find(&net, 1, 0) == 0 &&
	    vdev_init(&net, NET_F_MAC | VIRTIO_RING_F_EVENT_IDX, 2) == 0) {
		have_net = 1;
		start_net();
	}
	gprintf("VIRTIO-READY blk %d net %d\n", have_blk, have_net);
	for (;;) {
		int c = serial_getc();

		if (c == 'q')
			return 0;
		if (c == 'r' && have_blk)
			read_for_dirty_test();
		if (c == 'L' && have_blk)
			blk_post_loop();
		if (have_net && net_poll())
			return 0;
		if ((have_blk && (vdev_status(&blk) & 0x40)) ||
		    (have_net && (vdev_status(&net) & 0x40)))
			panic("a device needs a reset");
		pv_idle(20000);
	}
}
