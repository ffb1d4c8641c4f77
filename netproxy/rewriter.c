/* TCP sequence rewriting on the secondary (see rewriter.h for the model).
 * The handshake race: mirrored input can reach the SVM before the SVM has
 * answered the SYN, and an ACK that the rewriter could not translate would
 * make the SVM reset the connection.  Such frames wait on the entry until
 * the SVM's SYN or SYN-ACK gives its initial sequence number. */
#include "config.h"
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "rewriter.h"

int rw_init(struct rewriter *r, uint32_t max_conns, rw_inject_fn *inject,
	    void *opaque)
{
	memset(r, 0, sizeof(*r));
	r->inject = inject;
	r->opaque = opaque;
	return conn_table_init(&r->ct, max_conns);
}

void rw_fini(struct rewriter *r)
{
	if (r->ct.bucket)
		conn_table_fini(&r->ct);
}

static void set_field(uint8_t *f, const struct frame_info *fi, int off,
		      uint32_t v)
{
	uint8_t *tcp = f + fi->l4_off;
	uint16_t csum = frame_get16(tcp + 16);

	frame_put16(tcp + 16, frame_csum_replace32(csum,
				frame_get32(tcp + off), v));
	frame_put32(tcp + off, v);
}

static struct np_conn *tcp_conn(struct rewriter *r, const uint8_t *f,
				size_t len, struct frame_info *fi)
{
	struct conn_key key;
	struct np_conn *k;

	if (frame_parse(f, len, fi, NULL) < 0) {
		r->st.bad_frames++;
		return NULL;
	}
	if (fi->kind != FRAME_TCP)
		return NULL;
	conn_key_from(&key, fi);
	k = conn_lookup(&r->ct, &key, true);
	if (!k)
		return NULL;
	if ((fi->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
		/* A new connection (perhaps on a reused 5-tuple): its shift
		 * is learned afresh, unless there is no PVM to follow.  A
		 * SYN with the ISN we know is a duplicate: forgetting the
		 * shift would stall the connection, and after failover,
		 * with no handshake to learn it again, break it. */
		if (!k->syn_seen || k->syn_isn != fi->seq) {
			k->offset = 0;
			k->offset_known = r->standalone;
			k->guest_isn_known = false;
		}
		k->syn_seen = true;
		k->syn_isn = fi->seq;
	} else if (!k->kind) {
		/* A flow first seen mid-stream predates the last
		 * checkpoint (or the failover): no shift.  A SYN-ACK is a
		 * handshake the SVM has not started yet (it opened the
		 * connection on the PVM's side first): it waits for the
		 * SVM's SYN like a client's early ACK. */
		k->offset_known = r->standalone || !(fi->tcp_flags & TCP_SYN);
	}
	k->kind = FRAME_TCP;
	return k;
}

static void hold(struct rewriter *r, struct np_conn *k, const uint8_t *f,
		 size_t len)
{
	struct np_pkt *p;

	if (k->q[0].n >= RW_HOLD_MAX || !(p = malloc(sizeof(*p) + len))) {
		r->st.hold_dropped++;
		return;
	}
	memset(p, 0, sizeof(*p));
	memcpy(p->data, f, len);
	p->len = (uint32_t)len;
	if (k->q[0].tail)
		k->q[0].tail->next = p;
	else
		k->q[0].head = p;
	k->q[0].tail = p;
	k->q[0].n++;
	r->st.held++;
}

/* Rewrites and injects one input frame; f is a private copy. */
static void to_guest(struct rewriter *r, uint8_t *f, size_t len)
{
	struct frame_info fi;
	struct np_conn *k = tcp_conn(r, f, len, &fi);

	if (k && !k->offset_known) {
		if (!(fi.tcp_flags & TCP_ACK)) {
			/* The client's SYN: the SVM answers it first. */
		} else if (!k->guest_isn_known) {
			hold(r, k, f, len);
			return;
		} else {
			/* The first ACK of the PVM's SYN fixes the shift. */
			k->offset = fi.ack - 1 - k->guest_isn;
			k->offset_known = true;
			r->st.offsets_learned++;
		}
	}
	if (k && k->offset && (fi.tcp_flags & TCP_ACK)) {
		set_field(f, &fi, 8, fi.ack - k->offset);
		r->st.in_rewritten++;
	}
	r->inject(r->opaque, f, len);
}

void rw_to_guest(struct rewriter *r, const uint8_t *f, size_t len)
{
	uint8_t *copy;

	if (len > FRAME_MAX || !(copy = malloc(len))) {
		r->st.bad_frames++;
		return;
	}
	memcpy(copy, f, len);
	to_guest(r, copy, len);
	free(copy);
}

static void release_held(struct rewriter *r, struct np_conn *k)
{
	struct np_pkt *p = k->q[0].head;

	k->q[0].head = k->q[0].tail = NULL;
	k->q[0].n = 0;
	while (p) {
		struct np_pkt *next = p->next;

		to_guest(r, p->data, p->len);
		free(p);
		p = next;
	}
}

void rw_from_guest(struct rewriter *r, uint8_t *f, size_t len)
{
	struct frame_info fi;
	struct np_conn *k = tcp_conn(r, f, len, &fi);

	if (!k)
		return;
	if ((fi.tcp_flags & TCP_SYN) && !k->offset_known) {
		k->guest_isn = fi.seq;
		k->guest_isn_known = true;
		if (k->q[0].n)
			release_held(r, k);
	}
	if (k->offset) {
		set_field(f, &fi, 4, fi.seq + k->offset);
		r->st.out_rewritten++;
	}
}

void rw_checkpoint_loaded(struct rewriter *r)
{
	for (struct np_conn *k = r->ct.lru_head; k; k = k->lru_next) {
		struct np_pkt *p;

		while ((p = k->q[0].head)) {
			k->q[0].head = p->next;
			free(p);
		}
		k->q[0].tail = NULL;
		k->q[0].n = 0;
		k->offset = 0;
		k->offset_known = true;
		k->guest_isn_known = false;
	}
}

void rw_set_standalone(struct rewriter *r)
{
	r->standalone = true;
	/* Handshakes in flight will never see a PVM ACK: no shift. */
	for (struct np_conn *k = r->ct.lru_head; k; k = k->lru_next)
		if (!k->offset_known) {
			k->offset_known = true;
			release_held(r, k);
		}
}
