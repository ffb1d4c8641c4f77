/* Connection tracking: one entry per flow, both directions on the same
 * entry, in a hash table bounded by LRU eviction.  The comparator and the
 * rewriter keep their per-connection state in the entry. */
#ifndef NP_CONNTRACK_H
#define NP_CONNTRACK_H

#include <stdbool.h>
#include <stdint.h>
#include "frame.h"

/* A held frame (comparator queues). */
struct np_pkt {
	struct np_pkt *next;
	uint64_t t_us;		/* arrival, monotonic */
	uint64_t epoch;
	uint32_t seq;		/* TCP: first sequence number */
	uint32_t span;		/* TCP: payload bytes plus one for FIN */
	uint32_t cmp_off, cmp_len;	/* the bytes compared */
	uint32_t len;
	bool timed;		/* counted as timed out */
	struct frame_info fi;
	uint8_t data[];
};

struct np_queue {
	struct np_pkt *head, *tail;
	uint32_t n;
};

struct conn_key {
	uint8_t ipver, proto;
	uint16_t vlan, ethertype;
	uint16_t port[2];
	uint8_t addr[2][16];
};

struct np_conn {
	struct conn_key key;
	struct np_conn *hnext;		/* hash chain */
	struct np_conn *lru_prev, *lru_next;
	enum frame_kind kind;
	/* comparator */
	struct np_queue q[2];		/* [0] primary, [1] secondary */
	bool anchored;
	uint32_t anchor;		/* TCP: bytes before it are released */
	bool s_acked;
	uint32_t s_ack;			/* TCP: the most the SVM has acked */
	uint64_t diverged;		/* epoch + 1 of a mismatch, or 0 */
	/* rewriter (secondary): SVM sequence + offset = PVM sequence */
	bool guest_isn_known, offset_known;
	uint32_t guest_isn;
	uint32_t offset;
	bool syn_seen;
	uint32_t syn_isn;		/* the opener's, from its bare SYN */
};

struct conn_table {
	struct np_conn **bucket;
	uint32_t nbuckets;
	uint32_t n, max;
	struct np_conn *lru_head, *lru_tail;	/* head = most recent */
	uint64_t evicted;
	/* Called for an entry about to be freed by eviction, to release or
	 * count what it holds. */
	void (*on_evict)(void *opaque, struct np_conn *c);
	void *opaque;
};

int conn_table_init(struct conn_table *t, uint32_t max);
void conn_table_fini(struct conn_table *t);

/* Fills key from a parsed frame: the lower (address, port) end first, so
 * both directions give the same key. */
void conn_key_from(struct conn_key *k, const struct frame_info *fi);

/* Finds the entry for key, creating it (and evicting the least recently
 * used entry when the table is full) if create.  A found entry becomes
 * the most recent.  NULL only on allocation failure or !create. */
struct np_conn *conn_lookup(struct conn_table *t, const struct conn_key *k,
			    bool create);

/* Removes and frees c (after on_evict is NOT called: the caller owns
 * what c held). */
void conn_remove(struct conn_table *t, struct np_conn *c);

#endif
