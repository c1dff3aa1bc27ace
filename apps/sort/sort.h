/* pmr-sort: 100-byte records (the TeraSort / gensort layout) ordered by
 * their first 10 bytes. */
#ifndef PMR_SORT_APP_H
#define PMR_SORT_APP_H

#include <stdint.h>

#include <pmr.h>

#define SORT_RECORD 100
#define SORT_KEY 10

/* What --check finds in a file (the same on every rank). */
typedef struct sort_summary {
  uint64_t records;
  /* Positions i whose key is below the key of record i - 1 (0: sorted). */
  uint64_t unsorted;
  /* Positions i whose key equals the key of record i - 1 (in a sorted
   * file: the records that repeat an earlier key). */
  uint64_t duplicates;
  /* The sum mod 2^64 of the CRC-32 of every record: the same for any order
   * of the same records (valsort's checksum, in its low 64 bits). */
  uint64_t checksum;
  /* The first position counted in `unsorted`; UINT64_MAX when none. */
  uint64_t first_unsorted;
} sort_summary;

/* Per-thread sums of the records a map sees (count and checksum), padded
 * to a cache line. */
typedef struct sort_sums {
  uint64_t records, checksum;
  char pad[48];
} sort_sums;

/* Read `path` (records split over the ranks and threads by
 * pmr_map_records) and summarise it into *out on every rank. Collective.
 * Returns PMR_OK or the map's error (message in pmr_errmsg). */
int sort_check(pmr_ctx *ctx, const char *path, sort_summary *out);

#endif
