/* The data paths of one NIC in each mode.  The primary mirrors every
 * input frame it gives the PVM (both or neither, so that the numbering on
 * the peer link stays in step with the helper's frame count), and holds
 * PVM output in the comparator from the first snapshot on.  The secondary
 * logs and injects mirrored input through the rewriter, and forwards SVM
 * output to the primary; its tap stays silent until a takeover. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "log.h"
#include "proxy.h"
#include "tap.h"
#include "util.h"

const char *proxy_mode_str(enum proxy_mode m)
{
	static const char *const s[] = {
		"passthrough", "primary", "secondary", "failover",
	};

	return s[m];
}

static void replay_pump(struct proxy *p);

/* A frame that link l could not take: its buffer was full (an
 * overflow), or it was down. */
static void count_drop(struct proxy *p, const struct np_link *l)
{
	if (l->fd < 0)
		p->no_link++;
	else
		p->full++;
}

static void to_tap(struct proxy *p, const uint8_t *f, size_t len)
{
	if (write(p->tap_fd, f, len) < 0)
		p->tap_errors++;
	else
		p->tap_out++;
}

/* The guest's output on its way out.  A primary that was a secondary
 * and took over still shifts the connections it had then (rewriting). */
static void guest_out(struct proxy *p, const uint8_t *f, size_t len)
{
	uint8_t b[FRAME_MAX];

	if (!p->rewriting || len > sizeof(b)) {
		to_tap(p, f, len);
		return;
	}
	memcpy(b, f, len);
	rw_from_guest(&p->rw, b, len);
	to_tap(p, b, len);
}

static void on_release(void *opaque, const uint8_t *f, size_t len)
{
	guest_out(opaque, f, len);
}

/* Input for a primary's guest, mirrored to the secondary in the same
 * order, or dropped for both. */
static void primary_input(struct proxy *p, const uint8_t *f, size_t len)
{
	if (!link_room(&p->guest, len)) {
		count_drop(p, &p->guest);
		return;
	}
	if (p->peer.fd >= 0 && !link_room(&p->peer, len)) {
		p->full++;
		return;
	}
	link_send(&p->guest, f, len);
	p->guest_sent++;
	if (p->peer.fd >= 0 && link_send(&p->peer, f, len)) {
		p->mirror_sent++;
		p->mirrored++;
	} else {
		p->mirror_delta--;	/* this one has no number */
	}
}

/* Bytes for a log line: printable ASCII kept, the rest as '.'. */
static const char *printable(char *out, const uint8_t *b, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n && i < 79; i++)
		out[i] = b[i] >= 0x20 && b[i] < 0x7f && b[i] != '"' ? (char)b[i]
								     : '.';
	out[i] = '\0';
	return out;
}

static void on_request(void *opaque, enum cmp_reason why)
{
	struct proxy *p = opaque;

	if (why == CMP_REASON_MISMATCH) {
		const struct conn_key *k = &p->cmp.last_key;

		char pv[80], sv[80];

		log_debug("mismatch: %s flow ports %u/%u (epoch %llu, tcp "
			  "byte %u: PVM \"%s\" SVM \"%s\"); asking for a "
			  "checkpoint", cmp_kind_str(p->cmp.last_kind),
			  k->port[0], k->port[1],
			  (unsigned long long)p->cmp.s_epoch,
			  p->cmp.last_anchor,
			  printable(pv, p->cmp.last_bytes[0], p->cmp.last_len[0]),
			  printable(sv, p->cmp.last_bytes[1], p->cmp.last_len[1]));
	} else {
		log_debug("asking for a checkpoint: %s", cmp_reason_str(why));
	}
	if (p->req)
		requester_ask(p->req);
}

static void on_inject(void *opaque, const uint8_t *f, size_t len)
{
	struct proxy *p = opaque;

	if (p->mode == PROXY_PRIMARY) {
		primary_input(p, f, len);
		return;
	}
	if (link_send(&p->guest, f, len))
		p->injected++;
	else
		count_drop(p, &p->guest);
}

