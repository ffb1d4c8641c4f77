/* Error values that cross the control protocol: a schema ErrorClass plus a
 * human description.  Internal code returns negative errno; this struct is
 * filled at the protocol edge so the client learns the class. */
#ifndef COLO_ERROR_H
#define COLO_ERROR_H

#include <stdbool.h>
#include "colo-qapi-types.h"

struct colo_error {
	bool set;
	enum error_class cls;
	char desc[512];
};

/* Sets err once: the first reason wins, later calls are ignored, so a
 * low-level message is not overwritten by a vaguer caller. */
void colo_error_set(struct colo_error *err, enum error_class cls,
		const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void colo_error_clear(struct colo_error *err);

/* Maps a negative errno from internal code to the closest class. */
enum error_class colo_error_class_from_errno(int neg_errno);

#endif
