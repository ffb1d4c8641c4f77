/* Quorum over local image files.  Voting is per request: each child's
 * bytes for the range are hashed, equal hashes form a group, and the
 * largest group wins if it reaches the threshold.  Events are limited to
 * ten a second, so a failing child cannot flood the event stream; the
 * rest are counted. */
#include "config.h"
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "colo-qapi-events.h"
#include "log.h"
#include "quorum.h"
#include "sha256.h"
#include "util.h"

#define EVENT_GAP_US 100000
#define SECTOR 512

int quorum_open(struct quorum *q, char *const paths[], int n, int threshold,
		bool fifo, bool rewrite, int nbd_ms, char *err, size_t errlen)
{
	memset(q, 0, sizeof(*q));
	q->nbd_ms = nbd_ms;
	if (n < 1 || n > QUORUM_MAX) {
		snprintf(err, errlen, "a quorum has 1 to %d children", QUORUM_MAX);
		return -EINVAL;
	}
	if (threshold == 0)
		threshold = n / 2 + 1;
	if (threshold < 1 || threshold > n) {
		snprintf(err, errlen, "vote-threshold must be 1 to %d", n);
		return -EINVAL;
	}
	for (int i = 0; i < n; i++) {
		char tmp[4096];
		int rc = image_open_within(&q->ch[i].img, paths[i], false, nbd_ms,
					   err, errlen);

		if (rc < 0) {
			q->n = i;
			quorum_close(q);
			return rc;
		}
		q->n = i + 1;
		snprintf(q->ch[i].path, sizeof(q->ch[i].path), "%s", paths[i]);
		snprintf(tmp, sizeof(tmp), "%s", paths[i]);
		snprintf(q->ch[i].name, sizeof(q->ch[i].name), "%s",
			 basename(tmp));
		if (q->ch[i].img.size != q->ch[0].img.size) {
			snprintf(err, errlen, "%s is %llu bytes, %s %llu: the "
				 "children must be the same size", paths[i],
				 (unsigned long long)q->ch[i].img.size, paths[0],
				 (unsigned long long)q->ch[0].img.size);
			quorum_close(q);
			return -EINVAL;
		}
	}
	q->threshold = threshold;
	q->fifo = fifo;
	q->rewrite = rewrite;
	q->reference = "quorum";
	pthread_mutex_init(&q->lock, NULL);
	return 0;
}

void quorum_close(struct quorum *q)
{
	for (int i = 0; i < q->n; i++)
		image_close(&q->ch[i].img);
	q->n = 0;
}

static bool may_emit(struct quorum *q)
{
	uint64_t now = util_mono_us();

	if (now - q->last_event_us < EVENT_GAP_US && q->events) {
		q->suppressed++;
		return false;
	}
	q->last_event_us = now;
	q->events++;
	return true;
}

static void report_bad(struct quorum *q, int i, int ret, uint64_t off,
		       uint64_t len)
{
	struct qev_quorum_report_bad ev = {
		.ret = ret, .node_name = q->ch[i].name,
		.sector_num = (int64_t)(off / SECTOR),
		.sector_count = (int64_t)((len + SECTOR - 1) / SECTOR),
	};

	q->ch[i].bad++;
	log_warn("quorum: child %s %s at sector %lld (+%lld)", q->ch[i].name,
		 ret ? strerror(-ret) : "lost the vote",
		 (long long)ev.sector_num, (long long)ev.sector_count);
	if (q->sink && may_emit(q))
		qapi_event_send_quorum_report_bad(q->sink, &ev);
}

static void report_failure(struct quorum *q, uint64_t off, uint64_t len)
{
	struct qev_quorum_failure ev = {
		.reference = (char *)q->reference,
		.sector_num = (int64_t)(off / SECTOR),
		.sector_count = (int64_t)((len + SECTOR - 1) / SECTOR),
	};

	q->failures++;
	log_error("quorum: no %d children agree at sector %lld (+%lld)",
		  q->threshold, (long long)ev.sector_num,
		  (long long)ev.sector_count);
	if (q->sink && may_emit(q))
		qapi_event_send_quorum_failure(q->sink, &ev);
}

static bool voting(const struct quorum *q, int i)
{
	return q->ch[i].state == QCH_IN;
}

static int read_fifo(struct quorum *q, void *buf, size_t len, uint64_t off)
{
	int rc = -EIO;

	for (int i = 0; i < q->n; i++) {
		if (!voting(q, i))
			continue;
		rc = image_read(&q->ch[i].img, buf, len, off);
		if (rc == 0)
			return 0;
		report_bad(q, i, rc, off, len);
	}
	return rc;
}

