/* The demo guest: a Redis-protocol key-value server over our own TCP/IP
 * stack, an append-only log on virtio-blk, and a memory-dirtying workload
 * with a self-check.  Everything runs at CPL3, polled. */
#ifndef COLO_KV_H
#define COLO_KV_H

#include "virtio.h"

/* ---- alloc.c: a small segregated-fit heap ---- */
void *kmalloc(size_t n);
void kfree(void *p);
void *krealloc(void *p, size_t n);
uint64_t kheap_used(void);

/* ---- net.c: Ethernet, ARP, IPv4, ICMP, UDP ---- */
struct netif {
	struct vdev dev;
	uint8_t mac[6];
	uint32_t ip, mask, gw;		/* host byte order */
	uint64_t rx_frames, tx_frames, rx_dropped, bad_csum;
	uint64_t udp_frames;		/* UDP datagrams to the echo port */
};
extern struct netif netif;

int net_init(void);
/* Handles every frame waiting; returns how many. */
int net_poll(void);
/* Sends an IPv4 packet: payload already holds the transport header. */
int ip_send(uint32_t dst, uint8_t proto, const void *payload, size_t len);
uint16_t ip_checksum(const void *data, size_t len, uint32_t sum);
uint32_t pseudo_sum(uint32_t src, uint32_t dst, uint8_t proto, size_t len);

static inline uint16_t bswap16(uint16_t v)
{
	return (uint16_t)((v >> 8) | (v << 8));
}

static inline uint32_t bswap32(uint32_t v)
{
	return __builtin_bswap32(v);
}

#define htons bswap16
#define ntohs bswap16
#define htonl bswap32
#define ntohl bswap32

/* ---- tcp.c ---- */
#define TCP_MAX_CONNS	256
#define TCP_BUF		32768

struct tcp_conn;
/* Called by tcp when a connection has new data or closed. */
void tcp_input(uint32_t src, const uint8_t *seg, size_t len);
void tcp_timers(uint64_t now);
void tcp_output_all(void);
uint64_t tcp_next_timer(uint64_t now);
int tcp_listen(uint16_t port);
/* Application side. */
size_t tcp_readable(struct tcp_conn *c, const uint8_t **p);
void tcp_consume(struct tcp_conn *c, size_t n);
size_t tcp_write(struct tcp_conn *c, const void *p, size_t n);
size_t tcp_writable(struct tcp_conn *c);
void tcp_close(struct tcp_conn *c);
int tcp_peer_closed(struct tcp_conn *c);
struct tcp_conn *tcp_conn_at(int i);	/* NULL unless established */
void **tcp_app(struct tcp_conn *c);	/* per-connection app pointer */
uint64_t tcp_stats(int which);

/* ---- resp.c: RESP2 commands over a key-value store ---- */
void kv_init(void);
/* Parses and runs every whole command buffered on connection c.  Returns
 * 1 when it stopped for want of input (nothing buffered, or only part of
 * a command), 0 when it waits for room to reply or has closed c. */
int kv_serve(struct tcp_conn *c);
/* Called when a connection goes away. */
void kv_conn_gone(void *app);
uint64_t kv_keys(void);
/* Replay: applies one logged operation. */
int kv_apply_log(const uint8_t *rec, size_t len);

/* ---- kvlog.c: the append-only log ---- */
int kvlog_init(void);		/* finds the disk, replays the log */
int kvlog_append(const void *rec, size_t len);	/* buffered */
int kvlog_commit(void);		/* write + FLUSH; 0 or -1 */
int kvlog_pending(void);
int kvlog_available(void);
extern uint64_t kv_ticks;	/* tick records written or replayed */
int kv_tick(void);		/* appends one; the main loop commits it */

/* ---- dirtywork.c ---- */
void dirty_init(void);
void dirty_tick(uint64_t now);
uint64_t dirty_next(uint64_t now);

#endif
