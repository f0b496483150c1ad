/*
 * Page cache tests: Go's mpagecache_test.go (TestPageCacheAlloc,
 * TestPageCacheFlush, TestPageAllocAllocToCache) with the same tables.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "page/pagetest.h"

#define NewPageCache(b, c, s)                                                                                \
	{                                                                                                    \
		(b), (c), (s)                                                                                \
	}
/* Ends a list of expected caches (base 1 is never a page). */
#define CACHE_END NewPageCache(1, 0, 0)

static void checkPageCache(pageCache got, pageCache want, const char *name, int i)
{
	cr_assert_eq(got.base, want.base, "%s #%d: bad pageCache base: got %#lx, want %#lx", name, i,
	             (unsigned long)got.base, (unsigned long)want.base);
	cr_assert_eq(got.cache, want.cache, "%s #%d: bad pageCache bits: got %016lx, want %016lx", name, i,
	             (unsigned long)got.cache, (unsigned long)want.cache);
	cr_assert_eq(got.scav, want.scav, "%s #%d: bad pageCache scav: got %016lx, want %016lx", name, i,
	             (unsigned long)got.scav, (unsigned long)want.scav);
}

typedef struct cacheHit {
	uintptr_t npages, base, scav;
} cacheHit;

typedef struct cacheAllocTest {
	const char *name;
	pageCache cache;
	cacheHit hits[24];
} cacheAllocTest;

