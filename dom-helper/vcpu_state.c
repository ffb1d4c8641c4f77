/* vCPU and VM state capture and restore for checkpoints and save files.
 * Loads are checked completely (sizes, tags, vCPU ids) before anything is
 * written to KVM, so a corrupt record leaves the VM as it was. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include "log.h"
#include "vcpu_state.h"

enum vcpu_tag {
	VT_REGS = 1, VT_SREGS, VT_XSAVE, VT_XCRS, VT_LAPIC, VT_MSRS,
	VT_EVENTS, VT_MP_STATE, VT_DEBUGREGS, VT__MAX
};

enum vm_tag {
	MT_CPUID = 1, MT_TSC_KHZ, MT_CLOCK, MT_PIT2, MT_PIC_MASTER,
	MT_PIC_SLAVE, MT_IOAPIC, MT__MAX
};

#define MSR_IA32_TSC		0x10
#define MSR_IA32_TSC_DEADLINE	0x6e0

struct msrs_buf {
	struct kvm_msrs hdr;
	struct kvm_msr_entry e[VCPU_MAX_MSRS];
};

int vcpu_state_probe_msrs(struct vm *vm, char *err, size_t errlen)
{
	struct {
		struct kvm_msr_list l;
		uint32_t idx[256];
	} list = { .l.nmsrs = 256 };
	struct msrs_buf m;
	int n, got;

	if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &list) < 0) {
		snprintf(err, errlen, "KVM_GET_MSR_INDEX_LIST: %s",
			 strerror(errno));
		return -errno;
	}
	n = 0;
	for (uint32_t i = 0; i < list.l.nmsrs && n < VCPU_MAX_MSRS; i++)
		vm->msr_index[n++] = list.idx[i];
	/* Drop the ones KVM lists but this vCPU cannot read. */
	for (;;) {
		memset(&m, 0, sizeof(m));
		m.hdr.nmsrs = (uint32_t)n;
		for (int i = 0; i < n; i++)
			m.e[i].index = vm->msr_index[i];
		got = ioctl(vm->vcpus[0].fd, KVM_GET_MSRS, &m);
		if (got < 0) {
			snprintf(err, errlen, "KVM_GET_MSRS: %s", strerror(errno));
			return -errno;
		}
		if (got >= n)
			break;
		log_debug("MSR %#x is listed but not readable; not saved",
			  vm->msr_index[got]);
		memmove(&vm->msr_index[got], &vm->msr_index[got + 1],
			(size_t)(n - got - 1) * sizeof(uint32_t));
		n--;
	}
	vm->nr_msrs = n;
	return 0;
}

static int get_msrs(struct vcpu *v, struct msrs_buf *m)
{
	struct vm *vm = v->vm;

	memset(m, 0, sizeof(*m));
	m->hdr.nmsrs = (uint32_t)vm->nr_msrs;
	for (int i = 0; i < vm->nr_msrs; i++)
		m->e[i].index = vm->msr_index[i];
	if (ioctl(v->fd, KVM_GET_MSRS, m) != vm->nr_msrs)
		return -EIO;
	return 0;
}

int vcpu_state_save(struct vcpu *v, struct tlv_buf *out)
{
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xcrs xcrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events ev;
	struct kvm_mp_state mp;
	struct kvm_debugregs dbg;
	struct msrs_buf m;
	size_t xsz = v->vm->xsave_size;
	void *xsave = calloc(1, xsz);
	uint32_t id = (uint32_t)v->id, pad = 0;
	int rc = -EIO;

	if (!xsave)
		return -ENOMEM;
	if (ioctl(v->fd, KVM_GET_MP_STATE, &mp) < 0 ||
	    ioctl(v->fd, KVM_GET_REGS, &regs) < 0 ||
	    ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0 ||
	    ioctl(v->fd, xsz > sizeof(struct kvm_xsave) ? KVM_GET_XSAVE2 :
		  KVM_GET_XSAVE, xsave) < 0 ||
	    ioctl(v->fd, KVM_GET_XCRS, &xcrs) < 0 ||
	    ioctl(v->fd, KVM_GET_DEBUGREGS, &dbg) < 0 ||
	    ioctl(v->fd, KVM_GET_LAPIC, &lapic) < 0 ||
	    get_msrs(v, &m) < 0 ||
	    ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) < 0) {
		rc = -errno ? -errno : -EIO;
		log_error("vCPU %d: state capture failed: %m", v->id);
		goto out;
	}
	if (tlv_put_raw(out, &id, 4) || tlv_put_raw(out, &pad, 4) ||
	    tlv_put(out, VT_MP_STATE, &mp, sizeof(mp)) ||
	    tlv_put(out, VT_REGS, &regs, sizeof(regs)) ||
	    tlv_put(out, VT_SREGS, &sregs, sizeof(sregs)) ||
	    tlv_put(out, VT_XSAVE, xsave, xsz) ||
	    tlv_put(out, VT_XCRS, &xcrs, sizeof(xcrs)) ||
	    tlv_put(out, VT_DEBUGREGS, &dbg, sizeof(dbg)) ||
	    tlv_put(out, VT_LAPIC, &lapic, sizeof(lapic)) ||
	    tlv_put(out, VT_MSRS, m.e, m.hdr.nmsrs * sizeof(m.e[0])) ||
	    tlv_put(out, VT_EVENTS, &ev, sizeof(ev))) {
		rc = -ENOMEM;
		goto out;
	}
	rc = 0;
