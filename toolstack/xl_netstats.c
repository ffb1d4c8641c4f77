/* colo-xl colo stats: the network half, colo-netproxy's figures as
 * query-colo-netstats returns them. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include "colo-qapi-client.h"
#include "xl.h"

static void print_counts(const char *what, const struct netproxy_count *c,
		size_t n)
{
	printf("  %-22s", what);
	for (size_t i = 0; i < n; i++)
		printf(" %s %lld", c[i].name, (long long)c[i].count);
	printf("\n");
}

/* The hold-time histogram as percentiles: bucket i holds times below
 * 2^(i+1) us, so each figure is an upper bound. */
static long long percentile_us(const int64_t *h, size_t n, double q)
{
	long long total = 0, seen = 0;

	for (size_t i = 0; i < n; i++)
		total += h[i];
	for (size_t i = 0; i < n && total; i++) {
		seen += h[i];
		if ((double)seen >= q * (double)total)
			return 2ll << i;
	}
	return 0;
}

static void print_one(const struct netproxy_stats *s)
{
	printf("Network: tap %s, netproxy %s, peer %s\n", s->tap, s->mode,
	       s->peer_connected ? "connected" : "not connected");
	print_counts("matched", s->matched, s->matched_count);
	print_counts("mismatched", s->mismatched, s->mismatched_count);
	print_counts("timed out", s->timed_out, s->timed_out_count);
	print_counts("checkpoint requests", s->requests, s->requests_count);
	printf("  %-22s %lld unchecked, %lld retransmits, %lld by checkpoint\n",
	       "released", (long long)s->unchecked, (long long)s->retransmits,
	       (long long)s->released_by_checkpoint);
	printf("  %-22s primary %lld (max %lld), secondary %lld\n", "held now",
	       (long long)s->held_primary, (long long)s->max_held_primary,
	       (long long)s->held_secondary);
	printf("  %-22s p50 < %lld us, p99 < %lld us\n", "added latency",
	       percentile_us(s->latency_us, s->latency_us_count, 0.5),
	       percentile_us(s->latency_us, s->latency_us_count, 0.99));
	printf("  %-22s %lld connections, %lld evicted, %lld overflow, "
	       "%lld bad frames\n", "table",
	       (long long)s->connections, (long long)s->evicted,
	       (long long)s->overflow, (long long)s->bad_frames);
	printf("  %-22s %lld link down, %lld tap errors, %lld ignored\n",
	       "dropped", (long long)s->no_link, (long long)s->tap_errors,
	       (long long)s->ignored);
	printf("  %-22s %lld mirrored, %lld injected, %lld re-injected, "
	       "%lld epoch misses, %lld rewritten\n", "input",
	       (long long)s->mirrored, (long long)s->injected,
	       (long long)s->reinjected, (long long)s->epoch_misses,
	       (long long)s->rewritten);
}

int xl_print_netstats(struct xl_ctx *x, const char *dom, bool only)
{
	struct qmp_query_colo_netstats_args a = { (char *)dom };
	struct colo_error err = { 0 };
	struct netproxy_stats *v = NULL;
	size_t n = 0;
	int rc = qmpc_query_colo_netstats(&x->ctl, &a, &v, &n, &err);

	if (rc < 0)
		return only ? xl_report(x, dom, rc, &err) : XL_OK;
	if (x->json) {
		json_t *all = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(all, netproxy_stats_to_json(&v[i]));
		xl_print_json(all);
	} else {
		for (size_t i = 0; i < n; i++)
			print_one(&v[i]);
	}
	for (size_t i = 0; i < n; i++)
		netproxy_stats_fini(&v[i]);
	free(v);
	return XL_OK;
}
