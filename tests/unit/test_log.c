/* log: level filtering, a file target and its reopening after a rotation,
 * and the level and target parsers. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "unit.h"

/* The whole of a small file, as a string (empty when absent). */
static void slurp(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, size - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
}

/* Back to what unit-main set up, for the suites that follow. */
static void restore_stderr_log(enum log_level was)
{
	log_fini();
	log_init("unit", LOG_TO_STDERR, NULL, was);
}

static void test_levels_and_file(void)
{
	enum log_level was = log_get_level();
	char *d = unit_mkdtemp(), path[300], moved[310], buf[4096];

	snprintf(path, sizeof(path), "%s/t.log", d);
	snprintf(moved, sizeof(moved), "%s.1", path);
	CU_ASSERT_EQUAL_FATAL(log_init("t", LOG_TO_FILE, path, LOG_LVL_WARN), 0);
	log_debug("line-debug");
	log_info("line-info");
	log_warn("line-warn");
	log_error("line-error");
	slurp(path, buf, sizeof(buf));
	CU_ASSERT_PTR_NULL(strstr(buf, "line-debug"));
	CU_ASSERT_PTR_NULL(strstr(buf, "line-info"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "line-warn"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "line-error"));

	log_set_level(LOG_LVL_DEBUG);
	CU_ASSERT_EQUAL(log_get_level(), LOG_LVL_DEBUG);
	log_debug("line-debug-now");
	slurp(path, buf, sizeof(buf));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "line-debug-now"));

	/* As logrotate does: move the file, then ask for a reopen. */
	CU_ASSERT_EQUAL(rename(path, moved), 0);
	CU_ASSERT_EQUAL(log_reopen(), 0);
	log_error("line-after-rotation");
	slurp(path, buf, sizeof(buf));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "line-after-rotation"));
	slurp(moved, buf, sizeof(buf));
	CU_ASSERT_PTR_NULL(strstr(buf, "line-after-rotation"));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "line-warn"));

	restore_stderr_log(was);
	unit_rmdir(d);
}

static void test_unwritable_file(void)
{
	enum log_level was = log_get_level();

	/* The caller hears of it; logging goes on to stderr. */
	CU_ASSERT_TRUE(log_init("t", LOG_TO_FILE, "/nonexistent-dir/x.log",
				LOG_LVL_ERROR) < 0);
	restore_stderr_log(was);
}

static void test_parsers(void)
{
	enum log_target t;
	const char *path = NULL;

	CU_ASSERT_EQUAL(log_level_parse("debug"), LOG_LVL_DEBUG);
	CU_ASSERT_EQUAL(log_level_parse("error"), LOG_LVL_ERROR);
	CU_ASSERT_TRUE(log_level_parse("loud") < 0);
	CU_ASSERT_STRING_EQUAL(log_level_name(LOG_LVL_WARN),
			       log_level_name(log_level_parse(
				       log_level_name(LOG_LVL_WARN))));
	CU_ASSERT_EQUAL(log_target_parse("syslog", &t, &path), 0);
	CU_ASSERT_EQUAL(t, LOG_TO_SYSLOG);
	CU_ASSERT_EQUAL(log_target_parse("file:/var/log/x.log", &t, &path), 0);
	CU_ASSERT_EQUAL(t, LOG_TO_FILE);
	CU_ASSERT_STRING_EQUAL(path, "/var/log/x.log");
	CU_ASSERT_TRUE(log_target_parse("file:", &t, &path) < 0);
	CU_ASSERT_TRUE(log_target_parse("printer", &t, &path) < 0);
}

void unit_suite_log(void)
{
	static const struct unit_case cases[] = {
		{ "levels and file", test_levels_and_file },
		{ "unwritable file", test_unwritable_file },
		{ "parsers", test_parsers },
		{ NULL, NULL },
	};

	unit_add_suite("log", cases);
}
