/* The guest's CPUID: what KVM supports, filtered so that a guest sees a
 * stable, migratable CPU.  Both COLO hosts must present the same CPUID;
 * the primary's table travels in the stream. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include "log.h"
#include "vm.h"

#define CPUID_MAX_ENTRIES	256

#define CPUID1_ECX_VMX		(1u << 5)
#define CPUID1_ECX_TSC_DEADLINE	(1u << 24)
#define CPUID1_ECX_HYPERVISOR	(1u << 31)
#define CPUID_8000_0001_ECX_SVM	(1u << 2)
#define CPUID_8000_0007_EDX_INVTSC (1u << 8)
#define KVM_CPUID_SIGNATURE	0x40000000u
#define KVM_CPUID_TIMING	0x40000010u	/* tsc and bus kHz */

static struct kvm_cpuid_entry2 *find(struct kvm_cpuid2 *c, uint32_t fn,
		uint32_t idx)
{
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == fn &&
		    (!(c->entries[i].flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) ||
		     c->entries[i].index == idx))
			return &c->entries[i];
	return NULL;
}

static struct kvm_cpuid_entry2 *add(struct kvm_cpuid2 *c, uint32_t fn)
{
	struct kvm_cpuid_entry2 *e = find(c, fn, 0);

	if (e || c->nent >= CPUID_MAX_ENTRIES)
		return e;
	e = &c->entries[c->nent++];
	memset(e, 0, sizeof(*e));
	e->function = fn;
	return e;
}

int cpuid_build(struct vm *vm, char *err, size_t errlen)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + CPUID_MAX_ENTRIES *
				      sizeof(struct kvm_cpuid_entry2));
	struct kvm_cpuid_entry2 *e;
	int khz;

	if (!c)
		return -ENOMEM;
	c->nent = CPUID_MAX_ENTRIES;
	if (ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c) < 0) {
		snprintf(err, errlen, "KVM_GET_SUPPORTED_CPUID: %s",
			 strerror(errno));
		free(c);
		return -errno;
	}
	/* This KVM cannot scale the TSC, so the guest runs at the host's
	 * rate: both COLO hosts must have the same TSC frequency. */
	khz = ioctl(vm->vcpus[0].fd, KVM_GET_TSC_KHZ, 0);
	vm->tsc_khz = khz > 0 ? (uint32_t)khz : 0;

	if ((e = find(c, 1, 0))) {
		/* No nested virtualisation: it does not survive migration. */
		e->ecx &= ~CPUID1_ECX_VMX;
		e->ecx |= CPUID1_ECX_HYPERVISOR;
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION,
			  KVM_CAP_TSC_DEADLINE_TIMER) > 0)
			e->ecx |= CPUID1_ECX_TSC_DEADLINE;
	}
	if ((e = find(c, 0x80000001u, 0)))
		e->ecx &= ~CPUID_8000_0001_ECX_SVM;
	/* The TSC never changes rate; guests may rely on it. */
	if ((e = find(c, 0x80000007u, 0)))
		e->edx |= CPUID_8000_0007_EDX_INVTSC;
	/* The TSC and LAPIC frequencies, VMware-style, at 0x40000010. */
	if ((e = find(c, KVM_CPUID_SIGNATURE, 0)) && vm->tsc_khz) {
		if (e->eax < KVM_CPUID_TIMING)
			e->eax = KVM_CPUID_TIMING;
		if ((e = add(c, KVM_CPUID_TIMING))) {
			e->eax = vm->tsc_khz;
			e->ebx = 1000000;	/* LAPIC bus: 1 GHz */
		}
	}
	vm->cpuid = c;
	return 0;
}

int cpuid_apply(struct vm *vm, struct vcpu *v)
{
	size_t sz = sizeof(*vm->cpuid) + vm->cpuid->nent *
		    sizeof(struct kvm_cpuid_entry2);
	struct kvm_cpuid2 *c = malloc(sz);
	struct kvm_cpuid_entry2 *e;
	int rc = 0;

	if (!c)
		return -ENOMEM;
	memcpy(c, vm->cpuid, sz);
	/* Per-vCPU: the APIC id and the logical processor count. */
	if ((e = find(c, 1, 0))) {
		e->ebx &= 0x0000ffffu;
		e->ebx |= (uint32_t)v->id << 24;
		e->ebx |= (uint32_t)vm->nr_vcpus << 16;
	}
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function == 0xb ||
		    c->entries[i].function == 0x1f)
			c->entries[i].edx = (uint32_t)v->id;
	if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0)
		rc = -errno;
	free(c);
	return rc;
}
