/* colod's durable state: one SQLite database per host, in WAL mode with
 * synchronous=FULL, versioned by PRAGMA user_version.  Every COLO mode,
 * failover or migration transition is written here, and committed, before
 * colod acts on it or announces it. */
#ifndef COLO_STATE_H
#define COLO_STATE_H

#include <stdbool.h>
#include <stdint.h>
#include <sqlite3.h>
#include "colo-qapi-types.h"

#define STATE_DB_NAME		"colod.db"
#define STATE_EVENT_LOG_MAX	10000	/* rows kept in event_log */
#define STATE_NAME_MAX		64

struct state {
	sqlite3 *db;
	char *path;
	int depth;		/* transaction nesting, for assertions */
};

/* One row of the domains table. */
struct state_domain {
	char name[STATE_NAME_MAX + 1];
	int64_t domid;
	char uuid[37];
	int64_t mem_mib;
	int64_t vcpus;
	enum run_state run_state;
	double cpu_time;
	int64_t helper_pid;
	enum colo_mode mode;
	enum colo_mode last_mode;
	enum colo_exit_reason reason;
	enum failover_status failover;
	enum colo_exit_reason failover_reason;	/* set when failover starts */
	enum migration_status migration;
};

/* Opens (creating if needed) dir/colod.db and brings its schema up to
 * date.  A database newer than this colod is refused.  errbuf says why. */
int state_open(struct state *st, const char *dir, char *errbuf,
		size_t errlen);
void state_close(struct state *st);
int state_schema_version(struct state *st);
/* The schema version this build creates and understands. */
int state_latest_version(void);

/* BEGIN IMMEDIATE / COMMIT / ROLLBACK.  Not nestable. */
int state_begin(struct state *st);
int state_commit(struct state *st);
void state_rollback(struct state *st);

int state_domain_get(struct state *st, const char *name,
		struct state_domain *d);		/* -ENOENT */
int state_domain_list(struct state *st, struct state_domain **v,
		size_t *n);
int state_domain_count(struct state *st);
/* Writes the COLO columns of d (mode, last mode, reasons, failover and
 * migration status).  -ENOENT if the domain is gone. */
int state_domain_put_colo(struct state *st, const struct state_domain *d);
/* Moves failover status from -> to only if it is still from: a stale
 * caller gets -ESTALE and nothing changes. */
int state_failover_cas(struct state *st, const char *name,
		enum failover_status from, enum failover_status to);

/* A new domain row (COLO columns at their defaults).  -EEXIST when the
 * name or UUID is taken. */
int state_domain_insert(struct state *st, const struct state_domain *d,
		const char *config);
int state_domain_delete(struct state *st, const char *name);
int state_domain_set_run(struct state *st, const char *name,
		enum run_state rs, int64_t helper_pid);
/* The lowest free domain id (1-based). */
int64_t state_domain_next_id(struct state *st);
/* The domain's XML; the caller frees it. */
int state_domain_config(struct state *st, const char *name, char **xml);
/* The domain's COLO peer colod (HOST:PORT), empty when none. */
int state_domain_set_peer(struct state *st, const char *name,
		const char *peer);
int state_domain_peer(struct state *st, const char *name, char *buf,
		size_t len);

/* Appends to the bounded event log (text is the full event JSON). */
int state_event_append(struct state *st, const char *name,
		const char *text, uint64_t ts_us);

/* Checkpoint records (state_checkpoints.c), bounded per domain. */
#define STATE_CHECKPOINTS_MAX	10000
/* Adds records measured by the helper with pid helper_pid; ones already
 * there are skipped.  Then trims the domain to the newest
 * STATE_CHECKPOINTS_MAX. */
int state_checkpoints_add(struct state *st, const char *name,
		int64_t helper_pid, const struct checkpoint_record *v, size_t n);
/* The highest seq recorded for that helper, 0 when none. */
int64_t state_checkpoints_last_seq(struct state *st, const char *name,
		int64_t helper_pid);
/* The newest limit records, oldest first; the caller frees *v (and each
 * record's strings, with checkpoint_record_fini). */
int state_checkpoints_list(struct state *st, const char *name, int limit,
		struct checkpoint_record **v, size_t *n);
int state_checkpoints_delete(struct state *st, const char *name);

/* Stored parameter overrides, as text. */
int state_param_get(struct state *st, const char *key, char *buf,
		size_t len);				/* -ENOENT */
int state_param_set(struct state *st, const char *key, const char *value);

#endif
