/*
 * Page allocator tests: Go's mpagealloc_test.go (TestPageAllocGrow,
 * TestPageAllocAlloc, TestPageAllocExhaust, TestPageAllocFree,
 * TestPageAllocAllocAndFree) with the same tables, plus the accounting of
 * summary memory.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "page/pagetest.h"

#define MAR(b, l)                                                                                            \
	{                                                                                                    \
		{(b)},                                                                                       \
		{                                                                                            \
			(l)                                                                                  \
		}                                                                                            \
	}

/* ---- TestPageAllocGrow ---- */

typedef struct growTest {
	const char *name;
	chunkIdx chunks[40];
	addrRange inUse[40];
} growTest;

static const growTest growTests[] = {
        {.name = "One",
         .chunks = {BaseChunkIdx},
         .inUse = {MAR(PageBase(BaseChunkIdx, 0), PageBase(BaseChunkIdx + 1, 0))}},
        {.name = "Contiguous2",
         .chunks = {BaseChunkIdx, BaseChunkIdx + 1},
         .inUse = {MAR(PageBase(BaseChunkIdx, 0), PageBase(BaseChunkIdx + 2, 0))}},
        {.name = "Contiguous5",
         .chunks = {BaseChunkIdx, BaseChunkIdx + 1, BaseChunkIdx + 2, BaseChunkIdx + 3, BaseChunkIdx + 4},
         .inUse = {MAR(PageBase(BaseChunkIdx, 0), PageBase(BaseChunkIdx + 5, 0))}},
        {.name = "Discontiguous",
         .chunks = {BaseChunkIdx, BaseChunkIdx + 2, BaseChunkIdx + 4},
         .inUse = {MAR(PageBase(BaseChunkIdx, 0), PageBase(BaseChunkIdx + 1, 0)),
                   MAR(PageBase(BaseChunkIdx + 2, 0), PageBase(BaseChunkIdx + 3, 0)),
                   MAR(PageBase(BaseChunkIdx + 4, 0), PageBase(BaseChunkIdx + 5, 0))}},
        {.name = "Mixed",
         .chunks = {BaseChunkIdx, BaseChunkIdx + 1, BaseChunkIdx + 2, BaseChunkIdx + 4},
         .inUse = {MAR(PageBase(BaseChunkIdx, 0), PageBase(BaseChunkIdx + 3, 0)),
                   MAR(PageBase(BaseChunkIdx + 4, 0), PageBase(BaseChunkIdx + 5, 0))}},
        {.name = "WildlyDiscontiguous",
         .chunks = {BaseChunkIdx, BaseChunkIdx + 1, BaseChunkIdx + 0x10, BaseChunkIdx + 0x21},
         .inUse = {MAR(PageBase(BaseChunkIdx, 0), PageBase(BaseChunkIdx + 2, 0)),
                   MAR(PageBase(BaseChunkIdx + 0x10, 0), PageBase(BaseChunkIdx + 0x11, 0)),
                   MAR(PageBase(BaseChunkIdx + 0x21, 0), PageBase(BaseChunkIdx + 0x22, 0))}},
        {.name = "ManyDiscontiguous",
         .chunks = {BaseChunkIdx,      BaseChunkIdx + 2,  BaseChunkIdx + 4,  BaseChunkIdx + 6,
                    BaseChunkIdx + 8,  BaseChunkIdx + 10, BaseChunkIdx + 12, BaseChunkIdx + 14,
                    BaseChunkIdx + 16, BaseChunkIdx + 18, BaseChunkIdx + 20, BaseChunkIdx + 22,
                    BaseChunkIdx + 24, BaseChunkIdx + 26, BaseChunkIdx + 28, BaseChunkIdx + 30,
                    BaseChunkIdx + 32, BaseChunkIdx + 34, BaseChunkIdx + 36, BaseChunkIdx + 38,
                    BaseChunkIdx + 40, BaseChunkIdx + 42, BaseChunkIdx + 44, BaseChunkIdx + 46,
                    BaseChunkIdx + 48, BaseChunkIdx + 50, BaseChunkIdx + 52, BaseChunkIdx + 54,
                    BaseChunkIdx + 56, BaseChunkIdx + 58, BaseChunkIdx + 60, BaseChunkIdx + 62,
                    BaseChunkIdx + 64},
         .inUse = {MAR(PageBase(BaseChunkIdx, 0), PageBase(BaseChunkIdx + 1, 0)),
                   MAR(PageBase(BaseChunkIdx + 2, 0), PageBase(BaseChunkIdx + 3, 0)),
                   MAR(PageBase(BaseChunkIdx + 4, 0), PageBase(BaseChunkIdx + 5, 0)),
                   MAR(PageBase(BaseChunkIdx + 6, 0), PageBase(BaseChunkIdx + 7, 0)),
                   MAR(PageBase(BaseChunkIdx + 8, 0), PageBase(BaseChunkIdx + 9, 0)),
                   MAR(PageBase(BaseChunkIdx + 10, 0), PageBase(BaseChunkIdx + 11, 0)),
                   MAR(PageBase(BaseChunkIdx + 12, 0), PageBase(BaseChunkIdx + 13, 0)),
                   MAR(PageBase(BaseChunkIdx + 14, 0), PageBase(BaseChunkIdx + 15, 0)),
                   MAR(PageBase(BaseChunkIdx + 16, 0), PageBase(BaseChunkIdx + 17, 0)),
                   MAR(PageBase(BaseChunkIdx + 18, 0), PageBase(BaseChunkIdx + 19, 0)),
                   MAR(PageBase(BaseChunkIdx + 20, 0), PageBase(BaseChunkIdx + 21, 0)),
                   MAR(PageBase(BaseChunkIdx + 22, 0), PageBase(BaseChunkIdx + 23, 0)),
                   MAR(PageBase(BaseChunkIdx + 24, 0), PageBase(BaseChunkIdx + 25, 0)),
                   MAR(PageBase(BaseChunkIdx + 26, 0), PageBase(BaseChunkIdx + 27, 0)),
                   MAR(PageBase(BaseChunkIdx + 28, 0), PageBase(BaseChunkIdx + 29, 0)),
                   MAR(PageBase(BaseChunkIdx + 30, 0), PageBase(BaseChunkIdx + 31, 0)),
                   MAR(PageBase(BaseChunkIdx + 32, 0), PageBase(BaseChunkIdx + 33, 0)),
                   MAR(PageBase(BaseChunkIdx + 34, 0), PageBase(BaseChunkIdx + 35, 0)),
                   MAR(PageBase(BaseChunkIdx + 36, 0), PageBase(BaseChunkIdx + 37, 0)),
                   MAR(PageBase(BaseChunkIdx + 38, 0), PageBase(BaseChunkIdx + 39, 0)),
                   MAR(PageBase(BaseChunkIdx + 40, 0), PageBase(BaseChunkIdx + 41, 0)),
                   MAR(PageBase(BaseChunkIdx + 42, 0), PageBase(BaseChunkIdx + 43, 0)),
                   MAR(PageBase(BaseChunkIdx + 44, 0), PageBase(BaseChunkIdx + 45, 0)),
                   MAR(PageBase(BaseChunkIdx + 46, 0), PageBase(BaseChunkIdx + 47, 0)),
                   MAR(PageBase(BaseChunkIdx + 48, 0), PageBase(BaseChunkIdx + 49, 0)),
                   MAR(PageBase(BaseChunkIdx + 50, 0), PageBase(BaseChunkIdx + 51, 0)),
                   MAR(PageBase(BaseChunkIdx + 52, 0), PageBase(BaseChunkIdx + 53, 0)),
                   MAR(PageBase(BaseChunkIdx + 54, 0), PageBase(BaseChunkIdx + 55, 0)),
                   MAR(PageBase(BaseChunkIdx + 56, 0), PageBase(BaseChunkIdx + 57, 0)),
                   MAR(PageBase(BaseChunkIdx + 58, 0), PageBase(BaseChunkIdx + 59, 0)),
                   MAR(PageBase(BaseChunkIdx + 60, 0), PageBase(BaseChunkIdx + 61, 0)),
                   MAR(PageBase(BaseChunkIdx + 62, 0), PageBase(BaseChunkIdx + 63, 0)),
                   MAR(PageBase(BaseChunkIdx + 64, 0), PageBase(BaseChunkIdx + 65, 0))}},
        /* ExtremelyDiscontiguous: the second chunk is 4 TiB above the first. */
        {.name = "ExtremelyDiscontiguous",
         .chunks = {BaseChunkIdx, BaseChunkIdx + 0x100000},
         .inUse = {MAR(PageBase(BaseChunkIdx, 0), PageBase(BaseChunkIdx + 1, 0)),
                   MAR(PageBase(BaseChunkIdx + 0x100000, 0), PageBase(BaseChunkIdx + 0x100001, 0))}},
};

