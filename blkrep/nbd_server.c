/* The NBD server side of one connection. */
#include "config.h"
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>
#include "nbd_proto.h"
#include "nbd_server.h"
#include "quorum.h"
#include "secondary.h"
#include "replica.h"
#include "util.h"

struct conn {
	int in, out;
	const struct nbd_export *first;	/* every export on the server */
	const struct nbd_export *e;	/* the one the client chose */
	struct nbd_conn_stats *st;
	bool no_zeroes;
	uint8_t *buf;		/* grows to the largest payload seen */
	size_t cap;
	char *why;
	size_t whylen;
};

static int get(struct conn *c, void *p, size_t len)
{
	struct iovec iov = { p, len };

	return util_readv_all(c->in, &iov, 1) < 0 ? -EPIPE : 0;
}

/* A payload buffer of len bytes (at most NBD_MAX_PAYLOAD). */
static int room(struct conn *c, size_t len)
{
	uint8_t *b;

	if (len <= c->cap)
		return 0;
	b = realloc(c->buf, len);
	if (!b)
		return -ENOMEM;
	c->buf = b;
	c->cap = len;
	return 0;
}

static int skip(struct conn *c, uint64_t len)
{
	uint8_t junk[4096];

	while (len) {
		size_t n = len < sizeof(junk) ? (size_t)len : sizeof(junk);

		if (get(c, junk, n) < 0)
			return -EPIPE;
		len -= n;
	}
	return 0;
}

static int put_iov(struct conn *c, struct iovec *iov, int n)
{
	return util_writev_all(c->out, iov, n) < 0 ? -EPIPE : 0;
}

static int put(struct conn *c, const void *p, size_t len)
{
	struct iovec iov = { (void *)p, len };

	return put_iov(c, &iov, 1);
}

static int fail(struct conn *c, int rc, const char *what, const char *arg)
{
	snprintf(c->why, c->whylen, "%s%s", what, arg);
	return rc;
}

/* ---- handshake ---- */

static int opt_reply(struct conn *c, uint32_t opt, uint32_t type,
		const void *data, uint32_t len)
{
	uint8_t h[20];
	struct iovec iov[2] = { { h, sizeof(h) }, { (void *)data, len } };

	nbd_put64(h, NBD_REP_MAGIC);
	nbd_put32(h + 8, opt);
	nbd_put32(h + 12, type);
	nbd_put32(h + 16, len);
	return put_iov(c, iov, len ? 2 : 1);
}

static int opt_error(struct conn *c, uint32_t opt, uint32_t type,
		const char *msg)
{
	return opt_reply(c, opt, type, msg, (uint32_t)strlen(msg));
}

static uint16_t transmission_flags(const struct nbd_export *e)
{
	uint16_t f = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH |
		     NBD_FLAG_SEND_FUA | NBD_FLAG_CAN_MULTI_CONN;

	if (e->img->read_only)
		f |= NBD_FLAG_READ_ONLY;
	else
		f |= NBD_FLAG_SEND_TRIM | NBD_FLAG_SEND_WRITE_ZEROES;
	return f;
}

/* The export a client names ("" is the first); it becomes the
 * connection's. */
static bool name_matches(struct conn *c, const char *name)
{
	for (const struct nbd_export *e = c->first; e; e = e->next)
		if ((!name[0] && !e->secret) || strcmp(name, e->name) == 0) {
			c->e = e;
			return true;
		}
	return false;
}

/* NBD_OPT_INFO and NBD_OPT_GO: u32 name length, name, u16 count, u16
 * info types.  Returns 1 when GO succeeded (transmission starts). */
