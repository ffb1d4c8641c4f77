/* NBD wire helpers and request validation. */
#include "config.h"
#include "nbd_proto.h"

void nbd_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void nbd_put32(uint8_t *p, uint32_t v)
{
	nbd_put16(p, (uint16_t)(v >> 16));
	nbd_put16(p + 2, (uint16_t)v);
}

void nbd_put64(uint8_t *p, uint64_t v)
{
	nbd_put32(p, (uint32_t)(v >> 32));
	nbd_put32(p + 4, (uint32_t)v);
}

uint16_t nbd_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

uint32_t nbd_get32(const uint8_t *p)
{
	return (uint32_t)nbd_get16(p) << 16 | nbd_get16(p + 2);
}

uint64_t nbd_get64(const uint8_t *p)
{
	return (uint64_t)nbd_get32(p) << 32 | nbd_get32(p + 4);
}

void nbd_decode_request(const uint8_t *b, struct nbd_request *r)
{
	r->magic = nbd_get32(b);
	r->flags = nbd_get16(b + 4);
	r->type = nbd_get16(b + 6);
	r->cookie = nbd_get64(b + 8);
	r->offset = nbd_get64(b + 16);
	r->length = nbd_get32(b + 24);
}

static bool in_range(const struct nbd_request *r, uint64_t size)
{
	return r->offset <= size && r->length <= size - r->offset;
}

int nbd_check_request(const struct nbd_request *r, uint64_t size,
		bool read_only, bool *fatal, const char **why)
{
	*fatal = false;
	if (r->magic != NBD_REQUEST_MAGIC) {
		*fatal = true;	/* no way to find the next request */
		*why = "bad request magic";
		return NBD_EINVAL;
	}
	if (r->flags & ~(uint16_t)(NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE)) {
		*why = "unknown command flags";
		*fatal = r->type == NBD_CMD_WRITE &&
			 r->length > NBD_MAX_PAYLOAD;
		return NBD_EINVAL;
	}
	switch (r->type) {
	case NBD_CMD_READ:
	case NBD_CMD_WRITE:
		if (r->length > NBD_MAX_PAYLOAD) {
			/* A write's payload this big is not skipped: a
			 * client that sends it is broken. */
			*fatal = r->type == NBD_CMD_WRITE;
			*why = "length over the 32 MiB maximum";
			return NBD_EOVERFLOW;
		}
		/* fall through */
	case NBD_CMD_TRIM:
	case NBD_CMD_WRITE_ZEROES:
	case NBD_CMD_CACHE:
		if (!in_range(r, size)) {
			*why = "offset and length beyond the export";
			return r->type == NBD_CMD_READ ||
			       r->type == NBD_CMD_CACHE ? NBD_EINVAL :
			       NBD_ENOSPC;
		}
		if (read_only && r->type != NBD_CMD_READ &&
		    r->type != NBD_CMD_CACHE) {
			*why = "the export is read-only";
			return NBD_EPERM;
		}
		return 0;
	case NBD_CMD_FLUSH:
		if (r->offset || r->length) {
			*why = "flush with an offset or length";
			return NBD_EINVAL;
		}
		return 0;
	case NBD_CMD_DISC:
		return 0;
	default:
		*why = "unknown command";
		return NBD_EINVAL;
	}
}
