/* disk_sync: a token is read back only by its own side and for the very
 * image file it was recorded with; forgetting it is durable and
 * idempotent; malformed files read as no token. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "colod.h"
#include "disk_sync.h"
#include "unit.h"

static void touch(const char *path)
{
	FILE *f = fopen(path, "w");

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("x", f);
	fclose(f);
}

static void test_roles_and_identity(void)
{
	struct colod *d = unit_colod_new();
	char img[300], moved[300], tok[DISK_SYNC_TOKEN_LEN + 1];
	char got[DISK_SYNC_TOKEN_LEN + 1];

	snprintf(img, sizeof(img), "%s/web.img", d->cfg.state_dir);
	snprintf(moved, sizeof(moved), "%s/web.img.old", d->cfg.state_dir);
	touch(img);
	CU_ASSERT_EQUAL_FATAL(disk_sync_new(tok), 0);
	CU_ASSERT_EQUAL(strlen(tok), DISK_SYNC_TOKEN_LEN);
	CU_ASSERT_EQUAL(disk_sync_record(d, "web", 0, img, DISK_SYNC_SECONDARY,
					 tok), 0);
	disk_sync_read(d, "web", 0, img, DISK_SYNC_SECONDARY, got);
	CU_ASSERT_STRING_EQUAL(got, tok);
	/* A secondary's token is no primary's, nor another disk's. */
	disk_sync_read(d, "web", 0, img, DISK_SYNC_PRIMARY, got);
	CU_ASSERT_STRING_EQUAL(got, "");
	disk_sync_read(d, "web", 1, img, DISK_SYNC_SECONDARY, got);
	CU_ASSERT_STRING_EQUAL(got, "");
	/* Another file in the image's place (a restore, a new host). */
	CU_ASSERT_EQUAL(rename(img, moved), 0);
	touch(img);
	disk_sync_read(d, "web", 0, img, DISK_SYNC_SECONDARY, got);
	CU_ASSERT_STRING_EQUAL(got, "");
	/* No image at all. */
	unlink(img);
	disk_sync_read(d, "web", 0, img, DISK_SYNC_SECONDARY, got);
	CU_ASSERT_STRING_EQUAL(got, "");
	/* Forgetting is final, and forgetting nothing is fine. */
	touch(img);
	CU_ASSERT_EQUAL(disk_sync_record(d, "web", 0, img, DISK_SYNC_PRIMARY,
					 tok), 0);
	disk_sync_read(d, "web", 0, img, DISK_SYNC_PRIMARY, got);
	CU_ASSERT_STRING_EQUAL(got, tok);
	CU_ASSERT_EQUAL(disk_sync_forget(d, "web", 0), 0);
	disk_sync_read(d, "web", 0, img, DISK_SYNC_PRIMARY, got);
	CU_ASSERT_STRING_EQUAL(got, "");
	CU_ASSERT_EQUAL(disk_sync_forget(d, "web", 0), 0);
	unit_colod_free(d);
}

static void test_malformed(void)
{
	struct colod *d = unit_colod_new();
	char img[300], path[4200], got[DISK_SYNC_TOKEN_LEN + 1];
	FILE *f;

	snprintf(img, sizeof(img), "%s/web.img", d->cfg.state_dir);
	touch(img);
	/* Not a token: refused at recording, empty at reading. */
	CU_ASSERT_EQUAL(disk_sync_record(d, "web", 0, img, DISK_SYNC_PRIMARY,
					 "not-hex"), -EINVAL);
	snprintf(path, sizeof(path), "%s/overlay", d->cfg.state_dir);
	mkdir(path, 0700);
	disk_sync_path(d, "web", 0, path, sizeof(path));
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("zz112233445566778899aabbccddeeff primary 1 2\n", f);
	fclose(f);
	disk_sync_read(d, "web", 0, img, DISK_SYNC_PRIMARY, got);
	CU_ASSERT_STRING_EQUAL(got, "");
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("00112233445566778899aabbccddeeff\n", f);	/* no role */
	fclose(f);
	disk_sync_read(d, "web", 0, img, DISK_SYNC_PRIMARY, got);
	CU_ASSERT_STRING_EQUAL(got, "");
	unit_colod_free(d);
}

void unit_suite_disk_sync(void)
{
	static const struct unit_case cases[] = {
		{ "roles and image identity", test_roles_and_identity },
		{ "malformed token files", test_malformed },
		{ NULL, NULL },
	};

	unit_add_suite("disk_sync", cases);
}