int proxy_init(struct proxy *p, const struct proxy_cfg *cfg,
	       struct requester *req, char *err, size_t errlen)
{
	memset(p, 0, sizeof(*p));
	p->cfg = *cfg;
	p->req = req;
	p->listen_fd = -1;
	if (link_init(&p->guest, "guest socket", false) < 0 ||
	    link_init(&p->peer, "peer link", true) < 0 ||
	    cmp_init(&p->cmp, &cfg->cmp, on_release, on_request, p) < 0 ||
	    rw_init(&p->rw, cfg->rw_max_conns, on_inject, p) < 0 ||
	    mlog_init(&p->log, cfg->log_frames, cfg->log_bytes) < 0) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	p->tap_fd = tap_open(cfg->tap_name, err, errlen);
	return p->tap_fd < 0 ? p->tap_fd : 0;
}

void proxy_fini(struct proxy *p)
{
	link_fini(&p->guest);
	link_fini(&p->peer);
	cmp_fini(&p->cmp);
	rw_fini(&p->rw);
	mlog_fini(&p->log);
	if (p->tap_fd >= 0)
		close(p->tap_fd);
	if (p->listen_fd >= 0)
		close(p->listen_fd);
	p->tap_fd = p->listen_fd = -1;
}

/* ---- connections ------------------------------------------------------ */

/* Non-blocking: a helper that does not accept (its devices parked for a
 * long pause) lets its backlog fill, and a blocking connect would then
 * stall the whole proxy, phase replies included.  EAGAIN is a retry. */
static int connect_guest(const char *path)
{
	return util_connect_unix(path, SOCK_NONBLOCK);
}

static void guest_attached(struct proxy *p, int fd)
{
	link_attach(&p->guest, fd);
	/* Frame j on this connection is mirror number j + delta. */
	p->guest_sent = 0;
	p->mirror_delta = (int64_t)p->mirror_sent;
	log_info("connected to %s", p->cfg.guest_path);
}

/* A non-blocking connect: a dead secondary must not stall the loop. */
static int connect_peer(const char *host, int port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai;
	char ps[16];
	int fd, one = 1;

	snprintf(ps, sizeof(ps), "%d", port);
	if (getaddrinfo(host, ps, &hints, &ai) != 0)
		return -EHOSTUNREACH;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one,
			   sizeof(one));
	return fd;
}

static void peer_attached(struct proxy *p, int fd)
{
	link_attach(&p->peer, fd);
	if (p->mode == PROXY_PRIMARY) {
		p->mirror_sent = 0;
		p->mirror_delta = -(int64_t)p->guest_sent;
	} else {
		mlog_reset(&p->log);
		p->nsnaps = 0;
		p->replaying = false;
	}
	log_info("peer link up");
}

int proxy_start_primary(struct proxy *p, const char *host, int port)
{
	if (p->mode != PROXY_PASSTHROUGH && p->mode != PROXY_PRIMARY &&
	    p->mode != PROXY_FAILOVER)
		return -EBUSY;
	/* A survivor protected again: the connections it took over keep
	 * their shift, toward the client only; the new secondary's VM
	 * comes from this guest and sees what it sees. */
	if (p->mode == PROXY_FAILOVER)
		p->rewriting = true;
	snprintf(p->peer_host, sizeof(p->peer_host), "%s", host);
	p->peer_port = port;
	link_close(&p->peer, "peer changed");
	/* A proxy that was a primary before (COLO ended, then started
	 * again) compares afresh from the next snapshot. */
	cmp_set_passthrough(&p->cmp, false, util_mono_us());
	p->holding = false;
	p->mode = PROXY_PRIMARY;
	p->next_connect_us = 0;
	log_info("primary: mirroring to %s:%d", host, port);
	return 0;
}

int proxy_start_secondary(struct proxy *p, int listen_fd)
{
	p->listen_fd = listen_fd;
	p->mode = PROXY_SECONDARY;
	return 0;
}

