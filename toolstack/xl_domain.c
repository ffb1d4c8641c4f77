/* colo-xl domain life-cycle commands: create, destroy, pause, unpause,
 * save, restore and console, with xl's options and semantics. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>
#include "colo-qapi-client.h"
#include "colod.h"
#include "util.h"
#include "xl.h"

#define CONFIG_MAX (1u << 20)

static char *read_file(const char *path, char *why, size_t len)
{
	struct stat st;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(why, len, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > CONFIG_MAX) {
		snprintf(why, len, "%s: not a file of at most 1 MiB", path);
		close(fd);
		return NULL;
	}
	buf = calloc(1, (size_t)st.st_size + 1);
	if (buf && read(fd, buf, (size_t)st.st_size) != st.st_size) {
		snprintf(why, len, "%s: read failed", path);
		free(buf);
		buf = NULL;
	}
	close(fd);
	return buf;
}

/* Paths go to colod, which may run elsewhere in the tree: absolute. */
static int absolute(const char *in, char *out, size_t len)
{
	char cwd[PATH_MAX];

	if (in[0] == '/') {
		snprintf(out, len, "%s", in);
		return 0;
	}
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	if ((size_t)snprintf(out, len, "%.*s/%s", (int)(len / 2), cwd, in) >=
	    len)
		return -ENAMETOOLONG;
	return 0;
}

struct flags {
	bool p, c;
};

static int flag_opt(void *ctx, int opt, const char *arg)
{
	struct flags *f = ctx;

	if (opt == 'p')
		f->p = true;
	else if (opt == 'c')
		f->c = true;
	else
		return -EINVAL;
	return 0;
}

/* Parses "[-p|-c] ARGS" into flags; returns the first operand or -1. */
static int opts(const struct xl_cmd *cmd, int argc, char **argv,
		const char *shortopts, struct flags *f, int want)
{
	int first = xl_parse_opts(cmd, argc, argv, shortopts, NULL, flag_opt, f);

	if (first < 0)
		return -1;
	if (argc - first != want) {
		xl_usage_error(cmd, "expected %d argument%s", want,
			       want == 1 ? "" : "s");
		return -1;
	}
	return first;
}

static void print_domain(struct xl_ctx *x, struct domain_info *di,
		const char *verb)
{
	if (x->json)
		xl_print_json(domain_info_to_json(di));
	else
		printf("%s %s (id %lld, %lld MiB, %lld vCPU%s)\n", verb, di->name,
		       (long long)di->domid, (long long)di->memory,
		       (long long)di->vcpus, di->vcpus == 1 ? "" : "s");
}

int xl_cmd_create(struct xl_ctx *x, const struct xl_cmd *cmd, int argc,
		char **argv)
{
	struct flags f = { 0 };
	struct qmp_domain_create_args a = { 0 };
	struct colo_error err = { 0 };
	struct domain_info di;
	char why[512];
	int first = opts(cmd, argc, argv, "+p", &f, 1), rc;

	if (first < 0)
		return XL_USAGE;
	a.config = read_file(argv[first], why, sizeof(why));
	if (!a.config) {
		fprintf(stderr, "colo-xl: %s\n", why);
		return XL_FAIL;
	}
	a.has_paused = f.p;
	a.paused = f.p;
	a.has_source = true;
	a.source = argv[first];
	if (xl_connect(x) < 0) {
		free(a.config);
		return XL_FAIL;
	}
	rc = qmpc_domain_create(&x->ctl, &a, &di, &err);
	free(a.config);
	if (rc < 0)
		return xl_report(x, "create", rc, &err);
	print_domain(x, &di, f.p ? "Created (paused)" : "Created");
	domain_info_fini(&di);
	return XL_OK;
}

/* destroy, pause, unpause: one domain, no options. */
static int simple(struct xl_ctx *x, const struct xl_cmd *cmd, int argc,
		char **argv, int (*call)(struct ctl_client *, const char *,
					 struct colo_error *))
{
	struct flags f = { 0 };
	struct colo_error err = { 0 };
	int first = opts(cmd, argc, argv, "+", &f, 1), rc;

	if (first < 0)
		return XL_USAGE;
	if (xl_connect(x) < 0)
		return XL_FAIL;
	rc = call(&x->ctl, argv[first], &err);
	if (rc < 0)
		return xl_report(x, argv[first], rc, &err);
	if (x->json)
		xl_print_json(json_object());
	return XL_OK;
}

static int call_destroy(struct ctl_client *c, const char *dom,
		struct colo_error *err)
{
	struct qmp_domain_destroy_args a = { (char *)dom };

