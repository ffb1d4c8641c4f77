/* Console output sinks. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "console.h"
#include "log.h"

int console_init(struct console *c, const char *log_path)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->log_fd = -1;
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (c->wake_fd < 0)
		return -errno;
	if (log_path && *log_path) {
		c->log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND |
				 O_CLOEXEC, 0640);
		if (c->log_fd < 0)
			return -errno;
	}
	return 0;
}

void console_fini(struct console *c)
{
	if (c->log_fd >= 0)
		close(c->log_fd);
	if (c->wake_fd >= 0)
		close(c->wake_fd);
	c->log_fd = c->wake_fd = -1;
}

void console_output(void *opaque, const uint8_t *buf, size_t n)
{
	struct console *c = opaque;
	uint64_t one = 1;
	bool was_empty;

	pthread_mutex_lock(&c->lock);
	if (c->log_fd >= 0 && write(c->log_fd, buf, n) < 0)
		log_debug("console log: %m");
	for (size_t i = 0; i < n; i++) {
		c->hist[(c->hist_head + c->hist_len) % CONSOLE_HISTORY] = buf[i];
		if (c->hist_len < CONSOLE_HISTORY)
			c->hist_len++;
		else
			c->hist_head = (c->hist_head + 1) % CONSOLE_HISTORY;
	}
	was_empty = c->pend_len == 0;
	if (c->pend_len + n <= CONSOLE_PENDING) {
		memcpy(c->pend + c->pend_len, buf, n);
		c->pend_len += n;
	} else {
		c->dropped += n;
	}
	pthread_mutex_unlock(&c->lock);
	if (was_empty && write(c->wake_fd, &one, sizeof(one)) < 0)
		log_debug("console wake: %m");
}

size_t console_take(struct console *c, char *buf, size_t size)
{
	uint64_t v;
	size_t n;

	if (read(c->wake_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("console wake: %m");
	pthread_mutex_lock(&c->lock);
	n = c->pend_len < size ? c->pend_len : size;
	memcpy(buf, c->pend, n);
	memmove(c->pend, c->pend + n, c->pend_len - n);
	c->pend_len -= n;
	pthread_mutex_unlock(&c->lock);
	return n;
}

size_t console_tail(struct console *c, char *buf, size_t max)
{
	size_t n, start;

	pthread_mutex_lock(&c->lock);
	n = c->hist_len < max ? c->hist_len : max;
	start = c->hist_head + c->hist_len - n;
	for (size_t i = 0; i < n; i++)
		buf[i] = (char)c->hist[(start + i) % CONSOLE_HISTORY];
	pthread_mutex_unlock(&c->lock);
	return n;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0. */
static size_t utf8_len(const unsigned char *p, size_t left)
{
	size_t len;
	uint32_t cp;

	if (p[0] < 0x80)
		return p[0] ? 1 : 0;
	if ((p[0] & 0xe0) == 0xc0)
		len = 2, cp = p[0] & 0x1f;
	else if ((p[0] & 0xf0) == 0xe0)
		len = 3, cp = p[0] & 0x0f;
	else if ((p[0] & 0xf8) == 0xf0)
		len = 4, cp = p[0] & 0x07;
	else
		return 0;
	if (len > left)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void console_sanitize(char *buf, size_t n)
{
	unsigned char *p = (unsigned char *)buf;

	for (size_t i = 0; i < n;) {
		size_t l = utf8_len(p + i, n - i);

		if (l == 0) {
			p[i++] = '?';
			continue;
		}
		i += l;
	}
}
