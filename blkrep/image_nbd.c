/* An image that is another NBD export, through libnbd: a quorum child
 * on another host.  libnbd handles are thread-safe, so the client
 * threads share one connection. */
#include "config.h"
#include <errno.h>
#include <libnbd.h>
#include <stdio.h>
#include <string.h>
#include "image.h"

bool image_is_nbd_uri(const char *path)
{
	return !strncmp(path, "nbd://", 6) || !strncmp(path, "nbd+unix://", 11);
}

int image_nbd_open(struct image *img, const char *uri, bool read_only,
		char *err, size_t errlen)
{
	int64_t size;

	memset(img, 0, sizeof(*img));
	img->fd = -1;
	img->nbd = nbd_create();
	if (!img->nbd || nbd_connect_uri(img->nbd, uri) < 0)
		goto fail;
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

int image_nbd_read(struct image *img, void *buf, size_t len, uint64_t off)
{
	return nbd_pread(img->nbd, buf, len, off, 0) < 0 ? fail_rc() : 0;
}

int image_nbd_write(struct image *img, const void *buf, size_t len,
		uint64_t off, bool fua)
{
	return nbd_pwrite(img->nbd, buf, len, off,
			  fua ? LIBNBD_CMD_FLAG_FUA : 0) < 0 ? fail_rc() : 0;
}

int image_nbd_flush(struct image *img)
{
	return nbd_flush(img->nbd, 0) < 0 ? fail_rc() : 0;
}

int image_nbd_trim(struct image *img, uint64_t len, uint64_t off)
{
	/* Advisory, as for a file: a server without TRIM keeps the data. */
	if (nbd_can_trim(img->nbd) != 1)
		return 0;
	return nbd_trim(img->nbd, len, off, 0) < 0 ? fail_rc() : 0;
}

int image_nbd_zero(struct image *img, uint64_t len, uint64_t off,
		bool no_hole, bool fua)
{
	uint32_t fl = (no_hole ? LIBNBD_CMD_FLAG_NO_HOLE : 0) |
		      (fua ? LIBNBD_CMD_FLAG_FUA : 0);

	if (nbd_can_zero(img->nbd) == 1)
		return nbd_zero(img->nbd, len, off, fl) < 0 ? fail_rc() : 0;
	/* No WRITE_ZEROES on that server: write them. */
	return image_write_zeros(img, len, off, fua);
}
