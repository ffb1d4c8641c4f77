/* libFuzzer target: colo-blkrep's NBD server, fed a whole client stream
 * (handshake, options, requests, write payloads) against a 1 MiB image
 * in a memfd.  Replies go to /dev/null. */
#include "config.h"
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include "nbd_server.h"

static struct image img = { .fd = -1 };
static int devnull = -1;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nbd_export e = { "disk0", &img };
	struct nbd_conn_stats st;
	char why[256];
	int in;

	if (img.fd < 0) {
		img.fd = memfd_create("fuzz-disk", MFD_CLOEXEC);
		img.size = 1u << 20;
		if (img.fd < 0 || ftruncate(img.fd, (off_t)img.size) < 0)
			abort();
		devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
	}
	in = memfd_create("fuzz-in", MFD_CLOEXEC);
	if (in < 0 || write(in, data, size) != (ssize_t)size)
		abort();
	lseek(in, 0, SEEK_SET);
	nbd_serve(in, devnull, &e, &st, why, sizeof(why));
	close(in);
	/* Nothing may make the image grow past its size. */
	if (lseek(img.fd, 0, SEEK_END) != (off_t)img.size)
		abort();
	return 0;
}
