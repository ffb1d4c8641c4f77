/* colo-xl commands and the command table.  Each command parses its own
 * options, calls colod through the generated client stubs and prints the
 * result as text or, with --json, as JSON. */
#include "config.h"
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zmq.h>
#include "colo-qapi-client.h"
#include "colo-qapi-events.h"
#include "colod.h"
#include "util.h"
#include "xl.h"

/* Parses a command's own options; returns the index of the first operand,
 * or -1 after a usage error was printed. */
int xl_parse_opts(const struct xl_cmd *cmd, int argc, char **argv,
		const char *shortopts, const struct option *longopts,
		int (*each)(void *ctx, int opt, const char *arg), void *ctx)
{
	int c;

	optind = 0;	/* glibc: start afresh on this argv */
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		if (c == '?' || !each || each(ctx, c, optarg) < 0) {
			xl_usage_error(cmd, "bad option '%s'", argv[optind - 1]);
			return -1;
		}
	}
	return optind;
}

/* Commands that take exactly n operands and no options. */
int xl_operands(const struct xl_cmd *cmd, int argc, char **argv, int n)
{
	int first = xl_parse_opts(cmd, argc, argv, "+", NULL, NULL, NULL);

	if (first < 0)
		return -1;
	if (argc - first != n) {
		xl_usage_error(cmd, "expected %d argument%s, got %d", n,
			       n == 1 ? "" : "s", argc - first);
		return -1;
	}
	return first;
}

/* ---- help ---- */

static int cmd_help(struct xl_ctx *x, const struct xl_cmd *cmd, int argc,
		char **argv)
{
	const struct xl_cmd *table = xl_commands, *c = NULL;
	char prefix[64] = "";
	bool ambiguous;

	if (argc < 2) {
		xl_print_usage(stdout);
		return XL_OK;
	}
	for (int i = 1; i < argc; i++) {
		c = xl_lookup(table, argv[i], &ambiguous);
		if (!c)
			return xl_usage_error(cmd, "%s command '%s'",
					      ambiguous ? "ambiguous" : "unknown",
					      argv[i]);
		if (!c->sub || i == argc - 1)
			break;
		snprintf(prefix + strlen(prefix), sizeof(prefix) - strlen(prefix),
			 "%s%s", *prefix ? " " : "", c->name);
		table = c->sub;
	}
	xl_print_cmd_help(stdout, prefix, c);
	return XL_OK;
}

/* ---- info ---- */

static int cmd_info(struct xl_ctx *x, const struct xl_cmd *cmd, int argc,
		char **argv)
{
	struct colo_error err = { 0 };
	struct host_info h;
	int rc;

	if (xl_operands(cmd, argc, argv, 0) < 0)
		return XL_USAGE;
	if (xl_connect(x) < 0)
		return XL_FAIL;
	rc = qmpc_query_host_info(&x->ctl, &h, &err);
	if (rc < 0)
		return xl_report(x, "info", rc, &err);
	if (x->json) {
		xl_print_json(host_info_to_json(&h));
	} else {
		xl_print_kv("host", "%s", h.host);
		xl_print_kv("release", "%s", h.release);
		xl_print_kv("machine", "%s", h.machine);
		xl_print_kv("nr_cpus", "%lld", (long long)h.nr_cpus);
		xl_print_kv("total_memory", "%lld", (long long)h.total_memory);
		xl_print_kv("free_memory", "%lld", (long long)h.free_memory);
		xl_print_kv("kvm", "%s", h.kvm ? "available" : "unavailable");
		xl_print_kv("colod_version", "%s", h.colod_version);
		xl_print_kv("colo_xl_version", "%s", PACKAGE_VERSION);
		xl_print_kv("protocol", "%lld", (long long)h.protocol);
		xl_print_kv("state_dir", "%s", h.state_dir);
		xl_print_kv("run_dir", "%s", h.run_dir);
		xl_print_kv("db_schema", "%lld", (long long)h.db_schema);
		xl_print_kv("colod_uptime", "%lld", (long long)h.uptime);
		xl_print_kv("domains", "%lld", (long long)h.domains);
	}
	host_info_fini(&h);
	return XL_OK;
}

