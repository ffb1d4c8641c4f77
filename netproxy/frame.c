/* Ethernet frame parsing: every header length is checked against what the
 * frame holds, so a lying length field is an error, never an overread. */
#include "config.h"
#include <errno.h>
#include <string.h>
#include "frame.h"

#define ETH_P_IP 0x0800
#define ETH_P_ARP 0x0806
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88a8
#define ETH_P_IPV6 0x86dd

uint16_t frame_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

uint32_t frame_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

void frame_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void frame_put32(uint8_t *p, uint32_t v)
{
	frame_put16(p, (uint16_t)(v >> 16));
	frame_put16(p + 2, (uint16_t)v);
}

static int fail(const char **why, const char *msg)
{
	if (why)
		*why = msg;
	return -EINVAL;
}

/* Ports (or the echo identifier, so that pings pair up) and the payload. */
static int parse_l4(const uint8_t *f, struct frame_info *fi, const char **why)
{
	uint32_t off = fi->l4_off, avail = fi->end - off;

	switch (fi->proto) {
	case 6: {
		uint32_t hl;

		if (avail < 20)
			return fail(why, "truncated TCP header");
		hl = (uint32_t)(f[off + 12] >> 4) * 4;
		if (hl < 20 || hl > avail)
			return fail(why, "bad TCP data offset");
		fi->kind = FRAME_TCP;
		fi->sport = frame_get16(f + off);
		fi->dport = frame_get16(f + off + 2);
		fi->seq = frame_get32(f + off + 4);
		fi->ack = frame_get32(f + off + 8);
		fi->tcp_flags = f[off + 13];
		fi->payload_off = off + hl;
		fi->payload_len = avail - hl;
		return 0;
	}
	case 17: {
		uint32_t ul;

		if (avail < 8)
			return fail(why, "truncated UDP header");
		ul = frame_get16(f + off + 4);
		if (ul < 8 || ul > avail)
			return fail(why, "bad UDP length");
		fi->kind = FRAME_UDP;
		fi->sport = frame_get16(f + off);
		fi->dport = frame_get16(f + off + 2);
		fi->payload_off = off + 8;
		fi->payload_len = ul - 8;
		return 0;
	}
	case 1:
	case 58: {
		uint8_t t;

		if (avail < 4)
			return fail(why, "truncated ICMP header");
		t = f[off];
		fi->kind = FRAME_ICMP;
		fi->icmp_type = t;
		if ((fi->proto == 1 && (t == 0 || t == 8)) ||
		    (fi->proto == 58 && (t == 128 || t == 129))) {
			if (avail < 8)
				return fail(why, "truncated ICMP echo");
			fi->sport = fi->dport = frame_get16(f + off + 4);
		}
		/* The type, code and body are compared; the checksum follows
		 * from them. */
		fi->payload_off = off;
		fi->payload_len = avail;
		return 0;
	}
	default:
		fi->kind = FRAME_IP;
		fi->payload_off = off;
		fi->payload_len = avail;
		return 0;
	}
}

static int parse_ipv4(const uint8_t *f, struct frame_info *fi,
		      const char **why)
{
	uint32_t off = fi->l3_off, avail = fi->end - off, hl, tot;

	if (avail < 20)
		return fail(why, "truncated IPv4 header");
	if (f[off] >> 4 != 4)
		return fail(why, "IPv4 ethertype with another IP version");
	hl = (uint32_t)(f[off] & 15) * 4;
	tot = frame_get16(f + off + 2);
	if (hl < 20 || hl > avail)
		return fail(why, "bad IPv4 header length");
	if (tot < hl || tot > avail)
		return fail(why, "bad IPv4 total length");
	fi->ipver = 4;
	fi->proto = f[off + 9];
	memcpy(fi->src, f + off + 12, 4);
	memcpy(fi->dst, f + off + 16, 4);
	fi->end = off + tot;	/* drops the Ethernet minimum-size padding */
	fi->l4_off = off + hl;
	/* A fragment (more to come, or a later piece) has no whole L4
	 * segment: it is compared as plain IP. */
	if (frame_get16(f + off + 6) & 0x3fff) {
		fi->kind = FRAME_IP;
		fi->payload_off = fi->l4_off;
		fi->payload_len = fi->end - fi->l4_off;
		return 0;
	}
	return parse_l4(f, fi, why);
}

