/* Heartbeats between the colods of COLO pairs.  Each colod asks each of
 * its peers for an x-peer-heartbeat every heartbeat-interval ms; a peer
 * that has not answered for interval x misses is lost, and the domains
 * paired with it fail over (with auto-failover on) unless their COLO
 * stream shows the peer's helper still alive, which means only the peer
 * colod is down (restarting): no spurious failover. */
#ifndef COLO_HEARTBEAT_H
#define COLO_HEARTBEAT_H

#include <stdbool.h>
#include <stdint.h>

#define HB_PEERS 8

struct colod;

struct hb_peer {
	char uri[300];
	void *sock;		/* DEALER to the peer's ROUTER */
	uint64_t last_seen_us;
	uint64_t last_sent_us;
	uint64_t last_warn_us;
	bool used;
};

struct heartbeat {
	struct hb_peer p[HB_PEERS];
	bool active;		/* some domain is in COLO mode */
	uint64_t last_tick_us;
};

/* Sends, collects and judges; call from the main loop. */
void hb_tick(struct colod *d);
/* The main loop's poll timeout in ms (-1: no COLO domain). */
long hb_poll_ms(struct colod *d);
void hb_fini(struct colod *d);

#endif
