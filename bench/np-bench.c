/* Comparator throughput on one core: matched TCP traffic of many flows,
 * each PVM segment followed by the SVM's (cut differently), against a
 * plain forwarder measured in the same run (parse the frame, copy it to
 * the output).  Prints frames per second, ns per frame, the ratio, and
 * the comparator's hold-time histogram p50/p99 in this synthetic
 * interleaving (the SVM lags by LAG segments). */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>
#include "compare.h"
#include "np-frames.h"

#define FLOWS 256
#define SEGS 50000
#define PAYLOAD 512
#define LAG 8

static uint8_t sink[FRAME_MAX];
static uint64_t released;

static void on_release(void *opaque, const uint8_t *f, size_t len)
{
	(void)opaque;
	memcpy(sink, f, len);
	released++;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct seg {
	uint8_t f[PAYLOAD + 128];
	size_t len;
};

/* The PVM's segment i, and the SVM's same bytes in two pieces. */
static void make(struct seg *p, struct seg *s1, struct seg *s2, int i,
		 const char *data)
{
	struct np_flow c, g;
	int flow = i % FLOWS;
	uint32_t seq = 1000u + (uint32_t)(i / FLOWS) * PAYLOAD;

	npf_flow(&c, false, (uint16_t)(20000 + flow));
	npf_reverse(&g, &c);
	p->len = npf_tcp(p->f, &g, seq, 1, TCP_ACK, data, PAYLOAD);
	s1->len = npf_tcp(s1->f, &g, seq, 1, TCP_ACK, data, PAYLOAD / 2);
	s2->len = npf_tcp(s2->f, &g, seq + PAYLOAD / 2, 1, TCP_ACK,
			  data + PAYLOAD / 2, PAYLOAD / 2);
}

static uint64_t pct(const uint64_t *h, double q)
{
	uint64_t total = 0, seen = 0;

	for (int i = 0; i < CMP_LAT_BUCKETS; i++)
		total += h[i];
	for (int i = 0; i < CMP_LAT_BUCKETS; i++) {
		seen += h[i];
		if ((double)seen >= q * (double)total)
			return 2ull << i;
	}
	return 0;
}

int main(void)
{
	struct cmp_config cfg = { 4096, 65536, 1000000 };
	enum { RING = SEGS };	/* every frame built before the clock runs */
	struct seg *p = calloc(RING, sizeof(*p)), *s1 = calloc(RING, sizeof(*s1));
	struct seg *s2 = calloc(RING, sizeof(*s2));
	struct comparator c;
	char data[PAYLOAD];
	double t0, t_fwd, t_cmp, t_sock;
	struct frame_info fi;
	uint64_t sum = 0;

	for (int i = 0; i < PAYLOAD; i++)
		data[i] = (char)('a' + i % 26);
	for (int i = 0; i < SEGS; i++)
		make(&p[i], &s1[i], &s2[i], i, data);
	/* Baseline: what any forwarder does per frame. */
	t0 = now_s();
	for (int i = 0; i < SEGS; i++) {
		struct seg *x = &p[i % RING];

		frame_parse(x->f, x->len, &fi, NULL);
		on_release(NULL, x->f, x->len);
		sum += fi.payload_len;
	}
	t_fwd = now_s() - t0;
	/* A forwarder that moves each frame through a socket, as the
	 * passthrough mode does (one write and one read per frame). */
	{
		int sv[2];

		if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
			return 1;
		t0 = now_s();
		for (int i = 0; i < SEGS; i++) {
			struct seg *x = &p[i];

			if (write(sv[0], x->f, x->len) < 0 ||
			    read(sv[1], sink, sizeof(sink)) < 0)
				return 1;
			frame_parse(sink, x->len, &fi, NULL);
		}
		t_sock = now_s() - t0;
		close(sv[0]);
		close(sv[1]);
	}
	if (cmp_init(&c, &cfg, on_release, NULL, NULL) < 0)
		return 1;
	released = 0;
	t0 = now_s();
	for (int i = 0; i < SEGS + LAG; i++) {
		uint64_t t = (uint64_t)((now_s() - t0) * 1e6);

		if (i < SEGS) {
			cmp_input(&c, CMP_PRIMARY, p[i % RING].f,
				  p[i % RING].len, t);
		}
		if (i >= LAG) {
			int j = (i - LAG) % RING;

			cmp_input(&c, CMP_SECONDARY, s1[j].f, s1[j].len, t);
			cmp_input(&c, CMP_SECONDARY, s2[j].f, s2[j].len, t);
		}
	}
	t_cmp = now_s() - t0;
	printf("comparator: %d PVM segments of %d bytes over %d flows, each "
	       "matched by 2 SVM segments\n", SEGS, PAYLOAD, FLOWS);
	printf("  plain forwarder (parse+copy): %.2f Mframes/s (%.0f ns/frame)\n",
	       SEGS / t_fwd / 1e6, t_fwd / SEGS * 1e9);
	printf("  comparator (P+S, compare, release): %.2f Mframes/s of PVM "
	       "output (%.0f ns/PVM frame, %.0f ns per frame handled)\n",
	       SEGS / t_cmp / 1e6, t_cmp / SEGS * 1e9,
	       t_cmp / (SEGS * 3.0) * 1e9);
	printf("  socket forwarder (write+read per frame): %.2f Mframes/s "
	       "(%.0f ns/frame)\n", SEGS / t_sock / 1e6, t_sock / SEGS * 1e9);
	printf("  ratio: %.2f of the in-memory forwarder's rate, %.2f of the "
	       "socket forwarder's; released %llu of %d, mismatches %llu\n",
	       t_fwd / t_cmp, t_sock / t_cmp, (unsigned long long)released,
	       SEGS, (unsigned long long)c.st.mismatched[FRAME_TCP]);
	printf("  hold time with the SVM %d segments behind: p50 < %llu us, "
	       "p99 < %llu us\n", LAG,
	       (unsigned long long)pct(c.st.latency, 0.5),
	       (unsigned long long)pct(c.st.latency, 0.99));
	cmp_fini(&c);
	free(p);
	free(s1);
	free(s2);
	return sum ? 0 : 1;
}
