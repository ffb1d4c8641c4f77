/* colo-blkrep: serves a disk image over NBD, as a primary replicating
 * its writes, or as a secondary with the active and hidden overlays of
 * COLO (colo-blkrep(8)). */
#include "config.h"
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <zmq.h>
#include "blkrep_ctl.h"
#include "colo-qapi-events.h"
#include "image.h"
#include "quorum.h"
#include "log.h"
#include "nbd_server.h"
#include "options.h"
#include "replica.h"
#include "resync.h"
#include "util.h"

struct server {
	struct image img;
	struct nbd_export exp;
	struct nbd_export svm_exp;	/* secondary mode: the SVM's view */
	/* Secondary mode with both listeners: on the unix socket (the
	 * SVM's helper) the SVM's view comes first, so it is the default;
	 * on TCP (the primary's blkrep) the primary's export is. */
	struct nbd_export svm_first, then_primary;
	const struct nbd_export *unix_exports;
	/* On TCP: the primary's export alone (never the SVM's view, which
	 * only the local helper may write), under --tcp-export's name. */
	struct nbd_export tcp_exp;
	const struct nbd_export *tcp_exports;
	int lfd, tfd;
	char *unix_path;
	int max_clients;
	atomic_int clients;
	uint64_t accepted;
};

struct client {
	struct server *s;
	const struct nbd_export *exports;
	int fd;
	char peer[64];
};

static volatile sig_atomic_t quit, resync_wanted;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		resync_wanted = 1;
	else
		quit = 1;
}

/* SIGUSR1, or a start with blocks the secondary missed. */
static void start_resync(struct resync_job *j)
{
	char err[512];

	if (resync_job_start(j, false, err, sizeof(err)) < 0)
		log_warn("resync: %s", err);
}

/* The event socket is used from the client threads (quorum events)
 * and the main loop; ZeroMQ sockets are not thread-safe. */
static void *pub_ctx, *pub;
static pthread_mutex_t pub_lock = PTHREAD_MUTEX_INITIALIZER;

static void emit_event(void *opaque, const char *name, json_t *data)
{
	json_t *ev = ctl_event_new(name, data);

	(void)opaque;
	if (!ev)
		return;
	pthread_mutex_lock(&pub_lock);
	ctl_publish(pub, ev);
	pthread_mutex_unlock(&pub_lock);
	json_decref(ev);
}

/* XPUB hands us each subscription: read them so they do not pile up. */
static void drain_subscriptions(void)
{
	char buf[256];

	if (!pub)
		return;
	pthread_mutex_lock(&pub_lock);
	while (zmq_recv(pub, buf, sizeof(buf), ZMQ_DONTWAIT) >= 0)
		;
	pthread_mutex_unlock(&pub_lock);
}

/* colod starts us with stderr on /dev/null: the log must say it too. */
static void startup_error(const char *msg)
{
	log_error("%s", msg);
	fprintf(stderr, "colo-blkrep: %s\n", msg);
}

static void *client_thread(void *arg)
{
	struct client *c = arg;
	struct nbd_conn_stats st;
	char why[256];
	int rc = nbd_serve(c->fd, c->fd, c->exports, &st, why, sizeof(why));

	if (rc == -EPROTO)
		log_warn("client %s: %s; disconnected", c->peer, why);
	else if (rc < 0 && st.requests)
		log_info("client %s went away without NBD_CMD_DISC", c->peer);
	log_debug("client %s: %llu requests, %llu errors, %llu bytes read, "
		  "%llu written", c->peer, (unsigned long long)st.requests,
		  (unsigned long long)st.errors,
		  (unsigned long long)st.bytes_read,
		  (unsigned long long)st.bytes_written);
	close(c->fd);
	atomic_fetch_sub(&c->s->clients, 1);
	free(c);
	return NULL;
}

static int listen_unix(struct server *s, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "colo-blkrep: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(fd, 16) < 0) {
		fprintf(stderr, "colo-blkrep: %s: %s\n", path, strerror(errno));
		return -1;
	}
	s->unix_path = xstrdup(path);
	return fd;
}

static int listen_tcp(const char *hostport)
{
	char host[256], *colon;
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE }, *ai;
	int fd = -1, one = 1, rc;

	snprintf(host, sizeof(host), "%s", hostport);
	colon = strrchr(host, ':');
	if (!colon) {
		fprintf(stderr, "colo-blkrep: --listen wants HOST:PORT\n");
		return -1;
	}
	*colon = 0;
	rc = getaddrinfo(strcmp(host, "*") ? host : NULL, colon + 1, &hints,
			 &ai);
	if (rc) {
		fprintf(stderr, "colo-blkrep: %s: %s\n", hostport,
			gai_strerror(rc));
		return -1;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 ||
	    listen(fd, 16) < 0) {
		fprintf(stderr, "colo-blkrep: %s: %s\n", hostport,
			strerror(errno));
		freeaddrinfo(ai);
		return -1;
	}
	freeaddrinfo(ai);
	return fd;
}