Test(pagecache, Alloc)
{
	const uintptr_t base = PageBase(BaseChunkIdx, 0);
	const cacheAllocTest tests[] = {
	        {.name = "Empty",
	         .cache = NewPageCache(base, 0, 0),
	         .hits = {{1, 0, 0},
	                  {2, 0, 0},
	                  {3, 0, 0},
	                  {4, 0, 0},
	                  {5, 0, 0},
	                  {11, 0, 0},
	                  {12, 0, 0},
	                  {16, 0, 0},
	                  {27, 0, 0},
	                  {32, 0, 0},
	                  {43, 0, 0},
	                  {57, 0, 0},
	                  {64, 0, 0},
	                  {121, 0, 0}}},
	        {.name = "Lo1",
	         .cache = NewPageCache(base, 0x1, 0x1),
	         .hits = {{1, base, PageSize}, {1, 0, 0}, {10, 0, 0}}},
	        {.name = "Hi1",
	         .cache = NewPageCache(base, (uint64_t)0x1 << 63, 0x1),
	         .hits = {{1, base + 63 * PageSize, 0}, {1, 0, 0}, {10, 0, 0}}},
	        {.name = "Swiss1",
	         .cache = NewPageCache(base, 0x20005555, 0x5505),
	         .hits = {{2, 0, 0},
	                  {1, base, PageSize},
	                  {1, base + 2 * PageSize, PageSize},
	                  {1, base + 4 * PageSize, 0},
	                  {1, base + 6 * PageSize, 0},
	                  {1, base + 8 * PageSize, PageSize},
	                  {1, base + 10 * PageSize, PageSize},
	                  {1, base + 12 * PageSize, PageSize},
	                  {1, base + 14 * PageSize, PageSize},
	                  {1, base + 29 * PageSize, 0},
	                  {1, 0, 0},
	                  {10, 0, 0}}},
	        {.name = "Lo2",
	         .cache = NewPageCache(base, 0x3, (uint64_t)0x2 << 62),
	         .hits = {{2, base, 0}, {2, 0, 0}, {1, 0, 0}}},
	        {.name = "Hi2",
	         .cache = NewPageCache(base, (uint64_t)0x3 << 62, (uint64_t)0x3 << 62),
	         .hits = {{2, base + 62 * PageSize, 2 * PageSize}, {2, 0, 0}, {1, 0, 0}}},
	        {.name = "Swiss2",
	         .cache = NewPageCache(base, (uint64_t)0x3333 << 31, (uint64_t)0x3030 << 31),
	         .hits = {{2, base + 31 * PageSize, 0},
	                  {2, base + 35 * PageSize, 2 * PageSize},
	                  {2, base + 39 * PageSize, 0},
	                  {2, base + 43 * PageSize, 2 * PageSize},
	                  {2, 0, 0}}},
	        {.name = "Hi53",
	         .cache = NewPageCache(base, (((uint64_t)(1) << 53) - 1) << 10,
	                               (((uint64_t)(1) << 16) - 1) << 10),
	         .hits = {{53, base + 10 * PageSize, 16 * PageSize}, {53, 0, 0}, {1, 0, 0}}},
	        {.name = "Full53",
	         .cache = NewPageCache(base, (~(uint64_t)0), (((uint64_t)(1) << 16) - 1) << 10),
	         .hits = {{53, base, 16 * PageSize}, {53, 0, 0}, {1, base + 53 * PageSize, 0}}},
	        {.name = "Full64",
	         .cache = NewPageCache(base, (~(uint64_t)0), (~(uint64_t)0)),
	         .hits = {{64, base, 64 * PageSize}, {64, 0, 0}, {1, 0, 0}}},
	        {.name = "FullMixed",
	         .cache = NewPageCache(base, (~(uint64_t)0), (~(uint64_t)0)),
	         .hits = {{5, base, 5 * PageSize},
	                  {7, base + 5 * PageSize, 7 * PageSize},
	                  {1, base + 12 * PageSize, 1 * PageSize},
	                  {23, base + 13 * PageSize, 23 * PageSize},
	                  {63, 0, 0},
	                  {3, base + 36 * PageSize, 3 * PageSize},
	                  {3, base + 39 * PageSize, 3 * PageSize},
	                  {3, base + 42 * PageSize, 3 * PageSize},
	                  {12, base + 45 * PageSize, 12 * PageSize},
	                  {11, 0, 0},
	                  {4, base + 57 * PageSize, 4 * PageSize},
	                  {4, 0, 0},
	                  {6, 0, 0},
	                  {36, 0, 0},
	                  {2, base + 61 * PageSize, 2 * PageSize},
	                  {3, 0, 0},
	                  {1, base + 63 * PageSize, 1 * PageSize},
	                  {4, 0, 0},
	                  {2, 0, 0},
	                  {62, 0, 0},
	                  {1, 0, 0}}}};
	for (size_t t = 0; t < sizeof tests / sizeof tests[0]; t++) {
		pageCache c = tests[t].cache;
		for (int i = 0; tests[t].hits[i].npages != 0; i++) {
			const cacheHit *h = &tests[t].hits[i];
			uintptr_t s;
			uintptr_t b = pageCache_alloc(&c, h->npages, &s);
			cr_assert_eq(b, h->base, "%s: bad alloc base #%d: got %#lx, want %#lx", tests[t].name,
			             i, (unsigned long)b, (unsigned long)h->base);
			cr_assert_eq(s, h->scav, "%s: bad alloc scav #%d: got %lu, want %lu", tests[t].name,
			             i, (unsigned long)s, (unsigned long)h->scav);
		}
	}
}

/* The runs of ones in bits, as page ranges starting at base. */
static void bits64ToBitRanges(uint64_t bits, unsigned base, BitRange *out)
{
	int n = 0;
	unsigned start = 0, size = 0;
	for (unsigned i = 0; i < 64; i++) {
		if (bits & ((uint64_t)1 << i)) {
			if (size == 0)
				start = i + base;
			size++;
		} else if (size != 0) {
			out[n++] = (BitRange){start, size};
			size = 0;
		}
	}
	if (size != 0)
		out[n++] = (BitRange){start, size};
}

