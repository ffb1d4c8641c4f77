/* VM creation and run control.  Pausing uses a signal plus immediate_exit,
 * so a vCPU leaves KVM_RUN promptly, and only after KVM has completed its
 * pending port or MMIO access: its state is then consistent. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "log.h"
#include "vcpu_state.h"
#include "vm.h"

#define VM_TSS_ADDR		0xfffbd000u
#define VM_IDENTITY_MAP_ADDR	0xfffbc000u

const char *vm_state_name(enum vm_state st)
{
	static const char *const names[] = {
		[VM_CREATED] = "created", [VM_RUNNING] = "running",
		[VM_PAUSED] = "paused", [VM_SHUTDOWN] = "shutdown",
		[VM_CRASHED] = "crashed",
	};

	return st <= VM_CRASHED ? names[st] : "?";
}

int io_bus_add(struct io_bus *bus, uint64_t base, uint64_t len, io_fn fn,
		void *opaque)
{
	if (bus->n >= IO_BUS_MAX || len == 0)
		return -ENOSPC;
	for (int i = 0; i < bus->n; i++)
		if (base < bus->r[i].base + bus->r[i].len &&
		    bus->r[i].base < base + len)
			return -EEXIST;
	bus->r[bus->n++] = (struct io_range){ base, len, fn, opaque };
	return 0;
}

bool io_bus_dispatch(struct io_bus *bus, uint64_t addr, uint8_t *data,
		uint32_t len, bool is_write)
{
	for (int i = 0; i < bus->n; i++) {
		struct io_range *r = &bus->r[i];

		if (addr >= r->base && addr - r->base < r->len) {
			r->fn(r->opaque, addr - r->base, data, len, is_write);
			return true;
		}
	}
	return false;
}

static int vm_setup_kvm(struct vm *vm, char *err, size_t errlen)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t identity = VM_IDENTITY_MAP_ADDR;
	int v;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		snprintf(err, errlen, "/dev/kvm: %s", strerror(errno));
		return -errno;
	}
	v = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
	if (v != KVM_API_VERSION) {
		snprintf(err, errlen, "KVM API version %d, need %d", v,
			 KVM_API_VERSION);
		return -ENOTSUP;
	}
	static const struct { int cap; const char *name; } need[] = {
		{ KVM_CAP_IRQCHIP, "IRQCHIP" }, { KVM_CAP_PIT2, "PIT2" },
		{ KVM_CAP_IOEVENTFD, "IOEVENTFD" }, { KVM_CAP_IRQFD, "IRQFD" },
		{ KVM_CAP_IMMEDIATE_EXIT, "IMMEDIATE_EXIT" },
		{ KVM_CAP_USER_MEMORY, "USER_MEMORY" },
		{ KVM_CAP_VCPU_EVENTS, "VCPU_EVENTS" },
		{ KVM_CAP_XCRS, "XCRS" }, { KVM_CAP_DEBUGREGS, "DEBUGREGS" },
		{ KVM_CAP_ADJUST_CLOCK, "ADJUST_CLOCK" },
	};
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, need[i].cap) <= 0) {
			snprintf(err, errlen, "KVM lacks KVM_CAP_%s",
				 need[i].name);
			return -ENOTSUP;
		}
	}
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		snprintf(err, errlen, "KVM_CREATE_VM: %s", strerror(errno));
		return -errno;
	}
	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, VM_TSS_ADDR) < 0 ||
	    ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &identity) < 0 ||
	    ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0 ||
	    ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		snprintf(err, errlen, "KVM irqchip/PIT set-up: %s",
			 strerror(errno));
		return -errno;
	}
	return 0;
}

static int vm_add_ram(struct vm *vm, char *err, size_t errlen)
{
	struct kvm_userspace_memory_region r = {
		.slot = 0,
		.guest_phys_addr = 0,
		.memory_size = vm->mem.size,
		.userspace_addr = (uintptr_t)vm->mem.base,
	};

	if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &r) < 0) {
		snprintf(err, errlen, "KVM_SET_USER_MEMORY_REGION: %s",
			 strerror(errno));
		return -errno;
	}
	return 0;
}

int vm_create(struct vm *vm, const struct vm_config *cfg, char *err,
		size_t errlen)
{
	int rc;

	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = vm->notify_fd = -1;
	for (int i = 0; i < VM_MAX_VCPUS; i++)
		vm->vcpus[i].fd = -1;
	pthread_mutex_init(&vm->lock, NULL);
	pthread_mutex_init(&vm->run_lock, NULL);
	pthread_cond_init(&vm->cond, NULL);
	pthread_mutex_init(&vm->idle_lock, NULL);
	pthread_cond_init(&vm->idle_cond, NULL);
	if (cfg->nr_vcpus < 1 || cfg->nr_vcpus > VM_MAX_VCPUS) {
		snprintf(err, errlen, "vcpus must be 1..%d", VM_MAX_VCPUS);
		return -EINVAL;
	}
	rc = mem_init(&vm->mem, cfg->mem_bytes);
	if (rc < 0) {
		if (rc == -EINVAL)
			snprintf(err, errlen, "memory must be a whole number of "
				 "pages, at most %llu MiB", GUEST_RAM_MAX >> 20);
		else
			snprintf(err, errlen, "cannot allocate guest memory: %s",
				 strerror(-rc));
		goto fail;
	}
	vm->notify_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	rc = vm_setup_kvm(vm, err, errlen);
	if (rc < 0)
		goto fail;
	rc = vm_add_ram(vm, err, errlen);
	if (rc < 0)
		goto fail;
	rc = dirty_init(vm, cfg->dirty_mode);
	if (rc < 0) {
		snprintf(err, errlen, "dirty log (%s): %s",
			 dirty_mode_name(cfg->dirty_mode), strerror(-rc));
		goto fail;
	}
	vm->nr_vcpus = cfg->nr_vcpus;
	for (int i = 0; i < vm->nr_vcpus; i++) {
		rc = vcpu_create(vm, i);
		if (rc < 0) {
			snprintf(err, errlen, "vCPU %d: %s", i, strerror(-rc));
			goto fail;
		}
	}
	rc = cpuid_build(vm, err, errlen);
	for (int i = 0; rc == 0 && i < vm->nr_vcpus; i++) {
		rc = cpuid_apply(vm, &vm->vcpus[i]);
		if (rc < 0)
			snprintf(err, errlen, "KVM_SET_CPUID2: %s", strerror(-rc));
	}
	if (rc < 0)
		goto fail;
	rc = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
	vm->xsave_size = rc > (int)sizeof(struct kvm_xsave) ? (size_t)rc :
			 sizeof(struct kvm_xsave);
	rc = vcpu_state_probe_msrs(vm, err, errlen);
	if (rc < 0)
		goto fail;
	vm->state = VM_CREATED;
	return 0;
fail:
	vm_destroy(vm);
	return rc;
}

static void signal_vcpus(struct vm *vm)
{
	for (int i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (!v->run)
			continue;
		__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
		if (v->thread_started)
			pthread_kill(v->thread, SIGRTMIN);
	}
	/* A vCPU in PV idle is woken too. */
	pthread_mutex_lock(&vm->idle_lock);
	pthread_cond_broadcast(&vm->idle_cond);
	pthread_mutex_unlock(&vm->idle_lock);
}