out:
	free(xsave);
	return rc;
}

/* Sections of one VCPU_STATE body, located and size-checked. */
struct vcpu_sections {
	const uint8_t *p[VT__MAX];
	uint32_t len[VT__MAX];
};

static const size_t vcpu_sizes[VT__MAX] = {
	[VT_REGS] = sizeof(struct kvm_regs),
	[VT_SREGS] = sizeof(struct kvm_sregs),
	[VT_XCRS] = sizeof(struct kvm_xcrs),
	[VT_LAPIC] = sizeof(struct kvm_lapic_state),
	[VT_EVENTS] = sizeof(struct kvm_vcpu_events),
	[VT_MP_STATE] = sizeof(struct kvm_mp_state),
	[VT_DEBUGREGS] = sizeof(struct kvm_debugregs),
};

static int parse_vcpu(struct vm *vm, const uint8_t *body, size_t len,
		uint32_t *id, struct vcpu_sections *s, char *err, size_t errlen)
{
	struct tlv_iter it;
	uint32_t tag, slen;
	const uint8_t *d;
	int rc;

	memset(s, 0, sizeof(*s));
	if (len < 8) {
		snprintf(err, errlen, "VCPU_STATE: too short");
		return -EPROTO;
	}
	memcpy(id, body, 4);
	if (*id >= (uint32_t)vm->nr_vcpus) {
		snprintf(err, errlen, "VCPU_STATE: vCPU %u, but the VM has %d",
			 *id, vm->nr_vcpus);
		return -EPROTO;
	}
	tlv_iter_init(&it, body + 8, len - 8);
	while ((rc = tlv_next(&it, &tag, &d, &slen)) > 0) {
		if (tag == 0 || tag >= VT__MAX || s->p[tag]) {
			snprintf(err, errlen, "VCPU_STATE: bad or repeated "
				 "section %u", tag);
			return -EPROTO;
		}
		s->p[tag] = d;
		s->len[tag] = slen;
	}
	if (rc < 0) {
		snprintf(err, errlen, "VCPU_STATE: malformed sections");
		return -EPROTO;
	}
	for (int t = 1; t < VT__MAX; t++) {
		bool ok = s->p[t] != NULL;

		if (ok && t == VT_XSAVE)
			ok = s->len[t] == vm->xsave_size;
		else if (ok && t == VT_MSRS)
			ok = s->len[t] % sizeof(struct kvm_msr_entry) == 0 &&
			     s->len[t] / sizeof(struct kvm_msr_entry) <=
			     VCPU_MAX_MSRS;
		else if (ok)
			ok = s->len[t] == vcpu_sizes[t];
		if (!ok) {
			snprintf(err, errlen, "VCPU_STATE: section %d missing or "
				 "of the wrong size", t);
			return -EPROTO;
		}
	}
	return 0;
}

/* KVM_SET_MSRS in two steps: everything but the TSC deadline, with the
 * TSC first; then the deadline, which needs both TSC and LAPIC set. */
static int set_msrs(struct vcpu *v, const uint8_t *p, uint32_t len)
{
	struct msrs_buf m, dl;
	uint32_t n = len / sizeof(struct kvm_msr_entry);
	const struct kvm_msr_entry *e = (const void *)p;

	memset(&m, 0, sizeof(m));
	memset(&dl, 0, sizeof(dl));
	for (uint32_t i = 0; i < n; i++)
		if (e[i].index == MSR_IA32_TSC)
			m.e[m.hdr.nmsrs++] = e[i];
	for (uint32_t i = 0; i < n; i++) {
		if (e[i].index == MSR_IA32_TSC)
			continue;
		if (e[i].index == MSR_IA32_TSC_DEADLINE)
			dl.e[dl.hdr.nmsrs++] = e[i];
		else
			m.e[m.hdr.nmsrs++] = e[i];
	}
	if (ioctl(v->fd, KVM_SET_MSRS, &m) != (int)m.hdr.nmsrs)
		return -EIO;
	if (dl.hdr.nmsrs && ioctl(v->fd, KVM_SET_MSRS, &dl) != 1)
		return -EIO;
	return 0;
}

