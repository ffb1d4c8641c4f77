/* colo-netproxy: one VM NIC's external side.  Passthrough for a plain
 * domain; in COLO the primary's mirrors input and compares output, the
 * secondary's injects input and rewrites TCP (see colo-netproxy(8)). */
#include "config.h"
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zmq.h>
#include "ctl.h"
#include "log.h"
#include "proxy.h"
#include "proxy_ctl.h"
#include "util.h"

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

struct opts {
	const char *mode, *peer, *peer_listen, *port_file, *ctl, *helper;
	const char *pidfile, *log_target;
	int level;
	bool vnet_hdr;
	struct proxy_cfg cfg;
};

static void usage(FILE *f)
{
	fprintf(f,
"Usage: colo-netproxy --tap NAME --guest SOCKET [--mode MODE] [OPTIONS]\n"
"  --mode passthrough|primary|secondary   (default passthrough)\n"
"  --peer HOST:PORT         primary: the secondary's netproxy\n"
"  --peer-listen ADDR:PORT  secondary: where the primary connects (port 0:\n"
"                           any; see --port-file)\n"
"  --port-file FILE         write the peer port chosen\n"
"  --ctl ENDPOINT           control socket (phase notifications, stats)\n"
"  --helper ENDPOINT        the dom-helper's control socket (checkpoints)\n"
"  --nic N                  this card's index in the domain (default 0)\n"
"  --compare-timeout MS     (default 100)   --max-queue N (default 2048)\n"
"  --max-conns N            (default 16384)\n"
"  --vnet-hdr               peer link framing with QEMU's vnet_hdr_len\n"
"  --pidfile FILE --log TARGET --log-level LEVEL\n");
}

static int parse_num(const char *s, long long min, long long max,
		     const char *what, long long *v)
{
	if (util_parse_ll(s, min, max, v) < 0) {
		fprintf(stderr, "colo-netproxy: %s must be %lld to %lld\n",
			what, min, max);
		return -1;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "tap", required_argument, NULL, 't' },
		{ "guest", required_argument, NULL, 'g' },
		{ "mode", required_argument, NULL, 'm' },
		{ "peer", required_argument, NULL, 'P' },
		{ "peer-listen", required_argument, NULL, 'S' },
		{ "port-file", required_argument, NULL, 'F' },
		{ "ctl", required_argument, NULL, 'c' },
		{ "helper", required_argument, NULL, 'H' },
		{ "nic", required_argument, NULL, 'n' },
		{ "compare-timeout", required_argument, NULL, 'T' },
		{ "max-queue", required_argument, NULL, 'q' },
		{ "max-conns", required_argument, NULL, 'C' },
		{ "vnet-hdr", no_argument, NULL, 'V' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "log", required_argument, NULL, 'L' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long long v;
	int c;

	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (c) {
		case 't': o->cfg.tap_name = optarg; break;
		case 'g': o->cfg.guest_path = optarg; break;
		case 'm': o->mode = optarg; break;
		case 'P': o->peer = optarg; break;
		case 'S': o->peer_listen = optarg; break;
		case 'F': o->port_file = optarg; break;
		case 'c': o->ctl = optarg; break;
		case 'H': o->helper = optarg; break;
		case 'V': o->vnet_hdr = true; break;
		case 'p': o->pidfile = optarg; break;
		case 'L': o->log_target = optarg; break;
		case 'l': o->level = log_level_parse(optarg); break;
		case 'n':
			if (parse_num(optarg, 0, 15, "--nic", &v) < 0)
				return -1;
			o->cfg.nic = (int)v;
			break;
		case 'T':
			if (parse_num(optarg, 1, 60000, "--compare-timeout",
				      &v) < 0)
				return -1;
			o->cfg.cmp.timeout_us = (uint64_t)v * 1000;
			break;
		case 'q':
			if (parse_num(optarg, 16, 1 << 20, "--max-queue", &v) < 0)
				return -1;
			o->cfg.cmp.max_queue = (uint32_t)v;
			break;
		case 'C':
			if (parse_num(optarg, 16, 1 << 22, "--max-conns", &v) < 0)
				return -1;
			o->cfg.cmp.max_conns = o->cfg.rw_max_conns = (uint32_t)v;
			break;
		case 'h': usage(stdout); exit(0);
		default: return -1;
		}
	}
	if (!o->cfg.tap_name || !o->cfg.guest_path || o->level < 0 ||
	    optind != argc) {
		return -1;
	}
	if (strcmp(o->mode, "passthrough") && strcmp(o->mode, "primary") &&
	    strcmp(o->mode, "secondary")) {
		fprintf(stderr, "colo-netproxy: unknown mode %s\n", o->mode);
		return -1;
	}
	if (!strcmp(o->mode, "primary") && !o->peer) {
		fprintf(stderr, "colo-netproxy: primary mode needs --peer\n");
		return -1;
	}
	if (!strcmp(o->mode, "secondary") && !o->peer_listen) {
		fprintf(stderr, "colo-netproxy: secondary mode needs "
			"--peer-listen\n");
		return -1;
	}
	return 0;
}

