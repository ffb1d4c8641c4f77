/* The COLO checkpoint loops of the primary and the secondary helper. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "colo-qapi-types.h"
#include "colo.h"
#include "helper.h"
#include "log.h"
#include "tlv.h"
#include "util.h"
#include "vcpu_state.h"

#define REPLY_TIMEOUT_MS 10000

/* checkpoint-request's value: the sequence number, the trigger in bits
 * 56..62 and the debug hold in bit 63. */
#define REQ_SEQ_MASK	((1ull << 56) - 1)
#define REQ_TRIGGER(v)	((enum colo_trigger)(((v) >> 56) & 0x7f))
#define REQ_HOLD	(1ull << 63)

int colo_init(struct colo *c)
{
	memset(c, 0, sizeof(*c));
	c->interval_ms = 2000;
	pthread_mutex_init(&c->hold_lock, NULL);
	colo_records_init(&c->rec);
	colo_phases_init(&c->phases);
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return c->wake_fd < 0 ? -errno : 0;
}

void colo_fini(struct colo *c)
{
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	c->wake_fd = -1;
	free(c->cache);
	c->cache = NULL;
	colo_phases_fini(&c->phases);
}

void colo_wake(struct colo *c)
{
	uint64_t one = 1;

	if (write(c->wake_fd, &one, sizeof(one)) < 0)
		log_debug("colo wake: %m");
}

void colo_request(struct colo *c, bool hold)
{
	c->hold = hold;
	c->request = true;
	colo_wake(c);
}

/* A held checkpoint leaves the VM paused as if by the user, so that only
 * cont resumes it; both steps under hold_lock so a racing cont is never
 * lost between them. */
static void hold_vm(struct colo *c, struct vm *vm)
{
	pthread_mutex_lock(&c->hold_lock);
	c->held = true;
	vm_pause(vm, VM_PAUSE_USER);
	pthread_mutex_unlock(&c->hold_lock);
}

void colo_cont(struct colo *c, struct vm *vm)
{
	pthread_mutex_lock(&c->hold_lock);
	c->held = false;	/* checkpoints may go on */
	vm_resume(vm, VM_PAUSE_USER);
	pthread_mutex_unlock(&c->hold_lock);
}

/* Waits for one COLO_MESSAGE of kind want from the peer; heartbeats on
 * the way only show that the peer lives. */
static int expect(struct colo *c, struct stream_reader *r, int fd,
		uint32_t want, uint64_t *value)
{
	struct pollfd pf = { fd, POLLIN, 0 };
	const uint8_t *body;
	uint32_t type, len, msg;
	uint64_t v;

	do {
		int waited = 0, n;

		/* In slices, so that a failover decided meanwhile (the
		 * secondary's host died) ends the wait at once. */
		while ((n = poll(&pf, 1, 100)) == 0 && !c->failover &&
		       (waited += 100) < REPLY_TIMEOUT_MS)
			;
		if (n <= 0)
			return c->failover ? -ECANCELED : -ETIMEDOUT;
		if (stream_read(r, &type, &body, &len) < 0)
			return -EPIPE;
		c->last_rx_us = util_mono_us();
	} while (type == REC_HEARTBEAT);
	if (type != REC_COLO_MESSAGE ||
	    stream_parse_colo_message(body, len, &msg, &v) < 0 || msg != want)
		return -EPROTO;
	if (value)
		*value = v;
	return 0;
}

/* The points of a primary's checkpoint transaction, for the test knob
 * COLO_TEST_KILL_FILE (colo-dom-helper(8)): a file holding "PHASE SEQ"
 * makes the primary SIGKILL itself at PHASE of checkpoint SEQ, so tests
 * cover every phase, not just where a random kill happens to land. */
enum kill_phase {
	PH_NONE, PH_REQUEST, PH_PAUSED, PH_SNAPSHOT, PH_SEND, PH_SENT,
	PH_RECEIVED, PH_LOADED,
};

