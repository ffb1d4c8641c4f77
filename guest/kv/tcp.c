/* A small TCP: passive open only, MSS option, sliding window, go-back-N
 * retransmission with an exponential RTO, zero-window probes, FIN and RST,
 * a FIN_WAIT_2 timeout and a TIME_WAIT shortcut.  Out-of-order segments
 * are dropped with a duplicate ACK; the sender's retransmission recovers.
 * Segments are checked (length, offset, checksum) before anything else. */
#include "kv.h"

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

#define OUR_MSS		1460
#define RTO_MIN_MS	200
#define RTO_MAX_MS	3000
#define MAX_RETRIES	12
#define FIN_WAIT_MS	5000
#define MAX_LISTEN	4
#define BUF		(TCP_BUF - 16)	/* fits one 32 KiB heap block */

enum tcp_state {
	CLOSED, SYN_RCVD, ESTABLISHED, CLOSE_WAIT, LAST_ACK, FIN_WAIT_1,
	FIN_WAIT_2, CLOSING,
};

struct tcp_hdr {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t off, flags;
	uint16_t win, csum, urg;
} __attribute__((packed));

struct tcp_conn {
	enum tcp_state st;
	uint32_t raddr;
	uint16_t rport, lport;
	uint32_t iss, snd_una, snd_nxt, snd_wnd;
	uint32_t rcv_nxt;
	uint16_t mss;
	uint8_t *rbuf, *sbuf;
	size_t rlen, slen;
	int fin_pending, fin_sent, fin_rcvd, ack_now;
	uint64_t rto_at;
	uint32_t rto_ms;
	int retries;
	void *app;
};

static struct tcp_conn conns[TCP_MAX_CONNS];
static uint16_t listening[MAX_LISTEN];
static uint64_t stat_accepted, stat_resets, stat_retransmits, stat_dropped;

int tcp_listen(uint16_t port)
{
	for (int i = 0; i < MAX_LISTEN; i++)
		if (!listening[i]) {
			listening[i] = port;
			return 0;
		}
	return -1;
}

static int is_listening(uint16_t port)
{
	for (int i = 0; i < MAX_LISTEN; i++)
		if (listening[i] == port)
			return 1;
	return 0;
}

