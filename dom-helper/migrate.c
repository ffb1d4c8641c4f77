/* Live migration, sender and receiver threads. */
#include "config.h"
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include "colo-qapi-types.h"
#include "helper.h"
#include "log.h"
#include "colo.h"
#include "migrate.h"
#include "util.h"

int migrate_init(struct migration *m)
{
	if (m->notify_fd > 0)
		return 0;	/* already */
	memset(m, 0, sizeof(*m));
	m->listen_fd = -1;
	m->conn_fd = -1;
	m->status = MIGRATION_STATUS_NONE;
	m->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return m->notify_fd < 0 ? -errno : 0;
}

void migrate_fini(struct migration *m)
{
	if (m->notify_fd < 0)
		return;
	if (m->started)
		pthread_join(m->thread, NULL);
	m->started = false;
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	if (m->notify_fd >= 0)
		close(m->notify_fd);
	m->listen_fd = m->notify_fd = -1;
}

static void notify(struct migration *m)
{
	uint64_t one = 1;

	if (write(m->notify_fd, &one, sizeof(one)) < 0)
		log_debug("migration notify: %m");
}

static void finish(struct migration *m, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void finish(struct migration *m, int status, const char *fmt, ...)
{
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(m->error, sizeof(m->error), fmt, ap);
		va_end(ap);
		log_error("migration: %s", m->error);
	}
	m->status = status;
	notify(m);
}

static int dial(const char *host, int port)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *p;
	char svc[16];
	int fd = -1, one = 1;

	snprintf(svc, sizeof(svc), "%d", port);
	if (getaddrinfo(host, svc, &hints, &ai) != 0)
		return -EHOSTUNREACH;
	for (p = ai; p; p = p->ai_next) {
		fd = socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, p->ai_addr, p->ai_addrlen) == 0)
			break;
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd >= 0 ? fd : -ECONNREFUSED;
}

/* One precopy pass: the pages in bm.  Returns bytes sent or -errno. */
static int64_t send_pages(struct helper *h, struct stream_writer *w,
		const uint64_t *bm, bool skip_zero)
{
	uint64_t before = w->bytes, n;
	int rc = savevm_write_pages(&h->vm, w, bm, skip_zero, &n);

	if (rc < 0)
		return rc;
	return (int64_t)(w->bytes - before);
}

static int wait_ack(int fd)
{
	struct pollfd pf = { fd, POLLIN, 0 };
	uint8_t b = 0;

	if (poll(&pf, 1, 60000) <= 0 || read(fd, &b, 1) != 1)
		return -ETIMEDOUT;
	return b == MIGRATE_ACK ? 0 : -EPROTO;
}

static void *sender(void *arg)
{
	struct helper *h = arg;
	struct migration *m = &h->mig;
	struct vm *vm = &h->vm;
	struct stream_writer w;
	uint64_t *bm = calloc(vm->mem.bitmap_words, sizeof(uint64_t));
	uint64_t t_iter = util_mono_us(), t_pause = 0, bw = 1;
	bool paused = false, first = true;
	int fd = -1, rc;
	int64_t sent;

	fd = dial(m->host, m->port);
	if (fd < 0 || !bm) {
		finish(m, MIGRATION_STATUS_FAILED, "cannot connect to %s:%d",
		       m->host, m->port);
		goto out;
	}
	stream_writer_init(&w, fd);
	m->status = MIGRATION_STATUS_ACTIVE;
	rc = stream_write_header_flags(&w, m->colo ? STREAM_F_COLO : 0);
	if (rc == 0)
		rc = stream_write(&w, REC_DOMAIN_CONFIG, h->cfg.xml,
				  strlen(h->cfg.xml));
	if (rc == 0)
		rc = dirty_enable(vm, true);
	for (;;) {
		uint64_t now, count;

		if (rc < 0)
			break;
		memset(bm, 0, vm->mem.bitmap_words * sizeof(uint64_t));
		rc = dirty_harvest(vm, bm);
		if (rc < 0)
			break;
		now = util_mono_us();
		count = dirty_count(bm, vm->mem.bitmap_words);
		m->remaining = count * 4096;
		if (!first)
			m->dirty_rate = count * 1000000 / (now - t_iter + 1);
		/* Converged, or out of patience: stop and copy the rest. */
		if (!first && !paused &&
		    (count * 4096 / bw <= (uint64_t)m->max_downtime_ms * 1000 ||
		     m->iterations >= MIGRATE_MAX_ITERATIONS)) {
			dirty_abort(vm);	/* keep them for the final pass */
			m->status = MIGRATION_STATUS_DEVICE;
			t_pause = util_mono_us();
			vm_pause(vm, VM_PAUSE_MIGRATE);
			paused = true;
			continue;
		}
		t_iter = now;
		sent = send_pages(h, &w, bm, first);
		if (sent < 0) {
			dirty_abort(vm);
			rc = (int)sent;
			break;
		}
		dirty_commit(vm);
		m->transferred = w.bytes;
		m->iterations++;
		/* Bandwidth in bytes per microsecond, from this pass. */
		bw = (uint64_t)sent / (util_mono_us() - now + 1) + 1;
		first = false;
		if (paused)
			break;
	}
	if (rc == 0)
		rc = savevm_write_state(h, &w);
	if (rc == 0)
		rc = stream_write(&w, REC_END, NULL, 0);
	if (rc == 0 && m->colo) {
		/* In sync: both VMs run, and checkpoints keep them so. */
		dirty_commit(vm);
		m->downtime_ms = (util_mono_us() - t_pause) / 1000;
		m->transferred = w.bytes;
		m->remaining = 0;
		m->status = MIGRATION_STATUS_COLO;
		notify(m);
		colo_primary_loop(h, fd, &w);
		finish(m, MIGRATION_STATUS_COMPLETED, NULL);
		goto out;
	}
	if (rc == 0)
		rc = wait_ack(fd);
	if (rc < 0) {
		dirty_enable(vm, false);
		if (paused)
			vm_resume(vm, VM_PAUSE_MIGRATE);
		finish(m, MIGRATION_STATUS_FAILED, "stream to %s:%d: %s", m->host,
		       m->port, strerror(-rc));
		goto out;
	}
	m->transferred = w.bytes;
	m->remaining = 0;
	m->downtime_ms = (util_mono_us() - t_pause) / 1000;
	h->migrated = true;
	finish(m, MIGRATION_STATUS_COMPLETED, NULL);
	log_info("migration to %s:%d completed: %llu bytes, %llu iterations, "
		 "downtime %llu ms", m->host, m->port,
		 (unsigned long long)m->transferred,
		 (unsigned long long)m->iterations,
		 (unsigned long long)m->downtime_ms);
out:
	free(bm);
	if (fd >= 0)
		close(fd);
	return NULL;
}