static void flushCase(unsigned base, uint64_t cache, uint64_t scav)
{
	chunkRanges beforeAlloc[2] = {{BaseChunkIdx, {{base, 64}}}};
	chunkRanges beforeScav[2] = {{BaseChunkIdx, {}}};
	pageAlloc *b = NewPageAlloc(beforeAlloc, beforeScav);

	pageCache c = NewPageCache(PageBase(BaseChunkIdx, base), cache, scav);
	pageCache_flush(&c, b);
	cr_assert(pageCache_empty(&c), "pageCache flush did not clear cache");

	static chunkRanges afterAlloc[2], afterScav[2];
	memset(afterAlloc, 0, sizeof afterAlloc);
	memset(afterScav, 0, sizeof afterScav);
	afterAlloc[0].ci = afterScav[0].ci = BaseChunkIdx;
	BitRange ra[33] = {{0}}, rs[33] = {{0}};
	bits64ToBitRanges(~cache, base, ra);
	bits64ToBitRanges(scav, base, rs);
	/* Up to 32 runs: more than a chunkRanges holds, so set them directly. */
	pageAlloc *want = NewPageAlloc(afterAlloc, afterScav);
	pallocData *d = pageAlloc_chunkOf(want, BaseChunkIdx);
	for (int i = 0; ra[i].N != 0; i++)
		pallocData_allocRange(d, ra[i].I, ra[i].N);
	for (int i = 0; rs[i].N != 0; i++)
		pageBits_setRange(&d->scavenged, rs[i].I, rs[i].N);
	pageAlloc_update(want, PageBase(BaseChunkIdx, 0), pallocChunkPages, false, false);
	checkPageAlloc(want, b);
	FreePageAlloc(want);
	FreePageAlloc(b);
}

Test(pagecache, Flush)
{
	flushCase(0, 0, 0);                       /* Empty */
	flushCase(0, ~(uint64_t)0, ~(uint64_t)0); /* Full */
	srand(2);
	for (int i = 0; i < 100; i++) { /* Random */
		unsigned base = (unsigned)(rand() % (PallocChunkPages / 64)) * 64;
		uint64_t cache = 0, scav = 0;
		for (int j = 0; j < 4; j++) {
			cache = (cache << 16) ^ (uint64_t)(rand() & 0xffff);
			scav = (scav << 16) ^ (uint64_t)(rand() & 0xffff);
		}
		scav &= cache;
		flushCase(base, cache, scav);
	}
}

typedef struct toCacheTest {
	const char *name;
	chunkRanges beforeAlloc[MAXC];
	chunkRanges beforeScav[MAXC];
	pageCache hits[8];
	chunkRanges afterAlloc[MAXC];
	chunkRanges afterScav[MAXC];
} toCacheTest;

#define chunkIdxBigJump 0x100000
/* Go's baseChunkIdx + sumsPerPhysPage - 1, with 512 summaries per 4 KiB page. */
#define sumBoundaryChunk ((BaseChunkIdx & ~(chunkIdx)511) + 511)

