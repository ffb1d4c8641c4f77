/* TLV sections for record bodies. */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "tlv.h"

void tlv_buf_init(struct tlv_buf *b)
{
	memset(b, 0, sizeof(*b));
}

void tlv_buf_fini(struct tlv_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

void tlv_buf_reset(struct tlv_buf *b)
{
	b->len = 0;
}

static int reserve(struct tlv_buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 256;
	uint8_t *nd;

	if (b->len + more <= b->cap)
		return 0;
	while (cap < b->len + more)
		cap *= 2;
	nd = realloc(b->data, cap);
	if (!nd)
		return -ENOMEM;
	b->data = nd;
	b->cap = cap;
	return 0;
}

int tlv_put_raw(struct tlv_buf *b, const void *data, size_t len)
{
	if (reserve(b, len) < 0)
		return -ENOMEM;
	if (len)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

int tlv_put(struct tlv_buf *b, uint32_t tag, const void *data, size_t len)
{
	uint32_t hdr[2] = { tag, (uint32_t)len };
	size_t pad = (8 - len % 8) % 8;

	if (len > UINT32_MAX || reserve(b, sizeof(hdr) + len + pad) < 0)
		return -ENOMEM;
	memcpy(b->data + b->len, hdr, sizeof(hdr));
	if (len)
		memcpy(b->data + b->len + sizeof(hdr), data, len);
	memset(b->data + b->len + sizeof(hdr) + len, 0, pad);
	b->len += sizeof(hdr) + len + pad;
	return 0;
}

void tlv_iter_init(struct tlv_iter *it, const void *data, size_t len)
{
	it->p = data;
	it->end = it->p + len;
}

int tlv_next(struct tlv_iter *it, uint32_t *tag, const uint8_t **data,
		uint32_t *len)
{
	uint32_t hdr[2];
	size_t left = (size_t)(it->end - it->p), span;

	if (left == 0)
		return 0;
	if (left < sizeof(hdr))
		return -EPROTO;
	memcpy(hdr, it->p, sizeof(hdr));
	span = sizeof(hdr) + hdr[1] + (8 - hdr[1] % 8) % 8;
	if (hdr[1] > left - sizeof(hdr) || span > left)
		return -EPROTO;
	*tag = hdr[0];
	*len = hdr[1];
	*data = it->p + sizeof(hdr);
	it->p += span;
	return 1;
}
