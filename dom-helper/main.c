/* colo-dom-helper main: options, start-up (build or restore the VM), and
 * the loop that serves colod and publishes events.  Run without --ctl it
 * is a standalone VMM: console on stdout, exit status from the guest. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include "colo-qapi-helper.h"
#include "ctl.h"
#include "helper.h"
#include "log.h"
#include "util.h"

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: colo-dom-helper (--config FILE | --restore FILE) [OPTIONS]\n"
		"Runs one KVM domain for colod.\n\n"
		"  -c, --config FILE      domain XML (colo-domain(5))\n"
		"  -R, --restore FILE     restore a domain saved by domain-save\n"
		"  -C, --ctl ENDPOINT     ZeroMQ control socket to bind\n"
		"  -E, --events ENDPOINT  ZeroMQ event socket to bind\n"
		"  -o, --console-log FILE append console output here (- for stdout)\n"
		"  -r, --run-dir DIR      where NIC sockets go by default (.)\n"
		"  -I, --incoming tcp:ADDR  with --config: wait for a live\n"
		"                         migration on ADDR (any port; reported)\n"
		"  -p, --paused           do not start the vCPUs\n"
		"  -d, --dirty-mode MODE  bitmap (default) or ring\n"
		"  -s, --status-fd FD     report start-up success or failure on FD\n"
		"  -L, --log TARGET       stderr (default), syslog or file:PATH\n"
		"  -l, --log-level LEVEL  error, warn, info or debug\n"
		"  -h, --help             this help\n");
}

static int parse_args(struct helper_opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "restore", required_argument, NULL, 'R' },
		{ "ctl", required_argument, NULL, 'C' },
		{ "events", required_argument, NULL, 'E' },
		{ "console-log", required_argument, NULL, 'o' },
		{ "run-dir", required_argument, NULL, 'r' },
		{ "incoming", required_argument, NULL, 'I' },
		{ "paused", no_argument, NULL, 'p' },
		{ "dirty-mode", required_argument, NULL, 'd' },
		{ "status-fd", required_argument, NULL, 's' },
		{ "log", required_argument, NULL, 'L' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *log_target = "stderr", *path;
	enum log_target t;
	long long v;
	int c;

	memset(o, 0, sizeof(*o));
	o->status_fd = -1;
	o->log_level = LOG_LVL_INFO;
	o->run_dir = ".";
	while ((c = getopt_long(argc, argv, "c:R:C:E:o:r:I:pd:s:L:l:h", lo,
				NULL)) != -1) {
		switch (c) {
		case 'c': o->config_path = optarg; break;
		case 'R': o->restore_path = optarg; break;
		case 'C': o->ctl_endpoint = optarg; break;
		case 'E': o->event_endpoint = optarg; break;
		case 'o': o->console_log = optarg; break;
		case 'r': o->run_dir = optarg; break;
		case 'I':
			if (strncmp(optarg, "tcp:", 4) != 0) {
				fprintf(stderr, "colo-dom-helper: --incoming "
					"takes tcp:ADDRESS\n");
				return -EINVAL;
			}
			o->incoming = optarg + 4;
			break;
		case 'p': o->paused = true; break;
		case 'd':
			if (dirty_mode_parse(optarg, &o->dirty_mode) < 0) {
				fprintf(stderr, "colo-dom-helper: --dirty-mode is "
					"bitmap or ring\n");
				return -EINVAL;
			}
			break;
		case 's':
			if (util_parse_ll(optarg, 0, 65535, &v) < 0)
				return -EINVAL;
			o->status_fd = (int)v;
			break;
		case 'L': log_target = optarg; break;
		case 'l':
			o->log_level = log_level_parse(optarg);
			if (o->log_level < 0)
				return -EINVAL;
			break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (!o->config_path == !o->restore_path || optind != argc ||
	    (o->incoming && !o->config_path)) {
		fprintf(stderr, "colo-dom-helper: give exactly one of --config "
			"and --restore\n");
		return -EINVAL;
	}
	if (log_target_parse(log_target, &t, &path) < 0)
		return -EINVAL;
	log_init("colo-dom-helper", t, path, (enum log_level)o->log_level);
	return 0;
}

static void report_status(struct helper *h, const char *err, int port)
{
	char line[600];
	int n;

	if (h->opts.status_fd < 0)
		return;
	if (!err && port > 0)
		n = snprintf(line, sizeof(line), "OK port=%d\n", port);
	else
		n = snprintf(line, sizeof(line), "%s%s\n", err ? "ERR " : "OK",
			     err ? err : "");
	if (write(h->opts.status_fd, line, (size_t)n) < 0)
		log_warn("status fd: %m");
	close(h->opts.status_fd);
	h->opts.status_fd = -1;
}

static void emit(void *opaque, const char *name, json_t *data)
{
	struct helper *h = opaque;
	json_t *ev = ctl_event_new(name, data);

	if (h->pub && ev)
		ctl_publish(h->pub, ev);
	json_decref(ev);
}

static int open_sockets(struct helper *h, char *err, size_t errlen)
{
	int e = 0;
	mode_t old;

	if (!h->opts.ctl_endpoint)
		return 0;
	h->zctx = zmq_ctx_new();
	old = umask(077);
	h->ctl = ctl_bind(h->zctx, ZMQ_ROUTER, h->opts.ctl_endpoint, &e);
	if (h->ctl && h->opts.event_endpoint)
		h->pub = ctl_bind(h->zctx, ZMQ_PUB, h->opts.event_endpoint, &e);
	umask(old);
	if (!h->ctl || (h->opts.event_endpoint && !h->pub)) {
		snprintf(err, errlen, "cannot bind control sockets: %s",
			 zmq_strerror(-e));
		return -1;
	}
	return 0;
}

static int start(struct helper *h, char *err, size_t errlen)
{
	int fd, rc;
	const char *log = h->opts.console_log;

	rc = console_init(&h->console, log && strcmp(log, "-") ? log : NULL);
	if (rc < 0) {
		snprintf(err, errlen, "console log %s: %s", log, strerror(-rc));
		return rc;
	}
	if (h->opts.restore_path) {
		fd = open(h->opts.restore_path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			snprintf(err, errlen, "%s: %s", h->opts.restore_path,
				 strerror(errno));
			return -errno;
		}
		rc = savevm_restore(h, fd, err, errlen);
		close(fd);
	} else {
		rc = domain_config_load(&h->cfg, h->opts.config_path, err,
					errlen);
		/* An incoming VM gets its memory from the stream. */
		if (rc == 0)
			rc = helper_build(h, !h->opts.incoming, err, errlen);
	}
	if (rc == 0)
		rc = migrate_init(&h->mig);
	if (rc == 0)
		rc = colo_init(&h->colo);
	if (rc == 0 && h->opts.incoming) {
		rc = migrate_listen(&h->mig, h->opts.incoming, err, errlen);
		if (rc >= 0) {
			h->incoming_port = rc;
			h->opts.paused = true;	/* until the stream is in */
			rc = 0;
		}
	}
	if (rc < 0)
		return rc;
	if (open_sockets(h, err, errlen) < 0)
		return -1;
	rc = helper_start_devices(h);
	if (rc < 0) {
		snprintf(err, errlen, "cannot start device threads: %s",
			 strerror(-rc));
		return rc;
	}
	/* An incoming VM waits for its stream; `create -p` for the user. */
	if (h->opts.incoming)
		vm_pause(&h->vm, VM_PAUSE_MIGRATE);
	else if (h->opts.paused)
		vm_pause(&h->vm, VM_PAUSE_USER);
	rc = vm_start(&h->vm);
	if (rc < 0)
		snprintf(err, errlen, "cannot start vCPU threads: %s",
			 strerror(-rc));
	if (rc == 0 && h->opts.incoming)
		rc = migrate_accept_start(h);
	return rc;
}

