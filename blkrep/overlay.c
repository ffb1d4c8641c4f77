/* The overlay file: a 4 KiB header, then records appended one after the
 * other.  A record is a 32-byte header (magic, type, block, epoch, data
 * CRC, header CRC) followed, for data records, by one block.  A drop
 * record (epoch upto) ends every version of an epoch <= upto.  Opening
 * replays the records; a record whose CRCs fail ends the log (a crash
 * mid-append) and is cut off.  When nothing is live the file is
 * truncated back to its header, so the common case never grows. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include "crc32c.h"
#include "log.h"
#include "overlay.h"
#include "util.h"

#define HDR_SIZE 4096
#define REC_HDR 32
#define REC_MAGIC 0x4f564c52u	/* "OVLR" */
#define REC_DATA 1
#define REC_DROP 2
#define COMPACT_MIN (64ull << 20)
static const char file_magic[8] = "COLOVLY1";

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);	/* little-endian hosts only: x86-64 */
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static struct ovl_entry **slot(struct overlay *o, uint64_t block)
{
	uint64_t h = block * 0x9e3779b97f4a7c15ull;

	return &o->bucket[(h >> 32) & (o->nbuckets - 1)];
}

static struct ovl_entry *find(struct overlay *o, uint64_t block, bool create)
{
	struct ovl_entry **pp = slot(o, block), *e;

	for (e = *pp; e; e = e->next)
		if (e->block == block)
			return e;
	if (!create || !(e = calloc(1, sizeof(*e))))
		return NULL;
	e->block = block;
	e->next = *pp;
	*pp = e;
	return e;
}

/* Records a version in the index (replacing one of the same epoch). */
static int index_put(struct overlay *o, uint64_t block, uint64_t epoch,
		     uint64_t off)
{
	struct ovl_entry *e = find(o, block, true);
	int i;

	if (!e)
		return -ENOMEM;
	for (i = 0; i < e->n && e->v[i].epoch < epoch; i++)
		;
	if (i < e->n && e->v[i].epoch == epoch) {
		e->v[i].off = off;
		return 0;
	}
	if (e->n == OVL_EPOCHS)
		return -ENOSPC;	/* more epochs in flight than can be */
	memmove(&e->v[i + 1], &e->v[i], (size_t)(e->n - i) * sizeof(e->v[0]));
	e->v[i].epoch = epoch;
	e->v[i].off = off;
	e->n++;
	o->live++;
	return 0;
}

static void index_drop(struct overlay *o, uint64_t upto)
{
	for (uint32_t b = 0; b < o->nbuckets; b++) {
		struct ovl_entry **pp = &o->bucket[b];

		while (*pp) {
			struct ovl_entry *e = *pp;
			int k = 0;

			while (k < e->n && e->v[k].epoch <= upto)
				k++;
			memmove(e->v, e->v + k, (size_t)(e->n - k) * sizeof(e->v[0]));
			e->n = (uint8_t)(e->n - k);
			o->live -= (uint64_t)k;
			if (e->n == 0) {
				*pp = e->next;
				free(e);
			} else {
				pp = &e->next;
			}
		}
	}
}

static int write_header(struct overlay *o)
{
	uint8_t h[HDR_SIZE] = { 0 };

	memcpy(h, file_magic, 8);
	put32(h + 8, 1);
	put32(h + 12, OVL_BLOCK);
	put64(h + 16, o->disk_size);
	put64(h + 24, o->flags);
	put64(h + 32, o->aux);
	put32(h + 40, crc32c(0, h, 40));
	return pwrite(o->fd, h, sizeof(h), 0) == (ssize_t)sizeof(h) ? 0 : -EIO;
}

static int fail(char *err, size_t errlen, int rc, const char *path)
{
	snprintf(err, errlen, "%s: %s", path, strerror(-rc));
	return rc;
}

