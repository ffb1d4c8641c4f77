/* Building the VM and its devices from the domain config, and the
 * mapping from VM states to the protocol's RunState. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "boot.h"
#include "helper.h"
#include "log.h"

int helper_build(struct helper *h, bool load_kernel, char *err,
		size_t errlen)
{
	struct vm_config vc = {
		.mem_bytes = h->cfg.mem_bytes,
		.nr_vcpus = h->cfg.vcpus,
		.dirty_mode = h->opts.dirty_mode,
	};
	struct boot_image img;
	char cmdline[4096];
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
	if (!load_kernel)
		return 0;
	rc = boot_load_elf(&h->vm, h->cfg.kernel, &img, err, errlen);
	if (rc < 0)
		return rc;
	/* The guest learns the TSC rate from us: KVM here cannot set it. */
	snprintf(cmdline, sizeof(cmdline), "%s%stsc_khz=%u", h->cfg.cmdline,
		 *h->cfg.cmdline ? " " : "", h->vm.tsc_khz);
	return boot_setup_pvh(&h->vm, &img, cmdline, err, errlen);
}

void helper_teardown(struct helper *h)
{
	if (h->vm_created) {
		vm_destroy(&h->vm);
		serial_fini(&h->serial);
	}
	h->vm_created = false;
}

enum run_state helper_run_state(struct helper *h)
{
	switch (h->vm_created ? vm_get_state(&h->vm) : VM_CREATED) {
	case VM_RUNNING:
		return RUN_STATE_RUNNING;
	case VM_SHUTDOWN:
		return RUN_STATE_SHUTDOWN;
	case VM_CRASHED:
		return RUN_STATE_CRASHED;
	case VM_PAUSED:
	case VM_CREATED:
	default:
		return RUN_STATE_PAUSED;
	}
}

void helper_announce(struct helper *h, const char *reason)
{
	enum vm_state st = vm_get_state(&h->vm);
	struct qev_domain_state ev;

	if (st == h->last_state)
		return;
	h->last_state = st;
	ev.domain = h->cfg.name;
	ev.state = helper_run_state(h);
	ev.reason = (char *)(reason ? reason :
			     *h->vm.crash_reason ? h->vm.crash_reason : "");
	qapi_event_send_domain_state(&h->sink, &ev);
}
