/* The secondary's three-layer disk.  One lock serialises everything: the
 * primary's writes, the SVM's I/O and the checkpoint events must see
 * each other whole (a pre-image taken while an SVM read is half done
 * would tear it). */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "replica.h"
#include "secondary.h"
#include "util.h"

#define BLK OVL_BLOCK

/* Blocks b .. b+count-1 of the disk, in one read; the part past the end
 * of a disk whose size is not a multiple of BLK reads as zeros. */
static int disk_blocks(struct secondary *s, uint64_t b, unsigned count,
		       uint8_t *data)
{
	uint64_t off = b * BLK, n = (uint64_t)count * BLK;

	if (off + n > s->disk->size) {
		n = s->disk->size - off;
		memset(data + n, 0, (uint64_t)count * BLK - n);
	}
	return image_read(s->disk, data, n, off);
}

static int disk_block(struct secondary *s, uint64_t b, uint8_t *data)
{
	return disk_blocks(s, b, 1, data);
}

/* The SVM's view of block b: active, else the oldest pre-image, else
 * the disk. */
static int view_block(struct secondary *s, uint64_t b, uint8_t *data)
{
	int rc;

	if (!s->taken_over) {
		rc = ovl_read(&s->active, b, false, data);
		if (rc != 0)
			return rc < 0 ? rc : 0;
		rc = ovl_read(&s->hidden, b, true, data);
		if (rc != 0)
			return rc < 0 ? rc : 0;
	}
	return disk_block(s, b, data);
}

static int commit_block(void *opaque, uint64_t b, const void *data)
{
	struct secondary *s = opaque;
	uint64_t off = b * BLK, n = BLK;

	if (off + n > s->disk->size)
		n = s->disk->size - off;
	return image_write(s->disk, data, n, off, false);
}

/* Durably, and before the disk changes: a crash in between must not
 * leave a token beside a disk that already holds the SVM's writes. */
static void forget_token(const char *path)
{
	int rc = util_unlink_synced(path);

	if (rc < 0)
		log_error("cannot remove the sync token %s (%s): remove it by "
			  "hand, or a resume to this host may copy too little",
			  path, strerror(-rc));
}

/* Hidden first, then active over it: rerunning it after a crash writes
 * the same bytes again, so it can simply start over. */
static int commit_locked(struct secondary *s)
{
	int rc;

	if (s->sync_token)
		forget_token(s->sync_token);
	rc = ovl_sync(&s->hidden);
	if (rc == 0)
		rc = ovl_sync(&s->active);
	if (rc == 0)
		rc = ovl_set_flags(&s->active, OVL_F_COMMITTING);

	if (rc == 0)
		rc = ovl_each(&s->hidden, true, commit_block, s);
	/* Test knob (colo-blkrep(8)): die half way, to test the resume. */
	if (rc == 0 && getenv("COLO_BLKREP_TEST_CRASH_COMMIT")) {
		log_warn("test: SIGKILL in the middle of the commit");
		raise(SIGKILL);
	}
	if (rc == 0)
		rc = ovl_each(&s->active, false, commit_block, s);
	if (rc == 0)
		rc = image_flush(s->disk);
	if (rc == 0)
		rc = ovl_drop(&s->hidden, UINT64_MAX);
	if (rc == 0)
		rc = ovl_sync(&s->hidden);
	if (rc == 0)
		rc = ovl_drop(&s->active, UINT64_MAX);
	if (rc == 0)
		rc = ovl_set_flags(&s->active, OVL_F_TAKEN_OVER);
	if (rc == 0) {
		s->taken_over = true;
		s->commits++;
	}
	return rc;
}

/* A new COLO session on this disk: whatever an old one left (a takeover
 * included) is forgotten; the primary's copy brings the disk in step. */
static int start_fresh(struct secondary *s)
{
	int rc = ovl_drop(&s->active, UINT64_MAX);

	if (rc == 0)
		rc = ovl_drop(&s->hidden, UINT64_MAX);
	if (rc == 0)
		rc = ovl_set_flags(&s->active, 0);
	if (rc == 0)
		rc = ovl_set_aux(&s->hidden, 0, true);
	if (rc == 0)
		rc = ovl_sync(&s->active);
	if (rc == 0)
		rc = ovl_sync(&s->hidden);
	s->epoch = s->loaded = 0;
	s->taken_over = false;
	return rc;
}

