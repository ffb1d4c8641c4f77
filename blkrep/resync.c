/* Incremental and full resync of the secondary. */
#include "config.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "dirtymap.h"
#include "log.h"
#include "resync.h"
#include "util.h"

static void log_progress(struct resync_job *j)
{
	uint64_t done = atomic_load(&j->done), total = atomic_load(&j->total);

	if (total && done * 10 / total != (done - 1) * 10 / total)
		log_info("resync: %llu%% (%llu of %llu blocks)",
			 (unsigned long long)(done * 100 / total),
			 (unsigned long long)done, (unsigned long long)total);
}

/* One pass is enough: the guest's writes meanwhile go to both sides and
 * set no bits, and a block copied under the replica lock
 * (replica_copy_block) cannot overtake one of them.  Copies travel in
 * the write window, several unanswered at once; the flush after the pass
 * waits for the last.  A secondary that fails ends the pass, with the
 * rest still marked. */
static int copy_marked(struct resync_job *j)
{
	struct dirtymap *m = &j->rep->dirty;
	int rc = 0;
	/* Test knob (colo-blkrep(8)): a copy slow enough to watch. */
	const char *slow = getenv("COLO_BLKREP_TEST_RESYNC_DELAY_MS");
	unsigned delay_ms = slow ? (unsigned)atoi(slow) : 0;

	for (uint64_t b = 0; b < m->nblocks && rc == 0; b++) {
		uint64_t off = b * DIRTY_BLOCK;
		size_t len = j->img->size - off < DIRTY_BLOCK ?
			     (size_t)(j->img->size - off) : DIRTY_BLOCK;

		if (!dirtymap_test(m, b))
			continue;
		if (*j->stop) {
			rc = -ECANCELED;
			break;
		}
		rc = replica_copy_block(j->rep, j->img, off, len, b);
		if (delay_ms)
			util_sleep_ms(delay_ms);
		atomic_fetch_add(&j->done, 1);
		log_progress(j);
	}
	return rc;
}

static int run(struct resync_job *j, bool full)
{
	struct dirtymap *m = &j->rep->dirty;
	uint64_t t0 = util_mono_us();
	int rc = 0;

	if (full && (rc = dirtymap_mark(m, 0, j->img->size)) < 0)
		return rc;
	atomic_store(&j->done, 0);
	atomic_store(&j->total, dirtymap_count(m));
	log_info("resync to %s: %llu blocks of %u KiB%s", j->rep->uri,
		 (unsigned long long)atomic_load(&j->total), DIRTY_BLOCK >> 10,
		 full ? " (full)" : "");
	rc = copy_marked(j);
	if (rc == 0)
		rc = replica_flush_strict(j->rep);
	if (rc == 0) {
		dirtymap_sync(m);
		log_info("resync done: %llu blocks copied in %llu ms",
			 (unsigned long long)atomic_load(&j->done),
			 (unsigned long long)((util_mono_us() - t0) / 1000));
	} else {
		log_warn("resync stopped: %s; %llu blocks still to copy",
			 strerror(-rc), (unsigned long long)dirtymap_count(m));
	}
	return rc;
}

struct run_arg {
	struct resync_job *j;
	bool full;
};

static void *thread_main(void *arg)
{
	struct run_arg *a = arg;
	struct resync_job *j = a->j;
	int rc = run(j, a->full);

	free(a);
	atomic_store(&j->last_rc, rc);
	if (rc == 0)
		atomic_fetch_add(&j->completed, 1);
	atomic_store(&j->running, false);
	return NULL;
}

void resync_job_init(struct resync_job *j, struct replica *r,
		struct image *img, const volatile sig_atomic_t *stop)
{
	memset(j, 0, sizeof(*j));
	j->rep = r;
	j->img = img;
	j->stop = stop;
}

int resync_job_start(struct resync_job *j, bool full, char *err,
		size_t errlen)
{
	struct run_arg *a;
	pthread_t t;
	int rc;

	if (atomic_load(&j->running)) {
		snprintf(err, errlen, "a resync is running");
		return -EBUSY;
	}
	rc = replica_reconnect(j->rep, j->img->size, err, errlen);
	if (rc < 0)
		return rc;
	a = malloc(sizeof(*a));
	if (!a) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	a->j = j;
	a->full = full || j->full_pending;
	j->full_pending = false;
	atomic_store(&j->running, true);
	atomic_fetch_add(&j->runs, 1);
	if (pthread_create(&t, NULL, thread_main, a)) {
		atomic_store(&j->running, false);
		free(a);
		snprintf(err, errlen, "cannot start a thread");
		return -EAGAIN;
	}
	pthread_detach(t);
	return 0;
}

void resync_job_wait(struct resync_job *j)
{
	while (atomic_load(&j->running))
		util_sleep_ms(10);
}