/* ---- list ---- */

static int cmd_list(struct xl_ctx *x, const struct xl_cmd *cmd, int argc,
		char **argv)
{
	struct colo_error err = { 0 };
	struct qmp_query_domains_args a = { 0 };
	struct domain_info *v = NULL;
	size_t n = 0;
	int first, rc = 0;
	json_t *all = json_array();

	first = xl_parse_opts(cmd, argc, argv, "+", NULL, NULL, NULL);
	if (first < 0)
		return XL_USAGE;
	if (xl_connect(x) < 0)
		return XL_FAIL;
	if (!x->json)
		printf("%-32s %5s %6s %5s %8s %9s  %s\n", "Name", "ID", "Mem",
		       "VCPUs", "State", "Time(s)", "COLO");
	/* No names: every domain.  Names: those, in the order given. */
	for (int i = first; i < argc || (i == first && first == argc); i++) {
		a.has_domain = i < argc;
		a.domain = i < argc ? argv[i] : NULL;
		rc = qmpc_query_domains(&x->ctl, &a, &v, &n, &err);
		if (rc < 0)
			break;
		for (size_t k = 0; k < n; k++) {
			if (x->json) {
				json_array_append_new(all,
						      domain_info_to_json(&v[k]));
				continue;
			}
			printf("%-32s %5lld %6lld %5lld %8s %9.1f  %s\n",
			       v[k].name, (long long)v[k].domid,
			       (long long)v[k].memory, (long long)v[k].vcpus,
			       xl_state_letters(run_state_str(v[k].state)),
			       v[k].cpu_time,
			       v[k].colo_mode == COLO_MODE_UNKNOWN ? "-" :
			       colo_mode_str(v[k].colo_mode));
		}
		for (size_t k = 0; k < n; k++)
			domain_info_fini(&v[k]);
		free(v);
		v = NULL;
		if (i >= argc)
			break;
	}
	if (rc < 0) {
		json_decref(all);
		return xl_report(x, "list", rc, &err);
	}
	if (x->json)
		xl_print_json(all);
	else
		json_decref(all);
	return XL_OK;
}

/* ---- events ---- */

static volatile sig_atomic_t stop_events;

static void on_stop(int sig)
{
	stop_events = 1;
}

struct events_opts {
	long long count;
	long long timeout_ms;
};

static int events_opt(void *ctx, int opt, const char *arg)
{
	struct events_opts *o = ctx;

	switch (opt) {
	case 'n':
		return util_parse_ll(arg, 1, 1000000000, &o->count);
	case 'w':
		return util_parse_ll(arg, 1, 86400000, &o->timeout_ms);
	default:
		return -EINVAL;
	}
}

