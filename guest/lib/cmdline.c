/* The PVH command line: space-separated key=value words. */
#include "guest.h"

const char *cmdline(void)
{
	if (!guest_start_info->cmdline_paddr)
		return "";
	return (const char *)(uintptr_t)guest_start_info->cmdline_paddr;
}

int cmdline_get_nth(const char *key, int n, char *buf, size_t size)
{
	const char *p = cmdline();
	size_t klen = strlen(key);

	while (*p) {
		const char *w = p, *e;

		while (*p && *p != ' ')
			p++;
		e = p;
		while (*p == ' ')
			p++;
		if ((size_t)(e - w) < klen || strncmp(w, key, klen) != 0)
			continue;
		if (w + klen != e && w[klen] != '=')
			continue;
		if (n-- > 0)
			continue;
		w += klen + (w + klen != e);
		if ((size_t)(e - w) >= size)
			return -1;
		memcpy(buf, w, (size_t)(e - w));
		buf[e - w] = '\0';
		return (int)(e - w);
	}
	return -1;
}

int cmdline_get(const char *key, char *buf, size_t size)
{
	return cmdline_get_nth(key, 0, buf, size);
}

uint64_t cmdline_u64(const char *key, uint64_t def)
{
	char buf[32];

	if (cmdline_get(key, buf, sizeof(buf)) <= 0)
		return def;
	return parse_u64(buf, NULL);
}