static void serve_request(struct helper *h)
{
	struct ctl_incoming in;
	bool executed;
	json_t *reply;

	if (ctl_recv(h->ctl, &in) < 0)
		return;
	reply = ctl_process(zmq_msg_data(&in.payload), zmq_msg_size(&in.payload),
			    helper_dispatch, h, &executed);
	ctl_send_reply(h->ctl, &in, reply);
	json_decref(reply);
	ctl_incoming_fini(&in);
}

static void flush_console(struct helper *h)
{
	char buf[4097];
	size_t n;

	while ((n = console_take(&h->console, buf, sizeof(buf) - 1)) > 0) {
		struct qev_console_output ev;

		if (h->opts.console_log && !strcmp(h->opts.console_log, "-")) {
			fwrite(buf, 1, n, stdout);
			fflush(stdout);
		}
		if (!h->pub)
			continue;
		console_sanitize(buf, n);
		for (size_t i = 0; i < n; i++)
			if (!buf[i])
				buf[i] = '?';
		buf[n] = '\0';
		ev.domain = h->cfg.name;
		ev.data = buf;
		qapi_event_send_console_output(&h->sink, &ev);
	}
}

/* A migration finished or failed.  A source that sent its VM away
 * stays (paused, post-migrate) until colod collects the figures and
 * quits it; a destination runs the guest. */