static const toCacheTest toCacheTests[] = {
        {.name = "AllFree",
         .beforeAlloc = {{BaseChunkIdx, {}}},
         .beforeScav = {{BaseChunkIdx, {{1, 1}, {64, 64}}}},
         .hits = {NewPageCache(PageBase(BaseChunkIdx, 0), (~(uint64_t)0), 0x2),
                  NewPageCache(PageBase(BaseChunkIdx, 64), (~(uint64_t)0), (~(uint64_t)0)),
                  NewPageCache(PageBase(BaseChunkIdx, 128), (~(uint64_t)0), 0),
                  NewPageCache(PageBase(BaseChunkIdx, 192), (~(uint64_t)0), 0), CACHE_END},
         .afterAlloc = {{BaseChunkIdx, {{0, 256}}}}},
        {.name = "ManyArena",
         .beforeAlloc = {{BaseChunkIdx, {{0, PallocChunkPages}}},
                         {BaseChunkIdx + 1, {{0, PallocChunkPages}}},
                         {BaseChunkIdx + 2, {{0, PallocChunkPages - 64}}}},
         .beforeScav = {{BaseChunkIdx, {{0, PallocChunkPages}}},
                        {BaseChunkIdx + 1, {{0, PallocChunkPages}}},
                        {BaseChunkIdx + 2, {}}},
         .hits = {NewPageCache(PageBase(BaseChunkIdx + 2, PallocChunkPages - 64), (~(uint64_t)0), 0),
                  CACHE_END},
         .afterAlloc = {{BaseChunkIdx, {{0, PallocChunkPages}}},
                        {BaseChunkIdx + 1, {{0, PallocChunkPages}}},
                        {BaseChunkIdx + 2, {{0, PallocChunkPages}}}}},
        {.name = "NotContiguous",
         .beforeAlloc = {{BaseChunkIdx, {{0, PallocChunkPages}}}, {BaseChunkIdx + 0xff, {{0, 0}}}},
         .beforeScav = {{BaseChunkIdx, {{0, PallocChunkPages}}}, {BaseChunkIdx + 0xff, {{31, 67}}}},
         .hits = {NewPageCache(PageBase(BaseChunkIdx + 0xff, 0), (~(uint64_t)0),
                               (((uint64_t)(1) << 33) - 1) << 31),
                  CACHE_END},
         .afterAlloc = {{BaseChunkIdx, {{0, PallocChunkPages}}}, {BaseChunkIdx + 0xff, {{0, 64}}}},
         .afterScav = {{BaseChunkIdx, {{0, PallocChunkPages}}}, {BaseChunkIdx + 0xff, {{64, 34}}}}},
        {.name = "First",
         .beforeAlloc = {{BaseChunkIdx, {{0, 32}, {33, 31}, {96, 32}}}},
         .beforeScav = {{BaseChunkIdx, {{1, 4}, {31, 5}, {66, 2}}}},
         .hits = {NewPageCache(PageBase(BaseChunkIdx, 0), (uint64_t)1 << 32, (uint64_t)1 << 32),
                  NewPageCache(PageBase(BaseChunkIdx, 64), ((uint64_t)(1) << 32) - 1, 0x3 << 2), CACHE_END},
         .afterAlloc = {{BaseChunkIdx, {{0, 128}}}}},
        {.name = "Fail",
         .beforeAlloc = {{BaseChunkIdx, {{0, PallocChunkPages}}}},
         .hits = {NewPageCache(0, 0, 0), NewPageCache(0, 0, 0), NewPageCache(0, 0, 0), CACHE_END},
         .afterAlloc = {{BaseChunkIdx, {{0, PallocChunkPages}}}}},
        {.name = "RetainScavBits",
         .beforeAlloc = {{BaseChunkIdx, {{0, 1}, {10, 2}}}},
         .beforeScav = {{BaseChunkIdx, {{0, 4}, {11, 1}}}},
         .hits = {NewPageCache(PageBase(BaseChunkIdx, 0), ~(uint64_t)(0x1 | (0x3 << 10)), 0x7 << 1),
                  CACHE_END},
         .afterAlloc = {{BaseChunkIdx, {{0, 64}}}},
         .afterScav = {{BaseChunkIdx, {{0, 1}, {11, 1}}}}},
        {.name = "DiscontiguousMappedSumBoundary",
         .beforeAlloc = {{sumBoundaryChunk, {{0, PallocChunkPages - 1}}},
                         {(BaseChunkIdx & ~(chunkIdx)511) + chunkIdxBigJump, {{1, PallocChunkPages - 1}}}},
         .beforeScav = {{sumBoundaryChunk, {}}, {(BaseChunkIdx & ~(chunkIdx)511) + chunkIdxBigJump, {}}},
         .hits = {NewPageCache(PageBase(sumBoundaryChunk, PallocChunkPages - 64), (uint64_t)1 << 63, 0),
                  NewPageCache(PageBase((BaseChunkIdx & ~(chunkIdx)511) + chunkIdxBigJump, 0), 1, 0),
                  NewPageCache(0, 0, 0), CACHE_END},
         .afterAlloc = {{sumBoundaryChunk, {{0, PallocChunkPages}}},
                        {(BaseChunkIdx & ~(chunkIdx)511) + chunkIdxBigJump, {{0, PallocChunkPages}}}}},
};

Test(pagecache, AllocToCache)
{
	memInit();
	cr_assert_eq(physPageSize / pallocSumBytes, 512);
	for (size_t t = 0; t < sizeof toCacheTests / sizeof toCacheTests[0]; t++) {
		const toCacheTest *v = &toCacheTests[t];
		pageAlloc *b = NewPageAlloc(v->beforeAlloc, v->beforeScav);
		for (int i = 0; v->hits[i].base != 1; i++)
			checkPageCache(pageAlloc_allocToCache(b), v->hits[i], v->name, i);
		pageAlloc *want = NewPageAlloc(v->afterAlloc, v->afterScav);
		checkPageAlloc(want, b);
		FreePageAlloc(want);
		FreePageAlloc(b);
	}
}