	return qmpc_domain_destroy(c, &a, err);
}

static int call_pause(struct ctl_client *c, const char *dom,
		struct colo_error *err)
{
	struct qmp_domain_pause_args a = { (char *)dom };

	return qmpc_domain_pause(c, &a, err);
}

static int call_unpause(struct ctl_client *c, const char *dom,
		struct colo_error *err)
{
	struct qmp_domain_unpause_args a = { (char *)dom };

	return qmpc_domain_unpause(c, &a, err);
}

int xl_cmd_destroy(struct xl_ctx *x, const struct xl_cmd *cmd, int argc,
		char **argv)
{
	return simple(x, cmd, argc, argv, call_destroy);
}

int xl_cmd_pause(struct xl_ctx *x, const struct xl_cmd *cmd, int argc,
		char **argv)
{
	return simple(x, cmd, argc, argv, call_pause);
}

int xl_cmd_unpause(struct xl_ctx *x, const struct xl_cmd *cmd, int argc,
		char **argv)
{
	return simple(x, cmd, argc, argv, call_unpause);
}

int xl_cmd_save(struct xl_ctx *x, const struct xl_cmd *cmd, int argc,
		char **argv)
{
	struct flags f = { 0 };
	struct qmp_domain_save_args a = { 0 };
	struct colo_error err = { 0 };
	struct save_info si;
	char path[PATH_MAX];
	int first = opts(cmd, argc, argv, "+c", &f, 2), rc;

	if (first < 0)
		return XL_USAGE;
	if (absolute(argv[first + 1], path, sizeof(path)) < 0)
		return XL_FAIL;
	a.domain = argv[first];
	a.path = path;
	a.has_continue_ = true;
	a.continue_ = f.c;
	if (xl_connect(x) < 0)
		return XL_FAIL;
	if (!x->json)
		fprintf(stderr, "Saving domain %s to %s...\n", a.domain, path);
	rc = qmpc_domain_save(&x->ctl, &a, &si, &err);
	if (rc < 0)
		return xl_report(x, "save", rc, &err);
	if (x->json)
		xl_print_json(save_info_to_json(&si));
	else
		printf("Saved %lld pages, %lld bytes; paused %.1f ms%s\n",
		       (long long)si.pages, (long long)si.bytes,
		       (double)si.pause_us / 1000.0,
		       f.c ? "; the domain continues" : "");
	return XL_OK;
}

int xl_cmd_restore(struct xl_ctx *x, const struct xl_cmd *cmd, int argc,
		char **argv)
{
	struct flags f = { 0 };
	struct qmp_domain_restore_args a = { 0 };
	struct colo_error err = { 0 };
	struct domain_info di;
	char path[PATH_MAX];
	int first = opts(cmd, argc, argv, "+p", &f, 1), rc;

	if (first < 0)
		return XL_USAGE;
	if (absolute(argv[first], path, sizeof(path)) < 0)
		return XL_FAIL;
	a.path = path;
	a.has_paused = f.p;
	a.paused = f.p;
	if (xl_connect(x) < 0)
		return XL_FAIL;
	rc = qmpc_domain_restore(&x->ctl, &a, &di, &err);
	if (rc < 0)
		return xl_report(x, "restore", rc, &err);
	print_domain(x, &di, f.p ? "Restored (paused)" : "Restored");
	domain_info_fini(&di);
	return XL_OK;
}

/* ---- console ---- */

static volatile sig_atomic_t console_stop;

static void on_console_signal(int sig)
{
	console_stop = 1;
}

struct console_opts {
	long long wait_ms;
};

static int console_opt(void *ctx, int opt, const char *arg)
{
	struct console_opts *o = ctx;

	if (opt != 'w')
		return -EINVAL;
	return util_parse_ll(arg, 1, 86400000, &o->wait_ms);
}

/* Prints the output in one CONSOLE_OUTPUT event if it is for dom;
 * returns -1 when a DOMAIN_STATE says the domain is gone. */
