/* The comparator: PVM output is held until the SVM has produced the same
 * bytes (TCP by sequence space, other protocols frame by frame), then
 * released.  A mismatch, a stale packet or a full queue asks for a
 * checkpoint; a committed checkpoint releases what the PVM sent before its
 * snapshot.
 *
 * Epochs.  The PVM's frames are tagged with the sequence number of the
 * last snapshot taken before they were sent (cmp_paused), the SVM's with
 * the last checkpoint it loaded (cmp_secondary_loaded).  Frames are only
 * compared within one epoch: both VMs started it from the same state. */
#ifndef NP_COMPARE_H
#define NP_COMPARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "conntrack.h"

enum cmp_side { CMP_PRIMARY, CMP_SECONDARY };

enum cmp_reason {
	CMP_REASON_MISMATCH,
	CMP_REASON_TIMEOUT,
	CMP_REASON_QUEUE_FULL,
	CMP_REASON__MAX
};

const char *cmp_reason_str(enum cmp_reason r);
const char *cmp_kind_str(enum frame_kind k);

#define CMP_KINDS 5		/* enum frame_kind */
#define CMP_LAT_BUCKETS 24	/* log2 microseconds */

struct cmp_stats {
	uint64_t matched[CMP_KINDS];	/* PVM frames released by a match */
	uint64_t mismatched[CMP_KINDS];
	uint64_t timed_out[CMP_KINDS];
	uint64_t unchecked;	/* released without comparison (ARP, ACKs) */
	uint64_t retransmits;	/* PVM TCP frames of already released bytes */
	uint64_t by_checkpoint;	/* PVM frames released by a commit */
	uint64_t svm_dropped;	/* SVM frames dropped (matched or stale) */
	uint64_t overflow[2];	/* frames dropped on a full queue */
	uint64_t evicted;	/* connections evicted from the table */
	uint64_t evicted_held;	/* PVM frames dropped with them */
	uint64_t bad_frames[2];	/* unparseable: compared as opaque bytes */
	uint64_t requests[CMP_REASON__MAX];
	uint64_t latency[CMP_LAT_BUCKETS];	/* hold time of released frames */
	uint32_t held[2];	/* frames held now */
	uint32_t max_held[2];
};

struct cmp_config {
	uint32_t max_queue;	/* per connection and side */
	uint32_t max_conns;
	uint64_t timeout_us;
};

typedef void cmp_release_fn(void *opaque, const uint8_t *f, size_t len);
typedef void cmp_request_fn(void *opaque, enum cmp_reason why);

struct comparator {
	struct conn_table ct;
	struct cmp_config cfg;
	struct cmp_stats st;
	uint64_t p_epoch;	/* last snapshot of the PVM */
	uint64_t s_epoch;	/* last checkpoint the SVM loaded */
	bool passthrough;
	bool request_pending;
	uint64_t request_us;
	bool again;		/* a mismatch merged into a request under way */
	/* The last mismatch, for the log: which flow, where in it. */
	struct conn_key last_key;
	enum frame_kind last_kind;
	uint32_t last_anchor;
	uint8_t last_bytes[2][24];	/* from the anchor: PVM, SVM */
	uint32_t last_len[2];
	cmp_release_fn *release;
	cmp_request_fn *request;
	void *opaque;
};

int cmp_init(struct comparator *c, const struct cmp_config *cfg,
	     cmp_release_fn *release, cmp_request_fn *request, void *opaque);
void cmp_fini(struct comparator *c);

/* A frame the PVM (CMP_PRIMARY) or the SVM sent.  The frame is copied
 * when held. */
void cmp_input(struct comparator *c, enum cmp_side side, const uint8_t *f,
	       size_t len, uint64_t now_us);

/* The PVM was paused for snapshot seq: later frames belong to epoch seq. */
void cmp_paused(struct comparator *c, uint64_t seq);

/* Snapshot seq reached the secondary: the PVM frames sent before it are
 * released. */
void cmp_committed(struct comparator *c, uint64_t seq, uint64_t now_us);

/* The SVM loaded checkpoint seq: its frames from before are dropped and
 * later ones compare against the PVM's epoch seq. */
void cmp_secondary_loaded(struct comparator *c, uint64_t seq,
			  uint64_t now_us);

/* Timeouts; call every few milliseconds. */
void cmp_tick(struct comparator *c, uint64_t now_us);

/* Failover or no secondary: release everything held and stop holding. */
void cmp_set_passthrough(struct comparator *c, bool on, uint64_t now_us);

#endif
