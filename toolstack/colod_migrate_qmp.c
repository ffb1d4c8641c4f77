/* Live migration between colods: the source's migrate and query-migrate,
 * and the destination's side of the peer link (x-peer-hello,
 * x-migrate-incoming).  The RAM itself goes helper to helper. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <unistd.h>
#include "colo-qapi-client.h"
#include "colo-qapi-commands.h"
#include "colod.h"
#include "colo_disks.h"
#include "disk_sync.h"
#include "colo_netproxy.h"
#include "domains.h"
#include "log.h"
#include "util.h"

#define PEER_TIMEOUT_MS 5000

/* The host's TSC rate, from a throwaway vCPU (once). */
static int64_t host_tsc_khz(void)
{
	static int64_t khz = -1;
	int kvm, vm, vcpu;

	if (khz >= 0)
		return khz;
	khz = 0;
	kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (kvm < 0)
		return 0;
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	vcpu = vm >= 0 ? ioctl(vm, KVM_CREATE_VCPU, 0) : -1;
	if (vcpu >= 0) {
		int r = ioctl(vcpu, KVM_GET_TSC_KHZ, 0);

		khz = r > 0 ? r : 0;
		close(vcpu);
	}
	if (vm >= 0)
		close(vm);
	close(kvm);
	return khz;
}

int qmp_x_peer_hello(void *opaque, const struct qmp_x_peer_hello_args *a,
		struct peer_info *ret, struct colo_error *err)
{
	struct utsname u;

	if (a->protocol != COLO_PROTOCOL_VERSION) {
		colo_error_set(err, ERROR_CLASS_INVALID_STATE,
			       "protocol %lld from %s; this colod speaks %d",
			       (long long)a->protocol, a->host,
			       COLO_PROTOCOL_VERSION);
		return -EPROTO;
	}
	uname(&u);
	ret->host = strdup(u.nodename);
	if (!ret->host)
		abort();
	ret->protocol = COLO_PROTOCOL_VERSION;
	ret->tsc_khz = host_tsc_khz();
	return 0;
}

static int set_colo_mode(struct colod *d, const char *name,
		enum colo_mode mode, enum migration_status ms);

static void remove_incoming(struct colod *d, const char *name)
{
	struct colo_error err = { 0 };

	if (domains_destroy(d, name, &err) < 0)
		log_warn("domain %s: the failed incoming is left: %s", name,
			 err.desc);
	else
		log_info("domain %s: removed the failed incoming", name);
	colo_error_clear(&err);
}

/* Both kinds of incoming domain: a migration, or a COLO secondary. */
static int incoming(struct colod *d, const char *config, bool colo,
		const char *peer, const int64_t *disk_sizes, size_t ndisk_sizes,
		const char *disk_token, struct incoming_info *ret,
		struct colo_error *err)
{
	struct domain_config cfg;
	char why[512], addr[256];
	bool created;
	int rc, port = 0;

