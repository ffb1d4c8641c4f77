/* colo-dom-helper's command handlers (the 'helper' commands of
 * schema/colo.json). */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "colo-qapi-helper.h"
#include "crc32c.h"
#include "error.h"
#include "helper.h"
#include "log.h"
#include "util.h"

#define DIRTY_LIST_MAX 65536

static double cpu_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int qmp_helper_query(void *opaque, struct helper_info *ret,
		struct colo_error *err)
{
	struct helper *h = opaque;
	uint64_t exits = 0;

	for (int i = 0; i < h->vm.nr_vcpus; i++)
		exits += h->vm.vcpus[i].exits;
	ret->name = xstrdup(h->cfg.name);
	ret->state = helper_run_state(h);
	ret->vcpus = h->vm.nr_vcpus;
	ret->memory = (int64_t)(h->vm.mem.size >> 20);
	ret->cpu_time = cpu_seconds();
	ret->exit_status = vm_get_state(&h->vm) == VM_SHUTDOWN ?
			   h->vm.exit_status : -1;
	ret->reason = xstrdup(h->vm.crash_reason);
	ret->dirty_mode = xstrdup(dirty_mode_name(h->vm.dirty.mode));
	ret->console_log = xstrdup(h->opts.console_log);
	ret->exits = (int64_t)exits;
	ret->pid = getpid();
	return 0;
}

static bool stopped(struct helper *h, struct colo_error *err)
{
	enum vm_state st = vm_get_state(&h->vm);

	if (st == VM_SHUTDOWN || st == VM_CRASHED) {
		colo_error_set(err, ERROR_CLASS_INVALID_STATE,
			       "the guest has %s", st == VM_SHUTDOWN ?
			       "powered off" : "crashed");
		return true;
	}
	return false;
}

int qmp_helper_stop(void *opaque, struct colo_error *err)
{
	struct helper *h = opaque;

	if (stopped(h, err))
		return -EINVAL;
	vm_pause(&h->vm, VM_PAUSE_USER);
	helper_announce(h, "pause");
	return 0;
}

int qmp_helper_cont(void *opaque, struct colo_error *err)
{
	struct helper *h = opaque;

	if (stopped(h, err))
		return -EINVAL;
	colo_cont(&h->colo, &h->vm);
	helper_announce(h, "unpause");
	return 0;
}

int qmp_helper_quit(void *opaque, struct colo_error *err)
{
	struct helper *h = opaque;

	h->quit = true;
	return 0;
}

int qmp_helper_save(void *opaque, const struct qmp_helper_save_args *a,
		struct save_info *ret, struct colo_error *err)
{
	struct helper *h = opaque;
	struct save_result res;
	char why[256];
	uint64_t t0;
	int fd, rc;

	if (stopped(h, err))
		return -EINVAL;
	if (a->path[0] != '/') {
		colo_error_set(err, ERROR_CLASS_INVALID_PARAMETER,
			       "path must be absolute");
		return -EINVAL;
	}
	fd = open(a->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		colo_error_set(err, ERROR_CLASS_GENERIC_ERROR, "%s: %s", a->path,
			       strerror(errno));
		return -errno;
	}
	t0 = util_mono_us();
	vm_pause(&h->vm, VM_PAUSE_SNAPSHOT);
	rc = savevm_write(h, fd, &res, why, sizeof(why));
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc < 0) {
		unlink(a->path);
		colo_error_set(err, ERROR_CLASS_GENERIC_ERROR, "%s",
			       *why ? why : strerror(-rc));
	}
	ret->pause_us = (int64_t)(util_mono_us() - t0);
	/* xl semantics: a saved domain stays stopped unless -c. */
	if (!a->continue_ && rc == 0)
		vm_pause(&h->vm, VM_PAUSE_USER);
	vm_resume(&h->vm, VM_PAUSE_SNAPSHOT);
	helper_announce(h, "save");
	ret->bytes = (int64_t)res.bytes;
	ret->pages = (int64_t)res.pages;
	return rc;
}