static int opt_info(struct conn *c, uint32_t opt, const uint8_t *d,
		uint32_t len)
{
	uint8_t ex[12], bs[14];
	uint32_t nlen;
	uint16_t nreq;
	char name[NBD_MAX_OPTION + 1];
	bool want_bs = false;
	int rc;

	if (len < 6 || (nlen = nbd_get32(d)) > len - 6)
		return opt_error(c, opt, NBD_REP_ERR_INVALID,
				 "malformed INFO/GO request");
	nreq = nbd_get16(d + 4 + nlen);
	if (len != 6 + nlen + 2u * nreq)
		return opt_error(c, opt, NBD_REP_ERR_INVALID,
				 "malformed INFO/GO request");
	memcpy(name, d + 4, nlen);
	name[nlen] = 0;
	if (strlen(name) != nlen || !name_matches(c, name))
		return opt_error(c, opt, NBD_REP_ERR_UNKNOWN, "no such export");
	for (uint16_t i = 0; i < nreq; i++)
		if (nbd_get16(d + 6 + nlen + 2u * i) == NBD_INFO_BLOCK_SIZE)
			want_bs = true;
	nbd_put16(ex, NBD_INFO_EXPORT);
	nbd_put64(ex + 2, c->e->img->size);
	nbd_put16(ex + 10, transmission_flags(c->e));
	rc = opt_reply(c, opt, NBD_REP_INFO, ex, sizeof(ex));
	if (rc == 0 && want_bs) {
		nbd_put16(bs, NBD_INFO_BLOCK_SIZE);
		nbd_put32(bs + 2, 1);		/* minimum */
		nbd_put32(bs + 6, 4096);	/* preferred */
		nbd_put32(bs + 10, NBD_MAX_PAYLOAD);
		rc = opt_reply(c, opt, NBD_REP_INFO, bs, sizeof(bs));
	}
	if (rc == 0)
		rc = opt_reply(c, opt, NBD_REP_ACK, NULL, 0);
	return rc < 0 ? rc : opt == NBD_OPT_GO;
}

/* The old way in: no reply header, and a wrong name ends the session. */
static int opt_export_name(struct conn *c, const uint8_t *d, uint32_t len)
{
	uint8_t r[10 + 124];
	char name[NBD_MAX_OPTION + 1];

	memcpy(name, d, len);
	name[len] = 0;
	if (strlen(name) != len || !name_matches(c, name))
		return fail(c, -EPROTO, "client asked for unknown export ",
			    name);
	memset(r, 0, sizeof(r));
	nbd_put64(r, c->e->img->size);
	nbd_put16(r + 8, transmission_flags(c->e));
	return put(c, r, c->no_zeroes ? 10 : sizeof(r)) < 0 ? -EPIPE : 1;
}

static int one_option(struct conn *c)
{
	uint8_t h[16], d[NBD_MAX_OPTION];
	uint32_t opt, len;
	uint8_t srv[4 + 256];
	size_t nlen;

	if (get(c, h, sizeof(h)) < 0)
		return -EPIPE;
	if (nbd_get64(h) != NBD_OPTS_MAGIC)
		return fail(c, -EPROTO, "bad option magic", "");
	opt = nbd_get32(h + 8);
	len = nbd_get32(h + 12);
	if (len > NBD_MAX_OPTION) {
		if (len > NBD_MAX_PAYLOAD || skip(c, len) < 0)
			return fail(c, -EPROTO, "option data too long", "");
		return opt_error(c, opt, NBD_REP_ERR_INVALID,
				 "option data too long");
	}
	if (get(c, d, len) < 0)
		return -EPIPE;
	switch (opt) {
	case NBD_OPT_EXPORT_NAME:
		return opt_export_name(c, d, len);
	case NBD_OPT_ABORT:
		opt_reply(c, opt, NBD_REP_ACK, NULL, 0);
		return 2;
	case NBD_OPT_LIST:
		if (len)
			return opt_error(c, opt, NBD_REP_ERR_INVALID,
					 "LIST takes no data");
		for (const struct nbd_export *e = c->first; e; e = e->next) {
			if (e->secret)
				continue;
			nlen = strnlen(e->name, 256);
			nbd_put32(srv, (uint32_t)nlen);
			memcpy(srv + 4, e->name, nlen);
			if (opt_reply(c, opt, NBD_REP_SERVER, srv,
				      (uint32_t)(4 + nlen)) < 0)
				return -EPIPE;
		}
		return opt_reply(c, opt, NBD_REP_ACK, NULL, 0);
	case NBD_OPT_INFO:
	case NBD_OPT_GO:
		return opt_info(c, opt, d, len);
	default:	/* STARTTLS, STRUCTURED_REPLY, meta contexts... */
		return opt_error(c, opt, NBD_REP_ERR_UNSUP,
				 "option not supported");
	}
}

