/* Wiring COLO disks: endpoints from the secondary's blkreps, the initial
 * copy and replication from the primary's, and each one attached to its
 * helper's checkpoint phases. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "children.h"
#include "colo-qapi-client.h"
#include "colo-qapi-commands.h"
#include "colo-qapi-events.h"
#include "colo_disks.h"
#include "disk_sync.h"
#include "disks.h"
#include "log.h"
#include "util.h"

#define PORT_WAIT_MS 5000
#define BLKREP_CALL_MS 3000
/* The paused phase waits for the secondary to acknowledge the epoch
 * boundary (blkrep gives it 2 s). */
#define BLKREP_PHASE_TIMEOUT_MS 3000
/* A resync that moves no block for this long has stalled. */
#define RESYNC_STALL_MS 30000

static bool replicated(const struct domain_disk *disk)
{
	return disk->file[0] && !disk->readonly;
}

int colo_disks_sizes(const struct domain_config *cfg, int64_t **sizes,
		size_t *n, struct colo_error *err)
{
	*n = 0;
	*sizes = calloc(DOMAIN_MAX_DISKS, sizeof(**sizes));
	if (!*sizes)
		return -ENOMEM;
	for (int i = 0; i < cfg->ndisks; i++) {
		struct stat st;

		if (!replicated(&cfg->disks[i]))
			continue;
		if (stat(cfg->disks[i].file, &st) < 0) {
			int e = errno;

			colo_error_set(err, ERROR_CLASS_GENERIC_ERROR,
				       "%s: %s", cfg->disks[i].file,
				       strerror(e));
			return -e;
		}
		(*sizes)[(*n)++] = st.st_size;
	}
	return 0;
}

/* The port file: the TCP port, the control endpoint, the export name
 * (a line that may be empty). */
static int read_ports(const char *path, int64_t *port, char **ctl,
		char **name)
{
	char ep[300] = "", exp[300] = "";
	FILE *f = fopen(path, "r");
	long long p = 0;
	int ok;

	if (!f)
		return -ENOENT;
	ok = fscanf(f, "%lld %299s", &p, ep) == 2 && p > 0 &&
	     !strncmp(ep, "tcp://", 6);
	if (ok && fscanf(f, " %299[0-9a-zA-Z_.-]", exp) < 0)
		exp[0] = 0;
	fclose(f);
	if (!ok)
		return -EAGAIN;
	*port = p;
	*ctl = strdup(ep);
	*name = strdup(exp);
	return *ctl && *name ? 0 : -ENOMEM;
}

int colo_disks_ports(struct colod *d, const struct domain_config *cfg,
		struct incoming_info *ii, struct colo_error *err)
{
	ii->disk_ports = calloc(DOMAIN_MAX_DISKS, sizeof(*ii->disk_ports));
	ii->disk_ctls = calloc(DOMAIN_MAX_DISKS, sizeof(*ii->disk_ctls));
	ii->disk_exports = calloc(DOMAIN_MAX_DISKS, sizeof(*ii->disk_exports));
	ii->disk_ports_count = ii->disk_ctls_count = 0;
	ii->disk_exports_count = 0;
	if (!ii->disk_ports || !ii->disk_ctls || !ii->disk_exports)
		return -ENOMEM;
	for (int i = 0; i < cfg->ndisks; i++) {
		size_t k = ii->disk_ports_count;
		char path[4200];
		int rc = -ENOENT;

		if (!replicated(&cfg->disks[i]))
			continue;
		disks_port_file(d, cfg->name, i, path, sizeof(path));
		for (int t = 0; t < PORT_WAIT_MS / 20 && rc < 0; t++) {
			rc = read_ports(path, &ii->disk_ports[k],
					&ii->disk_ctls[k], &ii->disk_exports[k]);
			if (rc < 0)
				util_sleep_ms(20);
		}
		if (rc < 0) {
			colo_error_set(err, ERROR_CLASS_GENERIC_ERROR,
				       "blkrep for %s reported no port (see "
				       "its log)", cfg->disks[i].file);
			return -EIO;
		}
		ii->disk_ports_count = ii->disk_ctls_count = k + 1;
		ii->disk_exports_count = k + 1;
	}
	ii->has_disk_ports = ii->has_disk_ctls = ii->disk_ports_count > 0;
	ii->has_disk_exports = ii->has_disk_ports;
	return 0;
}

