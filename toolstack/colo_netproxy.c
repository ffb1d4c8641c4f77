/* Wiring COLO netproxies: ports from the secondary's, the peer address
 * to the primary's, and each one attached to its helper's phases. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "children.h"
#include "colo-qapi-client.h"
#include "colo-qapi-commands.h"
#include "state.h"
#include "colo_netproxy.h"
#include "domains.h"
#include "util.h"

#define PORT_WAIT_MS 5000
#define NETPROXY_CALL_MS 2000
/* A phase reply waits at most for the snapshot mark (300 ms). */
#define NETPROXY_PHASE_TIMEOUT_MS 1000

static int read_port(const char *path)
{
	FILE *f = fopen(path, "r");
	int port = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%d", &port) != 1)
		port = -1;
	fclose(f);
	return port;
}

int colo_netproxy_ports(struct colod *d, const struct domain_config *cfg,
		int64_t **ports, size_t *n, struct colo_error *err)
{
	*ports = calloc(DOMAIN_MAX_NICS, sizeof(**ports));
	*n = 0;
	if (!*ports)
		return -ENOMEM;
	for (int i = 0; i < cfg->nnics; i++) {
		char path[4200];
		int port = -1;

		if (!cfg->nics[i].tap[0])
			continue;
		domains_netproxy_port_file(d, cfg->name, i, path, sizeof(path));
		for (int t = 0; t < PORT_WAIT_MS / 20 && port <= 0; t++) {
			port = read_port(path);
			if (port <= 0)
				util_sleep_ms(20);
		}
		if (port <= 0) {
			colo_error_set(err, ERROR_CLASS_GENERIC_ERROR,
				       "netproxy for tap %s reported no port "
				       "(see its log)", cfg->nics[i].tap);
			return -EIO;
		}
		(*ports)[(*n)++] = port;
	}
	return 0;
}

static int open_netproxy(struct colod *d, const char *name, int i,
		struct ctl_client *c, struct colo_error *err)
{
	char ep[4200];

	domains_netproxy_ctl(d, name, i, ep, sizeof(ep));
	return children_ctl_open(c, ep, NETPROXY_CALL_MS, "netproxy", err);
}

int colo_netproxy_primary(struct colod *d, const struct domain_config *cfg,
		const char *host, const int64_t *ports, size_t n,
		struct colo_error *err)
{
	size_t k = 0;

	for (int i = 0; i < cfg->nnics; i++) {
		struct qmp_netproxy_colo_primary_args a;
		struct ctl_client c;
		int rc;

		if (!cfg->nics[i].tap[0])
			continue;
		if (k >= n) {
			colo_error_set(err, ERROR_CLASS_GENERIC_ERROR,
				       "the secondary has no netproxy for tap "
				       "%s", cfg->nics[i].tap);
			return -EIO;
		}
		if (open_netproxy(d, cfg->name, i, &c, err) < 0)
			return -EIO;
		a.host = (char *)host;
		a.port = ports[k++];
		rc = qmpc_netproxy_colo_primary(&c, &a, err);
		ctl_client_close(&c);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int colo_netproxy_attach(struct colod *d, struct dom_link *l,
		const struct domain_config *cfg, struct colo_error *err)
{
	for (int i = 0; i < cfg->nnics; i++) {
		struct qmp_helper_colo_phase_attach_args a;
		char ep[4200];
		int rc;

		if (!cfg->nics[i].tap[0])
			continue;
		domains_netproxy_ctl(d, cfg->name, i, ep, sizeof(ep));
		a.endpoint = ep;
		a.has_timeout = true;
		a.timeout = NETPROXY_PHASE_TIMEOUT_MS;
		rc = qmpc_helper_colo_phase_attach(&l->ctl, &a, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int qmp_query_colo_netstats(void *opaque,
		const struct qmp_query_colo_netstats_args *a,
		struct netproxy_stats **ret, size_t *ret_count,
		struct colo_error *err)
{
	struct colod *d = opaque;
	struct domain_config cfg;
	int rc;

	*ret = NULL;
	*ret_count = 0;
	rc = domains_config(d, a->domain, &cfg, err);
	if (rc < 0)
		return rc;
	*ret = calloc(DOMAIN_MAX_NICS, sizeof(**ret));
	for (int i = 0; rc == 0 && *ret && i < cfg.nnics; i++) {
		struct ctl_client c;

		if (!cfg.nics[i].tap[0])
			continue;
		rc = open_netproxy(d, cfg.name, i, &c, err);
		if (rc < 0)
			break;
		rc = qmpc_netproxy_query_stats(&c, &(*ret)[*ret_count], err);
		ctl_client_close(&c);
		if (rc == 0)
			(*ret_count)++;
	}
	domain_config_fini(&cfg);
	if (!*ret)
		return -ENOMEM;
	if (rc < 0) {
		for (size_t i = 0; i < *ret_count; i++)
			netproxy_stats_fini(&(*ret)[i]);
		free(*ret);
		*ret = NULL;
		*ret_count = 0;
	}
	return rc;
}
