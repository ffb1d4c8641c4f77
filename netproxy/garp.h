/* Announcing the guest after a takeover: a gratuitous ARP for its IPv4
 * address and an unsolicited neighbour advertisement for its IPv6
 * address, both learned from the frames the guest sent. */
#ifndef NP_GARP_H
#define NP_GARP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct garp {
	bool have_mac, have_v4, have_v6;
	uint8_t mac[6];
	uint8_t v4[4];
	uint8_t v6[16];
};

/* Learns the guest's addresses from a frame it sent. */
void garp_learn(struct garp *g, const uint8_t *f, size_t len);

/* Builds the announcements into buf (at least 128 bytes each); returns
 * the frame length, or 0 when the address is not known. */
size_t garp_arp(const struct garp *g, uint8_t *buf);
size_t garp_na(const struct garp *g, uint8_t *buf);

#endif
