/* The secondary's log of mirrored input (DESIGN §6, Epochs).  Frame k on
 * the peer link is number k.  A loaded checkpoint says how many the PVM
 * had consumed; those are dropped and the rest are injected again into
 * the freshly loaded SVM, so that nothing is lost or duplicated. */
#ifndef NP_MIRRORLOG_H
#define NP_MIRRORLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct mlog_ent {
	uint64_t no;
	uint32_t len;
	uint8_t *data;
};

struct mlog {
	struct mlog_ent *ring;
	size_t cap, head, count;
	uint64_t next_no;	/* the number the next frame gets */
	uint64_t bytes, max_bytes;
	uint64_t overflow;	/* frames dropped unconsumed: inexact */
};

/* -EINVAL without room for one frame; a frame over max_bytes is still
 * kept, alone. */
int mlog_init(struct mlog *m, size_t max_frames, uint64_t max_bytes);
void mlog_fini(struct mlog *m);

/* A new peer connection: numbering starts again at 0. */
void mlog_reset(struct mlog *m);

/* Logs a copy of f as the next number, which is returned. */
uint64_t mlog_append(struct mlog *m, const uint8_t *f, size_t len);

/* Forgets every frame numbered below no (the PVM consumed them). */
void mlog_drop_below(struct mlog *m, uint64_t no);

/* Calls fn on each logged frame numbered from on, oldest first, until
 * fn returns false.  Returns the number of the first frame fn did not
 * take (next_no when it took them all). */
uint64_t mlog_replay(struct mlog *m, uint64_t from,
		     bool (*fn)(void *opaque, const uint8_t *f, size_t len),
		     void *opaque);

#endif