Test(pagealloc, Grow)
{
	for (size_t t = 0; t < sizeof growTests / sizeof growTests[0]; t++) {
		const growTest *v = &growTests[t];
		static chunkRanges x[MAXC + 1];
		memset(x, 0, sizeof x);
		int n = 0;
		for (; v->chunks[n] != 0; n++)
			x[n].ci = v->chunks[n];
		pageAlloc *b = NewPageAlloc(x, NULL);
		int want = 0;
		while (addrRange_size(v->inUse[want]) != 0)
			want++;
		cr_expect_eq(b->inUse.len, want, "%s: got %d ranges, want %d", v->name, b->inUse.len, want);
		for (int i = 0; i < want && i < b->inUse.len; i++) {
			cr_expect(b->inUse.ranges[i].base.a == v->inUse[i].base.a &&
			                  b->inUse.ranges[i].limit.a == v->inUse[i].limit.a,
			          "%s: range #%d: got [%#lx, %#lx), want [%#lx, %#lx)", v->name, i,
			          (unsigned long)b->inUse.ranges[i].base.a,
			          (unsigned long)b->inUse.ranges[i].limit.a,
			          (unsigned long)v->inUse[i].base.a, (unsigned long)v->inUse[i].limit.a);
		}
		FreePageAlloc(b);
	}
}

/* ---- TestPageAllocAlloc ---- */

typedef struct allocHit {
	uintptr_t npages, base, scav;
} allocHit;