int sec_open(struct secondary *s, struct image *disk, const char *dir,
	     bool fresh, char *err, size_t errlen)
{
	char path[4096];
	int rc;

	memset(s, 0, sizeof(*s));
	s->active.fd = s->hidden.fd = -1;
	s->disk = disk;
	pthread_mutex_init(&s->lock, NULL);
	snprintf(path, sizeof(path), "%s/active.ovl", dir);
	rc = ovl_open(&s->active, path, disk->size, err, errlen);
	if (rc < 0) {
		pthread_mutex_destroy(&s->lock);
		return rc;
	}
	snprintf(path, sizeof(path), "%s/hidden.ovl", dir);
	rc = ovl_open(&s->hidden, path, disk->size, err, errlen);
	if (rc < 0) {
		ovl_close(&s->active);
		pthread_mutex_destroy(&s->lock);
		return rc;
	}
	/* The hidden overlay's header word keeps the epoch across a
	 * restart; pre-images can only be newer. */
	s->epoch = s->hidden.aux;
	if (ovl_max_epoch(&s->hidden) > s->epoch)
		s->epoch = ovl_max_epoch(&s->hidden);
	/* Epoch 0 (nothing marked yet): no SVM runs, so the primary's
	 * writes (the initial sync among them) need no pre-images. */
	s->taken_over = s->active.flags & OVL_F_TAKEN_OVER;
	if (s->active.flags & OVL_F_COMMITTING) {
		log_warn("%s: finishing a failover commit that was interrupted",
			 dir);
		rc = commit_locked(s);
		if (rc < 0) {
			snprintf(err, errlen, "%s: cannot finish the commit: %s",
				 dir, strerror(-rc));
			sec_close(s);
			return rc;
		}
	}
	if (fresh && (rc = start_fresh(s)) < 0) {
		snprintf(err, errlen, "%s: cannot empty the overlays: %s", dir,
			 strerror(-rc));
		sec_close(s);
		return rc;
	}
	return 0;
}

void sec_close(struct secondary *s)
{
	ovl_close(&s->active);
	ovl_close(&s->hidden);
	pthread_mutex_destroy(&s->lock);
}

/* The blocks from b on, up to last and OVL_RUN_MAX, that still lack a
 * pre-image of this epoch. */
static unsigned run_lacking(struct secondary *s, uint64_t b, uint64_t last)
{
	unsigned n = 0;

	while (b + n <= last && n < OVL_RUN_MAX &&
	       !ovl_has(&s->hidden, b + n, s->epoch))
		n++;
	return n;
}

/* Copy-before-write: the old contents of each block in the range go to
 * the hidden overlay once per epoch, written before the disk changes.
 * Not synced: if this blkrep dies the page cache keeps the order, and if
 * the host dies the SVM dies with it, so no view is ever read from the
 * overlays again (a new session starts them --fresh).  Only a takeover
 * needs them on disk, and the commit syncs them first. */
static int save_pre_images(struct secondary *s, uint64_t len, uint64_t off)
{
	uint64_t b, last, blocks;
	uint8_t *data = NULL;
	int rc = 0;

	if (s->epoch == 0 || len == 0)
		return 0;
	last = (off + len - 1) / BLK;
	blocks = last - off / BLK + 1;
	/* Runs of blocks: one read of the disk and one write of the
	 * overlay for each. */
	for (b = off / BLK; rc == 0 && b <= last;) {
		unsigned n = run_lacking(s, b, last);

		if (n == 0) {
			b++;
			continue;
		}
		if (!data && !(data = malloc((blocks < OVL_RUN_MAX ? blocks :
					      OVL_RUN_MAX) * BLK)))
			rc = -ENOMEM;
		if (rc == 0)
			rc = disk_blocks(s, b, n, data);
		if (rc == 0)
			rc = ovl_put_run(&s->hidden, b, n, s->epoch, data);
		if (rc == 0)
			s->pre_images += n;
		b += n;
	}
	free(data);
	return rc;
}

