/* Control envelopes over ZeroMQ.  The server side never trusts a frame:
 * size, JSON syntax and envelope shape are checked before dispatch, and
 * every failure becomes a classed error reply. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "ctl.h"
#include "log.h"
#include "util.h"

void ctl_incoming_fini(struct ctl_incoming *in)
{
	for (size_t i = 0; i < in->nroute; i++)
		zmq_msg_close(&in->route[i]);
	in->nroute = 0;
	if (in->have_payload)
		zmq_msg_close(&in->payload);
	in->have_payload = false;
}

int ctl_recv(void *sock, struct ctl_incoming *in)
{
	int more = 1;
	size_t sz = sizeof(more);
	zmq_msg_t part;

	memset(in, 0, sizeof(*in));
	while (more) {
		zmq_msg_init(&part);
		if (zmq_msg_recv(&part, sock, in->have_payload ? 0 :
				 ZMQ_DONTWAIT) < 0) {
			int rc = -errno;

			zmq_msg_close(&part);
			if (in->have_payload)
				break;	/* keep what we have */
			ctl_incoming_fini(in);
			return rc;
		}
		zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz);
		if (in->have_payload) {
			/* The previous frame was routing, not payload. */
			if (in->nroute < CTL_MAX_ROUTE)
				in->route[in->nroute++] = in->payload;
			else
				zmq_msg_close(&in->payload);
		}
		in->payload = part;
		in->have_payload = true;
	}
	return 0;
}

int ctl_send_reply(void *sock, struct ctl_incoming *in, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	int rc = 0;

	if (!text)
		return -ENOMEM;
	for (size_t i = 0; i < in->nroute; i++) {
		if (zmq_send(sock, zmq_msg_data(&in->route[i]),
			     zmq_msg_size(&in->route[i]), ZMQ_SNDMORE) < 0) {
			rc = -errno;
			goto out;
		}
	}
	if (zmq_send(sock, text, strlen(text), 0) < 0)
		rc = -errno;
out:
	free(text);
	return rc;
}

json_t *ctl_reply_error(enum error_class cls, const char *desc, json_t *id)
{
	json_t *r = json_pack("{s:{s:s,s:s}}", "error", "class",
			      error_class_str(cls), "desc", desc);
	char safe[512];

	/* A description that quotes the request (a JSON parse error shows
	 * the bytes it choked on) may not be UTF-8, which a JSON string
	 * cannot hold: the reply must still go out, with those bytes
	 * masked. */
	if (!r) {
		size_t k;

		for (k = 0; desc[k] && k < sizeof(safe) - 1; k++)
			safe[k] = (unsigned char)desc[k] < 0x20 ||
				  (unsigned char)desc[k] > 0x7e ? '?' : desc[k];
		safe[k] = 0;
		r = json_pack("{s:{s:s,s:s}}", "error", "class",
			      error_class_str(cls), "desc", safe);
	}

	if (r && id)
		json_object_set(r, "id", id);
	return r;
}

static json_t *check_envelope(json_t *req, const char **name, json_t **args)
{
	static const char *const allowed[] = { "execute", "arguments", "id" };
	const char *key;
	json_t *v, *id = json_object_get(req, "id");
	char desc[160];

	json_object_foreach(req, key, v) {
		size_t i;

		for (i = 0; i < ARRAY_SIZE(allowed); i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (i == ARRAY_SIZE(allowed)) {
			snprintf(desc, sizeof(desc),
				 "request member '%.64s' is unexpected", key);
			return ctl_reply_error(ERROR_CLASS_INVALID_REQUEST,
					       desc, id);
		}
	}
	v = json_object_get(req, "execute");
	if (!v)
		return ctl_reply_error(ERROR_CLASS_INVALID_REQUEST,
				       "request member 'execute' is missing", id);
	if (!json_is_string(v))
		return ctl_reply_error(ERROR_CLASS_INVALID_REQUEST,
				       "request member 'execute' must be a string",
				       id);
	*name = json_string_value(v);
	*args = json_object_get(req, "arguments");
	if (*args && !json_is_object(*args))
		return ctl_reply_error(ERROR_CLASS_INVALID_REQUEST,
				       "request member 'arguments' must be an object",
				       id);
	return NULL;
}

json_t *ctl_process(const void *data, size_t len, ctl_dispatch_fn fn,
		void *opaque, bool *executed)
{
	json_error_t jerr;
	json_t *req, *args = NULL, *ret, *reply, *id;
	const char *name = NULL;
	struct colo_error err;
	char desc[256];

	*executed = false;
	if (len > CTL_MAX_REQUEST) {
		snprintf(desc, sizeof(desc),
			 "request of %zu bytes exceeds the %u-byte limit", len,
			 CTL_MAX_REQUEST);
		return ctl_reply_error(ERROR_CLASS_TOO_LARGE, desc, NULL);
	}
	req = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!req) {
		snprintf(desc, sizeof(desc), "JSON parse error: %s (column %d)",
			 jerr.text, jerr.column);
		return ctl_reply_error(ERROR_CLASS_PARSE_ERROR, desc, NULL);
	}
	if (!json_is_object(req)) {
		json_decref(req);
		return ctl_reply_error(ERROR_CLASS_INVALID_REQUEST,
				       "a request must be a JSON object", NULL);
	}
	id = json_object_get(req, "id");
	reply = check_envelope(req, &name, &args);
	if (reply)
		goto out;
	colo_error_clear(&err);
	*executed = true;
	ret = fn(opaque, name, args, &err);
	if (!ret) {
		if (!err.set)
			colo_error_set(&err, ERROR_CLASS_INTERNAL_ERROR,
				       "%s failed", name);
		reply = ctl_reply_error(err.cls, err.desc, id);
		goto out;
	}
	reply = json_pack("{s:o}", "return", ret);
	if (reply && id)
		json_object_set(reply, "id", id);
out:
	json_decref(req);
	return reply ? reply : ctl_reply_error(ERROR_CLASS_INTERNAL_ERROR,
					       "out of memory", NULL);
}