/* Replays the records after the header. */
static int replay(struct overlay *o)
{
	uint8_t rh[REC_HDR];
	uint8_t *data = malloc(OVL_BLOCK);
	uint64_t at = HDR_SIZE;
	int rc = 0;

	if (!data)
		return -ENOMEM;
	while (pread(o->fd, rh, REC_HDR, (off_t)at) == REC_HDR) {
		uint32_t type = get32(rh + 4);
		uint64_t block = get64(rh + 8), epoch = get64(rh + 16);

		if (get32(rh) != REC_MAGIC ||
		    get32(rh + 28) != crc32c(0, rh, 28))
			break;
		if (type == REC_DATA) {
			if (pread(o->fd, data, OVL_BLOCK, (off_t)(at + REC_HDR)) !=
			    OVL_BLOCK || get32(rh + 24) != crc32c(0, data, OVL_BLOCK) ||
			    block >= (o->disk_size + OVL_BLOCK - 1) / OVL_BLOCK)
				break;
			rc = index_put(o, block, epoch, at + REC_HDR);
			if (rc < 0)
				break;
			at += REC_HDR + OVL_BLOCK;
		} else if (type == REC_DROP) {
			index_drop(o, epoch);
			at += REC_HDR;
		} else {
			break;
		}
	}
	free(data);
	o->end = at;
	/* Whatever follows the last good record is a torn append. */
	if (rc == 0 && ftruncate(o->fd, (off_t)at) < 0)
		rc = -errno;
	return rc;
}

int ovl_open(struct overlay *o, const char *path, uint64_t disk_size,
	     char *err, size_t errlen)
{
	uint8_t h[HDR_SIZE];
	struct stat st;
	int rc;

	memset(o, 0, sizeof(*o));
	o->fd = -1;
	o->disk_size = disk_size;
	o->compact_min = COMPACT_MIN;
	o->nbuckets = 1u << 16;
	o->bucket = calloc(o->nbuckets, sizeof(*o->bucket));
	o->path = strdup(path);
	if (!o->bucket || !o->path) {
		ovl_close(o);
		return fail(err, errlen, -ENOMEM, path);
	}
	o->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (o->fd < 0 || fstat(o->fd, &st) < 0) {
		rc = -errno;
		ovl_close(o);
		return fail(err, errlen, rc, path);
	}
	if (st.st_size < HDR_SIZE) {
		rc = write_header(o);
		o->end = HDR_SIZE;
		if (rc == 0 && ftruncate(o->fd, HDR_SIZE) < 0)
			rc = -errno;
		if (rc == 0 && fsync(o->fd) < 0)
			rc = -errno;
		if (rc < 0) {
			ovl_close(o);
			return fail(err, errlen, rc, path);
		}
		return 0;
	}
	if (pread(o->fd, h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h, file_magic, 8) || get32(h + 8) != 1 ||
	    get32(h + 12) != OVL_BLOCK || get32(h + 40) != crc32c(0, h, 40)) {
		ovl_close(o);
		snprintf(err, errlen, "%s: not a colo-blkrep overlay (or a "
			 "damaged header)", path);
		return -EINVAL;
	}
	if (get64(h + 16) != disk_size) {
		ovl_close(o);
		snprintf(err, errlen, "%s: made for a disk of %llu bytes, not "
			 "%llu", path, (unsigned long long)get64(h + 16),
			 (unsigned long long)disk_size);
		return -EINVAL;
	}
	o->flags = get64(h + 24);
	o->aux = get64(h + 32);
	rc = replay(o);
	if (rc < 0) {
		ovl_close(o);
		return fail(err, errlen, rc, path);
	}
	return 0;
}

void ovl_close(struct overlay *o)
{
	if (o->bucket)
		index_drop(o, UINT64_MAX);
	free(o->bucket);
	o->bucket = NULL;
	free(o->path);
	o->path = NULL;
	if (o->fd >= 0)
		close(o->fd);
	o->fd = -1;
}

static void record_header(uint8_t *rh, uint32_t type, uint64_t block,
			  uint64_t epoch, const void *data)
{
	memset(rh, 0, REC_HDR);
	put32(rh, REC_MAGIC);
	put32(rh + 4, type);
	put64(rh + 8, block);
	put64(rh + 16, epoch);
	put32(rh + 24, data ? crc32c(0, data, OVL_BLOCK) : 0);
	put32(rh + 28, crc32c(0, rh, 28));
}

