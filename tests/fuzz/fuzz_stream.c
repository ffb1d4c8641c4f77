/* libFuzzer target: the colo-stream reader and the PVH ELF loader, fed
 * through a memfd and a 2 MiB guest RAM. */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "boot.h"
#include "devices/vq.h"
#include "stream.h"
#include "vm.h"

static struct vm vm;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stream_reader r;
	struct boot_image img;
	struct vq_elem e;
	struct vq q;
	const uint8_t *body;
	uint32_t type, len;
	char err[256];
	int fd, rc;

	if (!vm.mem.base && mem_init(&vm.mem, 2u << 20) < 0)
		abort();
	/* 1. As a stream. */
	fd = memfd_create("fuzz", MFD_CLOEXEC);
	if (write(fd, data, size) != (ssize_t)size)
		abort();
	/* Read twice: into a buffer, then with pages sunk into guest RAM
	 * as a COLO secondary reads them. */
	for (int sink = 0; sink < 2; sink++) {
		lseek(fd, 0, SEEK_SET);
		stream_reader_init(&r, fd);
		if (sink)
			stream_reader_set_page_sink(&r, vm.mem.base,
						    vm.mem.size / 4096);
		rc = stream_read_header(&r);
		while (rc == 0 && stream_read(&r, &type, &body, &len) == 0)
			if (type == 0 || type >= REC__MAX ||
			    len > STREAM_MAX_RECORD ||
			    (sink && type == REC_PAGE_DATA &&
			     len != 8 + 8 * (uint64_t)*(const uint32_t *)body))
				abort();
		stream_reader_fini(&r);
	}
	close(fd);
	/* 2. As a kernel image. */
	boot_parse_elf(&vm, data, size, &img, err, sizeof(err));
	/* 3. As virtqueue rings in guest memory. */
	memset(vm.mem.base, 0, 64 * 1024);
	memcpy(vm.mem.base, data, size < 65536 ? size : 65536);
	memset(&q, 0, sizeof(q));
	q.mem = &vm.mem;
	q.size = 16;
	q.desc = 0;
	q.avail = 0x1000;
	q.used = 0x2000;
	q.ready = true;
	for (int i = 0; i < 32 && vq_pop(&q, &e) > 0; i++)
		vq_push(&q, &e, 0);
	return 0;
}
