/* colod's side of COLO disk replication: the secondary's blkreps report
 * their TCP export and control endpoint, the primary's replicate to
 * them (copying the disk across first), and both are attached to their
 * helper as checkpoint phase listeners.  The disks that replicate are
 * the image-file disks that are not read-only, in XML order. */
#ifndef COLOD_COLO_DISKS_H
#define COLOD_COLO_DISKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "colod.h"
#include "domain.h"
#include "domains.h"

/* Primary: each replicated disk's size, for the secondary to match.
 * *sizes is malloc'd. */
int colo_disks_sizes(const struct domain_config *cfg, int64_t **sizes,
		size_t *n, struct colo_error *err);

/* Secondary: waits for each replicated disk's blkrep to report its
 * endpoints and puts them in ii. */
int colo_disks_ports(struct colod *d, const struct domain_config *cfg,
		struct incoming_info *ii, struct colo_error *err);

/* Secondary, before its blkreps start: each replicated disk's sync token
 * into ii (disk_sync.h), and off the disk: until the session records
 * its own, nothing vouches for the image.  0, or -errno with err set. */
int colo_disks_syncs(struct colod *d, const struct domain_config *cfg,
		struct incoming_info *ii, struct colo_error *err);
/* Secondary, once the session is set up: records its token with every
 * replicated disk. */
int colo_disks_sync_all(struct colod *d, const struct domain_config *cfg,
		const char *tok);

/* Primary: makes each replicated disk's blkrep replicate to the
 * secondary's at host and waits until the resync is done, announcing
 * DISK_RESYNC.  The resync is full, or (not full) copies only the
 * blocks the secondary missed where its sync token (in ii) matches
 * ours, and all of a disk where it does not.  A completed copy records
 * token (when given) with our disk. */
int colo_disks_replicate(struct colod *d, const struct domain_config *cfg,
		const char *host, const struct incoming_info *ii, bool full,
		const char *token, struct colo_error *err);

/* Attaches each replicated disk's blkrep to the domain's helper. */
int colo_disks_attach(struct colod *d, struct dom_link *l,
		const struct domain_config *cfg, struct colo_error *err);

#endif
