/* The comparator.  Each connection holds two queues in arrival order:
 * PVM frames waiting to be released, SVM frames waiting to be matched.
 * TCP is compared as a byte stream from the connection's anchor (the
 * first byte not yet released), so segmentation, retransmits, options and
 * header fields never cause a mismatch; all sequence arithmetic is modular
 * (QEMU's colo-compare compares raw sequence numbers and breaks at the
 * wrap). */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "compare.h"

#define REQUEST_RETRY_US 1000000	/* re-ask if no commit follows */

static bool same_bytes(const struct np_pkt *p, const struct np_pkt *s);

const char *cmp_reason_str(enum cmp_reason r)
{
	static const char *const s[] = { "mismatch", "timeout", "queue-full" };

	return r < CMP_REASON__MAX ? s[r] : "?";
}

const char *cmp_kind_str(enum frame_kind k)
{
	static const char *const s[] = { "other", "ip", "tcp", "udp", "icmp" };

	return (unsigned)k < CMP_KINDS ? s[k] : "?";
}

static void on_evict(void *opaque, struct np_conn *k)
{
	struct comparator *c = opaque;

	/* Dropping held PVM frames is safe (TCP retransmits, UDP may lose);
	 * releasing them uncompared would not be. */
	c->st.evicted++;
	c->st.evicted_held += k->q[0].n;
	c->st.held[0] -= k->q[0].n;
	c->st.held[1] -= k->q[1].n;
}

int cmp_init(struct comparator *c, const struct cmp_config *cfg,
	     cmp_release_fn *release, cmp_request_fn *request, void *opaque)
{
	int rc;

	memset(c, 0, sizeof(*c));
	if (!cfg->max_queue || !cfg->max_conns)
		return -EINVAL;
	rc = conn_table_init(&c->ct, cfg->max_conns);
	if (rc < 0)
		return rc;
	c->ct.on_evict = on_evict;
	c->ct.opaque = c;
	c->cfg = *cfg;
	c->release = release;
	c->request = request;
	c->opaque = opaque;
	return 0;
}

void cmp_fini(struct comparator *c)
{
	if (c->ct.bucket)
		conn_table_fini(&c->ct);
}

static void ask_checkpoint(struct comparator *c, enum cmp_reason why,
			   uint64_t now)
{
	if (c->request_pending && now - c->request_us < REQUEST_RETRY_US) {
		/* The checkpoint under way may predate the mismatch: look
		 * again once it commits (timeouts come back by themselves). */
		if (why == CMP_REASON_MISMATCH)
			c->again = true;
		return;
	}
	c->st.requests[why]++;
	c->request_pending = true;
	c->request_us = now;
	if (c->request)
		c->request(c->opaque, why);
}

static void note_latency(struct comparator *c, uint64_t held_us)
{
	int b = 0;

	while (held_us > 1 && b < CMP_LAT_BUCKETS - 1) {
		held_us >>= 1;
		b++;
	}
	c->st.latency[b]++;
}

/* ---- queues ---------------------------------------------------------- */

static void q_push(struct np_queue *q, struct np_pkt *p)
{
	p->next = NULL;
	if (q->tail)
		q->tail->next = p;
	else
		q->head = p;
	q->tail = p;
	q->n++;
}

/* Unlinks p, whose predecessor is prev (NULL for the head). */
static void q_unlink(struct np_queue *q, struct np_pkt *prev,
		     struct np_pkt *p)
{
	if (prev)
		prev->next = p->next;
	else
		q->head = p->next;
	if (q->tail == p)
		q->tail = prev;
	q->n--;
}

static void release_pkt(struct comparator *c, struct np_pkt *p, uint64_t now)
{
	note_latency(c, now - p->t_us);
	c->release(c->opaque, p->data, p->len);
	free(p);
	c->st.held[0]--;
}

static void drop_svm_pkt(struct comparator *c, struct np_pkt *p)
{
	free(p);
	c->st.held[1]--;
	c->st.svm_dropped++;
}

static void tcp_advance_anchor(struct np_conn *k, const struct np_pkt *p)
{
	uint32_t end = p->seq + p->span;

	if (!k->anchored || seq_lt(k->anchor, end)) {
		k->anchor = end;
		k->anchored = true;
	}
}

/* A PVM segment may acknowledge only input the SVM has acknowledged too:
 * otherwise a client could drop data that the SVM never received, and
 * after a failover the connection would hang. */
