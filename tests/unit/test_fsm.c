/* colo_fsm and the command handlers on a real colod context: failover
 * bookkeeping, events committed with their transitions, recovery of an
 * interrupted failover, and requests that must change nothing. */
#include "config.h"
#include <errno.h>
#include <string.h>
#include "colo-qapi-commands.h"
#include "colo_fsm.h"
#include "colod.h"
#include "ctl.h"
#include "unit.h"

static void test_edges(void)
{
	CU_ASSERT_TRUE(colo_fsm_failover_edge_ok(FAILOVER_STATUS_NONE,
						 FAILOVER_STATUS_REQUIRE));
	CU_ASSERT_TRUE(colo_fsm_failover_edge_ok(FAILOVER_STATUS_REQUIRE,
						 FAILOVER_STATUS_ACTIVE));
	CU_ASSERT_TRUE(colo_fsm_failover_edge_ok(FAILOVER_STATUS_ACTIVE,
						 FAILOVER_STATUS_COMPLETED));
	CU_ASSERT_FALSE(colo_fsm_failover_edge_ok(FAILOVER_STATUS_NONE,
						  FAILOVER_STATUS_COMPLETED));
	CU_ASSERT_FALSE(colo_fsm_failover_edge_ok(FAILOVER_STATUS_ACTIVE,
						  FAILOVER_STATUS_NONE));
	CU_ASSERT_FALSE(colo_fsm_failover_edge_ok(FAILOVER_STATUS_REQUIRE,
						  FAILOVER_STATUS_NONE));
}

static void test_failover(void)
{
	struct colod *d = unit_colod_new();
	struct colo_error err = { 0 };
	struct state_domain dom;

	unit_seed_domain(&d->st, "p", 1, "primary");
	unit_seed_domain(&d->st, "plain", 2, "unknown");
	CU_ASSERT_EQUAL(colo_fsm_failover(d, "p", COLO_EXIT_REASON_REQUEST,
					  &err), 0);
	CU_ASSERT_EQUAL(state_domain_get(&d->st, "p", &dom), 0);
	CU_ASSERT_EQUAL(dom.failover, FAILOVER_STATUS_COMPLETED);
	CU_ASSERT_EQUAL(dom.mode, COLO_MODE_UNKNOWN);
	CU_ASSERT_EQUAL(dom.last_mode, COLO_MODE_PRIMARY);
	CU_ASSERT_EQUAL(dom.reason, COLO_EXIT_REASON_REQUEST);
	CU_ASSERT_EQUAL(dom.migration, MIGRATION_STATUS_COMPLETED);
	CU_ASSERT_EQUAL(unit_count_rows(&d->st, "SELECT count(*) FROM event_log"
			" WHERE name = 'FAILOVER_STATUS'"), 3);
	CU_ASSERT_EQUAL(unit_count_rows(&d->st, "SELECT count(*) FROM event_log"
			" WHERE name = 'COLO_EXIT' AND event LIKE "
			"'%\"mode\":\"primary\"%'"), 1);
	CU_ASSERT_EQUAL(d->st.depth, 0);

	/* Not again, not on a plain domain, not on a missing one. */
	CU_ASSERT_EQUAL(colo_fsm_failover(d, "p", COLO_EXIT_REASON_REQUEST,
					  &err), -EINVAL);
	CU_ASSERT_EQUAL(err.cls, ERROR_CLASS_INVALID_STATE);
	colo_error_clear(&err);
	CU_ASSERT_EQUAL(colo_fsm_failover(d, "plain", COLO_EXIT_REASON_REQUEST,
					  &err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.desc, "not in COLO mode"));
	colo_error_clear(&err);
	CU_ASSERT_EQUAL(colo_fsm_failover(d, "ghost", COLO_EXIT_REASON_REQUEST,
					  &err), -ENOENT);
	CU_ASSERT_EQUAL(err.cls, ERROR_CLASS_DOMAIN_NOT_FOUND);
	unit_colod_free(d);
}

/* colod died after committing 'active': on restart it finishes the job
 * with the reason stored when the failover began. */
