/* The secondary's disk (DESIGN §6-7): the primary's replicated writes
 * land in the secondary disk, each overwritten block's old contents
 * first going to the hidden overlay, tagged with the write's epoch; the
 * SVM writes to the active overlay and reads active, then hidden, then
 * the secondary disk.  Loading checkpoint N empties the active overlay
 * and drops the pre-images of epochs <= N.  A takeover commits the SVM's
 * view into the secondary disk, crash-safely. */
#ifndef COLO_BLKREP_SECONDARY_H
#define COLO_BLKREP_SECONDARY_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "image.h"
#include "overlay.h"

struct replica;

struct secondary {
	pthread_mutex_t lock;
	struct image *disk;
	/* After a takeover this disk is the domain's, and it can replicate
	 * to a new secondary in turn: the SVM's writes then go through
	 * this replica (idle until blkrep-replicate). */
	struct replica *rep;
	struct overlay active, hidden;
	uint64_t epoch;		/* primary writes now belong to it */
	uint64_t loaded;	/* the last checkpoint loaded */
	bool taken_over;	/* the view was committed: a plain disk */
	/* colod's sync token for this disk (or NULL): removed before a
	 * commit, which writes what the primary never had. */
	const char *sync_token;
	uint64_t pre_images, svm_writes, commits;
};

/* Opens dir/active.ovl and dir/hidden.ovl beside disk; an interrupted
 * commit is finished first.  fresh: then empty both, for a new COLO
 * session (a taken-over disk becomes a secondary again). */
int sec_open(struct secondary *s, struct image *disk, const char *dir,
	     bool fresh, char *err, size_t errlen);
void sec_close(struct secondary *s);

/* The primary's replication writes.  Refused (-EROFS) after a takeover. */
int sec_primary_write(struct secondary *s, const void *buf, size_t len,
		      uint64_t off, bool fua);
int sec_primary_zero(struct secondary *s, uint64_t len, uint64_t off,
		     bool fua);
int sec_primary_flush(struct secondary *s);

/* The SVM's view. */
int sec_svm_read(struct secondary *s, void *buf, size_t len, uint64_t off);
int sec_svm_write(struct secondary *s, const void *buf, size_t len,
		  uint64_t off, bool fua);
int sec_svm_zero(struct secondary *s, uint64_t len, uint64_t off, bool fua);
int sec_svm_flush(struct secondary *s);

/* The primary marked snapshot seq: its later writes are epoch seq + 1. */
int sec_boundary(struct secondary *s, uint64_t seq);
/* The SVM loaded checkpoint seq. */
int sec_loaded(struct secondary *s, uint64_t seq);
/* Takeover: the SVM's view becomes the secondary disk. */
int sec_commit(struct secondary *s);

#endif
