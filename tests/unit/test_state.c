/* state: the SQLite schema, its pragmas and migrations, refusal of newer
 * or foreign files, compare-and-swap transitions and the bounded log. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "state.h"
#include "unit.h"

static void test_open_pragmas(void)
{
	char *d = unit_mkdtemp(), err[512];
	struct state st;

	CU_ASSERT_EQUAL_FATAL(state_open(&st, d, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(state_schema_version(&st), state_latest_version());
	CU_ASSERT_EQUAL(unit_count_rows(&st, "SELECT count(*) FROM "
			"pragma_journal_mode WHERE journal_mode = 'wal'"), 1);
	CU_ASSERT_EQUAL(unit_count_rows(&st, "SELECT synchronous FROM "
					"pragma_synchronous"), 2);	/* FULL */
	CU_ASSERT_EQUAL(state_domain_count(&st), 0);
	state_close(&st);
	/* Reopening an up-to-date file migrates nothing and loses nothing. */
	CU_ASSERT_EQUAL(state_open(&st, d, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(state_schema_version(&st), state_latest_version());
	state_close(&st);
	unit_rmdir(d);
}

/* A file written by the first release (schema 1): the state as it was,
 * got by taking the later migrations' changes back out. */
static void make_schema1(struct state *st)
{
	CU_ASSERT_EQUAL(sqlite3_exec(st->db,
		"DROP TABLE checkpoints;"
		"ALTER TABLE domains DROP COLUMN peer;"
		"PRAGMA user_version = 1;", NULL, NULL, NULL), SQLITE_OK);
}

static void test_migrate_from_schema1(void)
{
	char *d = unit_mkdtemp(), err[512];
	struct state st;
	struct state_domain dom;

	CU_ASSERT_EQUAL_FATAL(state_open(&st, d, err, sizeof(err)), 0);
	unit_seed_domain(&st, "old", 4, "primary");
	make_schema1(&st);
	CU_ASSERT_EQUAL(unit_count_rows(&st, "SELECT count(*) FROM "
			"pragma_table_info('domains') WHERE name = 'peer'"), 0);
	state_close(&st);

	CU_ASSERT_EQUAL_FATAL(state_open(&st, d, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(state_schema_version(&st), state_latest_version());
	/* The row is kept, the new column has its default, and the new
	 * table is there and usable. */
	CU_ASSERT_EQUAL(state_domain_get(&st, "old", &dom), 0);
	CU_ASSERT_EQUAL(dom.domid, 4);
	CU_ASSERT_EQUAL(dom.mode, COLO_MODE_PRIMARY);
	CU_ASSERT_EQUAL(unit_count_rows(&st, "SELECT count(*) FROM domains "
			"WHERE name = 'old' AND peer = ''"), 1);
	CU_ASSERT_EQUAL(unit_count_rows(&st, "SELECT count(*) FROM "
			"checkpoints"), 0);
	CU_ASSERT_EQUAL(state_domain_set_peer(&st, "old", "192.0.2.2:7070"),
			0);
	state_close(&st);
	unit_rmdir(d);
}

static void test_newer_refused(void)
{
	char *d = unit_mkdtemp(), err[512] = "";
	struct state st;

	CU_ASSERT_EQUAL_FATAL(state_open(&st, d, err, sizeof(err)), 0);
	sqlite3_exec(st.db, "PRAGMA user_version = 99", NULL, NULL, NULL);
	state_close(&st);
	CU_ASSERT_EQUAL(state_open(&st, d, err, sizeof(err)),
			-EPROTONOSUPPORT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "newer"));
	unit_rmdir(d);
}

static void test_foreign_file(void)
{
	char *d = unit_mkdtemp(), err[512] = "", path[300];
	struct state st;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", d, STATE_DB_NAME);
	fd = open(path, O_WRONLY | O_CREAT, 0600);
	static const char junk[200] = "this is not a database, it is a text "
				      "file long enough to have a header\n";

	CU_ASSERT_EQUAL(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
	close(fd);
	CU_ASSERT_TRUE(state_open(&st, d, err, sizeof(err)) < 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, path));
	unit_rmdir(d);
}

static void test_domains_and_cas(void)
{
	char *d = unit_mkdtemp(), err[512];
	struct state st;
	struct state_domain dom, *v;
	size_t n;

	CU_ASSERT_EQUAL_FATAL(state_open(&st, d, err, sizeof(err)), 0);
	unit_seed_domain(&st, "b", 2, "secondary");
	unit_seed_domain(&st, "a", 1, "primary");
	CU_ASSERT_EQUAL(state_domain_get(&st, "zz", &dom), -ENOENT);
	CU_ASSERT_EQUAL(state_domain_get(&st, "b", &dom), 0);
	CU_ASSERT_EQUAL(dom.mode, COLO_MODE_SECONDARY);
	CU_ASSERT_EQUAL(dom.migration, MIGRATION_STATUS_COLO);
	CU_ASSERT_EQUAL(state_domain_list(&st, &v, &n), 0);
	CU_ASSERT_EQUAL(n, 2);
	if (n == 2) {	/* ordered by domain id */
		CU_ASSERT_STRING_EQUAL(v[0].name, "a");
		CU_ASSERT_STRING_EQUAL(v[1].name, "b");
	}
	free(v);
	CU_ASSERT_EQUAL(state_failover_cas(&st, "a", FAILOVER_STATUS_NONE,
					   FAILOVER_STATUS_REQUIRE), 0);
	/* A stale writer loses and changes nothing. */
	CU_ASSERT_EQUAL(state_failover_cas(&st, "a", FAILOVER_STATUS_NONE,
					   FAILOVER_STATUS_REQUIRE), -ESTALE);
	CU_ASSERT_EQUAL(state_failover_cas(&st, "zz", FAILOVER_STATUS_NONE,
					   FAILOVER_STATUS_REQUIRE), -ESTALE);
	state_domain_get(&st, "a", &dom);
	CU_ASSERT_EQUAL(dom.failover, FAILOVER_STATUS_REQUIRE);
	/* The CHECK constraint keeps nonsense out even from raw SQL. */
	CU_ASSERT_NOT_EQUAL(sqlite3_exec(st.db, "UPDATE domains SET "
			    "colo_mode = 'bogus'", NULL, NULL, NULL),
			    SQLITE_OK);
	state_close(&st);
	unit_rmdir(d);
}

static void test_rollback(void)
{
	char *d = unit_mkdtemp(), err[512], buf[32];
	struct state st;

	CU_ASSERT_EQUAL_FATAL(state_open(&st, d, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(state_begin(&st), 0);
	CU_ASSERT_EQUAL(state_param_set(&st, "k", "v"), 0);
	state_rollback(&st);
	CU_ASSERT_EQUAL(state_param_get(&st, "k", buf, sizeof(buf)), -ENOENT);
	CU_ASSERT_EQUAL(state_begin(&st), 0);
	CU_ASSERT_EQUAL(state_param_set(&st, "k", "v1"), 0);
	CU_ASSERT_EQUAL(state_param_set(&st, "k", "v2"), 0);
	CU_ASSERT_EQUAL(state_commit(&st), 0);
	CU_ASSERT_EQUAL(state_param_get(&st, "k", buf, sizeof(buf)), 0);
	CU_ASSERT_STRING_EQUAL(buf, "v2");
	CU_ASSERT_EQUAL(st.depth, 0);
	state_close(&st);
	unit_rmdir(d);
}

static void test_event_log_bounded(void)
{
	char *d = unit_mkdtemp(), err[512];
	struct state st;

	CU_ASSERT_EQUAL_FATAL(state_open(&st, d, err, sizeof(err)), 0);
	state_begin(&st);
	for (int i = 0; i < STATE_EVENT_LOG_MAX + 25; i++)
		CU_ASSERT_EQUAL(state_event_append(&st, "E", "{}", (uint64_t)i),
				0);
	state_commit(&st);
	CU_ASSERT_EQUAL(unit_count_rows(&st, "SELECT count(*) FROM event_log"),
			STATE_EVENT_LOG_MAX);
	/* The newest survive. */
	CU_ASSERT_EQUAL(unit_count_rows(&st, "SELECT max(ts_us) FROM event_log"),
			STATE_EVENT_LOG_MAX + 24);
	state_close(&st);
	unit_rmdir(d);
}

static void add_range(struct state *st, const char *dom, int64_t pid,
		int64_t from, int64_t to)
{
	struct checkpoint_record r = { 0 };

	r.role = COLO_MODE_PRIMARY;
	r.trigger = (char *)"timer";
	for (int64_t s = from; s <= to; s++) {
		r.seq = s;
		r.pause_us = s * 10;
		CU_ASSERT_EQUAL(state_checkpoints_add(st, dom, pid, &r, 1), 0);
	}
}

static void test_checkpoints(void)
{
	char *d = unit_mkdtemp(), err[512];
	struct checkpoint_record *v;
	struct state st;
	size_t n;

	CU_ASSERT_EQUAL_FATAL(state_open(&st, d, err, sizeof(err)), 0);
	unit_seed_domain(&st, "a", 1, "primary");
	state_begin(&st);
	add_range(&st, "a", 100, 1, 30);
	/* Copied twice (colod restarted between copies): kept once. */
	add_range(&st, "a", 100, 25, 40);
	CU_ASSERT_EQUAL(state_checkpoints_last_seq(&st, "a", 100), 40);
	CU_ASSERT_EQUAL(state_checkpoints_last_seq(&st, "a", 101), 0);
	/* A new helper counts from 1 again: a different checkpoint. */
	add_range(&st, "a", 101, 1, 2);
	state_commit(&st);
	CU_ASSERT_EQUAL(unit_count_rows(&st, "SELECT count(*) FROM checkpoints"),
			42);
	CU_ASSERT_EQUAL(state_checkpoints_list(&st, "a", 5, &v, &n), 0);
	CU_ASSERT_EQUAL_FATAL(n, 5);
	/* The newest five, oldest first. */
	CU_ASSERT_EQUAL(v[0].seq, 38);
	CU_ASSERT_EQUAL(v[2].seq, 40);
	CU_ASSERT_EQUAL(v[2].pause_us, 400);
	CU_ASSERT_EQUAL(v[4].seq, 2);
	CU_ASSERT_STRING_EQUAL(v[4].trigger, "timer");
	CU_ASSERT_EQUAL(v[4].role, COLO_MODE_PRIMARY);
	for (size_t i = 0; i < n; i++)
		checkpoint_record_fini(&v[i]);
	free(v);
	/* A role the table does not know is refused. */
	CU_ASSERT_NOT_EQUAL(sqlite3_exec(st.db, "UPDATE checkpoints SET "
			    "role = 'bogus'", NULL, NULL, NULL), SQLITE_OK);
	/* Bounded per domain: the oldest go first. */
	state_begin(&st);
	add_range(&st, "a", 102, 1, STATE_CHECKPOINTS_MAX + 3);
	state_commit(&st);
	CU_ASSERT_EQUAL(unit_count_rows(&st, "SELECT count(*) FROM checkpoints"),
			STATE_CHECKPOINTS_MAX);
	CU_ASSERT_EQUAL(unit_count_rows(&st, "SELECT min(seq) FROM checkpoints"),
			4);
	/* Forgetting the domain forgets its checkpoints. */
	CU_ASSERT_EQUAL(state_domain_delete(&st, "a"), 0);
	CU_ASSERT_EQUAL(unit_count_rows(&st, "SELECT count(*) FROM checkpoints"),
			0);
	state_close(&st);
	unit_rmdir(d);
}

void unit_suite_state(void)
{
	static const struct unit_case cases[] = {
		{ "open_pragmas", test_open_pragmas },
		{ "migrate_from_schema1", test_migrate_from_schema1 },
		{ "newer_refused", test_newer_refused },
		{ "foreign_file", test_foreign_file },
		{ "domains_and_cas", test_domains_and_cas },
		{ "rollback", test_rollback },
		{ "event_log_bounded", test_event_log_bounded },
		{ "checkpoints", test_checkpoints },
		{ NULL, NULL },
	};

	unit_add_suite("state", cases);
}
