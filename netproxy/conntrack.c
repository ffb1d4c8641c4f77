/* Connection table: chained hashing on a normalised 5-tuple (plus VLAN),
 * with an LRU list so that a full table evicts one idle flow rather than
 * clearing everything as QEMU's colo-compare does. */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "conntrack.h"

int conn_table_init(struct conn_table *t, uint32_t max)
{
	memset(t, 0, sizeof(*t));
	if (max == 0)
		return -EINVAL;
	t->max = max;
	t->nbuckets = 64;
	while (t->nbuckets < max && t->nbuckets < (1u << 22))
		t->nbuckets <<= 1;
	t->bucket = calloc(t->nbuckets, sizeof(*t->bucket));
	return t->bucket ? 0 : -ENOMEM;
}

static void lru_unlink(struct conn_table *t, struct np_conn *c)
{
	if (c->lru_prev)
		c->lru_prev->lru_next = c->lru_next;
	else
		t->lru_head = c->lru_next;
	if (c->lru_next)
		c->lru_next->lru_prev = c->lru_prev;
	else
		t->lru_tail = c->lru_prev;
	c->lru_prev = c->lru_next = NULL;
}

static void lru_push(struct conn_table *t, struct np_conn *c)
{
	c->lru_next = t->lru_head;
	c->lru_prev = NULL;
	if (t->lru_head)
		t->lru_head->lru_prev = c;
	t->lru_head = c;
	if (!t->lru_tail)
		t->lru_tail = c;
}

/* FNV-1a: the key is small and attacker-chosen addresses only make one
 * chain longer, which the table bound caps. */
static uint32_t key_hash(const struct conn_key *k)
{
	const uint8_t *p = (const uint8_t *)k;
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static void free_queue(struct np_queue *q)
{
	while (q->head) {
		struct np_pkt *p = q->head;

		q->head = p->next;
		free(p);
	}
	q->tail = NULL;
	q->n = 0;
}

void conn_remove(struct conn_table *t, struct np_conn *c)
{
	struct np_conn **pp = &t->bucket[key_hash(&c->key) & (t->nbuckets - 1)];

	while (*pp && *pp != c)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = c->hnext;
	lru_unlink(t, c);
	free_queue(&c->q[0]);
	free_queue(&c->q[1]);
	free(c);
	t->n--;
}

void conn_table_fini(struct conn_table *t)
{
	while (t->lru_head)
		conn_remove(t, t->lru_head);
	free(t->bucket);
	t->bucket = NULL;
}

void conn_key_from(struct conn_key *k, const struct frame_info *fi)
{
	int alen = fi->ipver == 6 ? 16 : 4, swap;

	memset(k, 0, sizeof(*k));
	k->ipver = fi->ipver;
	k->proto = fi->proto;
	k->vlan = fi->vlan;
	k->ethertype = fi->ethertype;
	if (!fi->ipver)
		return;		/* all of one ethertype share an entry */
	swap = memcmp(fi->src, fi->dst, (size_t)alen);
	if (swap == 0)
		swap = fi->sport > fi->dport;
	else
		swap = swap > 0;
	memcpy(k->addr[swap], fi->src, (size_t)alen);
	memcpy(k->addr[!swap], fi->dst, (size_t)alen);
	k->port[swap] = fi->sport;
	k->port[!swap] = fi->dport;
}

struct np_conn *conn_lookup(struct conn_table *t, const struct conn_key *k,
			    bool create)
{
	uint32_t b = key_hash(k) & (t->nbuckets - 1);
	struct np_conn *c;

	for (c = t->bucket[b]; c; c = c->hnext)
		if (memcmp(&c->key, k, sizeof(*k)) == 0) {
			lru_unlink(t, c);
			lru_push(t, c);
			return c;
		}
	if (!create)
		return NULL;
	if (t->n >= t->max && t->lru_tail) {
		struct np_conn *old = t->lru_tail;

		if (t->on_evict)
			t->on_evict(t->opaque, old);
		conn_remove(t, old);
		t->evicted++;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->key = *k;
	c->hnext = t->bucket[b];
	t->bucket[b] = c;
	lru_push(t, c);
	t->n++;
	return c;
}
