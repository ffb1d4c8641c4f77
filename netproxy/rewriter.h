/* The secondary's TCP rewriter.  The SVM picks its own initial sequence
 * numbers, so for a connection opened since the last checkpoint its
 * sequence space is shifted from the PVM's, which the client (and the
 * comparator) follow.  The rewriter learns the shift from the handshake,
 * for connections the client opened and for those the guest opened, and
 * applies it: SVM output gets seq += offset, input to the SVM gets
 * ack -= offset, checksums updated incrementally.  A loaded checkpoint
 * makes the SVM's state the PVM's, so every offset returns to zero. */
#ifndef NP_REWRITER_H
#define NP_REWRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "conntrack.h"

#define RW_HOLD_MAX 64		/* input frames held per connection */

struct rw_stats {
	uint64_t out_rewritten, in_rewritten;
	uint64_t offsets_learned;
	uint64_t held, hold_dropped;	/* input waiting for the SVM's SYN */
	uint64_t bad_frames;
};

typedef void rw_inject_fn(void *opaque, const uint8_t *f, size_t len);

struct rewriter {
	struct conn_table ct;
	struct rw_stats st;
	bool standalone;	/* after failover: new flows need no shift */
	rw_inject_fn *inject;	/* hands a frame to the SVM */
	void *opaque;
};

int rw_init(struct rewriter *r, uint32_t max_conns, rw_inject_fn *inject,
	    void *opaque);
void rw_fini(struct rewriter *r);

/* A frame for the SVM: rewritten, then injected now or, for a handshake
 * frame that the SVM has not reached yet, once it has. */
void rw_to_guest(struct rewriter *r, const uint8_t *f, size_t len);

/* A frame the SVM sent, rewritten in place.  May inject held input. */
void rw_from_guest(struct rewriter *r, uint8_t *f, size_t len);

/* A checkpoint was loaded: offsets are zero, held input is dropped (the
 * caller re-injects what the checkpoint had not consumed). */
void rw_checkpoint_loaded(struct rewriter *r);

/* Failover: connections opened from now on are not shifted; established
 * ones keep their offsets for as long as they live. */
void rw_set_standalone(struct rewriter *r);

#endif
