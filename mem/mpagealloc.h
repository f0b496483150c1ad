/*
 * mpagealloc.h — the page allocator (mirrors Go's mpagealloc.go,
 * mpagealloc_64bit.go, mpallocbits.go, mpagecache.go and mranges.go).
 *
 * The heap's address space is cut into 8 KiB pages grouped in 4 MiB chunks of
 * 512 pages. Each chunk has a bitmap of allocated pages and one of scavenged
 * (released to the OS) pages. Above the chunks sits a radix tree of packed
 * summaries (start, max, end free-page counts), five levels deep, so the first
 * fit for n pages is found without scanning bitmaps. Each level is one array
 * covering the whole address space: reserved at init, mapped (straight to the
 * Ready state) only where the heap has grown.
 *
 * All geometry below derives from heapAddrBits, as Go computes it.
 */
#ifndef GALE_MPAGEALLOC_H
#define GALE_MPAGEALLOC_H

#include <stdbool.h>
#include <stdint.h>

#include "mem/geometry.h"
#include "mem/mem.h"

/* ---- geometry (linux/amd64) ---- */


#define logPallocChunkPages 9
#define pallocChunkPages ((uintptr_t)1 << logPallocChunkPages)
#define logPallocChunkBytes (logPallocChunkPages + pageShift)
#define pallocChunkBytes (pallocChunkPages * pageSize)

/* The summary radix tree: level 0 takes whatever bits remain after four
 * levels of 8-way fan-out above the 4 MiB leaves (48-22-12 = 14 bits). */
#define summaryLevels 5
#define summaryLevelBits 3
#define summaryL0Bits (heapAddrBits - logPallocChunkBytes - (summaryLevels - 1) * summaryLevelBits)

/* Chunk bitmaps live in a two-level array: 2^13 L1 entries of 2^13 chunks. */
#define pallocChunksL1Bits 13
#define pallocChunksL2Bits (heapAddrBits - logPallocChunkBytes - pallocChunksL1Bits)
#define pallocChunksL1Shift pallocChunksL2Bits

/* A summary field holds up to 2^21 pages: the span of a root-level entry. */
#define logMaxPackedValue (logPallocChunkPages + (summaryLevels - 1) * summaryLevelBits)
#define maxPackedValue ((uintptr_t)1 << logMaxPackedValue)
#define pallocSumBytes ((uintptr_t)sizeof(pallocSum))

#define pageCachePages ((uintptr_t)64)

/* Largest physical page the runtime supports; bounds scavenging granularity. */
#define maxPhysPageSize ((uintptr_t)512 << 10)
#define maxPagesPerPhysPage (maxPhysPageSize / pageSize)

extern const unsigned levelBits[summaryLevels];
extern const unsigned levelShift[summaryLevels];
extern const unsigned levelLogPages[summaryLevels];

/* ---- offset addresses and address ranges (mranges.c) ---- */

/* An address compared in the linearised (offset) space. */
typedef struct offAddr {
	uintptr_t a;
} offAddr;

#define minOffAddr ((offAddr){arenaBaseOffset})
#define maxOffAddr ((offAddr){(((uintptr_t)1 << heapAddrBits) - 1) + arenaBaseOffset})

static inline offAddr offAddr_add(offAddr l, uintptr_t n) { return (offAddr){l.a + n}; }
static inline offAddr offAddr_sub(offAddr l, uintptr_t n) { return (offAddr){l.a - n}; }
static inline uintptr_t offAddr_diff(offAddr l1, offAddr l2) { return l1.a - l2.a; }
static inline bool offAddr_lessThan(offAddr l1, offAddr l2) {
	return (l1.a - arenaBaseOffset) < (l2.a - arenaBaseOffset);
}
static inline bool offAddr_lessEqual(offAddr l1, offAddr l2) {
	return (l1.a - arenaBaseOffset) <= (l2.a - arenaBaseOffset);
}
static inline bool offAddr_equal(offAddr l1, offAddr l2) { return l1.a == l2.a; }

/* [base, limit) in offset space. */
typedef struct addrRange {
	offAddr base, limit;
} addrRange;

addrRange makeAddrRange(uintptr_t base, uintptr_t limit);
uintptr_t addrRange_size(addrRange a);
bool addrRange_contains(addrRange a, uintptr_t addr);
addrRange addrRange_subtract(addrRange a, addrRange b);
addrRange addrRange_removeGreaterEqual(addrRange a, uintptr_t addr);

