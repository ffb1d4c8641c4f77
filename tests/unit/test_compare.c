/* netproxy comparator on crafted frame sequences: segmentation,
 * reordering, retransmits, sequence wraparound, FIN, TCP/UDP over
 * IPv6 and VLAN, ICMP, neighbour discovery, epochs, timeouts and every
 * bound. */
#include "config.h"
#include <string.h>
#include "compare.h"
#include "np-frames.h"
#include "unit.h"

struct sink {
	int released;
	size_t bytes;
	int requests[CMP_REASON__MAX];
	uint8_t last[2048];
	size_t last_len;
};

static void on_release(void *opaque, const uint8_t *f, size_t len)
{
	struct sink *s = opaque;

	s->released++;
	s->bytes += len;
	if (len <= sizeof(s->last)) {
		memcpy(s->last, f, len);
		s->last_len = len;
	}
}

static void on_request(void *opaque, enum cmp_reason why)
{
	struct sink *s = opaque;

	s->requests[why]++;
}

static struct comparator cmp;
static struct sink sink;
static uint64_t now;

static void setup(uint32_t max_queue, uint32_t max_conns)
{
	struct cmp_config cfg = { max_queue, max_conns, 100000 };

	memset(&sink, 0, sizeof(sink));
	now = 1000000;
	CU_ASSERT_EQUAL_FATAL(cmp_init(&cmp, &cfg, on_release, on_request,
				       &sink), 0);
}

/* A TCP segment from the guest (PVM or SVM). */
static void seg(enum cmp_side side, const struct np_flow *fl, uint32_t seq,
		uint8_t flags, const char *data)
{
	uint8_t b[2048];
	size_t n = npf_tcp(b, fl, seq, 1, flags | TCP_ACK, data, strlen(data));

	cmp_input(&cmp, side, b, n, now);
}

static void guest_flow(struct np_flow *g, bool v6, uint16_t port)
{
	struct np_flow c;

	npf_flow(&c, v6, port);
	npf_reverse(g, &c);
}

/* The same bytes cut differently on each side match. */
static void test_tcp_segmentation(void)
{
	struct np_flow g;

	setup(64, 16);
	guest_flow(&g, false, 1000);
	seg(CMP_PRIMARY, &g, 100, 0, "hello world");
	CU_ASSERT_EQUAL(sink.released, 0);
	seg(CMP_SECONDARY, &g, 100, 0, "hello ");
	CU_ASSERT_EQUAL(sink.released, 0);
	seg(CMP_SECONDARY, &g, 106, 0, "world");
	CU_ASSERT_EQUAL(sink.released, 1);
	CU_ASSERT_EQUAL(cmp.st.held[0], 0);
	CU_ASSERT_EQUAL(cmp.st.held[1], 0);
	CU_ASSERT_EQUAL(sink.requests[CMP_REASON_MISMATCH], 0);
	cmp_fini(&cmp);
}

/* The SVM's segments out of order, and a retransmit on each side. */
static void test_tcp_reorder_retransmit(void)
{
	struct np_flow g;

	setup(64, 16);
	guest_flow(&g, false, 1001);
	seg(CMP_SECONDARY, &g, 105, 0, "FGHIJ");
	seg(CMP_PRIMARY, &g, 100, 0, "ABCDE");
	seg(CMP_PRIMARY, &g, 105, 0, "FGHIJ");
	CU_ASSERT_EQUAL(sink.released, 0);
	seg(CMP_SECONDARY, &g, 100, 0, "ABCDE");
	CU_ASSERT_EQUAL(sink.released, 2);
	/* Retransmits of released bytes go out (P) or away (S) at once. */
	seg(CMP_PRIMARY, &g, 100, 0, "ABCDEFGHIJ");
	CU_ASSERT_EQUAL(sink.released, 3);
	CU_ASSERT_EQUAL(cmp.st.retransmits, 1);
	seg(CMP_SECONDARY, &g, 103, 0, "DEFG");
	CU_ASSERT_EQUAL(cmp.st.held[1], 0);
	/* A partial overlap: only the new part is compared. */
	seg(CMP_PRIMARY, &g, 108, 0, "IJKL");
	seg(CMP_SECONDARY, &g, 110, 0, "KL");
	CU_ASSERT_EQUAL(sink.released, 4);
	CU_ASSERT_EQUAL(sink.requests[CMP_REASON_MISMATCH], 0);
	cmp_fini(&cmp);
}

