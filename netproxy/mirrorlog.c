/* The mirrored-input log: a ring bounded in frames and bytes.  Dropping
 * an unconsumed frame on overflow is counted, since a later load can then
 * no longer replay exactly. */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "mirrorlog.h"

int mlog_init(struct mlog *m, size_t max_frames, uint64_t max_bytes)
{
	memset(m, 0, sizeof(*m));
	if (max_frames == 0)
		return -EINVAL;		/* no slot to wrap around */
	m->ring = calloc(max_frames, sizeof(*m->ring));
	m->cap = max_frames;
	m->max_bytes = max_bytes;
	return m->ring ? 0 : -ENOMEM;
}

static void drop_oldest(struct mlog *m)
{
	struct mlog_ent *e = &m->ring[m->head];

	m->bytes -= e->len;
	free(e->data);
	e->data = NULL;
	m->head = (m->head + 1) % m->cap;
	m->count--;
}

void mlog_reset(struct mlog *m)
{
	while (m->count)
		drop_oldest(m);
	m->next_no = 0;
}

void mlog_fini(struct mlog *m)
{
	if (!m->ring)
		return;
	mlog_reset(m);
	free(m->ring);
	m->ring = NULL;
}

uint64_t mlog_append(struct mlog *m, const uint8_t *f, size_t len)
{
	struct mlog_ent *e;

	while (m->count && (m->count == m->cap ||
			    m->bytes + len > m->max_bytes)) {
		drop_oldest(m);
		m->overflow++;
	}
	e = &m->ring[(m->head + m->count) % m->cap];
	e->data = malloc(len ? len : 1);
	if (!e->data) {
		m->overflow++;
		return m->next_no++;
	}
	memcpy(e->data, f, len);
	e->len = (uint32_t)len;
	e->no = m->next_no;
	m->bytes += len;
	m->count++;
	return m->next_no++;
}

void mlog_drop_below(struct mlog *m, uint64_t no)
{
	while (m->count && m->ring[m->head].no < no)
		drop_oldest(m);
}

uint64_t mlog_replay(struct mlog *m, uint64_t from,
		     bool (*fn)(void *opaque, const uint8_t *f, size_t len),
		     void *opaque)
{
	for (size_t i = 0; i < m->count; i++) {
		struct mlog_ent *e = &m->ring[(m->head + i) % m->cap];

		if (e->no < from)
			continue;
		if (!fn(opaque, e->data, e->len))
			return e->no;
	}
	return m->next_no;
}
