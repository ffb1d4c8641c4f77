/* The failover state machine: none -> require -> active -> completed.
 * Every edge is a compare-and-swap committed to SQLite together with its
 * event, and only then acted on, so a crash at any point leaves a state
 * that colo_fsm_recover() can finish. */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "colo_fsm.h"
#include "colo-qapi-client.h"
#include "colod.h"
#include "domains.h"
#include "log.h"

bool colo_fsm_failover_edge_ok(enum failover_status from,
		enum failover_status to)
{
	switch (from) {
	case FAILOVER_STATUS_NONE:
		return to == FAILOVER_STATUS_REQUIRE;
	case FAILOVER_STATUS_REQUIRE:
		return to == FAILOVER_STATUS_ACTIVE;
	case FAILOVER_STATUS_ACTIVE:
		return to == FAILOVER_STATUS_COMPLETED;
	case FAILOVER_STATUS_COMPLETED:
		return to == FAILOVER_STATUS_RELAUNCH ||
		       to == FAILOVER_STATUS_NONE;
	case FAILOVER_STATUS_RELAUNCH:
		return to == FAILOVER_STATUS_NONE;
	default:
		return false;
	}
}

static void emit_status(struct colod *d, const char *name,
		enum failover_status s)
{
	struct qev_failover_status ev = {
		.domain = (char *)name,
		.status = s,
	};

	qapi_event_send_failover_status(&d->sink, &ev);
}

/* One committed edge.  When starting a failover the reason is stored with
 * it, so recovery knows what COLO_EXIT must say. */
static int step(struct colod *d, const char *name, enum failover_status from,
		enum failover_status to, enum colo_exit_reason reason)
{
	struct state_domain dom;
	int rc;

	if (!colo_fsm_failover_edge_ok(from, to))
		return -EINVAL;
	rc = colod_txn_begin(d);
	if (rc < 0)
		return rc;
	rc = state_failover_cas(&d->st, name, from, to);
	if (rc == 0 && to == FAILOVER_STATUS_REQUIRE) {
		rc = state_domain_get(&d->st, name, &dom);
		if (rc == 0) {
			dom.failover_reason = reason;
			rc = state_domain_put_colo(&d->st, &dom);
		}
	}
	if (rc < 0) {
		colod_txn_rollback(d);
		return rc;
	}
	emit_status(d, name, to);
	rc = colod_txn_commit(d);
	if (rc == 0)
		log_info("%s: failover %s -> %s", name,
			 failover_status_str(from), failover_status_str(to));
	return rc;
}

/* Tells the domain's helper to act out the failover: a primary stops
 * checkpointing and runs alone, a secondary takes over.  A domain whose
 * helper is gone has nothing left to tell; the bookkeeping still runs. */
static int act(struct colod *d, const struct state_domain *dom)
{
	struct dom_link *l = domains_get(d, dom->name, NULL);
	struct colo_error err = { 0 };

	log_info("%s: failover as %s", dom->name, colo_mode_str(dom->mode));
	if (l && qmpc_helper_colo_failover(&l->ctl, &err) < 0)
		log_warn("%s: the helper did not take the failover: %s",
			 dom->name, err.desc);
	return 0;
}

