/* Incremental and full resync of the secondary. */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "dirtymap.h"
#include "log.h"
#include "resync.h"
#include "util.h"

int resync_run(struct replica *r, struct image *img, bool full,
		const volatile sig_atomic_t *stop)
{
	struct dirtymap *m = &r->dirty;
	uint8_t *buf = malloc(DIRTY_BLOCK);
	uint64_t total, done = 0, t0 = util_mono_us();
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	if (full && (rc = dirtymap_mark(m, 0, img->size)) < 0) {
		free(buf);
		return rc;
	}
	total = dirtymap_count(m);
	log_info("resync to %s: %llu blocks of %u KiB%s", r->uri,
		 (unsigned long long)total, DIRTY_BLOCK >> 10,
		 full ? " (full)" : "");
	/* One pass is enough: the guest's writes meanwhile go to both sides
	 * and set no bits, and a block copied under the replica lock
	 * (replica_copy_block) cannot overtake one of them.  A secondary
	 * that fails ends the pass, with the rest still marked. */
	for (uint64_t b = 0; b < m->nblocks && rc == 0; b++) {
		uint64_t off = b * DIRTY_BLOCK;
		size_t len = img->size - off < DIRTY_BLOCK ?
			     (size_t)(img->size - off) : DIRTY_BLOCK;

		if (!dirtymap_test(m, b))
			continue;
		if (*stop) {
			rc = -ECANCELED;
			break;
		}
		rc = replica_copy_block(r, img, buf, off, len, b);
		done++;
		if (total && done * 10 / total != (done - 1) * 10 / total)
			log_info("resync: %llu%% (%llu of %llu blocks)",
				 (unsigned long long)(done * 100 / total),
				 (unsigned long long)done,
				 (unsigned long long)total);
	}
	free(buf);
	if (rc == 0)
		rc = replica_flush_strict(r);
	if (rc == 0) {
		dirtymap_sync(m);
		log_info("resync done: %llu blocks copied in %llu ms",
			 (unsigned long long)done,
			 (unsigned long long)((util_mono_us() - t0) / 1000));
	} else {
		log_warn("resync stopped: %s; %llu blocks still to copy",
			 strerror(-rc), (unsigned long long)dirtymap_count(m));
	}
	return rc;
}