static bool event_wanted(char **names, int n, const char *name)
{
	if (n == 0)
		return true;
	for (int i = 0; i < n; i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

static int cmd_events(struct xl_ctx *x, const struct xl_cmd *cmd, int argc,
		char **argv)
{
	static const struct option lo[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "wait", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	struct events_opts o = { 0, 0 };
	char ep[4200];
	void *zctx, *sub;
	int first, err = 0, rc = XL_OK;
	long long seen = 0;
	uint64_t deadline;

	first = xl_parse_opts(cmd, argc, argv, "+n:w:", lo, events_opt, &o);
	if (first < 0)
		return XL_USAGE;
	for (int i = first; i < argc; i++) {
		size_t k;

		for (k = 0; k < qapi_event_count; k++)
			if (strcmp(qapi_event_names[k], argv[i]) == 0)
				break;
		if (k == qapi_event_count)
			return xl_usage_error(cmd, "unknown event '%s' (see "
					      "colo-protocol(7))", argv[i]);
	}
	snprintf(ep, sizeof(ep), "ipc://%s/%s", x->run_dir,
		 COLOD_EVENT_SOCKET);
	zctx = zmq_ctx_new();
	sub = ctl_subscribe(zctx, ep, x->timeout_ms, &err);
	if (!sub) {
		fprintf(stderr, "colo-xl: cannot follow events at %s: %s\n"
			"colo-xl: is colod running?\n", ep, strerror(-err));
		zmq_ctx_term(zctx);
		return XL_FAIL;
	}
	/* Tell a waiting script that no later event will be missed. */
	fprintf(stderr, "colo-xl: following events from %s\n", ep);
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	deadline = o.timeout_ms ? util_mono_us() + (uint64_t)o.timeout_ms * 1000 :
		   0;
	while (!stop_events && (!o.count || seen < o.count)) {
		zmq_pollitem_t pi = { sub, 0, ZMQ_POLLIN, 0 };
		char topic[64], *text;
		zmq_msg_t m;
		int n, more = 0;
		size_t sz = sizeof(more);
		long wait = 200;

		if (deadline) {
			int64_t left = (int64_t)(deadline - util_mono_us()) / 1000;

			if (left <= 0) {
				/* With -n, too few events in time is a failure;
				 * without, -w is just how long to follow. */
				rc = o.count ? XL_FAIL : XL_OK;
				break;
			}
			wait = left < wait ? (long)left : wait;
		}
		if (zmq_poll(&pi, 1, wait) <= 0)
			continue;
		n = zmq_recv(sub, topic, sizeof(topic) - 1, 0);
		if (n < 0)
			continue;
		topic[n < (int)sizeof(topic) - 1 ? n : (int)sizeof(topic) - 1] =
			'\0';
		zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &sz);
		if (!more)
			continue;	/* a welcome, not an event */
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, sub, 0) < 0) {
			zmq_msg_close(&m);
			continue;
		}
		if (event_wanted(argv + first, argc - first, topic)) {
			text = strndup(zmq_msg_data(&m), zmq_msg_size(&m));
			if (text)
				printf("%s\n", text);
			free(text);
			seen++;
		}
		zmq_msg_close(&m);
	}
	zmq_close(sub);
	zmq_ctx_term(zctx);
	return rc;
}

/* ---- colo status / failover ---- */

static int cmd_colo_status(struct xl_ctx *x, const struct xl_cmd *cmd,
		int argc, char **argv)
{
	struct colo_error err = { 0 };
	struct qmp_query_colo_status_args a;
	struct colo_status s;
	int first = xl_operands(cmd, argc, argv, 1), rc;

	if (first < 0)
		return XL_USAGE;
	if (xl_connect(x) < 0)
		return XL_FAIL;
	a.domain = argv[first];
	rc = qmpc_query_colo_status(&x->ctl, &a, &s, &err);
	if (rc < 0)
		return xl_report(x, argv[first], rc, &err);
	if (x->json) {
		xl_print_json(colo_status_to_json(&s));
	} else {
		xl_print_kv("domain", "%s", argv[first]);
		xl_print_kv("mode", "%s", colo_mode_str(s.mode));
		xl_print_kv("last-mode", "%s", colo_mode_str(s.last_mode));
		xl_print_kv("reason", "%s", colo_exit_reason_str(s.reason));
		xl_print_kv("failover", "%s", failover_status_str(s.failover));
		if (s.has_peer)
			xl_print_kv("peer", "%s", s.peer);
		if (s.has_checkpoints)
			xl_print_kv("checkpoints", "%lld",
				    (long long)s.checkpoints);
		if (s.has_last_pause_us) {
			xl_print_kv("last-pause", "%.3f ms",
				    (double)s.last_pause_us / 1000.0);
			xl_print_kv("mean-pause", "%.3f ms",
				    (double)s.mean_pause_us / 1000.0);
			xl_print_kv("p99-pause", "%.3f ms",
				    (double)s.p99_pause_us / 1000.0);
			xl_print_kv("last-trigger", "%s", s.last_trigger);
		}
		if (s.has_standby && s.standby)
			xl_print_kv("standby", "%s", "yes: paused, waiting for "
				    "a failover");
		if (s.has_error)
			xl_print_kv("error", "%s", s.error);
	}
	colo_status_fini(&s);
	return XL_OK;
}