static int console_event(void *sub, const char *dom)
{
	char topic[64];
	zmq_msg_t m;
	json_t *ev, *data;
	int n, more = 0, rc = 0;
	size_t sz = sizeof(more);

	n = zmq_recv(sub, topic, sizeof(topic) - 1, ZMQ_DONTWAIT);
	if (n < 0)
		return 0;
	topic[n < (int)sizeof(topic) ? n : (int)sizeof(topic) - 1] = '\0';
	zmq_getsockopt(sub, ZMQ_RCVMORE, &more, &sz);
	if (!more)
		return 0;
	zmq_msg_init(&m);
	if (zmq_msg_recv(&m, sub, 0) < 0) {
		zmq_msg_close(&m);
		return 0;
	}
	ev = json_loadb(zmq_msg_data(&m), zmq_msg_size(&m), 0, NULL);
	zmq_msg_close(&m);
	data = json_object_get(ev, "data");
	if (ev && !strcmp(json_string_value(json_object_get(data, "domain")) ?
			  json_string_value(json_object_get(data, "domain")) :
			  "", dom)) {
		if (!strcmp(topic, "CONSOLE_OUTPUT")) {
			const char *t = json_string_value(json_object_get(data,
									  "data"));

			if (t && fputs(t, stdout) >= 0)
				fflush(stdout);
		} else if (!strcmp(topic, "DOMAIN_STATE")) {
			const char *st = json_string_value(json_object_get(data,
									   "state"));

			if (st && (!strcmp(st, "shutdown") ||
				   !strcmp(st, "crashed")))
				rc = -1;
		}
	}
	json_decref(ev);
	return rc;
}

static int send_input(struct xl_ctx *x, const char *dom, const char *buf,
		size_t n)
{
	struct qmp_console_write_args a = { (char *)dom, NULL };
	struct colo_error err = { 0 };
	int rc;

	a.data = strndup(buf, n);
	if (!a.data)
		return -ENOMEM;
	rc = qmpc_console_write(&x->ctl, &a, &err);
	free(a.data);
	if (rc < 0)
		xl_report(x, "console", rc, &err);
	return rc;
}

int xl_cmd_console(struct xl_ctx *x, const struct xl_cmd *cmd, int argc,
		char **argv)
{
	static const struct option lo[] = {
		{ "wait", required_argument, NULL, 'w' },
		{ NULL, 0, NULL, 0 },
	};
	struct console_opts o = { 0 };
	struct termios saved, raw;
	bool tty = isatty(0), in_open = true;
	char ep[4200];
	void *zctx, *sub;
	int first, e = 0, rc = XL_OK;
	uint64_t deadline;
	struct qmp_query_status_args qa;
	struct status_info si;
	struct colo_error err = { 0 };

	first = xl_parse_opts(cmd, argc, argv, "+w:", lo, console_opt, &o);
	if (first < 0 || argc - first != 1)
		return first < 0 ? XL_USAGE :
		       xl_usage_error(cmd, "expected one domain");
	if (xl_connect(x) < 0)
		return XL_FAIL;
	qa.domain = argv[first];
	if (qmpc_query_status(&x->ctl, &qa, &si, &err) < 0)
		return xl_report(x, argv[first], -EREMOTEIO, &err);
	snprintf(ep, sizeof(ep), "ipc://%s/%s", x->run_dir, COLOD_EVENT_SOCKET);
	zctx = zmq_ctx_new();
	sub = ctl_subscribe(zctx, ep, x->timeout_ms, &e);
	if (!sub) {
		fprintf(stderr, "colo-xl: cannot follow the console: %s\n",
			strerror(-e));
		zmq_ctx_term(zctx);
		return XL_FAIL;
	}
	if (tty) {
		tcgetattr(0, &saved);
		raw = saved;
		cfmakeraw(&raw);
		raw.c_oflag |= OPOST;
		tcsetattr(0, TCSANOW, &raw);
		fprintf(stderr, "Connected to %s; escape character is ^]\r\n",
			argv[first]);
	}
	signal(SIGINT, on_console_signal);
	signal(SIGTERM, on_console_signal);
	deadline = o.wait_ms ? util_mono_us() + (uint64_t)o.wait_ms * 1000 : 0;
	while (!console_stop && (!deadline || util_mono_us() < deadline)) {
		zmq_pollitem_t pi[2] = {
			{ sub, 0, ZMQ_POLLIN, 0 },
			{ NULL, 0, in_open ? ZMQ_POLLIN : 0, 0 },
		};
		char buf[512];
		ssize_t n;

		if (zmq_poll(pi, 2, 100) < 0)
			continue;
		if ((pi[0].revents & ZMQ_POLLIN) && console_event(sub, argv[first]) < 0) {
			fprintf(stderr, "%scolo-xl: domain %s stopped\n",
				tty ? "\r\n" : "", argv[first]);
			break;
		}
		if (!(pi[1].revents & ZMQ_POLLIN))
			continue;
		n = read(0, buf, sizeof(buf));
		if (n <= 0) {
			in_open = false;	/* keep showing output */
			if (!deadline)
				break;
			continue;
		}
		if (tty && memchr(buf, 0x1d, (size_t)n))
			break;		/* ^] */
		if (send_input(x, argv[first], buf, (size_t)n) < 0) {
			rc = XL_FAIL;
			break;
		}
	}
	if (tty) {
		tcsetattr(0, TCSANOW, &saved);
		fputc('\n', stderr);
	}
	zmq_close(sub);
	zmq_ctx_term(zctx);
	return rc;
}

