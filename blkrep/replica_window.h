/* The window of plain (non-FUA) writes the secondary has not answered
 * yet; replica.c's, under its lock.  A write completes for the guest
 * once the local copy is written and the secondary's is on the wire:
 * the secondary's receive and write then overlap the guest's next
 * request instead of adding to this one.  Each slot owns the payload
 * buffer until the secondary answers.  A write in the window counts as
 * unflushed, so losing the secondary marks it in the dirty map. */
#ifndef COLO_BLKREP_REPLICA_WINDOW_H
#define COLO_BLKREP_REPLICA_WINDOW_H

#include "replica.h"

/* Waits until a write of len bytes at off fits (a free slot, the byte
 * budget, no overlap with one in flight, which a server that reorders
 * could apply after it) and claims a slot.  NULL with *why set when the
 * secondary does not answer in time. */
struct replica_slot *window_claim(struct replica *r, uint64_t off,
		uint64_t len, const char **why);
/* Hands the write to libnbd; the slot's buffer is freed for reuse when
 * the secondary answers.  0, or -1 (the slot released). */
int window_send(struct replica *r, struct replica_slot *s);
/* Gives back a claimed slot that was never sent. */
void window_unclaim(struct replica *r, struct replica_slot *s);
/* Waits until every queued byte is on the wire; 0 or -1 (*why). */
int window_push(struct replica *r, const char **why);
/* Waits until the secondary answered every write in the window. */
int window_drain(struct replica *r, const char **why);
/* After nbd_close: every slot free, their buffers kept. */
void window_reset(struct replica *r);
void window_free(struct replica *r);

#endif