/* A stream that crosses 2^32, cut at the wrap on one side. */
static void test_tcp_wraparound(void)
{
	struct np_flow g;

	setup(64, 16);
	guest_flow(&g, false, 1002);
	seg(CMP_PRIMARY, &g, 0xfffffffau, TCP_SYN, "");
	CU_ASSERT_EQUAL(sink.released, 1);	/* SYN: not compared */
	seg(CMP_PRIMARY, &g, 0xfffffffbu, 0, "0123456789");
	seg(CMP_SECONDARY, &g, 0xfffffffbu, 0, "01234");
	CU_ASSERT_EQUAL(sink.released, 1);
	seg(CMP_SECONDARY, &g, 0, 0, "56789");
	CU_ASSERT_EQUAL(sink.released, 2);
	seg(CMP_PRIMARY, &g, 5, 0, "more");
	seg(CMP_SECONDARY, &g, 5, 0, "more");
	CU_ASSERT_EQUAL(sink.released, 3);
	/* Old data from before the wrap is a retransmit, not new. */
	seg(CMP_PRIMARY, &g, 0xfffffffbu, 0, "01");
	CU_ASSERT_EQUAL(sink.released, 4);
	CU_ASSERT_EQUAL(cmp.st.retransmits, 1);
	CU_ASSERT_EQUAL(sink.requests[CMP_REASON_MISMATCH], 0);
	cmp_fini(&cmp);
}

static void test_tcp_mismatch_then_commit(void)
{
	struct np_flow g;

	setup(64, 16);
	guest_flow(&g, false, 1003);
	seg(CMP_PRIMARY, &g, 100, 0, "$5\r\nhello");
	seg(CMP_SECONDARY, &g, 100, 0, "$5\r\nHELLO");
	CU_ASSERT_EQUAL(sink.released, 0);
	CU_ASSERT_EQUAL(sink.requests[CMP_REASON_MISMATCH], 1);
	CU_ASSERT_EQUAL(cmp.st.mismatched[FRAME_TCP], 1);
	/* Nothing more is compared on the connection in this epoch. */
	seg(CMP_PRIMARY, &g, 109, 0, "!");
	seg(CMP_SECONDARY, &g, 109, 0, "!");
	CU_ASSERT_EQUAL(sink.released, 0);
	cmp_paused(&cmp, 1);
	seg(CMP_PRIMARY, &g, 110, 0, "next");	/* epoch 1 */
	cmp_committed(&cmp, 1, now);
	CU_ASSERT_EQUAL(sink.released, 2);	/* epoch 0 frames */
	CU_ASSERT_EQUAL(cmp.st.by_checkpoint, 2);
	CU_ASSERT_EQUAL(cmp.st.held[0], 1);
	/* The SVM's epoch-0 frames go when it loads checkpoint 1; after it,
	 * its frames compare with the PVM's epoch 1. */
	seg(CMP_SECONDARY, &g, 110, 0, "next");	/* still epoch 0 */
	CU_ASSERT_EQUAL(sink.released, 2);
	cmp_secondary_loaded(&cmp, 1, now);
	CU_ASSERT_EQUAL(cmp.st.held[1], 0);
	seg(CMP_SECONDARY, &g, 110, 0, "next");
	CU_ASSERT_EQUAL(sink.released, 3);
	CU_ASSERT_EQUAL(sink.requests[CMP_REASON_MISMATCH], 1);
	cmp_fini(&cmp);
}

/* The speculative-resume window: the PVM runs ahead in epoch 5 while
 * the SVM still sends epoch-4 output; neither is compared across. */
