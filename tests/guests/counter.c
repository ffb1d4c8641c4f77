/* Test guest: a counter and a checksummed memory area that must survive
 * save/restore and checkpoints exactly.
 *
 * It fills `pages` pages (default 256) from its heap with a pattern
 * derived from a running sequence number, rewrites `per_tick` of them
 * every tick, and keeps in each page its sequence number and a CRC.  Every
 * `report` ticks it verifies all pages and prints
 *   COUNTER n CHECK ok|FAIL sum XXXXXXXX
 * where sum digests the whole area, so two runs that agree on n agree on
 * sum.  A guest restored from a save must continue the same sequence. */
#include "guest.h"

struct page_hdr {
	uint64_t seq;
	uint32_t crc;
	uint32_t index;
};

#define PAGE 4096u
#define BODY (PAGE - sizeof(struct page_hdr))

static uint8_t *area;
static uint64_t npages;

static void fill(uint64_t i, uint64_t seq)
{
	uint8_t *p = area + i * PAGE;
	struct page_hdr *h = (struct page_hdr *)p;
	uint64_t x = seq * 0x9e3779b97f4a7c15ull ^ i;

	for (uint32_t k = 0; k < BODY; k += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + sizeof(*h) + k, &x, 8);
	}
	h->seq = seq;
	h->index = (uint32_t)i;
	h->crc = crc32c(0, p + sizeof(*h), BODY);
}

/* Returns the number of bad pages; *sum digests the whole area. */
static uint64_t verify(uint32_t *sum)
{
	uint64_t bad = 0;

	*sum = 0;
	for (uint64_t i = 0; i < npages; i++) {
		struct page_hdr *h = (struct page_hdr *)(area + i * PAGE);

		if (h->index != i || crc32c(0, h + 1, BODY) != h->crc)
			bad++;
		*sum = crc32c(*sum, h, sizeof(*h));
	}
	return bad;
}

int guest_main(void)
{
	uint64_t per_tick = cmdline_u64("per_tick", 16);
	uint64_t report = cmdline_u64("report", 100);
	uint64_t tick_us = cmdline_u64("tick_us", 1000);
	uint64_t limit = cmdline_u64("ticks", 0);
	uint64_t seq = 0, n = 0;
	uint32_t sum;

	npages = cmdline_u64("pages", 256);
	area = (uint8_t *)heap_start();
	if ((uint64_t)(uintptr_t)area + npages * PAGE > ram_top())
		panic("%lu pages do not fit in RAM", npages);
	for (uint64_t i = 0; i < npages; i++)
		fill(i, seq++);
	gprintf("COUNTER-START pages %lu\n", npages);
	for (;;) {
		uint64_t next = now_us() + tick_us;

		for (uint64_t k = 0; k < per_tick; k++)
			fill((seq * 7919) % npages, seq), seq++;
		n++;
		if (n % report == 0) {
			uint64_t bad = verify(&sum);

			gprintf("COUNTER %lu CHECK %s sum %08x\n", n,
				bad ? "FAIL" : "ok", sum);
			if (bad)
				gprintf("GUEST-CHECK FAIL: %lu bad pages\n", bad);
		}
		if (limit && n >= limit)
			return 0;
		while (now_us() < next)
			pv_idle((uint32_t)(next - now_us()));
	}
}
