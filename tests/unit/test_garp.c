/* netproxy takeover announcements: what the guest's addresses are
 * learned from, and the gratuitous ARP and unsolicited NA built from
 * them, checked field by field (the NA's checksum independently). */
#include "config.h"
#include <string.h>
#include "frame.h"
#include "garp.h"
#include "np-frames.h"
#include "unit.h"

static const uint8_t guest_v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 };

/* A frame the guest sent from 192.0.2.2 or 2001:db8::2. */
static size_t guest_frame(uint8_t *b, bool v6)
{
	struct np_flow c, g;

	npf_flow(&c, v6, 40000);
	npf_reverse(&g, &c);
	return npf_udp(b, &g, "x", 1);
}

static void test_nothing_learned(void)
{
	struct garp g = { 0 };
	uint8_t b[128];

	CU_ASSERT_EQUAL(garp_arp(&g, b), 0);
	CU_ASSERT_EQUAL(garp_na(&g, b), 0);
	/* An IPv4 guest announces no IPv6 address, and the other way. */
	garp_learn(&g, b, guest_frame(b, false));
	CU_ASSERT_EQUAL(garp_na(&g, b), 0);
	memset(&g, 0, sizeof(g));
	garp_learn(&g, b, guest_frame(b, true));
	CU_ASSERT_EQUAL(garp_arp(&g, b), 0);
}

static void test_gratuitous_arp(void)
{
	static const uint8_t ip[4] = { 192, 0, 2, 2 };
	struct garp g = { 0 };
	struct frame_info fi;
	uint8_t b[128], mac[6];
	size_t n;

	garp_learn(&g, b, guest_frame(b, false));
	memcpy(mac, b + 6, 6);
	memset(b, 0xaa, sizeof(b));
	n = garp_arp(&g, b);
	CU_ASSERT_EQUAL_FATAL(n, 60);
	CU_ASSERT_EQUAL(memcmp(b, "\xff\xff\xff\xff\xff\xff", 6), 0);
	CU_ASSERT_EQUAL(memcmp(b + 6, mac, 6), 0);
	CU_ASSERT_EQUAL(frame_get16(b + 12), 0x0806);
	CU_ASSERT_EQUAL(frame_get16(b + 14), 1);	/* Ethernet */
	CU_ASSERT_EQUAL(frame_get16(b + 16), 0x0800);
	CU_ASSERT_EQUAL(b[18], 6);
	CU_ASSERT_EQUAL(b[19], 4);
	CU_ASSERT_EQUAL(frame_get16(b + 20), 1);	/* request */
	CU_ASSERT_EQUAL(memcmp(b + 22, mac, 6), 0);
	CU_ASSERT_EQUAL(memcmp(b + 28, ip, 4), 0);
	CU_ASSERT_EQUAL(memcmp(b + 32, "\0\0\0\0\0\0", 6), 0);
	CU_ASSERT_EQUAL(memcmp(b + 38, ip, 4), 0);	/* target = sender */
	for (size_t i = 42; i < n; i++)
		CU_ASSERT_EQUAL(b[i], 0);		/* padding */
	CU_ASSERT_EQUAL(frame_parse(b, n, &fi, NULL), 0);
	CU_ASSERT_TRUE(frame_is_neighbour(&fi));
}

