/* util/fnv.c: FNV-1a 64 over bytes (see util/fnv.h). A checksum and fingerprint, not a
 * cryptographic hash. */
#include "util/fnv.h"

uint64_t fnv1a64(const void *data, size_t n, uint64_t h)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}