static const char *const phase_names[] = {
	"", "request", "paused", "snapshot", "send", "sent", "received",
	"loaded",
};

static void read_kill_knob(struct colo *c)
{
	const char *path = getenv("COLO_TEST_KILL_FILE");
	char name[32] = "";
	unsigned long long seq = 0;
	FILE *f;

	c->kill_phase = PH_NONE;
	if (!path || !(f = fopen(path, "r")))
		return;
	if (fscanf(f, "%31s %llu", name, &seq) == 2)
		for (int i = 1; i < (int)ARRAY_SIZE(phase_names); i++)
			if (strcmp(name, phase_names[i]) == 0) {
				c->kill_phase = i;
				c->kill_seq = seq;
			}
	fclose(f);
	if (c->kill_phase)
		log_warn("test: will SIGKILL myself at %s of checkpoint %llu",
			 name, seq);
}

/* COLO_TEST_LOADED_DELAY_MS (colo-dom-helper(8)): a secondary waits
 * this long between loading a checkpoint and telling its listeners, so
 * tests can open the window in which netproxy reconnects before it
 * hears of the load. */
static void read_loaded_delay_knob(struct colo *c)
{
	const char *v = getenv("COLO_TEST_LOADED_DELAY_MS");

	c->loaded_delay_us = v ? (useconds_t)strtoul(v, NULL, 10) * 1000 : 0;
	if (c->loaded_delay_us > 1000000)
		c->loaded_delay_us = 1000000;
	if (c->loaded_delay_us)
		log_warn("test: the loaded phase waits %u ms",
			 (unsigned)(c->loaded_delay_us / 1000));
}

static void kill_point(struct colo *c, enum kill_phase p, uint64_t seq)
{
	if (c->kill_phase != (int)p || seq != c->kill_seq)
		return;
	log_warn("test: SIGKILL at %s of checkpoint %llu", phase_names[p],
		 (unsigned long long)seq);
	raise(SIGKILL);
}

/* Tells the phase listeners where this side's transaction is. */
static int tell_phase(struct helper *h, enum colo_phase phase, uint64_t seq,
		bool takeover, char *why, size_t whylen)
{
	int64_t rx[DOMAIN_MAX_NICS];
	struct qmp_colo_phase_args a = {
		.domain = h->cfg.name, .phase = phase, .seq = (int64_t)seq,
		.mode = h->colo.primary ? COLO_MODE_PRIMARY : COLO_MODE_SECONDARY,
		.has_takeover = phase == COLO_PHASE_EXIT, .takeover = takeover,
	};

	/* The vCPUs and devices are quiesced: the counts are the epoch
	 * boundary of the input. */
	if (phase == COLO_PHASE_PAUSED && h->nnics) {
		for (int i = 0; i < h->nnics; i++)
			rx[i] = (int64_t)h->nics[i].conn_frames;
		a.has_net_rx = true;
		a.net_rx = rx;
		a.net_rx_count = (size_t)h->nnics;
	}
	return colo_phases_notify(&h->colo.phases, &a, why, whylen);
}

/* COLO is over on this side.  A secondary taking over says so before
 * the SVM runs alone: blkrep must have made the SVM's view the disk and
 * netproxy gone to passthrough first.  A listener's failure can change
 * nothing any more, so it is only logged. */
static void notify_exit(struct helper *h, uint64_t done, bool takeover)
{
	char why[256];

	if (tell_phase(h, COLO_PHASE_EXIT, done, takeover, why,
		       sizeof(why)) < 0)
		log_warn("COLO exit: %s", why);
}

static void record_pause(struct colo *c, uint64_t us)
{
	uint64_t n = c->st.checkpoints;

	c->st.pause_ring[n % COLO_STATS_RING] = us;
	c->st.last_pause_us = us;
	c->st.total_pause_us += us;
}

