/* The checkpoints table: one row per checkpoint a helper took part in,
 * copied from the helper's ring by colod, bounded per domain. */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "state.h"
#include "util.h"

static int add_one(sqlite3_stmt *s, const char *name, int64_t pid,
		const struct checkpoint_record *r)
{
	sqlite3_reset(s);
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, pid);
	sqlite3_bind_int64(s, 3, r->seq);
	sqlite3_bind_int64(s, 4, r->time_ms);
	sqlite3_bind_text(s, 5, colo_mode_str(r->role), -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, r->trigger ? r->trigger : "none", -1,
			  SQLITE_STATIC);
	sqlite3_bind_int64(s, 7, r->pause_us);
	sqlite3_bind_int64(s, 8, r->dirty_pages);
	sqlite3_bind_int64(s, 9, r->bytes);
	sqlite3_bind_int64(s, 10, r->duration_us);
	return sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
}

static int trim(struct state *st, const char *name)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db,
			       "DELETE FROM checkpoints WHERE domain = ?1 AND "
			       "id <= (SELECT id FROM checkpoints WHERE "
			       "domain = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
			       -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, STATE_CHECKPOINTS_MAX);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(s);
	return rc;
}

int state_checkpoints_add(struct state *st, const char *name,
		int64_t helper_pid, const struct checkpoint_record *v, size_t n)
{
	sqlite3_stmt *s;
	int rc = 0;

	if (n == 0)
		return 0;
	/* The role is checked by the table; the rest is the helper's. */
	if (sqlite3_prepare_v2(st->db,
			       "INSERT OR IGNORE INTO checkpoints (domain, "
			       "helper_pid, seq, time_ms, role, trigger, "
			       "pause_us, dirty_pages, bytes, duration_us) "
			       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", -1, &s,
			       NULL) != SQLITE_OK)
		return -EIO;
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = add_one(s, name, helper_pid, &v[i]);
	sqlite3_finalize(s);
	return rc < 0 ? rc : trim(st, name);
}

int64_t state_checkpoints_last_seq(struct state *st, const char *name,
		int64_t helper_pid)
{
	sqlite3_stmt *s;
	int64_t seq = 0;

	if (sqlite3_prepare_v2(st->db,
			       "SELECT max(seq) FROM checkpoints WHERE "
			       "domain = ? AND helper_pid = ?", -1, &s,
			       NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, helper_pid);
	if (sqlite3_step(s) == SQLITE_ROW)
		seq = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return seq;
}

static void row_to_record(sqlite3_stmt *s, struct checkpoint_record *r)
{
	const char *role = (const char *)sqlite3_column_text(s, 2);
	const char *trig = (const char *)sqlite3_column_text(s, 3);
	int mode;

	r->seq = sqlite3_column_int64(s, 0);
	r->time_ms = sqlite3_column_int64(s, 1);
	mode = colo_mode_parse(role ? role : "");
	r->role = mode < 0 ? COLO_MODE_UNKNOWN : (enum colo_mode)mode;
	r->trigger = xstrdup(trig ? trig : "none");
	r->pause_us = sqlite3_column_int64(s, 4);
	r->dirty_pages = sqlite3_column_int64(s, 5);
	r->bytes = sqlite3_column_int64(s, 6);
	r->duration_us = sqlite3_column_int64(s, 7);
}

int state_checkpoints_list(struct state *st, const char *name, int limit,
		struct checkpoint_record **v, size_t *n)
{
	sqlite3_stmt *s;
	size_t k = 0;
	int rc;

	*v = calloc(limit > 0 ? (size_t)limit : 1, sizeof(**v));
	*n = 0;
	if (!*v)
		return -ENOMEM;
	if (sqlite3_prepare_v2(st->db,
			       "SELECT seq, time_ms, role, trigger, pause_us, "
			       "dirty_pages, bytes, duration_us FROM ("
			       "SELECT * FROM checkpoints WHERE domain = ? "
			       "ORDER BY id DESC LIMIT ?) ORDER BY id", -1, &s,
			       NULL) != SQLITE_OK) {
		free(*v);
		*v = NULL;
		return -EIO;
	}
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW && k < (size_t)limit)
		row_to_record(s, &(*v)[k++]);
	sqlite3_finalize(s);
	*n = k;
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -EIO;
}

int state_checkpoints_delete(struct state *st, const char *name)
{
	sqlite3_stmt *s;
	int rc;

	if (sqlite3_prepare_v2(st->db, "DELETE FROM checkpoints WHERE "
			       "domain = ?", -1, &s, NULL) != SQLITE_OK)
		return -EIO;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : -EIO;
	sqlite3_finalize(s);
	return rc;
}