/* ---- migrate ---- */

static void show_progress(const struct migration_info *mi, bool tty,
		uint64_t *last_iter)
{
	double total = (double)mi->total, done = (double)mi->transferred;
	int pct = total > 0 ? (int)(done * 100.0 / (total + mi->remaining)) : 0;
	char bar[31];

	if (pct > 100)
		pct = 100;
	for (int i = 0; i < 30; i++)
		bar[i] = i < pct * 30 / 100 ? '=' : ' ';
	bar[30] = '\0';
	if (!tty && (uint64_t)mi->iterations == *last_iter)
		return;		/* logs get a line per iteration */
	*last_iter = (uint64_t)mi->iterations;
	fprintf(stderr, "%s[%s] %3d%%  %s  sent %.1f MiB, dirty %.1f MiB, "
		"%lld pages/s, pass %lld%s", tty ? "\r" : "", bar, pct,
		migration_status_str(mi->status), done / 1048576.0,
		(double)mi->remaining / 1048576.0, (long long)mi->dirty_rate,
		(long long)mi->iterations, tty ? "   " : "\n");
}

/* Consecutive query-migrate answers "the helper did not reply in
 * time" (2 s each) before migrate gives up watching. */
#define MIGRATE_QUERY_MISSES 15

int xl_cmd_migrate(struct xl_ctx *x, const struct xl_cmd *cmd, int argc,
		char **argv)
{
	struct flags f = { 0 };
	struct qmp_migrate_args a;
	struct qmp_query_migrate_args q;
	struct migration_info mi;
	struct colo_error err = { 0 };
	bool tty = isatty(2);
	uint64_t t0 = util_mono_us(), last_iter = ~0ull;
	int first = opts(cmd, argc, argv, "+", &f, 2), rc;

	if (first < 0)
		return XL_USAGE;
	a.domain = argv[first];
	a.uri = argv[first + 1];
	if (xl_connect(x) < 0)
		return XL_FAIL;
	rc = qmpc_migrate(&x->ctl, &a, &err);
	if (rc < 0)
		return xl_report(x, "migrate", rc, &err);
	q.domain = a.domain;
	for (int misses = 0;;) {
		colo_error_clear(&err);
		rc = qmpc_query_migrate(&x->ctl, &q, &mi, &err);
		/* colod answered that the helper did not, in time: the
		 * migration goes on (or ends) without us; ask again a while. */
		if (rc == -EREMOTEIO && err.cls == ERROR_CLASS_TIMEOUT &&
		    ++misses < MIGRATE_QUERY_MISSES) {
			util_sleep_ms(200);
			continue;
		}
		if (rc < 0)
			return xl_report(x, "migrate", rc, &err);
		misses = 0;
		if (!x->json)
			show_progress(&mi, tty, &last_iter);
		if (mi.status == MIGRATION_STATUS_COMPLETED ||
		    mi.status == MIGRATION_STATUS_FAILED ||
		    mi.status == MIGRATION_STATUS_CANCELLED)
			break;
		migration_info_fini(&mi);
		util_sleep_ms(200);
	}
	if (tty && !x->json)
		fputc('\n', stderr);
	if (x->json) {
		xl_print_json(migration_info_to_json(&mi));
	} else if (mi.status == MIGRATION_STATUS_COMPLETED) {
		printf("Migrated %s to %s in %.1f s: %.1f MiB sent in %lld "
		       "passes, downtime %lld ms\n", a.domain, a.uri,
		       (double)(util_mono_us() - t0) / 1e6,
		       (double)mi.transferred / 1048576.0,
		       (long long)mi.iterations, (long long)mi.downtime);
	}
	rc = mi.status == MIGRATION_STATUS_COMPLETED ? XL_OK : XL_FAIL;
	if (rc != XL_OK)
		fprintf(stderr, "colo-xl: migrate: %s (%s); %s keeps running "
			"here\n", *mi.error ? mi.error : "failed",
			migration_status_str(mi.status), a.domain);
	migration_info_fini(&mi);
	return rc;
}