static void add_record(struct colo *c, uint64_t seq, uint64_t wall_ms,
		uint64_t pause_us, uint64_t pages, uint64_t bytes,
		uint64_t duration_us, bool primary)
{
	struct colo_record rec = {
		.seq = seq, .time_ms = wall_ms, .pause_us = pause_us,
		.dirty_pages = pages, .bytes = bytes,
		.duration_us = duration_us,
		.trigger = (enum colo_trigger)c->last_trigger,
		.primary = primary,
	};

	colo_records_add(&c->rec, &rec);
}

/* Staged copy of one checkpoint on the primary: taken while paused. */
struct snapshot {
	uint64_t *pfns;
	uint8_t *pages;
	size_t n, cap;
	struct tlv_buf vmst, dev;
	struct tlv_buf vcpu[VM_MAX_VCPUS];
};

static int snap_pages(struct snapshot *s, struct vm *vm, const uint64_t *bm)
{
	size_t want = dirty_count(bm, vm->mem.bitmap_words);

	if (want > s->cap) {
		free(s->pfns);
		free(s->pages);
		s->pfns = malloc(want * sizeof(uint64_t));
		s->pages = aligned_alloc(4096, want * 4096);
		s->cap = s->pfns && s->pages ? want : 0;
		if (!s->cap)
			return -ENOMEM;
	}
	s->n = 0;
	for (size_t w = 0; w < vm->mem.bitmap_words; w++) {
		uint64_t bits = bm[w];

		while (bits) {
			uint64_t pfn = w * 64 + (uint64_t)__builtin_ctzll(bits);

			bits &= bits - 1;
			s->pfns[s->n] = pfn;
			memcpy(s->pages + s->n * 4096,
			       vm->mem.base + pfn * 4096, 4096);
			s->n++;
		}
	}
	return 0;
}

static int snap_state(struct snapshot *s, struct helper *h)
{
	int rc;

	tlv_buf_reset(&s->vmst);
	tlv_buf_reset(&s->dev);
	rc = vm_state_save(&h->vm, &s->vmst);
	for (int i = 0; rc == 0 && i < h->vm.nr_vcpus; i++) {
		tlv_buf_reset(&s->vcpu[i]);
		rc = vcpu_state_save(&h->vm.vcpus[i], &s->vcpu[i]);
	}
	if (rc == 0)
		rc = savevm_device_state(h, &s->dev);
	return rc;
}

static int send_snapshot(struct snapshot *s, struct helper *h,
		struct stream_writer *w, uint64_t seq)
{
	uint64_t state_len = s->vmst.len + s->dev.len;
	int rc = stream_write_colo_message(w, COLO_MESSAGE_VMSTATE_SEND, seq);

	for (size_t i = 0; rc == 0 && i < s->n; i += STREAM_MAX_PAGES) {
		uint32_t n = (uint32_t)(s->n - i < STREAM_MAX_PAGES ?
					s->n - i : STREAM_MAX_PAGES);
		uint32_t head[2] = { n, 0 };
		struct iovec iov[3] = {
			{ head, sizeof(head) },
			{ s->pfns + i, n * sizeof(uint64_t) },
			{ s->pages + i * 4096, (size_t)n * 4096 },
		};

		rc = stream_write_iov(w, REC_PAGE_DATA, iov, 3);
		if (rc == 0)	/* part of the pages are out */
			kill_point(&h->colo, PH_SEND, seq);
	}
	for (int i = 0; i < h->vm.nr_vcpus; i++)
		state_len += s->vcpu[i].len;
	if (rc == 0)
		rc = stream_write_colo_message(w, COLO_MESSAGE_VMSTATE_SIZE,
					       state_len);
	if (rc == 0)
		rc = stream_write(w, REC_VM_STATE, s->vmst.data, s->vmst.len);
	for (int i = 0; rc == 0 && i < h->vm.nr_vcpus; i++)
		rc = stream_write(w, REC_VCPU_STATE, s->vcpu[i].data,
				  s->vcpu[i].len);
	if (rc == 0)
		rc = stream_write(w, REC_DEVICE_STATE, s->dev.data, s->dev.len);
	if (rc == 0)
		rc = stream_write(w, REC_CHECKPOINT_END, &seq, sizeof(seq));
	if (rc == 0)
		kill_point(&h->colo, PH_SENT, seq);
	return rc;
}

