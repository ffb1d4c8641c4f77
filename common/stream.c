/* colo-stream records over a file descriptor (file or socket). */
#include "config.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include "crc32c.h"
#include "stream.h"
#include "util.h"

static const char *const rec_names[] = {
	[REC_DOMAIN_CONFIG] = "DOMAIN_CONFIG", [REC_PAGE_DATA] = "PAGE_DATA",
	[REC_VCPU_STATE] = "VCPU_STATE", [REC_VM_STATE] = "VM_STATE",
	[REC_DEVICE_STATE] = "DEVICE_STATE", [REC_COLO_MESSAGE] = "COLO_MESSAGE",
	[REC_CHECKPOINT_END] = "CHECKPOINT_END", [REC_END] = "END",
	[REC_HEARTBEAT] = "HEARTBEAT",
};

const char *stream_rec_name(uint32_t type)
{
	return type > 0 && type < REC__MAX ? rec_names[type] : "unknown";
}

void stream_writer_init(struct stream_writer *w, int fd)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
}

int stream_write_header(struct stream_writer *w)
{
	return stream_write_header_flags(w, 0);
}

int stream_write_colo_message(struct stream_writer *w, uint32_t msg,
		uint64_t value)
{
	uint8_t body[16];
	uint32_t zero = 0;

	memcpy(body, &msg, 4);
	memcpy(body + 4, &zero, 4);
	memcpy(body + 8, &value, 8);
	return stream_write(w, REC_COLO_MESSAGE, body, sizeof(body));
}

int stream_parse_colo_message(const uint8_t *body, uint32_t len,
		uint32_t *msg, uint64_t *value)
{
	if (len != 16)
		return -EPROTO;
	memcpy(msg, body, 4);
	memcpy(value, body + 8, 8);
	return 0;
}

int stream_write_header_flags(struct stream_writer *w, uint32_t flags)
{
	struct stream_header h = {
		.version = STREAM_VERSION,
		.flags = flags,
		.page_size = STREAM_PAGE_SIZE,
	};
	struct iovec iov = { &h, sizeof(h) };
	int rc;

	memcpy(h.magic, STREAM_MAGIC, 8);
	rc = util_writev_all(w->fd, &iov, 1);
	if (rc == 0)
		w->bytes += sizeof(h);
	return rc;
}

/* A record goes out in pieces of about WRITE_CHUNK bytes, each added to
 * the CRC just before it is written: the kernel's copy then finds it in
 * cache, where one CRC pass over a 4 MiB record first would have read it
 * from memory twice.  Small records still leave in one writev. */
#define WRITE_CHUNK	(1u << 20)
#define WRITE_IOVS	64

struct pending {
	struct iovec iov[WRITE_IOVS];
	int n;
	size_t bytes;
};

static int pending_flush(struct stream_writer *w, struct pending *p)
{
	int rc = p->n ? util_writev_all(w->fd, p->iov, p->n) : 0;

	p->n = 0;
	p->bytes = 0;
	return rc;
}

static int pending_add(struct stream_writer *w, struct pending *p,
		const void *base, size_t len)
{
	if (len == 0)
		return 0;
	p->iov[p->n++] = (struct iovec){ (void *)base, len };
	p->bytes += len;
	return p->n == WRITE_IOVS || p->bytes >= WRITE_CHUNK ?
	       pending_flush(w, p) : 0;
}

int stream_write_iov(struct stream_writer *w, uint32_t type,
		const struct iovec *body, int n)
{
	static const uint8_t zeros[8];
	uint32_t hdr[2] = { type, 0 }, trailer[2] = { 0, 0 };
	struct pending p = { .n = 0 };
	uint64_t len = 0;
	uint32_t crc;
	size_t pad;
	int rc;

	for (int i = 0; i < n; i++)
		len += body[i].iov_len;
	if (len > STREAM_MAX_RECORD)
		return -EMSGSIZE;
	hdr[1] = (uint32_t)len;
	pad = (8 - len % 8) % 8;
	crc = crc32c(0, hdr, sizeof(hdr));
	rc = pending_add(w, &p, hdr, sizeof(hdr));
	for (int i = 0; rc == 0 && i < n; i++) {
		const uint8_t *b = body[i].iov_base;

		for (size_t off = 0; rc == 0 && off < body[i].iov_len;) {
			size_t c = body[i].iov_len - off;

			if (c > WRITE_CHUNK)
				c = WRITE_CHUNK;
			crc = crc32c(crc, b + off, c);
			rc = pending_add(w, &p, b + off, c);
			off += c;
		}
	}
	crc = crc32c(crc, zeros, pad);
	trailer[0] = crc;
	if (rc == 0)
		rc = pending_add(w, &p, zeros, pad);
	if (rc == 0)
		rc = pending_add(w, &p, trailer, sizeof(trailer));
	if (rc == 0)
		rc = pending_flush(w, &p);
	if (rc == 0) {
		w->bytes += sizeof(hdr) + len + pad + sizeof(trailer);
		w->records++;
	}
	return rc;
}

