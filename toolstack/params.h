/* The host's COLO parameters: defaults, colod.conf keys, range checks and
 * persistence.  One table drives all four, so a new parameter is one row. */
#ifndef COLO_PARAMS_H
#define COLO_PARAMS_H

#include <stddef.h>
#include "colo-qapi-types.h"
#include "conf.h"
#include "error.h"
#include "state.h"

void params_defaults(struct parameters *p);
int params_validate(const struct parameters *p, struct colo_error *err);
/* Applies colod.conf keys; errbuf gets "file:line: ..." on a bad value. */
int params_from_conf(struct parameters *p, struct conf *c, char *errbuf,
		size_t errlen);
/* Overlays values stored by set-parameters; bad stored values are
 * ignored with a warning, never trusted. */
int params_load(struct state *st, struct parameters *p);
/* Stores every parameter; call inside a transaction. */
int params_store(struct state *st, const struct parameters *p);
/* NULL-terminated list of the colod.conf keys that params_from_conf reads. */
extern const char *const params_conf_keys[];

#endif
