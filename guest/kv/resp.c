/* RESP2 over TCP: parsing (arrays of bulk strings, and inline commands),
 * the key-value store, and the commands.  Writes are appended to the log
 * as they run; main() flushes the log before any reply leaves. */
#include "kv.h"

#define MAX_ARGS	64
#define BUCKETS0	4096

struct kv_entry {
	struct kv_entry *next;
	uint32_t hash, klen, vlen;
	uint8_t data[];
};

static struct kv_entry **table;
static uint64_t nbuckets, nkeys, ncommands, start_us;

struct arg {
	const uint8_t *p;
	size_t len;
};

static uint32_t hash(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

void kv_init(void)
{
	nbuckets = BUCKETS0;
	table = galloc(nbuckets * sizeof(*table), 64);
	start_us = now_us();
}

uint64_t kv_keys(void)
{
	return nkeys;
}

static struct kv_entry **slot(const uint8_t *k, size_t klen, uint32_t h)
{
	struct kv_entry **e = &table[h & (nbuckets - 1)];

	while (*e && ((*e)->hash != h || (*e)->klen != klen ||
		      memcmp((*e)->data, k, klen)))
		e = &(*e)->next;
	return e;
}

static void grow(void)
{
	uint64_t n = nbuckets * 2;
	struct kv_entry **t = galloc(n * sizeof(*t), 64);

	/* The old table is abandoned: galloc memory is never freed, and
	 * growth is rare (doubling). */
	for (uint64_t i = 0; i < nbuckets; i++) {
		struct kv_entry *e = table[i], *next;

		for (; e; e = next) {
			next = e->next;
			e->next = t[e->hash & (n - 1)];
			t[e->hash & (n - 1)] = e;
		}
	}
	table = t;
	nbuckets = n;
}

static struct kv_entry *kv_get(const uint8_t *k, size_t klen)
{
	return *slot(k, klen, hash(k, klen));
}

static int kv_set(const uint8_t *k, size_t klen, const uint8_t *v,
		size_t vlen)
{
	uint32_t h = hash(k, klen);
	struct kv_entry **s = slot(k, klen, h), *e;

	e = kmalloc(sizeof(*e) + klen + vlen);
	if (!e)
		return -1;
	e->hash = h;
	e->klen = (uint32_t)klen;
	e->vlen = (uint32_t)vlen;
	memcpy(e->data, k, klen);
	memcpy(e->data + klen, v, vlen);
	if (*s) {
		e->next = (*s)->next;
		kfree(*s);
	} else {
		e->next = NULL;
		nkeys++;
	}
	*s = e;
	if (nkeys > nbuckets)
		grow();
	return 0;
}

static int kv_del(const uint8_t *k, size_t klen)
{
	struct kv_entry **s = slot(k, klen, hash(k, klen)), *e = *s;

	if (!e)
		return 0;
	*s = e->next;
	kfree(e);
	nkeys--;
	return 1;
}

static void kv_flush(void)
{
	for (uint64_t i = 0; i < nbuckets; i++) {
		struct kv_entry *e = table[i], *next;

		for (; e; e = next) {
			next = e->next;
			kfree(e);
		}
		table[i] = NULL;
	}
	nkeys = 0;
}

/* ---- the log's records ---- */

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

static int log_set(const struct arg *k, const uint8_t *v, size_t vlen)
{
	uint8_t *rec = kmalloc(9 + k->len + vlen);
	int rc;

	if (!rec)
		return -1;
	rec[0] = 'S';
	put32(rec + 1, (uint32_t)k->len);
	memcpy(rec + 5, k->p, k->len);
	put32(rec + 5 + k->len, (uint32_t)vlen);
	memcpy(rec + 9 + k->len, v, vlen);
	rc = kvlog_append(rec, 9 + k->len + vlen);
	kfree(rec);
	return rc;
}

static int log_del(const struct arg *k)
{
	uint8_t *rec = kmalloc(5 + k->len);
	int rc;

	if (!rec)
		return -1;
	rec[0] = 'D';
	put32(rec + 1, (uint32_t)k->len);
	memcpy(rec + 5, k->p, k->len);
	rc = kvlog_append(rec, 5 + k->len);
	kfree(rec);
	return rc;
}

uint64_t kv_ticks;

/* A tick record: the guest writing on its own, with no client asking
 * (disk_tick_ms=), as a database's background writer would. */
int kv_tick(void)
{
	uint8_t rec[9] = { 'T' };
	uint64_t n = kv_ticks + 1;

	memcpy(rec + 1, &n, 8);
	if (!kvlog_available() || kvlog_append(rec, sizeof(rec)) < 0)
		return -1;
	kv_ticks = n;
	return 0;
}

int kv_apply_log(const uint8_t *rec, size_t len)
{
	uint32_t klen, vlen;

	if (len == 1 && rec[0] == 'F') {
		kv_flush();
		return 0;
	}
	if (len == 9 && rec[0] == 'T') {	/* a disk tick: counted */
		kv_ticks++;
		return 0;
	}
	if (len < 5)
		return -1;
	klen = get32(rec + 1);
	if (klen > len - 5)
		return -1;
	if (rec[0] == 'D' && len == 5 + klen) {
		kv_del(rec + 5, klen);
		return 0;
	}
	if (rec[0] != 'S' || len < 9 + (size_t)klen)
		return -1;
	vlen = get32(rec + 5 + klen);
	if (len != 9 + (size_t)klen + vlen)
		return -1;
	return kv_set(rec + 5, klen, rec + 9 + klen, vlen);
}

/* ---- replies ---- */

static void out(struct tcp_conn *c, const void *p, size_t n)
{
	tcp_write(c, p, n);
}

static void out_str(struct tcp_conn *c, const char *s)
{
	out(c, s, strlen(s));
}

static void out_int(struct tcp_conn *c, int64_t v)
{
	char b[32];

	out(c, b, (size_t)gsnprintf(b, sizeof(b), ":%ld\r\n", v));
}

static void out_bulk(struct tcp_conn *c, const void *p, size_t n)
{
	char b[32];

	out(c, b, (size_t)gsnprintf(b, sizeof(b), "$%lu\r\n", (uint64_t)n));
	out(c, p, n);
	out(c, "\r\n", 2);
}

static void out_err(struct tcp_conn *c, const char *msg)
{
	out_str(c, "-ERR ");
	out_str(c, msg);
	out_str(c, "\r\n");
}

static int is(const struct arg *a, const char *name)
{
	size_t n = strlen(name);

	if (a->len != n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = a->p[i];

		if (ch >= 'a' && ch <= 'z')
			ch = (uint8_t)(ch - 32);
		if (ch != (uint8_t)name[i])
			return 0;
	}
	return 1;
}

static int parse_i64(const struct arg *a, int64_t *v)
{
	uint64_t x = 0;
	size_t i = 0;
	int neg = 0;

	if (a->len == 0 || a->len > 20)
		return -1;
	if (a->p[0] == '-') {
		neg = 1;
		i = 1;
		if (a->len == 1)
			return -1;
	}
	for (; i < a->len; i++) {
		if (a->p[i] < '0' || a->p[i] > '9')
			return -1;
		if (x > (UINT64_MAX - 9) / 10)
			return -1;
		x = x * 10 + (uint64_t)(a->p[i] - '0');
	}
	if (x > (uint64_t)INT64_MAX + (uint64_t)neg)
		return -1;
	*v = neg ? (int64_t)(0 - x) : (int64_t)x;
	return 0;
}

static void cmd_info(struct tcp_conn *c)
{
	char b[1024];
	int n = gsnprintf(b, sizeof(b),
		"# Server\r\nredis_version:7.0.0-colo-kvm-demo\r\n"
		"uptime_in_seconds:%lu\r\n"
		"# Clients\r\nconnected_clients:%lu\r\n"
		"# Memory\r\nused_memory:%lu\r\n"
		"# Stats\r\ntotal_commands_processed:%lu\r\n"
		"total_connections_received:%lu\r\n"
		"udp_echo_frames:%lu\r\nrx_frames:%lu\r\ntx_frames:%lu\r\n"
		"tcp_retransmits:%lu\r\nlog_ticks:%lu\r\n"
		"# Host\r\nhost_tsc:%lu\r\n"
		"# Keyspace\r\nkeys:%lu\r\ndb0:keys=%lu,expires=0\r\n",
		(now_us() - start_us) / 1000000, tcp_stats(0), kheap_used(),
		ncommands, tcp_stats(1), netif.udp_frames, netif.rx_frames,
		netif.tx_frames, tcp_stats(2), kv_ticks, rdtsc(), nkeys,
		nkeys);

	out_bulk(c, b, (size_t)n);
}

static int wrong_args(struct tcp_conn *c, const struct arg *cmd)
{
	out_str(c, "-ERR wrong number of arguments for '");
	out(c, cmd->p, cmd->len > 32 ? 32 : cmd->len);
	out_str(c, "' command\r\n");
	return 0;
}

/* Runs one command.  Returns -1 when the connection must close. */
static int run(struct tcp_conn *c, struct arg *a, int n)
{
	struct kv_entry *e;
	int64_t v;
	char num[24];

	ncommands++;
	if (is(&a[0], "PING")) {
		if (n == 1)
			out_str(c, "+PONG\r\n");
		else
			out_bulk(c, a[1].p, a[1].len);
	} else if (is(&a[0], "ECHO")) {
		if (n != 2)
			return wrong_args(c, &a[0]);
		out_bulk(c, a[1].p, a[1].len);
	} else if (is(&a[0], "SET")) {
		int nx = 0, xx = 0;

		if (n < 3)
			return wrong_args(c, &a[0]);
		for (int i = 3; i < n; i++) {
			if (is(&a[i], "NX"))
				nx = 1;
			else if (is(&a[i], "XX"))
				xx = 1;
			else {
				out_err(c, "syntax error");
				return 0;
			}
		}
		e = kv_get(a[1].p, a[1].len);
		if ((nx && e) || (xx && !e)) {
			out_str(c, "$-1\r\n");
			return 0;
		}
		if (!kvlog_available() || kv_set(a[1].p, a[1].len, a[2].p,
						   a[2].len) < 0 ||
		    log_set(&a[1], a[2].p, a[2].len) < 0) {
			out_err(c, "out of memory or log space");
			return 0;
		}
		out_str(c, "+OK\r\n");
	} else if (is(&a[0], "GET")) {
		if (n != 2)
			return wrong_args(c, &a[0]);
		e = kv_get(a[1].p, a[1].len);
		if (e)
			out_bulk(c, e->data + e->klen, e->vlen);
		else
			out_str(c, "$-1\r\n");
	} else if (is(&a[0], "DEL")) {
		int64_t k = 0;

		if (n < 2)
			return wrong_args(c, &a[0]);
		if (!kvlog_available()) {
			out_err(c, "out of log space");
			return 0;
		}
		for (int i = 1; i < n; i++) {
			if (!kv_get(a[i].p, a[i].len))
				continue;
			/* Logged before it is done, as every write is. */
			if (log_del(&a[i]) < 0) {
				out_err(c, "out of memory");
				return 0;
			}
			kv_del(a[i].p, a[i].len);
			k++;
		}
		out_int(c, k);
	} else if (is(&a[0], "INCR")) {
		struct arg cur;
		int len;

		if (n != 2)
			return wrong_args(c, &a[0]);
		e = kv_get(a[1].p, a[1].len);
		v = 0;
		if (e) {
			cur.p = e->data + e->klen;
			cur.len = e->vlen;
			if (parse_i64(&cur, &v) < 0 || v == INT64_MAX) {
				out_err(c, "value is not an integer or out of "
					"range");
				return 0;
			}
		}
		v++;
		len = gsnprintf(num, sizeof(num), "%ld", v);
		if (!kvlog_available() || kv_set(a[1].p, a[1].len,
						   (uint8_t *)num, (size_t)len) < 0 ||
		    log_set(&a[1], (uint8_t *)num, (size_t)len) < 0) {
			out_err(c, "out of memory or log space");
			return 0;
		}
		out_int(c, v);
	} else if (is(&a[0], "EXISTS")) {
		int64_t k = 0;

		if (n < 2)
			return wrong_args(c, &a[0]);
		for (int i = 1; i < n; i++)
			k += kv_get(a[i].p, a[i].len) != NULL;
		out_int(c, k);
	} else if (is(&a[0], "DBSIZE")) {
		out_int(c, (int64_t)nkeys);
	} else if (is(&a[0], "FLUSHALL") || is(&a[0], "FLUSHDB")) {
		uint8_t f = 'F';

		if (!kvlog_available() || kvlog_append(&f, 1) < 0) {
			out_err(c, "out of log space");
			return 0;
		}
		kv_flush();
		out_str(c, "+OK\r\n");
	} else if (is(&a[0], "INFO")) {
		cmd_info(c);
	} else if (is(&a[0], "DEBUG") && n == 2 && is(&a[1], "NONDET")) {
		gsnprintf(num, sizeof(num), "%lu", rdtsc());
		out_bulk(c, num, strlen(num));
	} else if (is(&a[0], "QUIT")) {
		out_str(c, "+OK\r\n");
		return -1;
	} else if (is(&a[0], "COMMAND")) {
		out_str(c, "*0\r\n");
	} else if (is(&a[0], "CONFIG") && n >= 3 && is(&a[1], "GET")) {
		/* What redis-benchmark asks for: the log is always on. */
		int known = 0;
		char hdr[16];

		for (int i = 2; i < n; i++)
			known += is(&a[i], "SAVE") || is(&a[i], "APPENDONLY");
		gsnprintf(hdr, sizeof(hdr), "*%d\r\n", 2 * known);
		out_str(c, hdr);
		for (int i = 2; i < n; i++) {
			if (is(&a[i], "SAVE"))
				out_str(c, "$4\r\nsave\r\n$0\r\n\r\n");
			else if (is(&a[i], "APPENDONLY"))
				out_str(c, "$10\r\nappendonly\r\n$3\r\nyes\r\n");
		}
	} else if (is(&a[0], "SELECT") && n == 2) {
		if (a[1].len == 1 && a[1].p[0] == '0')
			out_str(c, "+OK\r\n");
		else
			out_err(c, "DB index is out of range");
	} else {
		out_str(c, "-ERR unknown command '");
		out(c, a[0].p, a[0].len > 32 ? 32 : a[0].len);
		out_str(c, "'\r\n");
	}
	return 0;
}

/* Reads a decimal number ended by CRLF at *p; -2 incomplete, -1 bad. */
static int64_t parse_len(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *q = *p;
	int64_t v = 0;
	int neg = 0;

	if (q < end && *q == '-') {
		neg = 1;
		q++;
	}
	while (q < end && *q >= '0' && *q <= '9') {
		v = v * 10 + (*q - '0');
		if (v > (1 << 30))
			return -1;
		q++;
	}
	if (q + 1 >= end)
		return -2;
	if (q[0] != '\r' || q[1] != '\n' || q == *p)
		return -1;
	*p = q + 2;
	return neg ? -v : v;
}

/* One command from buf: its length, 0 if incomplete, -1 if malformed. */
static long parse_cmd(const uint8_t *buf, size_t len, struct arg *a, int *n)
{
	const uint8_t *p = buf, *end = buf + len;
	int64_t cnt, l;

	*n = 0;
	if (*p != '*') {
		/* An inline command: words up to the end of the line. */
		const uint8_t *nl = p;

		while (nl < end && *nl != '\n')
			nl++;
		if (nl == end)
			return len >= 4096 ? -1 : 0;
		for (const uint8_t *q = p; q < nl && *n < MAX_ARGS;) {
			while (q < nl && (*q == ' ' || *q == '\r'))
				q++;
			if (q == nl)
				break;
			a[*n].p = q;
			while (q < nl && *q != ' ' && *q != '\r')
				q++;
			a[*n].len = (size_t)(q - a[*n].p);
			(*n)++;
		}
		return (long)(nl + 1 - buf);
	}
	p++;
	cnt = parse_len(&p, end);
	if (cnt == -2)
		return 0;
	if (cnt < 0 || cnt > MAX_ARGS)
		return -1;
	for (int64_t i = 0; i < cnt; i++) {
		if (p >= end)
			return 0;
		if (*p != '$')
			return -1;
		p++;
		l = parse_len(&p, end);
		if (l == -2)
			return 0;
		if (l < 0)
			return -1;
		if ((int64_t)(end - p) < l + 2)
			return 0;
		if (p[l] != '\r' || p[l + 1] != '\n')
			return -1;
		a[*n].p = p;
		a[*n].len = (size_t)l;
		(*n)++;
		p += l + 2;
	}
	return (long)(p - buf);
}

/* The largest reply a command can produce, so it is never cut short by
 * a full send buffer. */
static size_t reply_bound(const struct arg *a, int n)
{
	struct kv_entry *e;

	if (n == 2 && is(&a[0], "GET")) {
		e = kv_get(a[1].p, a[1].len);
		return e ? e->vlen + 32 : 32;
	}
	if (n == 2 && (is(&a[0], "ECHO") || is(&a[0], "PING")))
		return a[1].len + 32;
	return 2048;
}

int kv_serve(struct tcp_conn *c)
{
	const uint8_t *buf;
	size_t len;
	struct arg a[MAX_ARGS];
	int n;

	for (;;) {
		long used;

		len = tcp_readable(c, &buf);
		if (!len)
			return 1;
		used = parse_cmd(buf, len, a, &n);
		/* Room for the whole reply first, or wait: backpressure. */
		if (used > 0 && n > 0 && tcp_writable(c) < reply_bound(a, n))
			return 0;
		if (used == 0) {
			if (len < TCP_BUF - 64)
				return 1;
			out_str(c, "-ERR Protocol error: command too large\r\n");
			tcp_close(c);
			return 0;
		}
		if (used < 0) {
			out_str(c, "-ERR Protocol error: invalid request\r\n");
			tcp_consume(c, len);
			tcp_close(c);
			return 0;
		}
		if (n > 0 && run(c, a, n) < 0) {
			tcp_consume(c, len);
			tcp_close(c);
			return 0;
		}
		tcp_consume(c, (size_t)used);
	}
}

void kv_conn_gone(void *app)
{
	(void)app;
}