typedef struct allocTest {
	const char *name;
	chunkRanges scav[MAXC];
	chunkRanges before[MAXC];
	chunkRanges after[MAXC];
	allocHit hits[24];
} allocTest;

/* Go's 64-bit regression cases, computed from the physical page size. */
#define chunkIdxBigJump 0x100000
#define chunkIdxSmallOffset 0x503

static const allocTest allocTests[] = {
        {.name = "AllFree1",
         .before = {{BaseChunkIdx, {}}},
         .scav = {{BaseChunkIdx, {{0, 1}, {2, 2}}}},
         .hits = {{1, PageBase(BaseChunkIdx, 0), PageSize},
                  {1, PageBase(BaseChunkIdx, 1), 0},
                  {1, PageBase(BaseChunkIdx, 2), PageSize},
                  {1, PageBase(BaseChunkIdx, 3), PageSize},
                  {1, PageBase(BaseChunkIdx, 4), 0}},
         .after = {{BaseChunkIdx, {{0, 5}}}}},
        {.name = "ManyArena1",
         .before = {{BaseChunkIdx, {{0, PallocChunkPages}}},
                    {BaseChunkIdx + 1, {{0, PallocChunkPages}}},
                    {BaseChunkIdx + 2, {{0, PallocChunkPages - 1}}}},
         .scav = {{BaseChunkIdx, {{0, PallocChunkPages}}},
                  {BaseChunkIdx + 1, {{0, PallocChunkPages}}},
                  {BaseChunkIdx + 2, {{0, PallocChunkPages}}}},
         .hits = {{1, PageBase(BaseChunkIdx + 2, PallocChunkPages - 1), PageSize}},
         .after = {{BaseChunkIdx, {{0, PallocChunkPages}}},
                   {BaseChunkIdx + 1, {{0, PallocChunkPages}}},
                   {BaseChunkIdx + 2, {{0, PallocChunkPages}}}}},
        {.name = "NotContiguous1",
         .before = {{BaseChunkIdx, {{0, PallocChunkPages}}}, {BaseChunkIdx + 0xff, {{0, 0}}}},
         .scav = {{BaseChunkIdx, {{0, PallocChunkPages}}}, {BaseChunkIdx + 0xff, {{0, PallocChunkPages}}}},
         .hits = {{1, PageBase(BaseChunkIdx + 0xff, 0), PageSize}},
         .after = {{BaseChunkIdx, {{0, PallocChunkPages}}}, {BaseChunkIdx + 0xff, {{0, 1}}}}},
        {.name = "AllFree2",
         .before = {{BaseChunkIdx, {}}},
         .scav = {{BaseChunkIdx, {{0, 3}, {7, 1}}}},
         .hits = {{2, PageBase(BaseChunkIdx, 0), 2 * PageSize},
                  {2, PageBase(BaseChunkIdx, 2), PageSize},
                  {2, PageBase(BaseChunkIdx, 4), 0},
                  {2, PageBase(BaseChunkIdx, 6), PageSize},
                  {2, PageBase(BaseChunkIdx, 8), 0}},
         .after = {{BaseChunkIdx, {{0, 10}}}}},
        {.name = "Straddle2",
         .before = {{BaseChunkIdx, {{0, PallocChunkPages - 1}}},
                    {BaseChunkIdx + 1, {{1, PallocChunkPages - 1}}}},
         .scav = {{BaseChunkIdx, {{PallocChunkPages - 1, 1}}}, {BaseChunkIdx + 1, {}}},
         .hits = {{2, PageBase(BaseChunkIdx, PallocChunkPages - 1), PageSize}},
         .after = {{BaseChunkIdx, {{0, PallocChunkPages}}}, {BaseChunkIdx + 1, {{0, PallocChunkPages}}}}},
        {.name = "AllFree5",
         .before = {{BaseChunkIdx, {}}},
         .scav = {{BaseChunkIdx, {{0, 8}, {9, 1}, {17, 5}}}},
         .hits = {{5, PageBase(BaseChunkIdx, 0), 5 * PageSize},
                  {5, PageBase(BaseChunkIdx, 5), 4 * PageSize},
                  {5, PageBase(BaseChunkIdx, 10), 0},
                  {5, PageBase(BaseChunkIdx, 15), 3 * PageSize},
                  {5, PageBase(BaseChunkIdx, 20), 2 * PageSize}},
         .after = {{BaseChunkIdx, {{0, 25}}}}},
        {.name = "AllFree64",
         .before = {{BaseChunkIdx, {}}},
         .scav = {{BaseChunkIdx, {{21, 1}, {63, 65}}}},
         .hits = {{64, PageBase(BaseChunkIdx, 0), 2 * PageSize},
                  {64, PageBase(BaseChunkIdx, 64), 64 * PageSize},
                  {64, PageBase(BaseChunkIdx, 128), 0}},
         .after = {{BaseChunkIdx, {{0, 192}}}}},
        {.name = "AllFree65",
         .before = {{BaseChunkIdx, {}}},
         .scav = {{BaseChunkIdx, {{129, 1}}}},
         .hits = {{65, PageBase(BaseChunkIdx, 0), 0},
                  {65, PageBase(BaseChunkIdx, 65), PageSize},
                  {65, PageBase(BaseChunkIdx, 130), 0}},
         .after = {{BaseChunkIdx, {{0, 195}}}}},
        {.name = "ExhaustPallocChunkPages-3",
         .before = {{BaseChunkIdx, {}}},
         .scav = {{BaseChunkIdx, {{10, 1}}}},
         .hits = {{PallocChunkPages - 3, PageBase(BaseChunkIdx, 0), PageSize},
                  {PallocChunkPages - 3, 0, 0},
                  {1, PageBase(BaseChunkIdx, PallocChunkPages - 3), 0},
                  {2, PageBase(BaseChunkIdx, PallocChunkPages - 2), 0},
                  {1, 0, 0},
                  {PallocChunkPages - 3, 0, 0}},
         .after = {{BaseChunkIdx, {{0, PallocChunkPages}}}}},
        {.name = "AllFreePallocChunkPages",
         .before = {{BaseChunkIdx, {}}},
         .scav = {{BaseChunkIdx, {{0, 1}, {PallocChunkPages - 1, 1}}}},
         .hits = {{PallocChunkPages, PageBase(BaseChunkIdx, 0), 2 * PageSize},
                  {PallocChunkPages, 0, 0},
                  {1, 0, 0}},
         .after = {{BaseChunkIdx, {{0, PallocChunkPages}}}}},
        {.name = "StraddlePallocChunkPages",
         .before = {{BaseChunkIdx, {{0, PallocChunkPages / 2}}},
                    {BaseChunkIdx + 1, {{PallocChunkPages / 2, PallocChunkPages / 2}}}},
         .scav = {{BaseChunkIdx, {}}, {BaseChunkIdx + 1, {{3, 100}}}},
         .hits = {{PallocChunkPages, PageBase(BaseChunkIdx, PallocChunkPages / 2), 100 * PageSize},
                  {PallocChunkPages, 0, 0},
                  {1, 0, 0}},
         .after = {{BaseChunkIdx, {{0, PallocChunkPages}}}, {BaseChunkIdx + 1, {{0, PallocChunkPages}}}}},
        {.name = "StraddlePallocChunkPages+1",
         .before = {{BaseChunkIdx, {{0, PallocChunkPages / 2}}}, {BaseChunkIdx + 1, {}}},
         .scav = {{BaseChunkIdx, {{0, PallocChunkPages}}}, {BaseChunkIdx + 1, {{0, PallocChunkPages}}}},
         .hits = {{PallocChunkPages + 1, PageBase(BaseChunkIdx, PallocChunkPages / 2),
                   (PallocChunkPages + 1) * PageSize},
                  {PallocChunkPages, 0, 0},
                  {1, PageBase(BaseChunkIdx + 1, PallocChunkPages / 2 + 1), PageSize}},
         .after = {{BaseChunkIdx, {{0, PallocChunkPages}}},
                   {BaseChunkIdx + 1, {{0, PallocChunkPages / 2 + 2}}}}},
        {.name = "AllFreePallocChunkPages*2",
         .before = {{BaseChunkIdx, {}}, {BaseChunkIdx + 1, {}}},
         .scav = {{BaseChunkIdx, {}}, {BaseChunkIdx + 1, {}}},
         .hits = {{PallocChunkPages * 2, PageBase(BaseChunkIdx, 0), 0},
                  {PallocChunkPages * 2, 0, 0},
                  {1, 0, 0}},
         .after = {{BaseChunkIdx, {{0, PallocChunkPages}}}, {BaseChunkIdx + 1, {{0, PallocChunkPages}}}}},
        {.name = "NotContiguousPallocChunkPages*2",
         .before = {{BaseChunkIdx, {}}, {BaseChunkIdx + 0x40, {}}, {BaseChunkIdx + 0x41, {}}},
         .scav = {{BaseChunkIdx, {{0, PallocChunkPages}}},
                  {BaseChunkIdx + 0x40, {}},
                  {BaseChunkIdx + 0x41, {}}},
         .hits = {{PallocChunkPages * 2, PageBase(BaseChunkIdx + 0x40, 0), 0},
                  {21, PageBase(BaseChunkIdx, 0), 21 * PageSize},
                  {1, PageBase(BaseChunkIdx, 21), PageSize}},
         .after = {{BaseChunkIdx, {{0, 22}}},
                   {BaseChunkIdx + 0x40, {{0, PallocChunkPages}}},
                   {BaseChunkIdx + 0x41, {{0, PallocChunkPages}}}}},
        {.name = "StraddlePallocChunkPages*2",
         .before = {{BaseChunkIdx, {{0, PallocChunkPages / 2}}},
                    {BaseChunkIdx + 1, {}},
                    {BaseChunkIdx + 2, {{PallocChunkPages / 2, PallocChunkPages / 2}}}},
         .scav = {{BaseChunkIdx, {{0, 7}}},
                  {BaseChunkIdx + 1, {{3, 5}, {121, 10}}},
                  {BaseChunkIdx + 2, {{PallocChunkPages / 2 + 12, 2}}}},
         .hits = {{PallocChunkPages * 2, PageBase(BaseChunkIdx, PallocChunkPages / 2), 15 * PageSize},
                  {PallocChunkPages * 2, 0, 0},
                  {1, 0, 0}},
         .after = {{BaseChunkIdx, {{0, PallocChunkPages}}},
                   {BaseChunkIdx + 1, {{0, PallocChunkPages}}},
                   {BaseChunkIdx + 2, {{0, PallocChunkPages}}}}},
        {.name = "StraddlePallocChunkPages*5/4",
         .before = {{BaseChunkIdx, {{0, PallocChunkPages}}},
                    {BaseChunkIdx + 1, {{0, PallocChunkPages * 3 / 4}}},
                    {BaseChunkIdx + 2, {{0, PallocChunkPages * 3 / 4}}},
                    {BaseChunkIdx + 3, {{0, 0}}}},
         .scav = {{BaseChunkIdx, {{0, PallocChunkPages}}},
                  {BaseChunkIdx + 1, {{PallocChunkPages / 2, PallocChunkPages / 4 + 1}}},
                  {BaseChunkIdx + 2, {{PallocChunkPages / 3, 1}}},
                  {BaseChunkIdx + 3, {{PallocChunkPages * 2 / 3, 1}}}},
         .hits = {{PallocChunkPages * 5 / 4, PageBase(BaseChunkIdx + 2, PallocChunkPages * 3 / 4), PageSize},
                  {PallocChunkPages * 5 / 4, 0, 0},
                  {1, PageBase(BaseChunkIdx + 1, PallocChunkPages * 3 / 4), PageSize}},
         .after = {{BaseChunkIdx, {{0, PallocChunkPages}}},
                   {BaseChunkIdx + 1, {{0, PallocChunkPages * 3 / 4 + 1}}},
                   {BaseChunkIdx + 2, {{0, PallocChunkPages}}},
                   {BaseChunkIdx + 3, {{0, PallocChunkPages}}}}},
        {.name = "AllFreePallocChunkPages*7+5",
         .before = {{BaseChunkIdx, {}},
                    {BaseChunkIdx + 1, {}},
                    {BaseChunkIdx + 2, {}},
                    {BaseChunkIdx + 3, {}},
                    {BaseChunkIdx + 4, {}},
                    {BaseChunkIdx + 5, {}},
                    {BaseChunkIdx + 6, {}},
                    {BaseChunkIdx + 7, {}}},
         .scav = {{BaseChunkIdx, {{50, 1}}},
                  {BaseChunkIdx + 1, {{31, 1}}},
                  {BaseChunkIdx + 2, {{7, 1}}},
                  {BaseChunkIdx + 3, {{200, 1}}},
                  {BaseChunkIdx + 4, {{3, 1}}},
                  {BaseChunkIdx + 5, {{51, 1}}},
                  {BaseChunkIdx + 6, {{20, 1}}},
                  {BaseChunkIdx + 7, {{1, 1}}}},
         .hits = {{PallocChunkPages * 7 + 5, PageBase(BaseChunkIdx, 0), 8 * PageSize},
                  {PallocChunkPages * 7 + 5, 0, 0},
                  {1, PageBase(BaseChunkIdx + 7, 5), 0}},
         .after = {{BaseChunkIdx, {{0, PallocChunkPages}}},
                   {BaseChunkIdx + 1, {{0, PallocChunkPages}}},
                   {BaseChunkIdx + 2, {{0, PallocChunkPages}}},
                   {BaseChunkIdx + 3, {{0, PallocChunkPages}}},
                   {BaseChunkIdx + 4, {{0, PallocChunkPages}}},
                   {BaseChunkIdx + 5, {{0, PallocChunkPages}}},
                   {BaseChunkIdx + 6, {{0, PallocChunkPages}}},
                   {BaseChunkIdx + 7, {{0, 6}}}}},
        /* The last allocation of the first chunk and the next one must not
         * read the unmapped summary memory after the first chunk's summary,
         * which sits at the end of a physical page. (sumsPerPhysPage is 512
         * with 4 KiB pages; the test below checks that assumption.) */
        {.name = "DiscontiguousMappedSumBoundary",
         .before = {{(BaseChunkIdx & ~(chunkIdx)511) + 511, {}},
                    {(BaseChunkIdx & ~(chunkIdx)511) + chunkIdxBigJump, {}}},
         .scav = {{(BaseChunkIdx & ~(chunkIdx)511) + 511, {}},
                  {(BaseChunkIdx & ~(chunkIdx)511) + chunkIdxBigJump, {}}},
         .hits = {{PallocChunkPages - 1, PageBase((BaseChunkIdx & ~(chunkIdx)511) + 511, 0), 0},
                  {1, PageBase((BaseChunkIdx & ~(chunkIdx)511) + 511, PallocChunkPages - 1), 0},
                  {1, PageBase((BaseChunkIdx & ~(chunkIdx)511) + chunkIdxBigJump, 0), 0},
                  {PallocChunkPages - 1, PageBase((BaseChunkIdx & ~(chunkIdx)511) + chunkIdxBigJump, 1), 0},
                  {1, 0, 0}},
         .after = {{(BaseChunkIdx & ~(chunkIdx)511) + 511, {{0, PallocChunkPages}}},
                   {(BaseChunkIdx & ~(chunkIdx)511) + chunkIdxBigJump, {{0, PallocChunkPages}}}}},
        /* golang/go#40191: the searchAddr that find derives from the summaries
         * may point at unmapped summaries; it must be clamped into inUse. */
        {.name = "DiscontiguousBadSearchAddr",
         .before = {{BaseChunkIdx + chunkIdxBigJump * 0, {{0, PallocChunkPages - 1}}},
                    {BaseChunkIdx + chunkIdxBigJump * 1 + chunkIdxSmallOffset,
                     {{0, PallocChunkPages - 10}, {PallocChunkPages - 1, 1}}},
                    {BaseChunkIdx + chunkIdxBigJump * 2, {}}},
         .scav = {{BaseChunkIdx + chunkIdxBigJump * 0, {}},
                  {BaseChunkIdx + chunkIdxBigJump * 1 + chunkIdxSmallOffset, {}},
                  {BaseChunkIdx + chunkIdxBigJump * 2, {}}},
         .hits = {{1, PageBase(BaseChunkIdx, PallocChunkPages - 1), 0},
                  {100, PageBase(BaseChunkIdx + chunkIdxBigJump * 2, 0), 0},
                  {9,
                   PageBase(BaseChunkIdx + chunkIdxBigJump * 1 + chunkIdxSmallOffset, PallocChunkPages - 10),
                   0}},
         .after = {{BaseChunkIdx + chunkIdxBigJump * 0, {{0, PallocChunkPages}}},
                   {BaseChunkIdx + chunkIdxBigJump * 1 + chunkIdxSmallOffset, {{0, PallocChunkPages}}},
                   {BaseChunkIdx + chunkIdxBigJump * 2, {{0, 100}}}}},
};

