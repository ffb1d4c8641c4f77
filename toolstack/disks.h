/* colod's side of image-file disks: one colo-blkrep per
 * <disk type='file'>, serving the image to the domain's helper on
 * RUN_DIR/dom-NAME-diskN.sock, started before the helper.  On a COLO
 * secondary it runs in secondary mode: overlays in
 * STATE_DIR/overlay/NAME-diskN, a TCP export and control endpoint for
 * the primary's blkrep, both written to RUN_DIR/dom-NAME-diskN.port. */
#ifndef COLOD_DISKS_H
#define COLOD_DISKS_H

#include <stddef.h>
#include <stdint.h>
#include "colod.h"
#include "domain.h"

/* What a COLO secondary's disks need; NULL for any other domain. */
struct disks_colo {
	const char *addr;		/* the replication address */
	const int64_t *sizes;		/* per image-file disk, or NULL */
	size_t nsizes;
};

/* Starts the domain's blkreps and waits for their sockets.  Returns 0,
 * or -errno with why set (the ones started are stopped again). */
int disks_spawn(struct colod *d, const struct domain_config *cfg,
		const struct disks_colo *colo, char *why, size_t whylen);
void disks_kill(struct colod *d, const char *name);
/* The blkrep control endpoint (ipc://) and port file of disk i. */
void disks_ctl(struct colod *d, const char *name, int i, char *buf,
		size_t len);
void disks_port_file(struct colod *d, const char *name, int i, char *buf,
		size_t len);

#endif