int qmp_helper_console_write(void *opaque,
		const struct qmp_helper_console_write_args *a,
		struct colo_error *err)
{
	struct helper *h = opaque;
	size_t n = strlen(a->data);

	if (serial_input(&h->serial, (const uint8_t *)a->data, n) < n) {
		colo_error_set(err, ERROR_CLASS_GENERIC_ERROR,
			       "the guest's receive buffer is full");
		return -EAGAIN;
	}
	return 0;
}

int qmp_helper_console_read(void *opaque,
		const struct qmp_helper_console_read_args *a,
		struct console_data *ret, struct colo_error *err)
{
	struct helper *h = opaque;
	size_t max = a->bytes < 1 ? 1 : a->bytes > CONSOLE_HISTORY ?
		     CONSOLE_HISTORY : (size_t)a->bytes;
	char *buf = malloc(max + 1);
	size_t n;

	if (!buf)
		abort();
	n = console_tail(&h->console, buf, max);
	console_sanitize(buf, n);
	buf[n] = '\0';
	for (size_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = '?';
	ret->data = buf;
	return 0;
}

int qmp_x_helper_dirty_log(void *opaque,
		const struct qmp_x_helper_dirty_log_args *a,
		struct colo_error *err)
{
	struct helper *h = opaque;
	int rc = dirty_enable(&h->vm, a->enable);

	if (rc < 0)
		colo_error_set(err, ERROR_CLASS_GENERIC_ERROR, "dirty log: %s",
			       strerror(-rc));
	return rc;
}

int qmp_x_helper_dirty_harvest(void *opaque, struct dirty_info *ret,
		struct colo_error *err)
{
	struct helper *h = opaque;
	uint64_t *bm = calloc(h->vm.mem.bitmap_words, sizeof(uint64_t));
	size_t n = 0;
	int rc;

	if (!bm)
		abort();
	rc = dirty_harvest(&h->vm, bm);
	if (rc < 0) {
		free(bm);
		colo_error_set(err, ERROR_CLASS_INVALID_STATE, "%s",
			       rc == -ENOTCONN ? "dirty logging is off" :
			       strerror(-rc));
		return rc;
	}
	dirty_commit(&h->vm);
	ret->count = (int64_t)dirty_count(bm, h->vm.mem.bitmap_words);
	ret->pfns = calloc(ret->count < DIRTY_LIST_MAX ? (size_t)ret->count + 1 :
			   DIRTY_LIST_MAX, sizeof(int64_t));
	if (!ret->pfns)
		abort();
	for (uint64_t p = 0; p < h->vm.mem.npages && n < DIRTY_LIST_MAX; p++)
		if (bm[p / 64] & (1ull << (p % 64)))
			ret->pfns[n++] = (int64_t)p;
	ret->pfns_count = n;
	free(bm);
	return 0;
}

int qmp_x_helper_ram_hash(void *opaque, struct ram_hash *ret,
		struct colo_error *err)
{
	struct helper *h = opaque;
	uint32_t lanes[8] = { 0 };
	char hex[65];

	vm_pause(&h->vm, VM_PAUSE_SNAPSHOT);
	for (uint64_t p = 0; p < h->vm.mem.npages; p++) {
		uint32_t c = crc32c(0, h->vm.mem.base + p * GUEST_PAGE_SIZE,
				    GUEST_PAGE_SIZE);

		/* Position-dependent: swapping two pages changes the hash. */
		lanes[p % 8] = crc32c(lanes[p % 8], &c, sizeof(c));
		lanes[p % 8] = crc32c(lanes[p % 8], &p, sizeof(p));
	}
	vm_resume(&h->vm, VM_PAUSE_SNAPSHOT);
	for (int i = 0; i < 8; i++)
		snprintf(hex + 8 * i, 9, "%08x", lanes[i]);
	ret->hash = xstrdup(hex);
	ret->pages = (int64_t)h->vm.mem.npages;
	return 0;
}

int qmp_helper_migrate(void *opaque, const struct qmp_helper_migrate_args *a,
		struct colo_error *err)
{
	struct helper *h = opaque;
	char why[256];
	int rc;

