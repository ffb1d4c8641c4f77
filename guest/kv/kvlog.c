/* The append-only log on the first virtio-blk disk.
 *
 * Sector 0 holds a header; records follow as a byte stream from byte 512:
 *   u32 length, u32 CRC-32C of the payload, payload.
 * Each commit rewrites the partial tail sector and appends whole sectors
 * (zero-padded), then issues FLUSH; only then do replies leave.  Replay
 * stops at the first record that is zero, too long or fails its CRC: a
 * torn tail, ignored. */
#include "kv.h"

#define SECTOR		512
#define LOG_START	SECTOR
#define REC_MAX		(1u << 20)
#define MAGIC		"COLOKVLG"
#define T_IN		0
#define T_OUT		1
#define T_FLUSH		4
#define F_FLUSH		(1ull << 9)

static struct vdev blk;
static uint64_t capacity;	/* bytes */
static uint64_t tail;		/* next record's byte offset */
static uint8_t *tail_sector;	/* the sector holding tail, as on disk */
static uint8_t *pending;
static size_t pending_len, pending_cap;
static int have_log;
uint64_t kvlog_replayed;

static int blk_rw(uint32_t type, uint64_t sector, void *buf, uint32_t len)
{
	static struct {
		uint32_t type, reserved;
		uint64_t sector;
	} req;
	static volatile uint8_t status;
	struct gbuf out[2] = { { &req, sizeof(req) }, { buf, len } };
	struct gbuf in[2] = { { buf, len }, { (void *)&status, 1 } };
	struct gvq *q = &blk.q[0];

	req.type = type;
	req.reserved = 0;
	req.sector = sector;
	status = 0xff;
	if (type == T_OUT)
		gvq_add(q, out, 2, &in[1], 1, &req);
	else if (type == T_IN)
		gvq_add(q, out, 1, in, 2, &req);
	else
		gvq_add(q, out, 1, &in[1], 1, &req);
	gvq_kick(q);
	while (!gvq_get(q, NULL))
		cpu_relax();
	return status == 0 ? 0 : -1;
}

static int replay(void)
{
	const uint32_t chunk = 64 * 1024;
	uint8_t *buf = galloc(chunk + REC_MAX + 8, 4096);
	uint64_t base = LOG_START, filled = 0, off = 0;

	for (;;) {
		uint32_t len, crc;

		/* Keep at least one whole record header and body in buf. */
		if (filled - off < 8 + REC_MAX && base + filled < capacity) {
			uint32_t n = chunk;

			memmove(buf, buf + off, filled - off);
			base += off;
			filled -= off;
			off = 0;
			if (base + filled + n > capacity)
				n = (uint32_t)(capacity - base - filled);
			n &= ~(SECTOR - 1u);
			if (n && blk_rw(T_IN, (base + filled) / SECTOR,
					buf + filled, n) < 0)
				return -1;
			filled += n;
		}
		if (filled - off < 8)
			break;
		memcpy(&len, buf + off, 4);
		memcpy(&crc, buf + off + 4, 4);
		if (len == 0 || len > REC_MAX || len > filled - off - 8 ||
		    crc32c(0, buf + off + 8, len) != crc)
			break;		/* the end, or a torn tail */
		if (kv_apply_log(buf + off + 8, len) < 0)
			break;
		kvlog_replayed++;
		off += 8 + len;
	}
	tail = base + off;
	return 0;
}

int kvlog_init(void)
{
	uint8_t *hdr;

	if (vdev_find(&blk, 2, 0) < 0)
		return -1;
	if (vdev_init(&blk, F_FLUSH | VIRTIO_RING_F_EVENT_IDX, 1) < 0)
		return -1;
	capacity = ((uint64_t)vdev_config32(&blk, 0) |
		    ((uint64_t)vdev_config32(&blk, 4) << 32)) * SECTOR;
	if (capacity < 64 * 1024)
		panic("the log disk is too small");
	hdr = galloc(SECTOR, SECTOR);
	tail_sector = galloc(SECTOR, SECTOR);
	if (blk_rw(T_IN, 0, hdr, SECTOR) < 0)
		panic("cannot read the log disk");
	if (memcmp(hdr, MAGIC, 8) != 0) {
		memset(hdr, 0, SECTOR);
		memcpy(hdr, MAGIC, 8);
		if (blk_rw(T_OUT, 0, hdr, SECTOR) < 0 ||
		    blk_rw(T_IN, 1, tail_sector, SECTOR) < 0)
			panic("cannot write the log header");
		/* A new log: the first record's header must read as zero. */
		memset(tail_sector, 0, SECTOR);
		if (blk_rw(T_OUT, 1, tail_sector, SECTOR) < 0 ||
		    blk_rw(T_FLUSH, 0, NULL, 0) < 0)
			panic("cannot initialise the log");
		tail = LOG_START;
	} else if (replay() < 0) {
		panic("cannot read the log");
	}
	if (blk_rw(T_IN, tail / SECTOR, tail_sector, SECTOR) < 0)
		panic("cannot read the log tail");
	have_log = 1;
	gprintf("KVLOG replayed %lu records, tail at %lu of %lu bytes\n",
		kvlog_replayed, tail, capacity);
	return 0;
}

int kvlog_available(void)
{
	return !have_log || tail + pending_len + REC_MAX + 8 < capacity;
}

int kvlog_pending(void)
{
	return pending_len != 0;
}

int kvlog_append(const void *rec, size_t len)
{
	uint32_t l = (uint32_t)len, crc;

	if (!have_log)
		return 0;
	if (len == 0 || len > REC_MAX)
		return -1;
	if (pending_len + 8 + len > pending_cap) {
		size_t cap = pending_cap ? pending_cap * 2 : 65536;

		while (cap < pending_len + 8 + len)
			cap *= 2;
		pending = krealloc(pending, cap);
		if (!pending)
			panic("out of memory for the log buffer");
		pending_cap = cap;
	}
	crc = crc32c(0, rec, len);
	memcpy(pending + pending_len, &l, 4);
	memcpy(pending + pending_len + 4, &crc, 4);
	memcpy(pending + pending_len + 8, rec, len);
	pending_len += 8 + len;
	return 0;
}

int kvlog_commit(void)
{
	static uint8_t *io;
	static size_t io_cap;
	uint64_t first = tail / SECTOR, lead = tail % SECTOR;
	size_t span;

	if (!have_log || !pending_len)
		return 0;
	/* Whole sectors from the tail's sector, with one zero sector after
	 * the records so replay sees where they end. */
	span = ((lead + pending_len + SECTOR - 1) / SECTOR + 1) * SECTOR;
	if (tail + pending_len + SECTOR > capacity)
		panic("the log is full");
	if (span > io_cap) {
		kfree(io);
		io = kmalloc(span);
		io_cap = span;
		if (!io)
			panic("out of memory for log I/O");
	}
	memcpy(io, tail_sector, lead);
	memcpy(io + lead, pending, pending_len);
	memset(io + lead + pending_len, 0, span - lead - pending_len);
	if (blk_rw(T_OUT, first, io, (uint32_t)span) < 0 ||
	    blk_rw(T_FLUSH, 0, NULL, 0) < 0)
		return -1;
	tail += pending_len;
	memcpy(tail_sector, io + (tail / SECTOR - first) * SECTOR, SECTOR);
	pending_len = 0;
	return 0;
}
