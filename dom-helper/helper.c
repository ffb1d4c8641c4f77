/* Building the VM and its devices from the domain config, and the
 * mapping from VM states to the protocol's RunState. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "boot.h"
#include <stdint.h>
#include "helper.h"
#include "log.h"

int helper_virtio_count(struct helper *h)
{
	return h->nnics + h->ndisks;
}

struct virtio_dev *helper_virtio(struct helper *h, int i)
{
	return i < h->nnics ? &h->nics[i].dev : &h->disks[i - h->nnics].dev;
}

/* vm_pause/vm_resume hooks: no device touches guest memory while the
 * vCPUs are parked (a checkpoint or save must see still RAM). */
static void quiesce_devices(void *opaque)
{
	struct helper *h = opaque;

	for (int i = 0; i < helper_virtio_count(h); i++)
		virtio_dev_quiesce(helper_virtio(h, i));
}

static void unquiesce_devices(void *opaque)
{
	struct helper *h = opaque;

	for (int i = 0; i < helper_virtio_count(h); i++)
		virtio_dev_unquiesce(helper_virtio(h, i));
}

/* A locally administered MAC derived from the domain's UUID. */
static void default_mac(const struct domain_config *c, int i, uint8_t mac[6])
{
	uint32_t x = 2166136261u;

	for (const char *p = c->uuid; *p; p++)
		x = (x ^ (uint8_t)*p) * 16777619u;
	mac[0] = 0x52;
	mac[1] = 0x54;
	mac[2] = (uint8_t)(x >> 24);
	mac[3] = (uint8_t)(x >> 16);
	mac[4] = (uint8_t)(x >> 8);
	mac[5] = (uint8_t)(x + (uint32_t)i);
}

static int build_devices(struct helper *h, char *cmdline, size_t clen,
		char *err, size_t errlen)
{
	int rc = 0;

	for (int i = 0; i < h->cfg.nnics && rc == 0; i++) {
		const struct domain_nic *nic = &h->cfg.nics[i];
		char path[108], word[80];
		uint8_t mac[6];

		if (nic->has_mac)
			memcpy(mac, nic->mac, 6);
		else
			default_mac(&h->cfg, i, mac);
		if (nic->socket[0])
			snprintf(path, sizeof(path), "%s", nic->socket);
		else if ((size_t)snprintf(path, sizeof(path), "%s/%s-net%d.sock",
					  h->opts.run_dir, h->cfg.name, i) >=
			 sizeof(path)) {
			snprintf(err, errlen, "NIC %d: socket path too long", i);
			return -ENAMETOOLONG;
		}
		rc = vnet_init(&h->nics[i], &h->vm, h->nnics + h->ndisks, mac,
			       path, err, errlen);
		h->nnics++;
		virtio_dev_cmdline(&h->nics[i].dev, word, sizeof(word));
		snprintf(cmdline + strlen(cmdline), clen - strlen(cmdline),
			 " %s", word);
	}
	for (int i = 0; i < h->cfg.ndisks && rc == 0; i++) {
		char serial[21], word[80];

		snprintf(serial, sizeof(serial), "%.14s-vd%c", h->cfg.name,
			 'a' + i);
		/* An image file is served by colod's colo-blkrep, on a
		 * socket named after the domain and the disk. */
		if (h->cfg.disks[i].file[0] &&
		    (size_t)snprintf(h->cfg.disks[i].socket,
				     sizeof(h->cfg.disks[i].socket),
				     "%s/dom-%s-disk%d.sock", h->opts.run_dir,
				     h->cfg.name, i) >=
		    sizeof(h->cfg.disks[i].socket)) {
			snprintf(err, errlen, "disk %d: socket path too long", i);
			return -ENAMETOOLONG;
		}
		rc = vblk_init(&h->disks[i], &h->vm, h->nnics + h->ndisks, i,
			       &h->cfg.disks[i], serial, err, errlen);
		h->ndisks++;
		virtio_dev_cmdline(&h->disks[i].dev, word, sizeof(word));
		snprintf(cmdline + strlen(cmdline), clen - strlen(cmdline),
			 " %s", word);
	}
	h->vm.quiesce = quiesce_devices;
	h->vm.unquiesce = unquiesce_devices;
	h->vm.quiesce_opaque = h;
	return rc;
}