int colo_disks_syncs(struct colod *d, const struct domain_config *cfg,
		struct incoming_info *ii, struct colo_error *err)
{
	ii->disk_syncs = calloc(DOMAIN_MAX_DISKS, sizeof(*ii->disk_syncs));
	ii->disk_syncs_count = 0;
	if (!ii->disk_syncs)
		return -ENOMEM;
	for (int i = 0; i < cfg->ndisks; i++) {
		char tok[DISK_SYNC_TOKEN_LEN + 1];
		int rc;

		if (!replicated(&cfg->disks[i]))
			continue;
		disk_sync_read(d, cfg->name, i, cfg->disks[i].file,
			       DISK_SYNC_SECONDARY, tok);
		ii->disk_syncs[ii->disk_syncs_count] = strdup(tok);
		if (!ii->disk_syncs[ii->disk_syncs_count++])
			return -ENOMEM;
		/* Whatever this session brings (another primary, a copy
		 * that fails half way), the old token no longer holds. */
		rc = disk_sync_forget(d, cfg->name, i);
		if (rc < 0) {
			colo_error_set(err, ERROR_CLASS_GENERIC_ERROR, "disk %d: "
				       "cannot remove its sync token: %s", i,
				       strerror(-rc));
			return rc;
		}
	}
	ii->has_disk_syncs = ii->disk_syncs_count > 0;
	return 0;
}

