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

void colod_serve_busy(struct colod *d, const char *dom, const char *what,
		int ms)
{
	uint64_t end = util_mono_us() + (uint64_t)ms * 1000;
	const char *outer = d->busy, *outer_dom = d->busy_dom;
	uint64_t now;

	d->busy = what;
	d->busy_dom = dom;
	while (!d->quit && (now = util_mono_us()) < end) {
		zmq_pollitem_t pi[PI_BASE + 1 + 2 * DOMAINS_MAX];
		long wait = (long)((end - now) / 1000) + 1;
		int nd;

		if (wait > hb_poll_ms(d))
			wait = hb_poll_ms(d);
		base_pollitems(d, pi);
		pi[PI_BASE] = (zmq_pollitem_t){ d->pub, 0, ZMQ_POLLIN, 0 };
		/* Nested in another busy wait, whose domain this one would
		 * not skip: no helper events at all. */
		nd = outer ? 0 : domains_pollitems(d, pi + PI_BASE + 1,
						   2 * DOMAINS_MAX, dom);
		if (zmq_poll(pi, PI_BASE + 1 + nd, wait) < 0 && errno != EINTR)
			break;
		if (pi[PI_BASE].revents & ZMQ_POLLIN)
			drain_subscriptions(d);
		domains_handle(d, pi + PI_BASE + 1, nd);
		serve_base(d, pi);
	}
	d->busy = outer;
	d->busy_dom = outer_dom;
}

void colod_loop(struct colod *d)
{
	while (!d->quit) {
		zmq_pollitem_t pi[PI_BASE + 1 + 2 * DOMAINS_MAX];
		int nd;

		base_pollitems(d, pi);
		pi[PI_BASE] = (zmq_pollitem_t){ d->pub, 0, ZMQ_POLLIN, 0 };
		nd = domains_pollitems(d, pi + PI_BASE + 1, 2 * DOMAINS_MAX,
				       d->busy_dom);
		if (zmq_poll(pi, PI_BASE + 1 + nd, hb_poll_ms(d)) < 0) {
			if (errno == EINTR)
				continue;
			log_error("zmq_poll: %s", zmq_strerror(errno));
			break;
		}
		if (pi[PI_BASE].revents & ZMQ_POLLIN)
			drain_subscriptions(d);
		/* Helper events first: a request may remove a domain. */
		domains_handle(d, pi + PI_BASE + 1, nd);
		serve_base(d, pi);
		if (util_mono_us() - d->ckpt_tick_us >= 1000000)
			domains_checkpoints_tick(d);
	}
}