int stream_write(struct stream_writer *w, uint32_t type, const void *body,
		size_t len)
{
	struct iovec iov = { (void *)body, len };

	return stream_write_iov(w, type, &iov, len ? 1 : 0);
}

void stream_reader_init(struct stream_reader *r, int fd)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
}

void stream_reader_fini(struct stream_reader *r)
{
	free(r->body);
	r->body = NULL;
	r->cap = 0;
}

/* Reads exactly len bytes; 0 at a clean end of stream with nothing read,
 * -EPIPE for a partial read. */
static int read_all(struct stream_reader *r, void *buf, size_t len,
		bool *eof)
{
	size_t got = 0;

	*eof = false;
	while (got < len) {
		ssize_t n = read(r->fd, (char *)buf + got, len - got);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0) {
			*eof = got == 0;
			return -EPIPE;
		}
		got += (size_t)n;
	}
	r->offset += len;
	return 0;
}

int stream_read_header(struct stream_reader *r)
{
	struct stream_header h;
	bool eof;
	int rc = read_all(r, &h, sizeof(h), &eof);

	if (rc < 0) {
		snprintf(r->err, sizeof(r->err), "stream header: %s",
			 rc == -EPIPE ? "truncated" : strerror(-rc));
		return rc == -EPIPE ? -EPROTO : rc;
	}
	if (memcmp(h.magic, STREAM_MAGIC, 8) != 0) {
		snprintf(r->err, sizeof(r->err), "not a colo-stream (bad magic)");
		return -EPROTO;
	}
	r->flags = h.flags;
	if (h.version != STREAM_VERSION || h.page_size != STREAM_PAGE_SIZE) {
		snprintf(r->err, sizeof(r->err), "colo-stream version %u, page "
			 "size %u: this build reads version %u, page size %u",
			 h.version, h.page_size, STREAM_VERSION,
			 STREAM_PAGE_SIZE);
		return -EPROTO;
	}
	return 0;
}

void stream_reader_set_page_sink(struct stream_reader *r, uint8_t *base,
		uint64_t npages)
{
	r->sink = base;
	r->sink_pages = base ? npages : 0;
}

