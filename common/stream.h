/* colo-stream: the record format of checkpoints, migration and save
 * files (colo-stream(7)).  A 24-byte header, then records:
 *
 *   u32 type, u32 length, body[length], zero padding to 8 bytes,
 *   u32 crc32c (over type, length, body and padding), u32 zero.
 *
 * All integers little-endian.  A reader rejects a bad magic or version,
 * an unknown type, an oversized or truncated record and a CRC mismatch,
 * each with an error that names the record. */
#ifndef COLO_STREAM_H
#define COLO_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define STREAM_MAGIC		"COLOSTRM"
#define STREAM_VERSION		1
#define STREAM_MAX_RECORD	(64u << 20)
#define STREAM_PAGE_SIZE	4096u
/* PAGE_DATA records carry at most this many pages. */
#define STREAM_MAX_PAGES	1024u

enum stream_rec {
	REC_DOMAIN_CONFIG = 1,	/* the domain XML, for save files */
	REC_PAGE_DATA = 2,	/* u32 count, u32 flags, u64 pfn[], pages */
	REC_VCPU_STATE = 3,
	REC_VM_STATE = 4,	/* CPUID, clock, PIT, irqchips */
	REC_DEVICE_STATE = 5,
	REC_COLO_MESSAGE = 6,	/* u32 COLOMessage, u32 0, u64 value */
	REC_CHECKPOINT_END = 7,	/* u64 checkpoint sequence */
	REC_END = 8,
	REC_HEARTBEAT = 9,	/* u64 sequence: a COLO stream is alive */
	REC__MAX
};

struct stream_header {
	char magic[8];
	uint32_t version;
	uint32_t flags;
	uint32_t page_size;
	uint32_t reserved;
};

const char *stream_rec_name(uint32_t type);

struct stream_writer {
	int fd;
	uint64_t bytes;		/* written so far */
	uint64_t records;
};

void stream_writer_init(struct stream_writer *w, int fd);
int stream_write_header(struct stream_writer *w);
/* Header flags: the stream continues into COLO checkpoints. */
#define STREAM_F_COLO		1u
int stream_write_header_flags(struct stream_writer *w, uint32_t flags);
int stream_write_colo_message(struct stream_writer *w, uint32_t msg,
		uint64_t value);
/* Parses a COLO_MESSAGE body. */
int stream_parse_colo_message(const uint8_t *body, uint32_t len,
		uint32_t *msg, uint64_t *value);
/* Writes one record whose body is the concatenation of iov[0..n). */
int stream_write_iov(struct stream_writer *w, uint32_t type,
		const struct iovec *iov, int n);
int stream_write(struct stream_writer *w, uint32_t type, const void *body,
		size_t len);

struct stream_reader {
	int fd;
	uint32_t flags;		/* from the header */
	uint64_t offset;
	uint64_t records;
	bool truncated;		/* the last error was the stream ending */
	uint8_t *body;		/* the current record's body */
	size_t cap;
	uint32_t body_len;
	uint8_t *sink;		/* where PAGE_DATA pages go, or NULL */
	uint64_t sink_pages;
	char err[256];
};

void stream_reader_init(struct stream_reader *r, int fd);
void stream_reader_fini(struct stream_reader *r);
/* 0, or -EPROTO / -EIO with r->err saying what is wrong and where. */
int stream_read_header(struct stream_reader *r);
/* Reads the next record; its body stays valid until the next call. */
int stream_read(struct stream_reader *r, uint32_t *type, const uint8_t **body,
		uint32_t *len);
/* From now on (base NULL: no longer) PAGE_DATA pages are read straight
 * to base + pfn * 4096, saving a copy of every page; such a record's
 * body is then its count, flags and pfns only (8 + 8 * count bytes).  A
 * pfn at or past npages is malformed.  After an error the sink may hold
 * part of a rejected record. */
void stream_reader_set_page_sink(struct stream_reader *r, uint8_t *base,
		uint64_t npages);

#endif
