/* colo-stream records and TLV sections: round trips, and every kind of
 * damage detected with a message naming the record. */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "crc32c.h"
#include "dh-unit.h"
#include "stream.h"
#include "tlv.h"

/* Writes a small stream into a pipe-like temp file; returns its fd. */
static int make_stream(char *path, size_t len)
{
	struct stream_writer w;
	char body[100];
	int fd;

	snprintf(path, len, "/tmp/colo-stream-test.XXXXXX");
	fd = mkstemp(path);
	unlink(path);
	memset(body, 'x', sizeof(body));
	stream_writer_init(&w, fd);
	CU_ASSERT_EQUAL(stream_write_header(&w), 0);
	CU_ASSERT_EQUAL(stream_write(&w, REC_DOMAIN_CONFIG, "<domain/>", 9), 0);
	CU_ASSERT_EQUAL(stream_write(&w, REC_DEVICE_STATE, body, sizeof(body)),
			0);
	CU_ASSERT_EQUAL(stream_write(&w, REC_END, NULL, 0), 0);
	CU_ASSERT_EQUAL(w.records, 3);
	CU_ASSERT_EQUAL(w.bytes % 8, 0);
	return fd;
}

static void test_roundtrip(void)
{
	char path[64];
	int fd = make_stream(path, sizeof(path));
	struct stream_reader r;
	const uint8_t *b;
	uint32_t t, l;

	lseek(fd, 0, SEEK_SET);
	stream_reader_init(&r, fd);
	CU_ASSERT_EQUAL(stream_read_header(&r), 0);
	CU_ASSERT_EQUAL(stream_read(&r, &t, &b, &l), 0);
	CU_ASSERT_EQUAL(t, REC_DOMAIN_CONFIG);
	CU_ASSERT_EQUAL(l, 9);
	CU_ASSERT_EQUAL(memcmp(b, "<domain/>", 9), 0);
	CU_ASSERT_EQUAL(stream_read(&r, &t, &b, &l), 0);
	CU_ASSERT_EQUAL(l, 100);
	CU_ASSERT_EQUAL(stream_read(&r, &t, &b, &l), 0);
	CU_ASSERT_EQUAL(t, REC_END);
	CU_ASSERT_EQUAL(stream_read(&r, &t, &b, &l), -EPROTO);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, "ended without END"));
	stream_reader_fini(&r);
	close(fd);
}

/* Damages byte off (or truncates at off) and expects msg. */
static void damaged(off_t off, bool truncate, const char *msg)
{
	char path[64];
	int fd = make_stream(path, sizeof(path));
	struct stream_reader r;
	const uint8_t *b;
	uint32_t t, l;
	uint8_t byte;
	int rc = 0;

	if (truncate) {
		CU_ASSERT_EQUAL(ftruncate(fd, off), 0);
	} else {
		CU_ASSERT_EQUAL(pread(fd, &byte, 1, off), 1);
		byte ^= 0x40;
		CU_ASSERT_EQUAL(pwrite(fd, &byte, 1, off), 1);
	}
	lseek(fd, 0, SEEK_SET);
	stream_reader_init(&r, fd);
	rc = stream_read_header(&r);
	while (rc == 0) {
		rc = stream_read(&r, &t, &b, &l);
		if (rc == 0 && t == REC_END)
			break;
	}
	CU_ASSERT_EQUAL(rc, -EPROTO);
	if (!strstr(r.err, msg))
		fprintf(stderr, "got '%s', wanted '%s'\n", r.err, msg);
	CU_ASSERT_PTR_NOT_NULL(strstr(r.err, msg));
	stream_reader_fini(&r);
	close(fd);
}

static void test_damage(void)
{
	damaged(0, false, "bad magic");
	damaged(8, false, "version");
	damaged(10, true, "stream header: truncated");
	damaged(24, false, "unknown type");		/* first record's type */
	damaged(28 + 3, false, "exceeds");		/* its length */
	damaged(24 + 8 + 3, false, "CRC mismatch");	/* its body */
	damaged(24 + 8 + 16 + 1, false, "CRC mismatch");	/* its CRC */
	damaged(24 + 8 + 16 + 4, false, "CRC mismatch");	/* reserved */
	damaged(24 + 8 + 5, true, "DOMAIN_CONFIG record at offset 24: "
		"truncated");
	damaged(24 + 32 + 2, true, "truncated header");
}

static void test_tlv(void)
{
	struct tlv_buf b;
	struct tlv_iter it;
	const uint8_t *d;
	uint32_t tag, len;

	tlv_buf_init(&b);
	CU_ASSERT_EQUAL(tlv_put(&b, 1, "abc", 3), 0);
	CU_ASSERT_EQUAL(tlv_put(&b, 2, NULL, 0), 0);
	CU_ASSERT_EQUAL(b.len, 16 + 8);
	tlv_iter_init(&it, b.data, b.len);
	CU_ASSERT_EQUAL(tlv_next(&it, &tag, &d, &len), 1);
	CU_ASSERT_EQUAL(tag, 1);
	CU_ASSERT_EQUAL(len, 3);
	CU_ASSERT_EQUAL(tlv_next(&it, &tag, &d, &len), 1);
	CU_ASSERT_EQUAL(tag, 2);
	CU_ASSERT_EQUAL(tlv_next(&it, &tag, &d, &len), 0);
	/* A length that runs past the end is malformed, not read. */
	b.data[4] = 0xff;
	tlv_iter_init(&it, b.data, b.len);
	CU_ASSERT_EQUAL(tlv_next(&it, &tag, &d, &len), -EPROTO);
	tlv_iter_init(&it, b.data, 5);
	CU_ASSERT_EQUAL(tlv_next(&it, &tag, &d, &len), -EPROTO);
	tlv_buf_fini(&b);
}

/* The three-lane SSE4.2 path against the byte table: every length
 * around the block size, odd alignments, and a chained continuation. */
static void test_crc32c(void)
{
	enum { N = 3 * 1024 * 4 + 64 };
	unsigned char *buf = malloc(N);
	uint32_t x = 12345;

	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	for (int i = 0; i < N; i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (unsigned char)(x >> 16);
	}
	/* The standard check value of CRC-32C. */
	CU_ASSERT_EQUAL(crc32c(0, "123456789", 9), 0xe3069283u);
	CU_ASSERT_EQUAL(crc32c_sw(0, "123456789", 9), 0xe3069283u);
	for (size_t len = 0; len + 7 <= N; len += len < 3200 ? 1 : 509)
		for (size_t off = 0; off < 8; off += 7)
			if (crc32c(7, buf + off, len) !=
			    crc32c_sw(7, buf + off, len)) {
				CU_FAIL("fast CRC differs from the table");
				free(buf);
				return;
			}
	CU_ASSERT_EQUAL(crc32c(crc32c(0, buf, 5000), buf + 5000, N - 5000),
			crc32c(0, buf, N));
	free(buf);
}

void dh_suite_stream(void)
{
	static const struct unit_case cases[] = {
		{ "roundtrip", test_roundtrip },
		{ "damage", test_damage },
		{ "tlv", test_tlv },
		{ "crc32c", test_crc32c },
		{ NULL, NULL },
	};

	unit_add_suite("stream", cases);
}