Test(pagealloc, Alloc)
{
	/* DiscontiguousMappedSumBoundary assumes 512 summaries per physical page. */
	memInit();
	cr_assert_eq(physPageSize / pallocSumBytes, 512);
	for (size_t t = 0; t < sizeof allocTests / sizeof allocTests[0]; t++) {
		const allocTest *v = &allocTests[t];
		pageAlloc *b = NewPageAlloc(v->before, v->scav);
		for (int iter = 0; v->hits[iter].npages != 0; iter++) {
			const allocHit *i = &v->hits[iter];
			uintptr_t s;
			uintptr_t a = pageAlloc_alloc(b, i->npages, &s);
			cr_assert_eq(a, i->base, "%s: bad alloc #%d: want base %#lx, got %#lx", v->name,
			             iter + 1, (unsigned long)i->base, (unsigned long)a);
			cr_assert_eq(s, i->scav, "%s: bad alloc #%d: want scav %lu, got %lu", v->name,
			             iter + 1, (unsigned long)i->scav, (unsigned long)s);
		}
		pageAlloc *want = NewPageAlloc(v->after, v->scav);
		checkPageAlloc(want, b);
		FreePageAlloc(want);
		FreePageAlloc(b);
	}
}

/* ---- TestPageAllocExhaust ---- */

