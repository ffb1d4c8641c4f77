/* COLO peer heartbeats and the failover they trigger. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "colo-qapi-client.h"
#include "colo-qapi-commands.h"
#include "colo_fsm.h"
#include "colod.h"
#include "heartbeat.h"
#include "log.h"
#include "util.h"

static const char hb_request[] =
	"{\"execute\":\"x-peer-heartbeat\",\"id\":\"hb\"}";

int qmp_x_peer_heartbeat(void *opaque, struct colo_error *err)
{
	return 0;
}

static struct hb_peer *peer_get(struct colod *d, const char *uri,
		uint64_t now)
{
	struct heartbeat *hb = &d->hb;
	struct hb_peer *free_slot = NULL;
	char ep[320];
	int linger = 0, hwm = 16;

	for (int i = 0; i < HB_PEERS; i++) {
		if (hb->p[i].sock && !strcmp(hb->p[i].uri, uri))
			return &hb->p[i];
		if (!hb->p[i].sock && !free_slot)
			free_slot = &hb->p[i];
	}
	if (!free_slot)
		return NULL;
	snprintf(ep, sizeof(ep), "tcp://%s", uri);
	free_slot->sock = zmq_socket(d->zctx, ZMQ_DEALER);
	if (!free_slot->sock)
		return NULL;
	zmq_setsockopt(free_slot->sock, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(free_slot->sock, ZMQ_SNDHWM, &hwm, sizeof(hwm));
	if (d->cfg.curve)
		ctl_curve_apply(free_slot->sock, &d->cfg.curve_keys, false);
	zmq_connect(free_slot->sock, ep);
	snprintf(free_slot->uri, sizeof(free_slot->uri), "%s", uri);
	/* A new peer gets a full timeout of grace. */
	free_slot->last_seen_us = now;
	free_slot->last_sent_us = 0;
	return free_slot;
}

static void drain(struct hb_peer *p, uint64_t now)
{
	char buf[512];
	int more;
	size_t sz = sizeof(more);

	/* DEALER replies: [empty?] [json]; any reply proves life. */
	while (zmq_recv(p->sock, buf, sizeof(buf), ZMQ_DONTWAIT) >= 0) {
		zmq_getsockopt(p->sock, ZMQ_RCVMORE, &more, &sz);
		if (!more)
			p->last_seen_us = now;
	}
}

/* The peer colod is silent; is the peer helper?  The COLO stream
 * carries its own heartbeats, so a quiet stream means the host is gone. */
static bool stream_alive(struct colod *d, const char *name, uint64_t limit_ms)
{
	struct dom_link *l = domains_get(d, name, NULL);
	struct colo_helper_status hs;
	struct colo_error err = { 0 };
	bool alive = false;
	int saved;

	if (!l)
		return false;
	saved = l->ctl.timeout_ms;
	l->ctl.timeout_ms = 500;
	if (qmpc_helper_query_colo(&l->ctl, &hs, &err) == 0) {
		alive = hs.active && hs.idle_ms >= 0 &&
			(uint64_t)hs.idle_ms < limit_ms;
		colo_helper_status_fini(&hs);
	}
	l->ctl.timeout_ms = saved;
	return alive;
}

static void judge(struct colod *d, const struct state_domain *dom,
		struct hb_peer *p, uint64_t now)
{
	uint64_t limit_ms = (uint64_t)d->params.heartbeat_interval *
			    (uint64_t)d->params.heartbeat_misses;
	uint64_t silent_ms = (now - p->last_seen_us) / 1000;
	struct colo_error err = { 0 };

	if (silent_ms <= limit_ms || !d->params.auto_failover)
		return;
	if (stream_alive(d, dom->name, limit_ms)) {
		if (now - p->last_warn_us > 5000000) {
			log_warn("%s: peer colod %s silent for %llu ms, but the "
				 "COLO stream is alive: no failover", dom->name,
				 p->uri, (unsigned long long)silent_ms);
			p->last_warn_us = now;
		}
		return;
	}
	log_warn("%s: lost heartbeat from %s (%llu ms silent, limit %llu): "
		 "failover", dom->name, p->uri, (unsigned long long)silent_ms,
		 (unsigned long long)limit_ms);
	colo_fsm_failover(d, dom->name, COLO_EXIT_REASON_REQUEST, &err);
}

void hb_tick(struct colod *d)
{
	struct heartbeat *hb = &d->hb;
	uint64_t now = util_mono_us();
	struct state_domain *v;
	size_t n;

	for (int i = 0; i < HB_PEERS; i++) {
		hb->p[i].used = false;
		if (hb->p[i].sock)
			drain(&hb->p[i], now);
	}
	hb->active = false;
	if (state_domain_list(&d->st, &v, &n) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char peer[300];
		struct hb_peer *p;

		if (v[i].mode == COLO_MODE_UNKNOWN ||
		    v[i].failover != FAILOVER_STATUS_NONE ||
		    state_domain_peer(&d->st, v[i].name, peer, sizeof(peer)) < 0 ||
		    !peer[0])
			continue;
		hb->active = true;
		p = peer_get(d, peer, now);
		if (!p)
			continue;
		p->used = true;
		if (now - p->last_sent_us >=
		    (uint64_t)d->params.heartbeat_interval * 1000) {
			zmq_send(p->sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT);
			zmq_send(p->sock, hb_request, sizeof(hb_request) - 1,
				 ZMQ_DONTWAIT);
			p->last_sent_us = now;
		}
		judge(d, &v[i], p, now);
	}
	free(v);
	/* Peers no domain needs any more are closed. */
	for (int i = 0; i < HB_PEERS; i++)
		if (hb->p[i].sock && !hb->p[i].used) {
			zmq_close(hb->p[i].sock);
			memset(&hb->p[i], 0, sizeof(hb->p[i]));
		}
	hb->last_tick_us = now;
}

long hb_poll_ms(struct colod *d)
{
	long ms = d->params.heartbeat_interval / 2;

	return d->hb.active ? (ms > 0 ? ms : 1) : 1000;
}

void hb_fini(struct colod *d)
{
	for (int i = 0; i < HB_PEERS; i++)
		if (d->hb.p[i].sock)
			zmq_close(d->hb.p[i].sock);
	memset(&d->hb, 0, sizeof(d->hb));
}