/* One checkpoint transaction, primary side.  Returns 0 or -errno. */
static int checkpoint(struct helper *h, struct snapshot *s,
		struct stream_writer *w, struct stream_reader *r, int fd,
		uint64_t seq, uint64_t *bm, bool hold, char *why, size_t whylen)
{
	struct colo *c = &h->colo;
	uint64_t t0, t1, before = w->bytes, wall_ms = util_now_us() / 1000;
	int rc;

	rc = stream_write_colo_message(w, COLO_MESSAGE_CHECKPOINT_REQUEST,
				       seq | (uint64_t)c->last_trigger << 56 |
				       (hold ? REQ_HOLD : 0));
	if (rc == 0)
		kill_point(c, PH_REQUEST, seq);
	if (rc == 0)
		rc = expect(c, r, fd, COLO_MESSAGE_CHECKPOINT_REPLY, NULL);
	if (rc < 0)
		return rc;
	t0 = util_mono_us();
	vm_pause(&h->vm, VM_PAUSE_COLO);
	kill_point(c, PH_PAUSED, seq);
	/* The epoch boundary: netproxy and blkrep mark it while the PVM
	 * cannot cross it. */
	rc = tell_phase(h, COLO_PHASE_PAUSED, seq, false, why, whylen);
	if (rc < 0) {
		vm_resume(&h->vm, VM_PAUSE_COLO);
		return rc;
	}
	memset(bm, 0, h->vm.mem.bitmap_words * sizeof(uint64_t));
	rc = dirty_harvest(&h->vm, bm);
	if (rc == 0)
		rc = snap_pages(s, &h->vm, bm);
	if (rc == 0)
		rc = snap_state(s, h);
	kill_point(c, PH_SNAPSHOT, seq);
	/* Speculative resume: the PVM runs while the checkpoint travels. */
	if (hold)
		hold_vm(c, &h->vm);
	vm_resume(&h->vm, VM_PAUSE_COLO);
	t1 = util_mono_us();
	if (rc == 0)
		rc = send_snapshot(s, h, w, seq);
	if (rc == 0)
		rc = expect(c, r, fd, COLO_MESSAGE_VMSTATE_RECEIVED, NULL);
	if (rc < 0) {
		dirty_abort(&h->vm);	/* resend these next time */
		return rc;
	}
	c->st.last_xfer_us = util_mono_us() - t1;
	dirty_commit(&h->vm);
	kill_point(c, PH_RECEIVED, seq);
	rc = tell_phase(h, COLO_PHASE_COMMITTED, seq, false, why, whylen);
	if (rc == 0)
		rc = expect(c, r, fd, COLO_MESSAGE_VMSTATE_LOADED, NULL);
	if (rc == 0)
		kill_point(c, PH_LOADED, seq);
	record_pause(c, t1 - t0);
	c->st.last_dirty = s->n;
	c->st.last_bytes = w->bytes - before;
	c->st.last_us = util_mono_us() - t0;
	c->st.checkpoints++;
	if (rc == 0)
		add_record(c, seq, wall_ms, t1 - t0, s->n, w->bytes - before,
			   c->st.last_us, true);
	return rc;
}

