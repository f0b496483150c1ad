/*
 * pagetest.h — shared code for the page allocator tests, after Go's
 * export_test.go: private page allocators built from tables of chunks and
 * bit ranges, charged to the test runtime's other_sys (Go's testSysStat).
 */
#ifndef GALE_PAGETEST_H
#define GALE_PAGETEST_H

#include <stdbool.h>
#include <stdint.h>

#include "mem/mgcscavenge.h"
#include "mem/mpagealloc.h"
#include "mem/runtime.h"

/* One runtime for all private allocators: only its counters are used. */
extern runtime testRuntime;
#define testSysStat (&testRuntime.memstats.other_sys)

#define PageSize pageSize
#define PallocChunkPages pallocChunkPages
#define PallocSumBytes pallocSumBytes
#define PhysPageSize physPageSize
#define PageCachePages pageCachePages

/* Test heaps at 0xc000 chunks (192 GiB), as Go's tests: far above the
 * program, far below the kernel's mmap area. Constant expressions, so the
 * tables can be static. */
#define BaseChunkIdx ((chunkIdx)(((uintptr_t)0xc000 * pallocChunkBytes - arenaBaseOffset) / pallocChunkBytes))
#define PageBase(c, i) ((uintptr_t)(c) * pallocChunkBytes + arenaBaseOffset + (uintptr_t)(i) * pageSize)

typedef struct BitRange {
	unsigned I, N;
} BitRange;

/* Go's map[ChunkIdx][]BitRange: up to MAXC chunks (ci 0 ends the list),
 * each with up to MAXR ranges (N 0 is skipped, as Go does). */
#define MAXR 16
#define MAXC 40
typedef struct chunkRanges {
	chunkIdx ci;
	BitRange r[MAXR];
} chunkRanges;

/* NewPageAlloc: a test allocator grown over every chunk in chunks, with the
 * given allocated ranges and scavenged ranges (scav NULL: none scavenged). */
pageAlloc *NewPageAlloc(const chunkRanges *chunks, const chunkRanges *scav);
void FreePageAlloc(pageAlloc *p);
/* Same start/end and, for every chunk, equal alloc and scavenged bitmaps. */
void checkPageAlloc(const pageAlloc *want, const pageAlloc *got);

/* A bitmap with the given ranges set (count n). */
void makePallocBits(pallocBits *b, const BitRange *r, int n);
/* Asserts two bitmaps are equal, naming the first differing word. */
void checkPallocBits(const pallocBits *got, const pallocBits *want, const char *what);

#endif
