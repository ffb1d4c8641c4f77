/* The unit test binary: registers every suite and runs them with CUnit's
 * basic runner, whose summary tests/run-tests.sh reads. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/Basic.h>
#include "log.h"
#include "unit.h"

int main(void)
{
	unsigned failed;

	/* Tests provoke errors on purpose; keep their logs quiet. */
	log_init("unit", LOG_TO_STDERR, NULL,
		 getenv("UNIT_DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_ERROR);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	unit_suite_conf();
	unit_suite_log();
	unit_suite_ctl();
	unit_suite_fsm();
	unit_suite_params();
	unit_suite_qapi();
	unit_suite_state();
	unit_suite_util();
	unit_suite_frame();
	unit_suite_compare();
	unit_suite_rewriter();
	unit_suite_garp();
	unit_suite_mirrorlog();
	unit_suite_link();
	unit_suite_overlay();
	unit_suite_sha256();
	unit_suite_disk_sync();
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	log_fini();
	return failed ? 1 : 0;
}
