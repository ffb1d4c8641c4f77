/* ctl-raw: sends raw bytes to a control socket and prints the reply, so
 * tests can feed colod garbage that colo-xl would never produce.
 *
 *   ctl-raw [-t MS] [-s SIZE] ENDPOINT [PAYLOAD]
 *
 * PAYLOAD is sent as is ("-" reads stdin); -s SIZE sends SIZE bytes of a
 * JSON-looking but oversized request instead.  Exit 0 when a reply came,
 * 3 on timeout. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

static char *read_stdin(size_t *len)
{
	size_t cap = 1 << 16, n = 0;
	char *buf = malloc(cap);
	ssize_t r;

	while (buf && (r = read(0, buf + n, cap - n)) > 0) {
		n += (size_t)r;
		if (n == cap)
			buf = realloc(buf, cap *= 2);
	}
	*len = n;
	return buf;
}

static char *make_big(size_t size)
{
	static const char head[] = "{\"execute\":\"query-version\",\"id\":\"";
	char *buf = malloc(size);

	if (!buf || size < sizeof(head) + 2)
		return buf;
	memset(buf, 'x', size);
	memcpy(buf, head, sizeof(head) - 1);
	buf[size - 2] = '"';
	buf[size - 1] = '}';
	return buf;
}

int main(int argc, char **argv)
{
	int c, timeout = 5000, linger = 0;
	size_t size = 0, len;
	char *payload;
	zmq_msg_t msg;
	void *ctx, *s;
	zmq_pollitem_t pi;

	while ((c = getopt(argc, argv, "t:s:")) != -1) {
		if (c == 't')
			timeout = atoi(optarg);
		else if (c == 's')
			size = strtoul(optarg, NULL, 10);
		else
			return 2;
	}
	if (optind >= argc || (!size && optind + 1 >= argc)) {
		fprintf(stderr, "usage: ctl-raw [-t MS] [-s SIZE] ENDPOINT "
			"[PAYLOAD|-]\n");
		return 2;
	}
	if (size) {
		payload = make_big(size);
		len = size;
	} else if (strcmp(argv[optind + 1], "-") == 0) {
		payload = read_stdin(&len);
	} else {
		payload = strdup(argv[optind + 1]);
		len = strlen(payload);
	}
	ctx = zmq_ctx_new();
	s = zmq_socket(ctx, ZMQ_REQ);
	zmq_setsockopt(s, ZMQ_LINGER, &linger, sizeof(linger));
	if (zmq_connect(s, argv[optind]) < 0 ||
	    zmq_send(s, payload, len, 0) < 0) {
		fprintf(stderr, "ctl-raw: %s\n", zmq_strerror(errno));
		return 1;
	}
	pi = (zmq_pollitem_t){ s, 0, ZMQ_POLLIN, 0 };
	if (zmq_poll(&pi, 1, timeout) <= 0) {
		fprintf(stderr, "ctl-raw: no reply within %d ms\n", timeout);
		return 3;
	}
	zmq_msg_init(&msg);
	if (zmq_msg_recv(&msg, s, 0) < 0)
		return 1;
	fwrite(zmq_msg_data(&msg), 1, zmq_msg_size(&msg), stdout);
	putchar('\n');
	zmq_msg_close(&msg);
	free(payload);
	zmq_close(s);
	zmq_ctx_term(ctx);
	return 0;
}
