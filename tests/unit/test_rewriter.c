/* netproxy TCP rewriter: offsets learned from passive and active
 * handshakes, the handshake race, reset at a checkpoint, standalone mode
 * after failover; every rewritten frame has valid checksums. */
#include "config.h"
#include <string.h>
#include "frame.h"
#include "np-frames.h"
#include "rewriter.h"
#include "unit.h"

struct injected {
	int n;
	uint8_t last[2048];
	size_t last_len;
};

static void on_inject(void *opaque, const uint8_t *f, size_t len)
{
	struct injected *in = opaque;

	in->n++;
	memcpy(in->last, f, len);
	in->last_len = len;
}

static struct rewriter rw;
static struct injected inj;

static uint32_t field(const uint8_t *f, size_t len, int off)
{
	struct frame_info fi;

	frame_parse(f, len, &fi, NULL);
	return frame_get32(f + fi.l4_off + off);
}

static void to_guest(const struct np_flow *fl, uint32_t seq, uint32_t ack,
		     uint8_t flags)
{
	uint8_t b[256];

	rw_to_guest(&rw, b, npf_tcp(b, fl, seq, ack, flags, "", 0));
}

/* Returns the frame's seq after rewriting. */
static uint32_t from_guest(const struct np_flow *fl, uint32_t seq,
			   uint32_t ack, uint8_t flags, const char *d)
{
	uint8_t b[256];
	size_t n = npf_tcp(b, fl, seq, ack, flags, d, strlen(d));

	rw_from_guest(&rw, b, n);
	CU_ASSERT_TRUE(npf_checksums_ok(b, n));
	return field(b, n, 4);
}

static void setup(void)
{
	memset(&inj, 0, sizeof(inj));
	CU_ASSERT_EQUAL_FATAL(rw_init(&rw, 64, on_inject, &inj), 0);
}

/* The client opened it: PVM ISN 5000, SVM ISN 1000. */
static void test_passive_open(void)
{
	struct np_flow c, g;

	setup();
	npf_flow(&c, false, 40000);
	npf_reverse(&g, &c);
	to_guest(&c, 700, 0, TCP_SYN);
	CU_ASSERT_EQUAL(inj.n, 1);
	from_guest(&g, 1000, 701, TCP_SYN | TCP_ACK, "");
	to_guest(&c, 701, 5001, TCP_ACK);
	CU_ASSERT_EQUAL(inj.n, 2);
	CU_ASSERT_EQUAL(field(inj.last, inj.last_len, 8), 1001);
	CU_ASSERT_TRUE(npf_checksums_ok(inj.last, inj.last_len));
	CU_ASSERT_EQUAL(from_guest(&g, 1001, 701, TCP_ACK, "+OK\r\n"), 5001);
	to_guest(&c, 701, 5006, TCP_ACK);
	CU_ASSERT_EQUAL(field(inj.last, inj.last_len, 8), 1006);
	CU_ASSERT_EQUAL(rw.st.offsets_learned, 1);
	rw_fini(&rw);
}

/* The client's ACK reaches the proxy before the SVM answered the SYN: it
 * waits, then goes in translated. */
static void test_handshake_race(void)
{
	struct np_flow c, g;

	setup();
	npf_flow(&c, false, 40001);
	npf_reverse(&g, &c);
	to_guest(&c, 700, 0, TCP_SYN);
	to_guest(&c, 701, 5001, TCP_ACK);
	CU_ASSERT_EQUAL(inj.n, 1);
	CU_ASSERT_EQUAL(rw.st.held, 1);
	from_guest(&g, 0xfffffff0u, 701, TCP_SYN | TCP_ACK, "");
	CU_ASSERT_EQUAL(inj.n, 2);
	CU_ASSERT_EQUAL(field(inj.last, inj.last_len, 8), 0xfffffff1u);
	CU_ASSERT_TRUE(npf_checksums_ok(inj.last, inj.last_len));
	rw_fini(&rw);
}

/* The guest opened it (QEMU's rewriter does not handle this side). */
static void test_active_open(void)
{
	struct np_flow c, g;

	setup();
	npf_flow(&c, true, 80);
	npf_reverse(&g, &c);
	from_guest(&g, 7000, 0, TCP_SYN, "");
	to_guest(&c, 300, 9001, TCP_SYN | TCP_ACK);
	CU_ASSERT_EQUAL(field(inj.last, inj.last_len, 8), 7001);
	CU_ASSERT_EQUAL(from_guest(&g, 7001, 301, TCP_ACK, "GET"), 9001);
	rw_fini(&rw);
}

/* The server's SYN-ACK (mirrored) before the SVM sent its SYN: it waits,
 * then goes in translated. */
static void test_active_open_race(void)
{
	struct np_flow c, g;

	setup();
	npf_flow(&c, false, 443);
	npf_reverse(&g, &c);
	to_guest(&c, 300, 9001, TCP_SYN | TCP_ACK);
	CU_ASSERT_EQUAL(inj.n, 0);
	CU_ASSERT_EQUAL(rw.st.held, 1);
	from_guest(&g, 7000, 0, TCP_SYN, "");
	CU_ASSERT_EQUAL(inj.n, 1);
	CU_ASSERT_EQUAL(field(inj.last, inj.last_len, 8), 7001);
	CU_ASSERT_TRUE(npf_checksums_ok(inj.last, inj.last_len));
	rw_fini(&rw);
}

static void test_checkpoint_and_failover(void)
{
	struct np_flow c, g, c2, g2;

	setup();
	npf_flow(&c, false, 40002);
	npf_reverse(&g, &c);
	to_guest(&c, 700, 0, TCP_SYN);
	from_guest(&g, 1000, 701, TCP_SYN | TCP_ACK, "");
	to_guest(&c, 701, 5001, TCP_ACK);
	/* After a load the SVM has the PVM's sequence numbers. */
	rw_checkpoint_loaded(&rw);
	CU_ASSERT_EQUAL(from_guest(&g, 5001, 701, TCP_ACK, "x"), 5001);
	/* A shift learned after it survives failover... */
	npf_flow(&c2, false, 40003);
	npf_reverse(&g2, &c2);
	to_guest(&c2, 10, 0, TCP_SYN);
	from_guest(&g2, 100, 11, TCP_SYN | TCP_ACK, "");
	to_guest(&c2, 11, 601, TCP_ACK);
	rw_set_standalone(&rw);
	CU_ASSERT_EQUAL(from_guest(&g2, 101, 11, TCP_ACK, "y"), 601);
	/* ...and a connection opened after failover is not shifted. */
	npf_flow(&c, false, 40004);
	npf_reverse(&g, &c);
	to_guest(&c, 1, 0, TCP_SYN);
	from_guest(&g, 3000, 2, TCP_SYN | TCP_ACK, "");
	to_guest(&c, 2, 3001, TCP_ACK);
	CU_ASSERT_EQUAL(field(inj.last, inj.last_len, 8), 3001);
	CU_ASSERT_EQUAL(from_guest(&g, 3001, 2, TCP_ACK, "z"), 3001);
	rw_fini(&rw);
}

void unit_suite_rewriter(void)
{
	static const struct unit_case cases[] = {
		{ "passive open", test_passive_open },
		{ "handshake race", test_handshake_race },
		{ "active open", test_active_open },
		{ "active open race", test_active_open_race },
		{ "checkpoint and failover", test_checkpoint_and_failover },
		{ NULL, NULL },
	};

	unit_add_suite("netproxy rewriter", cases);
}
