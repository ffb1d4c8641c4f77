/* Baselines for the COLO benchmarks, measured in the same run as the
 * figures they stand beside:
 *
 *   baseline memcpy PAGES   best of 5 copies of PAGES scattered 4 KiB
 *                           pages (one per 8 KiB, as dirty pages are),
 *                           in microseconds
 *   baseline tcp MIB        loopback TCP throughput sending MIB MiB in
 *                           1 MiB writes, in MB/s: one cache-hot buffer
 *                           sent again and again, the classic figure
 *   baseline tcpcold MIB    the same, but sending MIB MiB of distinct
 *                           memory once, as a checkpoint sends its
 *                           staged pages: out of cache, not into it */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define CHUNK (1u << 20)

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int bench_memcpy(size_t pages)
{
	uint8_t *src = malloc(pages * 2 * PAGE), *dst = malloc(pages * PAGE);
	double best = 1e18;

	if (!src || !dst)
		return 1;
	memset(src, 0x5a, pages * 2 * PAGE);
	memset(dst, 0, pages * PAGE);
	for (int r = 0; r < 5; r++) {
		double t0 = now_us(), t;

		for (size_t i = 0; i < pages; i++)
			memcpy(dst + i * PAGE, src + i * 2 * PAGE, PAGE);
		t = now_us() - t0;
		if (t < best)
			best = t;
	}
	printf("%.1f\n", best);
	free(src);
	free(dst);
	return 0;
}

struct sink {
	int fd;
	size_t total;
};

static void *drain(void *arg)
{
	struct sink *s = arg;
	char *buf = malloc(CHUNK);
	size_t got = 0;
	ssize_t n;

	while (buf && got < s->total && (n = read(s->fd, buf, CHUNK)) > 0)
		got += (size_t)n;
	free(buf);
	return NULL;
}

static int bench_tcp(size_t mib, bool cold)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	struct sink s = { -1, mib * CHUNK };
	char *buf = malloc(CHUNK);
	int ls = socket(AF_INET, SOCK_STREAM, 0), c = socket(AF_INET, SOCK_STREAM, 0);
	pthread_t t;
	double t0;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (!buf || ls < 0 || c < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(ls, 1) || getsockname(ls, (struct sockaddr *)&a, &alen) ||
	    connect(c, (struct sockaddr *)&a, sizeof(a)))
		return 1;
	s.fd = accept(ls, NULL, NULL);
	memset(buf, 0x5a, CHUNK);
	if (cold) {	/* touched once, then evicted by what follows */
		free(buf);
		buf = malloc(mib * CHUNK);
		if (!buf)
			return 1;
		memset(buf, 0x5a, mib * CHUNK);
	}
	pthread_create(&t, NULL, drain, &s);
	t0 = now_us();
	for (size_t i = 0; i < mib; i++) {
		size_t put = 0;

		while (put < CHUNK) {
			ssize_t n = write(c, buf + (cold ? i * CHUNK : 0) + put,
					  CHUNK - put);

			if (n <= 0)
				return 1;
			put += (size_t)n;
		}
	}
	pthread_join(t, NULL);
	printf("%.0f\n", (double)s.total / (now_us() - t0));
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "memcpy") == 0)
		return bench_memcpy((size_t)atol(argv[2]));
	if (argc == 3 && strcmp(argv[1], "tcp") == 0)
		return bench_tcp((size_t)atol(argv[2]), false);
	if (argc == 3 && strcmp(argv[1], "tcpcold") == 0)
		return bench_tcp((size_t)atol(argv[2]), true);
	fprintf(stderr, "usage: baseline memcpy PAGES | baseline tcp MIB | "
		"baseline tcpcold MIB\n");
	return 2;
}
