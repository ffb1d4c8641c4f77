/* Crafted Ethernet frames for the netproxy unit tests, with correct IP
 * and L4 checksums so that rewritten frames can be verified in full. */
#ifndef COLO_NP_FRAMES_H
#define COLO_NP_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct np_flow {
	bool v6;
	uint16_t vlan;		/* 0: untagged */
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint16_t ip_id;
	uint8_t ttl;
};

/* The flow of a client 192.0.2.10:port to a guest 192.0.2.2:6379 (or the
 * 2001:db8:: equivalents). */
void npf_flow(struct np_flow *fl, bool v6, uint16_t client_port);
/* The same flow seen in the other direction. */
void npf_reverse(struct np_flow *out, const struct np_flow *in);

size_t npf_tcp(uint8_t *buf, const struct np_flow *fl, uint32_t seq,
	       uint32_t ack, uint8_t flags, const void *data, size_t len);
size_t npf_udp(uint8_t *buf, const struct np_flow *fl, const void *data,
	       size_t len);
size_t npf_arp(uint8_t *buf, uint8_t op);
/* ICMP (ICMPv6 for a v6 flow) of type, code 0: body is what follows the
 * checksum (for an echo, the identifier, the sequence and the data). */
size_t npf_icmp(uint8_t *buf, const struct np_flow *fl, uint8_t type,
		const void *body, size_t len);

/* True if every checksum in the IPv4/IPv6 TCP, UDP or ICMP frame is
 * right. */
bool npf_checksums_ok(const uint8_t *f, size_t len);

#endif
