/* Virtqueue processing against hostile rings: chained descriptors work;
 * out-of-range indices, loops, bad buffers and runaway avail indices are
 * device errors, never crashes or out-of-bounds accesses. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "devices/vq.h"
#include "dh-unit.h"

#define QSZ 8
#define DESC 0x1000
#define AVAIL 0x2000
#define USED 0x3000
#define BUF 0x10000

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

static struct guest_mem mem;
static struct vq q;

static void setup(void)
{
	if (!mem.base)
		CU_ASSERT_FATAL(mem_init(&mem, 1u << 20) == 0);
	memset(mem.base, 0, mem.size);
	q.mem = &mem;
	vq_reset(&q);
	q.size = QSZ;
	q.desc = DESC;
	q.avail = AVAIL;
	q.used = USED;
	q.ready = true;
}

static void desc(int i, uint64_t addr, uint32_t len, uint16_t flags,
		uint16_t next)
{
	struct vring_desc d = { addr, len, flags, next };

	memcpy(mem.base + DESC + 16 * i, &d, 16);
}

static void avail(uint16_t idx, uint16_t head)
{
	uint16_t *a = (uint16_t *)(mem.base + AVAIL);

	a[2 + (idx - 1) % QSZ] = head;
	a[1] = idx;
}

static void test_chain(void)
{
	struct vq_elem e;
	uint8_t data[3] = { 1, 2, 3 };
	uint32_t *used;

	setup();
	desc(0, BUF, 100, VRING_DESC_F_NEXT, 5);
	desc(5, BUF + 4096, 50, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	desc(2, BUF + 8192, 10, VRING_DESC_F_WRITE, 0);
	avail(1, 0);
	CU_ASSERT_EQUAL(vq_pop(&q, &e), 1);
	CU_ASSERT_EQUAL(e.nout, 1);
	CU_ASSERT_EQUAL(e.nin, 2);
	CU_ASSERT_EQUAL(e.out_len, 100);
	CU_ASSERT_EQUAL(e.in_len, 60);
	/* A copy across the two writable segments lands in both. */
	CU_ASSERT_EQUAL(vq_copy_to(&q, &e, 49, data, 3), 3);
	CU_ASSERT_EQUAL(mem.base[BUF + 4096 + 49], 1);
	CU_ASSERT_EQUAL(mem.base[BUF + 8192 + 1], 3);
	CU_ASSERT_EQUAL(vq_push(&q, &e, 60), 0);
	used = (uint32_t *)(mem.base + USED + 4);
	CU_ASSERT_EQUAL(used[0], 0);
	CU_ASSERT_EQUAL(used[1], 60);
	CU_ASSERT_EQUAL(*(uint16_t *)(mem.base + USED + 2), 1);
	CU_ASSERT_EQUAL(vq_pop(&q, &e), 0);	/* nothing more */
	CU_ASSERT_FALSE(q.broken);
}

/* Each case: set up one bad ring; the pop must fail and break the queue. */
static void bad_case(const char *what)
{
	struct vq_elem e;

	setup();
	if (!strcmp(what, "head out of range")) {
		avail(1, QSZ + 3);
	} else if (!strcmp(what, "next out of range")) {
		desc(0, BUF, 10, VRING_DESC_F_NEXT, 200);
		avail(1, 0);
	} else if (!strcmp(what, "loop")) {
		desc(0, BUF, 10, VRING_DESC_F_NEXT, 1);
		desc(1, BUF, 10, VRING_DESC_F_NEXT, 0);
		avail(1, 0);
	} else if (!strcmp(what, "self loop")) {
		desc(3, BUF, 10, VRING_DESC_F_NEXT, 3);
		avail(1, 3);
	} else if (!strcmp(what, "buffer outside RAM")) {
		desc(0, (1u << 20) - 4, 100, 0, 0);
		avail(1, 0);
	} else if (!strcmp(what, "wrapping buffer")) {
		desc(0, ~0ull - 10, 100, 0, 0);
		avail(1, 0);
	} else if (!strcmp(what, "zero length")) {
		desc(0, BUF, 0, 0, 0);
		avail(1, 0);
	} else if (!strcmp(what, "read after write")) {
		desc(0, BUF, 10, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
		desc(1, BUF, 10, 0, 0);
		avail(1, 0);
	} else if (!strcmp(what, "indirect")) {
		desc(0, BUF, 16, VRING_DESC_F_INDIRECT, 0);
		avail(1, 0);
	} else if (!strcmp(what, "avail runs ahead")) {
		avail(QSZ + 5, 0);
	} else if (!strcmp(what, "rings outside RAM")) {
		q.used = (1u << 20) - 8;
		avail(1, 0);
	} else if (!strcmp(what, "bad queue size")) {
		q.size = 6;
		avail(1, 0);
	}
	CU_ASSERT_EQUAL(vq_pop(&q, &e), -EPROTO);
	if (!q.broken)
		fprintf(stderr, "case '%s' did not break the queue\n", what);
	CU_ASSERT_TRUE(q.broken);
	/* A broken queue stays quiet until reset. */
	CU_ASSERT_EQUAL(vq_pop(&q, &e), 0);
	CU_ASSERT_FALSE(vq_has_work(&q));
}

static void test_bad(void)
{
	static const char *const cases[] = {
		"head out of range", "next out of range", "loop", "self loop",
		"buffer outside RAM", "wrapping buffer", "zero length",
		"read after write", "indirect", "avail runs ahead",
		"rings outside RAM", "bad queue size",
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		bad_case(cases[i]);
}

static void test_max_chain(void)
{
	struct vq_elem e;

	/* A chain of exactly the queue size is legal. */
	setup();
	for (int i = 0; i < QSZ; i++)
		desc(i, BUF + 64 * i, 64, i + 1 < QSZ ? VRING_DESC_F_NEXT : 0,
		     (uint16_t)(i + 1));
	avail(1, 0);
	CU_ASSERT_EQUAL(vq_pop(&q, &e), 1);
	CU_ASSERT_EQUAL(e.nout, QSZ);
}

static void test_event_idx(void)
{
	struct vq_elem e;
	uint16_t *used_event = (uint16_t *)(mem.base + AVAIL + 4 + 2 * QSZ);

	setup();
	q.event_idx = true;
	desc(0, BUF, 10, VRING_DESC_F_WRITE, 0);
	avail(1, 0);
	CU_ASSERT_EQUAL(vq_pop(&q, &e), 1);
	vq_push(&q, &e, 1);
	*used_event = 5;	/* the driver wants to hear at entry 6 */
	CU_ASSERT_FALSE(vq_need_interrupt(&q));
	*used_event = 1;	/* ...now: "after entry 1 is used" */
	avail(2, 0);
	CU_ASSERT_EQUAL(vq_pop(&q, &e), 1);
	vq_push(&q, &e, 1);
	CU_ASSERT_TRUE(vq_need_interrupt(&q));
	vq_set_notify(&q, true);
	CU_ASSERT_EQUAL(*(uint16_t *)(mem.base + USED + 4 + 8 * QSZ), 2);
}

void dh_suite_vq(void)
{
	static const struct unit_case cases[] = {
		{ "chain", test_chain },
		{ "bad_rings", test_bad },
		{ "max_chain", test_max_chain },
		{ "event_idx", test_event_idx },
		{ NULL, NULL },
	};

	unit_add_suite("vq", cases);
}
