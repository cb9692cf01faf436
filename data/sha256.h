/* data/sha256.h: SHA-256 (FIPS 180-4) of a file or a memory buffer, used to verify downloaded
 * corpus sources against the manifest. */
#ifndef DLCM_DATA_SHA256_H
#define DLCM_DATA_SHA256_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint32_t state[8];
    uint64_t total_bytes;
    unsigned char block[64];
    size_t block_used;
} Sha256;

void sha256_init(Sha256 *h);
void sha256_update(Sha256 *h, const void *data, size_t len);
/* Writes 64 lowercase hex digits and a NUL into hex[65]. */
void sha256_final_hex(Sha256 *h, char hex[65]);

/* Hex digest of a whole file; 0, or -1 with a message naming the file in err. */
int sha256_file_hex(const char *path, char hex[65], char *err, int errlen);

#endif
