/* conf: the key = value parser, its errors with file:line, quoting. */
#include "config.h"
#include <errno.h>
#include <string.h>
#include "conf.h"
#include "unit.h"

static int parse(struct conf *c, const char *text, char *err, size_t len)
{
	return conf_parse(c, "t.conf", text, strlen(text), err, len);
}

static void test_basic(void)
{
	struct conf c;
	char err[256] = "";
	int line = 0;

	CU_ASSERT_EQUAL(parse(&c, "# comment\n\n a = 1 \nb=two words\r\n"
			      "a = 3\n", err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(conf_get(&c, "a", &line), "3");
	CU_ASSERT_EQUAL(line, 5);	/* the last assignment wins */
	CU_ASSERT_STRING_EQUAL(conf_get(&c, "b", NULL), "two words");
	CU_ASSERT_PTR_NULL(conf_get(&c, "c", NULL));
	conf_fini(&c);
}

static void test_quotes(void)
{
	struct conf c;
	char err[256];

	CU_ASSERT_EQUAL(parse(&c, "k = \"a \\\"q\\\" # not a comment\"\n",
			      err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(conf_get(&c, "k", NULL),
			       "a \"q\" # not a comment");
	conf_fini(&c);
	CU_ASSERT_EQUAL(parse(&c, "k = \"open\n", err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.conf:1:"));
	conf_fini(&c);
}

static void test_errors(void)
{
	static const struct {
		const char *text, *want;
	} bad[] = {
		{ "a = 1\nnoequals\n", "t.conf:2: expected 'key = value'" },
		{ "= 1\n", "t.conf:1: invalid key" },
		{ "a b = 1\n", "t.conf:1: invalid key" },
		{ "a = \"x\"y\"\n", "t.conf:1: badly quoted" },
	};
	struct conf c;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		CU_ASSERT_EQUAL(parse(&c, bad[i].text, err, sizeof(err)),
				-EINVAL);
		CU_ASSERT_PTR_NOT_NULL(strstr(err, bad[i].want));
		conf_fini(&c);
	}
	/* NUL bytes are an error, not a truncation. */
	CU_ASSERT_EQUAL(conf_parse(&c, "t.conf", "a = 1\nb\0 = 2\n", 13, err,
				   sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.conf:2: NUL"));
	conf_fini(&c);
}

static void test_unknown_keys(void)
{
	static const char *const known[] = { "a", "b", NULL };
	struct conf c;
	char err[256];

	CU_ASSERT_EQUAL(parse(&c, "a = 1\nzz = 2\n", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(conf_check_keys(&c, known, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "t.conf:2: unknown key 'zz'"));
	conf_fini(&c);
}

static void test_long_line(void)
{
	static char text[9000];
	struct conf c;
	char err[256];

	memset(text, 'a', sizeof(text) - 1);
	CU_ASSERT_EQUAL(parse(&c, text, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "line too long"));
	conf_fini(&c);
}

void unit_suite_conf(void)
{
	static const struct unit_case cases[] = {
		{ "basic", test_basic },
		{ "quotes", test_quotes },
		{ "errors", test_errors },
		{ "unknown_keys", test_unknown_keys },
		{ "long_line", test_long_line },
		{ NULL, NULL },
	};

	unit_add_suite("conf", cases);
}
