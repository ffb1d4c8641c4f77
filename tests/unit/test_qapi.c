/* The generated codecs: enum tables in the seeds' order, strict decoding
 * of arguments with QMP-style errors, and lossless round trips. */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "colo-qapi-commands.h"
#include "colo-qapi-events.h"
#include "colo-qapi-types.h"
#include "error.h"
#include "unit.h"

static void test_enums(void)
{
	static const char *const msgs[] = {
		"checkpoint-ready", "checkpoint-request", "checkpoint-reply",
		"vmstate-send", "vmstate-size", "vmstate-received",
		"vmstate-loaded",
	};

	CU_ASSERT_EQUAL(COLO_MESSAGE__MAX, 7);
	for (int i = 0; i < 7; i++) {
		CU_ASSERT_STRING_EQUAL(colo_message_str((enum colo_message)i),
				       msgs[i]);
		CU_ASSERT_EQUAL(colo_message_parse(msgs[i]), i);
	}
	CU_ASSERT_EQUAL(COLO_MODE_UNKNOWN, 0);
	CU_ASSERT_EQUAL(COLO_MODE_PRIMARY, 1);
	CU_ASSERT_EQUAL(COLO_MODE_SECONDARY, 2);
	CU_ASSERT_EQUAL(FAILOVER_STATUS_NONE, 0);
	CU_ASSERT_EQUAL(FAILOVER_STATUS_COMPLETED, 3);
	CU_ASSERT_STRING_EQUAL(migration_status_str(MIGRATION_STATUS_COLO),
			       "colo");
	CU_ASSERT_EQUAL(colo_exit_reason_parse("processing"),
			COLO_EXIT_REASON_PROCESSING);
	CU_ASSERT_EQUAL(colo_mode_parse("tertiary"), -1);
	CU_ASSERT_EQUAL(colo_mode_parse(NULL), -1);
	CU_ASSERT_STRING_EQUAL(colo_mode_str((enum colo_mode)99), "?");
}

static void test_roundtrip(void)
{
	struct colo_status in = {
		.mode = COLO_MODE_SECONDARY, .last_mode = COLO_MODE_PRIMARY,
		.reason = COLO_EXIT_REASON_ERROR,
		.failover = FAILOVER_STATUS_ACTIVE,
	}, out;
	struct colo_error err = { 0 };
	json_t *j = colo_status_to_json(&in);

	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(j,
				"last-mode")), "primary");
	CU_ASSERT_EQUAL(colo_status_from_json(j, &out, true, "", &err), 0);
	CU_ASSERT_EQUAL(memcmp(&in, &out, sizeof(in)), 0);
	json_decref(j);
}

static void test_nested(void)
{
	struct qev_parameters_changed in = { 0 }, out;
	struct colo_error err = { 0 };
	json_t *j;

	in.parameters.checkpoint_interval = 1234;
	in.parameters.auto_failover = true;
	j = qev_parameters_changed_to_json(&in);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(j,
			"parameters"), "checkpoint-interval")), 1234);
	CU_ASSERT_EQUAL(qev_parameters_changed_from_json(j, &out, true, "",
							 &err), 0);
	CU_ASSERT_EQUAL(out.parameters.checkpoint_interval, 1234);
	/* A bad member deep inside names its full path. */
	json_object_set_new(json_object_get(j, "parameters"), "auto-failover",
			    json_string("yes"));
	CU_ASSERT_EQUAL(qev_parameters_changed_from_json(j, &out, true, "",
							 &err), -EINVAL);
	CU_ASSERT_EQUAL(err.cls, ERROR_CLASS_INVALID_PARAMETER);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.desc, "parameters.auto-failover"));
	json_decref(j);
}

/* Decodes args text; returns the error class or -1 for success. */
static int decode_args(const char *text, char *desc, size_t len)
{
	struct qmp_query_colo_status_args a;
	struct colo_error err = { 0 };
	json_t *j = json_loads(text, 0, NULL);
	int rc = qmp_query_colo_status_args_from_json(j, &a, true, "", &err);

	json_decref(j);
	snprintf(desc, len, "%s", err.desc);
	if (rc == 0) {
		qmp_query_colo_status_args_fini(&a);
		return -1;
	}
	return (int)err.cls;
}