static void on_migration(struct helper *h)
{
	uint64_t v;
	char reason[300];

	if (read(h->mig.notify_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return;
	if (h->mig.status == MIGRATION_STATUS_COLO) {
		helper_announce(h, h->colo.primary || !h->opts.incoming ?
				"COLO primary" : "COLO secondary");
		return;
	}
	if (h->opts.incoming && !h->incoming_done) {
		if (h->mig.status != MIGRATION_STATUS_COMPLETED) {
			log_error("%s", h->mig.error);
			snprintf(reason, sizeof(reason), "%s", h->mig.error);
			vm_set_stopped(&h->vm, VM_CRASHED, -1, reason);
			return;
		}
		h->incoming_done = true;
		vm_resume(&h->vm, VM_PAUSE_MIGRATE);
		helper_announce(h, "migrated in");
		return;
	}
	if (h->mig.status == MIGRATION_STATUS_COMPLETED && h->mig.colo) {
		snprintf(reason, sizeof(reason), "COLO %s: %.250s",
			 h->colo.standby ? "standby" : "stopped",
			 h->colo.error[0] ? h->colo.error : "failover");
		helper_announce(h, reason);
	} else if (h->mig.status == MIGRATION_STATUS_COMPLETED) {
		snprintf(reason, sizeof(reason), "migrated to %s", h->mig.host);
		helper_announce(h, reason);
	} else if (h->mig.status == MIGRATION_STATUS_FAILED) {
		snprintf(reason, sizeof(reason), "migration failed: %s",
			 h->mig.error);
		helper_announce(h, reason);
	}
}

/* The guest stopped itself: announce it, and exit unless the config says
 * to preserve the domain. */
static void on_vm_notify(struct helper *h)
{
	uint64_t v;
	enum vm_state st;

	if (read(h->vm.notify_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("notify: %m");
	flush_console(h);
	helper_announce(h, NULL);
	st = vm_get_state(&h->vm);
	if ((st == VM_SHUTDOWN && h->cfg.on_poweroff == DOMAIN_DESTROY) ||
	    (st == VM_CRASHED && h->cfg.on_crash == DOMAIN_DESTROY))
		h->quit = true;
}

/* The test knob COLO_TEST_DEAF_AFTER_MIGRATE (colo-dom-helper(8)): a
 * source whose VM has gone stops answering, as a hung helper would, so
 * that the tests see colod give up on it without stalling. */
static bool deaf(const struct helper *h)
{
	return h->migrated && getenv("COLO_TEST_DEAF_AFTER_MIGRATE");
}

static void loop(struct helper *h)
{
	while (!h->quit) {
		zmq_pollitem_t pi[5] = {
			{ NULL, h->sigfd, ZMQ_POLLIN, 0 },
			{ NULL, h->vm.notify_fd, ZMQ_POLLIN, 0 },
			{ NULL, h->console.wake_fd, ZMQ_POLLIN, 0 },
			{ NULL, h->mig.notify_fd, ZMQ_POLLIN, 0 },
			{ h->ctl, 0, ZMQ_POLLIN, 0 },
		};
		int n = h->ctl && !deaf(h) ? 5 : 4;
		struct signalfd_siginfo si;

		if (zmq_poll(pi, n, 500) < 0 && errno != EINTR)
			break;
		if (pi[0].revents &&
		    read(h->sigfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGHUP)
				log_reopen();
			else
				h->quit = true;
		}
		if (pi[1].revents)
			on_vm_notify(h);
		if (pi[2].revents)
			flush_console(h);
		if (pi[3].revents)
			on_migration(h);
		if (n == 5 && pi[4].revents)
			serve_request(h);
	}
}

int main(int argc, char **argv)
{
	struct helper h;
	char err[512] = "";
	sigset_t set;
	int rc;

	memset(&h, 0, sizeof(h));
	h.sigfd = -1;
	h.mig.notify_fd = h.mig.listen_fd = -1;
	if (parse_args(&h.opts, argc, argv) < 0)
		return 2;
	h.sink.emit = emit;
	h.sink.opaque = &h;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	h.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	rc = start(&h, err, sizeof(err));
	if (rc < 0) {
		log_error("%s", err);
		report_status(&h, err, 0);
		helper_teardown(&h);
		return 1;
	}
	h.last_state = RUN_STATE__MAX;	/* nothing announced yet */
	helper_announce(&h, h.opts.restore_path ? "restore" :
			h.opts.incoming ? "incoming" : "create");
	report_status(&h, NULL, h.incoming_port);
	log_info("domain %s: %llu MiB, %d vCPU(s), %s", h.cfg.name,
		 (unsigned long long)(h.vm.mem.size >> 20), h.vm.nr_vcpus,
		 h.opts.paused ? "paused" : "running");
	loop(&h);
	flush_console(&h);
	rc = vm_get_state(&h.vm) == VM_SHUTDOWN ? h.vm.exit_status :
	     vm_get_state(&h.vm) == VM_CRASHED ? 1 : 0;
	h.mig.stop = true;	/* a receiver still waiting gives up */
	h.colo.failover = true;	/* and a COLO loop stops */
	colo_request(&h.colo, false);
	if (h.mig.conn_fd >= 0)
		shutdown(h.mig.conn_fd, SHUT_RDWR);
	migrate_fini(&h.mig);
	colo_fini(&h.colo);
	helper_teardown(&h);
	if (h.pub) {
		struct qev_domain_state ev = { h.cfg.name, RUN_STATE_SHUTDOWN,
					       (char *)"helper exited" };

		qapi_event_send_domain_state(&h.sink, &ev);
		zmq_close(h.pub);
	}
	if (h.ctl)
		zmq_close(h.ctl);
	if (h.zctx)
		zmq_ctx_term(h.zctx);
	console_fini(&h.console);
	domain_config_fini(&h.cfg);
	log_fini();
	return rc & 0xff;
}
