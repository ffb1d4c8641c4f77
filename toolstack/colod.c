/* colod main: start-up (locks, state, sockets), the event loop and clean
 * shutdown.  Requests are served one at a time from the ROUTER socket. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include "colo-qapi-commands.h"
#include "colo_fsm.h"
#include "colod.h"
#include "ctl.h"
#include "params.h"
#include "peer_auth.h"
#include "util.h"

/* ---- start-up ---- */

/* Two colods on one state directory would corrupt each other's view of
 * COLO state, so the lock is taken before the database is opened. */
static int take_lock(const char *dir, const char *name, int *fd,
		const char *what)
{
	char path[4096];
	pid_t holder;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	rc = util_lock_pidfile(path, fd, &holder);
	if (rc == -EWOULDBLOCK) {
		fprintf(stderr, "colod: %s %s is in use by another colod "
			"(pid %d); refusing to start\n", what, dir,
			(int)holder);
		return rc;
	}
	if (rc < 0)
		fprintf(stderr, "colod: cannot lock %s: %s\n", path,
			strerror(-rc));
	return rc;
}

static int make_dirs(const struct colod_config *cfg)
{
	if (util_mkdir_p(cfg->state_dir, 0700) < 0) {
		fprintf(stderr, "colod: cannot create state directory %s: %s\n",
			cfg->state_dir, strerror(errno));
		return -1;
	}
	if (util_mkdir_p(cfg->run_dir, 0700) < 0) {
		fprintf(stderr, "colod: cannot create run directory %s: %s\n",
			cfg->run_dir, strerror(errno));
		return -1;
	}
	return 0;
}

static int open_sockets(struct colod *d)
{
	char ep[4200];
	int err = 0;
	mode_t old = umask(077);	/* sockets: owner only */

	snprintf(ep, sizeof(ep), "ipc://%s/%s", d->cfg.run_dir,
		 COLOD_CTL_SOCKET);
	d->ctl = ctl_bind(d->zctx, ZMQ_ROUTER, ep, &err);
	if (d->ctl) {
		snprintf(ep, sizeof(ep), "ipc://%s/%s", d->cfg.run_dir,
			 COLOD_EVENT_SOCKET);
		d->pub = ctl_bind(d->zctx, ZMQ_XPUB, ep, &err);
	}
	if (d->ctl && d->pub && d->cfg.peer_listen && d->cfg.curve &&
	    !(d->zap = peer_auth_open(d->zctx, &err))) {
		umask(old);
		fprintf(stderr, "colod: cannot start CURVE authentication: "
			"%s\n", zmq_strerror(-err));
		return -1;
	}
	if (d->ctl && d->pub && d->cfg.peer_listen) {
		snprintf(ep, sizeof(ep), "tcp://%s", d->cfg.peer_listen);
		d->peer = ctl_bind_curve(d->zctx, ZMQ_ROUTER, ep, d->cfg.curve ?
					 &d->cfg.curve_keys : NULL, &err);
		if (!d->peer) {
			umask(old);
			fprintf(stderr, "colod: cannot listen for peers on %s: "
				"%s\n", ep, zmq_strerror(-err));
			return -1;
		}
	}
	umask(old);
	if (!d->ctl || !d->pub) {
		fprintf(stderr, "colod: cannot bind %s: %s\n", ep,
			zmq_strerror(-err));
		return -1;
	}
	return 0;
}

static int open_signals(struct colod *d)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	d->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	return d->sigfd < 0 ? -1 : 0;
}

static int colod_start(struct colod *d)
{
	char err[512];
	const char *delay = getenv("COLOD_TEST_TRANSITION_DELAY_MS");
	long long v;

	if (make_dirs(&d->cfg) < 0)
		return -1;
	if (take_lock(d->cfg.state_dir, "colod.lock", &d->state_lock_fd,
		      "state directory") < 0 ||
	    take_lock(d->cfg.run_dir, "colod.pid", &d->run_lock_fd,
		      "run directory") < 0)
		return -1;
	if (state_open(&d->st, d->cfg.state_dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "colod: %s\n", err);
		return -1;
	}
	d->params = d->cfg.params;
	if (params_load(&d->st, &d->params) < 0) {
		fprintf(stderr, "colod: cannot read parameters from %s\n",
			d->st.path);
		return -1;
	}
	if (delay && util_parse_ll(delay, 0, 600000, &v) == 0)
		d->test_delay_ms = (unsigned)v;
	d->pending = json_array();
	d->sink.emit = colod_emit;
	d->sink.opaque = d;
	d->zctx = zmq_ctx_new();
	if (!d->zctx || open_sockets(d) < 0 || open_signals(d) < 0)
		return -1;
	d->start_us = util_now_us();
	return 0;
}

