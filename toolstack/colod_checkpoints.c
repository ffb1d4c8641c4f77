/* Checkpoint records in colod: copied from each COLO helper's ring into
 * the checkpoints table, and served by query-colo-stats.  The helper's
 * ring holds 1024, so a colod that is down for less than that many
 * checkpoints loses none of them. */
#include "config.h"
#include <stdlib.h>
#include "colo-qapi-client.h"
#include "colo-qapi-commands.h"
#include "colod.h"
#include "domains.h"
#include "log.h"
#include "util.h"

#define STATS_DEFAULT_LIMIT	20
#define HELPER_TIMEOUT_MS	2000

void domains_sync_checkpoints(struct colod *d, struct dom_link *l)
{
	struct qmp_helper_query_checkpoints_args a = { true, l->ckpt_seq };
	struct checkpoint_record *v = NULL;
	struct colo_error err = { 0 };
	size_t n = 0;
	int saved = l->ctl.timeout_ms, rc;

	if (l->quitting)
		return;
	l->ctl.timeout_ms = HELPER_TIMEOUT_MS;
	rc = qmpc_helper_query_checkpoints(&l->ctl, &a, &v, &n, &err);
	l->ctl.timeout_ms = saved;
	if (rc < 0) {
		log_debug("%s: checkpoint records: %s", l->name, err.desc);
		colo_error_clear(&err);
		return;
	}
	if (n > 0 && colod_txn_begin(d) == 0) {
		if (state_checkpoints_add(&d->st, l->name, l->pid, v, n) == 0 &&
		    colod_txn_commit(d) == 0) {
			l->ckpt_seq = v[n - 1].seq;
		} else {
			colod_txn_rollback(d);
			log_warn("%s: checkpoint records not stored", l->name);
		}
	}
	for (size_t i = 0; i < n; i++)
		checkpoint_record_fini(&v[i]);
	free(v);
}

void domains_checkpoints_tick(struct colod *d)
{
	d->ckpt_tick_us = util_mono_us();
	for (int i = 0; i < d->doms.n; i++) {
		struct state_domain row;

		if (state_domain_get(&d->st, d->doms.v[i]->name, &row) == 0 &&
		    (row.mode != COLO_MODE_UNKNOWN ||
		     row.migration == MIGRATION_STATUS_COLO))
			domains_sync_checkpoints(d, d->doms.v[i]);
	}
}

int qmp_query_colo_stats(void *opaque,
		const struct qmp_query_colo_stats_args *args,
		struct checkpoint_record **ret, size_t *ret_count,
		struct colo_error *err)
{
	struct colod *d = opaque;
	struct state_domain row;
	struct dom_link *l;
	int limit = STATS_DEFAULT_LIMIT;

	if (args->has_limit) {
		if (args->limit < 1 || args->limit > STATE_CHECKPOINTS_MAX) {
			colo_error_set(err, ERROR_CLASS_INVALID_PARAMETER,
				       "limit must be 1 to %d",
				       STATE_CHECKPOINTS_MAX);
			return -EINVAL;
		}
		limit = (int)args->limit;
	}
	if (state_domain_get(&d->st, args->domain, &row) < 0) {
		colo_error_set(err, ERROR_CLASS_DOMAIN_NOT_FOUND,
			       "domain '%s' not found", args->domain);
		return -ENOENT;
	}
	l = domains_get(d, args->domain, NULL);
	if (l)
		domains_sync_checkpoints(d, l);
	if (state_checkpoints_list(&d->st, args->domain, limit, ret,
				   ret_count) < 0) {
		colo_error_set(err, ERROR_CLASS_INTERNAL_ERROR,
			       "cannot read the checkpoint records");
		return -EIO;
	}
	return 0;
}
