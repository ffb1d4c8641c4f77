/* colo-xl's disk replication commands: block-resync starts the copies
 * and follows them to the end, block-status shows where they are. */
#include "config.h"
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>
#include "colo-qapi-client.h"
#include "colod.h"
#include "util.h"
#include "xl.h"

static int query(struct xl_ctx *x, const char *dom,
		struct block_replication **v, size_t *n)
{
	struct qmp_query_block_replication_args a = { (char *)dom };
	struct colo_error err = { 0 };
	int rc = qmpc_query_block_replication(&x->ctl, &a, v, n, &err);

	return rc < 0 ? xl_report(x, dom, rc, &err) : XL_OK;
}

static void free_all(struct block_replication *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		block_replication_fini(&v[i]);
	free(v);
}

static int pct(const struct blkrep_replication *r)
{
	return r->resync_total ? (int)(r->resync_done * 100 / r->resync_total) :
	       100;
}

int xl_cmd_block_status(struct xl_ctx *x, const struct xl_cmd *cmd,
		int argc, char **argv)
{
	struct block_replication *v = NULL;
	size_t n = 0;
	int first = xl_operands(cmd, argc, argv, 1), rc;

	if (first < 0)
		return XL_USAGE;
	if (xl_connect(x) < 0)
		return XL_FAIL;
	rc = query(x, argv[first], &v, &n);
	if (rc != XL_OK)
		return rc;
	if (x->json) {
		json_t *a = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(a, block_replication_to_json(&v[i]));
		xl_print_json(a);
	}
	for (size_t i = 0; !x->json && i < n; i++) {
		const struct blkrep_replication *r = &v[i].replication;

		printf("disk %lld  %s\n", (long long)v[i].disk, v[i].file);
		printf("  secondary  : %s (%s)\n", r->has_uri ? r->uri : "none",
		       !r->replicating ? "not replicating" :
		       r->connected ? "connected" : "lost: degraded");
		printf("  lacks      : %lld blocks of 64 KiB\n",
		       (long long)r->dirty_blocks);
		printf("  resync     : %s, %lld of %lld blocks (%d%%)%s%s\n",
		       r->resync_active ? "running" : "idle",
		       (long long)r->resync_done, (long long)r->resync_total,
		       pct(r), r->has_resync_error ? "; last failed: " : "",
		       r->has_resync_error ? r->resync_error : "");
	}
	free_all(v, n);
	return XL_OK;
}

struct resync_opts {
	bool full;
};

static int resync_opt(void *ctx, int opt, const char *arg)
{
	struct resync_opts *o = ctx;

	(void)arg;
	if (opt != 'f')
		return -EINVAL;
	o->full = true;
	return 0;
}

static void print_summary(struct xl_ctx *x, struct block_replication *v,
		size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct blkrep_replication *r = &v[i].replication;

		if (x->json) {
			xl_print_json(block_replication_to_json(&v[i]));
			continue;
		}
		printf("disk %lld: %lld blocks copied; the secondary lacks "
		       "%lld\n", (long long)v[i].disk,
		       (long long)r->resync_done, (long long)r->dirty_blocks);
	}
}

/* Polls until no copy runs; a line per disk at every tenth. */
static int follow(struct xl_ctx *x, const char *dom)
{
	int shown[64], rc = XL_OK;
	bool running = true;

	for (int i = 0; i < 64; i++)
		shown[i] = -1;
	while (running) {
		struct block_replication *v = NULL;
		size_t n = 0;

		util_sleep_ms(100);
		if (query(x, dom, &v, &n) != XL_OK)
			return XL_FAIL;
		running = false;
		for (size_t i = 0; i < n && i < 64; i++) {
			const struct blkrep_replication *r = &v[i].replication;

			running = running || r->resync_active;
			if (!x->json && pct(r) / 10 != shown[i] / 10) {
				shown[i] = pct(r);
				fprintf(stderr, "colo-xl: %s: disk %lld: %d%% "
					"(%lld of %lld blocks)\n", dom,
					(long long)v[i].disk, pct(r),
					(long long)r->resync_done,
					(long long)r->resync_total);
			}
			if (!running && r->has_resync_error) {
				fprintf(stderr, "colo-xl: %s: disk %lld: the "
					"resync failed: %s\n", dom,
					(long long)v[i].disk, r->resync_error);
				rc = XL_FAIL;
			}
		}
		if (!running && rc == XL_OK)
			print_summary(x, v, n);
		free_all(v, n);
	}
	return rc;
}

