/* colod's main loop: requests from colo-xl and from peer colods, helper
 * events, signals, heartbeats and the checkpoint-record tick; and the
 * reduced loop a long operation runs meanwhile (colod_serve_busy). */
#include "config.h"
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>
#include "colo-qapi-commands.h"
#include "colod.h"
#include "ctl.h"
#include "log.h"
#include "peer_auth.h"
#include "util.h"

/* What runs beside a long operation: reads, the peers' heartbeats, and
 * a manual failover, which must never wait for a disk copy. */
static bool allowed_while_busy(const char *name)
{
	return !strncmp(name, "query-", 6) || !strcmp(name, "console-read") ||
	       !strcmp(name, "x-peer-heartbeat") ||
	       !strcmp(name, "x-colo-lost-heartbeat");
}

static json_t *dispatch(void *opaque, const char *name, json_t *args,
		struct colo_error *err)
{
	struct colod *d = opaque;

	if (d->busy && !allowed_while_busy(name)) {
		colo_error_set(err, ERROR_CLASS_INVALID_STATE, "colod is busy "
			       "%s; try %s again when that is done", d->busy,
			       name);
		return NULL;
	}
	return qmp_dispatch(opaque, name, args, err);
}

static void handle_request(struct colod *d, void *sock)
{
	struct ctl_incoming in;
	json_t *reply;
	bool executed;
	int rc = ctl_recv(sock, &in);

	if (rc < 0)
		return;
	reply = ctl_process(zmq_msg_data(&in.payload), zmq_msg_size(&in.payload),
			    dispatch, d, &executed);
	if (d->st.depth > 0) {
		/* A handler must close its transaction; never leak one. */
		log_error("request left a transaction open; rolling back");
		colod_txn_rollback(d);
	}
	if (!executed) {
		log_warn("rejected request of %zu bytes: %s",
			 zmq_msg_size(&in.payload),
			 json_string_value(json_object_get(
				json_object_get(reply, "error"), "desc")));
	}
	rc = ctl_send_reply(sock, &in, reply);
	if (rc < 0)
		log_warn("cannot send reply: %s", zmq_strerror(-rc));
	json_decref(reply);
	ctl_incoming_fini(&in);
}

/* XPUB delivers subscription messages; they only need draining. */
static void drain_subscriptions(struct colod *d)
{
	char buf[256];

	while (zmq_recv(d->pub, buf, sizeof(buf), ZMQ_DONTWAIT) >= 0)
		;
}

static void handle_signal(struct colod *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGHUP:
			log_info("SIGHUP: reopening log");
			if (log_reopen() < 0)
				log_error("cannot reopen log file");
			break;
		case SIGTERM:
		case SIGINT:
			log_info("signal %d: shutting down", (int)si.ssi_signo);
			d->quit = true;
			break;
		}
	}
}

/* The sockets every loop serves, first in its poll items. */
enum { PI_CTL, PI_SIG, PI_PEER, PI_ZAP, PI_BASE };

static void base_pollitems(struct colod *d, zmq_pollitem_t *pi)
{
	pi[PI_CTL] = (zmq_pollitem_t){ d->ctl, 0, ZMQ_POLLIN, 0 };
	pi[PI_SIG] = (zmq_pollitem_t){ NULL, d->sigfd, ZMQ_POLLIN, 0 };
	pi[PI_PEER] = (zmq_pollitem_t){ d->peer, -1,
					d->peer ? ZMQ_POLLIN : 0, 0 };
	pi[PI_ZAP] = (zmq_pollitem_t){ d->zap, -1, d->zap ? ZMQ_POLLIN : 0,
				       0 };
}

/* Signals, CURVE authentication, requests from colo-xl and from peers,
 * and the heartbeat tick when it is due. */
static void serve_base(struct colod *d, const zmq_pollitem_t *pi)
{
	if (pi[PI_SIG].revents & ZMQ_POLLIN)
		handle_signal(d);
	if (d->zap && (pi[PI_ZAP].revents & ZMQ_POLLIN))
		peer_auth_handle(d->zap, &d->cfg.curve_keys);
	if (pi[PI_CTL].revents & ZMQ_POLLIN)
		handle_request(d, d->ctl);
	if (d->peer && (pi[PI_PEER].revents & ZMQ_POLLIN))
		handle_request(d, d->peer);
	if (util_mono_us() - d->hb.last_tick_us >=
	    (uint64_t)hb_poll_ms(d) * 1000)
		hb_tick(d);
}

/* One round of the loop: waits up to wait_ms, then serves new event
 * subscribers, helper events (of every domain but skip; none unless
 * domains) and the base items.  0, or -errno from zmq_poll. */
static int poll_round(struct colod *d, long wait_ms, bool domains,
		      const char *skip)
{
	zmq_pollitem_t pi[PI_BASE + 1 + 2 * DOMAINS_MAX];
	int nd = 0;

	base_pollitems(d, pi);
	pi[PI_BASE] = (zmq_pollitem_t){ d->pub, 0, ZMQ_POLLIN, 0 };
	if (domains)
		nd = domains_pollitems(d, pi + PI_BASE + 1, 2 * DOMAINS_MAX,
				       skip);
	if (zmq_poll(pi, PI_BASE + 1 + nd, wait_ms) < 0)
		return -errno;
	if (pi[PI_BASE].revents & ZMQ_POLLIN)
		drain_subscriptions(d);
	/* Helper events first: a request may remove a domain. */
	domains_handle(d, pi + PI_BASE + 1, nd);
	serve_base(d, pi);
	return 0;
}

void colod_serve_busy(struct colod *d, const char *dom, const char *what,
		int ms)
{
	uint64_t end = util_mono_us() + (uint64_t)ms * 1000;
	const char *outer = d->busy;
	uint64_t now;
	int rc;

	d->busy = what;
	while (!d->quit && (now = util_mono_us()) < end) {
		long wait = (long)((end - now) / 1000) + 1;

		if (wait > hb_poll_ms(d))
			wait = hb_poll_ms(d);
		/* Nested in another busy wait, whose domain this one would
		 * not skip: no helper events at all. */
		rc = poll_round(d, wait, !outer, dom);
		if (rc < 0 && rc != -EINTR)
			break;
	}
	d->busy = outer;
}

void colod_loop(struct colod *d)
{
	while (!d->quit) {
		int rc = poll_round(d, hb_poll_ms(d), true, NULL);

		if (rc == -EINTR)
			continue;
		if (rc < 0) {
			log_error("zmq_poll: %s", zmq_strerror(-rc));
			break;
		}
		if (util_mono_us() - d->ckpt_tick_us >= 1000000)
			domains_checkpoints_tick(d);
	}
}