struct stats_opts {
	long long count;
	bool net;
};

static int stats_opt(void *ctx, int opt, const char *arg)
{
	struct stats_opts *o = ctx;

	if (opt == 'N') {
		o->net = true;
		return 0;
	}
	return opt == 'n' ? util_parse_ll(arg, 1, 10000, &o->count) : -EINVAL;
}

static void print_record(const struct checkpoint_record *r)
{
	time_t t = (time_t)(r->time_ms / 1000);
	struct tm tm;
	char when[32];

	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S",
		 localtime_r(&t, &tm));
	printf("%8lld %s.%03lld %-9s %-8s %9.3f %8lld %10lld %9.3f\n",
	       (long long)r->seq, when, (long long)(r->time_ms % 1000),
	       colo_mode_str(r->role), r->trigger, (double)r->pause_us / 1e3,
	       (long long)r->dirty_pages, (long long)r->bytes,
	       (double)r->duration_us / 1e3);
}

static int cmd_colo_stats(struct xl_ctx *x, const struct xl_cmd *cmd,
		int argc, char **argv)
{
	static const struct option lo[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "net", no_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 },
	};
	struct colo_error err = { 0 };
	struct qmp_query_colo_stats_args a = { 0 };
	struct checkpoint_record *v = NULL;
	struct stats_opts o = { 0, false };
	size_t n = 0;
	int first, rc;

	first = xl_parse_opts(cmd, argc, argv, "+n:", lo, stats_opt, &o);
	if (first < 0)
		return XL_USAGE;
	if (argc - first != 1)
		return xl_usage_error(cmd, "expected 1 argument, got %d",
				      argc - first);
	if (xl_connect(x) < 0)
		return XL_FAIL;
	if (o.net)
		return xl_print_netstats(x, argv[first], true);
	a.domain = argv[first];
	a.has_limit = o.count > 0;
	a.limit = o.count;
	rc = qmpc_query_colo_stats(&x->ctl, &a, &v, &n, &err);
	if (rc < 0)
		return xl_report(x, argv[first], rc, &err);
	if (x->json) {
		json_t *all = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(all, checkpoint_record_to_json(&v[i]));
		xl_print_json(all);
	} else {
		printf("%8s %-23s %-9s %-8s %9s %8s %10s %9s\n", "Seq", "Time",
		       "Role", "Trigger", "Pause(ms)", "Dirty", "Bytes",
		       "Total(ms)");
		for (size_t i = 0; i < n; i++)
			print_record(&v[i]);
		xl_print_netstats(x, argv[first], false);
	}
	for (size_t i = 0; i < n; i++)
		checkpoint_record_fini(&v[i]);
	free(v);
	return XL_OK;
}

static int cmd_failover(struct xl_ctx *x, const struct xl_cmd *cmd,
		int argc, char **argv)
{
	struct colo_error err = { 0 };
	struct qmp_x_colo_lost_heartbeat_args a;
	int first = xl_operands(cmd, argc, argv, 1), rc;

	if (first < 0)
		return XL_USAGE;
	if (xl_connect(x) < 0)
		return XL_FAIL;
	a.domain = argv[first];
	rc = qmpc_x_colo_lost_heartbeat(&x->ctl, &a, &err);
	if (rc < 0)
		return xl_report(x, argv[first], rc, &err);
	if (x->json)
		xl_print_json(json_object());
	else
		printf("%s: failover completed\n", argv[first]);
	return XL_OK;
}

/* ---- params ---- */

static void print_params(const struct parameters *p)
{
	xl_print_kv("checkpoint-interval", "%lld",
		    (long long)p->checkpoint_interval);
	xl_print_kv("heartbeat-interval", "%lld",
		    (long long)p->heartbeat_interval);
	xl_print_kv("heartbeat-misses", "%lld", (long long)p->heartbeat_misses);
	xl_print_kv("auto-failover", "%s", p->auto_failover ? "yes" : "no");
	xl_print_kv("max-downtime", "%lld", (long long)p->max_downtime);
}