void colo_primary_loop(struct helper *h, int fd, struct stream_writer *w)
{
	struct colo *c = &h->colo;
	struct stream_reader r;
	struct snapshot s;
	uint64_t *bm = calloc(h->vm.mem.bitmap_words, sizeof(uint64_t));
	uint64_t next, next_hb, hb_seq = 0, done = 0;
	int interval;
	char why[256] = "";
	bool hold;
	int rc;

	memset(&s, 0, sizeof(s));
	read_kill_knob(c);
	stream_reader_init(&r, fd);
	rc = bm ? stream_read_header(&r) : -ENOMEM;
	if (rc == 0)
		rc = expect(c, &r, fd, COLO_MESSAGE_CHECKPOINT_READY, NULL);
	if (rc < 0) {
		snprintf(c->error, sizeof(c->error), "the secondary did not "
			 "become ready: %.250s", r.err[0] ? r.err : strerror(-rc));
		goto out;
	}
	c->active = true;
	c->last_rx_us = util_mono_us();
	c->primary = true;
	/* The migrated state is checkpoint 0: blkrep marks its boundary, so
	 * that the PVM's writes from now on keep their pre-images. */
	rc = tell_phase(h, COLO_PHASE_PAUSED, 0, false, why, sizeof(why));
	if (rc < 0) {
		snprintf(c->error, sizeof(c->error), "checkpoint 0: %.200s",
			 why);
		vm_resume(&h->vm, VM_PAUSE_MIGRATE);
		goto out;
	}
	vm_resume(&h->vm, VM_PAUSE_MIGRATE);	/* stop-and-copy is over */
	log_info("COLO: primary running, checkpoints every %d ms",
		 c->interval_ms);
	interval = c->interval_ms;
	next = util_mono_us() + (uint64_t)interval * 1000;
	next_hb = util_mono_us();
	while (!c->failover) {
		struct pollfd pf[2] = { { c->wake_fd, POLLIN, 0 },
					{ fd, POLLIN, 0 } };
		uint64_t now = util_mono_us(), v, until = next;
		int wait;

		/* Between checkpoints, heartbeats keep the link's liveness
		 * visible to both sides at heartbeat resolution. */
		if (c->heartbeat_ms > 0 && now >= next_hb) {
			rc = stream_write(w, REC_HEARTBEAT, &hb_seq, 8);
			hb_seq++;
			next_hb = now + (uint64_t)c->heartbeat_ms * 1000;
			if (rc < 0)
				break;
		}
		if (c->heartbeat_ms > 0 && next_hb < until)
			until = next_hb;
		wait = until > now ? (int)((until - now) / 1000) + 1 : 0;
		if (!c->request && wait > 0 && poll(pf, 2, wait) > 0) {
			if (pf[1].revents) {
				const uint8_t *body;
				uint32_t type, len;

				/* Only heartbeats come unasked. */
				if (stream_read(&r, &type, &body, &len) < 0 ||
				    type != REC_HEARTBEAT) {
					rc = -EPIPE;
					break;
				}
				c->last_rx_us = util_mono_us();
				continue;
			}
			if (read(c->wake_fd, &v, sizeof(v)) < 0)
				continue;
		}
		if (c->failover)
			break;
		if (c->interval_ms != interval) {	/* set live: from now */
			interval = c->interval_ms;
			next = util_mono_us() + (uint64_t)interval * 1000;
		}
		if (c->held || (!c->request && util_mono_us() < next)) {
			if (c->held)
				util_sleep_ms(10);
			continue;
		}
		c->last_trigger = !c->request ? COLO_TRIGGER_TIMER :
				  c->mismatch ? COLO_TRIGGER_MISMATCH :
				  COLO_TRIGGER_MANUAL;
		c->mismatch = false;
		c->request = false;
		hold = c->hold;
		c->hold = false;
		rc = checkpoint(h, &s, w, &r, fd, ++c->seq, bm, hold, why,
				sizeof(why));
		if (rc < 0)
			break;
		done = c->seq;
		next = util_mono_us() + (uint64_t)interval * 1000;
	}
	if (rc < 0 && !c->failover) {
		snprintf(c->error, sizeof(c->error), "checkpoint %llu: %.250s",
			 (unsigned long long)c->seq, why[0] ? why : r.err[0] ?
			 r.err : strerror(-rc));
		c->exit_reason = COLO_EXIT_REASON_ERROR;
		log_error("COLO: %s; the primary carries on alone", c->error);
	} else {
		c->exit_reason = COLO_EXIT_REASON_REQUEST;
	}
	/* Tell the secondary we live on, so it does not take over too: it
	 * stands by instead.  (After a stream error it is gone anyway.)
	 * Never blocking: a secondary that stopped reading must not hold
	 * up the primary that now runs alone. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if (stream_write(w, REC_END, NULL, 0) < 0)
		log_debug("COLO: END not delivered: %s", strerror(errno));
	notify_exit(h, done, true);
out:
	/* Alone from now on: no checkpoints, no dirty log, running. */
	c->active = false;
	dirty_enable(&h->vm, false);
	vm_resume(&h->vm, VM_PAUSE_COLO);
	vm_resume(&h->vm, VM_PAUSE_MIGRATE);
	stream_reader_fini(&r);
	free(bm);
	free(s.pfns);
	free(s.pages);
	tlv_buf_fini(&s.vmst);
	tlv_buf_fini(&s.dev);
	for (int i = 0; i < VM_MAX_VCPUS; i++)
		tlv_buf_fini(&s.vcpu[i]);
}

