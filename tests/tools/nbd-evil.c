/* nbd-evil: an NBD client that misbehaves on purpose, to test that
 * colo-blkrep answers malformed requests with an error reply or a close
 * and keeps serving.  Each scenario opens its own connection:
 *
 *   nbd-evil SOCKET EXPORT SIZE
 *
 * prints "ok NAME" or "FAIL NAME: why" per scenario; exit 1 if any
 * failed. */
#include "config.h"
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include "nbd_proto.h"

static const char *sock_path, *export_name;
static uint64_t export_size;
static int failures;

static int connect_unix(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror(sock_path);
		exit(2);
	}
	return fd;
}

static int get(int fd, void *p, size_t len)
{
	size_t done = 0;
	struct pollfd pf = { fd, POLLIN, 0 };

	while (done < len) {
		ssize_t n;

		if (poll(&pf, 1, 5000) <= 0)
			return -ETIMEDOUT;
		n = read(fd, (char *)p + done, len - done);
		if (n <= 0)
			return -EPIPE;
		done += (size_t)n;
	}
	return 0;
}

static void put(int fd, const void *p, size_t len)
{
	if (write(fd, p, len) != (ssize_t)len)
		perror("write");
}

/* True once the server has closed fd. */
static bool closed(int fd)
{
	uint8_t b[64];
	struct pollfd pf = { fd, POLLIN, 0 };

	while (poll(&pf, 1, 5000) > 0) {
		ssize_t n = read(fd, b, sizeof(b));

		if (n <= 0)
			return true;
	}
	return false;
}

static void option(int fd, uint32_t opt, const void *data, uint32_t len)
{
	uint8_t h[16];

	nbd_put64(h, NBD_OPTS_MAGIC);
	nbd_put32(h + 8, opt);
	nbd_put32(h + 12, len);
	put(fd, h, sizeof(h));
	if (len)
		put(fd, data, len);
}

/* Reads option replies up to the final one; returns its type. */
static uint32_t option_result(int fd)
{
	uint8_t h[20], d[4096];
	uint32_t type, len;

	do {
		if (get(fd, h, sizeof(h)) < 0)
			return 0;
		type = nbd_get32(h + 12);
		len = nbd_get32(h + 16);
		if (len > sizeof(d) || get(fd, d, len) < 0)
			return 0;
	} while (type == NBD_REP_INFO || type == NBD_REP_SERVER);
	return type;
}

