/* COLO state transitions for one domain: the legal failover edges, the
 * failover sequence, and the recovery of half-finished transitions when
 * colod restarts.  Each step is committed before it is acted on. */
#ifndef COLO_FSM_H
#define COLO_FSM_H

#include <stdbool.h>
#include "colo-qapi-types.h"
#include "error.h"

struct colod;

bool colo_fsm_failover_edge_ok(enum failover_status from,
		enum failover_status to);

/* Runs failover for domain name (x-colo-lost-heartbeat, a lost heartbeat,
 * a broken stream).  InvalidState when the domain is not in COLO mode or
 * a failover is already running. */
int colo_fsm_failover(struct colod *d, const char *name,
		enum colo_exit_reason reason, struct colo_error *err);

/* At start-up: finishes every failover that a crash interrupted.  A
 * failover once required is never silently undone, because the decision
 * that the peer is gone was already persisted. */
int colo_fsm_recover(struct colod *d);

#endif
