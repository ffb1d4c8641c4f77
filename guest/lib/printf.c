/* A small vsnprintf: %d %i %u %x %X %p %s %c %%, with l/ll/z, width,
 * zero padding, '-' and '#'.  Enough for logs and RESP replies. */
#include "guest.h"

struct out {
	char *buf;
	size_t size, n;
};

static void put(struct out *o, char c)
{
	if (o->n + 1 < o->size)
		o->buf[o->n] = c;
	o->n++;
}

static void put_num(struct out *o, uint64_t v, int base, int upper, int neg,
		int width, int zero, int left, const char *prefix)
{
	char tmp[24];
	const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
	int len = 0, plen = (int)strlen(prefix) + neg;
	size_t start = o->n;

	do {
		tmp[len++] = digits[v % (unsigned)base];
		v /= (unsigned)base;
	} while (v);
	if (!left && !zero)
		for (int i = len + plen; i < width; i++)
			put(o, ' ');
	if (neg)
		put(o, '-');
	for (; *prefix; prefix++)
		put(o, *prefix);
	if (!left && zero)
		for (int i = len + plen; i < width; i++)
			put(o, '0');
	while (len)
		put(o, tmp[--len]);
	while (left && o->n - start < (size_t)width)
		put(o, ' ');
}

int gvsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
	struct out o = { buf, size, 0 };

	for (; *fmt; fmt++) {
		int width = 0, zero = 0, left = 0, alt = 0, lng = 0;
		uint64_t u;
		int64_t s;

		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt++;
		for (;; fmt++) {
			if (*fmt == '0')
				zero = 1;
			else if (*fmt == '-')
				left = 1;
			else if (*fmt == '#')
				alt = 1;
			else
				break;
		}
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			lng++;
			fmt++;
		}
		switch (*fmt) {
		case 'd':
		case 'i':
			s = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
			u = s < 0 ? (uint64_t)-s : (uint64_t)s;
			put_num(&o, u, 10, 0, s < 0, width, zero, left, "");
			break;
		case 'u':
			u = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			put_num(&o, u, 10, 0, 0, width, zero, left, "");
			break;
		case 'x':
		case 'X':
			u = lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned);
			put_num(&o, u, 16, *fmt == 'X', 0, width, zero, left,
				alt ? "0x" : "");
			break;
		case 'p':
			u = (uintptr_t)va_arg(ap, void *);
			put_num(&o, u, 16, 0, 0, width, zero, left, "0x");
			break;
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case 's': {
			const char *str = va_arg(ap, const char *);
			int len;

			if (!str)
				str = "(null)";
			len = (int)strlen(str);
			if (!left)
				for (int i = len; i < width; i++)
					put(&o, ' ');
			while (*str)
				put(&o, *str++);
			if (left)
				for (int i = len; i < width; i++)
					put(&o, ' ');
			break;
		}
		case '%':
			put(&o, '%');
			break;
		default:
			put(&o, '%');
			if (*fmt)
				put(&o, *fmt);
			else
				fmt--;
		}
	}
	if (size)
		buf[o.n < size ? o.n : size - 1] = '\0';
	return (int)o.n;
}

int gsnprintf(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = gvsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n;
}