static int append(struct overlay *o, uint32_t type, uint64_t block,
		  uint64_t epoch, const void *data)
{
	uint8_t rh[REC_HDR];
	ssize_t n;

	record_header(rh, type, block, epoch, data);
	n = pwrite(o->fd, rh, REC_HDR, (off_t)o->end);
	if (n != REC_HDR)
		return n < 0 ? -errno : -EIO;
	if (data) {
		n = pwrite(o->fd, data, OVL_BLOCK, (off_t)(o->end + REC_HDR));
		if (n != OVL_BLOCK)
			return n < 0 ? -errno : -EIO;
	}
	o->end += REC_HDR + (data ? OVL_BLOCK : 0);
	return 0;
}

/* Room in the index for block's version of epoch, made before the
 * record is logged: a logged record the index refused would make the
 * file unreadable at the next open.  Checked (create false) for every
 * block of a run before any entry is made (create true); an entry left
 * empty by a later failure is skipped everywhere and freed by a drop. */
static int index_room(struct overlay *o, uint64_t block, uint64_t epoch,
		      bool create)
{
	struct ovl_entry *e = find(o, block, create);

	if (!e)
		return create ? -ENOMEM : 0;
	if (e->n == OVL_EPOCHS && !ovl_has(o, block, epoch))
		return -ENOSPC;
	return 0;
}

int ovl_put_run(struct overlay *o, uint64_t first, unsigned n, uint64_t epoch,
		const void *data)
{
	const uint64_t rec = REC_HDR + OVL_BLOCK;
	/* 16 KiB at most, on the stack: no allocation on the write path. */
	uint8_t rh[OVL_RUN_MAX][REC_HDR];
	struct iovec iov[2 * OVL_RUN_MAX];
	int rc = 0;

	if (n == 0 || n > OVL_RUN_MAX)
		return n ? -EINVAL : 0;
	for (unsigned i = 0; rc == 0 && i < n; i++)
		rc = index_room(o, first + i, epoch, false);
	for (unsigned i = 0; rc == 0 && i < n; i++)
		rc = index_room(o, first + i, epoch, true);
	if (rc < 0)
		return rc;
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *p = (const uint8_t *)data + (size_t)i * OVL_BLOCK;

		record_header(rh[i], REC_DATA, first + i, epoch, p);
		iov[2 * i] = (struct iovec){ rh[i], REC_HDR };
		iov[2 * i + 1] = (struct iovec){ (void *)p, OVL_BLOCK };
	}
	rc = util_pwritev_all(o->fd, iov, 2 * (int)n, o->end);
	if (rc == 0) {
		uint64_t at = o->end;

		/* Past the records before the index points at them, so no
		 * later append can land on one. */
		o->end += n * rec;
		for (unsigned i = 0; rc == 0 && i < n; i++)
			rc = index_put(o, first + i, epoch,
				       at + i * rec + REC_HDR);
	} else if (ftruncate(o->fd, (off_t)o->end) < 0) {
		/* Whole records the failed write left past the end would
		 * replay after a restart: cut off (best effort). */
		log_warn("%s: cannot cut off a failed write: %s", o->path,
			 strerror(errno));
	}
	return rc;
}

int ovl_put(struct overlay *o, uint64_t block, uint64_t epoch,
	    const void *data)
{
	return ovl_put_run(o, block, 1, epoch, data);
}

bool ovl_has(struct overlay *o, uint64_t block, uint64_t epoch)
{
	struct ovl_entry *e = find(o, block, false);

	for (int i = 0; e && i < e->n; i++)
		if (e->v[i].epoch == epoch)
			return true;
	return false;
}

static int read_ver(struct overlay *o, const struct ovl_ver *v, void *data)
{
	ssize_t n = pread(o->fd, data, OVL_BLOCK, (off_t)v->off);

	return n == OVL_BLOCK ? 1 : n < 0 ? -errno : -EIO;
}

