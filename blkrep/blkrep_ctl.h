/* colo-blkrep's control socket: checkpoint phases from the helper, and
 * the epoch boundary from the primary's colo-blkrep. */
#ifndef COLO_BLKREP_CTL_H
#define COLO_BLKREP_CTL_H

#include <jansson.h>
#include <stdbool.h>
#include "ctl.h"
#include "error.h"
#include "resync.h"
#include "quorum.h"
#include "secondary.h"

struct blkrep_ctl {
	struct secondary *sec;	/* secondary mode, else NULL */
	struct replica *rep;	/* a plain writable image, else NULL */
	struct resync_job *job;	/* ...and its resync */
	struct quorum *qr;	/* quorum mode, else NULL */
	const char *peer;	/* primary: the secondary's control socket */
	char peer_buf[512];	/* ...as blkrep-replicate set it */
	struct ctl_client peer_c;
	bool peer_open;
};

json_t *blkrep_ctl_dispatch(void *opaque, const char *name, json_t *args,
			    struct colo_error *err);
/* The peer endpoint (--ctl-listen): blkrep-boundary only. */
json_t *blkrep_peer_dispatch(void *opaque, const char *name, json_t *args,
			     struct colo_error *err);
void blkrep_ctl_fini(struct blkrep_ctl *b);

#endif