int helper_start_devices(struct helper *h)
{
	for (int i = 0; i < helper_virtio_count(h); i++) {
		int rc = virtio_dev_start(helper_virtio(h, i));

		if (rc < 0)
			return rc;
	}
	return 0;
}

int helper_build(struct helper *h, bool load_kernel, char *err,
		size_t errlen)
{
	struct vm_config vc = {
		.mem_bytes = h->cfg.mem_bytes,
		.nr_vcpus = h->cfg.vcpus,
		.dirty_mode = h->opts.dirty_mode,
	};
	struct boot_image img;
	char cmdline[4096], devs[1024] = "";
	int rc;

	rc = vm_create(&h->vm, &vc, err, errlen);
	if (rc < 0)
		return rc;
	h->vm_created = true;
	rc = serial_init(&h->serial, &h->vm, console_output, &h->console);
	if (rc < 0) {
		snprintf(err, errlen, "serial: %s", strerror(-rc));
		return rc;
	}
	rc = build_devices(h, devs, sizeof(devs), err, errlen);
	if (rc < 0 || !load_kernel)
		return rc;
	rc = boot_load_elf(&h->vm, h->cfg.kernel, &img, err, errlen);
	if (rc < 0)
		return rc;
	/* The guest learns the TSC rate and its devices from us, in the
	 * syntax QEMU microvm uses for Linux. */
	snprintf(cmdline, sizeof(cmdline), "%s%stsc_khz=%u%s", h->cfg.cmdline,
		 *h->cfg.cmdline ? " " : "", h->vm.tsc_khz, devs);
	return boot_setup_pvh(&h->vm, &img, cmdline, err, errlen);
}

void helper_teardown(struct helper *h)
{
	/* vCPUs first, so no exit reaches a device being torn down. */
	if (h->vm_created)
		vm_pause(&h->vm, VM_PAUSE_TEARDOWN);
	for (int i = 0; i < h->nnics; i++)
		vnet_fini(&h->nics[i]);
	for (int i = 0; i < h->ndisks; i++)
		vblk_fini(&h->disks[i]);
	h->nnics = h->ndisks = 0;
	if (h->vm_created) {
		vm_destroy(&h->vm);
		serial_fini(&h->serial);
	}
	h->vm_created = false;
}

enum run_state helper_run_state(struct helper *h)
{
	if (h->migrated)
		return RUN_STATE_POSTMIGRATE;
	if (h->opts.incoming && !h->incoming_done && h->vm_created &&
	    vm_get_state(&h->vm) != VM_CRASHED)
		return RUN_STATE_INMIGRATE;
	switch (h->vm_created ? vm_get_state(&h->vm) : VM_CREATED) {
	case VM_RUNNING:
		return RUN_STATE_RUNNING;
	case VM_SHUTDOWN:
		return RUN_STATE_SHUTDOWN;
	case VM_CRASHED:
		return RUN_STATE_CRASHED;
	case VM_PAUSED:
		return vm_pause_reasons(&h->vm) & VM_PAUSE_LASTING ?
		       RUN_STATE_PAUSED : RUN_STATE_RUNNING;
	case VM_CREATED:
	default:
		return RUN_STATE_PAUSED;
	}
}

void helper_announce(struct helper *h, const char *reason)
{
	enum run_state st = helper_run_state(h);
	struct qev_domain_state ev;

	if (st == h->last_state && !reason)
		return;
	h->last_state = st;
	ev.domain = h->cfg.name;
	ev.state = st;
	ev.reason = (char *)(reason ? reason :
			     *h->vm.crash_reason ? h->vm.crash_reason : "");
	qapi_event_send_domain_state(&h->sink, &ev);
}
