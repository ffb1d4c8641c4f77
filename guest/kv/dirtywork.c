/* The memory-dirtying workload: rewrites `dirty_rate` pages a second
 * across `dirty_mb` MiB.  Each page carries its index, a sequence number
 * and a CRC of its body; every `verify_ms` all pages are checked, and a
 * mismatch is reported as GUEST-CHECK FAIL on the console. */
#include "kv.h"

struct page_hdr {
	uint64_t seq;
	uint32_t crc;
	uint32_t index;
};

#define PAGE 4096u
#define BODY (PAGE - sizeof(struct page_hdr))

static uint8_t *area;
static uint64_t npages, rate, seq, next_write, next_verify, verify_ms;
static uint64_t written, checks, failures, last_report, report_us;
/* The longest the workload went without running since the last report:
 * how long the VM was stopped, as the guest sees it. */
static uint64_t last_tick, max_gap;

static void fill(uint64_t i)
{
	uint8_t *p = area + i * PAGE;
	struct page_hdr *h = (struct page_hdr *)p;
	uint64_t x = ++seq * 0x9e3779b97f4a7c15ull ^ i;

	for (uint32_t k = 0; k < BODY; k += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + sizeof(*h) + k, &x, 8);
	}
	h->seq = seq;
	h->index = (uint32_t)i;
	h->crc = crc32c(0, p + sizeof(*h), BODY);
	written++;
}

static uint64_t verify(void)
{
	uint64_t bad = 0;

	for (uint64_t i = 0; i < npages; i++) {
		struct page_hdr *h = (struct page_hdr *)(area + i * PAGE);

		if (h->index != i || crc32c(0, h + 1, BODY) != h->crc)
			bad++;
	}
	return bad;
}

void dirty_init(void)
{
	uint64_t mb = cmdline_u64("dirty_mb", 16);

	rate = cmdline_u64("dirty_rate", 2000);
	verify_ms = cmdline_u64("verify_ms", 1000);
	report_us = cmdline_u64("report_ms", 5000) * 1000;
	npages = mb * 256;
	area = galloc(npages * PAGE, PAGE);
	for (uint64_t i = 0; i < npages; i++)
		fill(i);
	next_write = next_verify = now_us();
	gprintf("DIRTY-START pages %lu rate %lu/s\n", npages, rate);
}

void dirty_tick(uint64_t now)
{
	uint64_t bad;

	if (last_tick && now > last_tick && now - last_tick > max_gap)
		max_gap = now - last_tick;
	last_tick = now;
	/* Catch up in bursts of at most 1/10 s of work. */
	for (int k = 0; k < (int)(rate / 10 + 1) && now >= next_write; k++) {
		fill((seq * 7919) % npages);
		next_write += 1000000 / (rate ? rate : 1);
	}
	if (now > next_write + 1000000)
		next_write = now;	/* after a long pause, do not sprint */
	if (now >= next_verify) {
		bad = verify();
		checks++;
		if (bad) {
			failures++;
			gprintf("GUEST-CHECK FAIL: %lu of %lu pages corrupt\n",
				bad, npages);
		}
		next_verify = now + verify_ms * 1000;
		if (now - last_report >= report_us || bad) {
			gprintf("DIRTY written %lu checks %lu failures %lu "
				"max-gap-us %lu\n", written, checks, failures,
				max_gap);
			last_report = now;
			max_gap = 0;
		}
	}
}

uint64_t dirty_next(uint64_t now __attribute__((unused)))
{
	return next_write < next_verify ? next_write : next_verify;
}
