/* A raw image exported by blkrep: a file, or another NBD export
 * (nbd:// or nbd+unix:// URI; image_nbd.c), as a quorum child. */
#ifndef COLO_BLKREP_IMAGE_H
#define COLO_BLKREP_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nbd_handle;

struct image {
	int fd;			/* a file, or -1 */
	struct nbd_handle *nbd;	/* ...or an NBD export */
	uint64_t size;
	bool read_only;
	/* An NBD export: how long one command may wait for its reply (0:
	 * as long as it takes); one that did not reply in time leaves the
	 * export lost, its later commands failing at once. */
	int nbd_timeout_ms;
	bool nbd_lost;
};

/* image_nbd.c: the NBD side of the calls below. */
/* Connects h to uri and shakes hands within ms (0: as long as it
 * takes): 0, -ETIMEDOUT with err set, or -1 (nbd_get_error says). */
int image_nbd_connect(struct nbd_handle *h, const char *uri, int ms,
		char *err, size_t errlen);
bool image_is_nbd_uri(const char *path);
int image_nbd_open(struct image *img, const char *uri, bool read_only,
		char *err, size_t errlen);
/* The same, giving up when the connection and handshake take longer
 * than ms (0: no limit) with -ETIMEDOUT; ms also becomes the export's
 * nbd_timeout_ms. */
int image_nbd_open_within(struct image *img, const char *uri, bool read_only,
		int ms, char *err, size_t errlen);
void image_nbd_close(struct image *img);
int image_nbd_read(struct image *img, void *buf, size_t len, uint64_t off);
int image_nbd_write(struct image *img, const void *buf, size_t len,
		uint64_t off, bool fua);
int image_nbd_flush(struct image *img);
int image_nbd_trim(struct image *img, uint64_t len, uint64_t off);
int image_nbd_zero(struct image *img, uint64_t len, uint64_t off,
		bool no_hole, bool fua);

int image_open(struct image *img, const char *path, bool read_only,
		char *err, size_t errlen);
/* The same; an NBD export must connect within nbd_ms (0: no limit),
 * which then also bounds each of its commands (nbd_timeout_ms). */
int image_open_within(struct image *img, const char *path, bool read_only,
		int nbd_ms, char *err, size_t errlen);
void image_close(struct image *img);
/* Each returns 0 or -errno. */
int image_read(struct image *img, void *buf, size_t len, uint64_t off);
int image_write(struct image *img, const void *buf, size_t len,
		uint64_t off, bool fua);
int image_flush(struct image *img);
/* Discards the range (reads may then return zeros or the old data). */
int image_trim(struct image *img, uint64_t len, uint64_t off);
/* Writes zeros over the range, for when nothing better is offered. */
int image_write_zeros(struct image *img, uint64_t len, uint64_t off,
		bool fua);
/* Makes the range read as zeros, leaving holes unless no_hole. */
int image_zero(struct image *img, uint64_t len, uint64_t off, bool no_hole,
		bool fua);

#endif