static void accept_one(struct server *s, int lfd,
		       const struct nbd_export *exports)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	struct client *c;
	pthread_t t;
	int fd = accept4(lfd, (struct sockaddr *)&sa, &len, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	if (atomic_load(&s->clients) >= s->max_clients) {
		log_warn("refusing a client: already %d", s->max_clients);
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->s = s;
	c->exports = exports;
	c->fd = fd;
	s->accepted++;
	/* Replies are small: one must not wait for the ACK of another
	 * (Nagle) while the client waits for both, as at a flush. */
	if (sa.ss_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 },
			   sizeof(int));
	if (sa.ss_family == AF_UNIX ||
	    getnameinfo((struct sockaddr *)&sa, len, c->peer, sizeof(c->peer),
			NULL, 0, NI_NUMERICHOST))
		snprintf(c->peer, sizeof(c->peer), "#%llu",
			 (unsigned long long)s->accepted);
	atomic_fetch_add(&s->clients, 1);
	if (pthread_create(&t, NULL, client_thread, c)) {
		atomic_fetch_sub(&s->clients, 1);
		close(fd);
		free(c);
		return;
	}
	pthread_detach(t);
}

/* Quorum mode: the children of --quorum behind the export. */
static int open_quorum(struct server *s, const char *qlist,
		       const struct blkrep_opts *o, struct quorum *qr,
		       const struct qapi_event_sink *sink, char *err,
		       size_t errlen)
{
	char *paths[QUORUM_MAX + 1], *save = NULL, *list = xstrdup(qlist);
	int n = 0, rc;

	for (char *t = strtok_r(list, ",", &save); t && n <= QUORUM_MAX;
	     t = strtok_r(NULL, ",", &save))
		paths[n++] = t;
	rc = quorum_open(qr, paths, n, o->qthreshold, o->qfifo, o->qrewrite,
			 o->peer_timeout, err, errlen);
	if (rc < 0)
		return rc;
	qr->reference = s->exp.name[0] ? s->exp.name : "quorum";
	qr->sink = pub ? sink : NULL;
	s->exp.qr = qr;
	s->exp.img = &qr->ch[0].img;
	return 0;
}

/* The port a TCP listener got (for --listen HOST:0), and the endpoint a
 * tcp:// control socket bound (for a wildcard port), for colod. */
