/* The SQLite state database.  Migrations run one per transaction, so a
 * crash mid-upgrade leaves the previous version intact. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "state.h"
#include "util.h"

/* migrations[i] takes the schema from version i to i + 1.  Append only:
 * a released migration is never edited. */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE meta ("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL);"
	"CREATE TABLE domains ("
	"  name TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),"
	"  domid INTEGER NOT NULL UNIQUE CHECK (domid > 0),"
	"  uuid TEXT NOT NULL UNIQUE,"
	"  config TEXT NOT NULL DEFAULT '',"
	"  mem_mib INTEGER NOT NULL CHECK (mem_mib > 0),"
	"  vcpus INTEGER NOT NULL CHECK (vcpus > 0),"
	"  run_state TEXT NOT NULL DEFAULT 'paused',"
	"  cpu_time REAL NOT NULL DEFAULT 0,"
	"  helper_pid INTEGER NOT NULL DEFAULT 0,"
	"  created_us INTEGER NOT NULL DEFAULT 0,"
	"  colo_mode TEXT NOT NULL DEFAULT 'unknown'"
	"    CHECK (colo_mode IN ('unknown','primary','secondary')),"
	"  colo_last_mode TEXT NOT NULL DEFAULT 'unknown'"
	"    CHECK (colo_last_mode IN ('unknown','primary','secondary')),"
	"  colo_exit_reason TEXT NOT NULL DEFAULT 'none',"
	"  failover_status TEXT NOT NULL DEFAULT 'none'"
	"    CHECK (failover_status IN"
	"      ('none','require','active','completed','relaunch')),"
	"  failover_reason TEXT NOT NULL DEFAULT 'none',"
	"  migration_status TEXT NOT NULL DEFAULT 'none');"
	"CREATE TABLE parameters ("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL);"
	"CREATE TABLE event_log ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  ts_us INTEGER NOT NULL,"
	"  name TEXT NOT NULL,"
	"  event TEXT NOT NULL);",
	/* 1 -> 2: the COLO peer of a domain, for heartbeats. */
	"ALTER TABLE domains ADD COLUMN peer TEXT NOT NULL DEFAULT '';",
	/* 2 -> 3: every checkpoint, as its helper measured it (DESIGN §4).
	 * A helper counts seq from 1, so (domain, helper_pid, seq) names
	 * one checkpoint. */
	"CREATE TABLE checkpoints ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  domain TEXT NOT NULL,"
	"  helper_pid INTEGER NOT NULL,"
	"  seq INTEGER NOT NULL,"
	"  time_ms INTEGER NOT NULL,"
	"  role TEXT NOT NULL CHECK (role IN ('primary','secondary')),"
	"  trigger TEXT NOT NULL,"
	"  pause_us INTEGER NOT NULL,"
	"  dirty_pages INTEGER NOT NULL,"
	"  bytes INTEGER NOT NULL,"
	"  duration_us INTEGER NOT NULL,"
	"  UNIQUE (domain, helper_pid, seq));"
	"CREATE INDEX checkpoints_by_domain ON checkpoints (domain, id);",
};

int state_latest_version(void)
{
	return (int)ARRAY_SIZE(migrations);
}

static int exec_sql(struct state *st, const char *sql)
{
	char *msg = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		log_error("state: %s: %s", st->path, msg ? msg : "?");
		sqlite3_free(msg);
		return -EIO;
	}
	return 0;
}

int state_begin(struct state *st)
{
	int rc = exec_sql(st, "BEGIN IMMEDIATE");

	if (rc == 0)
		st->depth++;
	return rc;
}

int state_commit(struct state *st)
{
	int rc = exec_sql(st, "COMMIT");

	if (rc == 0)
		st->depth--;
	else
		state_rollback(st);
	return rc;
}

void state_rollback(struct state *st)
{
	if (sqlite3_get_autocommit(st->db) == 0)
		exec_sql(st, "ROLLBACK");
	st->depth = 0;
}

int state_schema_version(struct state *st)
{
	sqlite3_stmt *s;
	int v = -EIO;

	if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) !=
	    SQLITE_OK)
		return -EIO;
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return v;
}

