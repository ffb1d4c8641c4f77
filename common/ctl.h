/* The ZeroMQ control layer: QMP-shaped request/reply envelopes with
 * correlation ids and timeouts, and timestamped events on a PUB socket.
 * Command arguments and return values are encoded by the generated codecs;
 * this layer only handles the envelope around them. */
#ifndef COLO_CTL_H
#define COLO_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include <zmq.h>
#include "error.h"

/* Requests above this are answered with TooLarge without being parsed. */
#define CTL_MAX_REQUEST		(1u << 20)
/* ZeroMQ drops peers that send more than this in one message. */
#define CTL_ZMQ_MAX_MSG		((int64_t)64 << 20)
#define CTL_MAX_ROUTE		8
/* Sent by the event socket to each new subscriber, so that a subscriber
 * knows when its subscription is live. */
#define CTL_EVENT_WELCOME	"colo-events-welcome"
#define CTL_DEFAULT_TIMEOUT_MS	30000

/* ---- server side ---- */

/* One message read from a ROUTER: the routing frames, echoed back on the
 * reply, and the last frame, which is the payload. */
struct ctl_incoming {
	zmq_msg_t route[CTL_MAX_ROUTE];
	size_t nroute;
	zmq_msg_t payload;
	bool have_payload;
};

typedef json_t *(*ctl_dispatch_fn)(void *opaque, const char *name,
		json_t *args, struct colo_error *err);

/* Reads one whole multipart message.  Returns 0, -EAGAIN when nothing is
 * waiting, or another -errno. */
int ctl_recv(void *sock, struct ctl_incoming *in);
void ctl_incoming_fini(struct ctl_incoming *in);
/* Sends msg (not stolen) back along in's route. */
int ctl_send_reply(void *sock, struct ctl_incoming *in, json_t *msg);

/* Parses and checks a request envelope, runs it through fn, and returns
 * the reply envelope.  Never returns NULL; bad input becomes an error
 * reply of the right class.  *executed tells whether fn ran. */
json_t *ctl_process(const void *data, size_t len, ctl_dispatch_fn fn,
		void *opaque, bool *executed);
/* Receives one request on a ROUTER socket, runs it through fn and sends
 * the reply: the whole loop body of a small server. */
void ctl_serve_one(void *sock, ctl_dispatch_fn fn, void *opaque);

json_t *ctl_reply_error(enum error_class cls, const char *desc, json_t *id);

/* Builds {"event", "data", "timestamp"}; steals data. */
json_t *ctl_event_new(const char *name, json_t *data);
/* Publishes an event as two frames: the name (the topic), then the JSON. */
int ctl_publish(void *pub, json_t *event);

/* CURVE encryption and authentication of a TCP control link (the colod
 * peer link, colod.conf(5)).  Keys are Z85 text, 40 characters. */
struct ctl_curve {
	char public_key[41];	/* ours, derived from the secret */
	char secret_key[41];
	char peer_key[41];	/* the one peer allowed, and the server we
				 * connect to */
};
/* Whether z is a Z85 CURVE key: 40 characters that decode. */
bool ctl_curve_key_valid(const char *z);
/* Fills k from a secret key and the peer's public key; -EINVAL with err
 * naming the bad key. */
int ctl_curve_init(struct ctl_curve *k, const char *secret,
		const char *peer_public, char *err, size_t errlen);
/* Makes sock a CURVE server (call before bind) or a client of the peer
 * (before connect). */
int ctl_curve_apply(void *sock, const struct ctl_curve *k, bool server);
/* ctl_bind with CURVE when k is not NULL. */
void *ctl_bind_curve(void *zctx, int type, const char *endpoint,
		const struct ctl_curve *k, int *err);
/* Opens a socket of type, applies the options every control socket uses,
 * and binds it.  For ipc:// endpoints a stale socket file is removed
 * first; the caller holds the lock that makes that safe. */
void *ctl_bind(void *zctx, int type, const char *endpoint, int *err);

/* ---- client side ---- */

struct ctl_client {
	void *zctx;
	void *sock;
	char *endpoint;
	int timeout_ms;
	unsigned long seq;
	bool dry_run;		/* print requests instead of sending them */
	bool trace;		/* print requests and replies to stderr */
};

/* Checks that something listens on endpoint, then connects.  -ECONNREFUSED
 * or -ENOENT means no daemon is there. */
int ctl_client_open(struct ctl_client *c, const char *endpoint,
		int timeout_ms);
/* ctl_client_open with CURVE when k is not NULL. */
int ctl_client_open_curve(struct ctl_client *c, const char *endpoint,
		int timeout_ms, const struct ctl_curve *k);
void ctl_client_close(struct ctl_client *c);

/* Sends one request and waits for the reply with the same id.  args is
 * stolen (NULL for none).  On success *ret holds the return value.  A
 * server error fills err and returns -EREMOTEIO; no answer in time fills
 * err with Timeout and returns -ETIMEDOUT.  In dry-run mode the request is
 * printed and -ECANCELED returned. */
int ctl_client_call(struct ctl_client *c, const char *name, json_t *args,
		json_t **ret, struct colo_error *err);

/* The two halves of ctl_client_call, for asking several servers at once:
 * send to each, then finish each.  id receives the request's id. */
#define CTL_ID_MAX	64
int ctl_client_send(struct ctl_client *c, const char *name, json_t *args,
		char id[CTL_ID_MAX]);
int ctl_client_finish(struct ctl_client *c, const char *name, const char *id,
		json_t **ret, struct colo_error *err);
/* Opens a SUB socket on an event endpoint and waits (up to timeout_ms)
 * for the welcome message, so later events are not missed. */
void *ctl_subscribe(void *zctx, const char *endpoint, int timeout_ms,
		int *err);

/* 0 if an AF_UNIX stream socket accepts at path, else -errno. */
int ctl_probe_ipc(const char *endpoint);

#endif