int xl_cmd_block_resync(struct xl_ctx *x, const struct xl_cmd *cmd,
		int argc, char **argv)
{
	static const struct option lo[] = {
		{ "full", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct resync_opts o = { false };
	struct qmp_block_resync_args a;
	struct colo_error err = { 0 };
	int first, rc;

	first = xl_parse_opts(cmd, argc, argv, "+f", lo, resync_opt, &o);
	if (first < 0)
		return XL_USAGE;
	if (argc - first != 1)
		return xl_usage_error(cmd, "expected 1 argument, got %d",
				      argc - first);
	if (xl_connect(x) < 0)
		return XL_FAIL;
	a.domain = argv[first];
	a.has_full = true;
	a.full = o.full;
	rc = qmpc_block_resync(&x->ctl, &a, &err);
	if (rc < 0)
		return xl_report(x, argv[first], rc, &err);
	return follow(x, argv[first]);
}

/* One DISK_RESYNC event of domain dom, as a progress line. */
static void print_resync_event(void *sub, const char *dom)
{
	char topic[64];
	zmq_msg_t m;
	json_t *ev, *data;
	int n, more = 0;
	size_t sz = sizeof(more);

	n = zmq_recv(sub, topic, sizeof(topic) - 1, 0);
	if (n < 0)
		return;
	zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &sz);
	if (!more)
		return;		/* the welcome */
	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, sub, 0) >= 0 &&
	    (ev = json_loadb(zmq_msg_data(&m), zmq_msg_size(&m), 0, NULL))) {
		data = json_object_get(ev, "data");
		if (!strcmp(json_string_value(json_object_get(ev, "event")) ?: "",
			    "DISK_RESYNC") &&
		    !strcmp(json_string_value(json_object_get(data, "domain")) ?: "",
			    dom)) {
			json_int_t done = json_integer_value(json_object_get(data, "done"));
			json_int_t total = json_integer_value(json_object_get(data, "total"));

			fprintf(stderr, "colo-xl: %s: disk %lld: %s, %lld%% (%lld "
				"of %lld blocks)\n", dom,
				(long long)json_integer_value(json_object_get(data, "disk")),
				json_string_value(json_object_get(data, "status")) ?: "?",
				(long long)(total ? done * 100 / total : 100),
				(long long)done, (long long)total);
		}
		json_decref(ev);
	}
	zmq_msg_close(&m);
}

/* Prints the events waiting on sub, and those that come within ms. */
static void drain_events(void *sub, const char *dom, long ms)
{
	zmq_pollitem_t pi = { sub, 0, ZMQ_POLLIN, 0 };

	while (sub && zmq_poll(&pi, 1, ms) > 0)
		print_resync_event(sub, dom);
}

int xl_call_showing_resync(struct xl_ctx *x, const char *name, json_t *args,
		const char *dom, struct colo_error *err)
{
	char ep[4200], id[CTL_ID_MAX];
	void *zctx = zmq_ctx_new(), *sub = NULL;
	json_t *ret = NULL;
	int zerr = 0, rc;

	snprintf(ep, sizeof(ep), "ipc://%s/%s", x->run_dir, COLOD_EVENT_SOCKET);
	if (!x->json && !x->ctl.dry_run)
		sub = ctl_subscribe(zctx, ep, x->timeout_ms, &zerr);
	rc = ctl_client_send(&x->ctl, name, args, id);
	/* The copy takes as long as the disks need: no timeout but colod's
	 * own (it fails a copy that stalls), progress as it comes. */
	while (rc == 0 && !x->ctl.dry_run) {
		zmq_pollitem_t pi[2] = { { x->ctl.sock, 0, ZMQ_POLLIN, 0 },
					 { sub, 0, ZMQ_POLLIN, 0 } };

		if (zmq_poll(pi, sub ? 2 : 1, 200) < 0)
			continue;
		drain_events(sub, dom, 0);
		if (pi[0].revents & ZMQ_POLLIN)
			break;
	}
	if (rc == 0 && !x->ctl.dry_run)
		rc = ctl_client_finish(&x->ctl, name, id, &ret, err);
	/* The last events left colod just before the reply, on another
	 * socket: they may trail it a little. */
	drain_events(sub, dom, 100);
	json_decref(ret);
	if (sub)
		zmq_close(sub);
	zmq_ctx_term(zctx);
	return rc;
}
