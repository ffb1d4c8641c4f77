/* Ethernet, ARP, IPv4, ICMP echo and UDP echo over the polled virtio-net
 * driver.  Every length and checksum from the wire is checked; a bad
 * frame is counted and dropped, never trusted. */
#include "kv.h"

#define NET_HDR		12
#define FRAME_MAX	1514
#define BUF_LEN		(NET_HDR + FRAME_MAX + 2)
#define NRX		128
#define NTX		128
#define ETH_IP		0x0800
#define ETH_ARP		0x0806
#define UDP_ECHO_PORT	7
#define ARP_SLOTS	64

struct netif netif;

struct eth {
	uint8_t dst[6], src[6];
	uint16_t type;
} __attribute__((packed));

struct arp {
	uint16_t htype, ptype;
	uint8_t hlen, plen;
	uint16_t op;
	uint8_t sha[6];
	uint32_t spa;
	uint8_t tha[6];
	uint32_t tpa;
} __attribute__((packed));

struct ipv4 {
	uint8_t vihl, tos;
	uint16_t len, id, frag;
	uint8_t ttl, proto;
	uint16_t csum;
	uint32_t src, dst;
} __attribute__((packed));

static struct {
	uint32_t ip;
	uint8_t mac[6];
} arp_cache[ARP_SLOTS];
static unsigned arp_next;
static uint8_t *tx_free[NTX];
static int ntx_free;
static uint16_t ip_id;

uint16_t ip_checksum(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;

	while (len > 1) {
		sum += (uint32_t)(p[0] << 8 | p[1]);
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)(p[0] << 8);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

uint32_t pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, size_t len)
{
	return (src >> 16) + (src & 0xffff) + (dst >> 16) + (dst & 0xffff) +
	       proto + (uint32_t)len;
}

static void arp_learn(uint32_t ip, const uint8_t *mac)
{
	for (int i = 0; i < ARP_SLOTS; i++)
		if (arp_cache[i].ip == ip) {
			memcpy(arp_cache[i].mac, mac, 6);
			return;
		}
	arp_cache[arp_next].ip = ip;
	memcpy(arp_cache[arp_next].mac, mac, 6);
	arp_next = (arp_next + 1) % ARP_SLOTS;
}

static const uint8_t *arp_lookup(uint32_t ip)
{
	for (int i = 0; i < ARP_SLOTS; i++)
		if (arp_cache[i].ip == ip && ip)
			return arp_cache[i].mac;
	return NULL;
}

static void reclaim_tx(void)
{
	uint8_t *b;

	while ((b = gvq_get(&netif.dev.q[1], NULL)))
		tx_free[ntx_free++] = b;
}

/* A transmit buffer, waiting for the device if all are in flight. */
static uint8_t *tx_get(void)
{
	reclaim_tx();
	while (ntx_free == 0) {
		cpu_relax();
		reclaim_tx();
	}
	return tx_free[--ntx_free];
}

static void tx_put(uint8_t *b, size_t frame_len)
{
	struct gbuf out = { b, (uint32_t)(NET_HDR + frame_len) };

	memset(b, 0, NET_HDR);
	gvq_add(&netif.dev.q[1], &out, 1, NULL, 0, b);
	gvq_kick(&netif.dev.q[1]);
	netif.tx_frames++;
}

static void send_eth(const uint8_t *dst, uint16_t type, const void *p,
		size_t len)
{
	uint8_t *b = tx_get();
	struct eth *e = (struct eth *)(b + NET_HDR);

	memcpy(e->dst, dst, 6);
	memcpy(e->src, netif.mac, 6);
	e->type = htons(type);
	memcpy(e + 1, p, len);
	tx_put(b, sizeof(*e) + len);
}

static void arp_request(uint32_t ip)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct arp a = {
		.htype = htons(1), .ptype = htons(ETH_IP), .hlen = 6, .plen = 4,
		.op = htons(1), .spa = htonl(netif.ip), .tpa = htonl(ip),
	};

	memcpy(a.sha, netif.mac, 6);
	send_eth(bcast, ETH_ARP, &a, sizeof(a));
}

