/* The serial console's sinks: an append-only log file (always complete),
 * a history ring for console-read, and a buffer of fresh output that the
 * main thread publishes as CONSOLE_OUTPUT events. */
#ifndef DH_CONSOLE_H
#define DH_CONSOLE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define CONSOLE_HISTORY	65536
#define CONSOLE_PENDING	16384

struct console {
	pthread_mutex_t lock;
	int log_fd;
	int wake_fd;		/* eventfd: fresh output to publish */
	uint8_t hist[CONSOLE_HISTORY];
	size_t hist_head, hist_len;
	uint8_t pend[CONSOLE_PENDING];
	size_t pend_len;
	uint64_t dropped;	/* bytes the live stream missed */
};

int console_init(struct console *c, const char *log_path);
void console_fini(struct console *c);
/* serial_out_fn: called from vCPU threads. */
void console_output(void *opaque, const uint8_t *buf, size_t n);
/* Takes the fresh output (at most size bytes) for publishing. */
size_t console_take(struct console *c, char *buf, size_t size);
/* The last max bytes of output. */
size_t console_tail(struct console *c, char *buf, size_t max);
/* Replaces bytes that are not valid UTF-8 with '?', in place. */
void console_sanitize(char *buf, size_t n);

#endif
