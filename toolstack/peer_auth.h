/* Who may use the CURVE-secured peer link: a ZAP handler (ZeroMQ RFC 27)
 * that admits only the peer's public key from colod.conf. */
#ifndef COLO_PEER_AUTH_H
#define COLO_PEER_AUTH_H

#include "ctl.h"

/* Binds the handler in zctx; it must exist before the peer socket binds. */
void *peer_auth_open(void *zctx, int *err);
/* Answers one waiting authentication request. */
void peer_auth_handle(void *zap, const struct ctl_curve *k);

#endif
