/* CRC-32C with the SSE4.2 crc32 instruction, or a byte table on CPUs
 * without it.
 *
 * One crc32 instruction retires 8 bytes but has a 3-cycle latency, so a
 * single dependency chain runs at a third of what the unit can do.  Long
 * buffers are therefore cut into blocks of three lanes that advance
 * together; the lanes are joined by "appending zeros" to the earlier
 * ones, a linear map on the 32-bit register precomputed as byte tables.
 * That is what lets a checkpoint stream keep up with loopback TCP. */
#include "config.h"
#include <pthread.h>
#include <string.h>
#include "crc32c.h"

#define POLY 0x82f63b78u	/* reflected Castagnoli */
/* Bytes per lane: three lanes of 680 make 2040, two blocks of which
 * cover a 4096-byte page but for 16 bytes. */
#define LANE 680u
#define PREFETCH 1024u

static uint32_t table[256];
static uint32_t shift_tab[4][256];	/* register -> register + LANE zeros */
static int have_hw;
static pthread_once_t once = PTHREAD_ONCE_INIT;

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

/* The register after LANE more zero bytes: linear in the register, so
 * the sum of one table entry per byte. */
static uint32_t shift_lane(uint32_t c)
{
	return shift_tab[0][c & 0xff] ^ shift_tab[1][(c >> 8) & 0xff] ^
	       shift_tab[2][(c >> 16) & 0xff] ^ shift_tab[3][c >> 24];
}

__attribute__((target("sse4.2")))
static uint32_t crc_hw3(uint32_t crc, const unsigned char *p, size_t len)
{
	while (len >= 3 * LANE) {
		uint64_t c0 = crc, c1 = 0, c2 = 0, v0, v1, v2;

		for (size_t k = 0; k < LANE; k += 8) {
			/* A checkpoint's staged pages are out of cache: ask
			 * for each lane's next lines early (about 1.5x faster
			 * from memory here, no cost when cached). */
			if ((k & 63) == 0) {
				__builtin_prefetch(p + k + PREFETCH);
				__builtin_prefetch(p + LANE + k + PREFETCH);
				__builtin_prefetch(p + 2 * LANE + k + PREFETCH);
			}
			memcpy(&v0, p + k, 8);
			memcpy(&v1, p + LANE + k, 8);
			memcpy(&v2, p + 2 * LANE + k, 8);
			c0 = __builtin_ia32_crc32di(c0, v0);
			c1 = __builtin_ia32_crc32di(c1, v1);
			c2 = __builtin_ia32_crc32di(c2, v2);
		}
		crc = shift_lane(shift_lane((uint32_t)c0) ^ (uint32_t)c1) ^
		      (uint32_t)c2;
		p += 3 * LANE;
		len -= 3 * LANE;
	}
	return crc_hw(crc, p, len);
}

static void init_tables(void)
{
	static const unsigned char zeros[LANE];
	uint32_t basis[32];

	__builtin_cpu_init();
	have_hw = __builtin_cpu_supports("sse4.2");
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = (c >> 1) ^ (POLY & (0u - (c & 1)));
		table[i] = c;
	}
	for (int i = 0; i < 32; i++)
		basis[i] = crc_sw(1u << i, zeros, LANE);
	for (int b = 0; b < 4; b++)
		for (uint32_t v = 0; v < 256; v++) {
			uint32_t s = 0;

			for (int bit = 0; bit < 8; bit++)
				if (v & (1u << bit))
					s ^= basis[8 * b + bit];
			shift_tab[b][v] = s;
		}
}

uint32_t crc32c(uint32_t crc, const void *data, size_t len)
{
	pthread_once(&once, init_tables);
	crc = ~crc;
	crc = have_hw ? crc_hw3(crc, data, len) : crc_sw(crc, data, len);
	return ~crc;
}

uint32_t crc32c_sw(uint32_t crc, const void *data, size_t len)
{
	pthread_once(&once, init_tables);
	return ~crc_sw(~crc, data, len);
}
