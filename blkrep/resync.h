/* Resync: copies the blocks the dirty map marks from the primary's image
 * to the secondary while the guest keeps writing, then the pair is in
 * step again.  One job at a time runs in a thread of its own, beside the
 * clients. */
#ifndef COLO_BLKREP_RESYNC_H
#define COLO_BLKREP_RESYNC_H

#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include "image.h"
#include "replica.h"

struct resync_job {
	struct replica *rep;
	struct image *img;
	const volatile sig_atomic_t *stop;	/* set: give up, keep the map */
	atomic_bool running;
	/* Progress of the current (or last) run, in DIRTY_BLOCK blocks. */
	atomic_uint_fast64_t done, total;
	atomic_uint_fast64_t runs, completed;
	atomic_int last_rc;		/* 0, or the last run's -errno */
	bool full_pending;		/* the next run copies everything */
};

void resync_job_init(struct resync_job *j, struct replica *r,
		struct image *img, const volatile sig_atomic_t *stop);
/* Reconnects a degraded secondary and starts a run in the background:
 * a full copy when full (or a full copy is pending), else the blocks the
 * map marks.  0, -EBUSY while one runs, or -errno with err set. */
int resync_job_start(struct resync_job *j, bool full, char *err,
		size_t errlen);
/* Blocks until no run is going (the thread holds the replica). */
void resync_job_wait(struct resync_job *j);

#endif