void proxy_on_listen(struct proxy *p)
{
	int fd = accept4(p->listen_fd, NULL, NULL,
			 SOCK_NONBLOCK | SOCK_CLOEXEC), one = 1;

	if (fd < 0)
		return;
	setsockopt(fd, IPPROTO_TCP, 1 /* TCP_NODELAY */, &one, sizeof(one));
	/* The newest primary wins, as on the helper's socket. */
	peer_attached(p, fd);
}

/* ---- frames ----------------------------------------------------------- */

static void tap_frame(struct proxy *p, const uint8_t *f, size_t len)
{
	switch (p->mode) {
	case PROXY_PASSTHROUGH:
		if (link_send(&p->guest, f, len))
			p->guest_sent++;
		else
			count_drop(p, &p->guest);
		break;
	case PROXY_PRIMARY:
		if (p->rewriting)	/* on to primary_input, shifted */
			rw_to_guest(&p->rw, f, len);
		else
			primary_input(p, f, len);
		break;
	case PROXY_SECONDARY:
		p->ignored++;	/* silent until a takeover */
		break;
	case PROXY_FAILOVER:
		rw_to_guest(&p->rw, f, len);
		break;
	}
}

static void flush_links(struct proxy *p)
{
	if (p->guest.out_len)
		link_flush(&p->guest);
	if (p->peer.out_len)
		link_flush(&p->peer);
}

void proxy_on_tap(struct proxy *p)
{
	uint8_t buf[FRAME_MAX];

	for (int i = 0; i < 64; i++) {
		ssize_t n = read(p->tap_fd, buf, sizeof(buf));

		if (n <= 0)
			break;
		p->tap_in++;
		if (n < FRAME_MIN) {
			p->runts++;
			continue;
		}
		tap_frame(p, buf, (size_t)n);
	}
	flush_links(p);
}

static void guest_frame(void *opaque, uint8_t *f, size_t len)
{
	struct proxy *p = opaque;

	switch (p->mode) {
	case PROXY_PASSTHROUGH:
		to_tap(p, f, len);
		break;
	case PROXY_PRIMARY:
		if (p->holding)
			cmp_input(&p->cmp, CMP_PRIMARY, f, len,
				  util_mono_us());
		else
			guest_out(p, f, len);
		break;
	case PROXY_SECONDARY:
		garp_learn(&p->garp, f, len);
		rw_from_guest(&p->rw, f, len);
		if (!link_send(&p->peer, f, len))
			count_drop(p, &p->peer);
		break;
	case PROXY_FAILOVER:
		garp_learn(&p->garp, f, len);
		rw_from_guest(&p->rw, f, len);
		to_tap(p, f, len);
		break;
	}
}

static void no_control(void *opaque, uint32_t type, uint64_t a, uint64_t b)
{
	(void)opaque;
	(void)type;
	(void)a;
	(void)b;
}

static const struct link_ops guest_ops = { guest_frame, no_control };

void proxy_on_guest(struct proxy *p)
{
	if (link_read(&p->guest, &guest_ops, p) < 0)
		p->next_guest_us = util_mono_us() + 20000;
	flush_links(p);
}

static void peer_frame(void *opaque, uint8_t *f, size_t len)
{
	struct proxy *p = opaque;

	if (p->mode == PROXY_PRIMARY && p->holding) {
		cmp_input(&p->cmp, CMP_SECONDARY, f, len, util_mono_us());
	} else if (p->mode == PROXY_SECONDARY) {
		mlog_append(&p->log, f, len);
		/* During a replay the pump injects it in its turn. */
		if (!p->replaying)
			rw_to_guest(&p->rw, f, len);
	}
}

