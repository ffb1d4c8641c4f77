/* libFuzzer target: netproxy's frame parser, comparator and rewriter, and
 * the framed-link parser, fed a script of operations: [op u8][len u16 BE]
 * [bytes] for frames and link input, [op] for checkpoint events.  Checks the parser's offsets and the comparator's
 * accounting after every step. */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>
#include "compare.h"
#include "link.h"
#include "rewriter.h"

static uint64_t released, primary_in;

static void on_release(void *opaque, const uint8_t *f, size_t len)
{
	(void)opaque;
	(void)f;
	(void)len;
	released++;
}

static void on_inject(void *opaque, const uint8_t *f, size_t len)
{
	struct frame_info fi;

	(void)opaque;
	frame_parse(f, len, &fi, NULL);
}

static void check_parse(const uint8_t *f, size_t len)
{
	struct frame_info fi;

	if (frame_parse(f, len, &fi, NULL) < 0)
		return;
	if (fi.end > len || fi.payload_off > fi.end ||
	    fi.payload_off + fi.payload_len > fi.end || fi.l3_off > fi.end)
		abort();
}

static void check_counts(struct comparator *c)
{
	uint32_t held[2] = { 0, 0 };

	for (struct np_conn *k = c->ct.lru_head; k; k = k->lru_next) {
		held[0] += k->q[0].n;
		held[1] += k->q[1].n;
	}
	if (held[0] != c->st.held[0] || held[1] != c->st.held[1] ||
	    c->ct.n > c->cfg.max_conns || released > primary_in)
		abort();
}

static void link_frame(void *opaque, uint8_t *f, size_t len)
{
	(void)opaque;
	if (len < FRAME_MIN || len > FRAME_MAX)
		abort();	/* the link must never pass these on */
	check_parse(f, len);
}

static void link_control(void *opaque, uint32_t t, uint64_t a, uint64_t b)
{
	(void)opaque;
	(void)t;
	(void)a;
	(void)b;
}

/* Bytes arriving on a peer link (vnet_hdr framing or not). */
static void feed_link(const uint8_t *b, size_t len, bool vnet)
{
	static const struct link_ops ops = { link_frame, link_control };
	struct np_link l;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 ||
	    link_init(&l, "fuzz", true) < 0)
		abort();
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	l.vnet_hdr = vnet;
	link_attach(&l, sv[1]);
	if (len && write(sv[0], b, len) != (ssize_t)len)
		abort();
	close(sv[0]);
	while (link_read(&l, &ops, NULL) == 0 && l.fd >= 0)
		;
	link_fini(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cmp_config cfg = { 8, 8, 1000 };
	struct comparator c;
	struct rewriter rw;
	uint64_t now = 1, seq = 0;
	size_t at = 0;

	released = primary_in = 0;
	if (cmp_init(&c, &cfg, on_release, NULL, NULL) < 0 ||
	    rw_init(&rw, 8, on_inject, NULL) < 0)
		abort();
	while (at < size) {
		uint8_t op = data[at++] % 12;
		uint8_t frame[FRAME_MAX];
		size_t len = 0;

		if (op <= 3 || op >= 10) {
			if (size - at < 2)
				break;
			len = (size_t)data[at] << 8 | data[at + 1];
			at += 2;
			if (len > size - at)
				len = size - at;
			memcpy(frame, data + at, len);
			at += len;
			check_parse(frame, len);
		}
		now += 100;
		switch (op) {
		case 0:
			primary_in++;
			cmp_input(&c, CMP_PRIMARY, frame, len, now);
			break;
		case 1:
			cmp_input(&c, CMP_SECONDARY, frame, len, now);
			break;
		case 2:
			rw_to_guest(&rw, frame, len);
			break;
		case 3:
			rw_from_guest(&rw, frame, len);
			check_parse(frame, len);
			break;
		case 4:
			cmp_paused(&c, ++seq);
			break;
		case 5:
			cmp_committed(&c, seq, now);
			break;
		case 6:
			cmp_secondary_loaded(&c, seq, now);
			rw_checkpoint_loaded(&rw);
			break;
		case 7:
			cmp_tick(&c, now + 5000);
			break;
		case 8:
			rw_set_standalone(&rw);
			break;
		case 9:
			cmp_set_passthrough(&c, !c.passthrough, now);
			break;
		case 10:
		case 11:
			feed_link(frame, len, op == 11);
			break;
		}
		check_counts(&c);
	}
	cmp_fini(&c);
	rw_fini(&rw);
	return 0;
}