void vm_destroy(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	vm->stopping = true;
	pthread_cond_broadcast(&vm->cond);
	pthread_mutex_unlock(&vm->lock);
	signal_vcpus(vm);
	for (int i = 0; i < vm->nr_vcpus; i++) {
		if (vm->vcpus[i].thread_started)
			pthread_join(vm->vcpus[i].thread, NULL);
		vm->vcpus[i].thread_started = false;
		vcpu_destroy(&vm->vcpus[i]);
	}
	vm->nr_vcpus = 0;
	dirty_fini(vm);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	if (vm->notify_fd >= 0)
		close(vm->notify_fd);
	vm->vm_fd = vm->kvm_fd = vm->notify_fd = -1;
	mem_fini(&vm->mem);
	free(vm->cpuid);
	vm->cpuid = NULL;
}

static void ignore_signal(int sig)
{
	(void)sig;
}

int vm_start(struct vm *vm)
{
	struct sigaction sa = { .sa_handler = ignore_signal };
	int rc;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGRTMIN, &sa, NULL);
	pthread_mutex_lock(&vm->lock);
	vm->state = vm->pause_req ? VM_PAUSED : VM_RUNNING;
	pthread_mutex_unlock(&vm->lock);
	for (int i = 0; i < vm->nr_vcpus; i++) {
		rc = pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread,
				    &vm->vcpus[i]);
		if (rc != 0)
			return -rc;
		vm->vcpus[i].thread_started = true;
	}
	return 0;
}

static void notify(struct vm *vm)
{
	uint64_t one = 1;

	if (vm->notify_fd >= 0 && write(vm->notify_fd, &one, sizeof(one)) < 0)
		log_debug("notify: %m");
}

/* Waits, under run_lock, until every vCPU is parked; re-signals because
 * a signal can race with a vCPU entering KVM_RUN. */
