/* colod's command handlers: one qmp_<command>() per command of
 * schema/colo.json.  The generated dispatcher has already checked the
 * arguments; handlers check meaning (ranges, existence, state). */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "colo-qapi-client.h"
#include "colo-qapi-commands.h"
#include "colo_fsm.h"
#include "colod.h"
#include "params.h"
#include "util.h"

/* Looks a domain up, turning "not there" into DomainNotFound. */
static int get_domain(struct colod *d, const char *name,
		struct state_domain *dom, struct colo_error *err)
{
	int rc = state_domain_get(&d->st, name, dom);

	if (rc == -ENOENT)
		colo_error_set(err, ERROR_CLASS_DOMAIN_NOT_FOUND,
			       "domain '%s' not found", name);
	else if (rc < 0)
		colo_error_set(err, ERROR_CLASS_INTERNAL_ERROR,
			       "cannot read domain '%s' from the state database",
			       name);
	return rc;
}

int qmp_query_version(void *opaque, struct version_info *ret,
		struct colo_error *err)
{
	int major = 0, minor = 0, micro = 0;

	sscanf(PACKAGE_VERSION, "%d.%d.%d", &major, &minor, &micro);
	ret->major = major;
	ret->minor = minor;
	ret->micro = micro;
	ret->package = xstrdup(PACKAGE_STRING);
	ret->protocol = COLO_PROTOCOL_VERSION;
	return 0;
}

/* MemTotal / MemAvailable from /proc/meminfo, in MiB. */
static void read_meminfo(int64_t *total, int64_t *avail)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	long long kb;

	*total = *avail = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "MemTotal: %lld kB", &kb) == 1)
			*total = kb / 1024;
		else if (sscanf(line, "MemAvailable: %lld kB", &kb) == 1)
			*avail = kb / 1024;
	}
	fclose(f);
}

