/* Random writes against an NBD export (libnbd, DEPTH in flight) or a
 * local file (pwrite, one at a time): operations per second and the
 * latency of each write, p50/p99/max, so that a replicated export can be
 * set beside the plain file it stands on.  Offsets are drawn from a
 * fixed seed, the same sequence for every target.
 *
 *   nbd-bench TARGET BLOCK COUNT DEPTH [FLUSH_EVERY]
 *
 * TARGET is nbd://..., nbd+unix://... or a file.  FLUSH_EVERY > 0 adds a
 * flush (fdatasync) after that many writes, waiting for the writes in
 * flight first. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <libnbd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_DEPTH 64

struct run {
	size_t block;
	long count, depth, flush_every;
	uint64_t blocks;	/* in the target */
	uint64_t seed;
	double *lat;		/* per write, in microseconds */
	long done;
};

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

/* xorshift64*: the same offsets for every target. */
static uint64_t next_block(struct run *r)
{
	r->seed ^= r->seed >> 12;
	r->seed ^= r->seed << 25;
	r->seed ^= r->seed >> 27;
	return (r->seed * 0x2545f4914f6cdd1dULL) % r->blocks;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int run_file(struct run *r, const char *path, const uint8_t *buf)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	off_t size;

	if (fd < 0 || (size = lseek(fd, 0, SEEK_END)) < (off_t)r->block) {
		fprintf(stderr, "nbd-bench: %s: %s\n", path,
			fd < 0 ? strerror(errno) : "too small");
		return -1;
	}
	r->blocks = (uint64_t)size / r->block;
	for (long i = 0; i < r->count; i++) {
		double t0 = now_us();
		off_t off = (off_t)(next_block(r) * r->block);

		if (pwrite(fd, buf, r->block, off) != (ssize_t)r->block) {
			perror("nbd-bench: pwrite");
			close(fd);
			return -1;
		}
		if (r->flush_every && (i + 1) % r->flush_every == 0)
			fdatasync(fd);
		r->lat[r->done++] = now_us() - t0;
	}
	close(fd);
	return 0;
}

struct slot {
	int64_t cookie;
	double t0;
};

/* Waits until a command of the slots completes; its slot is freed. */
static int reap(struct nbd_handle *h, struct run *r, struct slot *s,
		long *busy)
{
	for (;;) {
		for (long k = 0; k < r->depth; k++) {
			int rc;

			if (s[k].cookie < 0)
				continue;
			rc = nbd_aio_command_completed(h, (uint64_t)s[k].cookie);
			if (rc == 0)
				continue;
			if (rc < 0) {
				fprintf(stderr, "nbd-bench: %s\n",
					nbd_get_error());
				return -1;
			}
			r->lat[r->done++] = now_us() - s[k].t0;
			s[k].cookie = -1;
			(*busy)--;
			return 0;
		}
		if (nbd_poll(h, -1) < 0) {
			fprintf(stderr, "nbd-bench: %s\n", nbd_get_error());
			return -1;
		}
	}
}

static int run_nbd(struct run *r, const char *uri, const uint8_t *buf)
{
	struct nbd_handle *h = nbd_create();
	struct slot s[MAX_DEPTH];
	long busy = 0;
	int64_t size;

	if (!h || nbd_connect_uri(h, uri) < 0 ||
	    (size = nbd_get_size(h)) < (int64_t)r->block) {
		fprintf(stderr, "nbd-bench: %s: %s\n", uri,
			h ? nbd_get_error() : "no handle");
		return -1;
	}
	r->blocks = (uint64_t)size / r->block;
	for (long k = 0; k < r->depth; k++)
		s[k].cookie = -1;
	for (long i = 0; i < r->count; i++) {
		long k = 0;

		if (busy == r->depth && reap(h, r, s, &busy) < 0)
			return -1;
		while (s[k].cookie >= 0)
			k++;
		s[k].t0 = now_us();
		s[k].cookie = nbd_aio_pwrite(h, buf, r->block,
					     next_block(r) * r->block,
					     NBD_NULL_COMPLETION, 0);
		if (s[k].cookie < 0) {
			fprintf(stderr, "nbd-bench: %s\n", nbd_get_error());
			return -1;
		}
		busy++;
		if (r->flush_every && (i + 1) % r->flush_every == 0) {
			while (busy)
				if (reap(h, r, s, &busy) < 0)
					return -1;
			if (nbd_flush(h, 0) < 0) {
				fprintf(stderr, "nbd-bench: %s\n",
					nbd_get_error());
				return -1;
			}
		}
	}
	while (busy)
		if (reap(h, r, s, &busy) < 0)
			return -1;
	nbd_shutdown(h, 0);
	nbd_close(h);
	return 0;
}

int main(int argc, char **argv)
{
	struct run r = { .seed = 0x9e3779b97f4a7c15ULL };
	uint8_t *buf;
	double t0, secs;
	int rc;

	if (argc < 5 || argc > 6) {
		fprintf(stderr, "usage: nbd-bench TARGET BLOCK COUNT DEPTH "
			"[FLUSH_EVERY]\n");
		return 2;
	}
	r.block = strtoul(argv[2], NULL, 0);
	r.count = strtol(argv[3], NULL, 0);
	r.depth = strtol(argv[4], NULL, 0);
	r.flush_every = argc == 6 ? strtol(argv[5], NULL, 0) : 0;
	if (!r.block || r.block > (32u << 20) || r.count <= 0 ||
	    r.depth <= 0 || r.depth > MAX_DEPTH || r.flush_every < 0) {
		fprintf(stderr, "nbd-bench: bad BLOCK, COUNT or DEPTH\n");
		return 2;
	}
	buf = malloc(r.block);
	r.lat = calloc((size_t)r.count, sizeof(*r.lat));
	if (!buf || !r.lat)
		return 1;
	memset(buf, 0x5a, r.block);
	t0 = now_us();
	if (strncmp(argv[1], "nbd", 3) == 0)
		rc = run_nbd(&r, argv[1], buf);
	else if (r.depth != 1)
		rc = (fprintf(stderr, "nbd-bench: a file takes DEPTH 1\n"), -1);
	else
		rc = run_file(&r, argv[1], buf);
	secs = (now_us() - t0) / 1e6;
	if (rc < 0)
		return 1;
	qsort(r.lat, (size_t)r.done, sizeof(*r.lat), cmp_double);
	/* One line for the script: op/s, p50, p99, max (microseconds). */
	printf("%.0f %.1f %.1f %.1f\n", (double)r.done / secs,
	       r.lat[r.done / 2], r.lat[r.done * 99 / 100], r.lat[r.done - 1]);
	free(r.lat);
	free(buf);
	return 0;
}
