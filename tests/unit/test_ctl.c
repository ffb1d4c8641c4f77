/* ctl: request envelopes (every malformed shape gets the right class and
 * never reaches the dispatcher), ids, and real ZeroMQ round trips with
 * timeouts and event subscription. */
#include "config.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ctl.h"
#include "unit.h"
#include "util.h"

static int calls;

/* The dispatcher under the envelope: echoes its arguments. */
static json_t *echo(void *opaque, const char *name, json_t *args,
		struct colo_error *err)
{
	calls++;
	if (strcmp(name, "fail") == 0) {
		colo_error_set(err, ERROR_CLASS_INVALID_STATE, "no");
		return NULL;
	}
	return args ? json_incref(args) : json_object();
}

/* Processes text; returns the reply's error class, or -1 for success. */
static int process(const char *text, size_t len, json_t **reply)
{
	bool executed;
	json_t *r = ctl_process(text, len, echo, NULL, &executed);
	json_t *e = json_object_get(r, "error");
	int cls = -1;

	if (e)
		cls = error_class_parse(json_string_value(json_object_get(e,
								"class")));
	if (reply)
		*reply = r;
	else
		json_decref(r);
	return cls;
}

static void test_bad_envelopes(void)
{
	static const struct {
		const char *text;
		int cls;
	} cases[] = {
		{ "not json", ERROR_CLASS_PARSE_ERROR },
		{ "", ERROR_CLASS_PARSE_ERROR },
		{ "{\"execute\": \"a\"", ERROR_CLASS_PARSE_ERROR },
		{ "{\"execute\":\"a\",\"execute\":\"b\"}", ERROR_CLASS_PARSE_ERROR },
		{ "[1, 2]", ERROR_CLASS_INVALID_REQUEST },
		{ "42", ERROR_CLASS_PARSE_ERROR },
		{ "{}", ERROR_CLASS_INVALID_REQUEST },
		{ "{\"execute\": 5}", ERROR_CLASS_INVALID_REQUEST },
		{ "{\"execute\": \"a\", \"arguments\": []}",
		  ERROR_CLASS_INVALID_REQUEST },
		{ "{\"execute\": \"a\", \"extra\": 1}",
		  ERROR_CLASS_INVALID_REQUEST },
	};

	calls = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int cls = process(cases[i].text, strlen(cases[i].text), NULL);

		if (cls != cases[i].cls)
			fprintf(stderr, "case %zu '%s': class %d\n", i,
				cases[i].text, cls);
		CU_ASSERT_EQUAL(cls, cases[i].cls);
	}
	CU_ASSERT_EQUAL(calls, 0);
	/* Embedded NUL and invalid UTF-8 are parse errors too. */
	CU_ASSERT_EQUAL(process("{\"execute\":\"a\0\"}", 16, NULL),
			ERROR_CLASS_PARSE_ERROR);
	CU_ASSERT_EQUAL(process("{\"execute\":\"\xff\"}", 15, NULL),
			ERROR_CLASS_PARSE_ERROR);
	CU_ASSERT_EQUAL(calls, 0);
}

static void test_too_large(void)
{
	size_t n = CTL_MAX_REQUEST + 1;
	char *big = malloc(n);

	memset(big, ' ', n);
	calls = 0;
	CU_ASSERT_EQUAL(process(big, n, NULL), ERROR_CLASS_TOO_LARGE);
	CU_ASSERT_EQUAL(calls, 0);
	free(big);
}

static void test_ids(void)
{
	json_t *r;
	const char *ok = "{\"execute\":\"x\",\"arguments\":{\"a\":1},"
			 "\"id\":{\"n\":7}}";
	const char *bad = "{\"execute\":\"fail\",\"id\":\"abc\"}";

	CU_ASSERT_EQUAL(process(ok, strlen(ok), &r), -1);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(r,
			"return"), "a")), 1);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(r,
			"id"), "n")), 7);
	json_decref(r);
	CU_ASSERT_EQUAL(process(bad, strlen(bad), &r),
			ERROR_CLASS_INVALID_STATE);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r, "id")),
			       "abc");
	json_decref(r);
}

struct server {
	void *zctx, *sock;
	int requests;
	bool answer;
};

/* Serves one request (or swallows it when !answer). */
static void *serve_one(void *arg)
{
	struct server *s = arg;
	struct ctl_incoming in;
	zmq_pollitem_t pi = { s->sock, 0, ZMQ_POLLIN, 0 };
	bool executed;

	if (zmq_poll(&pi, 1, 5000) <= 0 || ctl_recv(s->sock, &in) < 0)
		return NULL;
	s->requests++;
	if (s->answer) {
		json_t *r = ctl_process(zmq_msg_data(&in.payload),
					zmq_msg_size(&in.payload), echo, NULL,
					&executed);

		ctl_send_reply(s->sock, &in, r);
		json_decref(r);
	}
	ctl_incoming_fini(&in);
	return NULL;
}

