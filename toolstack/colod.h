/* colod, the per-host daemon: its configuration, its runtime context and
 * the transaction helpers that tie state changes to events. */
#ifndef COLO_COLOD_H
#define COLO_COLOD_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "colo-qapi-events.h"
#include "colo-qapi-types.h"
#include "ctl.h"
#include "domains.h"
#include "heartbeat.h"
#include "log.h"
#include "state.h"

#define COLOD_DEFAULT_STATE_DIR	"/var/lib/colo-kvm"
#define COLOD_DEFAULT_RUN_DIR	"/run/colo-kvm"
#define COLOD_DEFAULT_CONFIG	"/etc/colo-kvm/colod.conf"
#define COLOD_CTL_SOCKET	"colod.ctl"
#define COLOD_EVENT_SOCKET	"colod.events"
/* 2: COLO disks carry sync tokens and named exports (IncomingInfo). */
#define COLO_PROTOCOL_VERSION	2

struct colod_config {
	char *config_path;
	char *state_dir;
	char *run_dir;
	enum log_level log_level;
	enum log_target log_target;
	bool log_target_set;
	char *log_path;
	bool foreground;
	char *peer_listen;		/* HOST:PORT for peer colods, or NULL */
	bool curve;			/* the peer link is CURVE-secured */
	struct ctl_curve curve_keys;
	struct parameters params;	/* defaults + colod.conf */
};

struct colod {
	struct colod_config cfg;
	struct state st;
	void *zctx;
	void *ctl;		/* ROUTER: requests from colo-xl */
	void *pub;		/* XPUB: events */
	void *peer;		/* ROUTER on TCP: requests from peer colods */
	void *zap;		/* REP: CURVE authentication of peers */
	int sigfd;
	int state_lock_fd;
	int run_lock_fd;
	uint64_t start_us;
	struct parameters params;	/* in force */
	struct qapi_event_sink sink;
	json_t *pending;	/* events recorded in the open transaction */
	unsigned test_delay_ms;	/* COLOD_TEST_TRANSITION_DELAY_MS */
	struct domains doms;
	struct heartbeat hb;
	uint64_t ckpt_tick_us;	/* the last checkpoint-record collection */
	bool quit;
	/* Set while a long operation holds the loop (colod_serve_busy):
	 * what it is, for the requests that must wait. */
	const char *busy;
	/* The last outgoing migration of each domain, kept after the
	 * domain has left, for query-migrate. */
	struct {
		char name[65];
		struct migration_info info;
	} last_mig[16];
	int last_mig_next;
};

#define COLOD_PEER_PORT		7788

/* colod_config.c */
void colod_config_init(struct colod_config *cfg);
void colod_config_fini(struct colod_config *cfg);
/* Parses argv and the config file.  Returns 0, 1 for --help/--version
 * (already printed), or -EINVAL with the message printed. */
int colod_config_parse(struct colod_config *cfg, int argc, char **argv);

/* Transactions: events emitted inside one are written to the event log in
 * the same transaction and published only after COMMIT succeeds. */
int colod_txn_begin(struct colod *d);
int colod_txn_commit(struct colod *d);
void colod_txn_rollback(struct colod *d);
/* The qapi_event_sink function. */
void colod_emit(void *opaque, const char *name, json_t *data);

/* Sleeps for the test delay between the steps of a transition, so tests
 * can kill colod in the middle of one.  No-op unless the variable is set. */
void colod_test_delay(struct colod *d, const char *where);

/* For a long operation on domain dom (a colo start copying its disks)
 * that would hold the loop for minutes: waits up to ms while serving
 * what must not wait.  Heartbeats go out and are judged (another
 * domain's failover cannot wait), peers' heartbeats and reads are
 * answered, a manual failover runs, other domains' helper events are
 * handled and new event subscribers welcomed; any other request is
 * refused as busy with what.  dom's own helper events wait for the
 * operation: one may remove the domain it works on.  The operation
 * should give up once d->quit is set. */
void colod_serve_busy(struct colod *d, const char *dom, const char *what,
		int ms);
/* colod_loop.c: serves until d->quit. */
void colod_loop(struct colod *d);

#endif
