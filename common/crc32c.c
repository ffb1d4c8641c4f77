/* CRC-32C with the SSE4.2 crc32 instruction (about 8 bytes per 3 cycles),
 * or a byte table on CPUs without it. */
#include "config.h"
#include <string.h>
#include "crc32c.h"

#define POLY 0x82f63b78u	/* reflected Castagnoli */

static uint32_t table[256];

static void init_table(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (POLY & (0u - (c & 1)));
		table[i] = c;
	}
}

static uint32_t crc_sw(uint32_t crc, const unsigned char *p, size_t len)
{
	while (len--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

__attribute__((target("sse4.2")))
static uint32_t crc_hw(uint32_t crc, const unsigned char *p, size_t len)
{
	uint64_t c = crc, v;

	while (len >= 8) {
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
		p += 8;
		len -= 8;
	}
	while (len--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}

uint32_t crc32c(uint32_t crc, const void *data, size_t len)
{
	static int have_hw = -1;

	if (have_hw < 0) {
		__builtin_cpu_init();
		have_hw = __builtin_cpu_supports("sse4.2");
		if (!have_hw)
			init_table();
	}
	crc = ~crc;
	crc = have_hw ? crc_hw(crc, data, len) : crc_sw(crc, data, len);
	return ~crc;
}
