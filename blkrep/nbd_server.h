/* One NBD client connection: the fixed newstyle handshake, then the
 * transmission phase against an image. */
#ifndef COLO_NBD_SERVER_H
#define COLO_NBD_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include "image.h"

struct replica;
struct secondary;
struct quorum;

struct nbd_export {
	const char *name;	/* "" matches the first export */
	struct image *img;
	struct replica *rep;	/* primary mode: the secondary, or NULL */
	struct secondary *sec;	/* secondary mode: the three layers */
	bool svm;		/* ...this export is the SVM's view of them */
	struct quorum *qr;	/* quorum mode: the children, else NULL */
	const struct nbd_export *next;	/* more exports on the server */
	/* Reached only by its exact name (never as the default, "") and
	 * never listed: the name is a capability only the primary knows. */
	bool secret;
};

struct nbd_conn_stats {
	uint64_t requests, errors, bytes_read, bytes_written;
};

/* Serves one client reading from in and writing to out (the same socket
 * in the daemon).  Returns 0 when the client leaves in an orderly way
 * (NBD_CMD_DISC, NBD_OPT_ABORT), -EPIPE when it vanishes, -EPROTO when
 * it breaks the protocol beyond recovery (why says how). */
int nbd_serve(int in, int out, const struct nbd_export *e,
		struct nbd_conn_stats *st, char *why, size_t whylen);

#endif
