/* stream-mangle: a TCP relay that damages one colo-stream record on
 * demand, for fault-injection tests of the COLO secondary.
 *
 *   stream-mangle PORTFILE TARGET_PORT MODE TYPE
 *
 * Listens on 127.0.0.1 (a free port, written to PORTFILE), accepts one
 * connection, connects to 127.0.0.1:TARGET_PORT and relays both ways.
 * The forward direction is parsed as colo-stream records.  After
 * SIGUSR1, the next record of type TYPE is damaged according to MODE:
 *   flip  one body byte inverted (the CRC no longer matches)
 *   type  the record type made unknown (99)
 *   len   the length made larger than any record may be
 *   cut   half the record sent, then both connections closed
 * Prints "mangled TYPE MODE" on stderr when it has done it. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEADER_LEN	24
#define MAX_BODY	(64u << 20)

static volatile sig_atomic_t armed;
static int in_fd = -1, out_fd = -1;

static void on_usr1(int sig)
{
	(void)sig;
	armed = 1;
}

static int read_all(int fd, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t len)
{
	size_t put = 0;

	while (put < len) {
		ssize_t n = write(fd, (const char *)buf + put, len - put);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		put += (size_t)n;
	}
	return 0;
}

/* The reverse direction, target -> client, as raw bytes. */
static void *reverse(void *arg)
{
	char buf[65536];
	ssize_t n;

	(void)arg;
	while ((n = read(out_fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
		if (n > 0 && write_all(in_fd, buf, (size_t)n) < 0)
			break;
	shutdown(in_fd, SHUT_RDWR);
	return NULL;
}

/* Returns 1 when the relay must stop (after a cut). */
static int mangle(uint32_t *hdr, uint8_t *body, size_t total,
		const char *mode)
{
	if (strcmp(mode, "flip") == 0 && total > 0) {
		body[total / 2] ^= 0xff;
	} else if (strcmp(mode, "type") == 0) {
		hdr[0] = 99;
	} else if (strcmp(mode, "len") == 0) {
		hdr[1] = MAX_BODY + 1;
	} else if (strcmp(mode, "cut") == 0) {
		write_all(out_fd, hdr, 8);
		write_all(out_fd, body, total / 2);
		shutdown(out_fd, SHUT_RDWR);
		shutdown(in_fd, SHUT_RDWR);
		return 1;
	}
	return 0;
}

static void forward(const char *mode, uint32_t type)
{
	uint8_t head[HEADER_LEN], *body = NULL;
	uint32_t hdr[2];

	if (read_all(in_fd, head, sizeof(head)) < 0 ||
	    write_all(out_fd, head, sizeof(head)) < 0)
		return;
	for (;;) {
		size_t total;
		uint8_t *nb;

		if (read_all(in_fd, hdr, sizeof(hdr)) < 0 || hdr[1] > MAX_BODY)
			break;
		/* Body, padding to 8, then the 8-byte trailer. */
		total = hdr[1] + (8 - hdr[1] % 8) % 8 + 8;
		nb = realloc(body, total);
		if (!nb)
			break;
		body = nb;
		if (read_all(in_fd, body, total) < 0)
			break;
		if (armed && hdr[0] == type) {
			armed = 0;
			fprintf(stderr, "mangled %u %s\n", type, mode);
			if (mangle(hdr, body, total - 8, mode))
				break;
		}
		if (write_all(out_fd, hdr, sizeof(hdr)) < 0 ||
		    write_all(out_fd, body, total) < 0)
			break;
	}
	free(body);
	shutdown(out_fd, SHUT_RDWR);
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	struct sigaction sa = { .sa_handler = on_usr1, .sa_flags = SA_RESTART };
	pthread_t t;
	FILE *f;
	int ls;

	if (argc != 5) {
		fprintf(stderr, "usage: stream-mangle PORTFILE TARGET_PORT "
			"flip|type|len|cut TYPE\n");
		return 2;
	}
	sigaction(SIGUSR1, &sa, NULL);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0 || bind(ls, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    listen(ls, 1) < 0 ||
	    getsockname(ls, (struct sockaddr *)&a, &alen) < 0) {
		perror("stream-mangle: listen");
		return 1;
	}
	f = fopen(argv[1], "w");
	if (!f)
		return 1;
	fprintf(f, "%u\n", ntohs(a.sin_port));
	fclose(f);
	in_fd = accept(ls, NULL, NULL);
	a.sin_port = htons((uint16_t)atoi(argv[2]));
	out_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (in_fd < 0 || out_fd < 0 ||
	    connect(out_fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		perror("stream-mangle: connect");
		return 1;
	}
	pthread_create(&t, NULL, reverse, NULL);
	forward(argv[3], (uint32_t)atoi(argv[4]));
	pthread_join(t, NULL);
	return 0;
}