static bool kvm_usable(void)
{
	int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

int qmp_query_host_info(void *opaque, struct host_info *ret,
		struct colo_error *err)
{
	struct colod *d = opaque;
	struct utsname u;
	int n = state_domain_count(&d->st);

	if (n < 0) {
		colo_error_set(err, ERROR_CLASS_INTERNAL_ERROR,
			       "cannot count domains in the state database");
		return n;
	}
	uname(&u);
	ret->host = xstrdup(u.nodename);
	ret->release = xstrdup(u.release);
	ret->machine = xstrdup(u.machine);
	ret->nr_cpus = sysconf(_SC_NPROCESSORS_ONLN);
	read_meminfo(&ret->total_memory, &ret->free_memory);
	ret->kvm = kvm_usable();
	ret->colod_version = xstrdup(PACKAGE_VERSION);
	ret->protocol = COLO_PROTOCOL_VERSION;
	ret->state_dir = xstrdup(d->cfg.state_dir);
	ret->run_dir = xstrdup(d->cfg.run_dir);
	ret->db_schema = state_schema_version(&d->st);
	ret->uptime = (int64_t)((util_now_us() - d->start_us) / 1000000u);
	ret->domains = n;
	return 0;
}

/* How long a read request (list, colo status) waits for a helper's live
 * figures: it holds the loop meanwhile, heartbeats included, so a hung
 * or dying helper must cost less than half the heartbeat limit, or the
 * peer would take this host for dead.  Failing that, the figures come
 * from the state database. */
static int quick_ms(const struct colod *d)
{
	long ms = (long)d->params.heartbeat_interval *
		  d->params.heartbeat_misses / 2;

	return ms < 20 ? 20 : ms > 2000 ? 2000 : (int)ms;
}

/* Live figures from the domain's helper, when it answers before
 * deadline (util_mono_us), which one request shares among its domains:
 * two hung helpers must not cost it twice. */
static void refresh_from_helper(struct colod *d, struct domain_info *o,
				uint64_t deadline)
{
	struct dom_link *l = domains_get(d, o->name, NULL);
	struct helper_info hi;
	struct colo_error err = { 0 };
	uint64_t now = util_mono_us();
	int saved;

	if (!l || now + 1000 > deadline)
		return;
	saved = l->ctl.timeout_ms;
	l->ctl.timeout_ms = (int)((deadline - now) / 1000);
	if (qmpc_helper_query(&l->ctl, &hi, &err) == 0) {
		o->cpu_time = hi.cpu_time;
		o->state = hi.state;
		helper_info_fini(&hi);
	}
	l->ctl.timeout_ms = saved;
}

static void fill_domain_info(struct domain_info *o,
		const struct state_domain *s)
{
	o->name = xstrdup(s->name);
	o->domid = s->domid;
	o->uuid = xstrdup(s->uuid);
	o->memory = s->mem_mib;
	o->vcpus = s->vcpus;
	o->state = s->run_state;
	o->cpu_time = s->cpu_time;
	o->colo_mode = s->mode;
}

int qmp_query_domains(void *opaque, const struct qmp_query_domains_args *args,
		struct domain_info **ret, size_t *ret_count,
		struct colo_error *err)
{
	struct colod *d = opaque;
	struct state_domain *v = NULL, one;
	uint64_t deadline;
	size_t n = 0;
	int rc;

	if (args->has_domain) {
		rc = get_domain(d, args->domain, &one, err);
		if (rc < 0)
			return rc;
		v = &one;
		n = 1;
	} else if ((rc = state_domain_list(&d->st, &v, &n)) < 0) {
		colo_error_set(err, ERROR_CLASS_INTERNAL_ERROR,
			       "cannot list domains");
		return rc;
	}
	*ret = calloc(n ? n : 1, sizeof(**ret));
	if (!*ret)
		abort();
	deadline = util_mono_us() + (uint64_t)quick_ms(d) * 1000;
	for (size_t i = 0; i < n; i++) {
		fill_domain_info(&(*ret)[i], &v[i]);
		refresh_from_helper(d, &(*ret)[i], deadline);
	}
	*ret_count = n;
	if (v != &one)
		free(v);
	return 0;
}

int qmp_query_status(void *opaque, const struct qmp_query_status_args *args,
		struct status_info *ret, struct colo_error *err)
{
	struct state_domain dom;
	int rc = get_domain(opaque, args->domain, &dom, err);

	if (rc < 0)
		return rc;
	ret->status = dom.run_state;
	ret->running = dom.run_state == RUN_STATE_RUNNING ||
		       dom.run_state == RUN_STATE_COLO;
	return 0;
}

/* Checkpoint figures from a COLO helper, when it answers quickly. */
static void colo_status_add_helper(struct colod *d, const char *name,
		struct colo_status *ret)
{
	struct dom_link *l = domains_get(d, name, NULL);
	struct colo_helper_status hs;
	struct colo_error err = { 0 };
	int saved;

	if (!l)
		return;
	saved = l->ctl.timeout_ms;
	l->ctl.timeout_ms = quick_ms(d);
	if (qmpc_helper_query_colo(&l->ctl, &hs, &err) < 0) {
		l->ctl.timeout_ms = saved;
		colo_error_clear(&err);
		return;
	}
	if (hs.active || hs.checkpoints || hs.error[0]) {
		ret->has_error = hs.error[0] != '\0';
		if (ret->has_error)
			ret->error = xstrdup(hs.error);
		ret->has_standby = !hs.primary;
		ret->standby = hs.standby;
		/* Pauses and triggers are the primary's business. */
		ret->has_checkpoints = true;
		ret->has_last_pause_us = ret->has_mean_pause_us = hs.primary;
		ret->has_p99_pause_us = hs.primary;
		ret->checkpoints = hs.checkpoints;
		ret->last_pause_us = hs.last_pause_us;
		ret->mean_pause_us = hs.mean_pause_us;
		ret->p99_pause_us = hs.p99_pause_us;
		ret->has_last_trigger = hs.primary;
		if (hs.primary)
			ret->last_trigger = xstrdup(hs.last_trigger);
	}
	colo_helper_status_fini(&hs);
	l->ctl.timeout_ms = saved;
}

int qmp_query_colo_status(void *opaque,
		const struct qmp_query_colo_status_args *args,
		struct colo_status *ret, struct colo_error *err)
{
	struct state_domain dom;
	int rc = get_domain(opaque, args->domain, &dom, err);

	if (rc < 0)
		return rc;
	ret->mode = dom.mode;
	ret->last_mode = dom.last_mode;
	ret->reason = dom.reason;
	ret->failover = dom.failover;
	{
		char peer[300];

		if (state_domain_peer(&((struct colod *)opaque)->st,
				      args->domain, peer, sizeof(peer)) == 0 &&
		    peer[0]) {
			ret->has_peer = true;
			ret->peer = xstrdup(peer);
		}
	}
	colo_status_add_helper(opaque, args->domain, ret);
	return 0;
}

int qmp_x_colo_lost_heartbeat(void *opaque,
		const struct qmp_x_colo_lost_heartbeat_args *args,
		struct colo_error *err)
{
	return colo_fsm_failover(opaque, args->domain,
				 COLO_EXIT_REASON_REQUEST, err);
}

int qmp_query_parameters(void *opaque, struct parameters *ret,
		struct colo_error *err)
{
	struct colod *d = opaque;

	*ret = d->params;
	return 0;
}

/* A new checkpoint interval reaches COLO primaries at once, not only
 * the next COLO start.  A helper that refuses is only logged. */
static void apply_interval(struct colod *d, int64_t interval)
{
	for (int i = 0; i < d->doms.n; i++) {
		struct dom_link *l = d->doms.v[i];
		struct qmp_helper_colo_set_args hs = { .interval = interval };
		struct state_domain dom;
		struct colo_error e = { 0 };

		if (state_domain_get(&d->st, l->name, &dom) < 0 ||
		    dom.mode != COLO_MODE_PRIMARY || l->quitting)
			continue;
		if (qmpc_helper_colo_set(&l->ctl, &hs, &e) < 0)
			log_warn("domain %s: checkpoint interval: %s", l->name,
				 e.desc);
	}
}

int qmp_set_parameters(void *opaque, const struct qmp_set_parameters_args *a,
		struct parameters *ret, struct colo_error *err)
{
	struct colod *d = opaque;
	struct parameters p = d->params;
	struct qev_parameters_changed ev;
	int rc;

	if (a->has_checkpoint_interval)
		p.checkpoint_interval = a->checkpoint_interval;
	if (a->has_heartbeat_interval)
		p.heartbeat_interval = a->heartbeat_interval;
	if (a->has_heartbeat_misses)
		p.heartbeat_misses = a->heartbeat_misses;
	if (a->has_auto_failover)
		p.auto_failover = a->auto_failover;
	if (a->has_max_downtime)
		p.max_downtime = a->max_downtime;
	rc = params_validate(&p, err);
	if (rc < 0)
		return rc;
	rc = colod_txn_begin(d);
	if (rc == 0)
		rc = params_store(&d->st, &p);
	if (rc < 0) {
		colod_txn_rollback(d);
		colo_error_set(err, ERROR_CLASS_INTERNAL_ERROR,
			       "cannot store parameters");
		return rc;
	}
	ev.parameters = p;
	qapi_event_send_parameters_changed(&d->sink, &ev);
	rc = colod_txn_commit(d);
	if (rc < 0) {
		colo_error_set(err, ERROR_CLASS_INTERNAL_ERROR,
			       "cannot commit parameters");
		return rc;
	}
	d->params = p;
	*ret = p;
	if (a->has_checkpoint_interval)
		apply_interval(d, p.checkpoint_interval);
	return 0;
}