static int seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static int seq_le(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

static uint16_t rcv_window(const struct tcp_conn *c)
{
	size_t w = BUF - c->rlen;

	return (uint16_t)(w > 65535 ? 65535 : w);
}

/* Sends one segment with optional payload (from sbuf at offset off). */
static void send_seg(struct tcp_conn *c, uint32_t seq, uint8_t flags,
		const uint8_t *data, size_t len)
{
	uint8_t pkt[sizeof(struct tcp_hdr) + 4 + OUR_MSS];
	struct tcp_hdr *h = (struct tcp_hdr *)pkt;
	size_t hl = sizeof(*h) + ((flags & F_SYN) ? 4 : 0);

	h->sport = htons(c->lport);
	h->dport = htons(c->rport);
	h->seq = htonl(seq);
	h->ack = htonl((flags & F_ACK) ? c->rcv_nxt : 0);
	h->off = (uint8_t)((hl / 4) << 4);
	h->flags = flags;
	h->win = htons(rcv_window(c));
	h->csum = 0;
	h->urg = 0;
	if (flags & F_SYN) {
		pkt[20] = 2;
		pkt[21] = 4;
		pkt[22] = OUR_MSS >> 8;
		pkt[23] = OUR_MSS & 0xff;
	}
	if (len)
		memcpy(pkt + hl, data, len);
	h->csum = ip_checksum(pkt, hl + len,
			      pseudo_sum(netif.ip, c->raddr, 6, hl + len));
	ip_send(c->raddr, 6, pkt, hl + len);
}

static void send_rst(uint32_t dst, const struct tcp_hdr *in, size_t dlen)
{
	struct tcp_conn tmp;
	uint32_t seq = 0;
	uint8_t flags = F_RST;

	memset(&tmp, 0, sizeof(tmp));
	tmp.raddr = dst;
	tmp.lport = ntohs(in->dport);
	tmp.rport = ntohs(in->sport);
	tmp.rlen = BUF;		/* window 0 */
	if (in->flags & F_ACK) {
		seq = ntohl(in->ack);
	} else {
		flags |= F_ACK;
		tmp.rcv_nxt = ntohl(in->seq) + (uint32_t)dlen +
			      ((in->flags & F_SYN) ? 1 : 0) +
			      ((in->flags & F_FIN) ? 1 : 0);
	}
	stat_resets++;
	send_seg(&tmp, seq, flags, NULL, 0);
}

static void conn_free(struct tcp_conn *c)
{
	if (c->app)
		kv_conn_gone(c->app);
	kfree(c->rbuf);
	kfree(c->sbuf);
	memset(c, 0, sizeof(*c));
}

static struct tcp_conn *find(uint32_t raddr, uint16_t rport, uint16_t lport)
{
	for (int i = 0; i < TCP_MAX_CONNS; i++)
		if (conns[i].st != CLOSED && conns[i].raddr == raddr &&
		    conns[i].rport == rport && conns[i].lport == lport)
			return &conns[i];
	return NULL;
}

static uint32_t new_isn(uint32_t raddr, uint16_t rport)
{
	uint64_t x = rdtsc() ^ ((uint64_t)raddr << 16) ^ rport;

	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	return (uint32_t)x;
}

static uint16_t parse_mss(const uint8_t *opt, size_t len)
{
	size_t i = 0;

	while (i < len) {
		if (opt[i] == 0)
			break;
		if (opt[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= len || opt[i + 1] < 2 || i + opt[i + 1] > len)
			break;
		if (opt[i] == 2 && opt[i + 1] == 4)
			return (uint16_t)(opt[i + 2] << 8 | opt[i + 3]);
		i += opt[i + 1];
	}
	return 536;
}

static void accept_syn(uint32_t src, const struct tcp_hdr *h,
		const uint8_t *opt, size_t optlen)
{
	struct tcp_conn *c = NULL;

	for (int i = 0; i < TCP_MAX_CONNS && !c; i++)
		if (conns[i].st == CLOSED)
			c = &conns[i];
	if (!c) {
		stat_dropped++;		/* full: the client will retry */
		return;
	}
	memset(c, 0, sizeof(*c));
	c->rbuf = kmalloc(BUF);
	c->sbuf = kmalloc(BUF);
	if (!c->rbuf || !c->sbuf) {
		kfree(c->rbuf);
		kfree(c->sbuf);
		c->rbuf = c->sbuf = NULL;
		return;
	}
	c->st = SYN_RCVD;
	c->raddr = src;
	c->rport = ntohs(h->sport);
	c->lport = ntohs(h->dport);
	c->rcv_nxt = ntohl(h->seq) + 1;
	c->iss = new_isn(src, c->rport);
	c->snd_una = c->iss;
	c->snd_nxt = c->iss + 1;
	c->snd_wnd = ntohs(h->win);
	c->mss = parse_mss(opt, optlen);
	if (c->mss > OUR_MSS)
		c->mss = OUR_MSS;
	if (c->mss < 64)
		c->mss = 64;
	c->rto_ms = RTO_MIN_MS;
	c->rto_at = now_us() + c->rto_ms * 1000ull;
	send_seg(c, c->iss, F_SYN | F_ACK, NULL, 0);
}

/* Bytes of sbuf already sent (excluding a FIN). */
static size_t in_flight(const struct tcp_conn *c)
{
	size_t n = c->snd_nxt - c->snd_una;

	if (c->fin_sent && n)
		n--;
	return n > c->slen ? c->slen : n;
}

static void handle_ack(struct tcp_conn *c, uint32_t ack, uint16_t win)
{
	uint32_t acked;

	if (seq_le(ack, c->snd_una) || seq_lt(c->snd_nxt, ack)) {
		if (ack == c->snd_una)
			c->snd_wnd = win;	/* a window update */
		return;
	}
	acked = ack - c->snd_una;
	if (c->st == SYN_RCVD) {
		c->st = ESTABLISHED;
		stat_accepted++;
		acked--;		/* the SYN */
	}
	if (acked > c->slen) {		/* our FIN is acknowledged too */
		acked = (uint32_t)c->slen;
		if (c->st == FIN_WAIT_1)
			c->st = FIN_WAIT_2;
		else if (c->st == CLOSING || c->st == LAST_ACK)
			c->st = CLOSED;
	}
	memmove(c->sbuf, c->sbuf + acked, c->slen - acked);
	c->slen -= acked;
	c->snd_una = ack;
	c->snd_wnd = win;
	c->retries = 0;
	c->rto_ms = RTO_MIN_MS;
	c->rto_at = c->snd_nxt != c->snd_una ? now_us() + c->rto_ms * 1000ull :
		    0;
	/* Nothing of ours is outstanding now, but a peer that never sends
	 * its FIN must not hold one of our few slots forever: the timer
	 * becomes the FIN_WAIT_2 timeout. */
	if (c->st == FIN_WAIT_2)
		c->rto_at = now_us() + FIN_WAIT_MS * 1000ull;
}

static void handle_data(struct tcp_conn *c, uint32_t seq, const uint8_t *d,
		size_t len, int fin)
{
	size_t room;

	if (len && seq_lt(seq, c->rcv_nxt)) {	/* partly a retransmission */
		uint32_t old = c->rcv_nxt - seq;

		if (old >= len) {
			len = 0;
		} else {
			d += old;
			len -= old;
		}
		seq = c->rcv_nxt;
		c->ack_now = 1;
	}
	if (seq != c->rcv_nxt) {
		c->ack_now = 1;		/* out of order: drop, dup ACK */
		return;
	}
	room = BUF - c->rlen;
	if (len > room) {
		len = room;
		fin = 0;		/* we did not take it all */
	}
	if (len) {
		memcpy(c->rbuf + c->rlen, d, len);
		c->rlen += len;
		c->rcv_nxt += (uint32_t)len;
		c->ack_now = 1;
	}
	if (fin && !c->fin_rcvd) {
		c->fin_rcvd = 1;
		c->rcv_nxt++;
		c->ack_now = 1;
		if (c->st == ESTABLISHED || c->st == SYN_RCVD)
			c->st = CLOSE_WAIT;
		else if (c->st == FIN_WAIT_1)
			c->st = CLOSING;
		else if (c->st == FIN_WAIT_2)
			c->st = CLOSED;	/* TIME_WAIT shortcut */
	}
}

void tcp_input(uint32_t src, const uint8_t *seg, size_t len)
{
	const struct tcp_hdr *h = (const void *)seg;
	size_t hl;
	struct tcp_conn *c;
	uint32_t seq;

	if (len < sizeof(*h))
		return;
	hl = (size_t)(h->off >> 4) * 4;
	if (hl < sizeof(*h) || hl > len)
		return;
	if (ip_checksum(seg, len, pseudo_sum(src, netif.ip, 6, len)) != 0) {
		netif.bad_csum++;
		return;
	}
	c = find(src, ntohs(h->sport), ntohs(h->dport));
	if (!c) {
		if ((h->flags & (F_SYN | F_ACK | F_RST)) == F_SYN &&
		    is_listening(ntohs(h->dport)))
			accept_syn(src, h, seg + sizeof(*h), hl - sizeof(*h));
		else if (!(h->flags & F_RST))
			send_rst(src, h, len - hl);
		return;
	}
	seq = ntohl(h->seq);
	if (h->flags & F_RST) {
		/* Only an in-window reset counts (RFC 5961, simplified). */
		if (seq_le(c->rcv_nxt, seq) &&
		    seq_lt(seq, c->rcv_nxt + rcv_window(c) + 1)) {
			stat_resets++;
			conn_free(c);
		}
		return;
	}
	if (h->flags & F_SYN) {
		if (c->st == SYN_RCVD && seq + 1 == c->rcv_nxt)
			send_seg(c, c->iss, F_SYN | F_ACK, NULL, 0);
		else
			c->ack_now = 1;	/* challenge ACK */
		return;
	}
	if (!(h->flags & F_ACK))
		return;
	handle_ack(c, ntohl(h->ack), ntohs(h->win));
	if (c->st == CLOSED) {
		conn_free(c);
		return;
	}
	if (c->st != SYN_RCVD)
		handle_data(c, seq, seg + hl, len - hl, h->flags & F_FIN);
	if (c->st == CLOSED) {
		send_seg(c, c->snd_nxt, F_ACK, NULL, 0);
		conn_free(c);
	}
}

static void output(struct tcp_conn *c, uint64_t now)
{
	int sent = 0;

	if (c->st == CLOSED || c->st == SYN_RCVD)
		return;
	for (;;) {
		size_t off = in_flight(c), unsent = c->slen - off, n;
		size_t win = c->snd_wnd > off ? c->snd_wnd - off : 0;

		if (!unsent || !win)
			break;
		n = unsent < win ? unsent : win;
		if (n > c->mss)
			n = c->mss;
		send_seg(c, c->snd_una + (uint32_t)off, F_ACK | F_PSH,
			 c->sbuf + off, n);
		c->snd_nxt = c->snd_una + (uint32_t)(off + n);
		sent = 1;
	}
	if (c->fin_pending && !c->fin_sent && in_flight(c) == c->slen) {
		send_seg(c, c->snd_nxt, F_ACK | F_FIN, NULL, 0);
		c->snd_nxt++;
		c->fin_sent = 1;
		if (c->st == ESTABLISHED)
			c->st = FIN_WAIT_1;
		else if (c->st == CLOSE_WAIT)
			c->st = LAST_ACK;
		sent = 1;
	}
	if (sent && !c->rto_at)
		c->rto_at = now + c->rto_ms * 1000ull;
	/* Data but a zero window: probe on the RTO. */
	if (!sent && c->slen > in_flight(c) && !c->rto_at)
		c->rto_at = now + c->rto_ms * 1000ull;
	if (c->ack_now && !sent)
		send_seg(c, c->snd_nxt, F_ACK, NULL, 0);
	c->ack_now = 0;
}

void tcp_output_all(void)
{
	uint64_t now = now_us();

	for (int i = 0; i < TCP_MAX_CONNS; i++)
		if (conns[i].st != CLOSED)
			output(&conns[i], now);
}

static void retransmit(struct tcp_conn *c, uint64_t now)
{
	if (c->st == FIN_WAIT_2 || ++c->retries > MAX_RETRIES) {
		send_seg(c, c->snd_nxt, F_RST | F_ACK, NULL, 0);
		conn_free(c);
		return;
	}
	stat_retransmits++;
	c->rto_ms = c->rto_ms * 2 > RTO_MAX_MS ? RTO_MAX_MS : c->rto_ms * 2;
	c->rto_at = now + c->rto_ms * 1000ull;
	if (c->st == SYN_RCVD) {
		send_seg(c, c->iss, F_SYN | F_ACK, NULL, 0);
		return;
	}
	if (c->slen && c->snd_wnd == 0) {	/* zero-window probe */
		send_seg(c, c->snd_una, F_ACK, c->sbuf, 1);
		return;
	}
	/* Go back N: everything unacknowledged, FIN included, goes again. */
	c->snd_nxt = c->snd_una;
	c->fin_sent = 0;
	output(c, now);
}

void tcp_timers(uint64_t now)
{
	for (int i = 0; i < TCP_MAX_CONNS; i++) {
		struct tcp_conn *c = &conns[i];

		if (c->st != CLOSED && c->rto_at && now >= c->rto_at)
			retransmit(c, now);
	}
}

uint64_t tcp_next_timer(uint64_t now)
{
	uint64_t next = now + 1000000;

	for (int i = 0; i < TCP_MAX_CONNS; i++)
		if (conns[i].st != CLOSED && conns[i].rto_at &&
		    conns[i].rto_at < next)
			next = conns[i].rto_at;
	return next;
}

size_t tcp_readable(struct tcp_conn *c, const uint8_t **p)
{
	*p = c->rbuf;
	return c->rlen;
}

void tcp_consume(struct tcp_conn *c, size_t n)
{
	int was_full = rcv_window(c) < c->mss;

	if (n > c->rlen)
		n = c->rlen;
	memmove(c->rbuf, c->rbuf + n, c->rlen - n);
	c->rlen -= n;
	if (was_full && rcv_window(c) >= c->mss)
		c->ack_now = 1;		/* reopen the window */
}

size_t tcp_writable(struct tcp_conn *c)
{
	return c->fin_pending ? 0 : BUF - c->slen;
}

size_t tcp_write(struct tcp_conn *c, const void *p, size_t n)
{
	size_t room = tcp_writable(c);

	if (n > room)
		n = room;
	memcpy(c->sbuf + c->slen, p, n);
	c->slen += n;
	return n;
}

void tcp_close(struct tcp_conn *c)
{
	c->fin_pending = 1;
}

int tcp_peer_closed(struct tcp_conn *c)
{
	return c->fin_rcvd;
}

struct tcp_conn *tcp_conn_at(int i)
{
	struct tcp_conn *c = &conns[i];

	return c->st == ESTABLISHED || c->st == CLOSE_WAIT ? c : NULL;
}

void **tcp_app(struct tcp_conn *c)
{
	return &c->app;
}

uint64_t tcp_stats(int which)
{
	int open = 0;

	if (which == 0) {
		for (int i = 0; i < TCP_MAX_CONNS; i++)
			open += conns[i].st != CLOSED;
		return (uint64_t)open;
	}
	return which == 1 ? stat_accepted : which == 2 ? stat_retransmits :
	       which == 3 ? stat_resets : stat_dropped;
}