static void test_epochs_do_not_mix(void)
{
	struct np_flow g;

	setup(64, 16);
	guest_flow(&g, false, 1004);
	cmp_paused(&cmp, 4);
	cmp_secondary_loaded(&cmp, 4, now);
	seg(CMP_PRIMARY, &g, 100, 0, "aaaa");
	seg(CMP_SECONDARY, &g, 100, 0, "aaaa");
	CU_ASSERT_EQUAL(sink.released, 1);
	cmp_paused(&cmp, 5);
	seg(CMP_PRIMARY, &g, 104, 0, "bbbb");	/* PVM epoch 5 */
	seg(CMP_SECONDARY, &g, 104, 0, "bbbb");	/* SVM epoch 4: no match */
	CU_ASSERT_EQUAL(sink.released, 1);
	cmp_committed(&cmp, 5, now);
	CU_ASSERT_EQUAL(sink.released, 1);	/* "bbbb" is epoch 5 */
	cmp_secondary_loaded(&cmp, 5, now);
	CU_ASSERT_EQUAL(sink.released, 1);
	seg(CMP_SECONDARY, &g, 104, 0, "bbbb");
	CU_ASSERT_EQUAL(sink.released, 2);
	CU_ASSERT_EQUAL(sink.requests[CMP_REASON_MISMATCH], 0);
	cmp_fini(&cmp);
}

static void test_tcp_fin_and_acks(void)
{
	struct np_flow g;

	setup(64, 16);
	guest_flow(&g, false, 1005);
	seg(CMP_SECONDARY, &g, 96, 0, "");	/* the SVM acks 1 */
	seg(CMP_PRIMARY, &g, 100, 0, "data");
	/* A pure ACK is released at once, even behind held data. */
	seg(CMP_PRIMARY, &g, 104, 0, "");
	CU_ASSERT_EQUAL(sink.released, 1);
	CU_ASSERT_EQUAL(cmp.st.unchecked, 1);
	seg(CMP_SECONDARY, &g, 100, 0, "data");
	seg(CMP_PRIMARY, &g, 104, TCP_FIN, "end");
	seg(CMP_SECONDARY, &g, 104, TCP_FIN, "end");
	CU_ASSERT_EQUAL(sink.released, 3);
	CU_ASSERT_EQUAL(sink.requests[CMP_REASON_MISMATCH], 0);
	/* One side closes where the other sends more: a mismatch. */
	guest_flow(&g, false, 1006);
	seg(CMP_PRIMARY, &g, 200, TCP_FIN, "ab");
	seg(CMP_SECONDARY, &g, 200, 0, "abc");
	CU_ASSERT_EQUAL(sink.requests[CMP_REASON_MISMATCH], 1);
	cmp_fini(&cmp);
}

/* The PVM never acknowledges client data that the SVM has not: a pure
 * ACK, and a matched segment, wait for the SVM's ack. */
static void test_tcp_ack_gate(void)
{
	struct np_flow g;
	uint8_t b[256];
	size_t n;

	setup(64, 16);
	guest_flow(&g, false, 1007);
	n = npf_tcp(b, &g, 100, 500, TCP_ACK, "", 0);
	cmp_input(&cmp, CMP_PRIMARY, b, n, now);
	CU_ASSERT_EQUAL(sink.released, 0);
	n = npf_tcp(b, &g, 100, 400, TCP_ACK, "", 0);
	cmp_input(&cmp, CMP_SECONDARY, b, n, now);
	CU_ASSERT_EQUAL(sink.released, 0);	/* 400 < 500 */
	n = npf_tcp(b, &g, 100, 500, TCP_ACK, "", 0);
	cmp_input(&cmp, CMP_SECONDARY, b, n, now);
	CU_ASSERT_EQUAL(sink.released, 1);
	/* Same bytes, but the PVM acks more input than the SVM has. */
	n = npf_tcp(b, &g, 100, 600, TCP_ACK, "+OK\r\n", 5);
	cmp_input(&cmp, CMP_PRIMARY, b, n, now);
	n = npf_tcp(b, &g, 100, 550, TCP_ACK, "+OK\r\n", 5);
	cmp_input(&cmp, CMP_SECONDARY, b, n, now);
	CU_ASSERT_EQUAL(sink.released, 1);
	CU_ASSERT_EQUAL(sink.requests[CMP_REASON_MISMATCH], 0);
	n = npf_tcp(b, &g, 105, 600, TCP_ACK, "", 0);
	cmp_input(&cmp, CMP_SECONDARY, b, n, now);
	CU_ASSERT_EQUAL(sink.released, 2);
	CU_ASSERT_EQUAL(cmp.st.held[0], 0);
	cmp_fini(&cmp);
}

static void udp(enum cmp_side side, const struct np_flow *fl, const char *d)
{
	uint8_t b[2048];

	cmp_input(&cmp, side, b, npf_udp(b, fl, d, strlen(d)), now);
}

