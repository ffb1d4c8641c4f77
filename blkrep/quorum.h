/* Quorum: one disk kept on N children (image files); every write goes to
 * all of them and succeeds when at least vote-threshold do; a read
 * (read-pattern quorum) reads every child and returns the data that a
 * SHA-256 vote of at least vote-threshold children agrees on, reporting
 * the others (QUORUM_REPORT_BAD) and, with rewrite-corrupted, repairing
 * them; no such majority is QUORUM_FAILURE and EIO.  read-pattern fifo
 * reads the first child that answers. */
#ifndef COLO_BLKREP_QUORUM_H
#define COLO_BLKREP_QUORUM_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "image.h"

#define QUORUM_MAX 8

struct qapi_event_sink;

struct quorum_child {
	char name[64];		/* node-name in the events */
	struct image img;
	uint64_t bad, repaired;
};

struct quorum {
	pthread_mutex_t lock;	/* a vote sees the children whole */
	struct quorum_child ch[QUORUM_MAX];
	int n, threshold;
	bool fifo, rewrite;
	const char *reference;	/* the quorum's name in the events */
	const struct qapi_event_sink *sink;	/* NULL: log only */
	uint64_t last_event_us;
	uint64_t events, suppressed, failures;
};

/* Opens the children (same size each).  threshold 0 means a majority. */
int quorum_open(struct quorum *q, char *const paths[], int n, int threshold,
		bool fifo, bool rewrite, char *err, size_t errlen);
void quorum_close(struct quorum *q);

int quorum_read(struct quorum *q, void *buf, size_t len, uint64_t off);
int quorum_write(struct quorum *q, const void *buf, size_t len, uint64_t off,
		 bool fua);
int quorum_zero(struct quorum *q, uint64_t len, uint64_t off, bool fua);
int quorum_trim(struct quorum *q, uint64_t len, uint64_t off);
int quorum_flush(struct quorum *q);

#endif