int colo_disks_sync_all(struct colod *d, const struct domain_config *cfg,
		const char *tok)
{
	for (int i = 0; i < cfg->ndisks; i++) {
		int rc;

		if (!replicated(&cfg->disks[i]))
			continue;
		rc = disk_sync_record(d, cfg->name, i, cfg->disks[i].file,
				      DISK_SYNC_SECONDARY, tok);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int open_blkrep(struct colod *d, const char *name, int i,
		struct ctl_client *c, struct colo_error *err)
{
	char ep[4200];

	disks_ctl(d, name, i, ep, sizeof(ep));
	return children_ctl_open(c, ep, BLKREP_CALL_MS, "blkrep", err);
}

static void announce(struct colod *d, const char *name, int disk,
		const struct blkrep_replication *r, const char *status)
{
	struct qev_disk_resync ev = {
		(char *)name, disk, r->resync_done, r->resync_total,
		(char *)status,
	};

	qapi_event_send_disk_resync(&d->sink, &ev);
	log_info("domain %s: disk %d resync %s: %lld of %lld blocks",
		 name, disk, status, (long long)r->resync_done,
		 (long long)r->resync_total);
}

/* Polls one blkrep until its resync ends; DISK_RESYNC at every tenth. */
static int wait_resync(struct colod *d, const char *name, int disk,
		struct ctl_client *c, int64_t runs_before,
		struct colo_error *err)
{
	struct blkrep_replication r;
	int64_t last_done = -1, tenth = -1;
	uint64_t moved_us = util_mono_us();
	char what[300];
	int rc;

	snprintf(what, sizeof(what), "copying disk %d of %s to its secondary",
		 disk, name);
	for (;;) {
		memset(&r, 0, sizeof(r));
		rc = qmpc_blkrep_query_replication(c, &r, err);
		if (rc < 0)
			return rc;
		if (r.resync_total && r.resync_done * 10 / r.resync_total != tenth) {
			tenth = r.resync_done * 10 / r.resync_total;
			if (r.resync_active)
				announce(d, name, disk, &r, "running");
		}
		if (r.resync_done != last_done) {
			last_done = r.resync_done;
			moved_us = util_mono_us();
		}
		if (!r.resync_active)
			break;
		blkrep_replication_fini(&r);
		if (util_mono_us() - moved_us > RESYNC_STALL_MS * 1000ull) {
			colo_error_set(err, ERROR_CLASS_TIMEOUT, "disk %d: the "
				       "resync stalled", disk);
			return -ETIMEDOUT;
		}
		/* A copy takes minutes: heartbeats and reads go on. */
		colod_serve_busy(d, name, what, 50);
		if (d->quit) {
			colo_error_set(err, ERROR_CLASS_GENERIC_ERROR, "colod is "
				       "shutting down");
			return -ECANCELED;
		}
	}
	rc = r.resyncs_completed > runs_before && !r.has_resync_error ? 0 :
	     -EIO;
	announce(d, name, disk, &r, rc == 0 ? "completed" : "failed");
	if (rc < 0)
		colo_error_set(err, ERROR_CLASS_GENERIC_ERROR, "disk %d: the "
			       "resync failed: %s", disk, r.has_resync_error ?
			       r.resync_error : "the secondary went away");
	blkrep_replication_fini(&r);
	return rc;
}

/* Starts a copy on disk i's blkrep (blkrep-replicate when a is given,
 * else blkrep-resync) and, if wait, waits for it to end. */
static int copy_one(struct colod *d, const char *name, int disk,
		const struct qmp_blkrep_replicate_args *a, bool full, bool wait,
		struct colo_error *err)
{
	struct qmp_blkrep_resync_args ra = { true, full };
	struct blkrep_replication before = { 0 };
	struct ctl_client c;
	int rc;

	if (open_blkrep(d, name, disk, &c, err) < 0)
		return -EIO;
	rc = qmpc_blkrep_query_replication(&c, &before, err);
	if (rc == 0)
		rc = a ? qmpc_blkrep_replicate(&c, a, err) :
		     qmpc_blkrep_resync(&c, &ra, err);
	if (rc == 0 && wait)
		rc = wait_resync(d, name, disk, &c, before.resyncs_completed,
				 err);
	blkrep_replication_fini(&before);
	ctl_client_close(&c);
	return rc;
}

static int replicate_one(struct colod *d, const char *name, int disk,
		const char *host, int64_t port, const char *export,
		const char *ctl, bool full, struct colo_error *err)
{
	struct qmp_blkrep_replicate_args a = { 0 };
	char uri[600];

	snprintf(uri, sizeof(uri), "nbd://%s:%lld/%s", host, (long long)port,
		 export);
	a.uri = uri;
	a.has_peer_ctl = true;
	a.peer_ctl = (char *)ctl;
	a.has_full = true;
	a.full = full;
	return copy_one(d, name, disk, &a, full, true, err);
}

/* Whether disk i of the secondary (its k-th replicated disk) can be
 * brought in step from our dirty map alone (disk_sync.h). */
static bool in_step(struct colod *d, const struct domain_config *cfg,
		int i, size_t k, const struct incoming_info *ii)
{
	char mine[DISK_SYNC_TOKEN_LEN + 1], map[4200];
	struct stat st;

	disk_sync_read(d, cfg->name, i, cfg->disks[i].file, DISK_SYNC_PRIMARY,
		       mine);
	snprintf(map, sizeof(map), "%s/overlay/%s-disk%d.dirty",
		 d->cfg.state_dir, cfg->name, i);
	return mine[0] && stat(map, &st) == 0 && ii->has_disk_syncs &&
	       k < ii->disk_syncs_count && !strcmp(mine, ii->disk_syncs[k]);
}

/* One disk: our token goes first, as the copy (even a part of it) makes
 * our dirty map count against this secondary; the session's token
 * comes back once the copy is complete. */
static int replicate_disk(struct colod *d, const struct domain_config *cfg,
		int i, size_t k, const char *host, const struct incoming_info *ii,
		bool full, const char *token, struct colo_error *err)
{
	int rc;

	if (!full && !in_step(d, cfg, i, k, ii)) {
		log_info("domain %s: disk %d on %s is not known to be in step "
			 "with ours (a new image, a takeover there, or a copy "
			 "to another host since): copying all of it",
			 cfg->name, i, host);
		full = true;
	}
	rc = disk_sync_forget(d, cfg->name, i);
	if (rc < 0) {
		colo_error_set(err, ERROR_CLASS_GENERIC_ERROR, "disk %d: cannot "
			       "remove its sync token: %s", i, strerror(-rc));
		return rc;
	}
	rc = replicate_one(d, cfg->name, i, host, ii->disk_ports[k],
			   ii->has_disk_exports && k < ii->disk_exports_count ?
			   ii->disk_exports[k] : "", ii->disk_ctls[k], full, err);
	if (rc == 0 && token &&
	    disk_sync_record(d, cfg->name, i, cfg->disks[i].file,
			     DISK_SYNC_PRIMARY, token) < 0)
		log_warn("domain %s: disk %d: cannot record the sync token: a "
			 "later resume copies all of it", cfg->name, i);
	return rc;
}

int colo_disks_replicate(struct colod *d, const struct domain_config *cfg,
		const char *host, const struct incoming_info *ii, bool full,
		const char *token, struct colo_error *err)
{
	size_t k = 0;

	for (int i = 0; i < cfg->ndisks; i++) {
		int rc;

		if (!replicated(&cfg->disks[i]))
			continue;
		if (!ii->has_disk_ports || k >= ii->disk_ports_count ||
		    k >= ii->disk_ctls_count) {
			colo_error_set(err, ERROR_CLASS_GENERIC_ERROR,
				       "the secondary has no blkrep for %s",
				       cfg->disks[i].file);
			return -EIO;
		}
		rc = replicate_disk(d, cfg, i, k, host, ii, full, token, err);
		k++;
		if (rc < 0)
			return rc;
	}
	return 0;
}

int colo_disks_attach(struct colod *d, struct dom_link *l,
		const struct domain_config *cfg, struct colo_error *err)
{
	for (int i = 0; i < cfg->ndisks; i++) {
		struct qmp_helper_colo_phase_attach_args a;
		char ep[4200];
		int rc;

		if (!replicated(&cfg->disks[i]))
			continue;
		disks_ctl(d, cfg->name, i, ep, sizeof(ep));
		a.endpoint = ep;
		a.has_timeout = true;
		a.timeout = BLKREP_PHASE_TIMEOUT_MS;
		rc = qmpc_helper_colo_phase_attach(&l->ctl, &a, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int qmp_block_resync(void *opaque, const struct qmp_block_resync_args *a,
		struct colo_error *err)
{
	struct colod *d = opaque;
	struct domain_config cfg;
	int rc = domains_config(d, a->domain, &cfg, err);

	if (rc < 0)
		return rc;
	for (int i = 0; rc == 0 && i < cfg.ndisks; i++)
		if (replicated(&cfg.disks[i]))
			rc = copy_one(d, cfg.name, i, NULL,
				      a->has_full && a->full, false, err);
	domain_config_fini(&cfg);
	return rc;
}

int qmp_query_block_replication(void *opaque,
		const struct qmp_query_block_replication_args *a,
		struct block_replication **ret, size_t *ret_count,
		struct colo_error *err)
{
	struct colod *d = opaque;
	struct domain_config cfg;
	int rc = domains_config(d, a->domain, &cfg, err);

	*ret = NULL;
	*ret_count = 0;
	if (rc < 0)
		return rc;
	*ret = calloc(DOMAIN_MAX_DISKS, sizeof(**ret));
	rc = *ret ? 0 : -ENOMEM;
	for (int i = 0; rc == 0 && i < cfg.ndisks; i++) {
		struct block_replication *b = &(*ret)[*ret_count];
		struct ctl_client c;

		if (!replicated(&cfg.disks[i]))
			continue;
		rc = open_blkrep(d, cfg.name, i, &c, err);
		if (rc < 0)
			break;
		rc = qmpc_blkrep_query_replication(&c, &b->replication, err);
		ctl_client_close(&c);
		if (rc < 0)
			break;
		b->disk = i;
		b->file = strdup(cfg.disks[i].file);
		(*ret_count)++;
	}
	domain_config_fini(&cfg);
	if (rc < 0) {
		for (size_t i = 0; i < *ret_count; i++)
			block_replication_fini(&(*ret)[i]);
		free(*ret);
		*ret = NULL;
		*ret_count = 0;
	}
	return rc;
}