/* UDP payloads compare; ID, TTL and checksum may differ. */
static void test_udp_ipv4_ipv6_vlan(void)
{
	struct np_flow g, g2;

	setup(64, 16);
	guest_flow(&g, false, 53);
	g2 = g;
	g2.ip_id = 999;
	g2.ttl = 3;
	udp(CMP_PRIMARY, &g, "one");
	udp(CMP_SECONDARY, &g2, "one");
	CU_ASSERT_EQUAL(sink.released, 1);
	udp(CMP_PRIMARY, &g, "two");
	udp(CMP_SECONDARY, &g, "TWO");
	CU_ASSERT_EQUAL(sink.requests[CMP_REASON_MISMATCH], 1);

	guest_flow(&g, true, 54);
	g.vlan = 10;
	udp(CMP_PRIMARY, &g, "v6");
	g2 = g;
	g2.vlan = 11;		/* another VLAN is another flow */
	udp(CMP_SECONDARY, &g2, "v6");
	CU_ASSERT_EQUAL(sink.released, 1);
	udp(CMP_SECONDARY, &g, "v6");
	CU_ASSERT_EQUAL(sink.released, 2);
	CU_ASSERT_EQUAL(cmp.st.matched[FRAME_UDP], 2);
	cmp_fini(&cmp);
}

/* A mismatch seen while a checkpoint is under way, in an epoch that
 * checkpoint does not cover, is asked for again when it commits. */
static void test_mismatch_during_checkpoint(void)
{
	struct np_flow g;

	setup(64, 16);
	guest_flow(&g, false, 1010);
	cmp_paused(&cmp, 1);
	cmp_secondary_loaded(&cmp, 1, now);
	udp(CMP_PRIMARY, &g, "a");
	udp(CMP_SECONDARY, &g, "b");
	CU_ASSERT_EQUAL(sink.requests[CMP_REASON_MISMATCH], 1);
	/* Checkpoint 2 answers it; the SVM's load mark beats the commit. */
	cmp_paused(&cmp, 2);
	cmp_secondary_loaded(&cmp, 2, now);
	udp(CMP_PRIMARY, &g, "c");
	udp(CMP_SECONDARY, &g, "d");	/* merged into the pending one */
	CU_ASSERT_EQUAL(sink.requests[CMP_REASON_MISMATCH], 1);
	cmp_committed(&cmp, 2, now);	/* "a" goes; "c" (epoch 2) stays */
	CU_ASSERT_EQUAL(sink.released, 1);
	CU_ASSERT_EQUAL(sink.requests[CMP_REASON_MISMATCH], 2);
	cmp_fini(&cmp);
}

static void test_timeout(void)
{
	struct np_flow g;

	setup(64, 16);
	guest_flow(&g, false, 55);
	udp(CMP_PRIMARY, &g, "lonely");
	cmp_tick(&cmp, now + 50000);
	CU_ASSERT_EQUAL(sink.requests[CMP_REASON_TIMEOUT], 0);
	cmp_tick(&cmp, now + 100000);
	CU_ASSERT_EQUAL(sink.requests[CMP_REASON_TIMEOUT], 1);
	CU_ASSERT_EQUAL(cmp.st.timed_out[FRAME_UDP], 1);
	/* Asked once until a commit, and counted once. */
	cmp_tick(&cmp, now + 200000);
	CU_ASSERT_EQUAL(sink.requests[CMP_REASON_TIMEOUT], 1);
	CU_ASSERT_EQUAL(cmp.st.timed_out[FRAME_UDP], 1);
	cmp_paused(&cmp, 1);
	cmp_committed(&cmp, 1, now + 250000);
	CU_ASSERT_EQUAL(sink.released, 1);
	CU_ASSERT_EQUAL(sink.requests[CMP_REASON_TIMEOUT], 1);
	/* The hold time lands in the 2^17..2^18 us bucket. */
	CU_ASSERT_EQUAL(cmp.st.latency[17], 1);
	cmp_fini(&cmp);
}

