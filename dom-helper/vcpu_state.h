/* A vCPU's complete architectural state, read and written with the KVM
 * ioctls in an order that survives a move to a fresh VM: MP state, regs,
 * sregs, xsave, xcrs, debugregs, LAPIC, then MSRs (the TSC before the
 * TSC deadline, both after the LAPIC, which would reset the deadline
 * timer), and vcpu events last.  Also the VM-wide state: CPUID, clock,
 * PIT and the three irqchips. */
#ifndef DH_VCPU_STATE_H
#define DH_VCPU_STATE_H

#include <linux/kvm.h>
#include "tlv.h"
#include "vm.h"

#define VCPU_MAX_MSRS 96

/* Builds vm->msr_index: the MSRs of KVM_GET_MSR_INDEX_LIST that this
 * vCPU can actually read. */
int vcpu_state_probe_msrs(struct vm *vm, char *err, size_t errlen);

/* Serialises vCPU v (which must be parked) into a VCPU_STATE body. */
int vcpu_state_save(struct vcpu *v, struct tlv_buf *out);
/* Parses and checks a VCPU_STATE body; applies it only if all is valid. */
int vcpu_state_load(struct vm *vm, const uint8_t *body, size_t len,
		char *err, size_t errlen);

/* VM_STATE: CPUID, TSC rate, clock, PIT2, PIC master/slave, IOAPIC. */
int vm_state_save(struct vm *vm, struct tlv_buf *out);
int vm_state_load(struct vm *vm, const uint8_t *body, size_t len,
		char *err, size_t errlen);

#endif
