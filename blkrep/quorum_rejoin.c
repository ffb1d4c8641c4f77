/* Bringing a quorum child back: after its host came back (an NBD child
 * given up), or after its file was replaced, the child is reopened and
 * the whole disk copied to it from a vote of the others, chunk by chunk
 * under the quorum's lock, so that a guest write cannot fall between a
 * chunk's read and its write.  Guest writes reach the child meanwhile;
 * it votes again only once every chunk is copied and flushed.  A child
 * whose copy fails is left out, neither voting nor written. */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "log.h"
#include "quorum.h"

#define CHUNK (1u << 20)

const char *quorum_child_state(struct quorum *q, int i)
{
	switch (q->ch[i].state) {
	case QCH_REJOINING:
		return "rejoining";
	case QCH_OUT:
		return "out";
	default:
		return q->ch[i].img.nbd_lost ? "lost" : "in";
	}
}

/* One chunk from the vote to the child; lock held. */
static int copy_chunk(struct quorum *q, struct quorum_child *c, uint8_t *buf,
		      uint64_t off, size_t n)
{
	int rc;

	if (q->rj.stop)
		return -ECANCELED;
	if (q->rj.child_failed)
		return -EIO;
	rc = quorum_read_locked(q, buf, n, off);
	if (rc == 0)
		rc = image_write(&c->img, buf, n, off, false);
	return rc;
}

/* The end of a rejoin, lock held: the child votes, or stays out.  at:
 * where the copy stopped. */
static void finish(struct quorum *q, struct quorum_child *c, int rc,
		   uint64_t at)
{
	if (rc == 0)
		rc = image_flush(&c->img);
	/* A guest write it failed after the last chunk leaves it stale. */
	if (rc == 0 && q->rj.child_failed)
		rc = -EIO;
	q->rj.running = false;
	if (rc < 0) {
		c->state = QCH_OUT;
		snprintf(q->rj.error, sizeof(q->rj.error), "%s at byte %llu",
			 rc == -EIO && !q->rj.child_failed ?
			 "no majority of the others, or they failed" :
			 strerror(-rc), (unsigned long long)at);
		log_error("quorum: child %s did not rejoin: %s; it stays out",
			  c->name, q->rj.error);
		return;
	}
	c->state = QCH_IN;
	log_info("quorum: child %s rejoined: %llu bytes copied", c->name,
		 (unsigned long long)q->rj.done);
}

static void *rejoin_thread(void *arg)
{
	struct quorum *q = arg;
	struct quorum_child *c = &q->ch[q->rj.child];
	uint64_t size = c->img.size;
	uint8_t *buf = malloc(CHUNK);
	int rc = buf ? 0 : -ENOMEM, tenth = 0;
	uint64_t off;
	/* Test knob (colo-blkrep(8)): a copy slow enough to write into. */
	const char *slow = getenv("COLO_BLKREP_TEST_RESYNC_DELAY_MS");
	unsigned delay_ms = slow ? (unsigned)atoi(slow) : 0;

	for (off = 0; rc == 0 && off < size; off += CHUNK) {
		size_t n = size - off < CHUNK ? (size_t)(size - off) : CHUNK;

		pthread_mutex_lock(&q->lock);
		rc = copy_chunk(q, c, buf, off, n);
		if (rc == 0)
			q->rj.done = off + n;
		pthread_mutex_unlock(&q->lock);
		if (rc < 0)
			break;
		if (delay_ms)
			usleep(delay_ms * 1000u);
		if (rc == 0 && q->rj.done * 10 / size > (uint64_t)tenth) {
			tenth = (int)(q->rj.done * 10 / size);
			log_info("quorum: child %s rejoining: %d%%", c->name,
				 tenth * 10);
		}
	}
	pthread_mutex_lock(&q->lock);
	finish(q, c, rc, off);
	pthread_mutex_unlock(&q->lock);
	free(buf);
	return NULL;
}

static int find_child(struct quorum *q, const char *node)
{
	for (int i = 0; i < q->n; i++)
		if (!strcmp(q->ch[i].name, node))
			return i;
	return -1;
}

