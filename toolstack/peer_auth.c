/* The ZAP handler of the peer link. */
#include "config.h"
#include <errno.h>
#include <string.h>
#include <zmq.h>
#include "log.h"
#include "peer_auth.h"

#define ZAP_ENDPOINT	"inproc://zeromq.zap.01"
#define ZAP_FRAMES	7	/* version .. mechanism, one credential */

void *peer_auth_open(void *zctx, int *err)
{
	void *s = zmq_socket(zctx, ZMQ_REP);
	int linger = 0;

	if (!s || zmq_bind(s, ZAP_ENDPOINT) < 0) {
		*err = -errno;
		if (s)
			zmq_close(s);
		return NULL;
	}
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	return s;
}

static void reply(void *zap, zmq_msg_t *req_id, const char *code,
		const char *text)
{
	zmq_send(zap, "1.0", 3, ZMQ_SNDMORE);
	zmq_send(zap, zmq_msg_data(req_id), zmq_msg_size(req_id), ZMQ_SNDMORE);
	zmq_send(zap, code, strlen(code), ZMQ_SNDMORE);
	zmq_send(zap, text, strlen(text), ZMQ_SNDMORE);
	zmq_send(zap, "", 0, ZMQ_SNDMORE);	/* user id */
	zmq_send(zap, "", 0, 0);		/* metadata */
}

/* Frames: version, request id, domain, address, routing id, mechanism,
 * then the credentials (for CURVE, the client's 32-byte public key). */
void peer_auth_handle(void *zap, const struct ctl_curve *k)
{
	zmq_msg_t f[ZAP_FRAMES];
	uint8_t allowed[32];
	int n = 0, more = 1;
	size_t sz = sizeof(more);
	bool ok;

	while (more) {
		zmq_msg_t m;

		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, zap, ZMQ_DONTWAIT) < 0) {
			zmq_msg_close(&m);
			break;
		}
		if (n < ZAP_FRAMES)
			f[n++] = m;
		else
			zmq_msg_close(&m);
		zmq_getsockopt(zap, ZMQ_RCVMORE, &more, &sz);
	}
	if (n < 2) {	/* nothing to answer to */
		for (int i = 0; i < n; i++)
			zmq_msg_close(&f[i]);
		return;
	}
	zmq_z85_decode(allowed, k->peer_key);
	ok = n == ZAP_FRAMES && zmq_msg_size(&f[5]) == 5 &&
	     memcmp(zmq_msg_data(&f[5]), "CURVE", 5) == 0 &&
	     zmq_msg_size(&f[6]) == 32 &&
	     memcmp(zmq_msg_data(&f[6]), allowed, 32) == 0;
	if (ok) {
		reply(zap, &f[1], "200", "OK");
	} else {
		char addr[64] = "?";

		if (n > 3)
			snprintf(addr, sizeof(addr), "%.*s",
				 (int)zmq_msg_size(&f[3]),
				 (const char *)zmq_msg_data(&f[3]));
		log_warn("peer link: refused %s: not the configured "
			 "curve_peer_public_key", addr);
		reply(zap, &f[1], "400", "unknown key");
	}
	for (int i = 0; i < n; i++)
		zmq_msg_close(&f[i]);
}