static void test_roundtrip_and_timeout(void)
{
	char *d = unit_mkdtemp(), ep[300];
	struct server s = { 0 };
	struct ctl_client c;
	struct colo_error err = { 0 };
	pthread_t t;
	json_t *ret = NULL;
	int e = 0;

	snprintf(ep, sizeof(ep), "ipc://%s/ctl", d);
	/* Nothing listens yet: the probe says so at once. */
	CU_ASSERT_TRUE(ctl_client_open(&c, ep, 1000) < 0);
	ctl_client_close(&c);
	s.zctx = zmq_ctx_new();
	s.sock = ctl_bind(s.zctx, ZMQ_ROUTER, ep, &e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s.sock);
	CU_ASSERT_EQUAL(ctl_client_open(&c, ep, 300), 0);

	s.answer = true;
	pthread_create(&t, NULL, serve_one, &s);
	CU_ASSERT_EQUAL(ctl_client_call(&c, "echo", json_pack("{s:i}", "v", 9),
					&ret, &err), 0);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(ret, "v")), 9);
	json_decref(ret);

	s.answer = false;
	pthread_create(&t, NULL, serve_one, &s);
	CU_ASSERT_EQUAL(ctl_client_call(&c, "echo", NULL, &ret, &err),
			-ETIMEDOUT);
	CU_ASSERT_EQUAL(err.cls, ERROR_CLASS_TIMEOUT);
	pthread_join(t, NULL);

	/* After a timeout the same client can ask again. */
	colo_error_clear(&err);
	s.answer = true;
	pthread_create(&t, NULL, serve_one, &s);
	CU_ASSERT_EQUAL(ctl_client_call(&c, "fail", NULL, &ret, &err),
			-EREMOTEIO);
	CU_ASSERT_EQUAL(err.cls, ERROR_CLASS_INVALID_STATE);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(s.requests, 3);

	ctl_client_close(&c);
	zmq_close(s.sock);
	zmq_ctx_term(s.zctx);
	unit_rmdir(d);
}

/* The publisher must read a subscription for the welcome to go out. */
static void *drain_one(void *pub)
{
	char b[64];
	zmq_pollitem_t pi = { pub, 0, ZMQ_POLLIN, 0 };

	if (zmq_poll(&pi, 1, 3000) > 0)
		zmq_recv(pub, b, sizeof(b), 0);
	return NULL;
}

static void test_events(void)
{
	char *d = unit_mkdtemp(), ep[300], buf[512];
	void *zctx = zmq_ctx_new(), *sctx = zmq_ctx_new(), *pub, *sub;
	pthread_t t;
	json_t *ev;
	int e = 0, n;

	snprintf(ep, sizeof(ep), "ipc://%s/ev", d);
	pub = ctl_bind(zctx, ZMQ_XPUB, ep, &e);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pub);
	pthread_create(&t, NULL, drain_one, pub);
	sub = ctl_subscribe(sctx, ep, 3000, &e);
	pthread_join(t, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(sub);
	/* Subscribed and welcomed: the very next event must arrive. */
	ev = ctl_event_new("TEST_EVENT", json_pack("{s:i}", "x", 1));
	CU_ASSERT_EQUAL(ctl_publish(pub, ev), 0);
	json_decref(ev);
	n = zmq_recv(sub, buf, sizeof(buf) - 1, 0);
	CU_ASSERT_EQUAL(n, 10);
	CU_ASSERT_EQUAL(memcmp(buf, "TEST_EVENT", 10), 0);
	n = zmq_recv(sub, buf, sizeof(buf) - 1, 0);
	CU_ASSERT_TRUE(n > 0);
	buf[n > 0 ? n : 0] = '\0';
	ev = json_loads(buf, 0, NULL);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(ev, "event")),
			       "TEST_EVENT");
	CU_ASSERT_TRUE(json_is_integer(json_object_get(json_object_get(ev,
			"timestamp"), "microseconds")));
	json_decref(ev);
	zmq_close(sub);
	zmq_ctx_term(sctx);
	zmq_close(pub);
	zmq_ctx_term(zctx);
	unit_rmdir(d);
}

void unit_suite_ctl(void)
{
	static const struct unit_case cases[] = {
		{ "bad_envelopes", test_bad_envelopes },
		{ "too_large", test_too_large },
		{ "ids", test_ids },
		{ "roundtrip_and_timeout", test_roundtrip_and_timeout },
		{ "events", test_events },
		{ NULL, NULL },
	};

	unit_add_suite("ctl", cases);
}