static bool ack_ok(const struct np_conn *k, const struct frame_info *fi)
{
	if (!(fi->tcp_flags & TCP_ACK))
		return true;
	return k->s_acked && seq_le(fi->ack, k->s_ack);
}

/* A held PVM segment can go: its bytes (if any) were compared or are a
 * retransmit, and its ack does not run ahead of the SVM's. */
static bool releasable(const struct np_conn *k, const struct np_pkt *p,
		       bool first)
{
	if (!ack_ok(k, &p->fi))
		return false;
	/* A reset after held data would make the client drop that data:
	 * it waits for everything before it. */
	if ((p->fi.tcp_flags & TCP_RST) && !first)
		return false;
	return p->span == 0 ||
	       (k->anchored && seq_le(p->seq + p->span, k->anchor));
}

/* TCP: release PVM frames (and drop SVM frames) whose bytes all lie
 * before the anchor: they were compared, or repeat released bytes. */
static void tcp_sweep(struct comparator *c, struct np_conn *k, uint64_t now)
{
	for (int s = 0; s < 2; s++) {
		struct np_pkt *prev = NULL, *p = k->q[s].head;

		while (p) {
			struct np_pkt *next = p->next;

			if (s == 0 ? releasable(k, p, !prev) :
			    k->anchored && seq_le(p->seq + p->span, k->anchor)) {
				q_unlink(&k->q[s], prev, p);
				if (s == 0)
					release_pkt(c, p, now);
				else
					drop_svm_pkt(c, p);
			} else {
				prev = p;
			}
			p = next;
		}
	}
}

/* The held frame of the compared epoch whose sequence span holds at. */
static struct np_pkt *tcp_covering(struct np_queue *q, uint32_t at,
				   uint64_t epoch)
{
	for (struct np_pkt *p = q->head; p; p = p->next)
		if (p->epoch == epoch && seq_le(p->seq, at) &&
		    seq_lt(at, p->seq + p->span))
			return p;
	return NULL;
}

/* The lowest sequence number held in the epoch, if any. */
static bool lowest_seq(const struct np_queue *q, uint64_t epoch,
		       uint32_t *low)
{
	bool found = false;

	for (const struct np_pkt *p = q->head; p; p = p->next)
		if (p->epoch == epoch && (!found || seq_lt(p->seq, *low))) {
			*low = p->seq;
			found = true;
		}
	return found;
}

/* Keeps the payload from at onward, for the mismatch log. */
static void note_bytes(struct comparator *c, int side, const struct np_pkt *p,
		       uint32_t at)
{
	uint32_t off = at - p->seq, n = 0;

	if (off < p->fi.payload_len) {
		n = p->fi.payload_len - off;
		if (n > sizeof(c->last_bytes[0]))
			n = sizeof(c->last_bytes[0]);
		memcpy(c->last_bytes[side], p->data + p->fi.payload_off + off, n);
	}
	c->last_len[side] = n;
}

static void note_region(struct comparator *c, int side,
			const struct np_pkt *p)
{
	uint32_t n = p->cmp_len;

	if (n > sizeof(c->last_bytes[0]))
		n = sizeof(c->last_bytes[0]);
	memcpy(c->last_bytes[side], p->data + p->cmp_off, n);
	c->last_len[side] = n;
}

/* Compares from the anchor while both sides have the bytes.  Returns
 * false on a mismatch. */
static bool tcp_compare(struct comparator *c, struct np_conn *k)
{
	uint64_t e = c->s_epoch;

	if (!k->anchored) {
		uint32_t lp = 0, ls = 0;

		/* No handshake seen (the flow predates us): start at the
		 * lowest byte either side holds, so that nothing is skipped
		 * uncompared. */
		if (!lowest_seq(&k->q[0], e, &lp) ||
		    !lowest_seq(&k->q[1], e, &ls))
			return true;
		k->anchor = seq_lt(lp, ls) ? lp : ls;
		k->anchored = true;
	}
	for (;;) {
		struct np_pkt *p = tcp_covering(&k->q[0], k->anchor, e);
		struct np_pkt *s = tcp_covering(&k->q[1], k->anchor, e);
		uint32_t n, dp, ds, m;

		if (!p || !s)
			return true;
		n = p->seq + p->span - k->anchor;
		if (s->seq + s->span - k->anchor < n)
			n = s->seq + s->span - k->anchor;
		/* Payload bytes left in each from the anchor; FIN is the
		 * virtual byte after them. */
		dp = p->seq + p->fi.payload_len - k->anchor;
		ds = s->seq + s->fi.payload_len - k->anchor;
		if (seq_lt(p->seq + p->fi.payload_len, k->anchor))
			dp = 0;
		if (seq_lt(s->seq + s->fi.payload_len, k->anchor))
			ds = 0;
		m = n;
		if (dp < m)
			m = dp;
		if (ds < m)
			m = ds;
		if (memcmp(p->data + p->fi.payload_off + (k->anchor - p->seq),
			   s->data + s->fi.payload_off + (k->anchor - s->seq),
			   m)) {
			note_bytes(c, 0, p, k->anchor);
			note_bytes(c, 1, s, k->anchor);
			return false;
		}
		if (m < n) {
			/* One side ends its data here: both must send FIN. */
			if (dp != m || ds != m ||
			    !(p->fi.tcp_flags & TCP_FIN) ||
			    !(s->fi.tcp_flags & TCP_FIN))
				return false;
			n = m + 1;
		}
		k->anchor += n;
		c->st.matched[FRAME_TCP]++;
	}
}