/* The vote: children with equal hashes vote together. */
static int read_vote(struct quorum *q, void *buf, size_t len, uint64_t off)
{
	uint8_t *data[QUORUM_MAX] = { NULL }, hash[QUORUM_MAX][SHA256_LEN];
	int rc[QUORUM_MAX], votes[QUORUM_MAX], best = -1, out = 0;

	for (int i = 0; i < q->n; i++) {
		data[i] = voting(q, i) ? malloc(len ? len : 1) : NULL;
		rc[i] = !voting(q, i) ? -ENODATA :
			data[i] ? image_read(&q->ch[i].img, data[i], len, off) :
			-ENOMEM;
		if (rc[i] == 0)
			sha256(data[i], len, hash[i]);
	}
	for (int i = 0; i < q->n; i++) {
		votes[i] = 0;
		for (int j = 0; rc[i] == 0 && j < q->n; j++)
			if (rc[j] == 0 && !memcmp(hash[i], hash[j], SHA256_LEN))
				votes[i]++;
		if (votes[i] && (best < 0 || votes[i] > votes[best]))
			best = i;
	}
	if (best < 0 || votes[best] < q->threshold) {
		report_failure(q, off, len);
		out = -EIO;
		goto done;
	}
	memcpy(buf, data[best], len);
	for (int i = 0; i < q->n; i++) {
		if (!voting(q, i) ||
		    (rc[i] == 0 && !memcmp(hash[i], hash[best], SHA256_LEN)))
			continue;
		report_bad(q, i, rc[i], off, len);
		/* The winning data goes back where it lost (or failed). */
		if (q->rewrite &&
		    image_write(&q->ch[i].img, data[best], len, off, true) == 0)
			q->ch[i].repaired++;
	}
done:
	for (int i = 0; i < q->n; i++)
		free(data[i]);
	return out;
}

int quorum_read_locked(struct quorum *q, void *buf, size_t len, uint64_t off)
{
	return q->fifo ? read_fifo(q, buf, len, off) :
	       read_vote(q, buf, len, off);
}

int quorum_read(struct quorum *q, void *buf, size_t len, uint64_t off)
{
	int rc;

	pthread_mutex_lock(&q->lock);
	rc = quorum_read_locked(q, buf, len, off);
	pthread_mutex_unlock(&q->lock);
	return rc;
}

/* Runs op on every child; enough successes of voting children make it
 * succeed.  A rejoining child takes it too (its copy must not fall
 * behind) but does not count; if it fails, its rejoin does. */
static int each(struct quorum *q, uint64_t off, uint64_t len,
		int (*op)(struct image *img, void *arg), void *arg)
{
	int ok = 0;

	pthread_mutex_lock(&q->lock);
	for (int i = 0; i < q->n; i++) {
		int rc;

		if (q->ch[i].state == QCH_OUT)
			continue;
		rc = op(&q->ch[i].img, arg);
		if (q->ch[i].state == QCH_REJOINING) {
			if (rc < 0)
				q->rj.child_failed = true;
		} else if (rc == 0) {
			ok++;
		} else {
			report_bad(q, i, rc, off, len);
		}
	}
	pthread_mutex_unlock(&q->lock);
	return ok >= q->threshold ? 0 : -EIO;
}

struct wr {
	const void *buf;
	uint64_t len, off;
	bool fua;
};

static int op_write(struct image *img, void *arg)
{
	struct wr *w = arg;

	return image_write(img, w->buf, w->len, w->off, w->fua);
}

static int op_zero(struct image *img, void *arg)
{
	struct wr *w = arg;

	return image_zero(img, w->len, w->off, true, w->fua);
}

static int op_trim(struct image *img, void *arg)
{
	struct wr *w = arg;

	/* Every child must read back the same: zeros, not "whatever". */
	return image_zero(img, w->len, w->off, false, false);
}

static int op_flush(struct image *img, void *arg)
{
	(void)arg;
	return image_flush(img);
}

int quorum_write(struct quorum *q, const void *buf, size_t len, uint64_t off,
		 bool fua)
{
	struct wr w = { buf, len, off, fua };

	return each(q, off, len, op_write, &w);
}

int quorum_zero(struct quorum *q, uint64_t len, uint64_t off, bool fua)
{
	struct wr w = { NULL, len, off, fua };

	return each(q, off, len, op_zero, &w);
}

int quorum_trim(struct quorum *q, uint64_t len, uint64_t off)
{
	struct wr w = { NULL, len, off, false };

	return each(q, off, len, op_trim, &w);
}

int quorum_flush(struct quorum *q)
{
	return each(q, 0, 0, op_flush, NULL);
}
