/* A raw image file exported by blkrep. */
#ifndef COLO_BLKREP_IMAGE_H
#define COLO_BLKREP_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct image {
	int fd;
	uint64_t size;
	bool read_only;
};

int image_open(struct image *img, const char *path, bool read_only,
		char *err, size_t errlen);
void image_close(struct image *img);
/* Each returns 0 or -errno. */
int image_read(struct image *img, void *buf, size_t len, uint64_t off);
int image_write(struct image *img, const void *buf, size_t len,
		uint64_t off, bool fua);
int image_flush(struct image *img);
/* Discards the range (reads may then return zeros or the old data). */
int image_trim(struct image *img, uint64_t len, uint64_t off);
/* Makes the range read as zeros, leaving holes unless no_hole. */
int image_zero(struct image *img, uint64_t len, uint64_t off, bool no_hole,
		bool fua);

#endif
