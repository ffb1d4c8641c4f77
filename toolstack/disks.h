/* colod's side of image-file disks: one colo-blkrep per
 * <disk type='file'>, serving the image to the domain's helper on
 * RUN_DIR/dom-NAME-diskN.sock, started before the helper. */
#ifndef COLOD_DISKS_H
#define COLOD_DISKS_H

#include <stddef.h>
#include "colod.h"
#include "domain.h"

/* Starts the domain's blkreps and waits for their sockets.  Returns 0,
 * or -errno with why set (the ones started are stopped again). */
int disks_spawn(struct colod *d, const struct domain_config *cfg,
		char *why, size_t whylen);
void disks_kill(struct colod *d, const char *name);

#endif
