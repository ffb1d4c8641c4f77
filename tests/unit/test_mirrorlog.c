/* netproxy mirrored-input log: numbering, dropping what a checkpoint
 * consumed, replay from a number (and resumed where the guest link was
 * full), the ring's wrap, both bounds, reset. */
#include "config.h"
#include <errno.h>
#include <string.h>
#include "mirrorlog.h"
#include "unit.h"

/* What a replay handed over: each frame's first byte, which the tests
 * set to its number. */
struct taken {
	int n, limit;		/* limit: refuse after that many (-1: none) */
	uint8_t first[64];
	size_t len[64];
};

static bool take(void *opaque, const uint8_t *f, size_t len)
{
	struct taken *t = opaque;

	if (t->n == t->limit || t->n == (int)sizeof(t->first))
		return false;
	t->first[t->n] = len ? f[0] : 0xff;
	t->len[t->n] = len;
	t->n++;
	return true;
}

static uint64_t replay(struct mlog *m, uint64_t from, struct taken *t,
		       int limit)
{
	memset(t, 0, sizeof(*t));
	t->limit = limit;
	return mlog_replay(m, from, take, t);
}

/* Appends count frames of len bytes, the first byte each one's number. */
static void append_n(struct mlog *m, int count, size_t len)
{
	uint8_t f[512] = { 0 };

	for (int i = 0; i < count; i++) {
		uint64_t want = m->next_no;

		f[0] = (uint8_t)want;
		CU_ASSERT_EQUAL(mlog_append(m, f, len), want);
	}
}

static void test_numbering_and_replay(void)
{
	struct mlog m;
	struct taken t;

	CU_ASSERT_EQUAL_FATAL(mlog_init(&m, 16, 1 << 20), 0);
	CU_ASSERT_EQUAL(replay(&m, 0, &t, -1), 0);	/* empty */
	CU_ASSERT_EQUAL(t.n, 0);
	append_n(&m, 5, 60);
	CU_ASSERT_EQUAL(m.count, 5);
	CU_ASSERT_EQUAL(m.bytes, 300);
	CU_ASSERT_EQUAL(replay(&m, 0, &t, -1), 5);
	CU_ASSERT_EQUAL(t.n, 5);
	for (int i = 0; i < 5; i++) {
		CU_ASSERT_EQUAL(t.first[i], i);
		CU_ASSERT_EQUAL(t.len[i], 60);
	}
	/* From the middle; a replay does not consume. */
	CU_ASSERT_EQUAL(replay(&m, 3, &t, -1), 5);
	CU_ASSERT_EQUAL(t.n, 2);
	CU_ASSERT_EQUAL(t.first[0], 3);
	CU_ASSERT_EQUAL(replay(&m, 5, &t, -1), 5);
	CU_ASSERT_EQUAL(t.n, 0);
	CU_ASSERT_EQUAL(m.count, 5);
	/* An empty frame is logged like any other. */
	CU_ASSERT_EQUAL(mlog_append(&m, (const uint8_t *)"", 0), 5);
	CU_ASSERT_EQUAL(replay(&m, 5, &t, -1), 6);
	CU_ASSERT_EQUAL(t.n, 1);
	CU_ASSERT_EQUAL(t.len[0], 0);
	mlog_fini(&m);
	mlog_fini(&m);
}

/* A checkpoint that consumed frames below N: only N on are replayed. */
static void test_drop_below(void)
{
	struct mlog m;
	struct taken t;

	CU_ASSERT_EQUAL_FATAL(mlog_init(&m, 16, 1 << 20), 0);
	append_n(&m, 8, 10);
	mlog_drop_below(&m, 3);
	CU_ASSERT_EQUAL(m.count, 5);
	CU_ASSERT_EQUAL(m.bytes, 50);
	CU_ASSERT_EQUAL(replay(&m, 0, &t, -1), 8);
	CU_ASSERT_EQUAL(t.n, 5);
	CU_ASSERT_EQUAL(t.first[0], 3);
	mlog_drop_below(&m, 2);		/* older than what is left */
	CU_ASSERT_EQUAL(m.count, 5);
	mlog_drop_below(&m, 100);	/* beyond the newest: all of it */
	CU_ASSERT_EQUAL(m.count, 0);
	CU_ASSERT_EQUAL(m.bytes, 0);
	CU_ASSERT_EQUAL(m.next_no, 8);	/* numbering goes on */
	append_n(&m, 1, 10);
	CU_ASSERT_EQUAL(replay(&m, 0, &t, -1), 9);
	CU_ASSERT_EQUAL(t.first[0], 8);
	CU_ASSERT_EQUAL(m.overflow, 0);
	mlog_fini(&m);
}

/* The guest link fills: the replay stops at the first frame refused,
 * says which, and goes on from there later. */