int vcpu_state_load(struct vm *vm, const uint8_t *body, size_t len,
		char *err, size_t errlen)
{
	struct vcpu_sections s;
	struct kvm_vcpu_events ev;
	struct vcpu *v;
	uint32_t id;
	int rc = parse_vcpu(vm, body, len, &id, &s, err, errlen);

	if (rc < 0)
		return rc;
	v = &vm->vcpus[id];
	memcpy(&ev, s.p[VT_EVENTS], sizeof(ev));
	ev.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING |
		    KVM_VCPUEVENT_VALID_SIPI_VECTOR;
	if (ioctl(v->fd, KVM_SET_MP_STATE, s.p[VT_MP_STATE]) < 0 ||
	    ioctl(v->fd, KVM_SET_REGS, s.p[VT_REGS]) < 0 ||
	    ioctl(v->fd, KVM_SET_SREGS, s.p[VT_SREGS]) < 0 ||
	    ioctl(v->fd, KVM_SET_XSAVE, s.p[VT_XSAVE]) < 0 ||
	    ioctl(v->fd, KVM_SET_XCRS, s.p[VT_XCRS]) < 0 ||
	    ioctl(v->fd, KVM_SET_DEBUGREGS, s.p[VT_DEBUGREGS]) < 0 ||
	    ioctl(v->fd, KVM_SET_LAPIC, s.p[VT_LAPIC]) < 0 ||
	    set_msrs(v, s.p[VT_MSRS], s.len[VT_MSRS]) < 0 ||
	    ioctl(v->fd, KVM_SET_VCPU_EVENTS, &ev) < 0) {
		snprintf(err, errlen, "vCPU %u: KVM rejected the saved state: %s",
			 id, strerror(errno));
		return -EIO;
	}
	return 0;
}

int vm_state_save(struct vm *vm, struct tlv_buf *out)
{
	struct kvm_clock_data clock = { 0 };
	struct kvm_pit_state2 pit;
	struct kvm_irqchip chip[3];
	size_t csz = sizeof(*vm->cpuid) + vm->cpuid->nent *
		     sizeof(struct kvm_cpuid_entry2);

	memset(chip, 0, sizeof(chip));
	for (int i = 0; i < 3; i++) {
		chip[i].chip_id = (uint32_t)i;
		if (ioctl(vm->vm_fd, KVM_GET_IRQCHIP, &chip[i]) < 0)
			return -errno;
	}
	if (ioctl(vm->vm_fd, KVM_GET_CLOCK, &clock) < 0 ||
	    ioctl(vm->vm_fd, KVM_GET_PIT2, &pit) < 0)
		return -errno;
	if (tlv_put(out, MT_CPUID, vm->cpuid, csz) ||
	    tlv_put(out, MT_TSC_KHZ, &vm->tsc_khz, sizeof(vm->tsc_khz)) ||
	    tlv_put(out, MT_CLOCK, &clock, sizeof(clock)) ||
	    tlv_put(out, MT_PIT2, &pit, sizeof(pit)) ||
	    tlv_put(out, MT_PIC_MASTER, &chip[0], sizeof(chip[0])) ||
	    tlv_put(out, MT_PIC_SLAVE, &chip[1], sizeof(chip[1])) ||
	    tlv_put(out, MT_IOAPIC, &chip[2], sizeof(chip[2])))
		return -ENOMEM;
	return 0;
}

/* The saved CPU must not promise features this host's KVM lacks. */
static int check_cpuid(struct vm *vm, const struct kvm_cpuid2 *saved,
		char *err, size_t errlen)
{
	for (uint32_t i = 0; i < saved->nent; i++) {
		const struct kvm_cpuid_entry2 *s = &saved->entries[i];
		uint32_t fn = s->function;

		if (fn != 1 && fn != 7 && fn != 0x80000001u)
			continue;
		for (uint32_t k = 0; k < vm->cpuid->nent; k++) {
			const struct kvm_cpuid_entry2 *o = &vm->cpuid->entries[k];

			if (o->function != fn || o->index != s->index)
				continue;
			if ((s->ecx & ~o->ecx) || (s->edx & ~o->edx) ||
			    (fn == 7 && (s->ebx & ~o->ebx))) {
				snprintf(err, errlen, "the saved CPU has "
					 "features (CPUID %#x) this host lacks",
					 fn);
				return -EPROTO;
			}
		}
	}
	return 0;
}

