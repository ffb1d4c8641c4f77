/* Gratuitous ARP and unsolicited NA: switches and clients learn where the
 * guest now lives without waiting for their caches to expire. */
#include "config.h"
#include <string.h>
#include "frame.h"
#include "garp.h"

void garp_learn(struct garp *g, const uint8_t *f, size_t len)
{
	struct frame_info fi;

	if (frame_parse(f, len, &fi, NULL) < 0 || (f[6] & 1))
		return;
	memcpy(g->mac, f + 6, 6);
	g->have_mac = true;
	if (fi.ipver == 4 && memcmp(fi.src, "\0\0\0\0", 4)) {
		memcpy(g->v4, fi.src, 4);
		g->have_v4 = true;
	} else if (fi.ipver == 6 && !(fi.src[0] == 0xfe &&
				      (fi.src[1] & 0xc0) == 0x80) &&
		   memcmp(fi.src, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16)) {
		memcpy(g->v6, fi.src, 16);	/* a global address */
		g->have_v6 = true;
	} else if (fi.ethertype == 0x0806 && len >= 42 &&
		   frame_get16(f + 20) == 2) {
		memcpy(g->v4, f + 28, 4);	/* the sender of a reply */
		g->have_v4 = true;
	}
}

size_t garp_arp(const struct garp *g, uint8_t *b)
{
	if (!g->have_mac || !g->have_v4)
		return 0;
	memset(b, 0, 60);
	memset(b, 0xff, 6);
	memcpy(b + 6, g->mac, 6);
	frame_put16(b + 12, 0x0806);
	frame_put16(b + 14, 1);		/* Ethernet */
	frame_put16(b + 16, 0x0800);
	b[18] = 6;
	b[19] = 4;
	frame_put16(b + 20, 1);		/* request: sender = target */
	memcpy(b + 22, g->mac, 6);
	memcpy(b + 28, g->v4, 4);
	memcpy(b + 38, g->v4, 4);
	return 60;
}

size_t garp_na(const struct garp *g, uint8_t *b)
{
	static const uint8_t all_nodes[16] = { 0xff, 2, [15] = 1 };
	uint8_t *ip = b + 14, *icmp = ip + 40;
	uint32_t s = 0;
	size_t plen = 32;	/* NA (24) + target link-layer option (8) */

	if (!g->have_mac || !g->have_v6)
		return 0;
	memset(b, 0, 14 + 40 + plen);
	b[0] = 0x33;
	b[1] = 0x33;
	b[5] = 1;
	memcpy(b + 6, g->mac, 6);
	frame_put16(b + 12, 0x86dd);
	ip[0] = 0x60;
	frame_put16(ip + 4, (uint16_t)plen);
	ip[6] = 58;
	ip[7] = 255;		/* RFC 4861: hop limit 255 */
	memcpy(ip + 8, g->v6, 16);
	memcpy(ip + 24, all_nodes, 16);
	icmp[0] = 136;
	icmp[4] = 0x20;		/* override */
	memcpy(icmp + 8, g->v6, 16);
	icmp[24] = 2;		/* target link-layer address */
	icmp[25] = 1;
	memcpy(icmp + 26, g->mac, 6);
	for (int i = 8; i < 40; i += 2)
		s += frame_get16(ip + i);
	s += (uint32_t)plen + 58;
	for (size_t i = 0; i < plen; i += 2)
		s += frame_get16(icmp + i);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	frame_put16(icmp + 2, (uint16_t)~s);
	return 14 + 40 + plen;
}