/* Whether the others can vote without child i; lock held. */
static bool others_vote(struct quorum *q, int i)
{
	int in = 0;

	for (int k = 0; k < q->n; k++)
		if (k != i && q->ch[k].state == QCH_IN && !q->ch[k].img.nbd_lost)
			in++;
	return in >= q->threshold;
}

/* The child opened afresh, without the lock (connecting to a host may
 * take long): its old connection or file may be dead.  A host still
 * down, or one that never finishes the handshake, costs the quorum's
 * NBD timeout, not this thread (it serves the control socket). */
static int open_again(const struct quorum *q, const struct quorum_child *c,
		      struct image *fresh, char *err, size_t errlen)
{
	int rc = image_open_within(fresh, c->path, false, q->nbd_ms, err,
				   errlen);

	if (rc == 0 && fresh->size != c->img.size) {
		snprintf(err, errlen, "%s is %llu bytes now, not %llu",
			 c->path, (unsigned long long)fresh->size,
			 (unsigned long long)c->img.size);
		image_close(fresh);
		rc = -EINVAL;
	}
	return rc;
}

/* The fresh image in place of the old one, and the copy started; lock
 * held. */
static int start_copy(struct quorum *q, int i, const struct image *fresh,
		      char *err, size_t errlen)
{
	struct quorum_child *c = &q->ch[i];
	int rc;

	/* Checked again: another child may have been given up while this
	 * one was opened. */
	if (!others_vote(q, i)) {
		snprintf(err, errlen, "fewer than %d other children vote: "
			 "nothing to copy %s from", q->threshold, c->name);
		return -EAGAIN;
	}
	if (c->state == QCH_IN && !c->img.nbd_lost)
		log_warn("quorum: child %s was voting: until its copy is "
			 "done, one child fewer votes", c->name);
	image_close(&c->img);
	c->img = *fresh;
	c->state = QCH_REJOINING;
	q->rj = (struct quorum_rejoin){ .running = true, .child = i,
					.total = c->img.size };
	rc = -pthread_create(&q->rj.thread, NULL, rejoin_thread, q);
	if (rc < 0) {
		snprintf(err, errlen, "cannot start the copy");
		snprintf(q->rj.error, sizeof(q->rj.error), "%s", err);
		q->rj.running = false;
		c->state = QCH_OUT;
	}
	q->rj.started = rc == 0;
	return rc;
}

int quorum_rejoin_start(struct quorum *q, const char *node, char *err,
		size_t errlen)
{
	int i = find_child(q, node), rc = 0;
	struct image fresh;

	if (i < 0) {
		snprintf(err, errlen, "no quorum child named %s", node);
		return -ENOENT;
	}
	pthread_mutex_lock(&q->lock);
	if (q->rj.running) {
		snprintf(err, errlen, "child %s is rejoining already",
			 q->ch[q->rj.child].name);
		rc = -EBUSY;
	} else if (!others_vote(q, i)) {
		snprintf(err, errlen, "fewer than %d other children vote: "
			 "nothing to copy %s from", q->threshold, node);
		rc = -EAGAIN;
	}
	pthread_mutex_unlock(&q->lock);
	if (rc < 0)
		return rc;
	/* The last rejoin's thread has finished (running is false). */
	if (q->rj.started)
		pthread_join(q->rj.thread, NULL);
	q->rj.started = false;
	rc = open_again(q, &q->ch[i], &fresh, err, errlen);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&q->lock);
	rc = start_copy(q, i, &fresh, err, errlen);
	pthread_mutex_unlock(&q->lock);
	if (rc == -EAGAIN)
		image_close(&fresh);
	if (rc == 0)
		log_info("quorum: child %s rejoining: copying %llu bytes from "
			 "the others", node, (unsigned long long)q->rj.total);
	return rc;
}

void quorum_rejoin_stop(struct quorum *q)
{
	pthread_mutex_lock(&q->lock);
	q->rj.stop = true;
	pthread_mutex_unlock(&q->lock);
	if (q->rj.started)
		pthread_join(q->rj.thread, NULL);
	q->rj.started = false;
}
