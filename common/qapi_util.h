/* Helpers for the generated jansson codecs (schema/qapi-gen.py output).
 * Every getter checks the JSON type and reports a QMP-style error naming
 * the member's path. */
#ifndef COLO_QAPI_UTIL_H
#define COLO_QAPI_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

struct colo_error;

int qapi_enum_lookup(const char *const *names, int n, const char *s);
/* A JSON string for s; invalid UTF-8 is replaced so output stays JSON. */
json_t *qapi_json_string(const char *s);

void qapi_path(char *buf, size_t size, const char *path, const char *name);
void qapi_missing(struct colo_error *err, const char *path);
void qapi_nomem(struct colo_error *err);

int qapi_check_object(json_t *j, const char *const *known, bool strict,
		const char *path, struct colo_error *err);
int qapi_expect_no_args(json_t *args, struct colo_error *err);

int qapi_get_str(json_t *j, char **out, const char *path,
		struct colo_error *err);
int qapi_get_int(json_t *j, int64_t *out, const char *path,
		struct colo_error *err);
int qapi_get_bool(json_t *j, bool *out, const char *path,
		struct colo_error *err);
int qapi_get_number(json_t *j, double *out, const char *path,
		struct colo_error *err);
int qapi_get_enum(json_t *j, int *out, int (*parse)(const char *),
		const char *path, struct colo_error *err);
int qapi_get_array(json_t *j, size_t *count, const char *path,
		struct colo_error *err);

#endif