static int greet(void)
{
	int fd = connect_unix();
	uint8_t g[18], cf[4];

	if (get(fd, g, sizeof(g)) < 0 || nbd_get64(g) != NBD_MAGIC) {
		fprintf(stderr, "no greeting\n");
		exit(2);
	}
	nbd_put32(cf, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
	put(fd, cf, sizeof(cf));
	return fd;
}

static void go_data(const char *name, uint8_t *d, uint32_t *len)
{
	uint32_t n = (uint32_t)strlen(name);

	nbd_put32(d, n);
	memcpy(d + 4, name, n);
	nbd_put16(d + 4 + n, 0);
	*len = 6 + n;
}

static int open_export(void)
{
	int fd = greet();
	uint8_t d[300];
	uint32_t len;

	go_data(export_name, d, &len);
	option(fd, NBD_OPT_GO, d, len);
	if (option_result(fd) != NBD_REP_ACK) {
		fprintf(stderr, "GO failed\n");
		exit(2);
	}
	return fd;
}

static void request(int fd, uint32_t magic, uint16_t type, uint64_t off,
		uint32_t len, uint64_t cookie)
{
	uint8_t b[NBD_REQUEST_SIZE];

	nbd_put32(b, magic);
	nbd_put16(b + 4, 0);
	nbd_put16(b + 6, type);
	nbd_put64(b + 8, cookie);
	nbd_put64(b + 16, off);
	nbd_put32(b + 24, len);
	put(fd, b, sizeof(b));
}

/* The error of the reply to cookie, or -1 without a proper reply. */
static int reply_error(int fd, uint64_t cookie, uint32_t read_len)
{
	uint8_t h[16];
	static uint8_t data[1 << 16];
	uint32_t err;

	if (get(fd, h, sizeof(h)) < 0 || nbd_get32(h) != NBD_SIMPLE_REPLY_MAGIC ||
	    nbd_get64(h + 8) != cookie)
		return -1;
	err = nbd_get32(h + 4);
	if (!err && read_len && get(fd, data, read_len) < 0)
		return -1;
	return (int)err;
}

/* After a refused request the connection must still work. */
static bool still_serves(int fd)
{
	request(fd, NBD_REQUEST_MAGIC, NBD_CMD_READ, 0, 512, 777);
	return reply_error(fd, 777, 512) == 0;
}

static void result(const char *name, bool ok, const char *why)
{
	if (ok) {
		printf("ok %s\n", name);
	} else {
		printf("FAIL %s: %s\n", name, why);
		failures++;
	}
}

static void expect_error(const char *name, uint16_t type, uint64_t off,
		uint32_t len, int want, bool payload)
{
	int fd = open_export(), e;

	request(fd, NBD_REQUEST_MAGIC, type, off, len, 1);
	if (payload) {
		static uint8_t junk[4096];

		put(fd, junk, len);
	}
	e = reply_error(fd, 1, 0);
	if (e != want) {
		char why[64];

		snprintf(why, sizeof(why), "error %d, wanted %d", e, want);
		result(name, false, why);
	} else {
		result(name, still_serves(fd), "connection unusable after it");
	}
	close(fd);
}

static void expect_close(const char *name, uint32_t magic, uint16_t type,
		uint32_t len)
{
	int fd = open_export();

	request(fd, magic, type, 0, len, 2);
	result(name, closed(fd), "the server kept the connection");
	close(fd);
}

static void handshake_cases(void)
{
	uint8_t d[5000], h[8];
	uint32_t len;
	int fd = greet();

	memset(d, 'x', sizeof(d));
	option(fd, 99, NULL, 0);
	result("unknown option", option_result(fd) == NBD_REP_ERR_UNSUP,
	       "not ERR_UNSUP");
	option(fd, NBD_OPT_GO, d, sizeof(d));
	result("option too long", option_result(fd) == NBD_REP_ERR_INVALID,
	       "not ERR_INVALID");
	go_data("no-such-export", d, &len);
	option(fd, NBD_OPT_GO, d, len);
	result("unknown export", option_result(fd) == NBD_REP_ERR_UNKNOWN,
	       "not ERR_UNKNOWN");
	nbd_put32(d, 1000);	/* a name length past the data */
	option(fd, NBD_OPT_INFO, d, 6);
	result("malformed INFO", option_result(fd) == NBD_REP_ERR_INVALID,
	       "not ERR_INVALID");
	nbd_put64(h, 0x1122334455667788ull);	/* bad option magic */
	put(fd, h, sizeof(h));
	put(fd, h, sizeof(h));
	result("bad option magic", closed(fd), "not closed");
	close(fd);
}

int main(int argc, char **argv)
{
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: nbd-evil SOCKET EXPORT SIZE\n");
		return 2;
	}
	sock_path = argv[1];
	export_name = argv[2];
	export_size = strtoull(argv[3], NULL, 0);
	handshake_cases();
	expect_error("read past the end", NBD_CMD_READ, export_size, 512,
		     NBD_EINVAL, false);
	expect_error("read across the end", NBD_CMD_READ, export_size - 512,
		     4096, NBD_EINVAL, false);
	expect_error("offset near 2^64", NBD_CMD_READ, ~0ull - 100, 4096,
		     NBD_EINVAL, false);
	expect_error("write past the end", NBD_CMD_WRITE, export_size, 4096,
		     NBD_ENOSPC, true);
	expect_error("read over 32 MiB", NBD_CMD_READ, 0, 64u << 20,
		     NBD_EOVERFLOW, false);
	expect_error("unknown command", NBD_CMD_WRITE_ZEROES + 40, 0, 0,
		     NBD_EINVAL, false);
	expect_error("flush with a range", NBD_CMD_FLUSH, 4096, 4096,
		     NBD_EINVAL, false);
	/* Allowed, and nothing to do: success (a replicating primary must
	 * not lose its secondary over them). */
	expect_error("zero-length write", NBD_CMD_WRITE, 4096, 0, 0, true);
	expect_error("zero-length trim", NBD_CMD_TRIM, 4096, 0, 0, false);
	expect_error("zero-length zeroing", NBD_CMD_WRITE_ZEROES, 4096, 0, 0,
		     false);
	expect_close("bad request magic", 0xdeadbeef, NBD_CMD_READ, 512);
	expect_close("write over 32 MiB", NBD_REQUEST_MAGIC, NBD_CMD_WRITE,
		     64u << 20);
	/* Abrupt ends: half a request, half a write payload. */
	fd = open_export();
	put(fd, "\x25\x60\x95", 3);
	close(fd);
	fd = open_export();
	request(fd, NBD_REQUEST_MAGIC, NBD_CMD_WRITE, 0, 65536, 3);
	put(fd, "abc", 3);
	close(fd);
	fd = open_export();
	result("after abrupt disconnects", still_serves(fd), "no service");
	close(fd);
	return failures ? 1 : 0;
}
