/* One KVM virtual machine: RAM, vCPU threads, the in-kernel irqchip and
 * PIT, the port and MMIO buses, and run control (start, pause, resume,
 * stop).  Devices plug into the buses; vCPU threads dispatch exits. */
#ifndef DH_VM_H
#define DH_VM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "dirty.h"
#include "mem.h"

#define VM_MAX_VCPUS		32
#define IO_BUS_MAX		32

/* An I/O handler: data is little-endian, len is 1, 2, 4 or 8. */
typedef void (*io_fn)(void *opaque, uint64_t offset, uint8_t *data,
		uint32_t len, bool is_write);

struct io_range {
	uint64_t base, len;
	io_fn fn;
	void *opaque;
};

struct io_bus {
	struct io_range r[IO_BUS_MAX];
	int n;
};

/* Why the VM is paused.  Each reason has one owner, and the VM runs only
 * when no reason holds it: so a user's "cont" cannot resume a VM in the
 * middle of a checkpoint, and a checkpoint's resume cannot undo a user's
 * pause (Xen keeps a pause count per domain for the same reason). */
enum vm_pause_reason {
	VM_PAUSE_USER		= 1 << 0,	/* pause, create -p, save, hold */
	VM_PAUSE_SNAPSHOT	= 1 << 1,	/* a consistent read: save, hash */
	VM_PAUSE_MIGRATE	= 1 << 2,	/* stop-and-copy; incoming */
	VM_PAUSE_COLO		= 1 << 3,	/* a checkpoint, either side */
	VM_PAUSE_TEARDOWN	= 1 << 4,
	VM_PAUSE_STANDBY	= 1 << 5,	/* a secondary awaiting failover */
};
/* The reasons a user sees as "paused"; a checkpoint or a snapshot read
 * is a blip inside "running". */
#define VM_PAUSE_LASTING (VM_PAUSE_USER | VM_PAUSE_MIGRATE | \
			  VM_PAUSE_TEARDOWN | VM_PAUSE_STANDBY)

enum vm_state {
	VM_CREATED,
	VM_RUNNING,
	VM_PAUSED,
	VM_SHUTDOWN,	/* the guest powered off */
	VM_CRASHED,	/* panic, triple fault or an internal error */
};

struct vcpu {
	struct vm *vm;
	int id;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	bool thread_started;
	_Atomic uint64_t exits;
};

struct vm_config {
	uint64_t mem_bytes;
	int nr_vcpus;
	enum dirty_mode dirty_mode;
};

struct vm {
	int kvm_fd;
	int vm_fd;
	struct guest_mem mem;
	struct kvm_cpuid2 *cpuid;	/* the one every vCPU gets */
	uint32_t tsc_khz;
	size_t xsave_size;
	uint32_t msr_index[96];		/* MSRs saved with each vCPU */
	int nr_msrs;
	int nr_vcpus;
	struct vcpu vcpus[VM_MAX_VCPUS];
	struct io_bus pio;
	struct io_bus mmio;
	struct dirty_log dirty;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	enum vm_state state;
	bool pause_req;
	unsigned pause_mask;		/* enum vm_pause_reason bits */
	pthread_mutex_t run_lock;	/* one pause/resume transition at a time */
	bool stopping;
	int parked;
	int exit_status;		/* poweroff status */
	char crash_reason[128];
	int notify_fd;			/* eventfd: state changed */

	/* PV idle: vCPUs sleep here until a device has work. */
	pthread_mutex_t idle_lock;
	pthread_cond_t idle_cond;
	bool work_pending;

	/* Hooks run by the vCPU that is last to park, before vm_pause()
	 * returns, so devices can quiesce. */
	void (*quiesce)(void *opaque);
	void (*unquiesce)(void *opaque);
	void *quiesce_opaque;
};

/* Creates the VM: KVM fds, RAM, irqchip, PIT2, vCPUs with CPUID.  err
 * gets a human reason on failure.  Nothing runs yet. */
int vm_create(struct vm *vm, const struct vm_config *cfg, char *err,
		size_t errlen);
/* Stops the vCPU threads and frees everything; idempotent. */
void vm_destroy(struct vm *vm);

int vm_start(struct vm *vm);		/* starts the vCPU threads */
/* Adds a pause reason.  On return every vCPU is out of KVM_RUN with its
 * pending I/O completed and devices are quiesced, so state can be read
 * consistently.  Idempotent per reason. */
void vm_pause(struct vm *vm, enum vm_pause_reason why);
/* Drops a pause reason; the VM runs again once none is left. */
void vm_resume(struct vm *vm, enum vm_pause_reason why);
/* The pause reasons now held (enum vm_pause_reason bits). */
unsigned vm_pause_reasons(struct vm *vm);
/* A vCPU reports that the guest stopped (poweroff, panic, crash). */
void vm_set_stopped(struct vm *vm, enum vm_state st, int status,
		const char *why);
enum vm_state vm_get_state(struct vm *vm);

/* Devices call this when they have work for a polling guest. */
void vm_kick(struct vm *vm);
/* PV idle: block the calling vCPU up to timeout_us or until kicked. */
void vm_idle(struct vm *vm, uint32_t timeout_us);

/* Raises or lowers a GSI on the in-kernel irqchip. */
int vm_irq_line(struct vm *vm, uint32_t gsi, int level);

int io_bus_add(struct io_bus *bus, uint64_t base, uint64_t len, io_fn fn,
		void *opaque);
/* Returns false when no device claims the address. */
bool io_bus_dispatch(struct io_bus *bus, uint64_t addr, uint8_t *data,
		uint32_t len, bool is_write);

/* cpuid.c: the filtered CPUID for vcpu id of nr. */
int cpuid_build(struct vm *vm, char *err, size_t errlen);
int cpuid_apply(struct vm *vm, struct vcpu *v);

/* vcpu.c */
int vcpu_create(struct vm *vm, int id);
void vcpu_destroy(struct vcpu *v);
void *vcpu_thread(void *arg);
const char *vm_state_name(enum vm_state st);

#endif
