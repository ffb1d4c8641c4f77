/* netproxy frame parser: every layer it reads, and every lie a length
 * field can tell. */
#include "config.h"
#include <errno.h>
#include <string.h>
#include "frame.h"
#include "np-frames.h"
#include "unit.h"

static void test_ipv4_tcp(void)
{
	uint8_t b[128];
	struct np_flow fl;
	struct frame_info fi;
	size_t n;

	npf_flow(&fl, false, 40000);
	n = npf_tcp(b, &fl, 0xfffffff0u, 77, TCP_ACK | TCP_PSH, "hi", 2);
	/* Ethernet pads to 60 bytes; the IP length marks the real end. */
	memset(b + n, 0xee, 60 - n);
	CU_ASSERT_EQUAL(frame_parse(b, 60, &fi, NULL), 0);
	CU_ASSERT_EQUAL(fi.kind, FRAME_TCP);
	CU_ASSERT_EQUAL(fi.ipver, 4);
	CU_ASSERT_EQUAL(fi.sport, 40000);
	CU_ASSERT_EQUAL(fi.dport, 6379);
	CU_ASSERT_EQUAL(fi.seq, 0xfffffff0u);
	CU_ASSERT_EQUAL(fi.ack, 77);
	CU_ASSERT_EQUAL(fi.payload_len, 2);
	CU_ASSERT_EQUAL(memcmp(b + fi.payload_off, "hi", 2), 0);
	CU_ASSERT_EQUAL(fi.end, n);
	CU_ASSERT_TRUE(npf_checksums_ok(b, n));
}

static void test_vlan_ipv6_udp(void)
{
	uint8_t b[256];
	struct np_flow fl;
	struct frame_info fi;
	size_t n;

	npf_flow(&fl, true, 5353);
	fl.vlan = 42;
	n = npf_udp(b, &fl, "payload", 7);
	CU_ASSERT_EQUAL(frame_parse(b, n, &fi, NULL), 0);
	CU_ASSERT_EQUAL(fi.kind, FRAME_UDP);
	CU_ASSERT_EQUAL(fi.vlan, 42);
	CU_ASSERT_EQUAL(fi.ipver, 6);
	CU_ASSERT_EQUAL(fi.payload_len, 7);
	CU_ASSERT_EQUAL(fi.src[15], 10);
	CU_ASSERT_TRUE(npf_checksums_ok(b, n));
}

/* A hop-by-hop options header between IPv6 and TCP. */
static void test_ipv6_extension(void)
{
	uint8_t b[256], t[256];
	struct np_flow fl;
	struct frame_info fi;
	size_t n, l4 = 14 + 40;

	npf_flow(&fl, true, 1234);
	n = npf_tcp(t, &fl, 1, 2, TCP_ACK, "xyz", 3);
	memcpy(b, t, l4);
	b[l4] = 6;		/* next: TCP */
	b[l4 + 1] = 0;		/* 8 bytes */
	memset(b + l4 + 2, 0, 6);
	memcpy(b + l4 + 8, t + l4, n - l4);
	b[14 + 6] = 0;		/* IPv6 next header: hop-by-hop */
	frame_put16(b + 14 + 4, (uint16_t)(n - l4 + 8));
	CU_ASSERT_EQUAL(frame_parse(b, n + 8, &fi, NULL), 0);
	CU_ASSERT_EQUAL(fi.kind, FRAME_TCP);
	CU_ASSERT_EQUAL(fi.l4_off, l4 + 8);
	CU_ASSERT_EQUAL(fi.payload_len, 3);
}

