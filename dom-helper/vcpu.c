/* vCPU threads: the KVM_RUN loop and exit dispatch.  A vCPU parks only
 * after KVM_RUN returned EINTR, which KVM does after completing any port
 * or MMIO access it handed to us: parked state is always consistent. */
#include "config.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "guest_abi.h"
#include "log.h"
#include "vm.h"

int vcpu_create(struct vm *vm, int id)
{
	struct vcpu *v = &vm->vcpus[id];
	int sz;

	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, id);
	if (v->fd < 0)
		return -errno;
	sz = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (sz < (int)sizeof(struct kvm_run))
		return -EINVAL;
	v->run = mmap(NULL, (size_t)sz, PROT_READ | PROT_WRITE, MAP_SHARED,
		      v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		return -errno;
	}
	v->run_size = (size_t)sz;
	return dirty_attach_vcpu(vm, id, v->fd);
}

void vcpu_destroy(struct vcpu *v)
{
	if (v->run)
		munmap(v->run, v->run_size);
	if (v->fd >= 0)
		close(v->fd);
	v->run = NULL;
	v->fd = -1;
}

/* Parks while a pause is requested; returns false when the VM stops. */
static bool park(struct vcpu *v)
{
	struct vm *vm = v->vm;
	bool go;

	pthread_mutex_lock(&vm->lock);
	if (vm->pause_req && !vm->stopping) {
		vm->parked++;
		pthread_cond_broadcast(&vm->cond);
		while (vm->pause_req && !vm->stopping)
			pthread_cond_wait(&vm->cond, &vm->lock);
		vm->parked--;
	}
	go = !vm->stopping && vm->state != VM_SHUTDOWN &&
	     vm->state != VM_CRASHED;
	pthread_mutex_unlock(&vm->lock);
	return go;
}

/* Returns false once the guest has stopped itself. */
static bool handle_pv_port(struct vcpu *v, uint16_t port, uint32_t val)
{
	struct vm *vm = v->vm;
	char why[64];

	switch (port) {
	case PV_IDLE_PORT:
		vm_idle(vm, val);
		break;
	case PV_POWEROFF_PORT:
		log_info("vCPU %d: guest powered off with status %u", v->id,
			 val);
		vm_set_stopped(vm, VM_SHUTDOWN, (int)val, "poweroff");
		return false;
	case PV_PANIC_PORT:
		if (val & PV_PANIC_PANICKED) {
			snprintf(why, sizeof(why), "guest panic (vCPU %d)", v->id);
			log_warn("%s", why);
			vm_set_stopped(vm, VM_CRASHED, -1, why);
			return false;
		}
		break;
	}
	return true;
}

static bool handle_io(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	uint8_t *data = (uint8_t *)r + r->io.data_offset;
	bool out = r->io.direction == KVM_EXIT_IO_OUT;

	for (uint32_t i = 0; i < r->io.count; i++, data += r->io.size) {
		uint32_t val = 0;

		if (out && (r->io.port == PV_IDLE_PORT ||
			    r->io.port == PV_POWEROFF_PORT ||
			    r->io.port == PV_PANIC_PORT)) {
			memcpy(&val, data, r->io.size > 4 ? 4 : r->io.size);
			if (!handle_pv_port(v, r->io.port, val))
				return false;
			continue;
		}
		if (!io_bus_dispatch(&v->vm->pio, r->io.port, data, r->io.size,
				     out) && !out)
			memset(data, 0xff, r->io.size);	/* open bus */
	}
	return true;
}

static void handle_mmio(struct vcpu *v)
{
	struct kvm_run *r = v->run;

	if (r->mmio.len > 8)
		return;
	if (!io_bus_dispatch(&v->vm->mmio, r->mmio.phys_addr, r->mmio.data,
			     r->mmio.len, r->mmio.is_write) &&
	    !r->mmio.is_write)
		memset(r->mmio.data, 0xff, r->mmio.len);
}

/* Returns false when the vCPU must stop. */
static bool handle_exit(struct vcpu *v)
{
	struct kvm_run *r = v->run;
	char why[128];

	switch (r->exit_reason) {
	case KVM_EXIT_IO:
		return handle_io(v);
	case KVM_EXIT_MMIO:
		handle_mmio(v);
		return true;
	case KVM_EXIT_DIRTY_RING_FULL:
		dirty_ring_full(v->vm);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_HLT:
		/* Only without an in-kernel LAPIC; treat as idle. */
		vm_idle(v->vm, 1000);
		return true;
	case KVM_EXIT_SHUTDOWN:
		snprintf(why, sizeof(why), "triple fault on vCPU %d", v->id);
		break;
	case KVM_EXIT_SYSTEM_EVENT:
		if (r->system_event.type == KVM_SYSTEM_EVENT_SHUTDOWN) {
			vm_set_stopped(v->vm, VM_SHUTDOWN, 0, "system event");
			return false;
		}
		snprintf(why, sizeof(why), "system event %u on vCPU %d",
			 r->system_event.type, v->id);
		break;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(why, sizeof(why), "KVM internal error %u on vCPU %d",
			 r->internal.suberror, v->id);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(why, sizeof(why), "entry failure %#llx on vCPU %d",
			 (unsigned long long)
			 r->fail_entry.hardware_entry_failure_reason, v->id);
		break;
	default:
		snprintf(why, sizeof(why), "unhandled exit %u on vCPU %d",
			 r->exit_reason, v->id);
		break;
	}
	log_error("%s", why);
	vm_set_stopped(v->vm, VM_CRASHED, -1, why);
	return false;
}

void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	sigset_t set;
	char name[16];

	snprintf(name, sizeof(name), "vcpu%d", v->id);
	pthread_setname_np(pthread_self(), name);
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	for (;;) {
		int rc = ioctl(v->fd, KVM_RUN, 0);

		if (rc < 0) {
			if (errno == EINTR || errno == EAGAIN) {
				if (!park(v))
					break;
				continue;
			}
			log_error("vCPU %d: KVM_RUN: %m", v->id);
			vm_set_stopped(v->vm, VM_CRASHED, -1, "KVM_RUN failed");
			break;
		}
		v->exits++;
		if (!handle_exit(v))
			break;
	}
	/* A stopped vCPU still counts as parked, so vm_pause() returns. */
	pthread_mutex_lock(&v->vm->lock);
	v->vm->parked++;
	pthread_cond_broadcast(&v->vm->cond);
	pthread_mutex_unlock(&v->vm->lock);
	return NULL;
}
