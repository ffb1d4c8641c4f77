/* params: defaults, ranges, colod.conf values with file:line errors, and
 * persistence that never trusts a bad stored value. */
#include "config.h"
#include <errno.h>
#include <string.h>
#include "params.h"
#include "unit.h"

static void test_defaults_and_ranges(void)
{
	struct parameters p;
	struct colo_error err = { 0 };

	params_defaults(&p);
	CU_ASSERT_EQUAL(p.checkpoint_interval, 2000);
	CU_ASSERT_EQUAL(p.heartbeat_interval, 100);
	CU_ASSERT_EQUAL(p.heartbeat_misses, 3);
	CU_ASSERT_TRUE(p.auto_failover);
	CU_ASSERT_EQUAL(params_validate(&p, &err), 0);
	p.heartbeat_misses = 0;
	CU_ASSERT_EQUAL(params_validate(&p, &err), -ERANGE);
	CU_ASSERT_EQUAL(err.cls, ERROR_CLASS_INVALID_PARAMETER);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.desc, "heartbeat-misses"));
}

static void test_from_conf(void)
{
	const char *good = "checkpoint_interval = 250\nauto_failover = off\n";
	const char *bad = "\n\ncheckpoint_interval = 5\n";
	struct parameters p;
	struct conf c;
	char err[256] = "";

	params_defaults(&p);
	CU_ASSERT_EQUAL(conf_parse(&c, "x.conf", good, strlen(good), err,
				   sizeof(err)), 0);
	CU_ASSERT_EQUAL(params_from_conf(&p, &c, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(p.checkpoint_interval, 250);
	CU_ASSERT_FALSE(p.auto_failover);
	conf_fini(&c);
	CU_ASSERT_EQUAL(conf_parse(&c, "x.conf", bad, strlen(bad), err,
				   sizeof(err)), 0);
	CU_ASSERT_EQUAL(params_from_conf(&p, &c, err, sizeof(err)), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "x.conf:3: checkpoint_interval"));
	conf_fini(&c);
}

static void test_store_load(void)
{
	char *d = unit_mkdtemp(), err[512];
	struct state st;
	struct parameters p, q;

	CU_ASSERT_EQUAL_FATAL(state_open(&st, d, err, sizeof(err)), 0);
	params_defaults(&p);
	p.max_downtime = 77;
	p.auto_failover = false;
	state_begin(&st);
	CU_ASSERT_EQUAL(params_store(&st, &p), 0);
	state_commit(&st);
	params_defaults(&q);
	CU_ASSERT_EQUAL(params_load(&st, &q), 0);
	CU_ASSERT_EQUAL(memcmp(&p, &q, sizeof(p)), 0);
	/* A value edited out of range in the file is ignored. */
	state_param_set(&st, "heartbeat-misses", "100000");
	params_defaults(&q);
	CU_ASSERT_EQUAL(params_load(&st, &q), 0);
	CU_ASSERT_EQUAL(q.heartbeat_misses, 3);
	state_close(&st);
	unit_rmdir(d);
}

void unit_suite_params(void)
{
	static const struct unit_case cases[] = {
		{ "defaults_and_ranges", test_defaults_and_ranges },
		{ "from_conf", test_from_conf },
		{ "store_load", test_store_load },
		{ NULL, NULL },
	};

	unit_add_suite("params", cases);
}
