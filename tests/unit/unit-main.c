/* The unit test binary: registers every suite and runs them with CUnit's
 * basic runner, whose summary tests/run-tests.sh reads. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/Basic.h>
#include "log.h"
#include "unit.h"

void unit_add_suite(const char *name, const struct unit_case *cases)
{
	CU_pSuite s = CU_add_suite(name, NULL, NULL);

	if (!s) {
		fprintf(stderr, "CU_add_suite(%s) failed\n", name);
		exit(2);
	}
	for (; cases->name; cases++)
		if (!CU_add_test(s, cases->name, cases->fn)) {
			fprintf(stderr, "CU_add_test(%s) failed\n", cases->name);
			exit(2);
		}
}

char *unit_mkdtemp(void)
{
	char *d = strdup("/tmp/colo-unit.XXXXXX");

	if (!d || !mkdtemp(d)) {
		perror("mkdtemp");
		exit(2);
	}
	return d;
}

void unit_rmdir(char *dir)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	free(dir);
}

int main(void)
{
	unsigned failed;

	/* Tests provoke errors on purpose; keep their logs quiet. */
	log_init("unit", LOG_TO_STDERR, NULL,
		 getenv("UNIT_DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_ERROR);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	unit_suite_conf();
	unit_suite_ctl();
	unit_suite_fsm();
	unit_suite_params();
	unit_suite_qapi();
	unit_suite_state();
	unit_suite_util();
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	log_fini();
	return failed ? 1 : 0;
}
