/* Whole-disk hashes for the COLO_BLKREP_TEST_VIEW_HASH knob.  FNV-1a is
 * enough to tell two disks apart in a test, and fast. */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include "view_hash.h"

#define CHUNK (1u << 20)

bool view_hash_wanted(void)
{
	return getenv("COLO_BLKREP_TEST_VIEW_HASH") != NULL;
}

static uint64_t fnv(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* Reads the disk chunk by chunk through read_fn. */
static uint64_t hash_with(int (*read_fn)(void *src, void *buf, size_t len,
					 uint64_t off),
			  void *src, uint64_t size, int *rc)
{
	uint8_t *buf = malloc(CHUNK);
	uint64_t h = 0xcbf29ce484222325ull;

	*rc = buf ? 0 : -ENOMEM;
	for (uint64_t off = 0; *rc == 0 && off < size; off += CHUNK) {
		size_t n = size - off < CHUNK ? (size_t)(size - off) : CHUNK;

		*rc = read_fn(src, buf, n, off);
		if (*rc == 0)
			h = fnv(h, buf, n);
	}
	free(buf);
	return h;
}

static int read_image(void *src, void *buf, size_t len, uint64_t off)
{
	return image_read(src, buf, len, off);
}

static int read_svm(void *src, void *buf, size_t len, uint64_t off)
{
	return sec_svm_read(src, buf, len, off);
}

uint64_t view_hash_image(struct image *img, int *rc)
{
	return hash_with(read_image, img, img->size, rc);
}

uint64_t view_hash_svm(struct secondary *s, int *rc)
{
	return hash_with(read_svm, s, s->disk->size, rc);
}