static void peer_control(void *opaque, uint32_t type, uint64_t a, uint64_t b)
{
	struct proxy *p = opaque;

	if (p->mode == PROXY_PRIMARY && type == LINK_CTL_LOADED) {
		cmp_secondary_loaded(&p->cmp, a, util_mono_us());
	} else if (p->mode == PROXY_SECONDARY && type == LINK_CTL_SNAPSHOT) {
		unsigned i = p->nsnaps++ % PROXY_SNAPS;

		p->snaps[i].seq = a;
		p->snaps[i].consumed = b;
	} else {
		log_warn("peer link: unexpected control record %u in mode %s",
			 type, proxy_mode_str(p->mode));
	}
}

static const struct link_ops peer_ops = { peer_frame, peer_control };

void proxy_on_peer(struct proxy *p)
{
	if (link_read(&p->peer, &peer_ops, p) < 0)
		p->next_connect_us = util_mono_us() + 200000;
	flush_links(p);
}

/* ---- housekeeping ----------------------------------------------------- */

static void check_connecting_peer(struct proxy *p)
{
	int e = 0;
	socklen_t el = sizeof(e);
	struct pollfd pf = { p->peer.fd, POLLOUT, 0 };

	if (poll(&pf, 1, 0) <= 0)
		return;
	p->peer_connecting = false;
	getsockopt(p->peer.fd, SOL_SOCKET, SO_ERROR, &e, &el);
	if (e) {
		link_close(&p->peer, "connect failed");
		p->next_connect_us = util_mono_us() + 200000;
	}
}

void proxy_tick(struct proxy *p)
{
	uint64_t now = util_mono_us();

	if (p->guest.fd < 0 && now >= p->next_guest_us) {
		int fd = connect_guest(p->cfg.guest_path);

		if (fd >= 0)
			guest_attached(p, fd);
		p->next_guest_us = now + 100000;
	}
	if (p->mode == PROXY_PRIMARY && p->peer.fd < 0 &&
	    now >= p->next_connect_us) {
		int fd = connect_peer(p->peer_host, p->peer_port);

		if (fd >= 0) {
			peer_attached(p, fd);
			p->peer_connecting = true;
		}
		p->next_connect_us = now + 200000;
	}
	/* Only until the connect is settled: two system calls on every
	 * turn of the loop were a loaded proxy's overhead for nothing. */
	if (p->mode == PROXY_PRIMARY && p->peer.fd >= 0 && p->peer_connecting)
		check_connecting_peer(p);
	if (p->mode == PROXY_PRIMARY && p->holding)
		cmp_tick(&p->cmp, now);
	replay_pump(p);
	flush_links(p);
}

/* ---- checkpoint phases ------------------------------------------------ */

int proxy_paused(struct proxy *p, uint64_t seq, bool has_rx, uint64_t rx)
{
	int64_t consumed;

	/* Checkpoint 0 is the end of the initial migration: its boundary
	 * is blkrep's; comparing starts with checkpoint 1. */
	if (p->mode != PROXY_PRIMARY || seq == 0)
		return 0;
	/* Everything the PVM sent before the pause is in the socket now
	 * (the helper drains its output before it parks): it belongs to
	 * the epoch being closed, all of it. */
	while (link_read(&p->guest, &guest_ops, p) > 0)
		flush_links(p);
	flush_links(p);
	cmp_paused(&p->cmp, seq);
	p->holding = true;
	if (!has_rx || p->peer.fd < 0)
		return 0;
	consumed = (int64_t)rx + p->mirror_delta;
	if (!link_send_control(&p->peer, LINK_CTL_SNAPSHOT, seq,
			       consumed > 0 ? (uint64_t)consumed : 0))
		log_warn("peer link full: snapshot %llu not marked",
			 (unsigned long long)seq);
	flush_links(p);
	return 0;
}

int proxy_committed(struct proxy *p, uint64_t seq)
{
	if (p->mode == PROXY_PRIMARY)
		cmp_committed(&p->cmp, seq, util_mono_us());
	return 0;
}

static bool find_snapshot(struct proxy *p, uint64_t seq, uint64_t *consumed)
{
	unsigned n = p->nsnaps < PROXY_SNAPS ? p->nsnaps : PROXY_SNAPS;

	for (unsigned i = 0; i < n; i++)
		if (p->snaps[i].seq == seq) {
			*consumed = p->snaps[i].consumed;
			return true;
		}
	return false;
}

