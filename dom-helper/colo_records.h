/* The helper's record of the checkpoints it took part in: a ring of the
 * last COLO_RECORDS, filled by the COLO thread and read by the control
 * thread, from which colod copies them into its database. */
#ifndef DH_COLO_RECORDS_H
#define DH_COLO_RECORDS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define COLO_RECORDS 1024

enum colo_trigger {
	COLO_TRIGGER_NONE,
	COLO_TRIGGER_TIMER,
	COLO_TRIGGER_MANUAL,
	COLO_TRIGGER_MISMATCH,
};

struct colo_record {
	uint64_t seq;
	uint64_t time_ms;	/* wall clock, at the start */
	uint64_t pause_us, dirty_pages, bytes, duration_us;
	enum colo_trigger trigger;
	bool primary;
};

struct colo_records {
	pthread_mutex_t lock;
	struct colo_record ring[COLO_RECORDS];
	uint64_t n;		/* records ever added */
};

const char *colo_trigger_name(enum colo_trigger t);
void colo_records_init(struct colo_records *r);
void colo_records_add(struct colo_records *r, const struct colo_record *rec);
/* Copies, oldest first, up to max records with seq > since into out;
 * returns how many. */
size_t colo_records_since(struct colo_records *r, uint64_t since,
		struct colo_record *out, size_t max);

#endif