Test(pagealloc, Exhaust)
{
	static const uintptr_t sizes[] = {1, 2, 3, 4, 5, 8, 16, 64, 1024, 1025, 2048, 2049};
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		uintptr_t npages = sizes[k];
		chunkRanges bDesc[5] = {{BaseChunkIdx, {}},
		                        {BaseChunkIdx + 1, {}},
		                        {BaseChunkIdx + 2, {}},
		                        {BaseChunkIdx + 3, {}}};
		pageAlloc *b = NewPageAlloc(bDesc, NULL);
		/* Fill the heap with npages at a time, lowest address first. */
		int nAlloc = (int)(PallocChunkPages * 4 / npages);
		for (int i = 0; i < nAlloc; i++) {
			uintptr_t addr = PageBase(BaseChunkIdx, (uintptr_t)i * npages);
			uintptr_t a = pageAlloc_alloc(b, npages, NULL);
			cr_assert_eq(a, addr, "npages %lu: bad alloc #%d: want %#lx, got %#lx",
			             (unsigned long)npages, i + 1, (unsigned long)addr, (unsigned long)a);
		}
		cr_assert_eq(pageAlloc_alloc(b, npages, NULL), 0, "npages %lu: heap not exhausted",
		             (unsigned long)npages);

		int allocPages = nAlloc * (int)npages;
		chunkRanges wantDesc[5] = {{0}};
		for (int i = 0; i < 4; i++) {
			wantDesc[i].ci = BaseChunkIdx + (chunkIdx)i;
			if (allocPages >= (int)PallocChunkPages) {
				wantDesc[i].r[0] = (BitRange){0, PallocChunkPages};
				allocPages -= PallocChunkPages;
			} else if (allocPages > 0) {
				wantDesc[i].r[0] = (BitRange){0, (unsigned)allocPages};
				allocPages = 0;
			}
		}
		pageAlloc *want = NewPageAlloc(wantDesc, NULL);
		checkPageAlloc(want, b);
		FreePageAlloc(want);
		FreePageAlloc(b);
	}
}

