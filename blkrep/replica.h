/* The primary's copy of every write on the secondary, through libnbd.
 * While the secondary is reachable a plain write is acknowledged once
 * local and on its way to the secondary, at most REPLICA_WINDOW of them
 * unanswered (replica_window.h); a FUA write, a zeroing or trim once both
 * sides have it; a flush once both made every earlier write durable.
 * An epoch boundary waits for the window to empty (replica_drain).
 * When the secondary fails the primary goes on alone, degraded, and the
 * dirty map records every block the secondary misses from then on. */
#ifndef COLO_BLKREP_REPLICA_H
#define COLO_BLKREP_REPLICA_H

#include <libnbd.h>
#include <pthread.h>
#include <stdbool.h>
#include "dirtymap.h"
#include "image.h"

/* How long a command may wait for the secondary before it is dropped. */
#define REPLICA_TIMEOUT_MS 3000
/* Plain writes on their way to the secondary at once (replica_window.h),
 * and their bytes. */
#define REPLICA_WINDOW 4
#define REPLICA_WINDOW_BYTES (16u << 20)

struct replica;
struct replica_slot {
	struct replica *r;
	uint8_t *buf;		/* the payload, owned until answered */
	size_t cap;
	uint64_t off, len;
	bool busy;
	bool clears;		/* a resync copy: its bit goes when answered */
	uint64_t clear_block;
};

struct replica {
	pthread_mutex_t lock;	/* guards h across client threads */
	struct nbd_handle *h;	/* NULL once degraded */
	char uri[512];		/* empty: not replicating yet */
	struct dirtymap dirty;
	bool map_open;
	const char *dirty_path;
	uint64_t size;
	int timeout_ms;		/* REPLICA_TIMEOUT_MS, or --peer-timeout */
	/* Blocks the secondary acknowledged but has not flushed: if it is
	 * lost, its host may have lost them too, so they go to the dirty
	 * map then.  One bit per DIRTY_BLOCK. */
	uint8_t *unflushed;
	bool any_unflushed;
	bool closed;		/* replica_close ran: changes are refused */
	bool marker_set;	/* DIRTY_MAP.open exists (replica.c) */
	struct replica_slot slot[REPLICA_WINDOW];
	unsigned inflight;
	uint64_t inflight_bytes;
	int remote_err;		/* errno of a window write that failed */
};

/* Connects to uri and checks that its export has the same size. */
int replica_open(struct replica *r, const char *uri, uint64_t size,
		const char *dirty_path, char *err, size_t errlen);
/* A replica that does not replicate until replica_attach: writes go
 * through it (its lock orders them against a later resync) but only to
 * the local image, and nothing is tracked. */
void replica_init_idle(struct replica *r, uint64_t size,
		const char *dirty_path);
/* Starts (or moves) replication to uri: opens the dirty map, drops any
 * connection to an old secondary and connects the new one.  From the
 * moment it returns, every write goes to both or is tracked.  0, or
 * -errno with err set. */
int replica_attach(struct replica *r, const char *uri, char *err,
		size_t errlen);
/* An idle replica whose dirty map exists (a secondary of an earlier run
 * is still to be resumed) records every write in it, as if degraded:
 * else a resume would trust the map and miss them.  0, or -errno. */
int replica_track_existing(struct replica *r, char *err, size_t errlen);
/* The blocks the dirty map records (0 while there is none). */
uint64_t replica_missed(struct replica *r);
bool replica_active(struct replica *r);
void replica_close(struct replica *r);
bool replica_degraded(struct replica *r);
/* The local change and the secondary's together (see replica.c); 0, or
 * the local change's -errno, or the dirty map's when the secondary
 * failed and even that could not be written.  Returns once the
 * secondary answered. */
int replica_write_both(struct replica *r, struct image *img, const void *buf,
		size_t len, uint64_t off, bool fua);
/* The same for a caller that hands over its payload buffer *bufp (of
 * *capp bytes): a plain write returns once the secondary's copy is on
 * the wire, and *bufp, *capp are then another buffer (maybe NULL, 0)
 * for the caller's next request.  FUA writes wait as above. */
int replica_write_pass(struct replica *r, struct image *img, uint8_t **bufp,
		size_t *capp, size_t len, uint64_t off, bool fua);
/* Waits until the secondary answered every write so far (an epoch
 * boundary must not overtake one); degrades if it does not. */
void replica_drain(struct replica *r);
int replica_zero_both(struct replica *r, struct image *img, uint64_t len,
		uint64_t off, bool no_hole, bool fua);
/* The secondary's copy is trimmed too, and FUA flushes ours. */
int replica_trim_both(struct replica *r, struct image *img, uint64_t len,
		uint64_t off, bool fua);
/* 0 once the secondary flushed or is left; the local flush is the
 * caller's. */
int replica_flush(struct replica *r);

/* For resync: reconnects a degraded replica; 0 or -errno (err says). */
int replica_reconnect(struct replica *r, uint64_t size, char *err,
		size_t errlen);
/* Copies one block from img to the secondary through the write window:
 * read and sent under the replica's lock, so a guest write to the block
 * cannot reach the secondary between our read and our send and be
 * overwritten with older data.  Its bit is cleared when the secondary
 * answers; replica_flush_strict waits for every answer.  -EIO when the
 * secondary fails (the bits of copies not answered stay). */
int replica_copy_block(struct replica *r, struct image *img, uint64_t off,
		size_t len, uint64_t block);
/* A flush that reports failure instead of degrading quietly. */
int replica_flush_strict(struct replica *r);

#endif
