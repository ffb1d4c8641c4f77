/* Writes to the secondary that are on their way (replica_window.h). */
#include "config.h"
#include <stdlib.h>
#include "replica_window.h"
#include "util.h"

/* A slot's buffer larger than this is not kept for reuse: a rare huge
 * request must not pin its size in every slot. */
#define SLOT_KEEP (4u << 20)

static void release(struct replica_slot *s)
{
	s->busy = false;
	s->r->inflight--;
	s->r->inflight_bytes -= s->len;
}

/* libnbd's completion callback: runs inside our own libnbd calls, so
 * under the replica's lock.  Returning 1 retires the command.  The
 * buffer stays in the slot: it may be the caller's payload still. */
static int slot_done(void *opaque, int *error)
{
	struct replica_slot *s = opaque;
	struct replica *r = s->r;

	if (!s->busy)
		return 1;	/* released already (window_reset) */
	if (*error && !r->remote_err)
		r->remote_err = *error;
	/* A resync copy the secondary has: its block is done. */
	if (!*error && s->clears)
		dirtymap_clear(&r->dirty, s->clear_block);
	release(s);
	return 1;
}

static bool overlaps(const struct replica_slot *s, uint64_t off,
		     uint64_t len)
{
	return s->busy && off < s->off + s->len && s->off < off + len;
}

static bool fits(struct replica *r, uint64_t off, uint64_t len)
{
	if (r->inflight == REPLICA_WINDOW ||
	    (r->inflight && r->inflight_bytes + len > REPLICA_WINDOW_BYTES))
		return false;
	for (int i = 0; i < REPLICA_WINDOW; i++)
		if (overlaps(&r->slot[i], off, len))
			return false;
	return true;
}

static bool all_answered(struct replica *r, uint64_t off, uint64_t len)
{
	(void)off;
	(void)len;
	return r->inflight == 0;
}

/* Ready is libnbd's idle state: no command half sent and none queued. */
static bool all_sent(struct replica *r, uint64_t off, uint64_t len)
{
	(void)off;
	(void)len;
	return nbd_aio_is_ready(r->h) == 1;
}

/* Runs libnbd until done(r, off, len), at most r->timeout_ms: a
 * secondary whose host vanished must not hold the guest's writes until
 * TCP gives up.  0, or -1 with *why set. */
static int poll_until(struct replica *r,
		      bool (*done)(struct replica *, uint64_t, uint64_t),
		      uint64_t off, uint64_t len, const char **why)
{
	uint64_t deadline = util_mono_us() + (uint64_t)r->timeout_ms * 1000;

	while (!done(r, off, len)) {
		uint64_t now = util_mono_us();

		if (now >= deadline) {
			*why = "no reply in time";
			return -1;
		}
		if (nbd_poll(r->h, (int)((deadline - now) / 1000) + 1) < 0) {
			*why = nbd_get_error();
			return -1;
		}
	}
	return 0;
}

struct replica_slot *window_claim(struct replica *r, uint64_t off,
		uint64_t len, const char **why)
{
	if (poll_until(r, fits, off, len, why) < 0)
		return NULL;
	for (int i = 0; i < REPLICA_WINDOW; i++) {
		struct replica_slot *s = &r->slot[i];

		if (!s->busy) {
			if (s->cap > SLOT_KEEP) {
				free(s->buf);
				s->buf = NULL;
				s->cap = 0;
			}
			s->r = r;
			s->off = off;
			s->len = len;
			s->clears = false;
			s->busy = true;
			r->inflight++;
			r->inflight_bytes += len;
			return s;
		}
	}
	*why = "no free slot";	/* fits() said there was one */
	return NULL;
}

int window_send(struct replica *r, struct replica_slot *s)
{
	nbd_completion_callback cb = { .callback = slot_done, .user_data = s };

	if (nbd_aio_pwrite(r->h, s->buf, s->len, s->off, cb, 0) >= 0)
		return 0;
	/* Not issued, so libnbd never calls back: released here, its
	 * buffer (the caller's payload) kept. */
	window_unclaim(r, s);
	return -1;
}

void window_unclaim(struct replica *r, struct replica_slot *s)
{
	(void)r;
	if (s->busy)
		release(s);
}

int window_push(struct replica *r, const char **why)
{
	return poll_until(r, all_sent, 0, 0, why);
}

int window_drain(struct replica *r, const char **why)
{
	return poll_until(r, all_answered, 0, 0, why);
}

void window_reset(struct replica *r)
{
	for (int i = 0; i < REPLICA_WINDOW; i++)
		r->slot[i].busy = false;
	r->inflight = 0;
	r->inflight_bytes = 0;
}

void window_free(struct replica *r)
{
	window_reset(r);
	for (int i = 0; i < REPLICA_WINDOW; i++) {
		free(r->slot[i].buf);
		r->slot[i].buf = NULL;
		r->slot[i].cap = 0;
	}
}