static void test_unsolicited_na(void)
{
	static const uint8_t all_nodes[16] = { 0xff, 0x02, [15] = 1 };
	struct garp g = { 0 };
	struct frame_info fi;
	uint8_t b[128], mac[6];
	const uint8_t *ip = b + 14, *na = b + 14 + 40;
	size_t n;

	garp_learn(&g, b, guest_frame(b, true));
	memcpy(mac, b + 6, 6);
	memset(b, 0xaa, sizeof(b));
	n = garp_na(&g, b);
	CU_ASSERT_EQUAL_FATAL(n, 14 + 40 + 32);
	CU_ASSERT_EQUAL(memcmp(b, "\x33\x33\0\0\0\x01", 6), 0);
	CU_ASSERT_EQUAL(memcmp(b + 6, mac, 6), 0);
	CU_ASSERT_EQUAL(frame_get16(b + 12), 0x86dd);
	CU_ASSERT_EQUAL(ip[0] >> 4, 6);
	CU_ASSERT_EQUAL(frame_get16(ip + 4), 32);
	CU_ASSERT_EQUAL(ip[6], 58);
	CU_ASSERT_EQUAL(ip[7], 255);	/* RFC 4861 7.1.2: else dropped */
	CU_ASSERT_EQUAL(memcmp(ip + 8, guest_v6, 16), 0);
	CU_ASSERT_EQUAL(memcmp(ip + 24, all_nodes, 16), 0);
	CU_ASSERT_EQUAL(na[0], 136);
	CU_ASSERT_EQUAL(na[1], 0);
	/* Override, neither router nor solicited (RFC 4861 4.4). */
	CU_ASSERT_EQUAL(frame_get32(na + 4), 0x20000000u);
	CU_ASSERT_EQUAL(memcmp(na + 8, guest_v6, 16), 0);
	CU_ASSERT_EQUAL(na[24], 2);	/* target link-layer address */
	CU_ASSERT_EQUAL(na[25], 1);	/* in units of 8 bytes */
	CU_ASSERT_EQUAL(memcmp(na + 26, mac, 6), 0);
	CU_ASSERT_TRUE(npf_checksums_ok(b, n));
	CU_ASSERT_EQUAL_FATAL(frame_parse(b, n, &fi, NULL), 0);
	CU_ASSERT_EQUAL(fi.kind, FRAME_ICMP);
	CU_ASSERT_EQUAL(fi.icmp_type, 136);
	CU_ASSERT_TRUE(frame_is_neighbour(&fi));
}

/* What does not name the guest's address is not learned from: a
 * multicast source, 0.0.0.0 (DHCP), ::, link-local IPv6, garbage. */
static void test_learn_filters(void)
{
	struct np_flow c, g;
	struct garp ga = { 0 };
	uint8_t b[128];
	size_t n;

	npf_flow(&c, false, 68);
	npf_reverse(&g, &c);
	memset(g.src, 0, 4);
	garp_learn(&ga, b, npf_udp(b, &g, "d", 1));
	CU_ASSERT_FALSE(ga.have_v4);
	npf_flow(&c, true, 546);
	npf_reverse(&g, &c);
	memset(g.src, 0, 16);
	garp_learn(&ga, b, npf_udp(b, &g, "d", 1));
	g.src[0] = 0xfe;
	g.src[1] = 0x80;
	g.src[15] = 2;
	garp_learn(&ga, b, npf_udp(b, &g, "d", 1));
	CU_ASSERT_FALSE(ga.have_v6);
	n = guest_frame(b, false);
	b[6] |= 1;
	garp_learn(&ga, b, n);
	CU_ASSERT_FALSE(ga.have_v4);
	garp_learn(&ga, b, 10);
	CU_ASSERT_FALSE(ga.have_v4);
	CU_ASSERT_EQUAL(garp_arp(&ga, b), 0);
	/* The sender of an ARP reply is the guest's address too. */
	memset(&ga, 0, sizeof(ga));
	n = npf_arp(b, 2);
	memcpy(b + 28, "\xc0\x00\x02\x02", 4);
	garp_learn(&ga, b, n);
	CU_ASSERT_TRUE(ga.have_v4);
	CU_ASSERT_EQUAL(memcmp(ga.v4, "\xc0\x00\x02\x02", 4), 0);
}

void unit_suite_garp(void)
{
	static const struct unit_case cases[] = {
		{ "nothing learned", test_nothing_learned },
		{ "gratuitous arp", test_gratuitous_arp },
		{ "unsolicited na", test_unsolicited_na },
		{ "learn filters", test_learn_filters },
		{ NULL, NULL },
	};

	unit_add_suite("netproxy garp", cases);
}