static void test_recover(void)
{
	struct colod *d = unit_colod_new();
	struct state_domain dom;

	unit_seed_domain(&d->st, "s", 1, "secondary");
	unit_seed_domain(&d->st, "s2", 2, "secondary");
	sqlite3_exec(d->st.db, "UPDATE domains SET failover_status = 'active',"
		     " failover_reason = 'error' WHERE name = 's';"
		     "UPDATE domains SET failover_status = 'require',"
		     " failover_reason = 'request' WHERE name = 's2'",
		     NULL, NULL, NULL);
	CU_ASSERT_EQUAL(colo_fsm_recover(d), 0);
	state_domain_get(&d->st, "s", &dom);
	CU_ASSERT_EQUAL(dom.failover, FAILOVER_STATUS_COMPLETED);
	CU_ASSERT_EQUAL(dom.last_mode, COLO_MODE_SECONDARY);
	CU_ASSERT_EQUAL(dom.reason, COLO_EXIT_REASON_ERROR);
	state_domain_get(&d->st, "s2", &dom);
	CU_ASSERT_EQUAL(dom.failover, FAILOVER_STATUS_COMPLETED);
	CU_ASSERT_EQUAL(dom.reason, COLO_EXIT_REASON_REQUEST);
	/* Recovery twice is a no-op. */
	CU_ASSERT_EQUAL(colo_fsm_recover(d), 0);
	CU_ASSERT_EQUAL(unit_count_rows(&d->st, "SELECT count(*) FROM event_log"
			" WHERE name = 'COLO_EXIT'"), 2);
	unit_colod_free(d);
}

/* Runs one request through the real envelope + generated dispatcher +
 * handlers; returns the reply. */
static json_t *request(struct colod *d, const char *text)
{
	bool executed;

	return ctl_process(text, strlen(text), qmp_dispatch, d, &executed);
}

static const char *error_class_of(json_t *r)
{
	return json_string_value(json_object_get(json_object_get(r, "error"),
						 "class"));
}

static void test_commands(void)
{
	struct colod *d = unit_colod_new();
	json_t *r;
	int before;

	unit_seed_domain(&d->st, "vm", 5, "secondary");
	r = request(d, "{\"execute\":\"query-colo-status\","
		    "\"arguments\":{\"domain\":\"vm\"},\"id\":1}");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
		json_object_get(r, "return"), "mode")), "secondary");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(r, "id")), 1);
	json_decref(r);
	r = request(d, "{\"execute\":\"query-domains\"}");
	CU_ASSERT_EQUAL(json_array_size(json_object_get(r, "return")), 1);
	json_decref(r);
	r = request(d, "{\"execute\":\"query-status\","
		    "\"arguments\":{\"domain\":\"nope\"}}");
	CU_ASSERT_STRING_EQUAL(error_class_of(r), "DomainNotFound");
	json_decref(r);
	r = request(d, "{\"execute\":\"query-version\",\"arguments\":{\"x\":1}}");
	CU_ASSERT_STRING_EQUAL(error_class_of(r), "InvalidParameter");
	json_decref(r);

	/* Rejected parameter changes write nothing at all. */
	before = unit_count_rows(&d->st, "SELECT total_changes()");
	r = request(d, "{\"execute\":\"set-parameters\","
		    "\"arguments\":{\"checkpoint-interval\":\"fast\"}}");
	CU_ASSERT_STRING_EQUAL(error_class_of(r), "InvalidParameter");
	json_decref(r);
	r = request(d, "{\"execute\":\"set-parameters\",\"arguments\":"
		    "{\"checkpoint-interval\":100,\"heartbeat-misses\":0}}");
	CU_ASSERT_STRING_EQUAL(error_class_of(r), "InvalidParameter");
	json_decref(r);
	CU_ASSERT_EQUAL(unit_count_rows(&d->st, "SELECT total_changes()"),
			before);
	CU_ASSERT_EQUAL(d->params.checkpoint_interval, 2000);

	r = request(d, "{\"execute\":\"set-parameters\","
		    "\"arguments\":{\"checkpoint-interval\":100}}");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(r,
			"return"), "checkpoint-interval")), 100);
	json_decref(r);
	CU_ASSERT_EQUAL(unit_count_rows(&d->st, "SELECT count(*) FROM "
			"parameters WHERE key = 'checkpoint-interval' AND "
			"value = '100'"), 1);
	CU_ASSERT_EQUAL(unit_count_rows(&d->st, "SELECT count(*) FROM event_log"
			" WHERE name = 'PARAMETERS_CHANGED'"), 1);

	r = request(d, "{\"execute\":\"x-colo-lost-heartbeat\","
		    "\"arguments\":{\"domain\":\"vm\"}}");
	CU_ASSERT_PTR_NOT_NULL(json_object_get(r, "return"));
	json_decref(r);
	r = request(d, "{\"execute\":\"query-colo-status\","
		    "\"arguments\":{\"domain\":\"vm\"}}");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
		json_object_get(r, "return"), "last-mode")), "secondary");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(
		json_object_get(r, "return"), "failover")), "completed");
	json_decref(r);
	unit_colod_free(d);
}

void unit_suite_fsm(void)
{
	static const struct unit_case cases[] = {
		{ "edges", test_edges },
		{ "failover", test_failover },
		{ "recover", test_recover },
		{ "commands", test_commands },
		{ NULL, NULL },
	};

	unit_add_suite("fsm", cases);
}