/* UDP, ICMP, other IP and non-IP: frame by frame, in order. */
static bool fifo_compare(struct comparator *c, struct np_conn *k,
			 uint64_t now)
{
	for (;;) {
		struct np_pkt *prev = NULL, *p = k->q[0].head, *s = k->q[1].head;

		while (p && p->epoch != c->s_epoch) {
			prev = p;
			p = p->next;
		}
		if (!p || !s)
			return true;
		if (!same_bytes(p, s)) {
			note_region(c, 0, p);
			note_region(c, 1, s);
			return false;
		}
		c->st.matched[k->kind]++;
		q_unlink(&k->q[1], NULL, s);
		drop_svm_pkt(c, s);
		q_unlink(&k->q[0], prev, p);
		release_pkt(c, p, now);
	}
}

static void conn_compare(struct comparator *c, struct np_conn *k,
			 uint64_t now)
{
	bool ok;

	if (k->diverged == c->s_epoch + 1)
		return;
	if (k->kind == FRAME_TCP) {
		ok = tcp_compare(c, k);
		tcp_sweep(c, k, now);
	} else {
		ok = fifo_compare(c, k, now);
	}
	if (!ok) {
		c->last_key = k->key;
		c->last_kind = k->kind;
		c->last_anchor = k->anchor;
		k->diverged = c->s_epoch + 1;
		c->st.mismatched[k->kind]++;
		ask_checkpoint(c, CMP_REASON_MISMATCH, now);
	}
}

/* ---- input ----------------------------------------------------------- */

/* Which bytes of a non-TCP frame are compared: the payload for UDP and
 * ICMP, the IP datagram for other IP, everything after the MAC
 * addresses otherwise. */
static void set_compared_bytes(struct np_pkt *p)
{
	struct frame_info *fi = &p->fi;

	switch (fi->kind) {
	case FRAME_UDP:
	case FRAME_ICMP:
		p->cmp_off = fi->payload_off;
		p->cmp_len = fi->payload_len;
		break;
	case FRAME_IP:
		p->cmp_off = fi->l3_off;
		p->cmp_len = fi->end - fi->l3_off;
		break;
	default:
		p->cmp_off = 12;
		p->cmp_len = p->len - 12;
		break;
	}
}

/* Equal compared bytes; for other IP, the fields that legitimately
 * differ (IPv4 ID, TTL and header checksum, IPv6 hop limit) are skipped,
 * never changed: the held bytes are the ones released. */
static bool same_bytes(const struct np_pkt *p, const struct np_pkt *s)
{
	static const uint8_t skip4[] = { 4, 5, 8, 10, 11 }, skip6[] = { 7 };
	const uint8_t *a = p->data + p->cmp_off, *b = s->data + s->cmp_off;
	const uint8_t *skip = skip4;
	size_t nskip = sizeof(skip4), at = 0;

	if (p->cmp_len != s->cmp_len)
		return false;
	if (p->fi.kind != FRAME_IP || s->fi.kind != FRAME_IP ||
	    p->fi.ipver != s->fi.ipver)
		return memcmp(a, b, p->cmp_len) == 0;
	if (p->fi.ipver == 6) {
		skip = skip6;
		nskip = sizeof(skip6);
	}
	for (size_t i = 0; i < nskip; i++) {
		if (memcmp(a + at, b + at, skip[i] - at))
			return false;
		at = skip[i] + 1u;
	}
	return memcmp(a + at, b + at, p->cmp_len - at) == 0;
}

