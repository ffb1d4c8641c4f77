/* Tag-length-value sections inside stream record bodies: u32 tag, u32
 * length, data padded to 8 bytes.  The reader checks every length. */
#ifndef COLO_TLV_H
#define COLO_TLV_H

#include <stddef.h>
#include <stdint.h>

struct tlv_buf {
	uint8_t *data;
	size_t len, cap;
};

void tlv_buf_init(struct tlv_buf *b);
void tlv_buf_fini(struct tlv_buf *b);
void tlv_buf_reset(struct tlv_buf *b);
/* Appends raw bytes (no tag): for record prefixes such as a vCPU id. */
int tlv_put_raw(struct tlv_buf *b, const void *data, size_t len);
int tlv_put(struct tlv_buf *b, uint32_t tag, const void *data, size_t len);

struct tlv_iter {
	const uint8_t *p, *end;
};

void tlv_iter_init(struct tlv_iter *it, const void *data, size_t len);
/* 1 with the next section, 0 at the end, -EPROTO if malformed. */
int tlv_next(struct tlv_iter *it, uint32_t *tag, const uint8_t **data,
		uint32_t *len);

#endif
