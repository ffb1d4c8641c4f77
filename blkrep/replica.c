/* Writes mirrored to the secondary blkrep over NBD. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "replica.h"
#include "replica_window.h"
#include "util.h"

static void note_unflushed(struct replica *r, uint64_t off, uint64_t len)
{
	if (!r->unflushed || !len)
		return;
	for (uint64_t b = off / DIRTY_BLOCK; b <= (off + len - 1) / DIRTY_BLOCK;
	     b++)
		r->unflushed[b / 8] |= (uint8_t)(1u << (b % 8));
	r->any_unflushed = true;
}

static void flushed(struct replica *r)
{
	if (r->any_unflushed)
		memset(r->unflushed, 0, (r->dirty.nblocks + 7) / 8);
	r->any_unflushed = false;
}

/* Closes the connection; what the secondary took but never flushed is
 * marked, since its host may lose it.  Lock held. */
static void drop_secondary(struct replica *r)
{
	nbd_close(r->h);
	r->h = NULL;
	window_reset(r);
	r->remote_err = 0;
	for (uint64_t b = 0; r->any_unflushed && b < r->dirty.nblocks; b++)
		if (r->unflushed[b / 8] & (1u << (b % 8)))
			dirtymap_mark(&r->dirty, b * DIRTY_BLOCK, 1);
	flushed(r);
}

/* Called with the lock held after a failed command. */
static void degrade(struct replica *r, const char *what, const char *why)
{
	log_warn("secondary %s failed (%s: %s): going on alone, degraded; "
		 "the blocks it misses are tracked for a resync", r->uri,
		 what, why ? why : nbd_get_error());
	drop_secondary(r);
}

/* A window write the secondary failed: the secondary is left, and the
 * write, unflushed, goes to the map with the others.  Lock held. */
static void settle(struct replica *r)
{
	if (r->h && r->remote_err)
		degrade(r, "write", strerror(r->remote_err));
}

/* Before a command that must follow every write in the window (a flush
 * covers only writes already answered; a synchronous write or a resync
 * copy must not race one): the window emptied.  Lock held. */
static void quiesce(struct replica *r)
{
	const char *why;

	if (r->h && window_drain(r, &why) < 0)
		degrade(r, "write", why);
	settle(r);
}

/* Waits for one command, at most r->timeout_ms: a secondary whose host
 * vanished (no FIN, no RST) must not hold the guest's writes until TCP
 * gives up, minutes later.  0, or -1 after degrading. */
static int wait_cmd(struct replica *r, int64_t cookie, const char *what)
{
	uint64_t deadline = util_mono_us() + (uint64_t)r->timeout_ms * 1000;
	int done;

	if (cookie < 0) {
		degrade(r, what, NULL);
		return -1;
	}
	while ((done = nbd_aio_command_completed(r->h, (uint64_t)cookie)) == 0) {
		uint64_t now = util_mono_us();

		if (now >= deadline) {
			degrade(r, what, "no reply in time");
			return -1;
		}
		if (nbd_poll(r->h, (int)((deadline - now) / 1000) + 1) < 0)
			break;
	}
	if (done != 1) {
		degrade(r, what, NULL);
		return -1;
	}
	return 0;
}

/* Connects to r->uri, within r->timeout_ms (the lock may be held: a
 * host that is down must not hold the guest's writes until TCP gives
 * up), and checks the size; called with the lock held or before other
 * threads exist. */
static int connect_secondary(struct replica *r, uint64_t size, char *err,
		size_t errlen)
{
	struct nbd_handle *h = nbd_create();
	int64_t their;
	int rc = h ? image_nbd_connect(h, r->uri, r->timeout_ms, err, errlen) :
		 -1;

	if (rc < 0) {
		if (rc != -ETIMEDOUT)
			snprintf(err, errlen, "secondary %s: %s", r->uri,
				 nbd_get_error());
		if (h)
			nbd_close(h);
		return -EIO;
	}
	their = nbd_get_size(h);
	if (their != (int64_t)size) {
		snprintf(err, errlen, "secondary %s has %lld bytes, this image "
			 "%llu: they must match", r->uri, (long long)their,
			 (unsigned long long)size);
		nbd_close(h);
		return -EINVAL;
	}
	r->h = h;
	return 0;
}

