/* colo-netproxy: one VM NIC's external side.  This release runs the
 * passthrough mode: frames move between a tap device and the dom-helper's
 * virtio-net socket (4-byte big-endian length framing).  The COLO modes
 * (mirror, compare, rewrite) build on the same plumbing. */
#include "config.h"
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "log.h"
#include "tap.h"
#include "util.h"

#define FRAME_MAX 65536
#define OUT_MAX (1u << 20)	/* a slow guest costs frames, not a stall */

struct proxy {
	const char *tap_name;
	const char *guest_path;
	int tap_fd;
	int guest_fd;
	uint8_t in[4 + FRAME_MAX];	/* from the guest socket */
	size_t in_len;
	uint8_t *out;			/* to the guest socket, unsent */
	size_t out_len;
	uint64_t to_guest, from_guest, dropped, bad;
};

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
	quit = 1;
}

static int connect_guest(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

static void drop_guest(struct proxy *p, const char *why)
{
	if (p->guest_fd < 0)
		return;
	log_info("guest socket %s: %s; reconnecting", p->guest_path, why);
	close(p->guest_fd);
	p->guest_fd = -1;
	p->in_len = 0;
	p->out_len = 0;
}

static void flush_guest(struct proxy *p)
{
	while (p->guest_fd >= 0 && p->out_len) {
		ssize_t n = send(p->guest_fd, p->out, p->out_len,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				drop_guest(p, "write failed");
			return;
		}
		memmove(p->out, p->out + n, p->out_len - (size_t)n);
		p->out_len -= (size_t)n;
	}
}

/* A frame from the tap goes to the guest; if the guest is not there or
 * not keeping up, it is dropped (as a switch would). */
static void tap_to_guest(struct proxy *p)
{
	uint8_t buf[FRAME_MAX];

	for (int i = 0; i < 64; i++) {
		ssize_t n = read(p->tap_fd, buf, sizeof(buf));
		uint8_t *o;

		if (n <= 0)
			break;
		if (p->guest_fd < 0 || n < 14 ||
		    p->out_len + 4 + (size_t)n > OUT_MAX) {
			p->dropped++;
			continue;
		}
		o = p->out + p->out_len;
		o[0] = (uint8_t)(n >> 24);
		o[1] = (uint8_t)(n >> 16);
		o[2] = (uint8_t)(n >> 8);
		o[3] = (uint8_t)n;
		memcpy(o + 4, buf, (size_t)n);
		p->out_len += 4 + (size_t)n;
		p->to_guest++;
	}
	flush_guest(p);
}

static void guest_to_tap(struct proxy *p)
{
	ssize_t n = read(p->guest_fd, p->in + p->in_len,
			 sizeof(p->in) - p->in_len);
	size_t off = 0;

	if (n <= 0) {
		drop_guest(p, n == 0 ? "closed" : "read failed");
		return;
	}
	p->in_len += (size_t)n;
	while (p->in_len - off >= 4) {
		uint32_t len = ((uint32_t)p->in[off] << 24) |
			       ((uint32_t)p->in[off + 1] << 16) |
			       ((uint32_t)p->in[off + 2] << 8) | p->in[off + 3];

		if (len < 14 || len > FRAME_MAX) {
			p->bad++;
			log_warn("bad frame length %u from the guest", len);
			drop_guest(p, "bad framing");
			return;
		}
		if (p->in_len - off - 4 < len)
			break;
		if (write(p->tap_fd, p->in + off + 4, len) < 0)
			p->dropped++;
		else
			p->from_guest++;
		off += 4 + len;
	}
	memmove(p->in, p->in + off, p->in_len - off);
	p->in_len -= off;
}

static void usage(FILE *f)
{
	fprintf(f, "Usage: colo-netproxy --tap NAME --guest SOCKET "
		"[--pidfile FILE] [--log TARGET] [--log-level LEVEL]\n"
		"Moves frames between a tap device (created if absent) and a\n"
		"dom-helper's virtio-net socket.\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "tap", required_argument, NULL, 't' },
		{ "guest", required_argument, NULL, 'g' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "log", required_argument, NULL, 'L' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct proxy *p = calloc(1, sizeof(*p));
	const char *target = "stderr", *path;
	enum log_target t;
	int c, level = LOG_LVL_INFO;
	char err[256];
	uint64_t next_try = 0;

	const char *pidfile = NULL;
	int pidfd = -1;
	pid_t holder;

	while ((c = getopt_long(argc, argv, "t:g:p:L:l:h", lo, NULL)) != -1) {
		switch (c) {
		case 't': p->tap_name = optarg; break;
		case 'g': p->guest_path = optarg; break;
		case 'p': pidfile = optarg; break;
		case 'L': target = optarg; break;
		case 'l': level = log_level_parse(optarg); break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!p->tap_name || !p->guest_path || level < 0 ||
	    log_target_parse(target, &t, &path) < 0) {
		usage(stderr);
		return 2;
	}
	log_init("colo-netproxy", t, path, (enum log_level)level);
	/* One netproxy per NIC: the pid file is also a lock. */
	if (pidfile && util_lock_pidfile(pidfile, &pidfd, &holder) < 0) {
		log_error("%s is held by pid %d", pidfile, (int)holder);
		if (t != LOG_TO_STDERR)
			fprintf(stderr, "colo-netproxy: %s is held by pid %d\n",
				pidfile, (int)holder);
		return 1;
	}
	p->tap_fd = tap_open(p->tap_name, err, sizeof(err));
	if (p->tap_fd < 0) {
		log_error("%s", err);	/* colod reads the log, not stderr */
		if (t != LOG_TO_STDERR)
			fprintf(stderr, "colo-netproxy: %s\n", err);
		return 1;
	}
	p->guest_fd = -1;
	p->out = malloc(OUT_MAX);
	if (!p->out)
		return 1;
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	log_info("passthrough between tap %s and %s", p->tap_name,
		 p->guest_path);
	while (!quit) {
		struct pollfd pf[2] = {
			{ p->tap_fd, POLLIN, 0 },
			{ p->guest_fd, POLLIN | (p->out_len ? POLLOUT : 0), 0 },
		};

		if (p->guest_fd < 0 && util_mono_us() >= next_try) {
			p->guest_fd = connect_guest(p->guest_path);
			if (p->guest_fd >= 0)
				log_info("connected to %s", p->guest_path);
			else
				p->guest_fd = -1;
			next_try = util_mono_us() + 100000;
		}
		pf[1].fd = p->guest_fd;
		if (poll(pf, 2, 100) < 0)
			continue;
		if (pf[0].revents & POLLIN)
			tap_to_guest(p);
		if (p->guest_fd >= 0 && (pf[1].revents & POLLOUT))
			flush_guest(p);
		if (p->guest_fd >= 0 && (pf[1].revents & (POLLIN | POLLHUP)))
			guest_to_tap(p);
	}
	/* Only our own pid file: a successor may have taken the name. */
	if (pidfile) {
		char buf[32] = "";

		if (pread(pidfd, buf, sizeof(buf) - 1, 0) > 0 &&
		    atoi(buf) == (int)getpid())
			unlink(pidfile);
	}
	log_info("stopping: %llu frames to the guest, %llu from it, %llu "
		 "dropped", (unsigned long long)p->to_guest,
		 (unsigned long long)p->from_guest,
		 (unsigned long long)p->dropped);
	return 0;
}
