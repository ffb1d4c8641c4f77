/* Raw images: the bytes of the disk, one to one, in a file or (through
 * image_nbd.c) in another NBD export. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "image.h"

int image_open_within(struct image *img, const char *path, bool read_only,
		int nbd_ms, char *err, size_t errlen)
{
	struct stat st;

	if (image_is_nbd_uri(path))
		return image_nbd_open_within(img, path, read_only, nbd_ms, err,
					     errlen);
	memset(img, 0, sizeof(*img));
	img->fd = open(path, (read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC);
	if (img->fd < 0 || fstat(img->fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (img->fd >= 0)
			close(img->fd);
		img->fd = -1;
		return -errno;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(img->fd);
		img->fd = -1;
		return -EINVAL;
	}
	img->size = (uint64_t)st.st_size;
	img->read_only = read_only;
	return 0;
}

int image_open(struct image *img, const char *path, bool read_only,
		char *err, size_t errlen)
{
	return image_open_within(img, path, read_only, 0, err, errlen);
}

void image_close(struct image *img)
{
	if (img->nbd)
		image_nbd_close(img);
	if (img->fd >= 0)
		close(img->fd);
	img->fd = -1;
}

int image_read(struct image *img, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	if (img->nbd)
		return image_nbd_read(img, buf, len, off);
	while (done < len) {
		ssize_t n = pread(img->fd, (char *)buf + done, len - done,
				  (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0) {	/* the file shrank under us: zeros */
			memset((char *)buf + done, 0, len - done);
			break;
		}
		done += (size_t)n;
	}
	return 0;
}

int image_write(struct image *img, const void *buf, size_t len,
		uint64_t off, bool fua)
{
	size_t done = 0;

	if (img->nbd)
		return image_nbd_write(img, buf, len, off, fua);
	while (done < len) {
		ssize_t n = pwrite(img->fd, (const char *)buf + done,
				   len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		done += (size_t)n;
	}
	return fua ? image_flush(img) : 0;
}

int image_flush(struct image *img)
{
	if (img->nbd)
		return image_nbd_flush(img);
	return fdatasync(img->fd) < 0 ? -errno : 0;
}

int image_trim(struct image *img, uint64_t len, uint64_t off)
{
	if (img->nbd)
		return image_nbd_trim(img, len, off);
	/* Advisory: a file system that cannot punch holes keeps the data. */
	if (len && fallocate(img->fd, FALLOC_FL_PUNCH_HOLE |
			     FALLOC_FL_KEEP_SIZE, (off_t)off, (off_t)len) < 0 &&
	    errno != EOPNOTSUPP)
		return -errno;
	return 0;
}

int image_zero(struct image *img, uint64_t len, uint64_t off, bool no_hole,
		bool fua)
{
	int mode = no_hole ? FALLOC_FL_ZERO_RANGE :
		   FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;

	if (len == 0)
		return 0;
	if (img->nbd)
		return image_nbd_zero(img, len, off, no_hole, fua);
	if (fallocate(img->fd, mode, (off_t)off, (off_t)len) == 0)
		return fua ? image_flush(img) : 0;
	if (errno != EOPNOTSUPP)
		return -errno;
	return image_write_zeros(img, len, off, fua);	/* no help there */
}

int image_write_zeros(struct image *img, uint64_t len, uint64_t off,
		bool fua)
{
	static const uint8_t zeros[65536];

	while (len) {
		size_t n = len < sizeof(zeros) ? (size_t)len : sizeof(zeros);
		int rc = image_write(img, zeros, n, off, false);

		if (rc < 0)
			return rc;
		off += n;
		len -= n;
	}
	return fua ? image_flush(img) : 0;
}
