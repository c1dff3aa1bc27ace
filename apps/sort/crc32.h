/* CRC-32 of zlib, gzip and PNG (reflected polynomial 0xEDB88320, initial
 * and final XOR 0xFFFFFFFF): the CRC that valsort sums and Python's
 * zlib.crc32 computes, so the checksums can be checked independently. */
#ifndef PMR_SORT_CRC32_H
#define PMR_SORT_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Build the tables; call once before sort_crc32 (idempotent, not
 * thread-safe: call it before the threads start). */
void sort_crc32_init(void);
/* CRC-32 of p[0 .. n). Thread-safe after sort_crc32_init. */
uint32_t sort_crc32(const void *p, size_t n);

#endif