/* Fills every iovec (which it consumes); -EPIPE if the stream ends. */
static int readv_all(struct stream_reader *r, struct iovec *iov, int cnt)
{
	size_t total = 0;
	int rc;

	for (int i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	rc = util_readv_all(r->fd, iov, cnt);
	if (rc == 0)
		r->offset += total;
	return rc;
}

static int grow_body(struct stream_reader *r, size_t total)
{
	uint8_t *nb;

	if (total <= r->cap)
		return 0;
	nb = realloc(r->body, total ? total : 8);
	if (!nb)
		return -ENOMEM;
	r->body = nb;
	r->cap = total;
	return 0;
}

#define SINK_BATCH	256u	/* pages per readv: 1 MiB */

/* A PAGE_DATA body with a sink set: count, flags and pfns into r->body,
 * each page by readv straight to its place in the sink, and the CRC
 * continued over all of it.  A record the CRC then rejects has already
 * written the sink: its owner must not trust the sink after an error. */
static int read_pages_to_sink(struct stream_reader *r, uint32_t len,
		uint32_t *crc, char *why, size_t whylen)
{
	struct iovec iov[STREAM_MAX_PAGES];
	uint32_t head[2], n;
	bool eof;
	int rc;

	if (len < sizeof(head)) {
		snprintf(why, whylen, "length %u too short", len);
		return -EBADMSG;
	}
	rc = read_all(r, head, sizeof(head), &eof);
	n = head[0];
	if (rc == 0 && (n == 0 || n > STREAM_MAX_PAGES ||
			len != 8 + (uint64_t)n * (8 + STREAM_PAGE_SIZE))) {
		snprintf(why, whylen, "%u pages do not fit length %u", n, len);
		return -EBADMSG;
	}
	if (rc == 0)
		rc = grow_body(r, 8 + (size_t)n * 8);
	if (rc == 0) {
		memcpy(r->body, head, sizeof(head));
		rc = read_all(r, r->body + 8, (size_t)n * 8, &eof);
	}
	for (uint32_t i = 0; rc == 0 && i < n; i++) {
		uint64_t pfn;

		memcpy(&pfn, r->body + 8 + (size_t)i * 8, 8);
		if (pfn >= r->sink_pages) {
			snprintf(why, whylen, "pfn %llu beyond the %llu pages "
				 "of guest RAM", (unsigned long long)pfn,
				 (unsigned long long)r->sink_pages);
			return -EBADMSG;
		}
		iov[i].iov_base = r->sink + pfn * STREAM_PAGE_SIZE;
		iov[i].iov_len = STREAM_PAGE_SIZE;
	}
	if (rc < 0)
		return rc;
	*crc = crc32c(*crc, r->body, 8 + (size_t)n * 8);
	/* In batches, each CRC'd while the kernel's copy left it in cache. */
	for (uint32_t i = 0; i < n; i += SINK_BATCH) {
		uint32_t k = n - i < SINK_BATCH ? n - i : SINK_BATCH;

		rc = readv_all(r, iov + i, (int)k);
		if (rc < 0)
			return rc;
		for (uint32_t j = i; j < i + k; j++) {
			uint64_t pfn;

			memcpy(&pfn, r->body + 8 + (size_t)j * 8, 8);
			*crc = crc32c(*crc, r->sink + pfn * STREAM_PAGE_SIZE,
				      STREAM_PAGE_SIZE);
		}
	}
	r->body_len = 8 + n * 8;
	return 0;
}

/* Any other body: into r->body, padding included. */
static int read_body(struct stream_reader *r, uint32_t len, uint32_t *crc,
		char *why, size_t whylen)
{
	size_t pad = (8 - len % 8) % 8, total = len + pad;
	bool eof;
	int rc = grow_body(r, total);

	if (rc == 0)
		rc = read_all(r, r->body, total, &eof);
	if (rc < 0)
		return rc;
	*crc = crc32c(*crc, r->body, total);
	for (size_t i = len; i < total; i++) {
		if (r->body[i]) {
			snprintf(why, whylen, "non-zero padding");
			return -EBADMSG;
		}
	}
	r->body_len = len;
	return 0;
}

int stream_read(struct stream_reader *r, uint32_t *type, const uint8_t **body,
		uint32_t *len)
{
	uint32_t hdr[2], trailer[2], crc;
	uint64_t at = r->offset;
	char why[160] = "";
	bool eof;
	int rc;

	r->truncated = false;
	rc = read_all(r, hdr, sizeof(hdr), &eof);
	if (rc < 0) {
		r->truncated = rc == -EPIPE;
		snprintf(r->err, sizeof(r->err), "record %llu at offset %llu: %s",
			 (unsigned long long)r->records, (unsigned long long)at,
			 eof ? "stream ended without END" :
			 rc == -EPIPE ? "truncated header" : strerror(-rc));
		return rc == -EPIPE ? -EPROTO : rc;
	}
	if (hdr[0] == 0 || hdr[0] >= REC__MAX) {
		snprintf(r->err, sizeof(r->err), "record %llu at offset %llu: "
			 "unknown type %u", (unsigned long long)r->records,
			 (unsigned long long)at, hdr[0]);
		return -EPROTO;
	}
	if (hdr[1] > STREAM_MAX_RECORD) {
		snprintf(r->err, sizeof(r->err), "%s record at offset %llu: "
			 "length %u exceeds %u", stream_rec_name(hdr[0]),
			 (unsigned long long)at, hdr[1], STREAM_MAX_RECORD);
		return -EPROTO;
	}
	crc = crc32c(0, hdr, sizeof(hdr));
	rc = hdr[0] == REC_PAGE_DATA && r->sink ?
	     read_pages_to_sink(r, hdr[1], &crc, why, sizeof(why)) :
	     read_body(r, hdr[1], &crc, why, sizeof(why));
	if (rc == 0)
		rc = read_all(r, trailer, sizeof(trailer), &eof);
	if (rc == 0 && (crc != trailer[0] || trailer[1] != 0)) {
		rc = -EBADMSG;
		snprintf(why, sizeof(why), "CRC mismatch (corrupt)");
	}
	if (rc < 0) {
		r->truncated = rc == -EPIPE;
		snprintf(r->err, sizeof(r->err), "%s record at offset %llu: %s",
			 stream_rec_name(hdr[0]), (unsigned long long)at,
			 rc == -EPIPE ? "truncated" : why[0] ? why :
			 strerror(-rc));
		return rc == -EPIPE || rc == -EBADMSG ? -EPROTO : rc;
	}
	r->records++;
	*type = hdr[0];
	*body = r->body;
	*len = r->body_len;
	return 0;
}