static void expect_bad(const uint8_t *b, size_t n, const char *what)
{
	struct frame_info fi;
	const char *why = NULL;

	CU_ASSERT_EQUAL(frame_parse(b, n, &fi, &why), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(why);
	if (why && !strstr(why, what))
		CU_FAIL("unexpected reason");
}

static void test_bad_lengths(void)
{
	uint8_t b[256], c[256];
	struct np_flow fl;
	size_t n;

	npf_flow(&fl, false, 1);
	n = npf_tcp(b, &fl, 1, 1, TCP_ACK, "abcd", 4);
	expect_bad(b, 13, "Ethernet");
	expect_bad(b, 14 + 10, "truncated IPv4");
	memcpy(c, b, n);
	c[14] = 0x4f;		/* 60-byte IP header */
	expect_bad(c, n, "IPv4 header length");
	memcpy(c, b, n);
	frame_put16(c + 16, 1500);
	expect_bad(c, n, "total length");
	memcpy(c, b, n);
	c[14 + 20 + 12] = 0x20;	/* data offset 8 bytes */
	expect_bad(c, n, "data offset");
	memcpy(c, b, n);
	c[14 + 20 + 12] = 0xf0;	/* 60 bytes > what is there */
	expect_bad(c, n, "data offset");
	expect_bad(b, 14 + 20 + 10, "total length");

	n = npf_udp(b, &fl, "u", 1);
	memcpy(c, b, n);
	frame_put16(c + 14 + 20 + 4, 200);
	expect_bad(c, n, "UDP length");

	npf_flow(&fl, true, 1);
	n = npf_udp(b, &fl, "u", 1);
	memcpy(c, b, n);
	frame_put16(c + 18, 4000);
	expect_bad(c, n, "IPv6 payload length");
	memcpy(c, b, n);
	c[14 + 6] = 60;		/* dest options, whose length runs over */
	c[14 + 40 + 1] = 200;
	expect_bad(c, n, "extension header");

	fl.vlan = 7;
	n = npf_udp(b, &fl, "u", 1);
	expect_bad(b, 16, "VLAN");
}

static void test_fragment_is_plain_ip(void)
{
	uint8_t b[128];
	struct np_flow fl;
	struct frame_info fi;
	size_t n;

	npf_flow(&fl, false, 9);
	n = npf_udp(b, &fl, "frag", 4);
	frame_put16(b + 14 + 6, 0x2000);	/* more fragments */
	CU_ASSERT_EQUAL(frame_parse(b, n, &fi, NULL), 0);
	CU_ASSERT_EQUAL(fi.kind, FRAME_IP);
	CU_ASSERT_EQUAL(fi.sport, 0);
}

/* The incremental update equals a checksum computed from scratch,
 * including the 0xffff / 0x0000 edge. */
static void test_csum_replace(void)
{
	uint8_t b[128];
	struct np_flow fl;
	struct frame_info fi;
	uint32_t vals[] = { 0, 1, 0xffffffffu, 0x80000000u, 0x12345678u };
	size_t n;

	npf_flow(&fl, false, 2);
	for (unsigned i = 0; i < 5; i++) {
		n = npf_tcp(b, &fl, 1000, 5, TCP_ACK, "data", 4);
		frame_parse(b, n, &fi, NULL);
		uint8_t *t = b + fi.l4_off;
		frame_put16(t + 16, frame_csum_replace32(frame_get16(t + 16),
				frame_get32(t + 4), vals[i]));
		frame_put32(t + 4, vals[i]);
		CU_ASSERT_TRUE(npf_checksums_ok(b, n));
	}
}

static void test_arp_is_neighbour(void)
{
	uint8_t b[64];
	struct frame_info fi;

	CU_ASSERT_EQUAL(frame_parse(b, npf_arp(b, 1), &fi, NULL), 0);
	CU_ASSERT_EQUAL(fi.kind, FRAME_L2);
	CU_ASSERT_TRUE(frame_is_neighbour(&fi));
}

void unit_suite_frame(void)
{
	static const struct unit_case cases[] = {
		{ "ipv4 tcp, padding", test_ipv4_tcp },
		{ "vlan ipv6 udp", test_vlan_ipv6_udp },
		{ "ipv6 extension header", test_ipv6_extension },
		{ "bad lengths", test_bad_lengths },
		{ "fragment", test_fragment_is_plain_ip },
		{ "incremental checksum", test_csum_replace },
		{ "arp", test_arp_is_neighbour },
		{ NULL, NULL },
	};

	unit_add_suite("netproxy frame", cases);
}
