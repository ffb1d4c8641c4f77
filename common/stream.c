/* colo-stream records over a file descriptor (file or socket). */
#include "config.h"
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "crc32c.h"
#include "stream.h"

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

/* writev until everything is out; iov is consumed. */
static int write_all(int fd, struct iovec *iov, int n)
{
	while (n > 0) {
		ssize_t done = writev(fd, iov, n > IOV_MAX ? IOV_MAX : n);

		if (done < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (n > 0 && (size_t)done >= iov->iov_len) {
			done -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + done;
			iov->iov_len -= (size_t)done;
		}
	}
	return 0;
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
	rc = write_all(w->fd, &iov, 1);
	if (rc == 0)
		w->bytes += sizeof(h);
	return rc;
}

int stream_write_iov(struct stream_writer *w, uint32_t type,
		const struct iovec *body, int n)
{
	static const uint8_t zeros[8];
	uint32_t hdr[2] = { type, 0 }, trailer[2] = { 0, 0 };
	struct iovec stack[64], *iov = stack;
	uint64_t len = 0;
	uint32_t crc;
	size_t pad;
	int rc;

	for (int i = 0; i < n; i++)
		len += body[i].iov_len;
	if (len > STREAM_MAX_RECORD)
		return -EMSGSIZE;
	if (n + 3 > (int)(sizeof(stack) / sizeof(stack[0]))) {
		iov = malloc((size_t)(n + 3) * sizeof(*iov));
		if (!iov)
			return -ENOMEM;
	}
	hdr[1] = (uint32_t)len;
	pad = (8 - len % 8) % 8;
	crc = crc32c(0, hdr, sizeof(hdr));
	for (int i = 0; i < n; i++)
		crc = crc32c(crc, body[i].iov_base, body[i].iov_len);
	crc = crc32c(crc, zeros, pad);
	trailer[0] = crc;
	iov[0] = (struct iovec){ hdr, sizeof(hdr) };
	memcpy(iov + 1, body, (size_t)n * sizeof(*iov));
	iov[n + 1] = (struct iovec){ (void *)zeros, pad };
	iov[n + 2] = (struct iovec){ trailer, sizeof(trailer) };
	rc = write_all(w->fd, iov, n + 3);
	if (iov != stack)
		free(iov);
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

int stream_read(struct stream_reader *r, uint32_t *type, const uint8_t **body,
		uint32_t *len)
{
	uint32_t hdr[2], trailer[2], crc;
	uint64_t at = r->offset;
	size_t pad, total;
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
	pad = (8 - hdr[1] % 8) % 8;
	total = hdr[1] + pad;
	if (total > r->cap) {
		uint8_t *nb = realloc(r->body, total ? total : 8);

		if (!nb)
			return -ENOMEM;
		r->body = nb;
		r->cap = total;
	}
	rc = read_all(r, r->body, total, &eof);
	if (rc == 0)
		rc = read_all(r, trailer, sizeof(trailer), &eof);
	if (rc < 0) {
		r->truncated = rc == -EPIPE;
		snprintf(r->err, sizeof(r->err), "%s record at offset %llu: %s",
			 stream_rec_name(hdr[0]), (unsigned long long)at,
			 rc == -EPIPE ? "truncated" : strerror(-rc));
		return rc == -EPIPE ? -EPROTO : rc;
	}
	crc = crc32c(crc32c(0, hdr, sizeof(hdr)), r->body, total);
	if (crc != trailer[0] || trailer[1] != 0) {
		snprintf(r->err, sizeof(r->err), "%s record at offset %llu: "
			 "CRC mismatch (corrupt)", stream_rec_name(hdr[0]),
			 (unsigned long long)at);
		return -EPROTO;
	}
	for (size_t i = hdr[1]; i < total; i++) {
		if (r->body[i]) {
			snprintf(r->err, sizeof(r->err), "%s record at offset "
				 "%llu: non-zero padding",
				 stream_rec_name(hdr[0]), (unsigned long long)at);
			return -EPROTO;
		}
	}
	r->records++;
	*type = hdr[0];
	*body = r->body;
	*len = hdr[1];
	return 0;
}
