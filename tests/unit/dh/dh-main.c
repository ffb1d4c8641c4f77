/* The dom-helper unit test binary. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/Basic.h>
#include "dh-unit.h"
#include "log.h"
#include "vm.h"

struct vm *dh_vm_new(int dirty_mode)
{
	struct vm_config c = { 4u << 20, 1, (enum dirty_mode)dirty_mode };
	struct vm *vm = calloc(1, sizeof(*vm));
	char err[256];

	if (!vm || vm_create(vm, &c, err, sizeof(err)) < 0) {
		fprintf(stderr, "  (no VM: %s; KVM parts of this test skipped)\n",
			vm ? err : "out of memory");
		free(vm);
		return NULL;
	}
	return vm;
}

void dh_vm_free(struct vm *vm)
{
	if (vm)
		vm_destroy(vm);
	free(vm);
}

int main(void)
{
	unsigned failed;

	log_init("dh-unit", LOG_TO_STDERR, NULL,
		 getenv("UNIT_DEBUG") ? LOG_LVL_DEBUG : LOG_LVL_ERROR);
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 2;
	dh_suite_stream();
	dh_suite_elf();
	dh_suite_dirty();
	dh_suite_state();
	dh_suite_console();
	dh_suite_vq();
	dh_suite_pause();
	dh_suite_watch();
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failed = CU_get_number_of_tests_failed() + CU_get_number_of_failures();
	CU_cleanup_registry();
	return failed ? 1 : 0;
}