/* A sorted, coalesced set of ranges. The backing array is sysAlloc'd on
 * sysStat (Go uses persistentalloc and leaks outgrown arrays; here outgrown
 * arrays are returned with sysFree, so the set can be torn down). */
typedef struct addrRanges {
	addrRange *ranges;
	int len, cap;
	uintptr_t totalBytes; /* sum of the ranges' sizes */
	runtime *rt;
	sysMemStat *sysStat;
} addrRanges;

void addrRanges_init(addrRanges *a, runtime *rt, sysMemStat *sysStat);
void addrRanges_release(addrRanges *a);
int addrRanges_findSucc(const addrRanges *a, uintptr_t addr);
bool addrRanges_findAddrGreaterEqual(const addrRanges *a, uintptr_t addr, uintptr_t *out);
bool addrRanges_contains(const addrRanges *a, uintptr_t addr);
void addrRanges_add(addrRanges *a, addrRange r);
addrRange addrRanges_removeLast(addrRanges *a, uintptr_t nBytes);
void addrRanges_removeGreaterEqual(addrRanges *a, uintptr_t addr);
void addrRanges_cloneInto(const addrRanges *a, addrRanges *b);

/* ---- chunk bitmaps (mpallocbits.c) ---- */

/* One bit per page of a chunk. */
typedef struct pageBits {
	uint64_t b[pallocChunkPages / 64];
} pageBits;

unsigned pageBits_get(const pageBits *b, unsigned i);
uint64_t pageBits_block64(const pageBits *b, unsigned i);
void pageBits_set(pageBits *b, unsigned i);
void pageBits_setRange(pageBits *b, unsigned i, unsigned n);
void pageBits_setAll(pageBits *b);
void pageBits_setBlock64(pageBits *b, unsigned i, uint64_t v);
void pageBits_clear(pageBits *b, unsigned i);
void pageBits_clearRange(pageBits *b, unsigned i, unsigned n);
void pageBits_clearAll(pageBits *b);
void pageBits_clearBlock64(pageBits *b, unsigned i, uint64_t v);
unsigned pageBits_popcntRange(const pageBits *b, unsigned i, unsigned n);

/* A packed summary of a region's free pages: start (bits 0-20), max (21-41),
 * end (42-62); bit 63 alone means "all 2^21 pages free". 0 = nothing free. */
typedef uint64_t pallocSum;

#define freeChunkSum                                                         \
	((pallocSum)((uint64_t)pallocChunkPages |                            \
	             ((uint64_t)pallocChunkPages << logMaxPackedValue) |     \
	             ((uint64_t)pallocChunkPages << (2 * logMaxPackedValue))))

pallocSum packPallocSum(unsigned start, unsigned max, unsigned end);
unsigned pallocSum_start(pallocSum p);
unsigned pallocSum_max(pallocSum p);
unsigned pallocSum_end(pallocSum p);
void pallocSum_unpack(pallocSum p, unsigned *start, unsigned *max, unsigned *end);
pallocSum mergeSummaries(const pallocSum *sums, int n, unsigned logMaxPagesPerSum);

/* Allocation bitmap of a chunk: 1 = page in use. */
typedef pageBits pallocBits;

pallocSum pallocBits_summarize(const pallocBits *b);
/* First run of npages free pages at or after searchIdx: its index or ~0u;
 * *newSearchIdx (may be NULL) gets the first free page seen, or ~0u. */
unsigned pallocBits_find(const pallocBits *b, uintptr_t npages, unsigned searchIdx,
                         unsigned *newSearchIdx);
void pallocBits_allocRange(pallocBits *b, unsigned i, unsigned n);
void pallocBits_allocAll(pallocBits *b);
void pallocBits_free1(pallocBits *b, unsigned i);
void pallocBits_free(pallocBits *b, unsigned i, unsigned n);
void pallocBits_freeAll(pallocBits *b);
uint64_t pallocBits_pages64(const pallocBits *b, unsigned i);
void pallocBits_allocPages64(pallocBits *b, unsigned i, uint64_t alloc);
/* First index of n consecutive 1 bits in c, or >= 64 if none. */
unsigned findBitRange64(uint64_t c, unsigned n);

/* Everything the allocator knows about one chunk. Invariant: a page is never
 * both allocated and scavenged (allocation clears the scavenged bits). */
typedef struct pallocData {
	pallocBits pallocBits;
	pageBits scavenged; /* 1 = released to the OS (Prepared) */
} pallocData;