/* KEY=VALUE -> a JSON member: integers and yes/no become numbers and
 * booleans; the generated decoder then checks names and types. */
static int add_assignment(json_t *obj, const char *arg)
{
	const char *eq = strchr(arg, '=');
	char key[64];
	long long v;
	bool b;

	if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(key))
		return -EINVAL;
	memcpy(key, arg, (size_t)(eq - arg));
	key[eq - arg] = '\0';
	if (util_parse_ll(eq + 1, -(1LL << 53), 1LL << 53, &v) == 0)
		json_object_set_new(obj, key, json_integer(v));
	else if (util_parse_bool(eq + 1, &b) == 0)
		json_object_set_new(obj, key, json_boolean(b));
	else
		json_object_set_new(obj, key, json_string(eq + 1));
	return 0;
}

static int cmd_params(struct xl_ctx *x, const struct xl_cmd *cmd, int argc,
		char **argv)
{
	struct colo_error err = { 0 };
	struct qmp_set_parameters_args a;
	struct parameters p;
	json_t *obj;
	int first, rc;

	first = xl_parse_opts(cmd, argc, argv, "+", NULL, NULL, NULL);
	if (first < 0)
		return XL_USAGE;
	if (first == argc && x->dry_run)
		return xl_usage_error(cmd, "-N needs KEY=VALUE to change");
	obj = json_object();
	for (int i = first; i < argc; i++) {
		if (add_assignment(obj, argv[i]) < 0) {
			json_decref(obj);
			return xl_usage_error(cmd, "expected KEY=VALUE, got '%s'",
					      argv[i]);
		}
	}
	rc = qmp_set_parameters_args_from_json(obj, &a, true, "", &err);
	json_decref(obj);
	if (rc < 0)
		return xl_usage_error(cmd, "%s", err.desc);
	if (xl_connect(x) < 0)
		return XL_FAIL;
	if (first == argc)
		rc = qmpc_query_parameters(&x->ctl, &p, &err);
	else
		rc = qmpc_set_parameters(&x->ctl, &a, &p, &err);
	if (rc < 0)
		return xl_report(x, "params", rc, &err);
	if (x->json)
		xl_print_json(parameters_to_json(&p));
	else
		print_params(&p);
	return XL_OK;
}

/* ---- the table ---- */

/* colo start and colo resume: they differ in how the disks catch up. */
static int colo_protect(struct xl_ctx *x, const struct xl_cmd *cmd,
		int argc, char **argv, bool resume)
{
	struct colo_error err = { 0 };
	struct qmp_colo_start_args a;
	struct qmp_query_colo_status_args q;
	struct colo_status s;
	int first = xl_operands(cmd, argc, argv, 2), rc;

	if (first < 0)
		return XL_USAGE;
	if (xl_connect(x) < 0)
		return XL_FAIL;
	a.domain = argv[first];
	a.uri = argv[first + 1];
	if (!x->json)
		fprintf(stderr, "colo-xl: %s: %s the disks to %s...\n", a.domain,
			resume ? "resyncing" : "copying", a.uri);
	if (resume) {
		struct qmp_colo_resume_args ra = { a.domain, a.uri };

		rc = xl_call_showing_resync(x, "colo-resume",
					    qmp_colo_resume_args_to_json(&ra),
					    a.domain, &err);
	} else {
		rc = xl_call_showing_resync(x, "colo-start",
					    qmp_colo_start_args_to_json(&a),
					    a.domain, &err);
	}
	if (rc < 0)
		return xl_report(x, argv[first], rc, &err);
	/* Wait for the first checkpoint: then the pair is protected. */
	q.domain = a.domain;
	for (int i = 0; i < 600; i++) {
		colo_error_clear(&err);
		if (qmpc_query_colo_status(&x->ctl, &q, &s, &err) < 0)
			return xl_report(x, argv[first], -EREMOTEIO, &err);
		if (s.mode == COLO_MODE_UNKNOWN) {
			fprintf(stderr, "colo-xl: %s: COLO stopped (%s)\n",
				a.domain, colo_exit_reason_str(s.reason));
			colo_status_fini(&s);
			return XL_FAIL;
		}
		if (s.has_checkpoints && s.checkpoints > 0) {
			if (!x->json)
				printf("%s: COLO primary, secondary on %s; "
				       "checkpoint %lld took a %.2f ms pause\n",
				       a.domain, a.uri, (long long)s.checkpoints,
				       (double)s.last_pause_us / 1000.0);
			colo_status_fini(&s);
			return XL_OK;
		}
		colo_status_fini(&s);
		if (!x->json && i % 5 == 0)
			fprintf(stderr, "colo-xl: %s: synchronising with %s...\n",
				a.domain, a.uri);
		util_sleep_ms(200);
	}
	fprintf(stderr, "colo-xl: %s: no checkpoint after 120 s\n", a.domain);
	return XL_FAIL;
}

