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

/* A child votes (in), takes writes but no votes while it is copied from
 * the others (rejoining, quorum_rejoin.c), or is left out after a
 * rejoin failed.  An NBD child given up stays in, its every command
 * failing at once, until it rejoins. */
enum quorum_child_state { QCH_IN, QCH_REJOINING, QCH_OUT };

struct quorum_child {
	char name[64];		/* node-name in the events */
	char path[4096];	/* as given: reopened by a rejoin */
	struct image img;
	enum quorum_child_state state;
	uint64_t bad, repaired;
};

/* The copy that brings a child back (quorum_rejoin.c). */
struct quorum_rejoin {
	pthread_t thread;
	bool started;		/* thread to join */
	bool running;		/* under the quorum's lock */
	bool stop;		/* ...ask it to end */
	bool child_failed;	/* a guest write to the child failed */
	int child;
	uint64_t done, total;	/* bytes */
	char error[256];	/* why the last one failed, or "" */
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
	int nbd_ms;		/* quorum_open's, for a rejoin's reopen too */
	struct quorum_rejoin rj;
};

/* Opens the children (same size each).  threshold 0 means a majority.
 * An NBD child must connect, and later answer each command, within
 * nbd_ms (0: no limit): one whose host vanished must not hold the
 * quorum. */
int quorum_open(struct quorum *q, char *const paths[], int n, int threshold,
		bool fifo, bool rewrite, int nbd_ms, char *err, size_t errlen);
void quorum_close(struct quorum *q);

int quorum_read(struct quorum *q, void *buf, size_t len, uint64_t off);
/* The same with q->lock held (for quorum_rejoin.c). */
int quorum_read_locked(struct quorum *q, void *buf, size_t len,
		uint64_t off);
int quorum_write(struct quorum *q, const void *buf, size_t len, uint64_t off,
		 bool fua);
int quorum_zero(struct quorum *q, uint64_t len, uint64_t off, bool fua);
int quorum_trim(struct quorum *q, uint64_t len, uint64_t off);
int quorum_flush(struct quorum *q);

/* quorum_rejoin.c: reopens the child named node and copies the whole
 * disk to it from a vote of the others, in the background, while guest
 * writes reach it too; it votes again once the copy is done.  0, or
 * -errno with err set (no such child, a rejoin running, too few others
 * to vote, the child cannot be opened). */
int quorum_rejoin_start(struct quorum *q, const char *node, char *err,
		size_t errlen);
/* Ends a running rejoin (the child stays out) and waits for it. */
void quorum_rejoin_stop(struct quorum *q);
/* "in", "lost" (an NBD child given up), "rejoining" or "out". */
const char *quorum_child_state(struct quorum *q, int i);

#endif
