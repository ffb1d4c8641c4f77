/* netproxy's control socket: the helper's phase notifications and the
 * netproxy commands of the schema, on one ROUTER socket. */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "colo-qapi-netproxy.h"
#include "colo-qapi-phase.h"
#include "log.h"
#include "proxy.h"
#include "proxy_ctl.h"

int qmp_colo_phase(void *opaque, const struct qmp_colo_phase_args *a,
		   struct colo_error *err)
{
	struct proxy *p = opaque;
	bool has_rx = a->has_net_rx && (size_t)p->cfg.nic < a->net_rx_count;

	(void)err;
	if (a->seq < 0) {
		colo_error_set(err, ERROR_CLASS_INVALID_PARAMETER,
			       "seq must not be negative");
		return -EINVAL;
	}
	switch (a->phase) {
	case COLO_PHASE_PAUSED:
		return proxy_paused(p, (uint64_t)a->seq, has_rx,
				    has_rx ? (uint64_t)a->net_rx[p->cfg.nic] : 0);
	case COLO_PHASE_COMMITTED:
		return proxy_committed(p, (uint64_t)a->seq);
	case COLO_PHASE_LOADED:
		return proxy_loaded(p, (uint64_t)a->seq);
	case COLO_PHASE_EXIT:
		proxy_exit(p, a->has_takeover && a->takeover);
		return 0;
	default:
		return 0;
	}
}

int qmp_netproxy_colo_primary(void *opaque,
			      const struct qmp_netproxy_colo_primary_args *a,
			      struct colo_error *err)
{
	struct proxy *p = opaque;

	if (a->port < 1 || a->port > 65535) {
		colo_error_set(err, ERROR_CLASS_INVALID_PARAMETER,
			       "port must be 1 to 65535");
		return -EINVAL;
	}
	if (proxy_start_primary(p, a->host, (int)a->port) < 0) {
		colo_error_set(err, ERROR_CLASS_INVALID_STATE,
			       "netproxy is in mode %s",
			       proxy_mode_str(p->mode));
		return -EBUSY;
	}
	return 0;
}

static struct netproxy_count *counts(const char *const *names,
				     const uint64_t *v, size_t n)
{
	struct netproxy_count *c = calloc(n, sizeof(*c));

	for (size_t i = 0; c && i < n; i++) {
		c[i].name = strdup(names[i]);
		c[i].count = (int64_t)v[i];
	}
	return c;
}

int qmp_netproxy_query_stats(void *opaque, struct netproxy_stats *r,
			     struct colo_error *err)
{
	static const char *const kinds[CMP_KINDS] = {
		"other", "ip", "tcp", "udp", "icmp",
	};
	static const char *const reasons[CMP_REASON__MAX] = {
		"mismatch", "timeout", "queue-full",
	};
	struct proxy *p = opaque;
	const struct cmp_stats *s = &p->cmp.st;
	uint64_t lat[CMP_LAT_BUCKETS];

	(void)err;
	memset(r, 0, sizeof(*r));
	r->tap = strdup(p->cfg.tap_name);
	r->mode = strdup(proxy_mode_str(p->mode));
	r->peer_connected = p->peer.fd >= 0;
	r->matched = counts(kinds, s->matched, CMP_KINDS);
	r->matched_count = CMP_KINDS;
	r->mismatched = counts(kinds, s->mismatched, CMP_KINDS);
	r->mismatched_count = CMP_KINDS;
	r->timed_out = counts(kinds, s->timed_out, CMP_KINDS);
	r->timed_out_count = CMP_KINDS;
	r->requests = counts(reasons, s->requests, CMP_REASON__MAX);
	r->requests_count = CMP_REASON__MAX;
	r->unchecked = (int64_t)s->unchecked;
	r->retransmits = (int64_t)s->retransmits;
	r->released_by_checkpoint = (int64_t)s->by_checkpoint;
	r->svm_dropped = (int64_t)s->svm_dropped;
	r->held_primary = s->held[0];
	r->held_secondary = s->held[1];
	r->max_held_primary = s->max_held[0];
	r->overflow = (int64_t)(s->overflow[0] + s->overflow[1] + p->full);
	r->no_link = (int64_t)p->no_link;
	r->tap_errors = (int64_t)p->tap_errors;
	r->ignored = (int64_t)p->ignored;
	r->connections = p->mode == PROXY_PRIMARY || p->mode == PROXY_PASSTHROUGH ?
			 p->cmp.ct.n : p->rw.ct.n;
	r->evicted = (int64_t)(s->evicted + p->rw.ct.evicted);
	r->bad_frames = (int64_t)(s->bad_frames[0] + s->bad_frames[1] +
				  p->rw.st.bad_frames + p->guest.bad +
				  p->peer.bad + p->runts);
	memcpy(lat, s->latency, sizeof(lat));
	r->latency_us = calloc(CMP_LAT_BUCKETS, sizeof(int64_t));
	for (int i = 0; r->latency_us && i < CMP_LAT_BUCKETS; i++)
		r->latency_us[i] = (int64_t)lat[i];
	r->latency_us_count = r->latency_us ? CMP_LAT_BUCKETS : 0;
	r->mirrored = (int64_t)p->mirrored;
	r->injected = (int64_t)p->injected;
	r->reinjected = (int64_t)p->reinjected;
	r->epoch_misses = (int64_t)p->epoch_misses;
	r->log_overflow = (int64_t)p->log.overflow;
	r->rewritten = (int64_t)(p->rw.st.in_rewritten + p->rw.st.out_rewritten);
	r->offsets_learned = (int64_t)p->rw.st.offsets_learned;
	if (!r->tap || !r->mode || !r->matched || !r->mismatched || !r->timed_out ||
	    !r->requests)
		abort();	/* out of memory answering a query */
	return 0;
}

json_t *proxy_ctl_dispatch(void *opaque, const char *name, json_t *args,
			   struct colo_error *err)
{
	if (!strcmp(name, "colo-phase"))
		return phase_dispatch(opaque, name, args, err);
	return netproxy_dispatch(opaque, name, args, err);
}