/* 0 once transmission may start, 1 on an orderly abort, <0 on error. */
static int handshake(struct conn *c)
{
	uint8_t g[18], cf[4];
	uint32_t flags;
	int rc;

	nbd_put64(g, NBD_MAGIC);
	nbd_put64(g + 8, NBD_OPTS_MAGIC);
	nbd_put16(g + 16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
	if (put(c, g, sizeof(g)) < 0 || get(c, cf, sizeof(cf)) < 0)
		return -EPIPE;
	flags = nbd_get32(cf);
	if (flags & ~(uint32_t)(NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES))
		return fail(c, -EPROTO, "unknown client flags", "");
	c->no_zeroes = flags & NBD_FLAG_NO_ZEROES;
	do
		rc = one_option(c);
	while (rc == 0);
	return rc < 0 ? rc : rc == 1 ? 0 : 1;
}

/* ---- transmission ---- */

static int reply(struct conn *c, const struct nbd_request *r, int err,
		const void *data, size_t len)
{
	uint8_t h[16];
	struct iovec iov[2] = { { h, sizeof(h) }, { (void *)data, len } };

	nbd_put32(h, NBD_SIMPLE_REPLY_MAGIC);
	nbd_put32(h + 4, (uint32_t)err);
	nbd_put64(h + 8, r->cookie);
	if (err)
		c->st->errors++;
	return put_iov(c, iov, err || !len ? 1 : 2);
}

static int errno_to_nbd(int rc)
{
	switch (-rc) {
	case ENOSPC: case EDQUOT: return NBD_ENOSPC;
	case ENOMEM: return NBD_ENOMEM;
	case EPERM: case EACCES: case EROFS: return NBD_EPERM;
	default: return NBD_EIO;
	}
}

/* The data paths of the exports that are not a plain image (with or
 * without a replica): each command maps to one function. */
struct backend {
	int (*read)(void *b, void *buf, size_t len, uint64_t off);
	int (*write)(void *b, const void *buf, size_t len, uint64_t off,
		     bool fua);
	int (*flush)(void *b);
	int (*trim)(void *b, uint64_t len, uint64_t off);	/* may be NULL */
	int (*zero)(void *b, uint64_t len, uint64_t off, bool fua);
};

static int execute_backend(struct conn *c, const struct nbd_request *r,
			   bool fua, const struct backend *be, void *b)
{
	int rc = 0;

	switch (r->type) {
	case NBD_CMD_READ:
		rc = be->read(b, c->buf, r->length, r->offset);
		if (rc == 0)
			c->st->bytes_read += r->length;
		return reply(c, r, rc ? errno_to_nbd(rc) : 0, c->buf,
			     r->length);
	case NBD_CMD_WRITE:
		if (get(c, c->buf, r->length) < 0)
			return -EPIPE;
		rc = be->write(b, c->buf, r->length, r->offset, fua);
		if (rc == 0)
			c->st->bytes_written += r->length;
		break;
	case NBD_CMD_FLUSH:
		rc = be->flush(b);
		break;
	case NBD_CMD_TRIM:
		if (be->trim)
			rc = be->trim(b, r->length, r->offset);
		break;
	case NBD_CMD_WRITE_ZEROES:
		rc = be->zero(b, r->length, r->offset, fua);
		break;
	case NBD_CMD_CACHE:
		break;
	}
	return reply(c, r, rc ? errno_to_nbd(rc) : 0, NULL, 0);
}

/* Adapters: each backend's functions take their own type. */
static int sp_read(void *b, void *buf, size_t len, uint64_t off)
{
	/* The primary-facing export reads the disk as it is. */
	return image_read(((struct secondary *)b)->disk, buf, len, off);
}

static int sp_write(void *b, const void *buf, size_t len, uint64_t off,
		    bool fua)
{
	return sec_primary_write(b, buf, len, off, fua);
}

static int sp_flush(void *b)
{
	return sec_primary_flush(b);
}

/* The primary's own disk now reads zeros there: so must this one, or
 * the copies differ. */
static int sp_trim(void *b, uint64_t len, uint64_t off)
{
	return sec_primary_zero(b, len, off, false);
}

static int sp_zero(void *b, uint64_t len, uint64_t off, bool fua)
{
	return sec_primary_zero(b, len, off, fua);
}

static int sv_read(void *b, void *buf, size_t len, uint64_t off)
{
	return sec_svm_read(b, buf, len, off);
}

static int sv_write(void *b, const void *buf, size_t len, uint64_t off,
		    bool fua)
{
	return sec_svm_write(b, buf, len, off, fua);
}

static int sv_flush(void *b)
{
	return sec_svm_flush(b);
}

static int sv_zero(void *b, uint64_t len, uint64_t off, bool fua)
{
	return sec_svm_zero(b, len, off, fua);
}

static int q_read(void *b, void *buf, size_t len, uint64_t off)
{
	return quorum_read(b, buf, len, off);
}

static int q_write(void *b, const void *buf, size_t len, uint64_t off,
		   bool fua)
{
	return quorum_write(b, buf, len, off, fua);
}

static int q_flush(void *b)
{
	return quorum_flush(b);
}

static int q_trim(void *b, uint64_t len, uint64_t off)
{
	return quorum_trim(b, len, off);
}

static int q_zero(void *b, uint64_t len, uint64_t off, bool fua)
{
	return quorum_zero(b, len, off, fua);
}

static const struct backend secondary_primary = {
	sp_read, sp_write, sp_flush, sp_trim, sp_zero,
};

/* For the SVM, keeping trimmed data is correct: no trim. */
static const struct backend secondary_svm = {
	sv_read, sv_write, sv_flush, NULL, sv_zero,
};

static const struct backend quorum_backend = {
	q_read, q_write, q_flush, q_trim, q_zero,
};

static int execute(struct conn *c, const struct nbd_request *r)
{
	struct image *img = c->e->img;
	struct replica *rep = c->e->rep;
	bool fua = r->flags & NBD_CMD_FLAG_FUA;
	bool no_hole = r->flags & NBD_CMD_FLAG_NO_HOLE;
	int rc = 0;

	if ((r->type == NBD_CMD_READ || r->type == NBD_CMD_WRITE) &&
	    room(c, r->length) < 0) {
		if (r->type == NBD_CMD_WRITE && skip(c, r->length) < 0)
			return -EPIPE;
		return reply(c, r, NBD_ENOMEM, NULL, 0);
	}
	if (c->e->sec)
		return execute_backend(c, r, fua, c->e->svm ? &secondary_svm :
				       &secondary_primary, c->e->sec);
	if (c->e->qr)
		return execute_backend(c, r, fua, &quorum_backend, c->e->qr);
	switch (r->type) {
	case NBD_CMD_READ:	/* reads are served locally */
		rc = image_read(img, c->buf, r->length, r->offset);
		if (rc == 0)
			c->st->bytes_read += r->length;
		return reply(c, r, rc ? errno_to_nbd(rc) : 0, c->buf,
			     r->length);
	case NBD_CMD_WRITE:
		if (get(c, c->buf, r->length) < 0)
			return -EPIPE;
		rc = rep ? replica_write_pass(rep, img, &c->buf, &c->cap,
					      r->length, r->offset, fua) :
		     image_write(img, c->buf, r->length, r->offset, fua);
		if (rc == 0)
			c->st->bytes_written += r->length;
		break;
	case NBD_CMD_FLUSH:
		rc = image_flush(img);
		if (rc == 0 && rep)
			rc = replica_flush(rep);
		break;
	case NBD_CMD_TRIM:
		if (rep) {
			rc = replica_trim_both(rep, img, r->length, r->offset,
					       fua);
			break;
		}
		rc = image_trim(img, r->length, r->offset);
		if (rc == 0 && fua)
			rc = image_flush(img);
		break;
	case NBD_CMD_WRITE_ZEROES:
		rc = rep ? replica_zero_both(rep, img, r->length, r->offset,
					     no_hole, fua) :
		     image_zero(img, r->length, r->offset, no_hole, fua);
		break;
	case NBD_CMD_CACHE:
		break;	/* the page cache does this on its own */
	}
	return reply(c, r, rc ? errno_to_nbd(rc) : 0, NULL, 0);
}

static int transmission(struct conn *c)
{
	for (;;) {
		uint8_t b[NBD_REQUEST_SIZE];
		struct nbd_request r;
		const char *why = "";
		bool fatal;
		int err;

		if (get(c, b, sizeof(b)) < 0)
			return -EPIPE;
		nbd_decode_request(b, &r);
		c->st->requests++;
		err = nbd_check_request(&r, c->e->img->size,
					c->e->img->read_only, &fatal, &why);
		if (fatal)
			return fail(c, -EPROTO, why, "");
		if (err) {
			/* The payload of a refused write is still on the
			 * wire: read past it to the next request. */
			if (r.type == NBD_CMD_WRITE && skip(c, r.length) < 0)
				return -EPIPE;
			if (reply(c, &r, err, NULL, 0) < 0)
				return -EPIPE;
			continue;
		}
		if (r.type == NBD_CMD_DISC)
			return 0;
		if (execute(c, &r) < 0)
			return -EPIPE;
	}
}

int nbd_serve(int in, int out, const struct nbd_export *e,
		struct nbd_conn_stats *st, char *why, size_t whylen)
{
	struct conn c = {
		.in = in, .out = out, .first = e, .e = e, .st = st, .why = why,
		.whylen = whylen,
	};
	int rc;

	why[0] = 0;
	memset(st, 0, sizeof(*st));
	rc = handshake(&c);
	if (rc == 0)
		rc = transmission(&c);
	else if (rc == 1)
		rc = 0;
	free(c.buf);
	return rc;
}