	if (!d->cfg.peer_listen) {
		colo_error_set(err, ERROR_CLASS_INVALID_STATE,
			       "this colod has no peer_listen address");
		return -EINVAL;
	}
	/* The stream arrives on the address peers already reach us at. */
	snprintf(addr, sizeof(addr), "%s", d->cfg.peer_listen);
	if (strrchr(addr, ':'))
		*strrchr(addr, ':') = '\0';
	if (!strcmp(addr, "*"))
		snprintf(addr, sizeof(addr), "0.0.0.0");
	rc = domain_config_parse(&cfg, config, strlen(config),
				 "incoming config", why, sizeof(why));
	if (rc < 0) {
		colo_error_set(err, ERROR_CLASS_INVALID_PARAMETER, "%s", why);
		return rc;
	}
	/* The images' tokens as they were before this session. */
	if (colo && (rc = colo_disks_syncs(d, &cfg, ret, err)) < 0) {
		colo_error_set(err, ERROR_CLASS_INTERNAL_ERROR, "out of memory");
		domain_config_fini(&cfg);
		return rc;
	}
	rc = domains_create_incoming(d, &cfg, addr, colo, disk_sizes,
				     ndisk_sizes, &port, err);
	created = rc == 0;
	if (rc == 0 && getenv("COLOD_TEST_FAIL_INCOMING")) {
		colo_error_set(err, ERROR_CLASS_GENERIC_ERROR, "test: incoming "
			       "made to fail once the domain exists");
		rc = -EIO;
	}
	if (rc == 0 && port <= 0) {
		colo_error_set(err, ERROR_CLASS_INTERNAL_ERROR,
			       "the incoming helper reported no port");
		rc = -EIO;
	}
	/* The secondary's netproxies: their ports go back to the primary,
	 * and they hear this helper's checkpoint phases. */
	if (rc == 0 && colo) {
		struct dom_link *l = domains_get(d, cfg.name, err);

		rc = colo_netproxy_ports(d, &cfg, &ret->net_ports,
					 &ret->net_ports_count, err);
		ret->has_net_ports = ret->net_ports_count > 0;
		if (rc == 0)
			rc = colo_disks_ports(d, &cfg, ret, err);
		if (rc == 0)
			rc = l ? colo_netproxy_attach(d, l, &cfg, err) : -ENOENT;
		if (rc == 0)
			rc = colo_disks_attach(d, l, &cfg, err);
	}
	if (rc == 0 && colo)
		rc = set_colo_mode(d, cfg.name, COLO_MODE_SECONDARY,
				   MIGRATION_STATUS_SETUP);
	if (rc == 0 && colo && peer)
		state_domain_set_peer(&d->st, cfg.name, peer);
	/* Failing that, a later resume copies the disks in full. */
	if (rc == 0 && colo && disk_token &&
	    colo_disks_sync_all(d, &cfg, disk_token) < 0)
		log_warn("domain %s: cannot record the disks' sync token",
			 cfg.name);
	/* The primary gets the error and makes nothing of it: what was made
	 * here goes, or it would wait for a stream forever and a retry
	 * would find the name taken. */
	if (rc < 0 && created)
		remove_incoming(d, cfg.name);
	domain_config_fini(&cfg);
	ret->port = port;
	return rc;
}

int qmp_x_migrate_incoming(void *opaque,
		const struct qmp_x_migrate_incoming_args *a,
		struct incoming_info *ret, struct colo_error *err)
{
	return incoming(opaque, a->config, false, NULL, NULL, 0, NULL, ret,
			err);
}

int qmp_x_colo_incoming(void *opaque,
		const struct qmp_x_colo_incoming_args *a,
		struct incoming_info *ret, struct colo_error *err)
{
	return incoming(opaque, a->config, true, a->has_peer ? a->peer : NULL,
			a->has_disk_sizes ? a->disk_sizes : NULL,
			a->has_disk_sizes ? a->disk_sizes_count : 0,
			a->has_disk_token ? a->disk_token : NULL, ret, err);
}

/* Records a domain's COLO mode, committed before anything acts on it.
 * A new COLO run starts with a clean failover status. */
static int set_colo_mode(struct colod *d, const char *name,
		enum colo_mode mode, enum migration_status ms)
{
	struct state_domain dom;
	int rc = state_domain_get(&d->st, name, &dom);

	if (rc < 0)
		return rc;
	dom.mode = mode;
	dom.migration = ms;
	dom.failover = FAILOVER_STATUS_NONE;
	dom.reason = COLO_EXIT_REASON_NONE;
	colod_txn_begin(d);
	rc = state_domain_put_colo(&d->st, &dom);
	return rc == 0 ? colod_txn_commit(d) : (colod_txn_rollback(d), rc);
}

/* HOST or HOST:PORT. */
static int bad_uri(struct colo_error *err)
{
	colo_error_set(err, ERROR_CLASS_INVALID_PARAMETER, "uri must be HOST "
		       "or HOST:PORT, HOST an IPv4 address or a host name");
	return -EINVAL;
}

static int split_uri(const char *uri, char *host, size_t len, int *port,
		     struct colo_error *err)
{
	const char *colon = strrchr(uri, ':');
	long long p = COLOD_PEER_PORT;

	if (colon && util_parse_ll(colon + 1, 1, 65535, &p) < 0)
		return bad_uri(err);
	snprintf(host, len, "%.*s", colon ? (int)(colon - uri) : (int)strlen(uri),
		 uri);
	*port = (int)p;
	/* IPv6 literals are refused, not misread: the peer, migration
	 * and NBD endpoints built from host would need brackets. */
	return *host && !strpbrk(host, ":[]") ? 0 : bad_uri(err);
}