static struct np_pkt *pkt_new(const uint8_t *f, size_t len,
			      const struct frame_info *fi, uint64_t epoch,
			      uint64_t now)
{
	struct np_pkt *p = malloc(sizeof(*p) + len);

	if (!p)
		return NULL;
	memset(p, 0, sizeof(*p));
	memcpy(p->data, f, len);
	p->len = (uint32_t)len;
	p->fi = *fi;
	p->t_us = now;
	p->epoch = epoch;
	if (fi->kind == FRAME_TCP) {
		p->seq = fi->seq;
		p->span = fi->payload_len + !!(fi->tcp_flags & TCP_FIN);
	}
	return p;
}

/* Frames that need no comparison: the PVM's are released at once, the
 * SVM's dropped.  Returns true if f was such a frame. */
static bool pass_unchecked(struct comparator *c, enum cmp_side side,
			   struct np_conn *k, const struct frame_info *fi,
			   const uint8_t *f, size_t len)
{
	if (fi->kind == FRAME_TCP) {
		if (side == CMP_SECONDARY && (fi->tcp_flags & TCP_ACK) &&
		    (!k->s_acked || seq_lt(k->s_ack, fi->ack) ||
		     (fi->tcp_flags & TCP_SYN))) {
			k->s_ack = fi->ack;
			k->s_acked = true;
		}
		if (side == CMP_PRIMARY && (fi->tcp_flags & TCP_RST) &&
		    k->q[0].n) {
			return false;	/* queued behind the held frames */
		} else if (fi->tcp_flags & (TCP_SYN | TCP_RST)) {
			/* The handshake fixes where the stream starts; a new
			 * connection's acks start afresh. */
			if (side == CMP_PRIMARY && (fi->tcp_flags & TCP_SYN)) {
				k->anchor = fi->seq + 1;
				k->anchored = true;
				k->s_acked = false;
			}
		} else if (fi->payload_len || (fi->tcp_flags & TCP_FIN) ||
			   (side == CMP_PRIMARY && !ack_ok(k, fi))) {
			return false;	/* compared, or waits for the ack */
		}
	} else if (!frame_is_neighbour(fi)) {
		return false;
	}
	if (side == CMP_PRIMARY) {
		c->st.unchecked++;
		note_latency(c, 0);
		c->release(c->opaque, f, len);
	} else {
		c->st.svm_dropped++;
	}
	return true;
}

void cmp_input(struct comparator *c, enum cmp_side side, const uint8_t *f,
	       size_t len, uint64_t now)
{
	struct frame_info fi;
	struct conn_key key;
	struct np_conn *k;
	struct np_pkt *p;
	const char *why;

	if (c->passthrough) {
		if (side == CMP_PRIMARY)
			c->release(c->opaque, f, len);
		return;
	}
	if (len < FRAME_MIN || len > FRAME_MAX) {
		c->st.bad_frames[side]++;	/* no Ethernet frame: dropped */
		return;
	}
	if (frame_parse(f, len, &fi, &why) < 0) {
		/* Opaque bytes still compare: one entry per ethertype. */
		c->st.bad_frames[side]++;
		memset(&fi, 0, sizeof(fi));
		fi.kind = FRAME_L2;
		fi.end = (uint32_t)len;
		fi.ethertype = frame_get16(f + 12);
	}
	conn_key_from(&key, &fi);
	k = conn_lookup(&c->ct, &key, true);
	if (!k) {
		c->st.overflow[side]++;
		return;
	}
	k->kind = fi.kind;
	if (pass_unchecked(c, side, k, &fi, f, len)) {
		/* An SVM ack may free PVM segments waiting for it. */
		if (side == CMP_SECONDARY && fi.kind == FRAME_TCP && k->q[0].n)
			tcp_sweep(c, k, now);
		return;
	}
	if (fi.kind == FRAME_TCP && k->anchored &&
	    seq_le(fi.seq + fi.payload_len + !!(fi.tcp_flags & TCP_FIN),
		   k->anchor) && !(fi.tcp_flags & TCP_RST) &&
	    (side == CMP_SECONDARY || ack_ok(k, &fi))) {
		/* Every byte was released already: a retransmit. */
		if (side == CMP_PRIMARY) {
			c->st.retransmits++;
			note_latency(c, 0);
			c->release(c->opaque, f, len);
		} else {
			c->st.svm_dropped++;
		}
		return;
	}
	if (k->q[side].n >= c->cfg.max_queue) {
		c->st.overflow[side]++;
		if (side == CMP_PRIMARY)
			ask_checkpoint(c, CMP_REASON_QUEUE_FULL, now);
		return;
	}
	p = pkt_new(f, len, &fi, side == CMP_PRIMARY ? c->p_epoch : c->s_epoch,
		    now);
	if (!p) {
		c->st.overflow[side]++;
		return;
	}
	if (fi.kind != FRAME_TCP)
		set_compared_bytes(p);
	q_push(&k->q[side], p);
	if (++c->st.held[side] > c->st.max_held[side])
		c->st.max_held[side] = c->st.held[side];
	conn_compare(c, k, now);
}

