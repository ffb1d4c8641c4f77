/* One NIC's proxy: the tap, the dom-helper's socket, the peer link and
 * the comparator (primary) or rewriter and input log (secondary), with
 * the mode they run in. */
#ifndef NP_PROXY_H
#define NP_PROXY_H

#include <stdbool.h>
#include <stdint.h>
#include "compare.h"
#include "garp.h"
#include "link.h"
#include "mirrorlog.h"
#include "requester.h"
#include "rewriter.h"

enum proxy_mode {
	PROXY_PASSTHROUGH,	/* no COLO: tap <-> guest */
	PROXY_PRIMARY,		/* mirror input, compare output */
	PROXY_SECONDARY,	/* inject mirrored input, forward SVM output */
	PROXY_FAILOVER,		/* secondary taken over: tap <-> SVM, rewriting */
};

const char *proxy_mode_str(enum proxy_mode m);

#define PROXY_SNAPS 16		/* snapshot marks kept (secondary) */

struct proxy_cfg {
	const char *tap_name;
	const char *guest_path;
	int nic;			/* index in net-rx */
	struct cmp_config cmp;
	uint32_t rw_max_conns;
	size_t log_frames;
	uint64_t log_bytes;
	uint32_t loaded_wait_ms;	/* for the primary's snapshot mark */
};

struct proxy {
	struct proxy_cfg cfg;
	enum proxy_mode mode;
	int tap_fd;
	struct np_link guest, peer;
	int listen_fd;			/* secondary: peer listen socket */
	char peer_host[256];		/* primary: where to connect */
	int peer_port;
	uint64_t next_connect_us;
	bool peer_connecting;		/* primary: connect not yet settled */
	uint64_t next_guest_us;
	/* primary */
	struct comparator cmp;
	bool holding;			/* a snapshot was taken with a peer */
	bool rewriting;			/* a primary that took over before */
	int64_t mirror_delta;		/* mirror number - guest frame index */
	uint64_t guest_sent, mirror_sent;
	struct requester *req;
	/* secondary */
	struct rewriter rw;
	struct mlog log;
	struct { uint64_t seq, consumed; } snaps[PROXY_SNAPS];
	bool replaying;			/* after a load, until caught up */
	uint64_t replay_next;		/* the next logged frame to inject */
	unsigned nsnaps;
	struct garp garp;
	/* figures */
	uint64_t tap_in, tap_out, injected, reinjected;
	/* Frames not passed on, by why: a link's buffer was full (an
	 * overflow), the link was down, the tap refused a write, the tap
	 * gave a runt, or a secondary's own tap input (ignored by design
	 * until a takeover). */
	uint64_t full, no_link, tap_errors, runts, ignored;
	uint64_t epoch_misses, mirrored;
};

int proxy_init(struct proxy *p, const struct proxy_cfg *cfg,
	       struct requester *req, char *err, size_t errlen);
void proxy_fini(struct proxy *p);

/* Mode changes. */
int proxy_start_primary(struct proxy *p, const char *host, int port);
int proxy_start_secondary(struct proxy *p, int listen_fd);

/* Event handlers for the main loop. */
void proxy_on_tap(struct proxy *p);
void proxy_on_guest(struct proxy *p);
void proxy_on_peer(struct proxy *p);
void proxy_on_listen(struct proxy *p);
/* Reconnects, timeouts and flushes; call every few milliseconds. */
void proxy_tick(struct proxy *p);

/* Checkpoint phases (colo-phase).  Return 0 or -errno with why set. */
int proxy_paused(struct proxy *p, uint64_t seq, bool has_rx, uint64_t rx);
int proxy_committed(struct proxy *p, uint64_t seq);
int proxy_loaded(struct proxy *p, uint64_t seq);
void proxy_exit(struct proxy *p, bool takeover);

#endif