/* HOST:PORT, the last colon separating (an IPv6 host in brackets). */
static int split_host_port(const char *s, char *host, size_t hlen, int *port)
{
	const char *colon = strrchr(s, ':');
	long long v;

	if (!colon || (size_t)(colon - s) >= hlen ||
	    util_parse_ll(colon + 1, 0, 65535, &v) < 0)
		return -EINVAL;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
	}
	*port = (int)v;
	return 0;
}

static int listen_peer(const char *spec, const char *port_file)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE }, *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char host[256], ps[16];
	int port, fd, one = 1;

	if (split_host_port(spec, host, sizeof(host), &port) < 0) {
		log_error("--peer-listen %s: expected ADDR:PORT", spec);
		return -EINVAL;
	}
	snprintf(ps, sizeof(ps), "%d", port);
	if (getaddrinfo(strcmp(host, "*") ? host : NULL, ps, &hints, &ai)) {
		log_error("--peer-listen %s: unknown address", spec);
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, 4) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		log_error("--peer-listen %s: %s", spec, strerror(errno));
		freeaddrinfo(ai);
		if (fd >= 0)
			close(fd);
		return -EADDRINUSE;
	}
	freeaddrinfo(ai);
	port = ntohs(ss.ss_family == AF_INET6 ?
		     ((struct sockaddr_in6 *)&ss)->sin6_port :
		     ((struct sockaddr_in *)&ss)->sin_port);
	log_info("secondary: peer link on port %d", port);
	if (port_file) {
		char tmp[4200];
		FILE *f;

		/* Written whole, then renamed: a reader never sees half. */
		snprintf(tmp, sizeof(tmp), "%s.tmp", port_file);
		f = fopen(tmp, "w");
		if (!f || fprintf(f, "%d\n", port) < 0 || fclose(f) != 0 ||
		    rename(tmp, port_file) < 0) {
			log_error("%s: %s", port_file, strerror(errno));
			close(fd);
			return -EIO;
		}
	}
	return fd;
}

