/* An image that is another NBD export, through libnbd: a quorum child
 * on another host.  libnbd handles are thread-safe, so the client
 * threads share one connection (the quorum serialises them anyway). */
#include "config.h"
#include <errno.h>
#include <libnbd.h>
#include <stdio.h>
#include <string.h>
#include "image.h"
#include "log.h"
#include "util.h"

bool image_is_nbd_uri(const char *path)
{
	return !strncmp(path, "nbd://", 6) || !strncmp(path, "nbd+unix://", 11);
}

int image_nbd_connect(struct nbd_handle *h, const char *uri, int ms,
		char *err, size_t errlen)
{
	uint64_t deadline = util_mono_us() + (uint64_t)ms * 1000;

	if (ms <= 0)
		return nbd_connect_uri(h, uri) < 0 ? -1 : 0;
	if (nbd_aio_connect_uri(h, uri) < 0)
		return -1;
	while (nbd_aio_is_connecting(h) == 1) {
		uint64_t now = util_mono_us();

		if (now >= deadline) {
			snprintf(err, errlen, "%s: no handshake within %d ms",
				 uri, ms);
			return -ETIMEDOUT;
		}
		if (nbd_poll(h, (int)((deadline - now) / 1000) + 1) < 0)
			return -1;
	}
	return nbd_aio_is_ready(h) == 1 ? 0 : -1;
}

int image_nbd_open_within(struct image *img, const char *uri, bool read_only,
		int ms, char *err, size_t errlen)
{
	int64_t size;
	int rc;

	memset(img, 0, sizeof(*img));
	img->fd = -1;
	img->nbd = nbd_create();
	if (!img->nbd)
		goto fail;
	rc = image_nbd_connect(img->nbd, uri, ms, err, errlen);
	if (rc == -ETIMEDOUT) {
		image_nbd_close(img);
		return rc;
	}
	if (rc < 0)
		goto fail;
	img->nbd_timeout_ms = ms;
	size = nbd_get_size(img->nbd);
	if (size < 0)
		goto fail;
	if (!read_only && nbd_is_read_only(img->nbd) == 1) {
		snprintf(err, errlen, "%s: the export is read-only", uri);
		image_nbd_close(img);
		return -EROFS;
	}
	img->size = (uint64_t)size;
	img->read_only = read_only;
	return 0;
fail:
	snprintf(err, errlen, "%s: %s", uri, nbd_get_error());
	image_nbd_close(img);
	return -EIO;
}

int image_nbd_open(struct image *img, const char *uri, bool read_only,
		char *err, size_t errlen)
{
	return image_nbd_open_within(img, uri, read_only, 0, err, errlen);
}

void image_nbd_close(struct image *img)
{
	if (img->nbd) {
		nbd_shutdown(img->nbd, 0);
		nbd_close(img->nbd);
	}
	img->nbd = NULL;
}

/* libnbd reports errno too; EIO when it has none. */
static int fail_rc(void)
{
	int e = nbd_get_errno();

	return e > 0 ? -e : -EIO;
}

/* The longest one call drives the connection before it looks at the
 * clock again. */
#define POLL_SLICE_MS 100
/* A flush may write back a large cache: it gets this many timeouts. */
#define FLUSH_TIMEOUTS 10

/* A child given up is closed at once: its command still in flight must
 * not land in a buffer the quorum has freed, nor hold our exit. */
static int give_up(struct image *img)
{
	log_warn("NBD child: no reply in time: giving it up");
	nbd_close(img->nbd);
	img->nbd = NULL;
	img->nbd_lost = true;
	return -ETIMEDOUT;
}

/* Waits for one command, at most img->nbd_timeout_ms: a server whose
 * host vanished (no FIN, no RST) would otherwise hold the quorum's every
 * request until TCP gives up, minutes later. */
static int finish_within(struct image *img, int64_t cookie, int ms)
{
	uint64_t deadline = util_mono_us() + (uint64_t)ms * 1000;

	if (cookie < 0)
		return fail_rc();
	for (;;) {
		int done = nbd_aio_command_completed(img->nbd, (uint64_t)cookie);
		uint64_t now = util_mono_us();

		if (done == 1)
			return 0;
		if (done < 0)
			return fail_rc();
		if (ms && now >= deadline)
			return give_up(img);
		if (nbd_poll(img->nbd, POLL_SLICE_MS) < 0)
			return nbd_aio_command_completed(img->nbd,
					(uint64_t)cookie) == 1 ? 0 : fail_rc();
	}
}

static int finish(struct image *img, int64_t cookie)
{
	return finish_within(img, cookie, img->nbd_timeout_ms);
}

int image_nbd_read(struct image *img, void *buf, size_t len, uint64_t off)
{
	if (img->nbd_lost)
		return -EIO;
	return finish(img, nbd_aio_pread(img->nbd, buf, len, off,
					 NBD_NULL_COMPLETION, 0));
}

int image_nbd_write(struct image *img, const void *buf, size_t len,
		uint64_t off, bool fua)
{
	if (img->nbd_lost)
		return -EIO;
	return finish(img, nbd_aio_pwrite(img->nbd, buf, len, off,
					  NBD_NULL_COMPLETION,
					  fua ? LIBNBD_CMD_FLAG_FUA : 0));
}

int image_nbd_flush(struct image *img)
{
	if (img->nbd_lost)
		return -EIO;
	return finish_within(img, nbd_aio_flush(img->nbd, NBD_NULL_COMPLETION, 0),
			     img->nbd_timeout_ms * FLUSH_TIMEOUTS);
}

int image_nbd_trim(struct image *img, uint64_t len, uint64_t off)
{
	if (img->nbd_lost)
		return -EIO;
	/* Advisory, as for a file: a server without TRIM keeps the data. */
	if (nbd_can_trim(img->nbd) != 1)
		return 0;
	return finish(img, nbd_aio_trim(img->nbd, len, off,
					NBD_NULL_COMPLETION, 0));
}

int image_nbd_zero(struct image *img, uint64_t len, uint64_t off,
		bool no_hole, bool fua)
{
	uint32_t fl = (no_hole ? LIBNBD_CMD_FLAG_NO_HOLE : 0) |
		      (fua ? LIBNBD_CMD_FLAG_FUA : 0);

	if (img->nbd_lost)
		return -EIO;
	if (nbd_can_zero(img->nbd) == 1)
		return finish(img, nbd_aio_zero(img->nbd, len, off,
						NBD_NULL_COMPLETION, fl));
	/* No WRITE_ZEROES on that server: write them. */
	return image_write_zeros(img, len, off, fua);
}