json_t *ctl_event_new(const char *name, json_t *data)
{
	uint64_t now = util_now_us();

	return json_pack("{s:s,s:o,s:{s:I,s:I}}", "event", name, "data",
			 data ? data : json_object(), "timestamp", "seconds",
			 (json_int_t)(now / 1000000u), "microseconds",
			 (json_int_t)(now % 1000000u));
}

int ctl_publish(void *pub, json_t *event)
{
	const char *name = json_string_value(json_object_get(event, "event"));
	char *text = json_dumps(event, JSON_COMPACT);
	int rc = 0;

	if (!text || !name) {
		free(text);
		return -EINVAL;
	}
	if (zmq_send(pub, name, strlen(name), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
	    zmq_send(pub, text, strlen(text), ZMQ_DONTWAIT) < 0)
		rc = -errno;
	free(text);
	return rc;
}

static const char *ipc_path(const char *endpoint)
{
	return strncmp(endpoint, "ipc://", 6) == 0 ? endpoint + 6 : NULL;
}

bool ctl_curve_key_valid(const char *z)
{
	uint8_t bin[32];

	return z && strlen(z) == 40 && zmq_z85_decode(bin, z) != NULL;
}

int ctl_curve_init(struct ctl_curve *k, const char *secret,
		const char *peer_public, char *err, size_t errlen)
{
	memset(k, 0, sizeof(*k));
	if (!zmq_has("curve")) {
		snprintf(err, errlen, "this libzmq has no CURVE support");
		return -ENOTSUP;
	}
	if (!ctl_curve_key_valid(secret) || !ctl_curve_key_valid(peer_public)) {
		snprintf(err, errlen, "%s is not a Z85 CURVE key (40 "
			 "characters, as colo-xl keygen prints)",
			 ctl_curve_key_valid(secret) ? "the peer's public key" :
			 "the secret key");
		return -EINVAL;
	}
	memcpy(k->secret_key, secret, 41);
	memcpy(k->peer_key, peer_public, 41);
	if (zmq_curve_public(k->public_key, k->secret_key) < 0) {
		snprintf(err, errlen, "cannot derive the public key: %s",
			 zmq_strerror(errno));
		return -EINVAL;
	}
	return 0;
}

int ctl_curve_apply(void *sock, const struct ctl_curve *k, bool server)
{
	int one = 1;

	if (server)
		return zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one,
				      sizeof(one)) < 0 ||
		       zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, k->secret_key,
				      40) < 0 ? -errno : 0;
	return zmq_setsockopt(sock, ZMQ_CURVE_SERVERKEY, k->peer_key, 40) < 0 ||
	       zmq_setsockopt(sock, ZMQ_CURVE_PUBLICKEY, k->public_key, 40) < 0 ||
	       zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, k->secret_key, 40) < 0 ?
	       -errno : 0;
}

void *ctl_bind(void *zctx, int type, const char *endpoint, int *err)
{
	return ctl_bind_curve(zctx, type, endpoint, NULL, err);
}

