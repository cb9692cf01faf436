/* util/fnv.h: FNV-1a 64, the one byte hash of the project: shard checksums, text fingerprints,
 * run config hashes and run ids, checkpoint checksums. Chain calls by passing the last result. */
#ifndef DLCM_UTIL_FNV_H
#define DLCM_UTIL_FNV_H

#include <stddef.h>
#include <stdint.h>

#define FNV1A64_INIT 0xcbf29ce484222325ull

uint64_t fnv1a64(const void *data, size_t n, uint64_t h);

#endif
