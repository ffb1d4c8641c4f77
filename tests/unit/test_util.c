/* util: strict number and boolean parsing, mkdir -p, pid-file locks. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "unit.h"
#include "util.h"

static void test_parse_ll(void)
{
	long long v;

	CU_ASSERT_EQUAL(util_parse_ll("42", 0, 100, &v), 0);
	CU_ASSERT_EQUAL(v, 42);
	CU_ASSERT_EQUAL(util_parse_ll("-5", -10, 10, &v), 0);
	CU_ASSERT_EQUAL(v, -5);
	CU_ASSERT_EQUAL(util_parse_ll("101", 0, 100, &v), -ERANGE);
	CU_ASSERT_EQUAL(util_parse_ll("12x", 0, 100, &v), -EINVAL);
	CU_ASSERT_EQUAL(util_parse_ll("", 0, 100, &v), -EINVAL);
	CU_ASSERT_EQUAL(util_parse_ll("99999999999999999999", 0, 100, &v),
			-ERANGE);
}

static void test_parse_bool(void)
{
	bool b;

	CU_ASSERT_EQUAL(util_parse_bool("yes", &b), 0);
	CU_ASSERT_TRUE(b);
	CU_ASSERT_EQUAL(util_parse_bool("OFF", &b), 0);
	CU_ASSERT_FALSE(b);
	CU_ASSERT_EQUAL(util_parse_bool("0", &b), 0);
	CU_ASSERT_FALSE(b);
	CU_ASSERT_EQUAL(util_parse_bool("maybe", &b), -EINVAL);
}

static void test_mkdir_p(void)
{
	char *d = unit_mkdtemp(), path[256];
	struct stat st;

	snprintf(path, sizeof(path), "%s/a/b/c", d);
	CU_ASSERT_EQUAL(util_mkdir_p(path, 0700), 0);
	CU_ASSERT_EQUAL(stat(path, &st), 0);
	CU_ASSERT_TRUE(S_ISDIR(st.st_mode));
	CU_ASSERT_EQUAL(util_mkdir_p(path, 0700), 0);	/* idempotent */
	unit_rmdir(d);
}

/* A second locker, in another process, is refused and told our pid. */
static void test_lock_pidfile(void)
{
	char *d = unit_mkdtemp(), path[256];
	int fd = -1, status;
	pid_t holder, child;

	snprintf(path, sizeof(path), "%s/lock", d);
	CU_ASSERT_EQUAL(util_lock_pidfile(path, &fd, &holder), 0);
	child = fork();
	if (child == 0) {
		int fd2;
		int rc = util_lock_pidfile(path, &fd2, &holder);

		_exit(rc == -EWOULDBLOCK && holder == getppid() ? 0 : 1);
	}
	CU_ASSERT_EQUAL(waitpid(child, &status, 0), child);
	CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(fd);
	child = fork();
	if (child == 0) {
		int fd2;

		_exit(util_lock_pidfile(path, &fd2, &holder) == 0 ? 0 : 1);
	}
	CU_ASSERT_EQUAL(waitpid(child, &status, 0), child);
	CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	unit_rmdir(d);
}

void unit_suite_util(void)
{
	static const struct unit_case cases[] = {
		{ "parse_ll", test_parse_ll },
		{ "parse_bool", test_parse_bool },
		{ "mkdir_p", test_mkdir_p },
		{ "lock_pidfile", test_lock_pidfile },
		{ NULL, NULL },
	};

	unit_add_suite("util", cases);
}
