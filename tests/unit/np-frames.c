/* Crafted frames for the netproxy tests: Ethernet, optional 802.1Q tag,
 * IPv4 or IPv6, TCP, UDP or ICMP, checksums computed from scratch. */
#include "config.h"
#include <string.h>
#include "frame.h"
#include "np-frames.h"

static const uint8_t mac_a[6] = { 0x52, 0x54, 0, 0, 0, 1 };
static const uint8_t mac_b[6] = { 0x52, 0x54, 0, 0, 0, 2 };

void npf_flow(struct np_flow *fl, bool v6, uint16_t client_port)
{
	memset(fl, 0, sizeof(*fl));
	fl->v6 = v6;
	if (v6) {
		const uint8_t p[4] = { 0x20, 0x01, 0x0d, 0xb8 };

		memcpy(fl->src, p, 4);
		memcpy(fl->dst, p, 4);
		fl->src[15] = 10;
		fl->dst[15] = 2;
	} else {
		const uint8_t c[4] = { 192, 0, 2, 10 }, g[4] = { 192, 0, 2, 2 };

		memcpy(fl->src, c, 4);
		memcpy(fl->dst, g, 4);
	}
	fl->sport = client_port;
	fl->dport = 6379;
	fl->ttl = 64;
}

void npf_reverse(struct np_flow *out, const struct np_flow *in)
{
	*out = *in;
	memcpy(out->src, in->dst, 16);
	memcpy(out->dst, in->src, 16);
	out->sport = in->dport;
	out->dport = in->sport;
}

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t s)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		s += (uint32_t)p[len - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint32_t pseudo(bool v6, const uint8_t *src, const uint8_t *dst,
		       uint8_t proto, size_t l4len)
{
	uint32_t s = 0;
	size_t alen = v6 ? 16 : 4;

	s = sum16(src, alen, s);
	s = sum16(dst, alen, s);
	return s + proto + (uint32_t)l4len;
}

/* Ethernet (+ tag) and IP headers; returns the L4 offset. */
static size_t put_ip(uint8_t *b, const struct np_flow *fl, uint8_t proto,
		     size_t l4len)
{
	size_t o = 12;

	memcpy(b, mac_b, 6);
	memcpy(b + 6, mac_a, 6);
	if (fl->vlan) {
		frame_put16(b + o, 0x8100);
		frame_put16(b + o + 2, fl->vlan);
		o += 4;
	}
	frame_put16(b + o, fl->v6 ? 0x86dd : 0x0800);
	o += 2;
	if (fl->v6) {
		memset(b + o, 0, 40);
		b[o] = 0x60;
		frame_put16(b + o + 4, (uint16_t)l4len);
		b[o + 6] = proto;
		b[o + 7] = fl->ttl;
		memcpy(b + o + 8, fl->src, 16);
		memcpy(b + o + 24, fl->dst, 16);
		return o + 40;
	}
	memset(b + o, 0, 20);
	b[o] = 0x45;
	frame_put16(b + o + 2, (uint16_t)(20 + l4len));
	frame_put16(b + o + 4, fl->ip_id);
	b[o + 8] = fl->ttl;
	b[o + 9] = proto;
	memcpy(b + o + 12, fl->src, 4);
	memcpy(b + o + 16, fl->dst, 4);
	frame_put16(b + o + 10, fold(sum16(b + o, 20, 0)));
	return o + 20;
}

size_t npf_tcp(uint8_t *b, const struct np_flow *fl, uint32_t seq,
	       uint32_t ack, uint8_t flags, const void *data, size_t len)
{
	size_t o = put_ip(b, fl, 6, 20 + len);
	uint8_t *t = b + o;

	memset(t, 0, 20);
	frame_put16(t, fl->sport);
	frame_put16(t + 2, fl->dport);
	frame_put32(t + 4, seq);
	frame_put32(t + 8, ack);
	t[12] = 5 << 4;
	t[13] = flags;
	frame_put16(t + 14, 65535);
	memcpy(t + 20, data, len);
	frame_put16(t + 16, fold(sum16(t, 20 + len,
			pseudo(fl->v6, fl->src, fl->dst, 6, 20 + len))));
	return o + 20 + len;
}

size_t npf_udp(uint8_t *b, const struct np_flow *fl, const void *data,
	       size_t len)
{
	size_t o = put_ip(b, fl, 17, 8 + len);
	uint8_t *u = b + o;

	frame_put16(u, fl->sport);
	frame_put16(u + 2, fl->dport);
	frame_put16(u + 4, (uint16_t)(8 + len));
	frame_put16(u + 6, 0);
	memcpy(u + 8, data, len);
	frame_put16(u + 6, fold(sum16(u, 8 + len,
			pseudo(fl->v6, fl->src, fl->dst, 17, 8 + len))));
	return o + 8 + len;
}

size_t npf_icmp(uint8_t *b, const struct np_flow *fl, uint8_t type,
		const void *body, size_t len)
{
	uint8_t proto = fl->v6 ? 58 : 1;
	size_t o = put_ip(b, fl, proto, 4 + len);
	uint8_t *m = b + o;
	uint32_t s = 0;

	/* Only ICMPv6 sums a pseudo-header. */
	if (fl->v6)
		s = pseudo(true, fl->src, fl->dst, proto, 4 + len);
	m[0] = type;
	m[1] = 0;
	frame_put16(m + 2, 0);
	memcpy(m + 4, body, len);
	frame_put16(m + 2, fold(sum16(m, 4 + len, s)));
	return o + 4 + len;
}

size_t npf_arp(uint8_t *b, uint8_t op)
{
	memset(b, 0, 60);
	memset(b, 0xff, 6);
	memcpy(b + 6, mac_a, 6);
	frame_put16(b + 12, 0x0806);
	frame_put16(b + 14, 1);
	frame_put16(b + 16, 0x0800);
	b[18] = 6;
	b[19] = 4;
	frame_put16(b + 20, op);
	return 60;
}

bool npf_checksums_ok(const uint8_t *f, size_t len)
{
	struct frame_info fi;
	size_t l4len;
	uint32_t s;

	if (frame_parse(f, len, &fi, NULL) < 0)
		return false;
	if (fi.ipver == 4 && fold(sum16(f + fi.l3_off, 20, 0)) != 0)
		return false;
	if (fi.kind != FRAME_TCP && fi.kind != FRAME_UDP &&
	    fi.kind != FRAME_ICMP)
		return true;
	l4len = fi.end - fi.l4_off;
	s = fi.kind == FRAME_ICMP && fi.ipver == 4 ? 0 :
		pseudo(fi.ipver == 6, fi.src, fi.dst, fi.proto, l4len);
	return fold(sum16(f + fi.l4_off, l4len, s)) == 0;
}