static int parse_ipv6(const uint8_t *f, struct frame_info *fi,
		      const char **why)
{
	uint32_t off = fi->l3_off, avail = fi->end - off, plen, at;
	uint8_t next;

	if (avail < 40)
		return fail(why, "truncated IPv6 header");
	if (f[off] >> 4 != 6)
		return fail(why, "IPv6 ethertype with another IP version");
	plen = frame_get16(f + off + 4);
	if (plen == 0 || plen > avail - 40)
		return fail(why, "bad IPv6 payload length");
	fi->ipver = 6;
	memcpy(fi->src, f + off + 8, 16);
	memcpy(fi->dst, f + off + 24, 16);
	fi->end = off + 40 + plen;
	next = f[off + 6];
	at = off + 40;
	/* Walk the extension headers; a bounded count stops a chain of
	 * tiny headers from costing more than the frame is worth. */
	for (int i = 0; i < 8; i++) {
		uint32_t hl;

		if (next != 0 && next != 43 && next != 60 && next != 44 &&
		    next != 51)
			break;
		if (fi->end - at < 8)
			return fail(why, "truncated IPv6 extension header");
		if (next == 44) {
			fi->proto = f[at];
			fi->kind = FRAME_IP;
			fi->l4_off = at;
			fi->payload_off = at;
			fi->payload_len = fi->end - at;
			return 0;
		}
		hl = next == 51 ? ((uint32_t)f[at + 1] + 2) * 4 :
				  ((uint32_t)f[at + 1] + 1) * 8;
		if (hl > fi->end - at)
			return fail(why, "bad IPv6 extension header length");
		next = f[at];
		at += hl;
	}
	fi->proto = next;
	fi->l4_off = at;
	return parse_l4(f, fi, why);
}

int frame_parse(const uint8_t *f, size_t len, struct frame_info *fi,
		const char **why)
{
	uint32_t off = 12;

	memset(fi, 0, sizeof(*fi));
	if (len < FRAME_MIN)
		return fail(why, "frame shorter than an Ethernet header");
	if (len > FRAME_MAX)
		return fail(why, "frame longer than 64 KiB");
	fi->end = (uint32_t)len;
	fi->kind = FRAME_L2;
	fi->ethertype = frame_get16(f + off);
	/* Up to two tags (802.1ad outer, 802.1Q inner). */
	for (int i = 0; i < 2 && (fi->ethertype == ETH_P_8021Q ||
				  fi->ethertype == ETH_P_8021AD); i++) {
		if (len < off + 6)
			return fail(why, "truncated VLAN tag");
		fi->vlan = frame_get16(f + off + 2) & 0x0fff;
		off += 4;
		fi->ethertype = frame_get16(f + off);
	}
	off += 2;
	fi->l3_off = off;
	fi->payload_off = off;
	fi->payload_len = (uint32_t)len - off;
	if (fi->ethertype == ETH_P_IP)
		return parse_ipv4(f, fi, why);
	if (fi->ethertype == ETH_P_IPV6)
		return parse_ipv6(f, fi, why);
	return 0;
}

bool frame_is_neighbour(const struct frame_info *fi)
{
	if (fi->kind == FRAME_L2)
		return fi->ethertype == ETH_P_ARP;
	/* Router/neighbour solicitation and advertisement, redirect. */
	return fi->kind == FRAME_ICMP && fi->ipver == 6 &&
	       fi->icmp_type >= 133 && fi->icmp_type <= 137;
}

uint16_t frame_csum_replace32(uint16_t csum, uint32_t old, uint32_t new)
{
	/* HC' = ~(~HC + ~m + m'), folded, over both 16-bit halves. */
	uint32_t s = (uint16_t)~csum;

	s += (uint16_t)~(old >> 16) + (uint16_t)~(old & 0xffff);
	s += (new >> 16) + (new & 0xffff);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}