static int cmd_colo_start(struct xl_ctx *x, const struct xl_cmd *cmd,
		int argc, char **argv)
{
	return colo_protect(x, cmd, argc, argv, false);
}

static int cmd_colo_resume(struct xl_ctx *x, const struct xl_cmd *cmd,
		int argc, char **argv)
{
	return colo_protect(x, cmd, argc, argv, true);
}

static int cmd_colo_checkpoint(struct xl_ctx *x, const struct xl_cmd *cmd,
		int argc, char **argv)
{
	struct colo_error err = { 0 };
	struct qmp_colo_checkpoint_args a;
	int first = xl_operands(cmd, argc, argv, 1), rc;

	if (first < 0)
		return XL_USAGE;
	if (xl_connect(x) < 0)
		return XL_FAIL;
	a.domain = argv[first];
	rc = qmpc_colo_checkpoint(&x->ctl, &a, &err);
	if (rc < 0)
		return xl_report(x, argv[first], rc, &err);
	return XL_OK;
}

static const struct xl_cmd colo_commands[] = {
	{ "start", cmd_colo_start, "DOM HOST[:PORT]",
	  "Protect a domain with COLO, its secondary on the colod at HOST.",
	  "The domain is live-migrated into lock-step with a secondary that\n"
	  "the colod at HOST (peer port 7788) creates; HOST is an IPv4\n"
	  "address or a host name.  From then on the primary checkpoints\n"
	  "every checkpoint-interval ms.  Image-file\n"
	  "disks are first copied whole to the secondary's colo-blkrep, then\n"
	  "every write goes to both.  Returns after the first checkpoint.\n",
	  false, NULL },
	{ "resume", cmd_colo_resume, "DOM HOST[:PORT]",
	  "Protect a domain with COLO again after its secondary was lost.",
	  "As colo start, except that each image-file disk sends the\n"
	  "secondary only the blocks it missed while the domain ran alone\n"
	  "(the dirty map).  A disk whose image on HOST is not known to be\n"
	  "in step (new there, taken over there, or a copy to another host\n"
	  "since: the sync tokens differ) is copied in full instead.\n",
	  false, NULL },
	{ "checkpoint", cmd_colo_checkpoint, "DOM",
	  "Take a COLO checkpoint now.", "", false, NULL },
	{ "status", cmd_colo_status, "DOM",
	  "Show a domain's COLO mode, last mode, exit reason and failover "
	  "status.",
	  "Fields: mode (unknown, primary or secondary), last-mode (the mode\n"
	  "before the last failover), reason (why COLO last exited: none,\n"
	  "request, error or processing) and failover (none, require, active,\n"
	  "completed or relaunch).  A secondary whose stream went bad while\n"
	  "its primary lives shows standby: paused until a failover.  error\n"
	  "says why the helper's COLO stopped.  This is QMP's\n"
	  "query-colo-status.\n",
	  false, NULL },
	{ "stats", cmd_colo_stats, "[-n COUNT] [--net] DOM",
	  "Show a domain's most recent checkpoints, oldest first, and its "
	  "network comparison figures.",
	  "  -n, --count COUNT  show COUNT checkpoints (1 to 10000; default 20)\n"
	  "      --net          show only the network figures (with --json, as\n"
	  "                     query-colo-netstats returns them)\n"
	  "Columns: Seq (counted by the primary), Time (when it started),\n"
	  "Role (the side that measured it), Trigger (timer, manual or\n"
	  "mismatch), Pause(ms) (how long this side's VM was paused), Dirty\n"
	  "(pages), Bytes (on the stream) and Total(ms) (the whole\n"
	  "transaction on a primary, the apply on a secondary).  The records\n"
	  "come from colod's state database, which keeps the last 10000 per\n"
	  "domain.  Then, per network card with a netproxy: frames matched,\n"
	  "mismatched and timed out per protocol, checkpoint requests by\n"
	  "reason, frames released unchecked, as retransmits or by a\n"
	  "checkpoint, queue depths, the added latency (p50, p99), the\n"
	  "connection table with overflows and bad frames, the frames\n"
	  "dropped on a link down, refused by the tap or ignored (a\n"
	  "secondary's own tap input), and the secondary's input figures\n"
	  "(see colo-netproxy(8)).\n",
	  false, NULL },
	{ NULL, NULL, NULL, NULL, NULL, false, NULL },
};