	if (stopped(h, err))
		return -EINVAL;
	if (a->port < 1 || a->port > 65535 || a->max_downtime < 1) {
		colo_error_set(err, ERROR_CLASS_INVALID_PARAMETER,
			       "bad port or max-downtime");
		return -EINVAL;
	}
	rc = migrate_start(h, a->host, (int)a->port, (int)a->max_downtime,
			   false, why, sizeof(why));
	if (rc < 0)
		colo_error_set(err, ERROR_CLASS_INVALID_STATE, "%s", why);
	return rc;
}

int qmp_helper_query_migrate(void *opaque, struct migration_info *ret,
		struct colo_error *err)
{
	struct helper *h = opaque;
	struct migration *m = &h->mig;

	ret->status = (enum migration_status)m->status;
	ret->total = (int64_t)h->vm.mem.size;
	ret->transferred = (int64_t)m->transferred;
	ret->remaining = (int64_t)m->remaining;
	ret->dirty_rate = (int64_t)m->dirty_rate;
	ret->iterations = (int64_t)m->iterations;
	ret->downtime = (int64_t)m->downtime_ms;
	ret->error = xstrdup(m->error);
	return 0;
}

int qmp_helper_colo_start(void *opaque,
		const struct qmp_helper_colo_start_args *a,
		struct colo_error *err)
{
	struct helper *h = opaque;
	char why[256];
	int rc;

	if (stopped(h, err))
		return -EINVAL;
	if (a->port < 1 || a->port > 65535 || a->max_downtime < 1 ||
	    a->interval < 10 || a->interval > 3600000) {
		colo_error_set(err, ERROR_CLASS_INVALID_PARAMETER,
			       "bad port, max-downtime or interval");
		return -EINVAL;
	}
	h->colo.interval_ms = (int)a->interval;
	h->colo.heartbeat_ms = a->has_heartbeat ? (int)a->heartbeat : 0;
	h->colo.failover = false;
	h->colo.error[0] = '\0';
	rc = migrate_start(h, a->host, (int)a->port, (int)a->max_downtime, true,
			   why, sizeof(why));
	if (rc < 0)
		colo_error_set(err, ERROR_CLASS_INVALID_STATE, "%s", why);
	return rc;
}

int qmp_helper_colo_checkpoint(void *opaque,
		const struct qmp_helper_colo_checkpoint_args *a,
		struct colo_error *err)
{
	struct helper *h = opaque;

	if (!h->colo.active || !h->colo.primary) {
		colo_error_set(err, ERROR_CLASS_INVALID_STATE,
			       "this helper is not a running COLO primary");
		return -EINVAL;
	}
	if (a->has_mismatch && a->mismatch)
		h->colo.mismatch = true;	/* before the wake-up */
	colo_request(&h->colo, a->has_hold && a->hold);
	return 0;
}

int qmp_helper_colo_set(void *opaque, const struct qmp_helper_colo_set_args *a,
		struct colo_error *err)
{
	struct helper *h = opaque;