static void run(struct proxy *p, void *ctl)
{
	while (!quit) {
		zmq_pollitem_t it[5];
		int n = 0, tap, guest = -1, peer = -1, lis = -1;

		if (ctl)
			it[n++] = (zmq_pollitem_t){ ctl, 0, ZMQ_POLLIN, 0 };
		tap = n;
		it[n++] = (zmq_pollitem_t){ NULL, p->tap_fd, ZMQ_POLLIN, 0 };
		if (p->guest.fd >= 0) {
			guest = n;
			it[n++] = (zmq_pollitem_t){ NULL, p->guest.fd,
				ZMQ_POLLIN | (p->guest.out_len ? ZMQ_POLLOUT : 0), 0 };
		}
		if (p->peer.fd >= 0) {
			peer = n;
			it[n++] = (zmq_pollitem_t){ NULL, p->peer.fd,
				ZMQ_POLLIN | (p->peer.out_len ? ZMQ_POLLOUT : 0), 0 };
		}
		if (p->listen_fd >= 0) {
			lis = n;
			it[n++] = (zmq_pollitem_t){ NULL, p->listen_fd,
						    ZMQ_POLLIN, 0 };
		}
		if (zmq_poll(it, n, 10) < 0 && errno != EINTR)
			break;
		if (ctl && (it[0].revents & ZMQ_POLLIN))
			ctl_serve_one(ctl, proxy_ctl_dispatch, p);
		if (it[tap].revents & ZMQ_POLLIN)
			proxy_on_tap(p);
		if (guest >= 0 && (it[guest].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
			proxy_on_guest(p);
		if (peer >= 0 && (it[peer].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
			proxy_on_peer(p);
		if (lis >= 0 && (it[lis].revents & ZMQ_POLLIN))
			proxy_on_listen(p);
		proxy_tick(p);
	}
}

static void remove_pidfile(const char *pidfile, int pidfd)
{
	char buf[32] = "";

	/* Only our own: a successor may have taken the name. */
	if (pidfile && pread(pidfd, buf, sizeof(buf) - 1, 0) > 0 &&
	    atoi(buf) == (int)getpid())
		unlink(pidfile);
}

int main(int argc, char **argv)
{
	struct opts o = {
		.mode = "passthrough", .log_target = "stderr",
		.level = LOG_LVL_INFO,
		.cfg = {
			.cmp = { 2048, 16384, 100000 },
			.rw_max_conns = 16384, .log_frames = 65536,
			.log_bytes = 256ull << 20, .loaded_wait_ms = 300,
		},
	};
	struct proxy *p = calloc(1, sizeof(*p));
	struct requester *req = NULL;
	void *zctx = NULL, *ctl = NULL;
	enum log_target t;
	const char *path;
	char err[256];
	int pidfd = -1, rc = 1, zerr = 0;
	pid_t holder;

	if (!p || parse_args(argc, argv, &o) < 0 ||
	    log_target_parse(o.log_target, &t, &path) < 0) {
		usage(stderr);
		return 2;
	}
	log_init("colo-netproxy", t, path, (enum log_level)o.level);
	/* One netproxy per NIC: the pid file is also a lock. */
	if (o.pidfile && util_lock_pidfile(o.pidfile, &pidfd, &holder) < 0) {
		log_error("%s is held by pid %d", o.pidfile, (int)holder);
		if (t != LOG_TO_STDERR)
			fprintf(stderr, "colo-netproxy: %s is held by pid %d\n",
				o.pidfile, (int)holder);
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (o.helper && !(req = requester_new(o.helper)))
		goto out;
	if (proxy_init(p, &o.cfg, req, err, sizeof(err)) < 0) {
		log_error("%s", err);	/* colod reads the log, not stderr */
		if (t != LOG_TO_STDERR)
			fprintf(stderr, "colo-netproxy: %s\n", err);
		goto out;
	}
	p->peer.vnet_hdr = o.vnet_hdr;
	if (o.ctl) {
		zctx = zmq_ctx_new();
		ctl = ctl_bind(zctx, ZMQ_ROUTER, o.ctl, &zerr);
		if (!ctl) {
			log_error("%s: %s", o.ctl, strerror(-zerr));
			goto out;
		}
	}
	if (!strcmp(o.mode, "primary")) {
		char host[256];
		int port;

		if (split_host_port(o.peer, host, sizeof(host), &port) < 0 ||
		    port == 0) {
			log_error("--peer %s: expected HOST:PORT", o.peer);
			goto out;
		}
		proxy_start_primary(p, host, port);
	} else if (!strcmp(o.mode, "secondary")) {
		int fd = listen_peer(o.peer_listen, o.port_file);

		if (fd < 0)
			goto out;
		proxy_start_secondary(p, fd);
	}
	log_info("%s between tap %s and %s", proxy_mode_str(p->mode),
		 o.cfg.tap_name, o.cfg.guest_path);
	run(p, ctl);
	log_info("stopping: %llu frames from the tap, %llu to it; dropped "
		 "%llu on full buffers, %llu on a link down, %llu on tap "
		 "errors, %llu runts; %llu ignored",
		 (unsigned long long)p->tap_in,
		 (unsigned long long)p->tap_out, (unsigned long long)p->full,
		 (unsigned long long)p->no_link,
		 (unsigned long long)p->tap_errors,
		 (unsigned long long)p->runts,
		 (unsigned long long)p->ignored);
	rc = 0;
out:
	requester_free(req);
	if (ctl)
		zmq_close(ctl);
	if (zctx)
		zmq_ctx_term(zctx);
	proxy_fini(p);
	free(p);
	if (o.pidfile)
		remove_pidfile(o.pidfile, pidfd);
	return rc;
}
