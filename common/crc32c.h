/* CRC-32C (Castagnoli), as colo-stream records and the demo guest's log
 * use it.  SSE4.2 when the CPU has it, a table otherwise. */
#ifndef COLO_CRC32C_H
#define COLO_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* crc32c(0, data, len) is the standard CRC-32C; pass the previous result
 * to continue over more data. */
uint32_t crc32c(uint32_t crc, const void *data, size_t len);

/* The same with the byte table only: the reference the fast path is
 * tested against. */
uint32_t crc32c_sw(uint32_t crc, const void *data, size_t len);

#endif