/* The last edge: mode, last mode, reason and COLO_EXIT in one commit. */
static int complete(struct colod *d, const char *name)
{
	struct state_domain dom;
	struct qev_colo_exit ev;
	int rc = colod_txn_begin(d);

	if (rc < 0)
		return rc;
	rc = state_domain_get(&d->st, name, &dom);
	if (rc == 0 && dom.failover != FAILOVER_STATUS_ACTIVE)
		rc = -ESTALE;
	if (rc == 0) {
		dom.last_mode = dom.mode;
		dom.mode = COLO_MODE_UNKNOWN;
		dom.reason = dom.failover_reason;
		dom.failover = FAILOVER_STATUS_COMPLETED;
		if (dom.migration == MIGRATION_STATUS_COLO)
			dom.migration = MIGRATION_STATUS_COMPLETED;
		rc = state_domain_put_colo(&d->st, &dom);
	}
	if (rc < 0) {
		colod_txn_rollback(d);
		return rc;
	}
	emit_status(d, name, FAILOVER_STATUS_COMPLETED);
	ev.domain = dom.name;
	ev.mode = dom.last_mode;
	ev.reason = dom.reason;
	qapi_event_send_colo_exit(&d->sink, &ev);
	rc = colod_txn_commit(d);
	if (rc == 0)
		log_info("%s: failover completed; was %s", name,
			 colo_mode_str(dom.last_mode));
	return rc;
}

/* Drives a domain from its current failover status to completed. */
static int run_from(struct colod *d, struct state_domain *dom,
		enum colo_exit_reason reason)
{
	int rc = 0;

	if (dom->failover == FAILOVER_STATUS_NONE) {
		rc = step(d, dom->name, FAILOVER_STATUS_NONE,
			  FAILOVER_STATUS_REQUIRE, reason);
		if (rc < 0)
			return rc;
		dom->failover = FAILOVER_STATUS_REQUIRE;
		colod_test_delay(d, "after failover require");
	}
	if (dom->failover == FAILOVER_STATUS_REQUIRE) {
		rc = step(d, dom->name, FAILOVER_STATUS_REQUIRE,
			  FAILOVER_STATUS_ACTIVE, reason);
		if (rc < 0)
			return rc;
		dom->failover = FAILOVER_STATUS_ACTIVE;
		colod_test_delay(d, "after failover active");
	}
	rc = act(d, dom);
	if (rc < 0)
		return rc;
	colod_test_delay(d, "before failover completed");
	return complete(d, dom->name);
}

int colo_fsm_failover(struct colod *d, const char *name,
		enum colo_exit_reason reason, struct colo_error *err)
{
	struct state_domain dom;
	int rc = state_domain_get(&d->st, name, &dom);

	if (rc == -ENOENT) {
		colo_error_set(err, ERROR_CLASS_DOMAIN_NOT_FOUND,
			       "domain '%s' not found", name);
		return rc;
	}
	if (rc < 0)
		goto fail;
	if (dom.mode == COLO_MODE_UNKNOWN) {
		colo_error_set(err, ERROR_CLASS_INVALID_STATE,
			       "domain '%s' is not in COLO mode", name);
		return -EINVAL;
	}
	if (dom.failover != FAILOVER_STATUS_NONE) {
		colo_error_set(err, ERROR_CLASS_INVALID_STATE,
			       "domain '%s': failover already %s", name,
			       failover_status_str(dom.failover));
		return -EBUSY;
	}
	rc = run_from(d, &dom, reason);
	if (rc == -ESTALE) {
		colo_error_set(err, ERROR_CLASS_INVALID_STATE,
			       "domain '%s' changed state during failover",
			       name);
		return rc;
	}
	if (rc == 0)
		return 0;
fail:
	colo_error_set(err, ERROR_CLASS_INTERNAL_ERROR,
		       "domain '%s': failover failed: %s", name, strerror(-rc));
	return rc;
}

int colo_fsm_recover(struct colod *d)
{
	struct state_domain *v;
	size_t n;
	int rc = state_domain_list(&d->st, &v, &n);

	if (rc < 0) {
		log_error("recovery: cannot read domains from %s", d->st.path);
		return rc;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (v[i].failover != FAILOVER_STATUS_REQUIRE &&
		    v[i].failover != FAILOVER_STATUS_ACTIVE)
			continue;
		log_warn("%s: finishing failover interrupted at '%s'",
			 v[i].name, failover_status_str(v[i].failover));
		rc = run_from(d, &v[i], v[i].failover_reason);
	}
	free(v);
	return rc;
}
