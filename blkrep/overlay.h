/* A sparse overlay of fixed-size blocks over a disk, in an append-only
 * file of colo-blkrep's own format (colo-blkrep(8), OVERLAY FORMAT), so
 * that the secondary's active and hidden disks survive a restart.  Each
 * block may hold several versions, one per epoch: the active disk uses
 * epoch 0 (the newest write wins), the hidden disk one pre-image per
 * (block, epoch) and reads the oldest. */
#ifndef COLO_BLKREP_OVERLAY_H
#define COLO_BLKREP_OVERLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OVL_BLOCK 4096
#define OVL_EPOCHS 8		/* versions kept per block */

struct ovl_ver {
	uint64_t epoch;
	uint64_t off;		/* of the block's data in the file */
};

struct ovl_entry {
	uint64_t block;
	struct ovl_entry *next;
	uint8_t n;
	struct ovl_ver v[OVL_EPOCHS];	/* ascending epochs */
};

struct overlay {
	int fd;
	char *path;
	uint64_t disk_size;
	uint64_t end;		/* append position */
	uint64_t live;		/* versions held */
	struct ovl_entry **bucket;
	uint32_t nbuckets;
	uint64_t flags;		/* OVL_F_* as in the header */
	uint64_t aux;		/* the owner's word in the header */
	uint64_t compact_min;	/* no rewrite of a log smaller than this */
};

#define OVL_F_COMMITTING 1	/* a failover commit is under way */
#define OVL_F_TAKEN_OVER 2	/* committed: the disk is the SVM's */

/* Opens (creating if absent) the overlay at path for a disk of
 * disk_size bytes, replaying its records; a torn last record is cut
 * off.  Returns 0 or -errno with err set. */
int ovl_open(struct overlay *o, const char *path, uint64_t disk_size,
	     char *err, size_t errlen);
void ovl_close(struct overlay *o);

/* Stores data (OVL_BLOCK bytes) as block's version of epoch; an existing
 * version of that epoch is replaced. */
int ovl_put(struct overlay *o, uint64_t block, uint64_t epoch,
	    const void *data);
/* The same for n blocks from first (n * OVL_BLOCK bytes of data), at
 * most OVL_RUN_MAX, in one write: a 1 MiB guest write saves its 256
 * pre-images with one system call, not 512. */
#define OVL_RUN_MAX 256
int ovl_put_run(struct overlay *o, uint64_t first, unsigned n, uint64_t epoch,
		const void *data);
/* Whether block has a version of exactly epoch. */
bool ovl_has(struct overlay *o, uint64_t block, uint64_t epoch);
/* Reads block's oldest (oldest) or newest version; 1 if there was one,
 * 0 if none, -errno on error. */
int ovl_read(struct overlay *o, uint64_t block, bool oldest, void *data);
/* Drops every version of an epoch <= upto (UINT64_MAX: everything).
 * The log is rewritten when dropped versions are most of it. */
int ovl_drop(struct overlay *o, uint64_t upto);
int ovl_sync(struct overlay *o);
/* The newest epoch any block has a version of (0 if none). */
uint64_t ovl_max_epoch(struct overlay *o);
int ovl_set_flags(struct overlay *o, uint64_t flags);
/* Stores the owner's word in the header; durable: synced too. */
int ovl_set_aux(struct overlay *o, uint64_t aux, bool durable);

/* Calls fn for each block that has a version, with its oldest one. */
int ovl_each(struct overlay *o, bool oldest,
	     int (*fn)(void *opaque, uint64_t block, const void *data),
	     void *opaque);

#endif
