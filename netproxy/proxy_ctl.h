/* netproxy's control socket: one dispatcher for the phase notifications
 * (server phase) and the netproxy commands (server netproxy). */
#ifndef NP_PROXY_CTL_H
#define NP_PROXY_CTL_H

#include <jansson.h>
#include "error.h"

json_t *proxy_ctl_dispatch(void *opaque, const char *name, json_t *args,
			   struct colo_error *err);

#endif
