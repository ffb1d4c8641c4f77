/* netproxy TCP rewriter: offsets learned from passive and active
 * handshakes, the handshake race, reset at a checkpoint, standalone mode
 * after failover, retransmitted SYNs and segments, VLAN, wraparound and
 * frames that do not parse; every rewritten frame has valid checksums. */
#include "config.h"
#include <stdlib.h>
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

/* Returns the ack of the frame injected for it (if any was). */
static uint32_t to_guest_data(const struct np_flow *fl, uint32_t seq,
			      uint32_t ack, uint8_t flags, const char *d)
{
	uint8_t b[256];

	rw_to_guest(&rw, b, npf_tcp(b, fl, seq, ack, flags, d, strlen(d)));
	return field(inj.last, inj.last_len, 8);
}

static void to_guest(const struct np_flow *fl, uint32_t seq, uint32_t ack,
		     uint8_t flags)
{
	to_guest_data(fl, seq, ack, flags, "");
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

/* A connection the client opened with ISN cisn, where the SVM picked
 * sisn and the PVM pisn: SVM sequence + (pisn - sisn) = PVM sequence. */
static void open_passive(struct np_flow *c, struct np_flow *g, uint16_t port,
			 uint32_t cisn, uint32_t sisn, uint32_t pisn)
{
	npf_flow(c, false, port);
	npf_reverse(g, c);
	to_guest(c, cisn, 0, TCP_SYN);
	from_guest(g, sisn, cisn + 1, TCP_SYN | TCP_ACK, "");
	to_guest(c, cisn + 1, pisn + 1, TCP_ACK);
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

/* The guest opened it (QEMU's rewriter does not handle this side).  Its
 * SYN sent again after the server answered is still this connection,
 * rewritten to the PVM's ISN. */
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
	CU_ASSERT_EQUAL(from_guest(&g, 7000, 0, TCP_SYN, ""), 9000);
	CU_ASSERT_EQUAL(from_guest(&g, 7004, 301, TCP_ACK, "\r\n"), 9004);
	CU_ASSERT_EQUAL(to_guest_data(&c, 301, 9006, TCP_ACK, ""), 7006);
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
	open_passive(&c, &g, 40002, 700, 1000, 5000);
	/* After a load the SVM has the PVM's sequence numbers. */
	rw_checkpoint_loaded(&rw);
	CU_ASSERT_EQUAL(from_guest(&g, 5001, 701, TCP_ACK, "x"), 5001);
	/* A shift learned after it survives failover... */
	open_passive(&c2, &g2, 40003, 10, 100, 600);
	rw_set_standalone(&rw);
	CU_ASSERT_EQUAL(from_guest(&g2, 101, 11, TCP_ACK, "y"), 601);
	/* ...and a connection opened after failover is not shifted. */
	open_passive(&c, &g, 40004, 1, 3000, 3000);
	CU_ASSERT_EQUAL(field(inj.last, inj.last_len, 8), 3001);
	CU_ASSERT_EQUAL(from_guest(&g, 3001, 2, TCP_ACK, "z"), 3001);
	rw_fini(&rw);
}

/* A duplicate of the client's SYN on an established connection (late,
 * or sent again because the PVM's SYN-ACK was held) is not a new
 * connection: the shift stands, after a checkpoint, before and after
 * failover. */
static void test_syn_retransmit_keeps_offset(void)
{
	struct np_flow c, g, c2, g2;

	setup();
	/* Zeroed by a load: the SYN does not bring back a handshake that
	 * the loaded SVM finished long ago. */
	open_passive(&c2, &g2, 40009, 100, 200, 300);
	rw_checkpoint_loaded(&rw);
	to_guest(&c2, 100, 0, TCP_SYN);
	CU_ASSERT_EQUAL(to_guest_data(&c2, 101, 321, TCP_ACK, "x"), 321);
	CU_ASSERT_EQUAL(from_guest(&g2, 321, 102, TCP_ACK, "y"), 321);
	CU_ASSERT_EQUAL(rw.st.held, 0);

	open_passive(&c, &g, 40010, 700, 1000, 5000);
	to_guest(&c, 700, 0, TCP_SYN);
	CU_ASSERT_EQUAL(to_guest_data(&c, 701, 5001, TCP_ACK, "GET a"), 1001);
	CU_ASSERT_EQUAL(rw.st.held, 0);
	CU_ASSERT_EQUAL(from_guest(&g, 1001, 706, TCP_ACK, "$-1\r\n"), 5001);
	rw_set_standalone(&rw);
	to_guest(&c, 700, 0, TCP_SYN);
	CU_ASSERT_EQUAL(from_guest(&g, 1006, 706, TCP_ACK, "+OK\r\n"), 5006);
	CU_ASSERT_EQUAL(to_guest_data(&c, 706, 5011, TCP_ACK, ""), 1011);
	CU_ASSERT_EQUAL(rw.st.offsets_learned, 2);
	rw_fini(&rw);
}

/* A SYN with another ISN on the same 5-tuple is a new connection: its
 * shift is learned afresh, or after failover is none at all. */
static void test_new_syn_resets_offset(void)
{
	struct np_flow c, g;

	setup();
	open_passive(&c, &g, 40011, 700, 1000, 5000);
	to_guest(&c, 90000, 0, TCP_SYN);
	from_guest(&g, 2000, 90001, TCP_SYN | TCP_ACK, "");
	CU_ASSERT_EQUAL(to_guest_data(&c, 90001, 8001, TCP_ACK, ""), 2001);
	CU_ASSERT_EQUAL(from_guest(&g, 2001, 90001, TCP_ACK, "+OK\r\n"), 8001);
	CU_ASSERT_EQUAL(rw.st.offsets_learned, 2);
	rw_set_standalone(&rw);
	to_guest(&c, 123456, 0, TCP_SYN);
	CU_ASSERT_EQUAL(from_guest(&g, 3000, 123457, TCP_SYN | TCP_ACK, ""),
			3000);
	CU_ASSERT_EQUAL(to_guest_data(&c, 123457, 3001, TCP_ACK, ""), 3001);
	CU_ASSERT_EQUAL(from_guest(&g, 3001, 123457, TCP_ACK, "z"), 3001);
	rw_fini(&rw);
}

/* The rewriter keeps no per-segment state: segments out of order and
 * sent again come out with the same shift and their payload intact. */
static void test_retransmit_and_reorder(void)
{
	static const uint32_t svm_seq[] = { 1011, 1001, 1006, 1001, 1011 };
	static const uint32_t cli_ack[] = { 1016, 1006, 1006, 1011, 1001 };
	struct np_flow c, g;

	setup();
	open_passive(&c, &g, 40012, 700, 1000, 5000);
	for (size_t i = 0; i < sizeof(svm_seq) / sizeof(svm_seq[0]); i++)
		CU_ASSERT_EQUAL(from_guest(&g, svm_seq[i], 701, TCP_ACK,
					   "chunk"), svm_seq[i] + 4000);
	for (size_t i = 0; i < sizeof(cli_ack) / sizeof(cli_ack[0]); i++) {
		struct frame_info fi;

		CU_ASSERT_EQUAL(to_guest_data(&c, 701, cli_ack[i] + 4000,
					      TCP_ACK, "more"), cli_ack[i]);
		CU_ASSERT_TRUE(npf_checksums_ok(inj.last, inj.last_len));
		CU_ASSERT_EQUAL_FATAL(frame_parse(inj.last, inj.last_len, &fi,
						  NULL), 0);
		CU_ASSERT_EQUAL(fi.seq, 701);
		CU_ASSERT_EQUAL(memcmp(inj.last + fi.payload_off, "more", 4),
				0);
	}
	CU_ASSERT_EQUAL(rw.st.out_rewritten, 5);
	rw_fini(&rw);
}

/* A tagged flow is shifted with its tag kept; the same 5-tuple on
 * another VLAN is another connection and is not. */
static void test_vlan(void)
{
	struct np_flow c, g, c2, g2;
	struct frame_info fi;

	setup();
	npf_flow(&c, false, 40013);
	c.vlan = 10;
	npf_reverse(&g, &c);
	to_guest(&c, 700, 0, TCP_SYN);
	from_guest(&g, 1000, 701, TCP_SYN | TCP_ACK, "");
	CU_ASSERT_EQUAL(to_guest_data(&c, 701, 5001, TCP_ACK, ""), 1001);
	CU_ASSERT_EQUAL_FATAL(frame_parse(inj.last, inj.last_len, &fi, NULL),
			      0);
	CU_ASSERT_EQUAL(fi.vlan, 10);
	CU_ASSERT_TRUE(npf_checksums_ok(inj.last, inj.last_len));
	CU_ASSERT_EQUAL(from_guest(&g, 1001, 701, TCP_ACK, "v"), 5001);
	c2 = c;
	c2.vlan = 20;
	npf_reverse(&g2, &c2);
	CU_ASSERT_EQUAL(from_guest(&g2, 1001, 701, TCP_ACK, "v"), 1001);
	CU_ASSERT_EQUAL(to_guest_data(&c2, 701, 5001, TCP_ACK, ""), 5001);
	rw_fini(&rw);
}

/* Sequence numbers and shifts that cross 2^32, both ways. */
static void test_wraparound(void)
{
	struct np_flow c, g;

	setup();
	/* offset 0x20: SVM numbers just below the wrap land just above. */
	open_passive(&c, &g, 40014, 0xfffffffeu, 0xfffffff0u, 0x10);
	CU_ASSERT_EQUAL(inj.n, 2);
	CU_ASSERT_EQUAL(field(inj.last, inj.last_len, 8), 0xfffffff1u);
	CU_ASSERT_EQUAL(from_guest(&g, 0xfffffff1u, 0xffffffffu, TCP_ACK,
				   "0123456789abcdef"), 0x11);
	CU_ASSERT_EQUAL(from_guest(&g, 0x1, 0, TCP_ACK, "x"), 0x21);
	CU_ASSERT_EQUAL(to_guest_data(&c, 0xffffffffu, 0x21, TCP_ACK, "y"),
			0x1);
	CU_ASSERT_TRUE(npf_checksums_ok(inj.last, inj.last_len));
	CU_ASSERT_EQUAL(to_guest_data(&c, 0, 0x5, TCP_ACK, ""), 0xffffffe5u);
	/* offset -0x20: SVM numbers just above the wrap land below it. */
	open_passive(&c, &g, 40015, 1, 0x10, 0xfffffff0u);
	CU_ASSERT_EQUAL(from_guest(&g, 0x11, 2, TCP_ACK, "z"), 0xfffffff1u);
	CU_ASSERT_EQUAL(from_guest(&g, 0x30, 2, TCP_ACK, "z"), 0x10);
	CU_ASSERT_EQUAL(to_guest_data(&c, 2, 0x10, TCP_ACK, ""), 0x30);
	CU_ASSERT_TRUE(npf_checksums_ok(inj.last, inj.last_len));
	rw_fini(&rw);
}

/* A frame that does not parse is passed on byte for byte (the SVM's own
 * stack judges it), counted, and leaves the connection alone: a broken
 * SYN does not reset a shift.  Nothing over FRAME_MAX is passed on. */
static void test_bad_frames(void)
{
	struct np_flow c, g;
	uint8_t b[256], orig[256], *big;
	size_t n;
	int before;

	setup();
	open_passive(&c, &g, 40016, 700, 1000, 5000);
	n = npf_tcp(b, &c, 9999, 0, TCP_SYN, "", 0);
	for (size_t cut = 10; cut < n; cut += 7) {
		before = inj.n;
		rw_to_guest(&rw, b, cut);
		CU_ASSERT_EQUAL(inj.n, before + 1);
		CU_ASSERT_EQUAL(inj.last_len, cut);
		CU_ASSERT_EQUAL(memcmp(inj.last, b, cut), 0);
	}
	CU_ASSERT_EQUAL(rw.st.bad_frames, (n - 10 + 6) / 7);
	/* An IPv4 total length beyond the frame, a TCP data offset
	 * beyond the segment: both untouched, going in and coming out. */
	n = npf_tcp(b, &c, 701, 5001, TCP_ACK, "data", 4);
	frame_put16(b + 16, 1000);
	rw_to_guest(&rw, b, n);
	CU_ASSERT_EQUAL(memcmp(inj.last, b, n), 0);
	n = npf_tcp(b, &g, 1001, 701, TCP_ACK, "data", 4);
	b[14 + 20 + 12] = 15 << 4;
	memcpy(orig, b, n);
	rw_from_guest(&rw, b, n);
	CU_ASSERT_EQUAL(memcmp(orig, b, n), 0);
	big = calloc(1, FRAME_MAX + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	before = inj.n;
	rw_to_guest(&rw, big, FRAME_MAX + 1);
	rw_from_guest(&rw, big, FRAME_MAX + 1);
	CU_ASSERT_EQUAL(inj.n, before);
	free(big);
	CU_ASSERT_EQUAL(from_guest(&g, 1001, 701, TCP_ACK, "ok"), 5001);
	CU_ASSERT_EQUAL(to_guest_data(&c, 701, 5003, TCP_ACK, ""), 1003);
	CU_ASSERT_EQUAL(rw.st.offsets_learned, 1);
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
		{ "syn retransmit keeps offset",
		  test_syn_retransmit_keeps_offset },
		{ "new syn resets offset", test_new_syn_resets_offset },
		{ "retransmit and reorder", test_retransmit_and_reorder },
		{ "vlan", test_vlan },
		{ "wraparound", test_wraparound },
		{ "bad frames", test_bad_frames },
		{ NULL, NULL },
	};

	unit_add_suite("netproxy rewriter", cases);
}