static int write_port_file(const char *path, int tfd, void *ctl,
			   const char *tcp_export)
{
	struct sockaddr_storage sa;
	socklen_t len = sizeof(sa);
	char ep[256] = "", tmp[4200];
	size_t eplen = sizeof(ep);
	int port = 0;
	FILE *f;

	if (tfd >= 0 && getsockname(tfd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.ss_family == AF_INET6 ?
			     ((struct sockaddr_in6 *)&sa)->sin6_port :
			     ((struct sockaddr_in *)&sa)->sin_port);
	if (ctl)
		zmq_getsockopt(ctl, ZMQ_LAST_ENDPOINT, ep, &eplen);
	/* Whole or not at all: colod polls for it. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "%d\n%s\n%s\n", port, ep, tcp_export ? tcp_export : "");
	if (fclose(f) != 0 || rename(tmp, path) < 0)
		return -errno;
	return 0;
}

static int open_listeners(struct server *s, const char *unix_path,
			  const char *tcp, void *ctl, const char *port_file,
			  const char *tcp_export)
{
	s->unix_exports = &s->exp;
	s->tcp_exports = &s->exp;
	if (s->exp.sec || tcp_export) {
		s->tcp_exp = s->exp;
		s->tcp_exp.next = NULL;
		if (tcp_export) {
			s->tcp_exp.name = tcp_export;
			s->tcp_exp.secret = true;
		}
		s->tcp_exports = &s->tcp_exp;
	}
	if (unix_path && (s->lfd = listen_unix(s, unix_path)) < 0)
		return -1;
	if (tcp && (s->tfd = listen_tcp(tcp)) < 0)
		return -1;
	if (unix_path && tcp && s->exp.sec) {
		s->then_primary = s->exp;
		s->then_primary.next = NULL;
		s->svm_first = s->svm_exp;
		s->svm_first.next = &s->then_primary;
		s->unix_exports = &s->svm_first;
	}
	if (port_file &&
	    write_port_file(port_file, s->tfd, ctl, tcp_export) < 0) {
		fprintf(stderr, "colo-blkrep: %s: %s\n", port_file,
			strerror(errno));
		return -1;
	}
	return 0;
}

/* The control socket, and for --ctl-listen a second one for the peer
 * host's blkrep: on the network it answers blkrep-boundary only, so
 * nothing there can commit, load or redirect this disk. */
static int open_ctl(void *zctx, const char *ep, const char *peer_ep,
		    void **ctl, void **peer)
{
	int zerr = 0;

	*ctl = ctl_bind(zctx, ZMQ_ROUTER, ep, &zerr);
	if (*ctl && peer_ep)
		*peer = ctl_bind(zctx, ZMQ_ROUTER, peer_ep, &zerr);
	if (!*ctl || (peer_ep && !*peer)) {
		fprintf(stderr, "colo-blkrep: %s: %s\n", *ctl ? peer_ep : ep,
			strerror(-zerr));
		return -1;
	}
	return 0;
}

/* One round of the main loop: new clients on either listener, control
 * requests; at most 200 ms, so signals are seen. */
static void serve_once(struct server *s, void *ctl, void *peer,
		       struct blkrep_ctl *bc)
{
	zmq_pollitem_t it[4];
	int n = 0, iu = -1, itcp = -1, ic = -1, ip = -1;

	if (s->lfd >= 0) {
		it[n] = (zmq_pollitem_t){ NULL, s->lfd, ZMQ_POLLIN, 0 };
		iu = n++;
	}
	if (s->tfd >= 0) {
		it[n] = (zmq_pollitem_t){ NULL, s->tfd, ZMQ_POLLIN, 0 };
		itcp = n++;
	}
	if (ctl) {
		it[n] = (zmq_pollitem_t){ ctl, 0, ZMQ_POLLIN, 0 };
		ic = n++;
	}
	if (peer) {
		it[n] = (zmq_pollitem_t){ peer, 0, ZMQ_POLLIN, 0 };
		ip = n++;
	}
	drain_subscriptions();
	if (zmq_poll(it, n, 200) <= 0)
		return;
	if (iu >= 0 && (it[iu].revents & ZMQ_POLLIN))
		accept_one(s, s->lfd, s->unix_exports);
	if (itcp >= 0 && (it[itcp].revents & ZMQ_POLLIN))
		accept_one(s, s->tfd, s->tcp_exports);
	if (ic >= 0 && (it[ic].revents & ZMQ_POLLIN))
		ctl_serve_one(ctl, blkrep_ctl_dispatch, bc);
	if (ip >= 0 && (it[ip].revents & ZMQ_POLLIN))
		ctl_serve_one(peer, blkrep_peer_dispatch, bc);
}

int main(int argc, char **argv)
{
	struct server s = { .lfd = -1, .tfd = -1 };
	struct blkrep_opts o;
	struct quorum qr;
	struct qapi_event_sink sink = { emit_event, NULL };
	int pidfd = -1;
	pid_t holder;
	struct blkrep_ctl bc;
	struct secondary sec;
	void *zctx = NULL, *ctl = NULL, *peer = NULL;
	int zerr = 0;
	char dirty_default[4200];
	struct replica rep;
	struct resync_job job;
	const char *lpath = NULL, *image;
	enum log_target lt;
	char err[512];
	int rc, lvl;

	memset(&bc, 0, sizeof(bc));
	rc = blkrep_parse_opts(argc, argv, &o);
	if (rc >= 0)
		return rc;
	image = o.image;
	bc.peer = o.peer_ctl;
	s.exp.name = o.export_name;
	s.max_clients = o.max_clients;
	lvl = log_level_parse(o.log_level);
	if (lvl < 0 || log_target_parse(o.log_target, &lt, &lpath) < 0) {
		fprintf(stderr, "colo-blkrep: bad --log or --log-level\n");
		return 2;
	}
	log_init("colo-blkrep", lt, lpath, (enum log_level)lvl);
	/* One blkrep per disk: the pid file is also a lock. */
	if (o.pidfile && util_lock_pidfile(o.pidfile, &pidfd, &holder) < 0) {
		log_error("%s is held by pid %d", o.pidfile, (int)holder);
		fprintf(stderr, "colo-blkrep: %s is held by pid %d\n",
			o.pidfile, (int)holder);
		return 1;
	}
	if (o.events_ep) {
		/* XPUB: subscribers get a welcome, as from colod. */
		pub_ctx = zmq_ctx_new();
		pub = ctl_bind(pub_ctx, ZMQ_XPUB, o.events_ep, &zerr);
		if (!pub) {
			snprintf(err, sizeof(err), "%s: %s", o.events_ep,
				 strerror(-zerr));
			startup_error(err);
			return 1;
		}
	}
	if (o.qlist) {
		if (open_quorum(&s, o.qlist, &o, &qr, &sink, err,
				sizeof(err)) < 0) {
			startup_error(err);
			return 1;
		}
		image = o.qlist;
		bc.qr = &qr;
	} else {
		if (image_open(&s.img, image, o.ro, err, sizeof(err)) < 0) {
			startup_error(err);
			return 1;
		}
		s.exp.img = &s.img;
	}
	if (!o.qlist && !o.ro) {
		/* Every writable plain image can start replicating later
		 * (blkrep-replicate), and so can a secondary after its
		 * takeover: its writes go through the replica. */
		snprintf(dirty_default, sizeof(dirty_default), "%s.dirty",
			 image);
		replica_init_idle(&rep, s.img.size,
				  o.dirty ? o.dirty : dirty_default);
		rep.timeout_ms = o.peer_timeout;
		if (replica_track_existing(&rep, err, sizeof(err)) < 0) {
			startup_error(err);
			return 1;
		}
		resync_job_init(&job, &rep, &s.img, &quit);
		job.full_pending = o.full;
		s.exp.rep = o.sec_dir ? NULL : &rep;
		bc.rep = &rep;
		bc.job = &job;
	}
	if (o.replicate &&
	    replica_attach(&rep, o.replicate, err, sizeof(err)) < 0) {
		startup_error(err);
		return 1;
	}
	if (o.sec_dir) {
		/* Two exports: the primary's writes, and the SVM's view. */
		if (sec_open(&sec, &s.img, o.sec_dir, o.fresh, err,
			     sizeof(err)) < 0) {
			startup_error(err);
			return 1;
		}
		s.exp.sec = &sec;
		sec.rep = &rep;
		sec.sync_token = o.sync_token;
		s.svm_exp = (struct nbd_export){ .name = "svm", .img = &s.img,
						 .sec = &sec, .svm = true };
		s.exp.next = &s.svm_exp;
		bc.sec = &sec;
	}
	if (o.ctl_ep) {
		zctx = zmq_ctx_new();
		if (open_ctl(zctx, o.ctl_ep, o.ctl_listen, &ctl, &peer) < 0)
			return 1;
	}
	if (open_listeners(&s, o.unix_path, o.tcp, peer ? peer : ctl,
			   o.port_file, o.tcp_export) < 0)
		return 1;
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGUSR1, on_signal);
	/* What the secondary missed before this start, or all of it. */
	if (o.replicate && (o.full || dirtymap_count(&rep.dirty)))
		resync_wanted = 1;
	log_info("serving %s (%llu bytes%s) on %s", image,
		 (unsigned long long)s.img.size, o.ro ? ", read-only" : "",
		 o.unix_path ? o.unix_path : o.tcp);
	while (!quit) {
		serve_once(&s, ctl, peer, &bc);
		if (resync_wanted && bc.rep && replica_active(&rep)) {
			resync_wanted = 0;
			start_resync(&job);
		}
	}
	log_info("stopping");
	if (o.pidfile) {
		char buf[32] = "";

		/* Only our own: a successor may have taken the name. */
		if (pread(pidfd, buf, sizeof(buf) - 1, 0) > 0 &&
		    atoi(buf) == (int)getpid())
			unlink(o.pidfile);
	}
	blkrep_ctl_fini(&bc);
	if (ctl)
		zmq_close(ctl);
	if (peer)
		zmq_close(peer);
	if (zctx)
		zmq_ctx_term(zctx);
	if (bc.rep)
		resync_job_wait(&job);	/* it holds the replica */
	if (s.lfd >= 0)
		close(s.lfd);
	if (s.tfd >= 0)
		close(s.tfd);
	if (s.unix_path)
		unlink(s.unix_path);
	free(s.unix_path);
	if (s.exp.qr) {
		quorum_rejoin_stop(&qr);
		quorum_flush(&qr);
	}
	else
		image_flush(&s.img);
	if (pub) {
		zmq_close(pub);
		zmq_ctx_term(pub_ctx);
	}
	/* Client threads may still be inside the overlays: they end with
	 * the process, which loses nothing (every write was synced as its
	 * client asked). */
	if (s.exp.sec && atomic_load(&s.clients) == 0)
		sec_close(&sec);
	if (bc.rep) {
		if (replica_active(&rep) && replica_degraded(&rep))
			log_warn("degraded: %llu blocks of %u KiB to resync",
				 (unsigned long long)dirtymap_count(&rep.dirty),
				 DIRTY_BLOCK >> 10);
		replica_close(&rep);
	}
	return 0;
}