int sec_primary_write(struct secondary *s, const void *buf, size_t len,
		      uint64_t off, bool fua)
{
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = s->taken_over ? -EROFS : save_pre_images(s, len, off);
	if (rc == 0)
		rc = image_write(s->disk, buf, len, off, fua);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int sec_primary_zero(struct secondary *s, uint64_t len, uint64_t off,
		     bool fua)
{
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = s->taken_over ? -EROFS : save_pre_images(s, len, off);
	/* Holes would be fine for the disk, but the pre-images above must
	 * not be punched: zero the range itself. */
	if (rc == 0)
		rc = image_zero(s->disk, len, off, true, fua);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int sec_primary_flush(struct secondary *s)
{
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = image_flush(s->disk);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int sec_svm_read(struct secondary *s, void *buf, size_t len, uint64_t off)
{
	uint8_t *data = malloc(BLK), *out = buf;
	int rc = data ? 0 : -ENOMEM;

	pthread_mutex_lock(&s->lock);
	while (rc == 0 && len) {
		uint64_t b = off / BLK, in = off % BLK;
		size_t n = BLK - in < len ? BLK - in : len;

		rc = view_block(s, b, data);
		if (rc == 0)
			memcpy(out, data + in, n);
		out += n;
		off += n;
		len -= n;
	}
	pthread_mutex_unlock(&s->lock);
	free(data);
	return rc;
}

/* A taken-over disk's write or zeroing, on to its own secondary too. */
static int disk_put(struct secondary *s, const uint8_t *buf, uint64_t len,
		    uint64_t off, bool fua)
{
	if (buf)
		return s->rep ? replica_write_both(s->rep, s->disk, buf, len,
						   off, fua) :
		       image_write(s->disk, buf, len, off, fua);
	return s->rep ? replica_zero_both(s->rep, s->disk, len, off, true, fua) :
	       image_zero(s->disk, len, off, true, fua);
}

/* Writes (or zeroes, buf NULL) through the SVM's view: whole blocks go
 * to the active overlay, partial ones after a read-modify-write. */
static int svm_put(struct secondary *s, const uint8_t *buf, uint64_t len,
		   uint64_t off, bool fua)
{
	uint8_t *data = malloc(BLK);
	int rc = data ? 0 : -ENOMEM;

	pthread_mutex_lock(&s->lock);
	if (s->taken_over) {
		/* After the takeover the view is the disk, replicated
		 * when this side protects the domain in turn. */
		rc = disk_put(s, buf, len, off, fua);
		len = 0;
	}
	while (rc == 0 && len) {
		uint64_t b = off / BLK, in = off % BLK;
		size_t n = BLK - in < len ? BLK - in : len;

		if (n < BLK)
			rc = view_block(s, b, data);
		if (rc == 0) {
			if (buf)
				memcpy(data + in, buf, n);
			else
				memset(data + in, 0, n);
			rc = ovl_put(&s->active, b, 0, data);
		}
		buf = buf ? buf + n : NULL;
		off += n;
		len -= n;
		s->svm_writes++;
	}
	if (rc == 0 && fua && !s->taken_over)
		rc = ovl_sync(&s->active);
	pthread_mutex_unlock(&s->lock);
	free(data);
	return rc;
}

int sec_svm_write(struct secondary *s, const void *buf, size_t len,
		  uint64_t off, bool fua)
{
	return svm_put(s, buf, len, off, fua);
}

int sec_svm_zero(struct secondary *s, uint64_t len, uint64_t off, bool fua)
{
	return svm_put(s, NULL, len, off, fua);
}

int sec_svm_flush(struct secondary *s)
{
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = s->taken_over ? image_flush(s->disk) : ovl_sync(&s->active);
	if (rc == 0 && s->taken_over && s->rep)
		rc = replica_flush(s->rep);
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* A new COLO session numbers its checkpoints from 1 again: what the
 * overlays hold belongs to the old one, whose state the SVM no longer
 * has (it came over whole with the new session's migration). */
static int new_session(struct secondary *s)
{
	int rc = ovl_drop(&s->active, UINT64_MAX);

	if (rc == 0)
		rc = ovl_drop(&s->hidden, UINT64_MAX);
	if (rc == 0)
		rc = ovl_sync(&s->active);
	if (rc == 0)
		rc = ovl_sync(&s->hidden);
	s->loaded = 0;
	log_info("checkpoint numbers started again: a new COLO session");
	return rc;
}

int sec_boundary(struct secondary *s, uint64_t seq)
{
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (s->taken_over)
		rc = -EROFS;
	else if (seq < s->loaded || seq + 1 < s->epoch)
		rc = new_session(s);
	if (rc == 0)
		rc = ovl_set_aux(&s->hidden, seq + 1, false);
	if (rc == 0)
		s->epoch = seq + 1;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int sec_loaded(struct secondary *s, uint64_t seq)
{
	int rc;

	pthread_mutex_lock(&s->lock);
	/* Written before the SVM runs from the new state, so a restarted
	 * blkrep cannot bring back the old state's writes; not synced, for
	 * the reason save_pre_images gives. */
	if (s->epoch <= seq)
		log_warn("checkpoint %llu loaded, but the primary never marked "
			 "its boundary: its later writes may show too early",
			 (unsigned long long)seq);
	rc = ovl_drop(&s->active, UINT64_MAX);
	if (rc == 0)
		rc = ovl_drop(&s->hidden, seq);
	if (rc == 0)
		s->loaded = seq;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int sec_commit(struct secondary *s)
{
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = s->taken_over ? 0 : commit_locked(s);
	pthread_mutex_unlock(&s->lock);
	return rc;
}
