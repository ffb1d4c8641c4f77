/* The demo guest's main loop.  mode=kv serves Redis on TCP 6379, with
 * the log on the first disk; mode=dirty runs the dirtying workload;
 * mode=both runs the two.  Each round: take input, run commands, commit
 * the log, then send replies: no reply leaves before its write is
 * durable. */
#include "kv.h"

int guest_main(void)
{
	char mode[16] = "kv";
	int kv, dw;
	uint64_t tick_us = cmdline_u64("disk_tick_ms", 0) * 1000, next_tick = 0;

	cmdline_get("mode", mode, sizeof(mode));
	kv = !strcmp(mode, "kv") || !strcmp(mode, "both");
	dw = !strcmp(mode, "dirty") || !strcmp(mode, "both");
	if (!kv && !dw)
		panic("mode= must be kv, dirty or both");
	if (kv) {
		kv_init();
		if (kvlog_init() < 0)
			gprintf("KVLOG no disk: writes are not persistent\n");
		if (net_init() < 0)
			panic("no virtio-net device");
		tcp_listen(6379);
		gprintf("KV-READY ip %u.%u.%u.%u port 6379 keys %lu\n",
			netif.ip >> 24, (netif.ip >> 16) & 0xff,
			(netif.ip >> 8) & 0xff, netif.ip & 0xff, kv_keys());
	}
	if (dw)
		dirty_init();
	for (;;) {
		uint64_t now, next;
		int busy = 0;

		if (kv && tick_us && now_us() >= next_tick) {
			kv_tick();
			next_tick = now_us() + tick_us;
		}
		if (kv) {
			busy = net_poll();
			for (int i = 0; i < TCP_MAX_CONNS; i++) {
				struct tcp_conn *c = tcp_conn_at(i);

				/* A peer that has closed sends nothing more:
				 * once kv_serve wants input, even to finish a
				 * partial command, nothing more can happen. */
				if (c && kv_serve(c) && tcp_peer_closed(c))
					tcp_close(c);
			}
			if (kvlog_pending() && kvlog_commit() < 0)
				panic("the log disk failed: stopping before "
				      "acknowledging");
			tcp_output_all();
			tcp_timers(now_us());
		}
		now = now_us();
		if (dw)
			dirty_tick(now);
		if (busy)
			continue;
		next = kv ? tcp_next_timer(now) : now + 100000;
		if (kv && tick_us && next_tick < next)
			next = next_tick;
		if (dw && dirty_next(now) < next)
			next = dirty_next(now);
		if (next > now + 200)
			pv_idle((uint32_t)(next - now > 100000 ? 100000 :
					   next - now));
	}
}