int ovl_read(struct overlay *o, uint64_t block, bool oldest, void *data)
{
	struct ovl_entry *e = find(o, block, false);

	if (!e || !e->n)
		return 0;
	return read_ver(o, &e->v[oldest ? 0 : e->n - 1], data);
}

/* Copies every live version into a new file, then renames it over the
 * old one: a crash leaves either file whole. */
static int compact(struct overlay *o)
{
	char tmp[4200];
	uint8_t *data = malloc(OVL_BLOCK);
	struct overlay n = *o;
	int rc = data ? 0 : -ENOMEM;

	snprintf(tmp, sizeof(tmp), "%s.new", o->path);
	n.fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (rc == 0 && n.fd < 0)
		rc = -errno;
	if (rc == 0)
		rc = write_header(&n);
	n.end = HDR_SIZE;
	for (uint32_t b = 0; rc == 0 && b < o->nbuckets; b++)
		for (struct ovl_entry *e = o->bucket[b]; rc == 0 && e;
		     e = e->next)
			for (int i = 0; rc == 0 && i < e->n; i++) {
				rc = read_ver(o, &e->v[i], data);
				if (rc > 0)
					rc = append(&n, REC_DATA, e->block,
						    e->v[i].epoch, data);
				/* The new offset, recorded once all is well. */
				e->v[i].off = n.end - OVL_BLOCK;
			}
	if (rc == 0 && fsync(n.fd) < 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, o->path) < 0)
		rc = -errno;
	free(data);
	if (rc < 0) {
		/* The old file and offsets stay: rebuild the index from it. */
		if (n.fd >= 0)
			close(n.fd);
		unlink(tmp);
		index_drop(o, UINT64_MAX);
		return replay(o) < 0 ? rc : 0;
	}
	close(o->fd);
	o->fd = n.fd;
	o->end = n.end;
	util_sync_parent(o->path);
	return 0;
}

int ovl_drop(struct overlay *o, uint64_t upto)
{
	int rc;

	index_drop(o, upto);
	if (o->live == 0) {
		/* Nothing left: start the log again. */
		if (ftruncate(o->fd, HDR_SIZE) < 0)
			return -errno;
		o->end = HDR_SIZE;
		return 0;
	}
	rc = append(o, REC_DROP, 0, upto, NULL);
	/* Dropped versions stay in the log until it is rewritten: do so
	 * when they are most of it. */
	if (rc == 0 && o->end > o->compact_min &&
	    o->end > 4 * (HDR_SIZE + o->live * (REC_HDR + OVL_BLOCK)))
		rc = compact(o);
	return rc;
}

int ovl_sync(struct overlay *o)
{
	return fdatasync(o->fd) < 0 ? -errno : 0;
}

int ovl_set_aux(struct overlay *o, uint64_t aux, bool durable)
{
	int rc;

	o->aux = aux;
	rc = write_header(o);
	return rc < 0 || !durable ? rc : ovl_sync(o);
}

int ovl_set_flags(struct overlay *o, uint64_t flags)
{
	int rc;

	o->flags = flags;
	rc = write_header(o);
	return rc < 0 ? rc : ovl_sync(o);
}

int ovl_each(struct overlay *o, bool oldest,
	     int (*fn)(void *opaque, uint64_t block, const void *data),
	     void *opaque)
{
	uint8_t *buf = malloc(OVL_BLOCK);
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	for (uint32_t b = 0; rc == 0 && b < o->nbuckets; b++)
		for (struct ovl_entry *e = o->bucket[b]; rc == 0 && e;
		     e = e->next) {
			if (e->n == 0)
				continue;
			rc = read_ver(o, &e->v[oldest ? 0 : e->n - 1], buf);
			if (rc > 0)
				rc = fn(opaque, e->block, buf);
		}
	free(buf);
	return rc < 0 ? rc : 0;
}

uint64_t ovl_max_epoch(struct overlay *o)
{
	uint64_t max = 0;

	for (uint32_t b = 0; b < o->nbuckets; b++)
		for (struct ovl_entry *e = o->bucket[b]; e; e = e->next)
			if (e->n && e->v[e->n - 1].epoch > max)
				max = e->v[e->n - 1].epoch;
	return max;
}