int replica_reconnect(struct replica *r, uint64_t size, char *err,
		size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&r->lock);
	if (!r->uri[0]) {
		snprintf(err, errlen, "not replicating: no secondary given");
		rc = -ENOTCONN;
	} else if (!r->h) {
		rc = connect_secondary(r, size, err, errlen);
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* A window slot for len bytes at off, or NULL once the secondary is
 * gone or does not free one in time (then degraded).  Lock held. */
static struct replica_slot *claim(struct replica *r, uint64_t off,
				  size_t len, const char *what)
{
	struct replica_slot *s;
	const char *why = NULL;

	settle(r);
	if (!r->h)
		return NULL;
	s = window_claim(r, off, len, &why);
	if (!s)
		degrade(r, what, why);
	return s;
}

/* Sends a claimed slot; from then on its range counts as unflushed, so
 * that losing the secondary marks it.  0, or -1 (degraded).  Lock
 * held. */
static int send_claimed(struct replica *r, struct replica_slot *s,
			const char *what)
{
	if (window_send(r, s) < 0) {
		degrade(r, what, NULL);
		return -1;
	}
	note_unflushed(r, s->off, s->len);
	return 0;
}

/* The block read into a claimed slot's buffer; lock held. */
static int read_into_slot(struct replica_slot *s, struct image *img,
			  uint64_t off, size_t len)
{
	if (s->cap < len) {
		uint8_t *b = realloc(s->buf, len);

		if (!b)
			return -ENOMEM;
		s->buf = b;
		s->cap = len;
	}
	return image_read(img, s->buf, len, off);
}

int replica_copy_block(struct replica *r, struct image *img, uint64_t off,
		size_t len, uint64_t block)
{
	struct replica_slot *s = NULL;
	const char *why = NULL;
	int rc = 0;

	pthread_mutex_lock(&r->lock);
	s = claim(r, off, len, "resync write");
	if (!s)
		rc = -EIO;
	if (rc == 0 && (rc = read_into_slot(s, img, off, len)) < 0)
		window_unclaim(r, s);
	if (rc == 0) {
		s->clears = true;
		s->clear_block = block;
		if (send_claimed(r, s, "resync write") < 0)
			rc = -EIO;
	}
	if (rc == 0 && window_push(r, &why) < 0) {
		degrade(r, "resync write", why);
		rc = -EIO;
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int replica_flush_strict(struct replica *r)
{
	int rc = 0;

	pthread_mutex_lock(&r->lock);
	quiesce(r);
	if (!r->h) {
		rc = -EIO;
	} else if (wait_cmd(r, nbd_aio_flush(r->h, NBD_NULL_COMPLETION, 0),
			    "flush") < 0) {
		rc = -EIO;
	} else {
		flushed(r);
	}
	pthread_mutex_unlock(&r->lock);
	return rc;
}

void replica_init_idle(struct replica *r, uint64_t size,
		const char *dirty_path)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->dirty.fd = -1;
	r->timeout_ms = REPLICA_TIMEOUT_MS;
	r->size = size;
	r->dirty_path = dirty_path;
}

/* DIRTY_MAP.open exists while a blkrep keeps the map: one left behind
 * means the last one died, maybe between a local write and its mark, so
 * the map may lack blocks and the whole disk must count as missed. */
static void marker_path(const struct replica *r, char *buf, size_t len)
{
	snprintf(buf, len, "%s.open", r->dirty_path);
}

/* At open: a marker left behind makes every block count as missed. */
static int check_marker(struct replica *r, char *err, size_t errlen)
{
	char path[4200];

	marker_path(r, path, sizeof(path));
	if (access(path, F_OK) < 0)
		return 0;
	log_warn("%s: the last run did not stop cleanly; the secondary may "
		 "lack any block: all of them are marked", path);
	r->marker_set = true;
	if (dirtymap_mark(&r->dirty, 0, r->size) < 0) {
		snprintf(err, errlen, "dirty map %s: cannot mark it",
			 r->dirty_path);
		return -EIO;
	}
	return 0;
}

/* The marker, on disk; 0 or -EIO (logged). */
static int create_marker(const struct replica *r)
{
	char path[4200];
	int fd, rc;

	marker_path(r, path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	rc = fd < 0 || fsync(fd) < 0 ? -errno : 0;
	if (fd >= 0)
		close(fd);
	if (rc == 0)
		rc = util_sync_parent(path);
	if (rc < 0)
		log_error("%s: %s", path, strerror(-rc));
	return rc < 0 ? -EIO : 0;
}

/* Before the first local change the map must account for: lock held.
 * Made durable, or the change is refused. */
static int ensure_marker(struct replica *r)
{
	if (!r->map_open || r->marker_set)
		return 0;
	if (create_marker(r) < 0)
		return -EIO;
	r->marker_set = true;
	return 0;
}

/* Whether a local change may be made: not after replica_close, and
 * only once the marker is durable.  Lock held. */
static int may_change(struct replica *r)
{
	return r->closed ? -ESHUTDOWN : ensure_marker(r);
}

static int prepare_change(struct replica *r)
{
	int rc;

	pthread_mutex_lock(&r->lock);
	rc = may_change(r);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* The map synced and closed, and with it the marker; lock held. */
static void close_map(struct replica *r)
{
	char path[4200];

	if (r->map_open) {
		dirtymap_sync(&r->dirty);
		marker_path(r, path, sizeof(path));
		unlink(path);
		dirtymap_close(&r->dirty);
	}
	r->marker_set = false;
	free(r->unflushed);
	r->unflushed = NULL;
	r->map_open = false;
}

static int open_map(struct replica *r, char *err, size_t errlen)
{
	int rc;

	if (r->map_open)
		return 0;
	rc = dirtymap_open(&r->dirty, r->dirty_path, r->size, err, errlen);
	if (rc < 0)
		return rc;
	rc = check_marker(r, err, errlen);
	if (rc < 0) {
		dirtymap_close(&r->dirty);
		return rc;
	}
	r->unflushed = calloc((r->dirty.nblocks + 7) / 8 + 1, 1);
	if (!r->unflushed) {
		dirtymap_close(&r->dirty);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r->map_open = true;
	if (dirtymap_count(&r->dirty))
		log_warn("the secondary missed %llu blocks before this start "
			 "(%s); they need a resync",
			 (unsigned long long)dirtymap_count(&r->dirty),
			 r->dirty_path);
	return 0;
}

int replica_track_existing(struct replica *r, char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&r->lock);
	if (access(r->dirty_path, F_OK) == 0)
		rc = open_map(r, err, errlen);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

uint64_t replica_missed(struct replica *r)
{
	uint64_t n;

	pthread_mutex_lock(&r->lock);
	settle(r);	/* a window write the secondary failed counts now */
	n = r->map_open ? dirtymap_count(&r->dirty) : 0;
	pthread_mutex_unlock(&r->lock);
	return n;
}

int replica_attach(struct replica *r, const char *uri, char *err,
		size_t errlen)
{
	char old[sizeof(r->uri)];
	bool had_map = r->map_open;
	int rc;

	pthread_mutex_lock(&r->lock);
	rc = open_map(r, err, errlen);
	/* A new secondary replaces the old one: what the old one lacks
	 * stays in the map, for a resume to it. */
	if (rc == 0 && r->h)
		drop_secondary(r);
	if (rc == 0) {
		memcpy(old, r->uri, sizeof(old));
		snprintf(r->uri, sizeof(r->uri), "%s", uri);
		rc = connect_secondary(r, r->size, err, errlen);
		/* Unreachable: as before (idle stays idle, not tracking). */
		if (rc < 0)
			memcpy(r->uri, old, sizeof(old));
		if (rc < 0 && !had_map)
			close_map(r);
	}
	pthread_mutex_unlock(&r->lock);
	if (rc == 0)
		log_info("replicating to %s", uri);
	return rc;
}

int replica_open(struct replica *r, const char *uri, uint64_t size,
		const char *dirty_path, char *err, size_t errlen)
{
	replica_init_idle(r, size, dirty_path);
	return replica_attach(r, uri, err, errlen);
}

bool replica_active(struct replica *r)
{
	bool a;

	pthread_mutex_lock(&r->lock);
	a = r->uri[0] != 0;
	pthread_mutex_unlock(&r->lock);
	return a;
}

/* A clean stop: what the secondary took but never flushed is marked
 * (no flush first: a secondary that vanished would hold the stop for
 * the whole peer timeout, past the grace colod gives), the map synced,
 * and only then the marker gone.  A command that comes later is
 * refused, not written untracked. */
void replica_close(struct replica *r)
{
	pthread_mutex_lock(&r->lock);
	r->closed = true;
	if (r->h)
		drop_secondary(r);
	window_free(r);
	close_map(r);
	pthread_mutex_unlock(&r->lock);
}

bool replica_degraded(struct replica *r)
{
	bool d;

	pthread_mutex_lock(&r->lock);
	settle(r);
	d = r->h == NULL;
	pthread_mutex_unlock(&r->lock);
	return d;
}

enum op { OP_ZERO, OP_TRIM, OP_FLUSH };

static int mirror(struct replica *r, enum op op, uint64_t len, uint64_t off,
		bool fua)
{
	uint32_t fl = fua ? LIBNBD_CMD_FLAG_FUA : 0;
	int rc = -1;

	pthread_mutex_lock(&r->lock);
	if (r->closed) {
		/* The local change is made and cannot be marked any more:
		 * the marker again, so the next start counts everything. */
		if (op != OP_FLUSH && access(r->dirty_path, F_OK) == 0)
			create_marker(r);
		pthread_mutex_unlock(&r->lock);
		return 0;
	}
	quiesce(r);
	if (r->h) {
		int64_t cookie = -1;

		switch (op) {
		case OP_ZERO:
			cookie = nbd_aio_zero(r->h, len, off,
					      NBD_NULL_COMPLETION, fl);
			break;
		case OP_TRIM:
			cookie = nbd_aio_trim(r->h, len, off,
					      NBD_NULL_COMPLETION, 0);
			break;
		case OP_FLUSH:
			cookie = nbd_aio_flush(r->h, NBD_NULL_COMPLETION, 0);
			break;
		}
		rc = wait_cmd(r, cookie, op == OP_FLUSH ? "flush" :
			      op == OP_ZERO ? "zero" : "trim");
		if (rc == 0 && op == OP_FLUSH)
			flushed(r);
		else if (rc == 0 && !fua)
			note_unflushed(r, off, len);
	}
	/* Not on the secondary: on record for the resync instead. */
	if (rc < 0 && op != OP_FLUSH && r->map_open)
		rc = dirtymap_mark(&r->dirty, off, len);
	else
		rc = 0;
	pthread_mutex_unlock(&r->lock);
	return rc;
}

int replica_zero_both(struct replica *r, struct image *img, uint64_t len,
		uint64_t off, bool no_hole, bool fua)
{
	int rc;

	/* Nothing to change (NBD lets a client ask for that); libnbd
	 * refuses such a command, which would cost the secondary. */
	if (len == 0)
		return 0;
	rc = prepare_change(r);
	if (rc == 0)
		rc = image_zero(img, len, off, no_hole, fua);
	return rc < 0 ? rc : mirror(r, OP_ZERO, len, off, fua);
}

int replica_trim_both(struct replica *r, struct image *img, uint64_t len,
		uint64_t off, bool fua)
{
	int rc;

	if (len == 0)	/* as in replica_zero_both */
		return 0;
	rc = prepare_change(r);
	if (rc == 0)
		rc = image_trim(img, len, off);
	if (rc == 0 && fua)
		rc = image_flush(img);
	return rc < 0 ? rc : mirror(r, OP_TRIM, len, off, false);
}

int replica_flush(struct replica *r)
{
	return mirror(r, OP_FLUSH, 0, 0, false);
}

/* The secondary's copy travels while the local one is written: the
 * write costs the slower of the two, not their sum.  All under the lock,
 * so that a resync copy cannot slip between them. */
int replica_write_both(struct replica *r, struct image *img, const void *buf,
		size_t len, uint64_t off, bool fua)
{
	uint32_t fl = fua ? LIBNBD_CMD_FLAG_FUA : 0;
	int64_t cookie = -1;
	bool remote_ok = false;
	int rc;

	if (len == 0)	/* as in replica_zero_both */
		return 0;
	pthread_mutex_lock(&r->lock);
	if ((rc = may_change(r)) < 0) {
		pthread_mutex_unlock(&r->lock);
		return rc;
	}
	quiesce(r);
	if (r->h)
		cookie = nbd_aio_pwrite(r->h, buf, len, off,
					NBD_NULL_COMPLETION, fl);
	rc = image_write(img, buf, len, off, fua);
	if (r->h)
		remote_ok = wait_cmd(r, cookie, "write") == 0;
	if (remote_ok && !fua)
		note_unflushed(r, off, len);
	/* Marked before the lock goes: a resync must not pass the block
	 * by in between. */
	if (rc == 0 && !remote_ok && r->map_open)
		rc = dirtymap_mark(&r->dirty, off, len);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* The caller's buffer and the slot's spare change places (twice: back
 * again). */
static void swap_buffers(struct replica_slot *s, uint8_t **bufp,
			 size_t *capp)
{
	uint8_t *b = s->buf;
	size_t cap = s->cap;

	s->buf = *bufp;
	s->cap = *capp;
	*bufp = b;
	*capp = cap;
}

/* Claims a window slot and sends the write from it; the slot takes the
 * caller's buffer and leaves its spare one in return.  NULL (degraded)
 * when the secondary is gone or does not answer.  Lock held. */
static struct replica_slot *send_windowed(struct replica *r, uint8_t **bufp,
		size_t *capp, size_t len, uint64_t off)
{
	struct replica_slot *s = claim(r, off, len, "write");

	if (!s)
		return NULL;
	swap_buffers(s, bufp, capp);
	if (send_claimed(r, s, "write") < 0) {
		/* The payload goes back to the caller, for the local copy. */
		swap_buffers(s, bufp, capp);
		return NULL;
	}
	return s;
}

int replica_write_pass(struct replica *r, struct image *img, uint8_t **bufp,
		size_t *capp, size_t len, uint64_t off, bool fua)
{
	struct replica_slot *s;
	const char *why = NULL;
	int rc;

	if (len == 0)	/* as in replica_zero_both */
		return 0;
	if (fua)
		return replica_write_both(r, img, *bufp, len, off, true);
	pthread_mutex_lock(&r->lock);
	if ((rc = may_change(r)) < 0) {
		pthread_mutex_unlock(&r->lock);
		return rc;
	}
	s = send_windowed(r, bufp, capp, len, off);
	/* Meanwhile libnbd has put on the wire what the socket took. */
	rc = image_write(img, s ? s->buf : *bufp, len, off, false);
	if (s && window_push(r, &why) < 0)
		degrade(r, "write", why);
	settle(r);
	/* Degraded before or now: on record for the resync (a write the
	 * window held is marked already; twice does no harm). */
	if (rc == 0 && !r->h && r->map_open)
		rc = dirtymap_mark(&r->dirty, off, len);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

void replica_drain(struct replica *r)
{
	pthread_mutex_lock(&r->lock);
	quiesce(r);
	pthread_mutex_unlock(&r->lock);
}