static bool reinject(void *opaque, const uint8_t *f, size_t len)
{
	struct proxy *p = opaque;

	/* Room for it and for whatever the rewriter releases with it. */
	if (!link_room(&p->guest, 2 * len + 64))
		return false;
	p->reinjected++;
	rw_to_guest(&p->rw, f, len);
	return true;
}

/* Feeds the log to the freshly loaded SVM as fast as its socket takes
 * it: the helper reads nothing until the loaded phase is answered, so
 * the log cannot go in at once. */
static void replay_pump(struct proxy *p)
{
	if (!p->replaying || p->guest.fd < 0)
		return;
	p->replay_next = mlog_replay(&p->log, p->replay_next, reinject, p);
	if (p->replay_next == p->log.next_no)
		p->replaying = false;
	flush_links(p);
}

int proxy_loaded(struct proxy *p, uint64_t seq)
{
	uint64_t consumed = 0, until = util_mono_us() +
				       p->cfg.loaded_wait_ms * 1000ull;
	bool found;
	int fd;

	if (p->mode != PROXY_SECONDARY)
		return 0;
	/* The primary marked the snapshot before sending it, so the mark
	 * is normally here already; read on for it if not. */
	while (!(found = find_snapshot(p, seq, &consumed)) &&
	       p->peer.fd >= 0 && util_mono_us() < until) {
		struct pollfd pf = { p->peer.fd, POLLIN, 0 };

		if (poll(&pf, 1, 10) > 0)
			proxy_on_peer(p);
	}
	if (found) {
		mlog_drop_below(&p->log, consumed);
	} else {
		/* Losing input is recoverable (TCP retransmits); a
		 * duplicate is not, so nothing old is replayed. */
		p->epoch_misses++;
		mlog_drop_below(&p->log, p->log.next_no);
		consumed = p->log.next_no;
		log_warn("checkpoint %llu: no snapshot mark from the primary",
			 (unsigned long long)seq);
	}
	rw_checkpoint_loaded(&p->rw);
	/* The helper dropped our connection when it loaded the device
	 * state; whatever we had queued for it is stale. */
	link_close(&p->guest, "checkpoint loaded: replaying input");
	fd = connect_guest(p->cfg.guest_path);
	if (fd >= 0)
		link_attach(&p->guest, fd);
	/* If the connect failed, the reconnect in proxy_tick resumes it. */
	p->replaying = true;
	p->replay_next = found ? consumed : p->log.next_no;
	replay_pump(p);
	if (p->peer.fd >= 0)
		link_send_control(&p->peer, LINK_CTL_LOADED, seq, 0);
	flush_links(p);
	return 0;
}

void proxy_exit(struct proxy *p, bool takeover)
{
	uint8_t b[128];
	size_t n;

	if (p->mode == PROXY_PRIMARY) {
		cmp_set_passthrough(&p->cmp, true, util_mono_us());
		link_close(&p->peer, "COLO ended: passthrough");
		p->mode = p->rewriting ? PROXY_FAILOVER : PROXY_PASSTHROUGH;
		p->holding = false;
		return;
	}
	if (p->mode != PROXY_SECONDARY || !takeover)
		return;		/* a secondary standing by stays silent */
	p->mode = PROXY_FAILOVER;
	rw_set_standalone(&p->rw);
	link_close(&p->peer, "took over: passthrough with rewriting");
	if (p->listen_fd >= 0)
		close(p->listen_fd);
	p->listen_fd = -1;
	if ((n = garp_arp(&p->garp, b)))
		to_tap(p, b, n);
	if ((n = garp_na(&p->garp, b)))
		to_tap(p, b, n);
	log_info("took over: announced the guest (%s%s)",
		 p->garp.have_v4 ? "ARP" : "",
		 p->garp.have_v6 ? " NA" : "");
}