static void test_strict_args(void)
{
	char d[512];

	CU_ASSERT_EQUAL(decode_args("{\"domain\": \"vm1\"}", d, sizeof(d)), -1);
	CU_ASSERT_EQUAL(decode_args("{}", d, sizeof(d)),
			ERROR_CLASS_MISSING_PARAMETER);
	CU_ASSERT_STRING_EQUAL(d, "Parameter 'domain' is missing");
	CU_ASSERT_EQUAL(decode_args("{\"domain\": 7}", d, sizeof(d)),
			ERROR_CLASS_INVALID_PARAMETER);
	CU_ASSERT_STRING_EQUAL(d, "Invalid parameter type for 'domain', "
			       "expected: string");
	CU_ASSERT_EQUAL(decode_args("{\"domain\": \"a\", \"x\": 1}", d,
				    sizeof(d)), ERROR_CLASS_INVALID_PARAMETER);
	CU_ASSERT_STRING_EQUAL(d, "Parameter 'x' is unexpected");
	CU_ASSERT_EQUAL(decode_args("[1]", d, sizeof(d)),
			ERROR_CLASS_INVALID_PARAMETER);
}

static void test_enum_member(void)
{
	struct colo_status s;
	struct colo_error err = { 0 };
	json_t *j = json_pack("{s:s,s:s,s:s,s:s}", "mode", "sideways",
			      "last-mode", "unknown", "reason", "none",
			      "failover", "none");

	CU_ASSERT_EQUAL(colo_status_from_json(j, &s, true, "", &err), -EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(err.desc, "does not accept value "
				      "'sideways'"));
	json_decref(j);
}

/* Replies from a newer server may carry members we do not know yet. */
static void test_lenient_returns(void)
{
	struct version_info v;
	struct colo_error err = { 0 };
	json_t *j = json_pack("{s:i,s:i,s:i,s:s,s:i,s:s}", "major", 1, "minor",
			      2, "micro", 3, "package", "p", "protocol", 1,
			      "future", "x");

	CU_ASSERT_EQUAL(version_info_from_json(j, &v, false, "", &err), 0);
	CU_ASSERT_EQUAL(v.minor, 2);
	version_info_fini(&v);
	CU_ASSERT_EQUAL(version_info_from_json(j, &v, true, "", &err), -EINVAL);
	json_decref(j);
}

static void test_command_table(void)
{
	static const char *const want[] = {
		"query-version", "query-status", "query-colo-status",
		"x-colo-lost-heartbeat",
	};

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		size_t k;

		for (k = 0; k < qmp_command_count; k++)
			if (strcmp(qmp_commands[k].name, want[i]) == 0)
				break;
		CU_ASSERT_TRUE(k < qmp_command_count);
		if (k < qmp_command_count)
			CU_ASSERT_TRUE(strlen(qmp_commands[k].doc) > 10);
	}
	for (size_t k = 0; k < qapi_event_count; k++)
		CU_ASSERT_PTR_NOT_NULL(qapi_event_names[k]);
	CU_ASSERT_PTR_NULL(qapi_event_names[qapi_event_count]);
}

static void test_dispatch_unknown(void)
{
	struct colo_error err = { 0 };

	CU_ASSERT_PTR_NULL(qmp_dispatch(NULL, "no-such-command", NULL, &err));
	CU_ASSERT_EQUAL(err.cls, ERROR_CLASS_COMMAND_NOT_FOUND);
}

void unit_suite_qapi(void)
{
	static const struct unit_case cases[] = {
		{ "enums", test_enums },
		{ "roundtrip", test_roundtrip },
		{ "nested", test_nested },
		{ "strict_args", test_strict_args },
		{ "enum_member", test_enum_member },
		{ "lenient_returns", test_lenient_returns },
		{ "command_table", test_command_table },
		{ "dispatch_unknown", test_dispatch_unknown },
		{ NULL, NULL },
	};

	unit_add_suite("qapi", cases);
}
