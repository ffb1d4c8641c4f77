/* COLO checkpoints between a primary and a secondary helper (DESIGN §6).
 * The initial sync is a live migration whose stream carries the COLO
 * flag; after it both VMs run, and the primary drives checkpoints over
 * the same TCP connection:
 *
 *   P->S checkpoint-request; S pauses; S->P checkpoint-reply
 *   P pauses, harvests and copies dirty pages and state, resumes at once
 *   P->S vmstate-send, PAGE_DATA..., vmstate-size, state, CHECKPOINT_END
 *   S->P vmstate-received (all staged); S copies its cache into the SVM
 *   for every page dirtied by P or by the SVM, loads the state, resumes;
 *   S->P vmstate-loaded
 *
 * S keeps a RAM cache (PVM memory as of the last checkpoint); a partial
 * checkpoint is dropped whole. */
#ifndef DH_COLO_H
#define DH_COLO_H

#include <pthread.h>
#include <sys/types.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "colo_phase.h"
#include "colo_records.h"
#include "stream.h"

struct helper;
struct vm;

#define COLO_STATS_RING 256

struct colo_stats {
	_Atomic uint64_t checkpoints;
	_Atomic uint64_t last_pause_us, last_dirty, last_bytes, last_us;
	_Atomic uint64_t last_xfer_us;	/* first page sent to all received */
	uint64_t pause_ring[COLO_STATS_RING];	/* for mean and p99 */
	_Atomic uint64_t total_pause_us;
};

struct colo {
	bool active;
	bool primary;
	_Atomic int interval_ms;
	_Atomic bool request;		/* a checkpoint is wanted now */
	_Atomic bool hold;		/* debug: stay paused after the next */
	_Atomic bool mismatch;		/* ...asked for by netproxy */
	_Atomic bool held;		/* ...and no checkpoints until cont */
	pthread_mutex_t hold_lock;	/* held and the user pause together */
	_Atomic int last_trigger;	/* enum colo_trigger */
	uint64_t seq;			/* primary: the last checkpoint's */
	int heartbeat_ms;		/* primary: HEARTBEAT records */
	_Atomic uint64_t last_rx_us;	/* anything from the peer helper */
	_Atomic bool failover;		/* stop: run alone */
	/* Secondary: COLO stopped on a stream that was corrupt or that the
	 * primary ended on purpose.  The primary lives, so the SVM must not
	 * take over by itself: it waits, paused at its last consistent
	 * state, until a failover decides (colod: peer silent, or a user). */
	_Atomic bool standby;
	_Atomic int exit_reason;	/* enum colo_exit_reason */
	int wake_fd;			/* eventfd: wakes the primary loop */
	uint8_t *cache;			/* secondary: PVM RAM at the last ckpt */
	struct colo_stats st;
	struct colo_records rec;
	struct colo_phases phases;	/* netproxy, blkrep */
	int kill_phase;			/* test knob: enum colo_phase, or 0 */
	uint64_t kill_seq;
	useconds_t loaded_delay_us;	/* test knob: delay before "loaded" */
	char error[320];
};

int colo_init(struct colo *c);
void colo_fini(struct colo *c);

/* After the initial sync, on the migration thread: the loops return when
 * COLO ends (failover or a broken stream), leaving the VM running. */
void colo_primary_loop(struct helper *h, int fd, struct stream_writer *w);
void colo_secondary_loop(struct helper *h, int fd, struct stream_reader *r);

/* Asks the primary loop for a checkpoint now. */
void colo_request(struct colo *c, bool hold);
/* Wakes the primary loop, for instance to see a new interval. */
void colo_wake(struct colo *c);
/* The user's cont: ends a hold and drops the user's pause.  A checkpoint
 * in flight keeps the VM paused until it is done. */
void colo_cont(struct colo *c, struct vm *vm);

#endif