/* ---- checkpoints ----------------------------------------------------- */

void cmp_paused(struct comparator *c, uint64_t seq)
{
	c->p_epoch = seq;
}

static void for_each_conn(struct comparator *c,
			  void (*fn)(struct comparator *, struct np_conn *,
				     uint64_t, uint64_t),
			  uint64_t arg, uint64_t now)
{
	struct np_conn *k = c->ct.lru_head;

	while (k) {
		struct np_conn *next = k->lru_next;

		fn(c, k, arg, now);
		k = next;
	}
}

static void commit_conn(struct comparator *c, struct np_conn *k,
			uint64_t seq, uint64_t now)
{
	struct np_pkt *prev = NULL, *p = k->q[0].head;

	while (p) {
		struct np_pkt *next = p->next;

		if (p->epoch < seq) {
			if (k->kind == FRAME_TCP)
				tcp_advance_anchor(k, p);
			q_unlink(&k->q[0], prev, p);
			c->st.by_checkpoint++;
			release_pkt(c, p, now);
		} else {
			prev = p;
		}
		p = next;
	}
	if (k->kind == FRAME_TCP)
		tcp_sweep(c, k, now);
	conn_compare(c, k, now);
}

void cmp_committed(struct comparator *c, uint64_t seq, uint64_t now)
{
	c->request_pending = false;
	for_each_conn(c, commit_conn, seq, now);
	if (c->again) {
		c->again = false;
		for (struct np_conn *k = c->ct.lru_head; k; k = k->lru_next)
			if (k->diverged == c->s_epoch + 1 && k->q[0].n) {
				ask_checkpoint(c, CMP_REASON_MISMATCH, now);
				break;
			}
	}
}

static void load_conn(struct comparator *c, struct np_conn *k, uint64_t seq,
		      uint64_t now)
{
	struct np_pkt *p;

	while ((p = k->q[1].head) && p->epoch < seq) {
		q_unlink(&k->q[1], NULL, p);
		drop_svm_pkt(c, p);
	}
	/* What the old SVM acknowledged, the loaded one may not have. */
	k->s_acked = false;
	conn_compare(c, k, now);
}

void cmp_secondary_loaded(struct comparator *c, uint64_t seq, uint64_t now)
{
	c->s_epoch = seq;
	for_each_conn(c, load_conn, seq, now);
}

static void tick_conn(struct comparator *c, struct np_conn *k,
		      uint64_t unused, uint64_t now)
{
	struct np_pkt *p = k->q[0].head;

	(void)unused;
	/* Arrival order: the head is the oldest. */
	if (!p || now - p->t_us < c->cfg.timeout_us)
		return;
	for (; p && now - p->t_us >= c->cfg.timeout_us; p = p->next)
		if (!p->timed) {
			p->timed = true;
			c->st.timed_out[k->kind]++;
		}
	ask_checkpoint(c, CMP_REASON_TIMEOUT, now);
}

void cmp_tick(struct comparator *c, uint64_t now)
{
	for_each_conn(c, tick_conn, 0, now);
}

static void flush_conn(struct comparator *c, struct np_conn *k,
		       uint64_t unused, uint64_t now)
{
	struct np_pkt *p;

	(void)unused;
	while ((p = k->q[0].head)) {
		q_unlink(&k->q[0], NULL, p);
		release_pkt(c, p, now);
	}
	while ((p = k->q[1].head)) {
		q_unlink(&k->q[1], NULL, p);
		drop_svm_pkt(c, p);
	}
	k->anchored = false;
}

void cmp_set_passthrough(struct comparator *c, bool on, uint64_t now)
{
	if (on)
		for_each_conn(c, flush_conn, 0, now);
	c->passthrough = on;
}