/* ---- TestPageAllocFree ---- */

typedef struct freeTest {
	const char *name;
	chunkRanges before[MAXC];
	chunkRanges after[MAXC];
	uintptr_t npages;
	uintptr_t frees[16];
} freeTest;

static const freeTest freeTests[] = {
        {.name = "Free1",
         .npages = 1,
         .before = {{BaseChunkIdx, {{0, PallocChunkPages}}}},
         .frees = {PageBase(BaseChunkIdx, 0), PageBase(BaseChunkIdx, 1), PageBase(BaseChunkIdx, 2),
                   PageBase(BaseChunkIdx, 3), PageBase(BaseChunkIdx, 4)},
         .after = {{BaseChunkIdx, {{5, PallocChunkPages - 5}}}}},
        {.name = "ManyArena1",
         .npages = 1,
         .before = {{BaseChunkIdx, {{0, PallocChunkPages}}},
                    {BaseChunkIdx + 1, {{0, PallocChunkPages}}},
                    {BaseChunkIdx + 2, {{0, PallocChunkPages}}}},
         .frees = {PageBase(BaseChunkIdx, PallocChunkPages / 2), PageBase(BaseChunkIdx + 1, 0),
                   PageBase(BaseChunkIdx + 2, PallocChunkPages - 1)},
         .after = {{BaseChunkIdx,
                    {{0, PallocChunkPages / 2}, {PallocChunkPages / 2 + 1, PallocChunkPages / 2 - 1}}},
                   {BaseChunkIdx + 1, {{1, PallocChunkPages - 1}}},
                   {BaseChunkIdx + 2, {{0, PallocChunkPages - 1}}}}},
        {.name = "Free2",
         .npages = 2,
         .before = {{BaseChunkIdx, {{0, PallocChunkPages}}}},
         .frees = {PageBase(BaseChunkIdx, 0), PageBase(BaseChunkIdx, 2), PageBase(BaseChunkIdx, 4),
                   PageBase(BaseChunkIdx, 6), PageBase(BaseChunkIdx, 8)},
         .after = {{BaseChunkIdx, {{10, PallocChunkPages - 10}}}}},
        {.name = "Straddle2",
         .npages = 2,
         .before = {{BaseChunkIdx, {{PallocChunkPages - 1, 1}}}, {BaseChunkIdx + 1, {{0, 1}}}},
         .frees = {PageBase(BaseChunkIdx, PallocChunkPages - 1)},
         .after = {{BaseChunkIdx, {}}, {BaseChunkIdx + 1, {}}}},
        {.name = "Free5",
         .npages = 5,
         .before = {{BaseChunkIdx, {{0, PallocChunkPages}}}},
         .frees = {PageBase(BaseChunkIdx, 0), PageBase(BaseChunkIdx, 5), PageBase(BaseChunkIdx, 10),
                   PageBase(BaseChunkIdx, 15), PageBase(BaseChunkIdx, 20)},
         .after = {{BaseChunkIdx, {{25, PallocChunkPages - 25}}}}},
        {.name = "Free64",
         .npages = 64,
         .before = {{BaseChunkIdx, {{0, PallocChunkPages}}}},
         .frees = {PageBase(BaseChunkIdx, 0), PageBase(BaseChunkIdx, 64), PageBase(BaseChunkIdx, 128)},
         .after = {{BaseChunkIdx, {{192, PallocChunkPages - 192}}}}},
        {.name = "Free65",
         .npages = 65,
         .before = {{BaseChunkIdx, {{0, PallocChunkPages}}}},
         .frees = {PageBase(BaseChunkIdx, 0), PageBase(BaseChunkIdx, 65), PageBase(BaseChunkIdx, 130)},
         .after = {{BaseChunkIdx, {{195, PallocChunkPages - 195}}}}},
        {.name = "FreePallocChunkPages",
         .npages = PallocChunkPages,
         .before = {{BaseChunkIdx, {{0, PallocChunkPages}}}},
         .frees = {PageBase(BaseChunkIdx, 0)},
         .after = {{BaseChunkIdx, {}}}},
        {.name = "StraddlePallocChunkPages",
         .npages = PallocChunkPages,
         .before = {{BaseChunkIdx, {{PallocChunkPages / 2, PallocChunkPages / 2}}},
                    {BaseChunkIdx + 1, {{0, PallocChunkPages / 2}}}},
         .frees = {PageBase(BaseChunkIdx, PallocChunkPages / 2)},
         .after = {{BaseChunkIdx, {}}, {BaseChunkIdx + 1, {}}}},
        {.name = "StraddlePallocChunkPages+1",
         .npages = PallocChunkPages + 1,
         .before = {{BaseChunkIdx, {{0, PallocChunkPages}}}, {BaseChunkIdx + 1, {{0, PallocChunkPages}}}},
         .frees = {PageBase(BaseChunkIdx, PallocChunkPages / 2)},
         .after = {{BaseChunkIdx, {{0, PallocChunkPages / 2}}},
                   {BaseChunkIdx + 1, {{PallocChunkPages / 2 + 1, PallocChunkPages / 2 - 1}}}}},
        {.name = "FreePallocChunkPages*2",
         .npages = PallocChunkPages * 2,
         .before = {{BaseChunkIdx, {{0, PallocChunkPages}}}, {BaseChunkIdx + 1, {{0, PallocChunkPages}}}},
         .frees = {PageBase(BaseChunkIdx, 0)},
         .after = {{BaseChunkIdx, {}}, {BaseChunkIdx + 1, {}}}},
        {.name = "StraddlePallocChunkPages*2",
         .npages = PallocChunkPages * 2,
         .before = {{BaseChunkIdx, {{0, PallocChunkPages}}},
                    {BaseChunkIdx + 1, {{0, PallocChunkPages}}},
                    {BaseChunkIdx + 2, {{0, PallocChunkPages}}}},
         .frees = {PageBase(BaseChunkIdx, PallocChunkPages / 2)},
         .after = {{BaseChunkIdx, {{0, PallocChunkPages / 2}}},
                   {BaseChunkIdx + 1, {}},
                   {BaseChunkIdx + 2, {{PallocChunkPages / 2, PallocChunkPages / 2}}}}},
        {.name = "AllFreePallocChunkPages*7+5",
         .npages = PallocChunkPages * 7 + 5,
         .before = {{BaseChunkIdx, {{0, PallocChunkPages}}},
                    {BaseChunkIdx + 1, {{0, PallocChunkPages}}},
                    {BaseChunkIdx + 2, {{0, PallocChunkPages}}},
                    {BaseChunkIdx + 3, {{0, PallocChunkPages}}},
                    {BaseChunkIdx + 4, {{0, PallocChunkPages}}},
                    {BaseChunkIdx + 5, {{0, PallocChunkPages}}},
                    {BaseChunkIdx + 6, {{0, PallocChunkPages}}},
                    {BaseChunkIdx + 7, {{0, PallocChunkPages}}}},
         .frees = {PageBase(BaseChunkIdx, 0)},
         .after = {{BaseChunkIdx, {}},
                   {BaseChunkIdx + 1, {}},
                   {BaseChunkIdx + 2, {}},
                   {BaseChunkIdx + 3, {}},
                   {BaseChunkIdx + 4, {}},
                   {BaseChunkIdx + 5, {}},
                   {BaseChunkIdx + 6, {}},
                   {BaseChunkIdx + 7, {{5, PallocChunkPages - 5}}}}}};

