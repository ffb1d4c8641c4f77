/* The ring of checkpoint records; see colo_records.h. */
#include "config.h"
#include <string.h>
#include "colo_records.h"

const char *colo_trigger_name(enum colo_trigger t)
{
	switch (t) {
	case COLO_TRIGGER_TIMER:
		return "timer";
	case COLO_TRIGGER_MANUAL:
		return "manual";
	case COLO_TRIGGER_MISMATCH:
		return "mismatch";
	default:
		return "none";
	}
}

void colo_records_init(struct colo_records *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
}

void colo_records_add(struct colo_records *r, const struct colo_record *rec)
{
	pthread_mutex_lock(&r->lock);
	r->ring[r->n % COLO_RECORDS] = *rec;
	r->n++;
	pthread_mutex_unlock(&r->lock);
}

size_t colo_records_since(struct colo_records *r, uint64_t since,
		struct colo_record *out, size_t max)
{
	size_t k = 0;
	uint64_t first;

	pthread_mutex_lock(&r->lock);
	first = r->n > COLO_RECORDS ? r->n - COLO_RECORDS : 0;
	for (uint64_t i = first; i < r->n && k < max; i++) {
		const struct colo_record *rec = &r->ring[i % COLO_RECORDS];

		if (rec->seq > since)
			out[k++] = *rec;
	}
	pthread_mutex_unlock(&r->lock);
	return k;
}