/* ---- secondary ---- */

/* What has arrived of the checkpoint in progress.  Its pages go straight
 * into the RAM cache (the stream reader's page sink) and are marked in the
 * apply bitmap: the cache only ever flows into the SVM at CHECKPOINT_END,
 * and a checkpoint that breaks off ends COLO, so a half-written cache is
 * never used and needs no staging copy. */
struct staged {
	size_t n;
	struct tlv_buf vmst, dev;
	struct tlv_buf vcpu[VM_MAX_VCPUS];
	int nvcpu;
};

/* A PAGE_DATA body as the page sink leaves it: count, flags, pfns (each
 * checked against guest RAM by the reader). */
static int note_pages(struct staged *st, uint64_t *bm, const uint8_t *body,
		uint32_t len)
{
	uint32_t n;

	if (len < 8)
		return -EPROTO;
	memcpy(&n, body, 4);
	if (len != 8 + (uint64_t)n * 8)
		return -EPROTO;
	for (uint32_t i = 0; i < n; i++) {
		uint64_t pfn;

		memcpy(&pfn, body + 8 + (size_t)i * 8, 8);
		bm[pfn / 64] |= 1ull << (pfn % 64);
	}
	st->n += n;
	return 0;
}

/* The checkpoint becomes the SVM: every page that either side dirtied
 * since the last checkpoint comes from the cache, then the state.  bm
 * holds the pages the checkpoint carried. */
static int apply(struct helper *h, struct staged *st, uint64_t *bm,
		char *why, size_t whylen)
{
	struct vm *vm = &h->vm;
	uint8_t *cache = h->colo.cache;
	int rc;

	rc = dirty_harvest(vm, bm);	/* the SVM's own writes */
	if (rc < 0) {
		snprintf(why, whylen, "SVM dirty log: %s", strerror(-rc));
		return rc;
	}
	dirty_commit(vm);
	for (size_t w = 0; w < vm->mem.bitmap_words; w++) {
		uint64_t bits = bm[w];

		while (bits) {
			uint64_t pfn = w * 64 + (uint64_t)__builtin_ctzll(bits);

			bits &= bits - 1;
			memcpy(vm->mem.base + pfn * 4096, cache + pfn * 4096,
			       4096);
		}
	}
	rc = vm_state_load(vm, st->vmst.data, st->vmst.len, why, whylen);
	for (int i = 0; rc == 0 && i < st->nvcpu; i++)
		rc = vcpu_state_load(vm, st->vcpu[i].data, st->vcpu[i].len, why,
				     whylen);
	if (rc == 0)
		rc = savevm_load_device_state(h, st->dev.data, st->dev.len, why,
					      whylen);
	return rc;
}