void pallocData_allocRange(pallocData *m, unsigned i, unsigned n);
void pallocData_allocAll(pallocData *m);
/* Highest run of free, unscavenged pages at or below searchIdx, aligned to
 * min pages and at most max pages (0 = min); *npages = 0 if none. (mgcscavenge.c) */
unsigned pallocData_findScavengeCandidate(const pallocData *m, unsigned searchIdx,
                                          uintptr_t min, uintptr_t max, unsigned *npages);

/* ---- chunk indices ---- */

typedef uintptr_t chunkIdx;

static inline chunkIdx chunkIndex(uintptr_t p) { return (p - arenaBaseOffset) / pallocChunkBytes; }
static inline uintptr_t chunkBase(chunkIdx ci) { return ci * pallocChunkBytes + arenaBaseOffset; }
static inline unsigned chunkPageIndex(uintptr_t p) { return (unsigned)(p % pallocChunkBytes / pageSize); }
static inline unsigned chunkIdx_l1(chunkIdx i) { return (unsigned)(i >> pallocChunksL1Shift); }
static inline unsigned chunkIdx_l2(chunkIdx i) {
	return (unsigned)(i & (((uintptr_t)1 << pallocChunksL2Bits) - 1));
}

/* ---- the scavenge index (1.19 form, mgcscavenge.c) ---- */

/* One bit per chunk of the address space: set when the chunk may hold free
 * and unscavenged pages. The bitmap is reserved whole and mapped only over
 * the bytes [min, max) that cover grown chunks. With one thread, searchAddr
 * needs no "marked" flag: it only ever bounds the next downward scan. */
typedef struct scavengeIndex {
	uint8_t *chunks;     /* 1 bit per chunk; byte i covers chunks 8i..8i+7 */
	uintptr_t nbytes;    /* size of the reservation */
	offAddr searchAddr;  /* highest address that may have a marked chunk */
	int32_t minHeapIdx;  /* lowest byte of chunks the heap has ever used */
	int32_t min, max;    /* mapped byte range of chunks */
} scavengeIndex;

/* (chunk, page) of the highest marked chunk, lowering searchAddr; 0 = none. */
chunkIdx scavengeIndex_find(scavengeIndex *s, unsigned *pageIdx);
void scavengeIndex_mark(scavengeIndex *s, uintptr_t base, uintptr_t limit);
void scavengeIndex_clear(scavengeIndex *s, chunkIdx ci);

/* ---- the page allocator ---- */

typedef struct pageAlloc {
	/* summary[l] is one reserved array of all entries of level l; only
	 * [0, summaryLen[l]) is addressable and only grown ranges are mapped. */
	pallocSum *summary[summaryLevels];
	int summaryLen[summaryLevels];
	int summaryCap[summaryLevels];

	/* chunks[l1][l2]: L2 arrays are sysAlloc'd on sysStat when first needed. */
	pallocData *chunks[1 << pallocChunksL1Bits];

	/* Every page below searchAddr is known to be allocated. */
	offAddr searchAddr;
	/* Chunks [start, end) are known to the allocator. */
	chunkIdx start, end;
	/* The address ranges passed to grow, coalesced: what has summaries. */
	addrRanges inUse;

	struct {
		scavengeIndex index;
		uintptr_t released;   /* bytes released by the background scavenger since the last scavtrace line */
		int64_t assistTime;   /* ns spent scavenging in allocation assists */
	} scav;

	runtime *rt;
	sysMemStat *sysStat;           /* charged for all metadata mapped here */
	uintptr_t summaryMappedReady;  /* bytes of summaries and index mapped Ready */
	bool test;                     /* a private allocator: no sysUnused, no heap stats */
} pageAlloc;

/* A per-runtime cache of up to 64 pages in one aligned block. */
typedef struct pageCache {
	uintptr_t base;  /* address of the 64-page block */
	uint64_t cache;  /* 1 = free page owned by the cache */
	uint64_t scav;   /* 1 = that page is scavenged */
} pageCache;

/* Reserves the summary levels and the scavenge index; maps nothing. */
void pageAlloc_init(pageAlloc *p, runtime *rt, sysMemStat *sysStat, bool test);
/* Tear down: unreserve with sysFreeOS (the reservation exception) and give
 * back summaryMappedReady to sysStat and mappedReady by hand, as Go's
 * FreePageAlloc; chunk arrays and the inUse array go back with sysFree. */