static void test_bounds(void)
{
	struct np_flow g;

	setup(4, 2);
	guest_flow(&g, false, 56);
	for (int i = 0; i < 6; i++)
		udp(CMP_PRIMARY, &g, "x");
	CU_ASSERT_EQUAL(cmp.st.held[0], 4);
	CU_ASSERT_EQUAL(cmp.st.overflow[0], 2);
	CU_ASSERT_EQUAL(sink.requests[CMP_REASON_QUEUE_FULL], 1);
	/* Two more flows: the least recently used one goes, counted. */
	guest_flow(&g, false, 57);
	udp(CMP_PRIMARY, &g, "y");
	guest_flow(&g, false, 58);
	udp(CMP_PRIMARY, &g, "z");
	CU_ASSERT_EQUAL(cmp.ct.n, 2);
	CU_ASSERT_EQUAL(cmp.st.evicted, 1);
	CU_ASSERT_EQUAL(cmp.st.evicted_held, 4);
	CU_ASSERT_EQUAL(cmp.st.held[0], 2);
	CU_ASSERT_EQUAL(sink.released, 0);	/* never released unchecked */
	cmp_fini(&cmp);
}

static void test_arp_and_garbage(void)
{
	uint8_t b[128];
	struct np_flow g;
	size_t n;

	setup(64, 16);
	cmp_input(&cmp, CMP_PRIMARY, b, npf_arp(b, 2), now);
	CU_ASSERT_EQUAL(sink.released, 1);
	cmp_input(&cmp, CMP_SECONDARY, b, npf_arp(b, 2), now);
	CU_ASSERT_EQUAL(cmp.st.held[1], 0);
	/* A frame whose IPv4 length lies is compared as opaque bytes. */
	guest_flow(&g, false, 59);
	n = npf_udp(b, &g, "bad", 3);
	frame_put16(b + 16, 1000);
	cmp_input(&cmp, CMP_PRIMARY, b, n, now);
	CU_ASSERT_EQUAL(sink.released, 1);
	cmp_input(&cmp, CMP_SECONDARY, b, n, now);
	CU_ASSERT_EQUAL(sink.released, 2);
	CU_ASSERT_EQUAL(cmp.st.bad_frames[0], 1);
	cmp_input(&cmp, CMP_PRIMARY, b, 10, now);	/* runt */
	CU_ASSERT_EQUAL(cmp.st.bad_frames[0], 2);
	CU_ASSERT_EQUAL(sink.released, 2);
	cmp_fini(&cmp);
}

static void test_passthrough(void)
{
	struct np_flow g;

	setup(64, 16);
	guest_flow(&g, false, 60);
	seg(CMP_PRIMARY, &g, 1, 0, "held");
	udp(CMP_PRIMARY, &g, "held too");
	udp(CMP_SECONDARY, &g, "other");
	cmp_set_passthrough(&cmp, true, now);
	CU_ASSERT_EQUAL(sink.released, 2);
	CU_ASSERT_EQUAL(cmp.st.held[0] + cmp.st.held[1], 0);
	seg(CMP_PRIMARY, &g, 5, 0, "free");
	CU_ASSERT_EQUAL(sink.released, 3);
	cmp_fini(&cmp);
}

/* Other IP (here a fragment): ID, TTL and checksum may differ, and the
 * frame released is the PVM's, untouched. */
static void test_other_ip_masked_not_changed(void)
{
	struct np_flow g, g2;
	uint8_t b[256], orig[256];
	size_t n;

	setup(64, 16);
	guest_flow(&g, false, 61);
	g.ip_id = 1;
	n = npf_udp(b, &g, "fragment", 8);
	frame_put16(b + 14 + 6, 0x2000);	/* more fragments follow */
	memcpy(orig, b, n);
	cmp_input(&cmp, CMP_PRIMARY, b, n, now);
	g2 = g;
	g2.ip_id = 2;
	g2.ttl = 3;
	n = npf_udp(b, &g2, "fragment", 8);
	frame_put16(b + 14 + 6, 0x2000);
	cmp_input(&cmp, CMP_SECONDARY, b, n, now);
	CU_ASSERT_EQUAL(sink.released, 1);
	CU_ASSERT_EQUAL(cmp.st.matched[FRAME_IP], 1);
	CU_ASSERT_EQUAL(sink.last_len, n);
	CU_ASSERT_EQUAL(memcmp(sink.last, orig, n), 0);
	cmp_fini(&cmp);
}