static int migrate(struct state *st, char *errbuf, size_t errlen)
{
	int v = state_schema_version(st), latest = state_latest_version();
	char sql[64];

	if (v < 0) {
		snprintf(errbuf, errlen, "%s: cannot read schema version",
			 st->path);
		return -EIO;
	}
	if (v > latest) {
		snprintf(errbuf, errlen,
			 "%s: schema version %d is newer than this colod "
			 "understands (%d); refusing to touch it", st->path, v,
			 latest);
		return -EPROTONOSUPPORT;
	}
	for (; v < latest; v++) {
		log_info("state: migrating %s from schema %d to %d", st->path,
			 v, v + 1);
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (state_begin(st) < 0 || exec_sql(st, migrations[v]) < 0 ||
		    exec_sql(st, sql) < 0 || state_commit(st) < 0) {
			state_rollback(st);
			snprintf(errbuf, errlen, "%s: migration to schema %d "
				 "failed", st->path, v + 1);
			return -EIO;
		}
	}
	return 0;
}

int state_open(struct state *st, const char *dir, char *errbuf,
		size_t errlen)
{
	char path[4096];
	int rc;

	memset(st, 0, sizeof(*st));
	snprintf(path, sizeof(path), "%s/%s", dir, STATE_DB_NAME);
	st->path = strdup(path);
	if (!st->path)
		return -ENOMEM;
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE |
			    SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
			    NULL) != SQLITE_OK) {
		snprintf(errbuf, errlen, "%s: %s", path,
			 st->db ? sqlite3_errmsg(st->db) : "cannot open");
		rc = -EIO;
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 5000);
	/* WAL + FULL: a committed transition survives power loss, and readers
	 * (sqlite3 CLI, tests) never block colod. */
	if (exec_sql(st, "PRAGMA journal_mode = WAL") < 0 ||
	    exec_sql(st, "PRAGMA synchronous = FULL") < 0 ||
	    exec_sql(st, "PRAGMA foreign_keys = ON") < 0) {
		snprintf(errbuf, errlen, "%s: cannot configure database "
			 "(is it a SQLite file?)", path);
		rc = -EIO;
		goto fail;
	}
	rc = migrate(st, errbuf, errlen);
	if (rc < 0)
		goto fail;
	return 0;
fail:
	state_close(st);
	return rc;
}

void state_close(struct state *st)
{
	if (st->db)
		sqlite3_close_v2(st->db);
	free(st->path);
	memset(st, 0, sizeof(*st));
}

#define DOMAIN_COLUMNS \
	"name, domid, uuid, mem_mib, vcpus, run_state, cpu_time, " \
	"helper_pid, colo_mode, colo_last_mode, colo_exit_reason, " \
	"failover_status, failover_reason, migration_status"

static int enum_col(sqlite3_stmt *s, int col, int (*parse)(const char *))
{
	const char *t = (const char *)sqlite3_column_text(s, col);
	int v = t ? parse(t) : -1;

	return v < 0 ? 0 : v;
}

static void row_to_domain(sqlite3_stmt *s, struct state_domain *d)
{
	const char *t;

	memset(d, 0, sizeof(*d));
	t = (const char *)sqlite3_column_text(s, 0);
	snprintf(d->name, sizeof(d->name), "%s", t ? t : "");
	d->domid = sqlite3_column_int64(s, 1);
	t = (const char *)sqlite3_column_text(s, 2);
	snprintf(d->uuid, sizeof(d->uuid), "%s", t ? t : "");
	d->mem_mib = sqlite3_column_int64(s, 3);
	d->vcpus = sqlite3_column_int64(s, 4);
	d->run_state = (enum run_state)enum_col(s, 5, run_state_parse);
	d->cpu_time = sqlite3_column_double(s, 6);
	d->helper_pid = sqlite3_column_int64(s, 7);
	d->mode = (enum colo_mode)enum_col(s, 8, colo_mode_parse);
	d->last_mode = (enum colo_mode)enum_col(s, 9, colo_mode_parse);
	d->reason = (enum colo_exit_reason)enum_col(s, 10,
						    colo_exit_reason_parse);
	d->failover = (enum failover_status)enum_col(s, 11,
						     failover_status_parse);
	d->failover_reason = (enum colo_exit_reason)enum_col(s, 12,
						colo_exit_reason_parse);
	d->migration = (enum migration_status)enum_col(s, 13,
						       migration_status_parse);
}