int migrate_start(struct helper *h, const char *host, int port,
		int max_downtime_ms, bool colo, char *err, size_t errlen)
{
	struct migration *m = &h->mig;
	int rc;

	if (m->status == MIGRATION_STATUS_ACTIVE ||
	    m->status == MIGRATION_STATUS_DEVICE) {
		snprintf(err, errlen, "a migration is already running");
		return -EBUSY;
	}
	if (m->started)
		pthread_join(m->thread, NULL);
	m->started = false;
	snprintf(m->host, sizeof(m->host), "%s", host);
	m->port = port;
	m->max_downtime_ms = max_downtime_ms;
	m->colo = colo;
	m->transferred = m->remaining = m->dirty_rate = m->iterations = 0;
	m->downtime_ms = 0;
	m->error[0] = '\0';
	m->status = MIGRATION_STATUS_SETUP;
	rc = pthread_create(&m->thread, NULL, sender, h);
	if (rc) {
		snprintf(err, errlen, "cannot start the migration thread");
		return -rc;
	}
	m->started = true;
	return 0;
}

int migrate_listen(struct migration *m, const char *addr, char *err,
		size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE }, *ai;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int one = 1, fd, port;

	if (getaddrinfo(addr, "0", &hints, &ai) != 0) {
		snprintf(err, errlen, "incoming: bad address %s", addr);
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
				 sizeof(one)) < 0 ||
	    bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
		snprintf(err, errlen, "incoming: cannot listen on %s: %s", addr,
			 strerror(errno));
		freeaddrinfo(ai);
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	freeaddrinfo(ai);
	port = ntohs(ss.ss_family == AF_INET6 ?
		     ((struct sockaddr_in6 *)&ss)->sin6_port :
		     ((struct sockaddr_in *)&ss)->sin_port);
	m->listen_fd = fd;
	m->status = MIGRATION_STATUS_SETUP;
	return port;
}

static void *receiver(void *arg)
{
	struct helper *h = arg;
	struct migration *m = &h->mig;
	struct pollfd pf = { m->listen_fd, POLLIN, 0 };
	uint8_t ack = MIGRATE_ACK;
	char err[300];
	int fd, rc, one = 1;

	for (int waited = 0; poll(&pf, 1, 500) <= 0; waited += 500) {
		if (m->stop || waited >= 120000) {
			finish(m, MIGRATION_STATUS_FAILED,
			       "no migration stream came");
			return NULL;
		}
	}
	fd = accept4(m->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	close(m->listen_fd);
	m->listen_fd = -1;
	if (fd < 0) {
		finish(m, MIGRATION_STATUS_FAILED, "accept: %s", strerror(errno));
		return NULL;
	}
	/* The secondary's replies are small records sent back to back
	 * (vmstate-received, then vmstate-loaded): with Nagle the second
	 * waits for the primary's delayed ACK, some 40 ms a checkpoint. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	m->status = MIGRATION_STATUS_ACTIVE;
	rc = savevm_load_colo(h, fd, err, sizeof(err), &m->colo);
	if (rc == 0 && m->colo) {
		/* The same connection goes on into checkpoints. */
		struct stream_reader r;

		h->incoming_done = true;
		m->status = MIGRATION_STATUS_COLO;
		notify(m);
		stream_reader_init(&r, fd);
		m->conn_fd = fd;
		colo_secondary_loop(h, fd, &r);
		m->conn_fd = -1;
		stream_reader_fini(&r);
		close(fd);
		finish(m, MIGRATION_STATUS_COMPLETED, NULL);
		return NULL;
	}
	if (rc == 0 && write(fd, &ack, 1) != 1)
		rc = -EPIPE;
	close(fd);
	if (rc < 0) {
		finish(m, MIGRATION_STATUS_FAILED, "incoming stream: %s", err);
		return NULL;
	}
	finish(m, MIGRATION_STATUS_COMPLETED, NULL);
	return NULL;
}

int migrate_accept_start(struct helper *h)
{
	int rc = pthread_create(&h->mig.thread, NULL, receiver, h);

	if (rc == 0)
		h->mig.started = true;
	return -rc;
}
