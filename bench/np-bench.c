/* Comparator throughput and latency on one core: matched TCP traffic of
 * many flows, each PVM segment matched by the SVM's (cut differently),
 * against a plain forwarder (parse the frame, copy it to the output) and
 * a socket forwarder measured in the same run.  Prints frames per second
 * and the ratio, then per-frame latency p50/p99 in nanoseconds for each
 * path: the comparator's from a PVM frame's input to its release, with
 * the SVM ahead, in lock-step and LAG segments behind. */
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
#define PORT0 20000		/* flow f is the client's port PORT0 + f */
#define SEQ0 1000u		/* the guest's first sequence number */

static const struct cmp_config bench_cfg = { 4096, 65536, 1000000 };
static uint8_t sink[FRAME_MAX];
static uint64_t released;

static void on_release(void *opaque, const uint8_t *f, size_t len)
{
	(void)opaque;
	memcpy(sink, f, len);
	released++;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static double now_s(void)
{
	return (double)now_ns() / 1e9;
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
	uint32_t seq = SEQ0 + (uint32_t)(i / FLOWS) * PAYLOAD;

	npf_flow(&c, false, (uint16_t)(PORT0 + flow));
	npf_reverse(&g, &c);
	p->len = npf_tcp(p->f, &g, seq, 1, TCP_ACK, data, PAYLOAD);
	s1->len = npf_tcp(s1->f, &g, seq, 1, TCP_ACK, data, PAYLOAD / 2);
	s2->len = npf_tcp(s2->f, &g, seq + PAYLOAD / 2, 1, TCP_ACK,
			  data + PAYLOAD / 2, PAYLOAD / 2);
}

/* Which PVM segment a released frame is: the inverse of make(). */
static long seg_index(const uint8_t *f, size_t len)
{
	struct frame_info fi;
	long i;

	if (frame_parse(f, len, &fi, NULL) < 0 || fi.kind != FRAME_TCP)
		return -1;
	i = (long)((fi.seq - SEQ0) / PAYLOAD) * FLOWS + (fi.dport - PORT0);
	return i >= 0 && i < SEGS ? i : -1;
}

/* ---- throughput: no clock inside the loops ---------------------------- */

static double fwd_rate(const struct seg *p)
{
	struct frame_info fi;
	double t0 = now_s();

	for (int i = 0; i < SEGS; i++) {
		frame_parse(p[i].f, p[i].len, &fi, NULL);
		on_release(NULL, p[i].f, p[i].len);
	}
	return now_s() - t0;
}

/* One write and one read per frame, as the passthrough mode does. */
static double sock_rate(const struct seg *p, int sv[2])
{
	struct frame_info fi;
	double t0 = now_s();

	for (int i = 0; i < SEGS; i++) {
		if (write(sv[0], p[i].f, p[i].len) < 0 ||
		    read(sv[1], sink, sizeof(sink)) < 0)
			return -1;
		frame_parse(sink, p[i].len, &fi, NULL);
	}
	return now_s() - t0;
}

static double cmp_rate(struct comparator *c, const struct seg *p,
		       const struct seg *s1, const struct seg *s2)
{
	double t0 = now_s();

	for (int i = 0; i < SEGS + LAG; i++) {
		uint64_t t = (uint64_t)((now_s() - t0) * 1e6);

		if (i < SEGS)
			cmp_input(c, CMP_PRIMARY, p[i].f, p[i].len, t);
		if (i >= LAG) {
			int j = i - LAG;

			cmp_input(c, CMP_SECONDARY, s1[j].f, s1[j].len, t);
			cmp_input(c, CMP_SECONDARY, s2[j].f, s2[j].len, t);
		}
	}
	return now_s() - t0;
}

/* ---- latency: per-frame nanosecond samples ----------------------------- */

static int u64_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct lat {
	uint64_t p50, p99;
};

/* The nearest-rank percentile pc of n sorted samples. */
static uint64_t rank(const uint64_t *sorted, size_t n, unsigned pc)
{
	return sorted[(n * pc + 99) / 100 - 1];
}

/* Sorts ns in place. */
static struct lat lat_of(uint64_t *ns, size_t n)
{
	struct lat l;

	qsort(ns, n, sizeof(*ns), u64_cmp);
	l.p50 = rank(ns, n, 50);
	l.p99 = rank(ns, n, 99);
	return l;
}

/* What a clock read costs: every sample below includes one. */
static struct lat clock_latency(uint64_t *ns)
{
	for (int i = 0; i < SEGS; i++) {
		uint64_t t0 = now_ns();

		ns[i] = now_ns() - t0;
	}
	return lat_of(ns, SEGS);
}

static struct lat fwd_latency(const struct seg *p, uint64_t *ns)
{
	struct frame_info fi;

	for (int i = 0; i < SEGS; i++) {
		uint64_t t0 = now_ns();

		frame_parse(p[i].f, p[i].len, &fi, NULL);
		on_release(NULL, p[i].f, p[i].len);
		ns[i] = now_ns() - t0;
	}
	return lat_of(ns, SEGS);
}

static int sock_latency(const struct seg *p, int sv[2], uint64_t *ns,
			struct lat *l)
{
	struct frame_info fi;

	for (int i = 0; i < SEGS; i++) {
		uint64_t t0 = now_ns();

		if (write(sv[0], p[i].f, p[i].len) < 0 ||
		    read(sv[1], sink, sizeof(sink)) < 0)
			return -1;
		frame_parse(sink, p[i].len, &fi, NULL);
		ns[i] = now_ns() - t0;
	}
	*l = lat_of(ns, SEGS);
	return 0;
}

/* When each PVM frame went into the comparator and came out of it. */
struct lat_run {
	uint64_t *in_ns, *out_ns;
	uint64_t released;
};

static void on_release_timed(void *opaque, const uint8_t *f, size_t len)
{
	struct lat_run *r = opaque;
	uint64_t t;
	long i;

	memcpy(sink, f, len);
	t = now_ns();
	/* Found after the clock read, so that the lookup is not charged to
	 * this frame. */
	i = seg_index(f, len);
	if (i >= 0)
		r->out_ns[i] = t;
	r->released++;
}

/* The PVM's segment i goes in at step i, the SVM's segment j right
 * after the PVM's at step j + lag: lag 0 is lock-step, a negative lag
 * puts the SVM ahead.  A positive lag is a wait for the SVM that the
 * comparator cannot shorten. */
static int cmp_latency(const struct seg *p, const struct seg *s1,
		       const struct seg *s2, int lag, uint64_t *ns,
		       struct lat *l)
{
	uint64_t *in = calloc(SEGS, sizeof(*in));
	uint64_t *out = calloc(SEGS, sizeof(*out));
	struct lat_run r = { in, out, 0 };
	struct comparator c;
	int rc = -1;

	if (!in || !out || cmp_init(&c, &bench_cfg, on_release_timed, NULL,
				    &r) < 0)
		goto out;
	for (int i = lag < 0 ? lag : 0; i < SEGS + (lag > 0 ? lag : 0); i++) {
		int j = i - lag;

		if (i >= 0 && i < SEGS) {
			in[i] = now_ns();
			cmp_input(&c, CMP_PRIMARY, p[i].f, p[i].len,
				  in[i] / 1000);
		}
		if (j >= 0 && j < SEGS) {
			uint64_t t = now_ns() / 1000;

			cmp_input(&c, CMP_SECONDARY, s1[j].f, s1[j].len, t);
			cmp_input(&c, CMP_SECONDARY, s2[j].f, s2[j].len, t);
		}
	}
	cmp_fini(&c);
	for (int i = 0; i < SEGS; i++) {
		if (!out[i]) {
			fprintf(stderr, "np-bench: lag %d: PVM segment %d was "
				"never released\n", lag, i);
			goto out;
		}
		ns[i] = out[i] - in[i];
	}
	*l = lat_of(ns, SEGS);
	rc = 0;
out:
	free(in);
	free(out);
	return rc;
}

/* One row of the latency table, without its newline. */
static void print_lat(const char *what, struct lat l)
{
	printf("    %-36s %6llu / %6llu ns", what, (unsigned long long)l.p50,
	       (unsigned long long)l.p99);
}

static void print_cmp_lat(const char *svm, struct lat l, struct lat fwd,
			  struct lat sock)
{
	char what[64];

	snprintf(what, sizeof(what), "comparator, SVM %s", svm);
	print_lat(what, l);
	printf("  (x%.1f / x%.1f the plain forwarder's, x%.2f / x%.2f the "
	       "socket's)\n", (double)l.p50 / (double)fwd.p50,
	       (double)l.p99 / (double)fwd.p99,
	       (double)l.p50 / (double)sock.p50,
	       (double)l.p99 / (double)sock.p99);
}

static int report_latency(const struct seg *p, const struct seg *s1,
			  const struct seg *s2, int sv[2])
{
	uint64_t *ns = calloc(SEGS, sizeof(*ns));
	struct lat clk, fwd, sock, ahead, step, behind;
	char lagged[32];
	int rc = -1;

	if (!ns)
		return -1;
	clk = clock_latency(ns);
	fwd = fwd_latency(p, ns);
	if (sock_latency(p, sv, ns, &sock) < 0 ||
	    cmp_latency(p, s1, s2, -1, ns, &ahead) < 0 ||
	    cmp_latency(p, s1, s2, 0, ns, &step) < 0 ||
	    cmp_latency(p, s1, s2, LAG, ns, &behind) < 0)
		goto out;
	printf("  latency per frame, p50 / p99 (each sample includes one "
	       "clock read, p50 %llu ns):\n", (unsigned long long)clk.p50);
	print_lat("plain forwarder (parse+copy)", fwd);
	printf("\n");
	print_lat("socket forwarder (write+read)", sock);
	printf("\n");
	print_cmp_lat("one segment ahead", ahead, fwd, sock);
	print_cmp_lat("in lock-step", step, fwd, sock);
	snprintf(lagged, sizeof(lagged), "%d segments behind", LAG);
	print_cmp_lat(lagged, behind, fwd, sock);
	printf("    (input to release; SVM behind adds the wait for its "
	       "output, which no comparator can shorten)\n");
	rc = 0;
out:
	free(ns);
	return rc;
}

int main(void)
{
	struct seg *p = calloc(SEGS, sizeof(*p)), *s1 = calloc(SEGS, sizeof(*s1));
	struct seg *s2 = calloc(SEGS, sizeof(*s2));
	struct comparator c;
	char data[PAYLOAD];
	double t_fwd, t_cmp, t_sock;
	int sv[2], rc = 1;

	if (!p || !s1 || !s2)
		return 1;
	/* Every frame built before the clock runs. */
	for (int i = 0; i < PAYLOAD; i++)
		data[i] = (char)('a' + i % 26);
	for (int i = 0; i < SEGS; i++)
		make(&p[i], &s1[i], &s2[i], i, data);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) < 0)
		return 1;
	t_fwd = fwd_rate(p);
	t_sock = sock_rate(p, sv);
	if (t_sock < 0 || cmp_init(&c, &bench_cfg, on_release, NULL, NULL) < 0)
		goto out;
	released = 0;
	t_cmp = cmp_rate(&c, p, s1, s2);
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
	cmp_fini(&c);
	if (report_latency(p, s1, s2, sv) == 0)
		rc = 0;
out:
	close(sv[0]);
	close(sv[1]);
	free(p);
	free(s1);
	free(s2);
	return rc;
}