int state_domain_get(struct state *st, const char *name,
		struct state_domain *d)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, "SELECT " DOMAIN_COLUMNS
			       " FROM domains WHERE name = ?", -1, &s,
			       NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		row_to_domain(s, d);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : -EIO;
	}
	sqlite3_finalize(s);
	return rc;
}

int state_domain_list(struct state *st, struct state_domain **v, size_t *n)
{
	sqlite3_stmt *s;
	struct state_domain *out = NULL;
	size_t cnt = 0;
	int rc;

	*v = NULL;
	*n = 0;
	if (sqlite3_prepare_v2(st->db, "SELECT " DOMAIN_COLUMNS
			       " FROM domains ORDER BY domid", -1, &s,
			       NULL) != SQLITE_OK)
		return -EIO;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct state_domain *nv = realloc(out, (cnt + 1) * sizeof(*nv));

		if (!nv) {
			rc = -ENOMEM;
			goto out;
		}
		out = nv;
		row_to_domain(s, &out[cnt++]);
	}
	if (rc != SQLITE_DONE) {
		rc = -EIO;
		goto out;
	}
	*v = out;
	*n = cnt;
	out = NULL;
	rc = 0;
out:
	free(out);
	sqlite3_finalize(s);
	return rc;
}

int state_domain_count(struct state *st)
{
	sqlite3_stmt *s;
	int n = -EIO;

	if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM domains", -1, &s,
			       NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return n;
}

/* Runs a prepared UPDATE and reports whether it touched a row. */
static int step_update(sqlite3 *db, sqlite3_stmt *s)
{
	int rc = sqlite3_step(s);

	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return -EIO;
	return sqlite3_changes(db) == 1 ? 0 : -ENOENT;
}

int state_domain_put_colo(struct state *st, const struct state_domain *d)
{
	sqlite3_stmt *s;

	if (sqlite3_prepare_v2(st->db,
			       "UPDATE domains SET colo_mode = ?, "
			       "colo_last_mode = ?, colo_exit_reason = ?, "
			       "failover_status = ?, failover_reason = ?, "
			       "migration_status = ? WHERE name = ?", -1, &s,
			       NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(s, 1, colo_mode_str(d->mode), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, colo_mode_str(d->last_mode), -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(s, 3, colo_exit_reason_str(d->reason), -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(s, 4, failover_status_str(d->failover), -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(s, 5, colo_exit_reason_str(d->failover_reason), -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(s, 6, migration_status_str(d->migration), -1,
			  SQLITE_STATIC);
	sqlite3_bind_text(s, 7, d->name, -1, SQLITE_STATIC);
	return step_update(st->db, s);
}

int state_failover_cas(struct state *st, const char *name,
		enum failover_status from, enum failover_status to)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db,
			       "UPDATE domains SET failover_status = ? "
			       "WHERE name = ? AND failover_status = ?", -1, &s,
			       NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(s, 1, failover_status_str(to), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, failover_status_str(from), -1, SQLITE_STATIC);
	rc = step_update(st->db, s);
	return rc == -ENOENT ? -ESTALE : rc;
}

int state_event_append(struct state *st, const char *name,
		const char *text, uint64_t ts_us)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO event_log (ts_us, name, event) "
			       "VALUES (?, ?, ?)", -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int64(s, 1, (sqlite3_int64)ts_us);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, text, -1, SQLITE_STATIC);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(s);
	if (rc < 0)
		return rc;
	/* Bounded: drop the oldest rows past the limit. */
	if (sqlite3_prepare_v2(st->db,
			       "DELETE FROM event_log WHERE id <= "
			       "(SELECT max(id) FROM event_log) - ?", -1, &s,
			       NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_int(s, 1, STATE_EVENT_LOG_MAX);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(s);
	return rc;
}

int state_param_get(struct state *st, const char *key, char *buf,
		size_t len)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db,
			       "SELECT value FROM parameters WHERE key = ?", -1,
			       &s, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(s, 0);

		snprintf(buf, len, "%s", t ? t : "");
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : -EIO;
	}
	sqlite3_finalize(s);
	return rc;
}

int state_param_set(struct state *st, const char *key, const char *value)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO parameters (key, value) VALUES (?, ?)"
			       " ON CONFLICT(key) DO UPDATE SET value = "
			       "excluded.value", -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(s);
	return rc;
}

int state_domain_insert(struct state *st, const struct state_domain *d,
		const char *config)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db,
			       "INSERT INTO domains (name, domid, uuid, config, "
			       "mem_mib, vcpus, run_state, helper_pid, "
			       "created_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
			       -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(s, 1, d->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, d->domid);
	sqlite3_bind_text(s, 3, d->uuid, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 4, config, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, d->mem_mib);
	sqlite3_bind_int64(s, 6, d->vcpus);
	sqlite3_bind_text(s, 7, run_state_str(d->run_state), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 8, d->helper_pid);
	sqlite3_bind_int64(s, 9, (sqlite3_int64)util_now_us());
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc == SQLITE_CONSTRAINT)
		return -EEXIST;
	return rc == SQLITE_DONE ? 0 : -EIO;
}