/* A client of the peer colod at host:port (ep says where), over CURVE
 * when configured; 0 or -errno. */
static int open_peer(struct colod *d, const char *host, int port,
		struct ctl_client *c, char *ep, size_t eplen)
{
	snprintf(ep, eplen, "tcp://%s:%d", host, port);
	return ctl_client_open_curve(c, ep, PEER_TIMEOUT_MS, d->cfg.curve ?
				     &d->cfg.curve_keys : NULL);
}

/* Asks the peer to make ready; returns the incoming helper's port. */
static int prepare_peer(struct colod *d, const char *host, int port,
		const char *config, bool colo, const int64_t *disk_sizes,
		size_t ndisk_sizes, const char *disk_token, int *in_port,
		struct incoming_info *colo_ii, struct colo_error *err)
{
	struct ctl_client c;
	struct qmp_x_peer_hello_args hello;
	struct qmp_x_migrate_incoming_args inc = { (char *)config };
	struct qmp_x_colo_incoming_args cinc = {
		(char *)config, d->cfg.peer_listen != NULL, d->cfg.peer_listen,
		ndisk_sizes > 0, (int64_t *)disk_sizes, ndisk_sizes,
		disk_token != NULL, (char *)disk_token,
	};
	struct peer_info pi;
	struct incoming_info ii;
	struct utsname u;
	char ep[300];
	int64_t mine = host_tsc_khz();
	int rc;

	rc = open_peer(d, host, port, &c, ep, sizeof(ep));
	if (rc < 0) {
		colo_error_set(err, ERROR_CLASS_GENERIC_ERROR,
			       "cannot reach the peer colod at %s", ep);
		goto out;
	}
	uname(&u);
	hello.host = u.nodename;
	hello.protocol = COLO_PROTOCOL_VERSION;
	rc = qmpc_x_peer_hello(&c, &hello, &pi, err);
	/* A CURVE handshake that fails is silence to us: say what it may
	 * be. */
	if (rc == -ETIMEDOUT) {
		char bare[sizeof(err->desc)];

		snprintf(bare, sizeof(bare), "%s", err->desc);
		err->set = false;	/* the bare timeout, with a hint */
		colo_error_set(err, ERROR_CLASS_TIMEOUT, "%.300s: is the peer "
			       "colod up%s?", bare, d->cfg.curve ?
			       ", with curve_peer_public_key set to our "
			       "public key" : ", and without CURVE keys");
	}
	if (rc < 0)
		goto out;
	if (mine && pi.tsc_khz &&
	    (pi.tsc_khz > mine + mine / 1000 || pi.tsc_khz + pi.tsc_khz / 1000 <
	     mine)) {
		colo_error_set(err, ERROR_CLASS_INVALID_STATE,
			       "the peer's TSC runs at %lld kHz, ours at %lld "
			       "kHz: guests cannot move between them",
			       (long long)pi.tsc_khz, (long long)mine);
		rc = -EINVAL;
	}
	peer_info_fini(&pi);
	if (rc == 0)
		rc = colo ? qmpc_x_colo_incoming(&c, &cinc, &ii, err) :
		     qmpc_x_migrate_incoming(&c, &inc, &ii, err);
	if (rc == 0)
		*in_port = (int)ii.port;
	if (rc == 0 && colo_ii)
		*colo_ii = ii;		/* the caller owns the ports */
	else if (rc == 0)
		incoming_info_fini(&ii);
out:
	ctl_client_close(&c);
	return rc;
}

/* A colo start that failed after the peer made its secondary: the peer
 * destroys it (its blkreps with it, which ends our replication to them
 * at the next write), so that nothing waits there for a stream that
 * will not come and a retry finds the name free.  Best effort: the
 * start's own error is what the user sees. */
static void abandon_secondary(struct colod *d, const char *host, int port,
		const char *domain)
{
	struct qmp_domain_destroy_args a = { (char *)domain };
	struct colo_error err = { 0 };
	struct ctl_client c;
	char ep[300];

	if (open_peer(d, host, port, &c, ep, sizeof(ep)) < 0) {
		log_warn("%s: cannot reach %s to remove the secondary of the "
			 "failed start: destroy it there by hand", domain, ep);
		return;
	}
	if (qmpc_domain_destroy(&c, &a, &err) < 0)
		log_warn("%s: %s did not remove the secondary of the failed "
			 "start: %s", domain, ep, err.desc);
	else
		log_info("%s: removed the secondary of the failed start on %s",
			 domain, ep);
	ctl_client_close(&c);
}