static void colod_stop(struct colod *d)
{
	char path[4200];

	hb_fini(d);
	domains_fini(d);
	if (d->peer)
		zmq_close(d->peer);
	if (d->zap)
		zmq_close(d->zap);
	if (d->ctl)
		zmq_close(d->ctl);
	if (d->pub)
		zmq_close(d->pub);
	if (d->zctx)
		zmq_ctx_term(d->zctx);
	/* Only sockets we bound are ours to remove: a colod refused by the
	 * lock must not delete the running one's sockets. */
	if (d->ctl && d->cfg.run_dir) {
		snprintf(path, sizeof(path), "%s/%s", d->cfg.run_dir,
			 COLOD_CTL_SOCKET);
		unlink(path);
		snprintf(path, sizeof(path), "%s/%s", d->cfg.run_dir,
			 COLOD_EVENT_SOCKET);
		unlink(path);
	}
	state_close(&d->st);
	json_decref(d->pending);
	if (d->sigfd > 0)
		close(d->sigfd);
	if (d->state_lock_fd > 0)
		close(d->state_lock_fd);
	if (d->run_lock_fd > 0)
		close(d->run_lock_fd);
	d->ctl = d->pub = d->peer = d->zctx = d->pending = NULL;
	d->sigfd = d->state_lock_fd = d->run_lock_fd = -1;
}

/* ---- daemonizing ---- */

/* Forks; the parent waits until the child reports that its sockets are
 * bound (exit 0) or that start-up failed (exit 1), so "colod && colo-xl"
 * works without a sleep.  Returns the write end of the pipe in the child. */
static int daemonize(void)
{
	int p[2];
	char c = 1;
	pid_t pid;

	if (pipe(p) < 0)
		die("colod: pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("colod: fork: %s", strerror(errno));
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			c = 1;
		_exit(c == 0 ? 0 : 1);
	}
	close(p[0]);
	setsid();
	if (chdir("/") < 0)
		die("colod: chdir: %s", strerror(errno));
	return p[1];
}

static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
}

int main(int argc, char **argv)
{
	struct colod d;
	int rc, ready_fd = -1;
	char status;

	memset(&d, 0, sizeof(d));
	d.sigfd = d.state_lock_fd = d.run_lock_fd = -1;
	colod_config_init(&d.cfg);
	rc = colod_config_parse(&d.cfg, argc, argv);
	if (rc != 0) {
		colod_config_fini(&d.cfg);
		return rc > 0 ? 0 : 2;
	}
	if (!d.cfg.foreground)
		ready_fd = daemonize();
	if (log_init("colod", d.cfg.log_target, d.cfg.log_path,
		     d.cfg.log_level) < 0)
		fprintf(stderr, "colod: cannot open log %s; using stderr\n",
			d.cfg.log_path);
	rc = colod_start(&d);
	if (rc == 0)
		rc = colo_fsm_recover(&d);
	if (rc == 0)
		domains_adopt(&d);
	status = rc == 0 ? 0 : 1;
	if (ready_fd >= 0) {
		if (write(ready_fd, &status, 1) != 1)
			rc = -1;
		close(ready_fd);
		if (rc == 0)
			detach_stdio();
	}
	if (rc == 0) {
		log_info("colod %s ready: state %s, run %s", PACKAGE_VERSION,
			 d.cfg.state_dir, d.cfg.run_dir);
		colod_loop(&d);
		log_info("colod stopped");
	}
	colod_stop(&d);
	colod_config_fini(&d.cfg);
	log_fini();
	return rc == 0 ? 0 : 1;
}
