/* colod's side of COLO networking: the secondary's netproxies report
 * their peer ports, the primary's are pointed at them, and both are
 * attached to their helper as checkpoint phase listeners. */
#ifndef COLOD_COLO_NETPROXY_H
#define COLOD_COLO_NETPROXY_H

#include <stddef.h>
#include <stdint.h>
#include "colod.h"
#include "domain.h"

/* Secondary: waits for each tap NIC's netproxy to report its port.
 * *ports (malloc'd, *n entries) are in NIC order. */
int colo_netproxy_ports(struct colod *d, const struct domain_config *cfg,
		int64_t **ports, size_t *n, struct colo_error *err);

/* Primary: points each tap NIC's netproxy at the secondary's. */
int colo_netproxy_primary(struct colod *d, const struct domain_config *cfg,
		const char *host, const int64_t *ports, size_t n,
		struct colo_error *err);

/* Attaches each tap NIC's netproxy to the domain's helper. */
int colo_netproxy_attach(struct colod *d, struct dom_link *l,
		const struct domain_config *cfg, struct colo_error *err);

#endif