Test(pagealloc, Free)
{
	for (size_t t = 0; t < sizeof freeTests / sizeof freeTests[0]; t++) {
		const freeTest *v = &freeTests[t];
		pageAlloc *b = NewPageAlloc(v->before, NULL);
		/* Go's PageAlloc.Free frees as scavenged: the scavenged bits stay 0 */
		for (int i = 0; v->frees[i] != 0; i++)
			pageAlloc_freeScav(b, v->frees[i], v->npages, true);
		pageAlloc *want = NewPageAlloc(v->after, NULL);
		checkPageAlloc(want, b);
		FreePageAlloc(want);
		FreePageAlloc(b);
	}
}

/* ---- TestPageAllocAllocAndFree ---- */

typedef struct afHit {
	bool alloc;
	uintptr_t npages;
	uintptr_t base;
} afHit;

typedef struct afTest {
	const char *name;
	chunkRanges init[MAXC];
	afHit hits[16];
} afTest;

static const afTest afTests[] = {{.name = "Chunks8",
                                  .init = {{BaseChunkIdx, {}},
                                           {BaseChunkIdx + 1, {}},
                                           {BaseChunkIdx + 2, {}},
                                           {BaseChunkIdx + 3, {}},
                                           {BaseChunkIdx + 4, {}},
                                           {BaseChunkIdx + 5, {}},
                                           {BaseChunkIdx + 6, {}},
                                           {BaseChunkIdx + 7, {}}},
                                  .hits = {{true, PallocChunkPages * 8, PageBase(BaseChunkIdx, 0)},
                                           {false, PallocChunkPages * 8, PageBase(BaseChunkIdx, 0)},
                                           {true, PallocChunkPages * 8, PageBase(BaseChunkIdx, 0)},
                                           {false, PallocChunkPages * 8, PageBase(BaseChunkIdx, 0)},
                                           {true, PallocChunkPages * 8, PageBase(BaseChunkIdx, 0)},
                                           {false, PallocChunkPages * 8, PageBase(BaseChunkIdx, 0)},
                                           {true, 1, PageBase(BaseChunkIdx, 0)},
                                           {false, 1, PageBase(BaseChunkIdx, 0)},
                                           {true, PallocChunkPages * 8, PageBase(BaseChunkIdx, 0)}}}};

Test(pagealloc, AllocAndFree)
{
	for (size_t t = 0; t < sizeof afTests / sizeof afTests[0]; t++) {
		const afTest *v = &afTests[t];
		pageAlloc *b = NewPageAlloc(v->init, NULL);
		for (int iter = 0; v->hits[iter].npages != 0; iter++) {
			const afHit *i = &v->hits[iter];
			if (i->alloc) {
				uintptr_t a = pageAlloc_alloc(b, i->npages, NULL);
				cr_assert_eq(a, i->base, "%s: bad alloc #%d: want %#lx, got %#lx", v->name,
				             iter + 1, (unsigned long)i->base, (unsigned long)a);
			} else {
				pageAlloc_freeScav(b, i->base, i->npages, true);
			}
		}
		FreePageAlloc(b);
	}
}