static void wait_parked(struct vm *vm)
{
	pthread_mutex_lock(&vm->lock);
	while (vm->parked < vm->nr_vcpus && !vm->stopping &&
	       vm->vcpus[0].thread_started) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 2000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (pthread_cond_timedwait(&vm->cond, &vm->lock, &ts) ==
		    ETIMEDOUT) {
			pthread_mutex_unlock(&vm->lock);
			signal_vcpus(vm);
			pthread_mutex_lock(&vm->lock);
		}
	}
	if (vm->state == VM_RUNNING)
		vm->state = VM_PAUSED;
	pthread_mutex_unlock(&vm->lock);
}

void vm_pause(struct vm *vm, enum vm_pause_reason why)
{
	bool first, news;

	/* run_lock makes a transition whole: once a pause returns, a
	 * concurrent pause finds the VM parked and quiesced already. */
	pthread_mutex_lock(&vm->run_lock);
	pthread_mutex_lock(&vm->lock);
	first = !vm->pause_req;
	news = (why & VM_PAUSE_LASTING) & ~vm->pause_mask;
	vm->pause_mask |= why;
	vm->pause_req = true;
	pthread_mutex_unlock(&vm->lock);
	if (first) {
		signal_vcpus(vm);
		wait_parked(vm);
		if (vm->quiesce)
			vm->quiesce(vm->quiesce_opaque);
	}
	pthread_mutex_unlock(&vm->run_lock);
	if (news)
		notify(vm);	/* the user-visible state changed */
}

void vm_resume(struct vm *vm, enum vm_pause_reason why)
{
	bool last, news;

	pthread_mutex_lock(&vm->run_lock);
	pthread_mutex_lock(&vm->lock);
	news = (why & VM_PAUSE_LASTING) & vm->pause_mask;
	vm->pause_mask &= ~(unsigned)why;
	last = vm->pause_req && vm->pause_mask == 0;
	pthread_mutex_unlock(&vm->lock);
	if (last) {
		/* Devices first: a resumed vCPU may kick a queue at once. */
		if (vm->unquiesce)
			vm->unquiesce(vm->quiesce_opaque);
		pthread_mutex_lock(&vm->lock);
		for (int i = 0; i < vm->nr_vcpus; i++)
			if (vm->vcpus[i].run)
				__atomic_store_n(&vm->vcpus[i].run->immediate_exit,
						 0, __ATOMIC_SEQ_CST);
		vm->pause_req = false;
		if (vm->state == VM_PAUSED || vm->state == VM_CREATED)
			vm->state = VM_RUNNING;
		pthread_cond_broadcast(&vm->cond);
		pthread_mutex_unlock(&vm->lock);
	}
	pthread_mutex_unlock(&vm->run_lock);
	if (news)
		notify(vm);
}

unsigned vm_pause_reasons(struct vm *vm)
{
	unsigned m;

	pthread_mutex_lock(&vm->lock);
	m = vm->pause_mask;
	pthread_mutex_unlock(&vm->lock);
	return m;
}

void vm_set_stopped(struct vm *vm, enum vm_state st, int status,
		const char *why)
{
	pthread_mutex_lock(&vm->lock);
	if (vm->state != VM_SHUTDOWN && vm->state != VM_CRASHED) {
		vm->state = st;
		vm->exit_status = status;
		snprintf(vm->crash_reason, sizeof(vm->crash_reason), "%s",
			 why ? why : "");
	}
	pthread_mutex_unlock(&vm->lock);
	notify(vm);
}

enum vm_state vm_get_state(struct vm *vm)
{
	enum vm_state st;

	pthread_mutex_lock(&vm->lock);
	st = vm->state;
	pthread_mutex_unlock(&vm->lock);
	return st;
}

void vm_kick(struct vm *vm)
{
	pthread_mutex_lock(&vm->idle_lock);
	vm->work_pending = true;
	pthread_cond_broadcast(&vm->idle_cond);
	pthread_mutex_unlock(&vm->idle_lock);
}

void vm_idle(struct vm *vm, uint32_t timeout_us)
{
	struct timespec ts;

	if (timeout_us == 0)
		return;
	if (timeout_us > 1000000)
		timeout_us = 1000000;	/* the guest asked for too long */
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_us / 1000000;
	ts.tv_nsec += (long)(timeout_us % 1000000) * 1000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&vm->idle_lock);
	/* Work that arrived since the guest last looked ends the idle at
	 * once; so does a pause. */
	while (!vm->work_pending &&
	       !__atomic_load_n(&vm->pause_req, __ATOMIC_ACQUIRE) &&
	       !__atomic_load_n(&vm->stopping, __ATOMIC_ACQUIRE))
		if (pthread_cond_timedwait(&vm->idle_cond, &vm->idle_lock,
					   &ts) == ETIMEDOUT)
			break;
	vm->work_pending = false;
	pthread_mutex_unlock(&vm->idle_lock);
}

int vm_irq_line(struct vm *vm, uint32_t gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = (uint32_t)level };

	return ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0 ? -errno : 0;
}
