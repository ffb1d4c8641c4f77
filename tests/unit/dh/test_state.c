/* vCPU and VM state: a round trip through the record format, and damaged
 * records refused without touching the vCPU. */
#include "config.h"
#include <string.h>
#include <sys/ioctl.h>
#include "dh-unit.h"
#include "vcpu_state.h"

static void test_roundtrip(void)
{
	struct vm *vm = dh_vm_new(0);
	struct tlv_buf vb, cb;
	struct kvm_regs regs, back;
	char err[256];

	if (!vm)
		return;
	tlv_buf_init(&vb);
	tlv_buf_init(&cb);
	ioctl(vm->vcpus[0].fd, KVM_GET_REGS, &regs);
	regs.rax = 0x1122334455667788ull;
	regs.rip = 0x100000;
	ioctl(vm->vcpus[0].fd, KVM_SET_REGS, &regs);
	CU_ASSERT_EQUAL(vm_state_save(vm, &vb), 0);
	CU_ASSERT_EQUAL(vcpu_state_save(&vm->vcpus[0], &cb), 0);
	regs.rax = 0;
	ioctl(vm->vcpus[0].fd, KVM_SET_REGS, &regs);
	CU_ASSERT_EQUAL(vm_state_load(vm, vb.data, vb.len, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(vcpu_state_load(vm, cb.data, cb.len, err, sizeof(err)),
			0);
	ioctl(vm->vcpus[0].fd, KVM_GET_REGS, &back);
	CU_ASSERT_EQUAL(back.rax, 0x1122334455667788ull);
	CU_ASSERT_EQUAL(back.rip, 0x100000);

	/* Damage: each refused, the vCPU left alone. */
	regs.rax = 7;
	ioctl(vm->vcpus[0].fd, KVM_SET_REGS, &regs);
	cb.data[0] = 5;			/* vCPU 5 of 1 */
	CU_ASSERT_TRUE(vcpu_state_load(vm, cb.data, cb.len, err,
				       sizeof(err)) < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "vCPU 5"));
	cb.data[0] = 0;
	CU_ASSERT_TRUE(vcpu_state_load(vm, cb.data, cb.len - 8, err,
				       sizeof(err)) < 0);
	CU_ASSERT_TRUE(vcpu_state_load(vm, cb.data, 4, err, sizeof(err)) < 0);
	cb.data[12] = 0x7f;		/* the first section's length */
	CU_ASSERT_TRUE(vcpu_state_load(vm, cb.data, cb.len, err,
				       sizeof(err)) < 0);
	ioctl(vm->vcpus[0].fd, KVM_GET_REGS, &back);
	CU_ASSERT_EQUAL(back.rax, 7);
	CU_ASSERT_TRUE(vm_state_load(vm, vb.data, vb.len / 2, err,
				     sizeof(err)) < 0);
	tlv_buf_fini(&vb);
	tlv_buf_fini(&cb);
	dh_vm_free(vm);
}

void dh_suite_state(void)
{
	static const struct unit_case cases[] = {
		{ "roundtrip", test_roundtrip },
		{ NULL, NULL },
	};

	unit_add_suite("state", cases);
}