void pageAlloc_release(pageAlloc *p);

/* Makes [base, base+size) (rounded out to chunks) known and free; it counts
 * as scavenged until allocated. Maps the summaries it needs. */
void pageAlloc_grow(pageAlloc *p, uintptr_t base, uintptr_t size);
/* Address of npages contiguous free pages, 0 if none; *scav (may be NULL)
 * gets how many of those bytes were scavenged. */
uintptr_t pageAlloc_alloc(pageAlloc *p, uintptr_t npages, uintptr_t *scav);
/* Marks [base, base+npages*pageSize) allocated; returns scavenged bytes. */
uintptr_t pageAlloc_allocRange(pageAlloc *p, uintptr_t base, uintptr_t npages);
/* Frees pages that are Ready (not scavenged). */
void pageAlloc_free(pageAlloc *p, uintptr_t base, uintptr_t npages);
/* Go's free(base, npages, scavenged): the scavenger frees pages it released. */
void pageAlloc_freeScav(pageAlloc *p, uintptr_t base, uintptr_t npages, bool scavenged);
/* Releases up to nbytes (rounded up to pages) of free, unscavenged memory,
 * highest addresses first: sysUnused, heapFree -> heapReleased, consistent
 * committed -> released. Returns the bytes released. (mgcscavenge.c) */
uintptr_t pageAlloc_scavenge(pageAlloc *p, uintptr_t nbytes);
/* The same, checking shouldStop (may be NULL) after each chunk. */
uintptr_t pageAlloc_scavengeUntil(pageAlloc *p, uintptr_t nbytes, bool (*shouldStop)(runtime *rt));
/* Releases up to max bytes from chunk ci; 0 (and ci leaves the index) if none. */
uintptr_t pageAlloc_scavengeOne(pageAlloc *p, chunkIdx ci, unsigned searchIdx, uintptr_t max);
/* Recomputes the summaries over a range after its bitmaps changed. */
void pageAlloc_update(pageAlloc *p, uintptr_t base, uintptr_t npages, bool contig, bool alloc);
/* Slow path: radix-tree walk. Returns the address (0 = none) and in
 * *searchAddr the new search hint. */
uintptr_t pageAlloc_find(pageAlloc *p, uintptr_t npages, offAddr *searchAddr);

static inline pallocData *pageAlloc_chunkOf(const pageAlloc *p, chunkIdx ci) {
	return &p->chunks[chunkIdx_l1(ci)][chunkIdx_l2(ci)];
}
static inline pallocData *pageAlloc_tryChunkOf(const pageAlloc *p, chunkIdx ci) {
	pallocData *l2 = p->chunks[chunkIdx_l1(ci)];
	return l2 ? &l2[chunkIdx_l2(ci)] : 0;
}
static inline offAddr maxSearchAddr(void) { return maxOffAddr; }

/* 64-bit summary memory management (mpagealloc_64bit.c). */
void pageAlloc_sysInit(pageAlloc *p);
void pageAlloc_sysGrow(pageAlloc *p, uintptr_t base, uintptr_t limit);
uintptr_t scavengeIndex_grow(scavengeIndex *s, runtime *rt, uintptr_t base, uintptr_t limit,
                             sysMemStat *sysStat);

/* Summary levels: index <-> offset address. */
static inline int offAddrToLevelIndex(int level, offAddr addr) {
	return (int)((addr.a - arenaBaseOffset) >> levelShift[level]);
}
static inline offAddr levelIndexToOffAddr(int level, int idx) {
	return (offAddr){((uintptr_t)idx << levelShift[level]) + arenaBaseOffset};
}
void addrsToSummaryRange(int level, uintptr_t base, uintptr_t limit, int *lo, int *hi);
void blockAlignSummaryRange(int level, int *lo, int *hi);

/* ---- the page cache (mpagecache.c) ---- */

static inline bool pageCache_empty(const pageCache *c) { return c->cache == 0; }
/* npages from the cache, 0 if it has no such run; *scav (may be NULL) gets
 * the scavenged bytes among them. */
uintptr_t pageCache_alloc(pageCache *c, uintptr_t npages, uintptr_t *scav);
/* Returns every cached page to p, restoring its scavenged bits. */
void pageCache_flush(pageCache *c, pageAlloc *p);
/* Takes the 64-page block holding the first free page; empty if none. */
pageCache pageAlloc_allocToCache(pageAlloc *p);

#endif
