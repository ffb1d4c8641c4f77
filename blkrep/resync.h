/* Resync: copies the blocks the dirty map marks from the primary's image
 * to the secondary while the guest keeps writing, then the pair is in
 * step again. */
#ifndef COLO_BLKREP_RESYNC_H
#define COLO_BLKREP_RESYNC_H

#include <signal.h>
#include <stdbool.h>
#include "image.h"
#include "replica.h"

/* Runs to the end: 0, or -errno when the secondary failed or *stop was
 * set (the map then keeps what is left).  full marks every block first. */
int resync_run(struct replica *r, struct image *img, bool full,
		const volatile sig_atomic_t *stop);

#endif