void *ctl_bind_curve(void *zctx, int type, const char *endpoint,
		const struct ctl_curve *k, int *err)
{
	void *s = zmq_socket(zctx, type);
	int linger = 0;
	int64_t maxmsg = CTL_ZMQ_MAX_MSG;
	const char *path = ipc_path(endpoint);

	if (!s) {
		*err = -errno;
		return NULL;
	}
	if (k && (*err = ctl_curve_apply(s, k, true)) < 0) {
		zmq_close(s);
		return NULL;
	}
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(s, ZMQ_MAXMSGSIZE, &maxmsg, sizeof(maxmsg));
	if (type == ZMQ_XPUB)
		zmq_setsockopt(s, ZMQ_XPUB_WELCOME_MSG, CTL_EVENT_WELCOME,
			       strlen(CTL_EVENT_WELCOME));
	if (path)
		unlink(path);
	if (zmq_bind(s, endpoint) < 0) {
		*err = -errno;
		zmq_close(s);
		return NULL;
	}
	return s;
}

int ctl_probe_ipc(const char *endpoint)
{
	const char *path = ipc_path(endpoint);
	int fd;

	if (!path)
		return 0;
	fd = util_connect_unix(path, 0);
	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

int ctl_client_open(struct ctl_client *c, const char *endpoint,
		int timeout_ms)
{
	return ctl_client_open_curve(c, endpoint, timeout_ms, NULL);
}

int ctl_client_open_curve(struct ctl_client *c, const char *endpoint,
		int timeout_ms, const struct ctl_curve *k)
{
	int linger = 0, one = 1, rc;

	memset(c, 0, sizeof(*c));
	c->timeout_ms = timeout_ms;
	c->endpoint = strdup(endpoint);
	if (!c->endpoint)
		return -ENOMEM;
	rc = ctl_probe_ipc(endpoint);
	if (rc < 0)
		return rc;
	c->zctx = zmq_ctx_new();
	if (!c->zctx)
		return -errno;
	c->sock = zmq_socket(c->zctx, ZMQ_REQ);
	if (!c->sock)
		return -errno;
	zmq_setsockopt(c->sock, ZMQ_LINGER, &linger, sizeof(linger));
	/* Relaxed + correlate: after a timeout the socket can send again and
	 * a late reply to the old request is discarded by id. */
	zmq_setsockopt(c->sock, ZMQ_REQ_RELAXED, &one, sizeof(one));
	zmq_setsockopt(c->sock, ZMQ_REQ_CORRELATE, &one, sizeof(one));
	if (k && (rc = ctl_curve_apply(c->sock, k, false)) < 0)
		return rc;
	if (zmq_connect(c->sock, endpoint) < 0)
		return -errno;
	return 0;
}

void ctl_client_close(struct ctl_client *c)
{
	if (c->sock)
		zmq_close(c->sock);
	if (c->zctx)
		zmq_ctx_term(c->zctx);
	free(c->endpoint);
	memset(c, 0, sizeof(*c));
}

static int recv_reply(struct ctl_client *c, const char *want_id,
		json_t **reply)
{
	uint64_t deadline = util_mono_us() + (uint64_t)c->timeout_ms * 1000u;

	for (;;) {
		zmq_pollitem_t pi = { c->sock, 0, ZMQ_POLLIN, 0 };
		int64_t left = (int64_t)(deadline - util_mono_us()) / 1000;
		zmq_msg_t m;
		json_t *j, *id;

		if (left <= 0 || zmq_poll(&pi, 1, (long)left) == 0)
			return -ETIMEDOUT;
		if (!(pi.revents & ZMQ_POLLIN))
			continue;
		zmq_msg_init(&m);
		if (zmq_msg_recv(&m, c->sock, 0) < 0) {
			zmq_msg_close(&m);
			if (errno == EINTR)
				continue;
			return -errno;
		}
		j = json_loadb(zmq_msg_data(&m), zmq_msg_size(&m), 0, NULL);
		zmq_msg_close(&m);
		id = json_object_get(j, "id");
		if (j && json_is_string(id) &&
		    strcmp(json_string_value(id), want_id) == 0) {
			*reply = j;
			return 0;
		}
		json_decref(j);	/* stale or foreign reply */
	}
}

int ctl_client_send(struct ctl_client *c, const char *name, json_t *args,
		char id[CTL_ID_MAX])
{
	char *text;
	json_t *req;
	int rc = 0;

	snprintf(id, CTL_ID_MAX, "colo-%d-%lu", (int)getpid(), ++c->seq);
	req = json_pack("{s:s,s:s}", "execute", name, "id", id);
	if (!req) {
		json_decref(args);
		return -ENOMEM;
	}
	if (args)
		json_object_set_new(req, "arguments", args);
	text = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (!text)
		return -ENOMEM;
	if (c->dry_run || c->trace)
		fprintf(c->dry_run ? stdout : stderr, "%s%s\n",
			c->dry_run ? "" : "-> ", text);
	if (c->dry_run)
		rc = -ECANCELED;
	else if (zmq_send(c->sock, text, strlen(text), 0) < 0)
		rc = -errno;
	free(text);
	return rc;
}

int ctl_client_finish(struct ctl_client *c, const char *name, const char *id,
		json_t **ret, struct colo_error *err)
{
	json_t *reply = NULL, *e;
	int rc;

	*ret = NULL;
	rc = recv_reply(c, id, &reply);
	if (rc == -ETIMEDOUT) {
		colo_error_set(err, ERROR_CLASS_TIMEOUT,
			       "no reply to %s from %s within %d ms", name,
			       c->endpoint, c->timeout_ms);
		return rc;
	}
	if (rc < 0)
		return rc;
	if (c->trace) {
		char *t = json_dumps(reply, JSON_COMPACT);

		fprintf(stderr, "<- %s\n", t ? t : "?");
		free(t);
	}
	e = json_object_get(reply, "error");
	if (e) {
		const char *cls = json_string_value(json_object_get(e, "class"));
		const char *desc = json_string_value(json_object_get(e, "desc"));
		int k = cls ? error_class_parse(cls) : -1;

		colo_error_set(err, k < 0 ? ERROR_CLASS_GENERIC_ERROR :
			       (enum error_class)k, "%s", desc ? desc : "error");
		rc = -EREMOTEIO;
	} else if (!(*ret = json_incref(json_object_get(reply, "return")))) {
		colo_error_set(err, ERROR_CLASS_INVALID_REQUEST,
			       "reply to %s has neither return nor error", name);
		rc = -EPROTO;
	}
	json_decref(reply);
	return rc;
}

int ctl_client_call(struct ctl_client *c, const char *name, json_t *args,
		json_t **ret, struct colo_error *err)
{
	char id[CTL_ID_MAX];
	int rc;

	*ret = NULL;
	rc = ctl_client_send(c, name, args, id);
	return rc < 0 ? rc : ctl_client_finish(c, name, id, ret, err);
}

void *ctl_subscribe(void *zctx, const char *endpoint, int timeout_ms,
		int *err)
{
	void *s;
	int linger = 0, rc;
	uint64_t deadline = util_mono_us() + (uint64_t)timeout_ms * 1000u;

	rc = ctl_probe_ipc(endpoint);
	if (rc < 0) {
		*err = rc;
		return NULL;
	}
	s = zmq_socket(zctx, ZMQ_SUB);
	if (!s) {
		*err = -errno;
		return NULL;
	}
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	zmq_setsockopt(s, ZMQ_SUBSCRIBE, "", 0);
	if (zmq_connect(s, endpoint) < 0) {
		*err = -errno;
		zmq_close(s);
		return NULL;
	}
	for (;;) {
		zmq_pollitem_t pi = { s, 0, ZMQ_POLLIN, 0 };
		int64_t left = (int64_t)(deadline - util_mono_us()) / 1000;
		char buf[64];
		int n, more = 0;
		size_t sz = sizeof(more);

		if (left <= 0 || zmq_poll(&pi, 1, (long)left) <= 0) {
			*err = -ETIMEDOUT;
			zmq_close(s);
			return NULL;
		}
		n = zmq_recv(s, buf, sizeof(buf), 0);
		zmq_getsockopt(s, ZMQ_RCVMORE, &more, &sz);
		if (n == (int)strlen(CTL_EVENT_WELCOME) && !more &&
		    memcmp(buf, CTL_EVENT_WELCOME, (size_t)n) == 0)
			return s;
		while (more) {	/* an event that raced the welcome */
			zmq_recv(s, buf, 0, 0);
			zmq_getsockopt(s, ZMQ_RCVMORE, &more, &sz);
		}
	}
}

void ctl_serve_one(void *sock, ctl_dispatch_fn fn, void *opaque)
{
	struct ctl_incoming in;
	json_t *reply;
	bool executed;

	if (ctl_recv(sock, &in) < 0)
		return;
	reply = ctl_process(zmq_msg_data(&in.payload),
			    zmq_msg_size(&in.payload), fn, opaque, &executed);
	ctl_send_reply(sock, &in, reply);
	json_decref(reply);
	ctl_incoming_fini(&in);
}