int state_domain_delete(struct state *st, const char *name)
{
	sqlite3_stmt *s;

	if (state_checkpoints_delete(st, name) < 0 ||
	    sqlite3_prepare_v2(st->db, "DELETE FROM domains WHERE name = ?", -1,
			       &s, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	return step_update(st->db, s);
}

int state_domain_set_run(struct state *st, const char *name,
		enum run_state rs, int64_t helper_pid)
{
	sqlite3_stmt *s;

	if (sqlite3_prepare_v2(st->db, "UPDATE domains SET run_state = ?, "
			       "helper_pid = ? WHERE name = ?", -1, &s,
			       NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(s, 1, run_state_str(rs), -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, helper_pid);
	sqlite3_bind_text(s, 3, name, -1, SQLITE_STATIC);
	return step_update(st->db, s);
}

int64_t state_domain_next_id(struct state *st)
{
	sqlite3_stmt *s;
	int64_t id = 1;

	/* The smallest id with no successor taken: reuse gaps, as xl does. */
	if (sqlite3_prepare_v2(st->db,
			       "SELECT min(domid) + 1 FROM domains WHERE "
			       "domid + 1 NOT IN (SELECT domid FROM domains)",
			       -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_step(s) == SQLITE_ROW &&
	    sqlite3_column_type(s, 0) != SQLITE_NULL)
		id = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	/* ...unless id 1 itself is free. */
	if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM domains WHERE "
			       "domid = 1", -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_int(s, 0) == 0)
		id = 1;
	sqlite3_finalize(s);
	return id;
}

int state_domain_config(struct state *st, const char *name, char **xml)
{
	sqlite3_stmt *s;
	int rc;

	*xml = NULL;
	if (sqlite3_prepare_v2(st->db, "SELECT config FROM domains WHERE "
			       "name = ?", -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*xml = strdup((const char *)sqlite3_column_text(s, 0));
		rc = *xml ? 0 : -ENOMEM;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : -EIO;
	}
	sqlite3_finalize(s);
	return rc;
}

int state_domain_set_peer(struct state *st, const char *name,
		const char *peer)
{
	sqlite3_stmt *s;

	if (sqlite3_prepare_v2(st->db, "UPDATE domains SET peer = ? WHERE "
			       "name = ?", -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(s, 1, peer, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
	return step_update(st->db, s);
}

int state_domain_peer(struct state *st, const char *name, char *buf,
		size_t len)
{
	sqlite3_stmt *s;
	int rc;

	buf[0] = '\0';
	if (sqlite3_prepare_v2(st->db, "SELECT peer FROM domains WHERE "
			       "name = ?", -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		snprintf(buf, len, "%s", (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -ENOENT;
}
