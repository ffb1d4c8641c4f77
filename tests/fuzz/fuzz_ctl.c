/* libFuzzer target: one control request through the whole server path:
 * size check, JSON parse, envelope check, generated argument decoding and
 * the real colod handlers on a scratch state database. */
#include "config.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "colo-qapi-commands.h"
#include "colod.h"
#include "ctl.h"
#include "params.h"

static struct colod d;

static void setup(void)
{
	char tmpl[] = "/tmp/colo-fuzz.XXXXXX", err[512], ep[300];
	char *dir = mkdtemp(tmpl);
	int e = 0;

	if (!dir)
		abort();
	log_init("fuzz", LOG_TO_STDERR, NULL, LOG_LVL_ERROR);
	d.cfg.state_dir = strdup(dir);
	d.cfg.run_dir = strdup(dir);
	params_defaults(&d.params);
	if (state_open(&d.st, dir, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	/* Speed over durability: this database is thrown away. */
	sqlite3_exec(d.st.db, "PRAGMA synchronous = OFF;"
		     "INSERT INTO domains (name, domid, uuid, mem_mib, vcpus, "
		     "colo_mode) VALUES ('vm', 1, 'u', 64, 1, 'primary')",
		     NULL, NULL, NULL);
	d.zctx = zmq_ctx_new();
	snprintf(ep, sizeof(ep), "ipc://%s/ev", dir);
	d.pub = ctl_bind(d.zctx, ZMQ_XPUB, ep, &e);
	d.pending = json_array();
	d.sink.emit = colod_emit;
	d.sink.opaque = &d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool executed;
	json_t *reply;

	if (!d.st.db)
		setup();
	reply = ctl_process(data, size, qmp_dispatch, &d, &executed);
	if (!reply || (!json_object_get(reply, "return") &&
		       !json_object_get(reply, "error")))
		abort();	/* every request gets a well-formed reply */
	if (d.st.depth != 0)
		abort();	/* no handler may leave a transaction open */
	json_decref(reply);
	/* Put failed-over domains back so the fuzzer keeps reaching the
	 * failover path. */
	sqlite3_exec(d.st.db, "UPDATE domains SET colo_mode = 'primary', "
		     "failover_status = 'none'", NULL, NULL, NULL);
	return 0;
}