/* A PVM reset waits behind held data; it is not compared. */
static void test_rst_keeps_order(void)
{
	struct np_flow g;
	uint8_t b[256];
	size_t n;

	setup(64, 16);
	guest_flow(&g, false, 62);
	seg(CMP_PRIMARY, &g, 100, 0, "reply");
	n = npf_tcp(b, &g, 105, 1, TCP_RST | TCP_ACK, "", 0);
	cmp_input(&cmp, CMP_PRIMARY, b, n, now);
	CU_ASSERT_EQUAL(sink.released, 0);
	seg(CMP_SECONDARY, &g, 100, 0, "reply");
	CU_ASSERT_EQUAL(sink.released, 2);
	CU_ASSERT_TRUE(sink.last[14 + 20 + 13] & TCP_RST);	/* last out */
	cmp_fini(&cmp);
}

/* After the SVM loads a checkpoint, its old acks count for nothing. */
static void test_ack_gate_reset_on_load(void)
{
	struct np_flow g;
	uint8_t b[256];
	size_t n;

	setup(64, 16);
	guest_flow(&g, false, 63);
	n = npf_tcp(b, &g, 100, 900, TCP_ACK, "", 0);
	cmp_input(&cmp, CMP_SECONDARY, b, n, now);
	cmp_paused(&cmp, 1);
	cmp_secondary_loaded(&cmp, 1, now);
	n = npf_tcp(b, &g, 100, 800, TCP_ACK, "", 0);
	cmp_input(&cmp, CMP_PRIMARY, b, n, now);
	CU_ASSERT_EQUAL(sink.released, 0);
	n = npf_tcp(b, &g, 100, 800, TCP_ACK, "", 0);
	cmp_input(&cmp, CMP_SECONDARY, b, n, now);
	CU_ASSERT_EQUAL(sink.released, 1);
	cmp_fini(&cmp);
}

/* TCP over IPv6 and over a VLAN: the same stream rules, and a tag or
 * an address is part of the flow. */
static void test_tcp_ipv6_vlan(void)
{
	struct np_flow g, g2;

	setup(64, 16);
	guest_flow(&g, true, 1020);
	seg(CMP_PRIMARY, &g, 0xfffffffeu, 0, "abcdef");
	seg(CMP_SECONDARY, &g, 0xfffffffeu, 0, "abc");
	CU_ASSERT_EQUAL(sink.released, 0);
	seg(CMP_SECONDARY, &g, 1, 0, "def");
	CU_ASSERT_EQUAL(sink.released, 1);
	seg(CMP_PRIMARY, &g, 4, 0, "ghi");
	seg(CMP_SECONDARY, &g, 4, 0, "GHI");
	CU_ASSERT_EQUAL(sink.requests[CMP_REASON_MISMATCH], 1);
	cmp_fini(&cmp);

	setup(64, 16);
	guest_flow(&g, false, 1021);
	g.vlan = 7;
	g2 = g;
	g2.vlan = 8;
	seg(CMP_PRIMARY, &g, 100, 0, "tagged");
	seg(CMP_SECONDARY, &g2, 100, 0, "tagged");	/* another flow */
	CU_ASSERT_EQUAL(sink.released, 0);
	seg(CMP_SECONDARY, &g, 100, 0, "tag");
	seg(CMP_SECONDARY, &g, 103, 0, "ged");
	CU_ASSERT_EQUAL(sink.released, 1);
	CU_ASSERT_EQUAL(frame_get16(sink.last + 12), 0x8100);	/* kept */
	CU_ASSERT_EQUAL(cmp.st.held[0], 0);
	CU_ASSERT_EQUAL(sink.requests[CMP_REASON_MISMATCH], 0);
	cmp_fini(&cmp);
}

static void ping(enum cmp_side side, const struct np_flow *fl, uint8_t type,
		 uint16_t seq, const char *data)
{
	uint8_t body[256], b[512];
	size_t len = strlen(data);

	frame_put16(body, 0x1234);	/* identifier */
	frame_put16(body + 2, seq);
	memcpy(body + 4, data, len);
	cmp_input(&cmp, side, b, npf_icmp(b, fl, type, body, 4 + len), now);
}

/* Echo replies that differ in IP ID and TTL (hop limit) only match: the
 * ICMP message is compared, not the IP header; the PVM's goes out. */