/*
 * Make the saved CPUID table the VM's template and give each vCPU its own
 * view of it (APIC id, topology), as at creation.  On failure the VM keeps
 * its old template, but the vCPUs set before the failing one keep the new
 * table: KVM refuses to change a table once a vCPU has run, so a load
 * that fails here leaves a VM that is whole only if it is loaded again.
 */
static int adopt_cpuid(struct vm *vm, const struct kvm_cpuid2 *saved,
		size_t len, char *err, size_t errlen)
{
	struct kvm_cpuid2 *old = vm->cpuid, *copy = malloc(len);
	int rc = 0;

	if (!copy) {
		snprintf(err, errlen, "out of memory for the CPUID table");
		return -ENOMEM;
	}
	memcpy(copy, saved, len);
	vm->cpuid = copy;
	for (int i = 0; i < vm->nr_vcpus && rc == 0; i++)
		rc = cpuid_apply(vm, &vm->vcpus[i]);
	if (rc < 0) {
		snprintf(err, errlen, "KVM_SET_CPUID2: %s", strerror(-rc));
		vm->cpuid = old;
		free(copy);
		return -EIO;
	}
	free(old);
	return 0;
}

int vm_state_load(struct vm *vm, const uint8_t *body, size_t len,
		char *err, size_t errlen)
{
	const uint8_t *p[MT__MAX] = { 0 };
	uint32_t plen[MT__MAX] = { 0 };
	const struct kvm_cpuid2 *cpuid;
	struct kvm_clock_data clock;
	struct tlv_iter it;
	uint32_t tag, slen, khz;
	const uint8_t *d;
	int rc;

	tlv_iter_init(&it, body, len);
	while ((rc = tlv_next(&it, &tag, &d, &slen)) > 0) {
		if (tag == 0 || tag >= MT__MAX || p[tag]) {
			snprintf(err, errlen, "VM_STATE: bad section %u", tag);
			return -EPROTO;
		}
		p[tag] = d;
		plen[tag] = slen;
	}
	if (rc < 0 || !p[MT_CPUID] || plen[MT_CPUID] < sizeof(*cpuid) ||
	    plen[MT_TSC_KHZ] != 4 || plen[MT_CLOCK] != sizeof(clock) ||
	    plen[MT_PIT2] != sizeof(struct kvm_pit_state2) ||
	    plen[MT_PIC_MASTER] != sizeof(struct kvm_irqchip) ||
	    plen[MT_PIC_SLAVE] != sizeof(struct kvm_irqchip) ||
	    plen[MT_IOAPIC] != sizeof(struct kvm_irqchip)) {
		snprintf(err, errlen, "VM_STATE: malformed or incomplete");
		return -EPROTO;
	}
	cpuid = (const void *)p[MT_CPUID];
	if (cpuid->nent > 256 || plen[MT_CPUID] != sizeof(*cpuid) +
	    cpuid->nent * sizeof(struct kvm_cpuid_entry2)) {
		snprintf(err, errlen, "VM_STATE: bad CPUID table");
		return -EPROTO;
	}
	memcpy(&khz, p[MT_TSC_KHZ], 4);
	/* This KVM cannot scale the TSC: a different rate would make the
	 * guest's clock run fast or slow. */
	if (khz != vm->tsc_khz && khz && vm->tsc_khz &&
	    (khz > vm->tsc_khz + vm->tsc_khz / 1000 ||
	     khz + khz / 1000 < vm->tsc_khz)) {
		snprintf(err, errlen, "the saved guest ran at %u kHz TSC, this "
			 "host runs at %u kHz", khz, vm->tsc_khz);
		return -EPROTO;
	}
	rc = check_cpuid(vm, cpuid, err, errlen);
	if (rc < 0)
		return rc;
	/* Once a vCPU has run, KVM refuses to change its CPUID, even to the
	 * same table: set it only when it differs from what the VM has. */
	if (vm->cpuid->nent != cpuid->nent ||
	    memcmp(vm->cpuid, cpuid, plen[MT_CPUID]) != 0) {
		rc = adopt_cpuid(vm, cpuid, plen[MT_CPUID], err, errlen);
		if (rc < 0)
			return rc;
	}
	memcpy(&clock, p[MT_CLOCK], sizeof(clock));
	clock.flags = 0;
	if (ioctl(vm->vm_fd, KVM_SET_IRQCHIP, p[MT_PIC_MASTER]) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_IRQCHIP, p[MT_PIC_SLAVE]) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_IRQCHIP, p[MT_IOAPIC]) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_PIT2, p[MT_PIT2]) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_CLOCK, &clock) < 0) {
		snprintf(err, errlen, "KVM rejected the saved VM state: %s",
			 strerror(errno));
		return -EIO;
	}
	return 0;
}
