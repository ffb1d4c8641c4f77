/* blkrep overlay files: versions per epoch, drops, replay after a
 * reopen, a torn last record cut off, a foreign file refused. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "overlay.h"
#include "unit.h"

static uint8_t blk[OVL_BLOCK], got[OVL_BLOCK];

static void fill(uint8_t v)
{
	memset(blk, v, sizeof(blk));
}

static void test_versions_and_replay(void)
{
	char *d = unit_mkdtemp(), path[256], err[256];
	struct overlay o;
	struct stat st;

	snprintf(path, sizeof(path), "%s/h.ovl", d);
	CU_ASSERT_EQUAL_FATAL(ovl_open(&o, path, 1 << 20, err, sizeof(err)), 0);
	fill(1);
	CU_ASSERT_EQUAL(ovl_put(&o, 5, 3, blk), 0);
	fill(2);
	CU_ASSERT_EQUAL(ovl_put(&o, 5, 4, blk), 0);
	fill(3);
	CU_ASSERT_EQUAL(ovl_put(&o, 7, 4, blk), 0);
	CU_ASSERT_TRUE(ovl_has(&o, 5, 3));
	CU_ASSERT_FALSE(ovl_has(&o, 7, 3));
	CU_ASSERT_EQUAL(ovl_read(&o, 5, true, got), 1);
	CU_ASSERT_EQUAL(got[0], 1);
	CU_ASSERT_EQUAL(ovl_read(&o, 5, false, got), 1);
	CU_ASSERT_EQUAL(got[0], 2);
	CU_ASSERT_EQUAL(ovl_read(&o, 6, true, got), 0);
	CU_ASSERT_EQUAL(ovl_drop(&o, 3), 0);
	CU_ASSERT_EQUAL(ovl_read(&o, 5, true, got), 1);
	CU_ASSERT_EQUAL(got[0], 2);
	CU_ASSERT_EQUAL(ovl_max_epoch(&o), 4);
	ovl_close(&o);
	/* Replayed as it was, drop record included. */
	CU_ASSERT_EQUAL_FATAL(ovl_open(&o, path, 1 << 20, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(o.live, 2);
	CU_ASSERT_FALSE(ovl_has(&o, 5, 3));
	CU_ASSERT_EQUAL(ovl_read(&o, 7, true, got), 1);
	CU_ASSERT_EQUAL(got[0], 3);
	/* Dropping everything shrinks the file to its header. */
	CU_ASSERT_EQUAL(ovl_drop(&o, UINT64_MAX), 0);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(st.st_size, 4096);
	ovl_close(&o);
	unit_rmdir(d);
}

static void test_torn_record(void)
{
	char *d = unit_mkdtemp(), path[256], err[256];
	struct overlay o;
	struct stat st;

	snprintf(path, sizeof(path), "%s/a.ovl", d);
	CU_ASSERT_EQUAL_FATAL(ovl_open(&o, path, 1 << 20, err, sizeof(err)), 0);
	fill(9);
	CU_ASSERT_EQUAL(ovl_put(&o, 1, 0, blk), 0);
	CU_ASSERT_EQUAL(ovl_put(&o, 2, 0, blk), 0);
	ovl_close(&o);
	/* A crash in the middle of the second record's data. */
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_EQUAL(truncate(path, st.st_size - 100), 0);
	CU_ASSERT_EQUAL_FATAL(ovl_open(&o, path, 1 << 20, err, sizeof(err)), 0);
	CU_ASSERT_TRUE(ovl_has(&o, 1, 0));
	CU_ASSERT_FALSE(ovl_has(&o, 2, 0));
	CU_ASSERT_EQUAL(o.end, 4096 + 32 + OVL_BLOCK);
	ovl_close(&o);
	/* A flipped bit in a record's data ends the log there too. */
	{
		int fd = open(path, O_RDWR);
		uint8_t x = 0xff;

		CU_ASSERT_EQUAL(pwrite(fd, &x, 1, 4096 + 32 + 10), 1);
		close(fd);
	}
	CU_ASSERT_EQUAL_FATAL(ovl_open(&o, path, 1 << 20, err, sizeof(err)), 0);
	CU_ASSERT_FALSE(ovl_has(&o, 1, 0));
	ovl_close(&o);
	unit_rmdir(d);
}

static void test_foreign_file(void)
{
	char *d = unit_mkdtemp(), path[256], err[256];
	struct overlay o;
	int fd;

	snprintf(path, sizeof(path), "%s/x.ovl", d);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	for (int i = 0; i < 2; i++)
		CU_ASSERT_EQUAL(write(fd, got, sizeof(got)), (ssize_t)sizeof(got));
	close(fd);
	CU_ASSERT_EQUAL(ovl_open(&o, path, 1 << 20, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not a colo-blkrep overlay"));
	unlink(path);
	CU_ASSERT_EQUAL_FATAL(ovl_open(&o, path, 1 << 20, err, sizeof(err)), 0);
	ovl_close(&o);
	CU_ASSERT_EQUAL(ovl_open(&o, path, 2 << 20, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "made for a disk"));
	unit_rmdir(d);
}

/* Dropped versions are reclaimed by rewriting the log; what is live
 * reads the same, also after a reopen. */
static void test_compaction(void)
{
	char *d = unit_mkdtemp(), path[256], err[256];
	struct overlay o;
	struct stat st;

	snprintf(path, sizeof(path), "%s/c.ovl", d);
	CU_ASSERT_EQUAL_FATAL(ovl_open(&o, path, 1 << 20, err, sizeof(err)), 0);
	o.compact_min = 8 * OVL_BLOCK;
	for (uint64_t e = 1; e <= 20; e++) {
		fill((uint8_t)e);
		CU_ASSERT_EQUAL(ovl_put(&o, e, e, blk), 0);
		CU_ASSERT_EQUAL(ovl_put(&o, 100, e, blk), 0);
		CU_ASSERT_EQUAL(ovl_drop(&o, e - 1), 0);
	}
	CU_ASSERT_EQUAL(o.live, 2);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_TRUE(st.st_size < 12 * OVL_BLOCK);
	CU_ASSERT_EQUAL(ovl_read(&o, 100, true, got), 1);
	CU_ASSERT_EQUAL(got[0], 20);
	ovl_close(&o);
	CU_ASSERT_EQUAL_FATAL(ovl_open(&o, path, 1 << 20, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(o.live, 2);
	CU_ASSERT_EQUAL(ovl_read(&o, 20, true, got), 1);
	CU_ASSERT_EQUAL(got[0], 20);
	CU_ASSERT_EQUAL(ovl_read(&o, 19, true, got), 0);
	ovl_close(&o);
	unit_rmdir(d);
}

/* A block holds at most OVL_EPOCHS versions; a refused put leaves the
 * file readable. */
static void test_full_block(void)
{
	char *d = unit_mkdtemp(), path[256], err[256];
	struct overlay o;

	snprintf(path, sizeof(path), "%s/f.ovl", d);
	CU_ASSERT_EQUAL_FATAL(ovl_open(&o, path, 1 << 20, err, sizeof(err)), 0);
	for (uint64_t e = 1; e <= OVL_EPOCHS; e++)
		CU_ASSERT_EQUAL(ovl_put(&o, 3, e, blk), 0);
	CU_ASSERT_EQUAL(ovl_put(&o, 3, OVL_EPOCHS + 1, blk), -ENOSPC);
	CU_ASSERT_EQUAL(ovl_put(&o, 3, 2, blk), 0);	/* replacing is fine */
	ovl_close(&o);
	CU_ASSERT_EQUAL_FATAL(ovl_open(&o, path, 1 << 20, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(o.live, OVL_EPOCHS);
	ovl_close(&o);
	unit_rmdir(d);
}

/* A run of blocks in one write: each block its own record, replayed as
 * such; a run with one block that has no room is refused whole, before
 * anything is logged. */
static void test_run(void)
{
	static uint8_t run[3 * OVL_BLOCK];
	char *d = unit_mkdtemp(), path[256], err[256];
	struct overlay o;
	uint64_t end;

	snprintf(path, sizeof(path), "%s/r.ovl", d);
	CU_ASSERT_EQUAL_FATAL(ovl_open(&o, path, 1 << 20, err, sizeof(err)), 0);
	for (int i = 0; i < 3; i++)
		memset(run + i * OVL_BLOCK, 0x10 + i, OVL_BLOCK);
	CU_ASSERT_EQUAL(ovl_put_run(&o, 20, 3, 7, run), 0);
	CU_ASSERT_EQUAL(ovl_put_run(&o, 0, OVL_RUN_MAX + 1, 7, run), -EINVAL);
	CU_ASSERT_EQUAL(ovl_put_run(&o, 0, 0, 7, run), 0);
	for (uint64_t e = 1; e <= OVL_EPOCHS; e++)
		CU_ASSERT_EQUAL(ovl_put(&o, 31, e, blk), 0);
	end = o.end;
	CU_ASSERT_EQUAL(ovl_put_run(&o, 30, 2, OVL_EPOCHS + 1, run), -ENOSPC);
	CU_ASSERT_EQUAL(o.end, end);
	CU_ASSERT_FALSE(ovl_has(&o, 30, OVL_EPOCHS + 1));
	CU_ASSERT_EQUAL(ovl_read(&o, 30, false, got), 0);
	ovl_close(&o);
	CU_ASSERT_EQUAL_FATAL(ovl_open(&o, path, 1 << 20, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(o.live, 3 + OVL_EPOCHS);
	for (int i = 0; i < 3; i++) {
		CU_ASSERT_TRUE(ovl_has(&o, 20 + (uint64_t)i, 7));
		CU_ASSERT_EQUAL(ovl_read(&o, 20 + (uint64_t)i, true, got), 1);
		CU_ASSERT_EQUAL(memcmp(got, run + i * OVL_BLOCK, OVL_BLOCK), 0);
	}
	CU_ASSERT_FALSE(ovl_has(&o, 23, 7));
	ovl_close(&o);
	unit_rmdir(d);
}

void unit_suite_overlay(void)
{
	static const struct unit_case cases[] = {
		{ "versions and replay", test_versions_and_replay },
		{ "torn record", test_torn_record },
		{ "foreign file", test_foreign_file },
		{ "compaction", test_compaction },
		{ "full block", test_full_block },
		{ "run of blocks", test_run },
		{ NULL, NULL },
	};

	unit_add_suite("blkrep overlay", cases);
}
