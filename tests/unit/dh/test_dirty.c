/* Dirty tracking: device-model writes are in the harvest, and a harvest
 * that is aborted loses nothing; one that is committed is done. */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include "dh-unit.h"
#include "vm.h"

static size_t harvest(struct vm *vm, uint64_t *bm)
{
	memset(bm, 0, vm->mem.bitmap_words * sizeof(uint64_t));
	CU_ASSERT_EQUAL(dirty_harvest(vm, bm), 0);
	return dirty_count(bm, vm->mem.bitmap_words);
}

static bool bit(const uint64_t *bm, uint64_t pfn)
{
	return bm[pfn / 64] & (1ull << (pfn % 64));
}

static void run(int mode)
{
	struct vm *vm = dh_vm_new(mode);
	uint64_t *bm;
	uint8_t x = 1;

	if (!vm)
		return;
	bm = calloc(vm->mem.bitmap_words, sizeof(uint64_t));
	CU_ASSERT_EQUAL(dirty_harvest(vm, bm), -ENOTCONN);
	CU_ASSERT_EQUAL(dirty_enable(vm, true), 0);
	/* Enabling counts all of RAM once. */
	CU_ASSERT_EQUAL(harvest(vm, bm), vm->mem.npages);
	dirty_commit(vm);
	CU_ASSERT_EQUAL(harvest(vm, bm), 0);
	dirty_commit(vm);

	/* The device model writes three pages (one write spans two). */
	mem_write(&vm->mem, 10 * 4096, &x, 1);
	mem_write(&vm->mem, 20 * 4096 - 1, "ab", 2);
	CU_ASSERT_EQUAL(harvest(vm, bm), 3);
	CU_ASSERT_TRUE(bit(bm, 10) && bit(bm, 19) && bit(bm, 20));
	/* Sending failed: abort.  Nothing is lost, and new writes join. */
	dirty_abort(vm);
	mem_write(&vm->mem, 30 * 4096, &x, 1);
	CU_ASSERT_EQUAL(harvest(vm, bm), 4);
	CU_ASSERT_TRUE(bit(bm, 10) && bit(bm, 30));
	dirty_commit(vm);
	CU_ASSERT_EQUAL(harvest(vm, bm), 0);
	dirty_commit(vm);
	/* Out-of-range device writes are clipped, not crashes. */
	mem_mark_dirty(&vm->mem, vm->mem.size - 1, 1ull << 40);
	mem_mark_dirty(&vm->mem, ~0ull, 10);
	CU_ASSERT_EQUAL(harvest(vm, bm), 1);
	CU_ASSERT_EQUAL(mem_write(&vm->mem, vm->mem.size, &x, 1), -EFAULT);
	CU_ASSERT_PTR_NULL(mem_ptr(&vm->mem, ~0ull - 2, 8));
	dirty_commit(vm);
	CU_ASSERT_EQUAL(dirty_enable(vm, false), 0);
	free(bm);
	dh_vm_free(vm);
}

static void test_bitmap(void)
{
	run(DIRTY_MODE_BITMAP);
}

static void test_ring(void)
{
	run(DIRTY_MODE_RING);
}

void dh_suite_dirty(void)
{
	static const struct unit_case cases[] = {
		{ "bitmap", test_bitmap },
		{ "ring", test_ring },
		{ NULL, NULL },
	};

	unit_add_suite("dirty", cases);
}