	if (a->interval < 10 || a->interval > 3600000) {
		colo_error_set(err, ERROR_CLASS_INVALID_PARAMETER,
			       "interval must be 10 to 3600000 ms");
		return -EINVAL;
	}
	h->colo.interval_ms = (int)a->interval;
	colo_wake(&h->colo);	/* the new interval counts from now */
	return 0;
}

int qmp_helper_colo_failover(void *opaque, struct colo_error *err)
{
	struct helper *h = opaque;

	h->colo.failover = true;
	if (h->colo.standby) {
		/* The decision a standing-by secondary waited for. */
		h->colo.standby = false;
		h->colo.exit_reason = COLO_EXIT_REASON_REQUEST;
		vm_resume(&h->vm, VM_PAUSE_STANDBY);
		log_info("COLO: the secondary takes over from standby");
		helper_announce(h, "COLO takeover from standby");
		return 0;
	}
	colo_request(&h->colo, false);
	/* A secondary blocked on the stream hears it close. */
	if (!h->colo.primary && h->mig.conn_fd >= 0)
		shutdown(h->mig.conn_fd, SHUT_RDWR);
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

int qmp_helper_query_colo(void *opaque, struct colo_helper_status *ret,
		struct colo_error *err)
{
	struct helper *h = opaque;
	struct colo *c = &h->colo;
	uint64_t n = c->st.checkpoints, k = n < COLO_STATS_RING ? n :
		     COLO_STATS_RING, sorted[COLO_STATS_RING], sum = 0;

	memcpy(sorted, c->st.pause_ring, sizeof(sorted));
	for (uint64_t i = 0; i < k; i++)
		sum += sorted[i];
	qsort(sorted, k, sizeof(uint64_t), cmp_u64);
	ret->active = c->active;
	ret->primary = c->primary;
	ret->checkpoints = (int64_t)n;
	ret->last_pause_us = (int64_t)c->st.last_pause_us;
	ret->mean_pause_us = k ? (int64_t)(sum / k) : 0;
	ret->p99_pause_us = k ? (int64_t)sorted[(k * 99) / 100 < k ?
					       (k * 99) / 100 : k - 1] : 0;
	ret->last_dirty_pages = (int64_t)c->st.last_dirty;
	ret->last_bytes = (int64_t)c->st.last_bytes;
	ret->last_duration_us = (int64_t)c->st.last_us;
	ret->last_transfer_us = (int64_t)c->st.last_xfer_us;
	ret->last_trigger = xstrdup(colo_trigger_name(c->last_trigger));
	ret->idle_ms = c->last_rx_us ?
		       (int64_t)((util_mono_us() - c->last_rx_us) / 1000) : -1;
	ret->error = xstrdup(c->error);
	ret->standby = c->standby;
	ret->phase_listeners = colo_phases_list(&c->phases,
						&ret->phase_listeners_count);
	return 0;
}

int qmp_helper_colo_phase_attach(void *opaque,
		const struct qmp_helper_colo_phase_attach_args *a,
		struct colo_error *err)
{
	struct helper *h = opaque;

	int64_t t = a->has_timeout ? a->timeout : PHASE_DEFAULT_TIMEOUT_MS;

	/* Out of int range counts as out of range, not as its low bits. */
	return colo_phases_attach(&h->colo.phases, a->endpoint,
				  t < 0 || t > 60000 ? -1 : (int)t, err);
}

int qmp_helper_colo_phase_detach(void *opaque,
		const struct qmp_helper_colo_phase_detach_args *a,
		struct colo_error *err)
{
	struct helper *h = opaque;

	return colo_phases_detach(&h->colo.phases, a->endpoint, err);
}

int qmp_helper_query_checkpoints(void *opaque,
		const struct qmp_helper_query_checkpoints_args *a,
		struct checkpoint_record **ret, size_t *ret_count,
		struct colo_error *err)
{
	struct helper *h = opaque;
	struct colo_record *v = malloc(COLO_RECORDS * sizeof(*v));
	size_t n;

	if (!v)
		abort();
	if (a->has_since && a->since < 0) {
		free(v);
		colo_error_set(err, ERROR_CLASS_INVALID_PARAMETER,
			       "since must not be negative");
		return -EINVAL;
	}
	n = colo_records_since(&h->colo.rec, a->has_since ?
			       (uint64_t)a->since : 0, v, COLO_RECORDS);
	*ret = calloc(n ? n : 1, sizeof(**ret));
	if (!*ret)
		abort();
	for (size_t i = 0; i < n; i++) {
		struct checkpoint_record *r = &(*ret)[i];

		r->seq = (int64_t)v[i].seq;
		r->time_ms = (int64_t)v[i].time_ms;
		r->role = v[i].primary ? COLO_MODE_PRIMARY :
			  COLO_MODE_SECONDARY;
		r->trigger = xstrdup(colo_trigger_name(v[i].trigger));
		r->pause_us = (int64_t)v[i].pause_us;
		r->dirty_pages = (int64_t)v[i].dirty_pages;
		r->bytes = (int64_t)v[i].bytes;
		r->duration_us = (int64_t)v[i].duration_us;
	}
	*ret_count = n;
	free(v);
	return 0;
}
