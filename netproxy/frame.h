/* Ethernet frame parsing for the comparator and the rewriter: VLAN tags,
 * IPv4 and IPv6 (with extension headers), TCP, UDP, ICMP and ICMPv6, with
 * every length checked against the bytes actually present. */
#ifndef NP_FRAME_H
#define NP_FRAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FRAME_MIN 14		/* an Ethernet header */
#define FRAME_MAX 65536

enum frame_kind {
	FRAME_L2,		/* not IP: ARP, LLDP, ... (ethertype says) */
	FRAME_IP,		/* IP, another protocol or a later fragment */
	FRAME_TCP,
	FRAME_UDP,
	FRAME_ICMP,		/* ICMP or ICMPv6 */
};

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

struct frame_info {
	enum frame_kind kind;
	uint16_t ethertype;	/* after any VLAN tags */
	uint16_t vlan;		/* innermost VLAN id, 0 when untagged */
	uint8_t ipver;		/* 0, 4 or 6 */
	uint8_t proto;		/* IP protocol (after IPv6 extensions) */
	uint8_t src[16], dst[16];	/* IPv4 uses the first 4 bytes */
	uint16_t sport, dport;	/* TCP/UDP ports; ICMP echo id in both */
	uint32_t l3_off, l4_off;	/* offsets into the frame */
	uint32_t payload_off, payload_len;	/* L4 payload (or L3 for IP) */
	uint32_t end;		/* IP datagram end: Ethernet padding excluded */
	/* TCP only */
	uint32_t seq, ack;
	uint8_t tcp_flags;
	/* ICMP only */
	uint8_t icmp_type;
};

/* Parses f[0..len).  Returns 0, or -EINVAL with *why set when a header
 * is truncated or a length field lies about the frame; the caller still
 * has the raw bytes to treat as an opaque frame. */
int frame_parse(const uint8_t *f, size_t len, struct frame_info *fi,
		const char **why);

/* True for ARP and the ICMPv6 neighbour discovery messages, which the
 * comparator passes from the primary without comparison. */
bool frame_is_neighbour(const struct frame_info *fi);

/* RFC 1624 incremental checksum update of a 16-bit one's complement
 * checksum when a 32-bit field changes from old to new. */
uint16_t frame_csum_replace32(uint16_t csum, uint32_t old, uint32_t new);

uint16_t frame_get16(const uint8_t *p);
uint32_t frame_get32(const uint8_t *p);
void frame_put16(uint8_t *p, uint16_t v);
void frame_put32(uint8_t *p, uint32_t v);

/* Sequence-space comparisons that hold across the 2^32 wrap. */
static inline bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static inline bool seq_le(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

#endif