static void test_paced_replay(void)
{
	struct mlog m;
	struct taken t;
	uint64_t next;

	CU_ASSERT_EQUAL_FATAL(mlog_init(&m, 16, 1 << 20), 0);
	append_n(&m, 10, 20);
	next = replay(&m, 2, &t, 3);
	CU_ASSERT_EQUAL(next, 5);
	CU_ASSERT_EQUAL(t.n, 3);
	CU_ASSERT_EQUAL(t.first[2], 4);
	next = replay(&m, next, &t, 0);
	CU_ASSERT_EQUAL(next, 5);
	next = replay(&m, next, &t, -1);
	CU_ASSERT_EQUAL(next, 10);
	CU_ASSERT_EQUAL(t.n, 5);
	CU_ASSERT_EQUAL(t.first[0], 5);
	CU_ASSERT_EQUAL(t.first[4], 9);
	mlog_fini(&m);
}

/* Full in frames: the oldest go, counted, across the ring's wrap. */
static void test_ring_wrap(void)
{
	struct mlog m;
	struct taken t;

	CU_ASSERT_EQUAL_FATAL(mlog_init(&m, 4, 1 << 20), 0);
	append_n(&m, 3, 10);
	mlog_drop_below(&m, 2);		/* the head moves off slot 0 */
	append_n(&m, 7, 10);		/* 2..9 would be 8 frames */
	CU_ASSERT_EQUAL(m.count, 4);
	CU_ASSERT_EQUAL(m.overflow, 4);
	CU_ASSERT_EQUAL(m.bytes, 40);
	CU_ASSERT_EQUAL(replay(&m, 0, &t, -1), 10);
	CU_ASSERT_EQUAL(t.n, 4);
	for (int i = 0; i < 4; i++)
		CU_ASSERT_EQUAL(t.first[i], 6 + i);
	mlog_drop_below(&m, 8);
	CU_ASSERT_EQUAL(replay(&m, 7, &t, -1), 10);
	CU_ASSERT_EQUAL(t.n, 2);
	CU_ASSERT_EQUAL(t.first[0], 8);
	mlog_fini(&m);
}

/* Full in bytes: as many of the newest as fit. */
static void test_byte_limit(void)
{
	struct mlog m;
	struct taken t;

	CU_ASSERT_EQUAL_FATAL(mlog_init(&m, 64, 250), 0);
	append_n(&m, 2, 100);
	CU_ASSERT_EQUAL(m.overflow, 0);
	append_n(&m, 1, 100);
	CU_ASSERT_EQUAL(m.count, 2);
	CU_ASSERT_EQUAL(m.bytes, 200);
	CU_ASSERT_EQUAL(m.overflow, 1);
	/* A big one pushes out as many small ones as it needs. */
	append_n(&m, 1, 200);
	CU_ASSERT_EQUAL(m.count, 1);
	CU_ASSERT_EQUAL(m.bytes, 200);
	CU_ASSERT_EQUAL(m.overflow, 3);
	append_n(&m, 5, 10);
	CU_ASSERT_EQUAL(m.count, 6);
	CU_ASSERT_EQUAL(m.bytes, 250);
	CU_ASSERT_EQUAL(replay(&m, 0, &t, -1), 9);
	CU_ASSERT_EQUAL(t.n, 6);
	CU_ASSERT_EQUAL(t.first[0], 3);
	CU_ASSERT_EQUAL(t.len[0], 200);
	/* One over the bound is kept, alone: replay stays exact. */
	append_n(&m, 1, 300);
	CU_ASSERT_EQUAL(m.count, 1);
	CU_ASSERT_EQUAL(m.bytes, 300);
	CU_ASSERT_EQUAL(m.overflow, 9);
	CU_ASSERT_EQUAL(replay(&m, 9, &t, -1), 10);
	CU_ASSERT_EQUAL(t.n, 1);
	mlog_fini(&m);
}

/* A new peer connection numbers from 0 again, with nothing logged. */
static void test_reset(void)
{
	struct mlog m;
	struct taken t;

	CU_ASSERT_EQUAL_FATAL(mlog_init(&m, 4, 1 << 20), 0);
	append_n(&m, 6, 30);
	mlog_reset(&m);
	CU_ASSERT_EQUAL(m.count, 0);
	CU_ASSERT_EQUAL(m.bytes, 0);
	CU_ASSERT_EQUAL(m.next_no, 0);
	CU_ASSERT_EQUAL(replay(&m, 0, &t, -1), 0);
	CU_ASSERT_EQUAL(t.n, 0);
	append_n(&m, 2, 30);
	CU_ASSERT_EQUAL(replay(&m, 0, &t, -1), 2);
	CU_ASSERT_EQUAL(t.n, 2);
	CU_ASSERT_EQUAL(t.first[0], 0);
	mlog_fini(&m);
}

/* A log with no room at all cannot be made (it would divide by zero). */
static void test_no_room(void)
{
	struct mlog m;

	CU_ASSERT_EQUAL(mlog_init(&m, 0, 1 << 20), -EINVAL);
	mlog_fini(&m);
}

void unit_suite_mirrorlog(void)
{
	static const struct unit_case cases[] = {
		{ "numbering and replay", test_numbering_and_replay },
		{ "drop below", test_drop_below },
		{ "paced replay", test_paced_replay },
		{ "ring wrap", test_ring_wrap },
		{ "byte limit", test_byte_limit },
		{ "reset", test_reset },
		{ "no room", test_no_room },
		{ NULL, NULL },
	};

	unit_add_suite("netproxy mirror log", cases);
}