int qmp_migrate(void *opaque, const struct qmp_migrate_args *a,
		struct colo_error *err)
{
	struct colod *d = opaque;
	struct dom_link *l = domains_get(d, a->domain, err);
	struct qmp_helper_migrate_args hm;
	struct state_domain dom;
	char host[256], *xml = NULL;
	int port, in_port = 0, rc;

	if (!l)
		return -ENOENT;
	if (split_uri(a->uri, host, sizeof(host), &port, err) < 0)
		return -EINVAL;
	rc = state_domain_config(&d->st, a->domain, &xml);
	if (rc < 0) {
		colo_error_set(err, ERROR_CLASS_INTERNAL_ERROR,
			       "no stored config for %s", a->domain);
		return rc;
	}
	rc = prepare_peer(d, host, port, xml, false, NULL, 0, NULL, &in_port,
			  NULL, err);
	free(xml);
	if (rc < 0)
		return rc;
	/* Committed before the helper is told, as every transition. */
	if (state_domain_get(&d->st, a->domain, &dom) == 0) {
		dom.migration = MIGRATION_STATUS_ACTIVE;
		colod_txn_begin(d);
		state_domain_put_colo(&d->st, &dom);
		colod_txn_commit(d);
	}
	hm.host = host;
	hm.port = in_port;
	hm.max_downtime = d->params.max_downtime;
	return qmpc_helper_migrate(&l->ctl, &hm, err);
}

int qmp_query_migrate(void *opaque, const struct qmp_query_migrate_args *a,
		struct migration_info *ret, struct colo_error *err)
{
	struct colod *d = opaque;
	struct dom_link *l = domains_get(d, a->domain, NULL);

	if (l && !l->quitting) {
		/* Asked every 200 ms while a migration runs: a helper that
		 * does not answer at once must not hold colod for the minute
		 * its working calls may take.  The client asks again. */
		int saved = l->ctl.timeout_ms, rc;

		l->ctl.timeout_ms = HELPER_COLLECT_TIMEOUT_MS;
		rc = qmpc_helper_query_migrate(&l->ctl, ret, err);
		l->ctl.timeout_ms = saved;
		return rc;
	}
	/* Gone, or going: the newest record of its last migration. */
	for (int i = 1; i <= 16; i++) {
		int k = (d->last_mig_next - i + 32) % 16;

		if (!strcmp(d->last_mig[k].name, a->domain)) {
			*ret = d->last_mig[k].info;
			ret->error = strdup(ret->error ? ret->error : "");
			if (!ret->error)
				abort();
			return 0;
		}
	}
	colo_error_set(err, ERROR_CLASS_DOMAIN_NOT_FOUND,
		       "domain '%s' not found", a->domain);
	return -ENOENT;
}

/* The primary's blkreps copy their disks to the secondary's and
 * replicate from then on, its netproxies connect to the secondary's,
 * and all of them hear this helper's checkpoint phases, before the
 * first checkpoint. */
static int wire_colo(struct colod *d, struct dom_link *l,
		const struct domain_config *cfg, const char *host,
		const struct incoming_info *ii, bool full_sync,
		const char *token, struct colo_error *err)
{
	int rc = colo_disks_replicate(d, cfg, host, ii, full_sync, token,
				      err);

	if (rc == 0)
		rc = colo_netproxy_primary(d, cfg, host, ii->net_ports,
					   ii->has_net_ports ?
					   ii->net_ports_count : 0, err);
	if (rc == 0)
		rc = colo_netproxy_attach(d, l, cfg, err);
	if (rc == 0)
		rc = colo_disks_attach(d, l, cfg, err);
	return rc;
}

/* Asks the peer for a secondary and wires this side to it, under a new
 * sync token for the disks (disk_sync.h). */
