/* Type-checked access to JSON members for the generated codecs.  The
 * messages follow QMP's wording so QEMU users recognise them. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "error.h"
#include "qapi_util.h"

int qapi_enum_lookup(const char *const *names, int n, const char *s)
{
	if (!s)
		return -1;
	for (int i = 0; i < n; i++)
		if (names[i] && strcmp(names[i], s) == 0)
			return i;
	return -1;
}

json_t *qapi_json_string(const char *s)
{
	json_t *j = json_string(s ? s : "");

	return j ? j : json_string("(invalid UTF-8)");
}

void qapi_path(char *buf, size_t size, const char *path, const char *name)
{
	if (!path || !*path)
		snprintf(buf, size, "%s", name);
	else
		snprintf(buf, size, "%s.%s", path, name);
}

void qapi_missing(struct colo_error *err, const char *path)
{
	colo_error_set(err, ERROR_CLASS_MISSING_PARAMETER,
		"Parameter '%s' is missing", path);
}

void qapi_nomem(struct colo_error *err)
{
	colo_error_set(err, ERROR_CLASS_INTERNAL_ERROR, "out of memory");
}

static void bad_type(struct colo_error *err, const char *path,
		const char *want)
{
	colo_error_set(err, ERROR_CLASS_INVALID_PARAMETER,
		"Invalid parameter type for '%s', expected: %s",
		*path ? path : "arguments", want);
}

int qapi_check_object(json_t *j, const char *const *known, bool strict,
		const char *path, struct colo_error *err)
{
	const char *key;
	json_t *v;

	if (!json_is_object(j)) {
		bad_type(err, path, "object");
		return -EINVAL;
	}
	if (!strict)
		return 0;
	json_object_foreach(j, key, v) {
		size_t i;
		char sub[256];

		for (i = 0; known[i]; i++)
			if (strcmp(known[i], key) == 0)
				break;
		if (!known[i]) {
			qapi_path(sub, sizeof(sub), path, key);
			colo_error_set(err, ERROR_CLASS_INVALID_PARAMETER,
				"Parameter '%s' is unexpected", sub);
			return -EINVAL;
		}
	}
	return 0;
}

int qapi_expect_no_args(json_t *args, struct colo_error *err)
{
	static const char *const none[] = { NULL };

	return qapi_check_object(args, none, true, "", err);
}

int qapi_get_str(json_t *j, char **out, const char *path,
		struct colo_error *err)
{
	if (!json_is_string(j)) {
		bad_type(err, path, "string");
		return -EINVAL;
	}
	*out = strdup(json_string_value(j));
	if (!*out) {
		qapi_nomem(err);
		return -ENOMEM;
	}
	return 0;
}

int qapi_get_int(json_t *j, int64_t *out, const char *path,
		struct colo_error *err)
{
	if (!json_is_integer(j)) {
		bad_type(err, path, "integer");
		return -EINVAL;
	}
	*out = json_integer_value(j);
	return 0;
}

int qapi_get_bool(json_t *j, bool *out, const char *path,
		struct colo_error *err)
{
	if (!json_is_boolean(j)) {
		bad_type(err, path, "boolean");
		return -EINVAL;
	}
	*out = json_is_true(j);
	return 0;
}

int qapi_get_number(json_t *j, double *out, const char *path,
		struct colo_error *err)
{
	if (!json_is_number(j)) {
		bad_type(err, path, "number");
		return -EINVAL;
	}
	*out = json_number_value(j);
	return 0;
}

int qapi_get_enum(json_t *j, int *out, int (*parse)(const char *),
		const char *path, struct colo_error *err)
{
	int v;

	if (!json_is_string(j)) {
		bad_type(err, path, "string");
		return -EINVAL;
	}
	v = parse(json_string_value(j));
	if (v < 0) {
		colo_error_set(err, ERROR_CLASS_INVALID_PARAMETER,
			"Parameter '%s' does not accept value '%s'", path,
			json_string_value(j));
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int qapi_get_array(json_t *j, size_t *count, const char *path,
		struct colo_error *err)
{
	if (!json_is_array(j)) {
		bad_type(err, path, "array");
		return -EINVAL;
	}
	*count = json_array_size(j);
	return 0;
}
