/* colod's side of the dom-helpers: spawning them (detached, so they
 * outlive colod), re-adopting them after a colod restart, forwarding
 * their events, and noticing when one exits. */
#ifndef COLO_DOMAINS_H
#define COLO_DOMAINS_H

#include <stdbool.h>
#include <sys/types.h>
#include "ctl.h"
#include "domain.h"
#include "error.h"
#include "state.h"

#define DOMAINS_MAX		64
#define HELPER_START_TIMEOUT_MS	60000
#define HELPER_CALL_TIMEOUT_MS	60000
/* For a helper whose VM migrated away: it has nothing left to do. */
#define HELPER_COLLECT_TIMEOUT_MS	2000

struct colod;

struct dom_link {
	char name[65];
	pid_t pid;
	int pidfd;		/* readable once the helper has exited */
	struct ctl_client ctl;
	void *sub;		/* the helper's events */
	enum run_state last;	/* as the helper last reported it */
	int64_t ckpt_seq;	/* the last checkpoint record copied */
	bool quitting;		/* told to quit: ask it nothing more */
};

struct domains {
	struct dom_link *v[DOMAINS_MAX];
	int n;
};

/* Spawns a helper for cfg (or to restore restore_path, whose config is
 * cfg), records the domain and connects to it. */
int domains_create(struct colod *d, const struct domain_config *cfg,
		const char *restore_path, bool paused, struct state_domain *out,
		struct colo_error *err);
/* The same for an incoming migration: the helper builds the VM paused
 * and waits for the stream on a TCP port on addr, returned in *port. */
/* The recorded config of domain name, parsed into cfg (the caller
 * finis it); -ENOENT or a parse error with err set. */
int domains_config(struct colod *d, const char *name,
		struct domain_config *cfg, struct colo_error *err);
int domains_create_incoming(struct colod *d, const struct domain_config *cfg,
		const char *addr, bool colo, const int64_t *disk_sizes,
		size_t ndisk_sizes, int *port, struct colo_error *err);
/* A NIC's netproxy: its control endpoint, and (COLO secondary) the file
 * holding the port it listens on for the primary's netproxy. */
void domains_netproxy_ctl(struct colod *d, const char *name, int i,
		char *buf, size_t len);
void domains_netproxy_port_file(struct colod *d, const char *name, int i,
		char *buf, size_t len);
/* Tells the helper to quit (SIGKILL if it does not) and removes the row;
 * also removes the row of a domain whose helper died. */
int domains_destroy(struct colod *d, const char *name,
		struct colo_error *err);
/* The link of a running domain; DomainNotFound otherwise. */
struct dom_link *domains_get(struct colod *d, const char *name,
		struct colo_error *err);

/* At start-up: reconnect to every recorded domain whose helper still
 * answers; mark the others crashed (their COLO state is kept). */
void domains_adopt(struct colod *d);
/* colod_checkpoints.c: copies the checkpoint records each COLO helper
 * measured since the last copy into the database.  The main loop calls
 * it about once a second; query-colo-stats calls it for its domain. */
void domains_sync_checkpoints(struct colod *d, struct dom_link *l);
void domains_checkpoints_tick(struct colod *d);
void domains_fini(struct colod *d);

/* The main loop polls these: two items per domain, but none for the
 * domain named skip (NULL: none skipped). */
int domains_pollitems(struct colod *d, zmq_pollitem_t *pi, int max,
		const char *skip);
void domains_handle(struct colod *d, zmq_pollitem_t *pi, int n);

/* The helper binary: $COLO_DOM_HELPER, else next to colod, else sbindir. */
const char *domains_helper_path(void);

#endif