static void test_icmp_echo_header_fields(void)
{
	struct np_flow g, g2;
	uint8_t want[512], body[8] = { 0x12, 0x34, 0, 1, 'p', 'i', 'n', 'g' };
	size_t n;

	setup(64, 16);
	guest_flow(&g, false, 0);
	g.ip_id = 100;
	g2 = g;
	g2.ip_id = 7;
	g2.ttl = 128;
	ping(CMP_PRIMARY, &g, 0, 1, "ping");
	CU_ASSERT_EQUAL(sink.released, 0);
	ping(CMP_SECONDARY, &g2, 0, 1, "ping");
	CU_ASSERT_EQUAL(sink.released, 1);
	n = npf_icmp(want, &g, 0, body, sizeof(body));
	CU_ASSERT_EQUAL(sink.last_len, n);
	CU_ASSERT_EQUAL(memcmp(sink.last, want, n), 0);
	CU_ASSERT_EQUAL(cmp.st.matched[FRAME_ICMP], 1);
	/* The body is compared. */
	ping(CMP_PRIMARY, &g, 0, 2, "ping");
	ping(CMP_SECONDARY, &g2, 0, 2, "pong");
	CU_ASSERT_EQUAL(sink.requests[CMP_REASON_MISMATCH], 1);
	CU_ASSERT_EQUAL(cmp.st.mismatched[FRAME_ICMP], 1);

	guest_flow(&g, true, 0);
	g2 = g;
	g2.ttl = 1;
	ping(CMP_PRIMARY, &g, 129, 1, "six");
	ping(CMP_SECONDARY, &g2, 129, 1, "six");
	CU_ASSERT_EQUAL(sink.released, 2);
	CU_ASSERT_EQUAL(cmp.st.matched[FRAME_ICMP], 2);
	cmp_fini(&cmp);
}

/* Neighbour advertisements are the PVM's to send: released at once,
 * never compared, the SVM's dropped (as ARP is). */
static void test_ndp_unchecked(void)
{
	struct np_flow g;
	uint8_t b[256], body[28] = { 0x60 }, other[28] = { 0x20 };

	setup(64, 16);
	guest_flow(&g, true, 0);
	g.ttl = 255;
	cmp_input(&cmp, CMP_PRIMARY, b, npf_icmp(b, &g, 136, body, sizeof(body)),
		  now);
	CU_ASSERT_EQUAL(sink.released, 1);
	CU_ASSERT_EQUAL(cmp.st.unchecked, 1);
	cmp_input(&cmp, CMP_SECONDARY, b,
		  npf_icmp(b, &g, 136, other, sizeof(other)), now);
	CU_ASSERT_EQUAL(sink.released, 1);
	CU_ASSERT_EQUAL(cmp.st.held[0] + cmp.st.held[1], 0);
	CU_ASSERT_EQUAL(cmp.st.svm_dropped, 1);
	CU_ASSERT_EQUAL(sink.requests[CMP_REASON_MISMATCH], 0);
	cmp_fini(&cmp);
}

void unit_suite_compare(void)
{
	static const struct unit_case cases[] = {
		{ "tcp segmentation", test_tcp_segmentation },
		{ "tcp reorder and retransmit", test_tcp_reorder_retransmit },
		{ "tcp wraparound", test_tcp_wraparound },
		{ "tcp mismatch, commit", test_tcp_mismatch_then_commit },
		{ "epochs", test_epochs_do_not_mix },
		{ "mismatch during a checkpoint", test_mismatch_during_checkpoint },
		{ "tcp fin and acks", test_tcp_fin_and_acks },
		{ "tcp ack gate", test_tcp_ack_gate },
		{ "udp ipv4 ipv6 vlan", test_udp_ipv4_ipv6_vlan },
		{ "timeout", test_timeout },
		{ "queue and table bounds", test_bounds },
		{ "arp and garbage", test_arp_and_garbage },
		{ "passthrough", test_passthrough },
		{ "other ip masked, not changed",
		  test_other_ip_masked_not_changed },
		{ "rst keeps order", test_rst_keeps_order },
		{ "ack gate reset on load", test_ack_gate_reset_on_load },
		{ "tcp ipv6 and vlan", test_tcp_ipv6_vlan },
		{ "icmp echo header fields", test_icmp_echo_header_fields },
		{ "ndp unchecked", test_ndp_unchecked },
		{ NULL, NULL },
	};

	unit_add_suite("netproxy compare", cases);
}
