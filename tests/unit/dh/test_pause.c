/* Pause reasons: the VM runs only when no reason holds it.  A real vCPU
 * spins on a counter in guest RAM; "running" means the counter moves. */
#include "config.h"
#include <string.h>
#include <unistd.h>
#include "boot.h"
#include "dh-unit.h"
#include "vm.h"

#define CODE	0x1000
#define COUNTER	0x2000

/* inc dword [COUNTER]; jmp back: flat 32-bit protected mode. */
static int load_spinner(struct vm *vm)
{
	static const uint8_t code[] = { 0xff, 0x05, 0x00, 0x20, 0x00, 0x00,
					0xeb, 0xf8 };

	memcpy(vm->mem.base + CODE, code, sizeof(code));
	return boot_flat32(&vm->vcpus[0], CODE, 0);
}

static uint32_t counter(struct vm *vm)
{
	return __atomic_load_n((uint32_t *)(vm->mem.base + COUNTER),
			       __ATOMIC_RELAXED);
}

/* The counter moves within 2 s (ring 0 may be emulated: slow). */
static bool moves(struct vm *vm)
{
	uint32_t c0 = counter(vm);

	for (int i = 0; i < 200; i++) {
		usleep(10000);
		if (counter(vm) != c0)
			return true;
	}
	return false;
}

static bool still(struct vm *vm)
{
	uint32_t c0 = counter(vm);

	usleep(50000);
	return counter(vm) == c0;
}

static void test_reasons(void)
{
	struct vm *vm = dh_vm_new(DIRTY_MODE_BITMAP);

	if (!vm)
		return;
	CU_ASSERT_EQUAL_FATAL(load_spinner(vm), 0);
	CU_ASSERT_EQUAL_FATAL(vm_start(vm), 0);
	CU_ASSERT_TRUE(moves(vm));
	CU_ASSERT_EQUAL(vm_get_state(vm), VM_RUNNING);

	/* A checkpoint is in flight when the user's cont comes: the VM
	 * must stay paused until the checkpoint lets go. */
	vm_pause(vm, VM_PAUSE_COLO);
	CU_ASSERT_TRUE(still(vm));
	vm_pause(vm, VM_PAUSE_USER);
	vm_resume(vm, VM_PAUSE_USER);
	CU_ASSERT_EQUAL(vm_get_state(vm), VM_PAUSED);
	CU_ASSERT_EQUAL(vm_pause_reasons(vm), VM_PAUSE_COLO);
	CU_ASSERT_TRUE(still(vm));
	vm_resume(vm, VM_PAUSE_COLO);
	CU_ASSERT_TRUE(moves(vm));

	/* The checkpoint's resume does not undo the user's pause. */
	vm_pause(vm, VM_PAUSE_USER);
	vm_pause(vm, VM_PAUSE_COLO);
	vm_resume(vm, VM_PAUSE_COLO);
	CU_ASSERT_EQUAL(vm_get_state(vm), VM_PAUSED);
	CU_ASSERT_TRUE(still(vm));

	/* One reason twice is one reason; dropping an absent one is a
	 * no-op. */
	vm_pause(vm, VM_PAUSE_USER);
	vm_resume(vm, VM_PAUSE_MIGRATE);
	CU_ASSERT_TRUE(still(vm));
	vm_resume(vm, VM_PAUSE_USER);
	CU_ASSERT_EQUAL(vm_pause_reasons(vm), 0u);
	CU_ASSERT_EQUAL(vm_get_state(vm), VM_RUNNING);
	CU_ASSERT_TRUE(moves(vm));
	dh_vm_free(vm);
}

void dh_suite_pause(void)
{
	static const struct unit_case cases[] = {
		{ "reasons", test_reasons },
		{ NULL, NULL },
	};

	unit_add_suite("pause", cases);
}
