/* colo-dom-helper: the per-VM process.  It owns the VM and its devices,
 * answers colod on a ZeroMQ control socket, publishes state changes and
 * console output, and reads and writes colo-streams. */
#ifndef DH_HELPER_H
#define DH_HELPER_H

#include <stdbool.h>
#include <stdint.h>
#include "colo-qapi-events.h"
#include "console.h"
#include "devices/serial.h"
#include "devices/virtio_blk.h"
#include "devices/virtio_net.h"
#include "domain.h"
#include "colo.h"
#include "migrate.h"
#include "stream.h"
#include "tlv.h"
#include "vm.h"

struct helper_opts {
	const char *config_path;	/* domain XML */
	const char *restore_path;	/* colo-stream to restore from */
	const char *incoming;		/* tcp:ADDR: wait for a migration */
	const char *ctl_endpoint;
	const char *event_endpoint;
	const char *console_log;
	const char *run_dir;		/* default home of NIC sockets */
	bool paused;
	bool foreground;
	int status_fd;			/* start-up result goes here */
	enum dirty_mode dirty_mode;
	int log_level;
};

struct helper {
	struct helper_opts opts;
	struct domain_config cfg;
	struct vm vm;
	bool vm_created;
	struct serial serial;
	struct vnet nics[DOMAIN_MAX_NICS];
	int nnics;
	struct vblk disks[DOMAIN_MAX_DISKS];
	int ndisks;
	struct console console;
	void *zctx;
	void *ctl;
	void *pub;
	int sigfd;
	bool quit;
	enum run_state last_state;	/* as last announced */
	struct migration mig;
	struct colo colo;
	bool migrated;			/* sent away: the VM is stale */
	bool incoming_done;
	int incoming_port;
	struct qapi_event_sink sink;
};

/* helper.c: devices and the VM as the domain config describes them. */
int helper_build(struct helper *h, bool load_kernel, char *err,
		size_t errlen);
int helper_start_devices(struct helper *h);
void helper_teardown(struct helper *h);
enum run_state helper_run_state(struct helper *h);
/* Publishes DOMAIN_STATE if the state changed since last time. */
void helper_announce(struct helper *h, const char *reason);

/* All virtio devices, for save/restore and quiescing. */
int helper_virtio_count(struct helper *h);
struct virtio_dev *helper_virtio(struct helper *h, int i);

/* savevm.c: the whole VM as a colo-stream.  The VM must be paused. */
struct save_result {
	uint64_t bytes;
	uint64_t pages;
};
int savevm_write(struct helper *h, int fd, struct save_result *res,
		char *err, size_t errlen);
/* Reads a save file: the config first, from which the VM is built, then
 * its state.  On failure nothing has run. */
int savevm_restore(struct helper *h, int fd, char *err, size_t errlen);
/* The same for a VM already built (incoming migration), or building it
 * from the stream's DOMAIN_CONFIG when build is true. */
int savevm_load(struct helper *h, int fd, bool build, char *err,
		size_t errlen);
/* An incoming migration; *colo tells whether the stream goes on into
 * COLO checkpoints. */
int savevm_load_colo(struct helper *h, int fd, char *err, size_t errlen,
		bool *colo);
/* PAGE_DATA records for the pages in bitmap (all when NULL). */
int savevm_write_pages(struct vm *vm, struct stream_writer *w,
		const uint64_t *bitmap, bool skip_zero, uint64_t *written);
/* The DEVICE_STATE body (serial, virtio), and loading one. */
int savevm_device_state(struct helper *h, struct tlv_buf *b);
int savevm_load_device_state(struct helper *h, const uint8_t *body,
		uint32_t len, char *err, size_t errlen);
/* VM_STATE, VCPU_STATE..., DEVICE_STATE. */
int savevm_write_state(struct helper *h, struct stream_writer *w);

#endif