int ip_send(uint32_t dst, uint8_t proto, const void *payload, size_t len)
{
	uint32_t hop = (dst & netif.mask) == (netif.ip & netif.mask) ? dst :
		       netif.gw;
	const uint8_t *mac = arp_lookup(dst);
	uint8_t *b;
	struct eth *e;
	struct ipv4 *ip;

	if (!mac)
		mac = arp_lookup(hop);
	if (!mac) {
		arp_request(hop);
		return -1;	/* the caller's retransmission covers it */
	}
	if (len + sizeof(*ip) + sizeof(*e) > FRAME_MAX)
		return -1;
	b = tx_get();
	e = (struct eth *)(b + NET_HDR);
	ip = (struct ipv4 *)(e + 1);
	memcpy(e->dst, mac, 6);
	memcpy(e->src, netif.mac, 6);
	e->type = htons(ETH_IP);
	ip->vihl = 0x45;
	ip->tos = 0;
	ip->len = htons((uint16_t)(sizeof(*ip) + len));
	ip->id = htons(ip_id++);
	ip->frag = htons(0x4000);	/* don't fragment */
	ip->ttl = 64;
	ip->proto = proto;
	ip->csum = 0;
	ip->src = htonl(netif.ip);
	ip->dst = htonl(dst);
	ip->csum = ip_checksum(ip, sizeof(*ip), 0);
	memcpy(ip + 1, payload, len);
	tx_put(b, sizeof(*e) + sizeof(*ip) + len);
	return 0;
}

static void arp_input(const uint8_t *p, size_t len)
{
	struct arp a;

	if (len < sizeof(a))
		return;
	memcpy(&a, p, sizeof(a));
	if (ntohs(a.htype) != 1 || ntohs(a.ptype) != ETH_IP || a.hlen != 6 ||
	    a.plen != 4)
		return;
	arp_learn(ntohl(a.spa), a.sha);
	if (ntohs(a.op) == 1 && ntohl(a.tpa) == netif.ip) {
		struct arp r = a;

		r.op = htons(2);
		memcpy(r.tha, a.sha, 6);
		r.tpa = a.spa;
		memcpy(r.sha, netif.mac, 6);
		r.spa = htonl(netif.ip);
		send_eth(a.sha, ETH_ARP, &r, sizeof(r));
	}
}

static void icmp_input(uint32_t src, const uint8_t *p, size_t len)
{
	uint8_t reply[FRAME_MAX];

	if (len < 8 || len > sizeof(reply) || p[0] != 8 ||
	    ip_checksum(p, len, 0) != 0)
		return;
	memcpy(reply, p, len);
	reply[0] = 0;		/* echo reply */
	reply[2] = reply[3] = 0;
	*(uint16_t *)(reply + 2) = ip_checksum(reply, len, 0);
	ip_send(src, 1, reply, len);
}

/*
 * Appends " #N" to an echo, N being the guest's count of UDP frames so
 * far, when it fits one frame.  A frame the SVM missed or got twice since
 * its checkpoint then makes its echo differ from the PVM's, which the
 * comparator sees.  Returns the new UDP length.
 */
static uint16_t udp_stamp_count(uint8_t *udp, uint16_t ulen)
{
	char tag[24];
	int n = gsnprintf(tag, sizeof(tag), " #%lu", (unsigned long)netif.udp_frames);
	size_t room = FRAME_MAX - sizeof(struct eth) - sizeof(struct ipv4);

	if (n <= 0 || ulen + (size_t)n > room)
		return ulen;
	memcpy(udp + ulen, tag, (size_t)n);
	ulen = (uint16_t)(ulen + n);
	udp[4] = (uint8_t)(ulen >> 8);
	udp[5] = (uint8_t)ulen;
	return ulen;
}

static void udp_input(uint32_t src, const uint8_t *p, size_t len)
{
	uint8_t reply[FRAME_MAX];
	uint16_t ulen, sport, dport, csum;

	if (len < 8)
		return;
	ulen = (uint16_t)(p[4] << 8 | p[5]);
	if (ulen < 8 || ulen > len || ulen > sizeof(reply))
		return;
	memcpy(&csum, p + 6, 2);
	if (csum && ip_checksum(p, ulen, pseudo_sum(src, netif.ip, 17, ulen))) {
		netif.bad_csum++;
		return;
	}
	sport = (uint16_t)(p[0] << 8 | p[1]);
	dport = (uint16_t)(p[2] << 8 | p[3]);
	if (dport != UDP_ECHO_PORT)
		return;
	netif.udp_frames++;
	memcpy(reply, p, ulen);
	ulen = udp_stamp_count(reply, ulen);
	reply[0] = (uint8_t)(dport >> 8);
	reply[1] = (uint8_t)dport;
	reply[2] = (uint8_t)(sport >> 8);
	reply[3] = (uint8_t)sport;
	reply[6] = reply[7] = 0;
	csum = ip_checksum(reply, ulen, pseudo_sum(netif.ip, src, 17, ulen));
	memcpy(reply + 6, &csum, 2);
	ip_send(src, 17, reply, ulen);
}