/* A CURVE key pair for the peer link; local, colod is not asked. */
static int cmd_keygen(struct xl_ctx *x, const struct xl_cmd *cmd, int argc,
		char **argv)
{
	char pub[41], sec[41];

	if (xl_operands(cmd, argc, argv, 0) < 0)
		return XL_USAGE;
	if (!zmq_has("curve") || zmq_curve_keypair(pub, sec) < 0) {
		fprintf(stderr, "colo-xl: keygen: this libzmq cannot make "
			"CURVE keys\n");
		return XL_FAIL;
	}
	if (x->json) {
		xl_print_json(json_pack("{s:s,s:s}", "public-key", pub,
					"secret-key", sec));
	} else {
		printf("# For colod.conf on this host (keep the file mode 600):\n"
		       "curve_secret_key = %s\n"
		       "# For colod.conf on the peer host:\n"
		       "curve_peer_public_key = %s\n", sec, pub);
	}
	explicit_bzero(sec, sizeof(sec));
	return XL_OK;
}

const struct xl_cmd xl_commands[] = {
	{ "help", cmd_help, "[COMMAND [SUBCOMMAND]]",
	  "Show the list of commands, or the help of one command.",
	  "", false, NULL },
	{ "info", cmd_info, "",
	  "Show facts about the host and its colod.",
	  "Prints the host name, kernel, CPUs, memory, whether /dev/kvm is\n"
	  "usable, the colod and protocol versions, the state and run\n"
	  "directories, the state database schema version and the number of\n"
	  "domains.\n",
	  false, NULL },
	{ "list", cmd_list, "[DOM...]",
	  "List domains: Name, ID, Mem, VCPUs, State, Time(s) and COLO mode.",
	  "Mem is in MiB.  State uses xl's letters: r running, b blocked (a\n"
	  "COLO secondary between checkpoints), p paused, s shut down,\n"
	  "c crashed.  COLO is the COLO mode, or '-' when unprotected.\n",
	  false, NULL },
	{ "events", cmd_events, "[-n COUNT] [-w MS] [EVENT...]",
	  "Follow colod's events, one JSON object per line.",
	  "  -n, --count COUNT  exit after COUNT events\n"
	  "  -w, --wait MS      stop after MS milliseconds; with -n, exit 1\n"
	  "                     if COUNT events have not arrived by then\n"
	  "EVENT names limit the output to those events.  A line on stderr\n"
	  "says when the subscription is live.\n",
	  false, NULL },
	{ "colo", NULL, "SUBCOMMAND",
	  "COLO commands for a domain.", "", false, colo_commands },
	{ "create", xl_cmd_create, "[-p] FILE",
	  "Create a domain from its domain XML (colo-domain(5)) and start it.",
	  "  -p  leave the domain paused\n"
	  "The domain's helper runs on after colod restarts.  An invalid\n"
	  "file is reported with its line and what was expected.\n",
	  false, NULL },
	{ "destroy", xl_cmd_destroy, "DOM",
	  "Stop a domain at once and forget it.",
	  "", false, NULL },
	{ "pause", xl_cmd_pause, "DOM",
	  "Pause a domain's vCPUs.", "", false, NULL },
	{ "unpause", xl_cmd_unpause, "DOM",
	  "Resume a paused domain.", "", false, NULL },
	{ "save", xl_cmd_save, "[-c] DOM FILE",
	  "Save a domain's complete state to FILE; the domain is destroyed.",
	  "  -c  leave the domain running after the save\n"
	  "FILE is a colo-stream (colo-stream(7)) holding the domain XML.\n",
	  false, NULL },
	{ "restore", xl_cmd_restore, "[-p] FILE",
	  "Create a domain from a file written by save; it continues "
	  "exactly.",
	  "  -p  leave the domain paused\n", false, NULL },
	{ "console", xl_cmd_console, "[-w MS] DOM",
	  "Attach to a domain's serial console, both ways.",
	  "Type ^] to detach.  Without a terminal, standard input is sent\n"
	  "to the guest and output is printed until the domain stops.\n"
	  "  -w, --wait MS  detach after MS milliseconds\n",
	  false, NULL },
	{ "migrate", xl_cmd_migrate, "DOM HOST[:PORT]",
	  "Live-migrate a domain to the colod at HOST (peer port 7788).",
	  "RAM is copied while the guest runs until the rest fits in the\n"
	  "max-downtime parameter; then the guest pauses briefly and resumes\n"
	  "on HOST.  Progress is shown as it goes.  The destination colod\n"
	  "needs peer_listen; both hosts need the same TSC rate and the\n"
	  "domain's kernel path and disks.  On failure the domain keeps\n"
	  "running here.  A helper that does not answer colod within 2 s\n"
	  "once its domain has left is killed.\n",
	  false, NULL },
	{ "failover", cmd_failover, "DOM",
	  "Start failover for a domain (QMP x-colo-lost-heartbeat).",
	  "On a primary, the primary carries on alone; on a secondary, the\n"
	  "secondary takes over.  Fails when DOM is not in COLO mode.\n",
	  false, NULL },
	{ "keygen", cmd_keygen, "",
	  "Make a CURVE key pair for the peer link between colods.",
	  "Prints the secret key as the curve_secret_key line of this host's\n"
	  "colod.conf and the public key as the curve_peer_public_key line\n"
	  "of the peer's.  Run it on both hosts.  This command does not\n"
	  "contact colod.\n",
	  false, NULL },
	{ "block-resync", xl_cmd_block_resync, "[-f] DOM",
	  "Copy to a domain's secondary the disk blocks it lacks.",
	  "  -f, --full  copy every block\n"
	  "For each image-file disk, the primary's colo-blkrep copies the\n"
	  "blocks its dirty map marks (those the secondary missed while it\n"
	  "was away) while the guest runs, reconnecting a lost secondary\n"
	  "first.  Progress is shown as it goes; it ends with the number of\n"
	  "blocks copied per disk.\n",
	  false, NULL },
	{ "block-status", xl_cmd_block_status, "DOM",
	  "Show the replication of a domain's image-file disks.",
	  "Per disk: the secondary's export, whether it is connected, the\n"
	  "64 KiB blocks it lacks, and the last resync's progress.\n",
	  false, NULL },
	{ "params", cmd_params, "[KEY=VALUE...]",
	  "Show or change the host's COLO parameters.",
	  "Keys: checkpoint-interval (ms), heartbeat-interval (ms),\n"
	  "heartbeat-misses, auto-failover (yes or no) and max-downtime (ms).\n"
	  "Changes are stored by colod and survive its restart.  With -N the\n"
	  "request is printed and not sent.\n",
	  true, NULL },
	{ NULL, NULL, NULL, NULL, NULL, false, NULL },
};
