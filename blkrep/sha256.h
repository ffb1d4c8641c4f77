/* SHA-256 (FIPS 180-4), for quorum voting: children whose blocks hash
 * alike vote together. */
#ifndef COLO_BLKREP_SHA256_H
#define COLO_BLKREP_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);

#endif