static int setup_secondary(struct colod *d, struct dom_link *l,
		const char *xml, const char *host, int port, bool full_sync,
		int *in_port, struct colo_error *err)
{
	struct incoming_info ii = { 0 };
	struct domain_config cfg;
	char token[DISK_SYNC_TOKEN_LEN + 1];
	int64_t *sizes = NULL;
	size_t nsizes = 0;
	char why[512];
	int rc;

	if (disk_sync_new(token) < 0) {
		colo_error_set(err, ERROR_CLASS_INTERNAL_ERROR,
			       "no random bytes for a sync token");
		return -EIO;
	}

	rc = domain_config_parse(&cfg, xml, strlen(xml), "domain config",
				 why, sizeof(why));
	if (rc < 0) {
		colo_error_set(err, ERROR_CLASS_INTERNAL_ERROR, "%s", why);
		return rc;
	}
	rc = colo_disks_sizes(&cfg, &sizes, &nsizes, err);
	if (rc == 0)
		rc = prepare_peer(d, host, port, xml, true, sizes, nsizes,
				  token, in_port, &ii, err);
	if (rc == 0) {
		rc = wire_colo(d, l, &cfg, host, &ii, full_sync, token, err);
		if (rc < 0)
			abandon_secondary(d, host, port, cfg.name);
	}
	incoming_info_fini(&ii);
	free(sizes);
	domain_config_fini(&cfg);
	return rc;
}

static int colo_begin(struct colod *d, const char *domain, const char *uri,
		bool full_sync, struct colo_error *err)
{
	struct dom_link *l = domains_get(d, domain, err);
	struct qmp_helper_colo_start_args hc;
	struct state_domain dom;
	char host[256], *xml = NULL;
	int port, in_port = 0, rc;

	if (!l)
		return -ENOENT;
	if (state_domain_get(&d->st, domain, &dom) == 0 &&
	    dom.mode != COLO_MODE_UNKNOWN) {
		colo_error_set(err, ERROR_CLASS_INVALID_STATE,
			       "domain '%s' is already in COLO mode (%s)",
			       domain, colo_mode_str(dom.mode));
		return -EBUSY;
	}
	if (split_uri(uri, host, sizeof(host), &port, err) < 0)
		return -EINVAL;
	rc = state_domain_config(&d->st, domain, &xml);
	if (rc == 0)
		rc = setup_secondary(d, l, xml, host, port, full_sync,
				     &in_port, err);
	free(xml);
	if (rc < 0)
		return rc;
	rc = set_colo_mode(d, domain, COLO_MODE_PRIMARY,
			   MIGRATION_STATUS_ACTIVE);
	if (rc == 0) {
		char peer[300];

		snprintf(peer, sizeof(peer), "%s:%d", host, port);
		rc = state_domain_set_peer(&d->st, domain, peer);
	}
	if (rc < 0) {
		colo_error_set(err, ERROR_CLASS_INTERNAL_ERROR,
			       "cannot record COLO mode");
		return rc;
	}
	hc.host = host;
	hc.port = in_port;
	hc.max_downtime = d->params.max_downtime;
	hc.interval = d->params.checkpoint_interval;
	hc.has_heartbeat = true;
	hc.heartbeat = d->params.heartbeat_interval;
	rc = qmpc_helper_colo_start(&l->ctl, &hc, err);
	/* The helper said no: not in COLO after all, and a retry must not
	 * find it so.  (A helper that did not answer in time may still be
	 * starting: its failover handles a secondary that goes.) */
	if (rc < 0 && err->cls != ERROR_CLASS_TIMEOUT) {
		set_colo_mode(d, domain, COLO_MODE_UNKNOWN,
			      MIGRATION_STATUS_FAILED);
		abandon_secondary(d, host, port, domain);
	}
	return rc;
}

int qmp_colo_start(void *opaque, const struct qmp_colo_start_args *a,
		struct colo_error *err)
{
	return colo_begin(opaque, a->domain, a->uri, true, err);
}

int qmp_colo_resume(void *opaque, const struct qmp_colo_resume_args *a,
		struct colo_error *err)
{
	return colo_begin(opaque, a->domain, a->uri, false, err);
}

int qmp_colo_checkpoint(void *opaque, const struct qmp_colo_checkpoint_args *a,
		struct colo_error *err)
{
	struct dom_link *l = domains_get(opaque, a->domain, err);
	struct qmp_helper_colo_checkpoint_args hc = { .has_hold = false };

	return l ? qmpc_helper_colo_checkpoint(&l->ctl, &hc, err) : -ENOENT;
}