static void ip_input(const struct eth *e, const uint8_t *p, size_t len)
{
	const struct ipv4 *ip = (const void *)p;
	size_t hl, tl;
	uint32_t src;

	if (len < sizeof(*ip) || (ip->vihl >> 4) != 4)
		return;
	hl = (size_t)(ip->vihl & 0xf) * 4;
	tl = ntohs(ip->len);
	if (hl < sizeof(*ip) || tl < hl || tl > len) {
		netif.rx_dropped++;
		return;
	}
	if (ip_checksum(p, hl, 0) != 0) {
		netif.bad_csum++;
		return;
	}
	if (ntohs(ip->frag) & 0x3fff) {		/* MF or an offset */
		netif.rx_dropped++;
		return;
	}
	if (ntohl(ip->dst) != netif.ip)
		return;
	src = ntohl(ip->src);
	arp_learn(src, e->src);
	switch (ip->proto) {
	case 1: icmp_input(src, p + hl, tl - hl); break;
	case 6: tcp_input(src, p + hl, tl - hl); break;
	case 17: udp_input(src, p + hl, tl - hl); break;
	}
}

static void post_rx(uint8_t *b)
{
	struct gbuf in = { b, BUF_LEN };

	gvq_add(&netif.dev.q[0], NULL, 0, &in, 1, b);
}

int net_poll(void)
{
	uint8_t *b;
	uint32_t len;
	int n = 0;

	while ((b = gvq_get(&netif.dev.q[0], &len))) {
		const struct eth *e = (const void *)(b + NET_HDR);
		size_t flen = len > NET_HDR ? len - NET_HDR : 0;

		netif.rx_frames++;
		n++;
		if (flen >= sizeof(*e) && flen <= FRAME_MAX + 4) {
			uint16_t t = ntohs(e->type);

			if (t == ETH_ARP)
				arp_input((const uint8_t *)(e + 1), flen - sizeof(*e));
			else if (t == ETH_IP)
				ip_input(e, (const uint8_t *)(e + 1),
					 flen - sizeof(*e));
		} else {
			netif.rx_dropped++;
		}
		post_rx(b);
	}
	if (n)
		gvq_kick(&netif.dev.q[0]);
	reclaim_tx();
	return n;
}

static int parse_ip(const char *s, uint32_t *ip, int *prefix)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		const char *end;
		uint64_t o = parse_u64(s, &end);

		if (end == s || o > 255)
			return -1;
		v = v << 8 | (uint32_t)o;
		s = end;
		if (i < 3 && *s++ != '.')
			return -1;
	}
	*ip = v;
	if (prefix) {
		*prefix = 24;
		if (*s == '/')
			*prefix = (int)parse_u64(s + 1, NULL);
	}
	return 0;
}

int net_init(void)
{
	char buf[64];
	int prefix = 24;

	if (vdev_find(&netif.dev, 1, 0) < 0)
		return -1;
	if (vdev_init(&netif.dev, (1ull << 5) | VIRTIO_RING_F_EVENT_IDX, 2) < 0)
		return -1;
	for (int i = 0; i < 6; i++)
		netif.mac[i] = vdev_config8(&netif.dev, (uint32_t)i);
	if (cmdline_get("ip", buf, sizeof(buf)) <= 0 ||
	    parse_ip(buf, &netif.ip, &prefix) < 0 || prefix < 1 || prefix > 32)
		panic("need ip=A.B.C.D/PREFIX on the command line");
	netif.mask = prefix == 32 ? ~0u : ~((1u << (32 - prefix)) - 1);
	if (cmdline_get("gw", buf, sizeof(buf)) > 0)
		parse_ip(buf, &netif.gw, NULL);
	for (int i = 0; i < NRX; i++)
		post_rx(galloc(BUF_LEN, 64));
	gvq_kick(&netif.dev.q[0]);
	for (int i = 0; i < NTX; i++)
		tx_free[ntx_free++] = galloc(BUF_LEN, 64);
	ip_id = (uint16_t)rdtsc();
	return 0;
}
