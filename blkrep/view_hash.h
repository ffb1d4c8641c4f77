/* The test knob COLO_BLKREP_TEST_VIEW_HASH (colo-blkrep(8)): a hash of
 * the whole disk as the guest sees it, logged at each checkpoint phase,
 * so that a test can compare the SVM's view after loading checkpoint N
 * with the PVM's disk at snapshot N, for every N. */
#ifndef COLO_BLKREP_VIEW_HASH_H
#define COLO_BLKREP_VIEW_HASH_H

#include <stdbool.h>
#include <stdint.h>
#include "image.h"
#include "secondary.h"

bool view_hash_wanted(void);
/* FNV-1a over every byte; -errno in *rc when a read fails. */
uint64_t view_hash_image(struct image *img, int *rc);
uint64_t view_hash_svm(struct secondary *s, int *rc);

#endif
