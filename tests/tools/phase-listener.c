/* A checkpoint phase listener for the tests: it stands where netproxy and
 * blkrep attach (helper-colo-phase-attach) and answers colo-phase through
 * the generated dispatcher, so the helper's side of the seam is tested
 * over the real ZeroMQ control layer.
 *
 *   phase-listener ENDPOINT LOG [RULE...]
 *
 * Each notification appends "PHASE SEQ MODE TAKEOVER DOMAIN" to LOG
 * (TAKEOVER is - when absent).  Rules change the answers:
 *   delay:PHASE:MS   every PHASE waits MS before its reply
 *   fail:PHASE:SEQ   PHASE of checkpoint SEQ gets an error reply
 *   hang:PHASE:SEQ   ...gets no reply at all
 * SIGTERM or SIGINT stops it. */
#include "config.h"
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "colo-qapi-phase.h"
#include "ctl.h"
#include "util.h"

struct rule {
	char kind[8];
	int phase;
	long long arg;
};

struct listener {
	FILE *log;
	struct rule rules[16];
	int nrules;
	bool hang;		/* the current request gets no reply */
};

static volatile sig_atomic_t quit;

static void on_signal(int sig)
{
	(void)sig;
	quit = 1;
}

static const struct rule *match(struct listener *l, const char *kind,
		int phase, long long seq)
{
	for (int i = 0; i < l->nrules; i++) {
		const struct rule *r = &l->rules[i];

		if (strcmp(r->kind, kind) == 0 && r->phase == phase &&
		    (strcmp(kind, "delay") == 0 || r->arg == seq))
			return r;
	}
	return NULL;
}

int qmp_colo_phase(void *opaque, const struct qmp_colo_phase_args *a,
		struct colo_error *err)
{
	struct listener *l = opaque;
	const struct rule *r;

	fprintf(l->log, "%s %lld %s %s %s\n", colo_phase_str(a->phase),
		(long long)a->seq, colo_mode_str(a->mode),
		!a->has_takeover ? "-" : a->takeover ? "true" : "false",
		a->domain);
	fflush(l->log);
	r = match(l, "delay", a->phase, a->seq);
	if (r)
		util_sleep_ms((int)r->arg);
	if (match(l, "hang", a->phase, a->seq))
		l->hang = true;
	if (match(l, "fail", a->phase, a->seq)) {
		colo_error_set(err, ERROR_CLASS_GENERIC_ERROR,
			       "test listener refuses %s of checkpoint %lld",
			       colo_phase_str(a->phase), (long long)a->seq);
		return -EIO;
	}
	return 0;
}

static int parse_rule(const char *s, struct rule *r)
{
	char kind[8], phase[16];
	long long arg;

	if (sscanf(s, "%7[a-z]:%15[a-z]:%lld", kind, phase, &arg) != 3 ||
	    (strcmp(kind, "delay") && strcmp(kind, "fail") &&
	     strcmp(kind, "hang")) || colo_phase_parse(phase) < 0)
		return -1;
	snprintf(r->kind, sizeof(r->kind), "%s", kind);
	r->phase = colo_phase_parse(phase);
	r->arg = arg;
	return 0;
}

static void serve_one(void *sock, struct listener *l)
{
	struct ctl_incoming in;
	json_t *reply;
	bool executed;

	if (ctl_recv(sock, &in) < 0)
		return;
	l->hang = false;
	reply = ctl_process(zmq_msg_data(&in.payload),
			    zmq_msg_size(&in.payload), phase_dispatch, l,
			    &executed);
	if (!l->hang)
		ctl_send_reply(sock, &in, reply);
	json_decref(reply);
	ctl_incoming_fini(&in);
}

int main(int argc, char **argv)
{
	struct listener l = { .nrules = 0 };
	void *zctx, *sock;
	int err = 0;

	if (argc < 3) {
		fprintf(stderr, "usage: phase-listener ENDPOINT LOG [RULE...]\n");
		return 2;
	}
	for (int i = 3; i < argc; i++)
		if (l.nrules == 16 || parse_rule(argv[i], &l.rules[l.nrules++])) {
			fprintf(stderr, "phase-listener: bad rule %s\n", argv[i]);
			return 2;
		}
	l.log = fopen(argv[2], "a");
	if (!l.log) {
		perror(argv[2]);
		return 1;
	}
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	zctx = zmq_ctx_new();
	sock = ctl_bind(zctx, ZMQ_ROUTER, argv[1], &err);
	if (!sock) {
		fprintf(stderr, "phase-listener: %s: %s\n", argv[1],
			strerror(-err));
		return 1;
	}
	while (!quit) {
		zmq_pollitem_t pi = { sock, 0, ZMQ_POLLIN, 0 };

		if (zmq_poll(&pi, 1, 200) > 0)
			serve_one(sock, &l);
	}
	zmq_close(sock);
	zmq_ctx_term(zctx);
	fclose(l.log);
	return 0;
}
