/* Test fixtures: a real struct colod on a temporary state directory with
 * real sockets, and domain rows seeded through SQL. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "colod.h"
#include "ctl.h"
#include "params.h"
#include "unit.h"

struct colod *unit_colod_new(void)
{
	struct colod *d = calloc(1, sizeof(*d));
	char err[512], ep[300];
	int e = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(d);
	d->cfg.state_dir = unit_mkdtemp();
	d->cfg.run_dir = strdup(d->cfg.state_dir);
	params_defaults(&d->params);
	if (state_open(&d->st, d->cfg.state_dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "state_open: %s\n", err);
		CU_FAIL_FATAL("state_open");
	}
	d->zctx = zmq_ctx_new();
	snprintf(ep, sizeof(ep), "ipc://%s/ev", d->cfg.state_dir);
	d->pub = ctl_bind(d->zctx, ZMQ_XPUB, ep, &e);
	d->pending = json_array();
	d->sink.emit = colod_emit;
	d->sink.opaque = d;
	d->sigfd = d->state_lock_fd = d->run_lock_fd = -1;
	return d;
}

void unit_colod_free(struct colod *d)
{
	state_close(&d->st);
	zmq_close(d->pub);
	zmq_ctx_term(d->zctx);
	json_decref(d->pending);
	free(d->cfg.run_dir);
	unit_rmdir(d->cfg.state_dir);
	free(d);
}

void unit_seed_domain(struct state *st, const char *name, int domid,
		const char *mode)
{
	char *sql = sqlite3_mprintf(
		"INSERT INTO domains (name, domid, uuid, mem_mib, vcpus, "
		"run_state, colo_mode, migration_status) VALUES "
		"(%Q, %d, '00000000-0000-0000-0000-%012d', 256, 1, 'running', "
		"%Q, %Q)", name, domid, domid, mode,
		strcmp(mode, "unknown") ? "colo" : "none");

	CU_ASSERT_EQUAL(sqlite3_exec(st->db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_free(sql);
}

int unit_count_rows(struct state *st, const char *where_sql)
{
	sqlite3_stmt *s;
	int n = -1;

	if (sqlite3_prepare_v2(st->db, where_sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return n;
}
