/* Console sinks: UTF-8 sanitising and the history ring. */
#include "config.h"
#include <string.h>
#include "console.h"
#include "dh-unit.h"

static void test_sanitize(void)
{
	char a[] = "ok \xc3\xa9 \xff\xfe \xe2\x82 end \xf0\x9f\x98\x80";

	console_sanitize(a, strlen(a));
	CU_ASSERT_STRING_EQUAL(a, "ok \xc3\xa9 ?? ?? end \xf0\x9f\x98\x80");
}

static void test_history(void)
{
	static struct console c;
	static char buf[CONSOLE_HISTORY + 10];
	char out[16];
	size_t n;

	CU_ASSERT_EQUAL(console_init(&c, NULL), 0);
	memset(buf, 'a', sizeof(buf));
	memcpy(buf + sizeof(buf) - 5, "tail!", 5);
	console_output(&c, (const uint8_t *)buf, sizeof(buf));
	n = console_tail(&c, out, 5);
	CU_ASSERT_EQUAL(n, 5);
	CU_ASSERT_EQUAL(memcmp(out, "tail!", 5), 0);
	CU_ASSERT_EQUAL(c.hist_len, CONSOLE_HISTORY);
	/* Too much for the live buffer: counted as dropped, and the log and
	 * history still have it. */
	CU_ASSERT_EQUAL(c.dropped, sizeof(buf));
	console_output(&c, (const uint8_t *)"xyz", 3);
	n = console_take(&c, out, sizeof(out));
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(memcmp(out, "xyz", 3), 0);
	CU_ASSERT_EQUAL(console_take(&c, out, sizeof(out)), 0);
	console_fini(&c);
}

void dh_suite_console(void)
{
	static const struct unit_case cases[] = {
		{ "sanitize", test_sanitize },
		{ "history", test_history },
		{ NULL, NULL },
	};

	unit_add_suite("console", cases);
}
