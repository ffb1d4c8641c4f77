/* Checkpoint phase notifications (colo-phase in colo-protocol(7)): the
 * seam through which netproxy and blkrep follow the checkpoint
 * transaction.  With no listener attached, notifying costs nothing and
 * the VM is replicated memory-only. */
#ifndef COLO_DH_COLO_PHASE_H
#define COLO_DH_COLO_PHASE_H

#include <pthread.h>
#include <stddef.h>
#include "colo-qapi-types.h"
#include "ctl.h"
#include "error.h"

#define PHASE_MAX_LISTENERS	8
#define PHASE_DEFAULT_TIMEOUT_MS 500

struct colo_phases {
	/* Attach and detach come from the control thread, notifications
	 * from the migration thread in the middle of a checkpoint. */
	pthread_mutex_t lock;
	struct ctl_client cl[PHASE_MAX_LISTENERS];
	int n;
};

void colo_phases_init(struct colo_phases *p);
void colo_phases_fini(struct colo_phases *p);
/* endpoint must be ipc:// with something listening.  Attaching one again
 * only sets its timeout. */
int colo_phases_attach(struct colo_phases *p, const char *endpoint,
		int timeout_ms, struct colo_error *err);
int colo_phases_detach(struct colo_phases *p, const char *endpoint,
		struct colo_error *err);
/* A malloc'd copy of the endpoints (each malloc'd too). */
char **colo_phases_list(struct colo_phases *p, size_t *count);
/* Sends a to every listener at once, then waits for every reply.  0, or
 * -errno with why naming the listener and its answer. */
int colo_phases_notify(struct colo_phases *p, const struct qmp_colo_phase_args *a,
		char *why, size_t whylen);

#endif