/* How the secondary leaves COLO.  A partial checkpoint is always
 * dropped.  Asked to (failover) or with the primary gone, the SVM takes
 * over and runs; on a corrupt stream or the primary's END it stands by,
 * paused (see struct colo, standby). */
static void secondary_exit(struct colo *c, struct vm *vm, bool standby,
		const char *why)
{
	if (c->failover) {
		c->exit_reason = COLO_EXIT_REASON_REQUEST;
		vm_resume(vm, VM_PAUSE_COLO);
		return;
	}
	snprintf(c->error, sizeof(c->error), "%.250s", why);
	c->exit_reason = COLO_EXIT_REASON_ERROR;
	if (standby) {
		vm_pause(vm, VM_PAUSE_STANDBY);
		vm_resume(vm, VM_PAUSE_COLO);
		c->standby = true;
		log_error("COLO: %s; the secondary stands by, paused at its "
			  "last consistent state, until a failover", why);
		return;
	}
	log_error("COLO: %s; the secondary takes over", why);
	vm_resume(vm, VM_PAUSE_COLO);
}

static int send_msg(struct stream_writer *w, uint32_t msg, uint64_t v)
{
	return stream_write_colo_message(w, msg, v);
}

void colo_secondary_loop(struct helper *h, int fd, struct stream_reader *r)
{
	struct colo *c = &h->colo;
	struct stream_writer w;
	struct staged st;
	uint64_t *bm = calloc(h->vm.mem.bitmap_words, sizeof(uint64_t));
	bool in_ckpt = false, hold = false, standby = false;
	uint64_t seq = 0, done = 0, t_pause = 0, wall_ms = 0, bytes = 0;
	char why[256] = "";
	int rc;

	memset(&st, 0, sizeof(st));
	stream_writer_init(&w, fd);
	c->cache = malloc(h->vm.mem.size);
	rc = bm && c->cache ? 0 : -ENOMEM;
	if (rc == 0) {
		memcpy(c->cache, h->vm.mem.base, h->vm.mem.size);
		rc = dirty_enable(&h->vm, true);
	}
	if (rc == 0) {
		dirty_harvest(&h->vm, bm);	/* enabling marks all dirty */
		dirty_commit(&h->vm);
		rc = stream_write_header(&w);
	}
	if (rc == 0)
		rc = send_msg(&w, COLO_MESSAGE_CHECKPOINT_READY, 0);
	if (rc < 0)
		goto out;
	stream_reader_set_page_sink(r, c->cache, h->vm.mem.npages);
	c->active = true;
	c->last_rx_us = util_mono_us();
	read_loaded_delay_knob(c);
	vm_resume(&h->vm, VM_PAUSE_MIGRATE);	/* the stream is in */
	log_info("COLO: secondary running");
	while (!c->failover) {
		const uint8_t *body;
		uint32_t type, len, msg;
		uint64_t v;
		struct pollfd pf = { fd, POLLIN, 0 };

		/* Wake now and then to see a failover decided by colod. */
		if (poll(&pf, 1, 100) == 0)
			continue;
		rc = stream_read(r, &type, &body, &len);
		if (rc < 0) {
			/* A stream that ends (mid-record or not) means the
			 * primary is gone; one that lies means it is not. */
			standby = rc == -EPROTO && !r->truncated;
			break;
		}
		c->last_rx_us = util_mono_us();
		if (type == REC_END) {
			snprintf(why, sizeof(why), "the primary stopped COLO "
				 "and carries on alone");
			standby = true;
			break;
		}
		if (type == REC_HEARTBEAT) {
			rc = stream_write(&w, REC_HEARTBEAT, body, len);
			if (rc < 0)
				break;
			continue;
		}
		if (type == REC_COLO_MESSAGE &&
		    stream_parse_colo_message(body, len, &msg, &v) == 0) {
			if (msg == COLO_MESSAGE_CHECKPOINT_REQUEST) {
				t_pause = util_mono_us();
				wall_ms = util_now_us() / 1000;
				vm_pause(&h->vm, VM_PAUSE_COLO);
				hold = v & REQ_HOLD;
				seq = v & REQ_SEQ_MASK;
				c->last_trigger = REQ_TRIGGER(v);
				rc = send_msg(&w, COLO_MESSAGE_CHECKPOINT_REPLY, 0);
			} else if (msg == COLO_MESSAGE_VMSTATE_SEND) {
				memset(bm, 0, h->vm.mem.bitmap_words *
				       sizeof(uint64_t));
				st.n = 0;
				st.nvcpu = 0;
				tlv_buf_reset(&st.vmst);
				tlv_buf_reset(&st.dev);
				in_ckpt = true;
				bytes = 0;
			} else if (msg != COLO_MESSAGE_VMSTATE_SIZE) {
				rc = -EPROTO;
			}
		} else if (!in_ckpt) {
			rc = -EPROTO;
		} else if (type == REC_PAGE_DATA) {
			size_t before = st.n;

			rc = note_pages(&st, bm, body, len);
			bytes += len + (st.n - before) * STREAM_PAGE_SIZE;
		} else if (type == REC_VM_STATE) {
			rc = tlv_put_raw(&st.vmst, body, len);
		} else if (type == REC_VCPU_STATE && st.nvcpu < h->vm.nr_vcpus) {
			tlv_buf_reset(&st.vcpu[st.nvcpu]);
			rc = tlv_put_raw(&st.vcpu[st.nvcpu++], body, len);
		} else if (type == REC_DEVICE_STATE) {
			rc = tlv_put_raw(&st.dev, body, len);
		} else if (type == REC_CHECKPOINT_END &&
			   st.nvcpu == h->vm.nr_vcpus && st.vmst.len) {
			uint64_t t_apply = util_mono_us(), now;

			in_ckpt = false;
			rc = send_msg(&w, COLO_MESSAGE_VMSTATE_RECEIVED, 0);
			if (rc == 0)
				rc = apply(h, &st, bm, why, sizeof(why));
			/* Partners out of step cannot back a takeover: stand
			 * by (as for a corrupt stream). */
			if (c->loaded_delay_us)
				usleep(c->loaded_delay_us);
			if (rc == 0 && tell_phase(h, COLO_PHASE_LOADED, seq,
						  false, why, sizeof(why)) < 0)
				rc = -EPROTO;
			if (rc == 0 && hold)
				hold_vm(c, &h->vm);
			if (rc == 0)
				vm_resume(&h->vm, VM_PAUSE_COLO);
			if (rc == 0) {
				now = util_mono_us();
				c->st.checkpoints++;
				c->st.last_pause_us = now - t_pause;
				add_record(c, seq, wall_ms, now - t_pause, st.n,
					   bytes + st.vmst.len + st.dev.len,
					   now - t_apply, false);
				rc = send_msg(&w, COLO_MESSAGE_VMSTATE_LOADED, 0);
				done = seq;
			}
		} else {
			rc = -EPROTO;
		}
		if (rc < 0) {
			if (rc == -EPROTO && !why[0])
				snprintf(why, sizeof(why), "%s record out of "
					 "place or malformed",
					 stream_rec_name(type));
			standby = rc == -EPROTO;
			break;
		}
	}
out:
	stream_reader_set_page_sink(r, NULL, 0);
	c->active = false;
	dirty_enable(&h->vm, false);
	vm_resume(&h->vm, VM_PAUSE_MIGRATE);
	if (!why[0])
		snprintf(why, sizeof(why), "%s", r->err[0] ? r->err :
			 strerror(-rc));
	notify_exit(h, done, c->failover || !standby);
	secondary_exit(c, &h->vm, standby, why);
	free(bm);
	tlv_buf_fini(&st.vmst);
	tlv_buf_fini(&st.dev);
	for (int i = 0; i < VM_MAX_VCPUS; i++)
		tlv_buf_fini(&st.vcpu[i]);
}
