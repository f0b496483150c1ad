/*
 * Chunk bitmap tests: Go's mpallocbits_test.go (TestPallocBitsAllocRange,
 * TestMallocBitsPopcntRange, TestPallocBitsSummarize(Random),
 * TestPallocBitsAlloc, TestPallocBitsFree, TestFindBitRange64) with the same
 * tables, plus the packed summary encoding and mergeSummaries.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "page/pagetest.h"

#define HIT_END ((unsigned)-2)

static void invertPallocBits(pallocBits *b)
{
	for (unsigned i = 0; i < pallocChunkPages / 64; i++)
		b->b[i] = ~b->b[i];
}

static void checkPallocSum(pallocSum got, pallocSum want, const char *name)
{
	cr_expect_eq(pallocSum_start(got), pallocSum_start(want), "%s: inconsistent start: got %u, want %u",
	             name, pallocSum_start(got), pallocSum_start(want));
	cr_expect_eq(pallocSum_max(got), pallocSum_max(want), "%s: inconsistent max: got %u, want %u", name,
	             pallocSum_max(got), pallocSum_max(want));
	cr_expect_eq(pallocSum_end(got), pallocSum_end(want), "%s: inconsistent end: got %u, want %u", name,
	             pallocSum_end(got), pallocSum_end(want));
}

static void allocRangeCase(unsigned i, unsigned n, const pallocBits *want)
{
	pallocBits b;
	BitRange r = {i, n};
	makePallocBits(&b, &r, 1);
	checkPallocBits(&b, want, "allocRange");
}

Test(pallocbits, AllocRange)
{
	const uint64_t ones = ~(uint64_t)0;
	pallocBits want;
	want = (pallocBits){{0x1}};
	allocRangeCase(0, 1, &want); /* OneLow */
	want = (pallocBits){0};
	want.b[PallocChunkPages / 64 - 1] = (uint64_t)1 << 63;
	allocRangeCase(PallocChunkPages - 1, 1, &want); /* OneHigh */
	want = (pallocBits){0};
	want.b[2] = 0x3e;
	allocRangeCase(129, 5, &want); /* Inner */
	want = (pallocBits){0};
	want.b[2] = want.b[3] = ones;
	allocRangeCase(128, 128, &want); /* Aligned */
	want = (pallocBits){{ones, ones, ones, ones, ones, 0x1}};
	allocRangeCase(0, 321, &want); /* Begin */
	want = (pallocBits){0};
	want.b[7] = want.b[6] = want.b[5] = ones;
	want.b[4] = (uint64_t)1 << 63;
	allocRangeCase(PallocChunkPages - (64 * 3 + 1), 64 * 3 + 1, &want); /* End */
	for (int i = 0; i < 8; i++)
		want.b[i] = ones;
	allocRangeCase(0, PallocChunkPages, &want); /* All */
}

typedef struct popcntCase {
	unsigned i, n, want;
} popcntCase;

typedef struct popcntTest {
	const char *name;
	BitRange init[32];
	popcntCase tests[16];
} popcntTest;

static const popcntTest popcntTests[] = {
        {.name = "None",
         .tests = {{0, 1, 0},
                   {5, 3, 0},
                   {2, 11, 0},
                   {PallocChunkPages / 4 + 1, PallocChunkPages / 2, 0},
                   {0, PallocChunkPages, 0}}},
        {.name = "All",
         .init = {{0, PallocChunkPages}},
         .tests = {{0, 1, 1},
                   {5, 3, 3},
                   {2, 11, 11},
                   {PallocChunkPages / 4 + 1, PallocChunkPages / 2, PallocChunkPages / 2},
                   {0, PallocChunkPages, PallocChunkPages}}},
        {.name = "Half",
         .init = {{PallocChunkPages / 2, PallocChunkPages / 2}},
         .tests = {{0, 1, 0},
                   {5, 3, 0},
                   {2, 11, 0},
                   {PallocChunkPages / 2 - 1, 1, 0},
                   {PallocChunkPages / 2, 1, 1},
                   {PallocChunkPages / 2 + 10, 1, 1},
                   {PallocChunkPages / 2 - 1, 2, 1},
                   {PallocChunkPages / 4, PallocChunkPages / 4, 0},
                   {PallocChunkPages / 4, PallocChunkPages / 4 + 1, 1},
                   {PallocChunkPages / 4 + 1, PallocChunkPages / 2, PallocChunkPages / 4 + 1},
                   {0, PallocChunkPages, PallocChunkPages / 2}}},
        {.name = "OddBound",
         .init = {{0, 111}},
         .tests = {{0, 1, 1},
                   {5, 3, 3},
                   {2, 11, 11},
                   {110, 2, 1},
                   {99, 50, 12},
                   {110, 1, 1},
                   {111, 1, 0},
                   {99, 1, 1},
                   {120, 1, 0},
                   {PallocChunkPages / 2, PallocChunkPages / 2, 0},
                   {0, PallocChunkPages, 111}}},
        {.name = "Scattered",
         .init = {{1, 3},   {5, 1},   {7, 1},   {10, 2},  {13, 1},  {15, 4}, {21, 1},  {23, 1},
                  {26, 2},  {30, 5},  {36, 2},  {40, 3},  {44, 6},  {51, 1}, {53, 2},  {58, 3},
                  {63, 1},  {67, 2},  {71, 10}, {84, 1},  {89, 7},  {99, 2}, {103, 1}, {107, 2},
                  {111, 1}, {113, 1}, {115, 1}, {118, 1}, {120, 2}, {125, 5}},
         .tests = {{0, 11, 6},
                   {0, 64, 39},
                   {13, 64, 40},
                   {64, 64, 34},
                   {0, 128, 73},
                   {1, 128, 74},
                   {0, PallocChunkPages, 75}}}};

Test(pallocbits, PopcntRange)
{
	for (size_t t = 0; t < sizeof popcntTests / sizeof popcntTests[0]; t++) {
		const popcntTest *v = &popcntTests[t];
		pallocBits b;
		makePallocBits(&b, v->init, 32);
		for (int k = 0; v->tests[k].n != 0; k++) {
			const popcntCase *h = &v->tests[k];
			unsigned got = pageBits_popcntRange(&b, h->i, h->n);
			cr_expect_eq(got, h->want, "%s: bad popcnt (i=%u, n=%u): got %u, want %u", v->name,
			             h->i, h->n, got, h->want);
		}
	}
}

/* Go's SummarizeSlow: the obviously correct reference. */
static pallocSum summarizeSlow(const pallocBits *b)
{
	unsigned start = 0, max = 0, end = 0;
	const unsigned N = pallocChunkPages;
	while (start < N && pageBits_get(b, start) == 0)
		start++;
	while (end < N && pageBits_get(b, N - end - 1) == 0)
		end++;
	unsigned run = 0;
	for (unsigned i = 0; i < N; i++) {
		run = pageBits_get(b, i) == 0 ? run + 1 : 0;
		if (run > max)
			max = run;
	}
	return packPallocSum(start, max, end);
}

Test(pallocbits, SummarizeRandom)
{
	srand(1);
	pallocBits b;
	for (int i = 0; i < 1000; i++) {
		for (int k = 0; k < 8; k++) {
			uint64_t x = 0;
			for (int j = 0; j < 4; j++)
				x = (x << 16) ^ (uint64_t)(rand() & 0xffff);
			/* every fourth word sparse, so long zero runs occur too */
			b.b[k] = (i % 4 == 0) ? (x & (x >> 7) & (x >> 13)) : x;
		}
		checkPallocSum(pallocBits_summarize(&b), summarizeSlow(&b), "random");
	}
}

typedef struct summarizeTest {
	const char *name;
	BitRange free[4];
	unsigned start, max, end;
} summarizeTest;

static const summarizeTest summarizeTests[] = {
        {"NoneFree", {{0}}, 0, 0, 0},
        {"OnlyStart", {{0, 10}}, 10, 10, 0},
        {"OnlyEnd", {{PallocChunkPages - 40, 40}}, 0, 40, 40},
        {"StartAndEnd", {{0, 11}, {PallocChunkPages - 23, 23}}, 11, 23, 23},
        {"StartMaxEnd", {{0, 4}, {50, 100}, {PallocChunkPages - 4, 4}}, 4, 100, 4},
        {"OnlyMax", {{1, 20}, {35, 241}, {PallocChunkPages - 50, 30}}, 0, 241, 0},
        {"MultiMax", {{35, 2}, {40, 5}, {100, 5}}, 0, 5, 0},
        {"One", {{2, 1}}, 0, 1, 0},
        {"AllFree", {{0, PallocChunkPages}}, PallocChunkPages, PallocChunkPages, PallocChunkPages},
};

Test(pallocbits, Summarize)
{
	for (size_t t = 0; t < sizeof summarizeTests / sizeof summarizeTests[0]; t++) {
		const summarizeTest *v = &summarizeTests[t];
		pallocBits b;
		/* the table lists free (zero) runs: build them as ones and invert */
		makePallocBits(&b, v->free, 4);
		invertPallocBits(&b);
		checkPallocSum(pallocBits_summarize(&b), packPallocSum(v->start, v->max, v->end), v->name);
	}
}

Test(pallocbits, PackedSummary)
{
	/* Fields round-trip at their limits; a fully free root entry uses bit 63. */
	pallocSum s = packPallocSum(1, maxPackedValue - 1, 7);
	cr_assert_eq(pallocSum_start(s), 1);
	cr_assert_eq(pallocSum_max(s), maxPackedValue - 1);
	cr_assert_eq(pallocSum_end(s), 7);
	s = packPallocSum(maxPackedValue, maxPackedValue, maxPackedValue);
	cr_assert_eq(s, (pallocSum)1 << 63);
	cr_assert_eq(pallocSum_start(s), maxPackedValue);
	cr_assert_eq(pallocSum_end(s), maxPackedValue);
	cr_assert_eq(freeChunkSum, packPallocSum(512, 512, 512));
	cr_assert_eq(packPallocSum(0, 0, 0), 0);

	/* Merging 8 children: runs cross child boundaries. */
	pallocSum kids[8];
	for (int i = 0; i < 8; i++)
		kids[i] = freeChunkSum;
	s = mergeSummaries(kids, 8, logPallocChunkPages);
	cr_assert_eq(pallocSum_start(s), 8 * 512);
	cr_assert_eq(pallocSum_max(s), 8 * 512);
	cr_assert_eq(pallocSum_end(s), 8 * 512);
	kids[3] = packPallocSum(10, 100, 20);
	s = mergeSummaries(kids, 8, logPallocChunkPages);
	cr_assert_eq(pallocSum_start(s), 3 * 512 + 10);
	cr_assert_eq(pallocSum_max(s), 20 + 4 * 512);
	cr_assert_eq(pallocSum_end(s), 20 + 4 * 512);
	kids[7] = 0;
	s = mergeSummaries(kids, 8, logPallocChunkPages);
	cr_assert_eq(pallocSum_max(s), 20 + 3 * 512);
	cr_assert_eq(pallocSum_end(s), 0);
	/* All eight root-level children free: exactly maxPackedValue pages. */
	pallocSum roots[8];
	for (int i = 0; i < 8; i++)
		roots[i] = packPallocSum(1u << 18, 1u << 18, 1u << 18);
	s = mergeSummaries(roots, 8, 18);
	cr_assert_eq(s, (pallocSum)1 << 63);
}

typedef struct allocTest {
	const char *name;
	BitRange before[4];
	BitRange after[4];
	uintptr_t npages;
	unsigned hits[8];
} allocTest;

static const allocTest allocTests[] = {
        {.name = "AllFree1", .npages = 1, .hits = {0, 1, 2, 3, 4, 5, HIT_END}, .after = {{0, 6}}},
        {.name = "AllFree2", .npages = 2, .hits = {0, 2, 4, 6, 8, 10, HIT_END}, .after = {{0, 12}}},
        {.name = "AllFree5", .npages = 5, .hits = {0, 5, 10, 15, 20, HIT_END}, .after = {{0, 25}}},
        {.name = "AllFree64", .npages = 64, .hits = {0, 64, 128, HIT_END}, .after = {{0, 192}}},
        {.name = "AllFree65", .npages = 65, .hits = {0, 65, 130, HIT_END}, .after = {{0, 195}}},
        {.name = "SomeFree64",
         .before = {{0, 32}, {64, 32}, {100, PallocChunkPages - 100}},
         .npages = 64,
         .hits = {(~0u), HIT_END},
         .after = {{0, 32}, {64, 32}, {100, PallocChunkPages - 100}}},
        {.name = "NoneFree1",
         .before = {{0, PallocChunkPages}},
         .npages = 1,
         .hits = {(~0u), (~0u), HIT_END},
         .after = {{0, PallocChunkPages}}},
        {.name = "NoneFree2",
         .before = {{0, PallocChunkPages}},
         .npages = 2,
         .hits = {(~0u), (~0u), HIT_END},
         .after = {{0, PallocChunkPages}}},
        {.name = "NoneFree5",
         .before = {{0, PallocChunkPages}},
         .npages = 5,
         .hits = {(~0u), (~0u), HIT_END},
         .after = {{0, PallocChunkPages}}},
        {.name = "NoneFree65",
         .before = {{0, PallocChunkPages}},
         .npages = 65,
         .hits = {(~0u), (~0u), HIT_END},
         .after = {{0, PallocChunkPages}}},
        {.name = "ExactFit1",
         .before = {{0, PallocChunkPages / 2 - 3}, {PallocChunkPages / 2 - 2, PallocChunkPages / 2 + 2}},
         .npages = 1,
         .hits = {PallocChunkPages / 2 - 3, (~0u), HIT_END},
         .after = {{0, PallocChunkPages}}},
        {.name = "ExactFit2",
         .before = {{0, PallocChunkPages / 2 - 3}, {PallocChunkPages / 2 - 1, PallocChunkPages / 2 + 1}},
         .npages = 2,
         .hits = {PallocChunkPages / 2 - 3, (~0u), HIT_END},
         .after = {{0, PallocChunkPages}}},
        {.name = "ExactFit5",
         .before = {{0, PallocChunkPages / 2 - 3}, {PallocChunkPages / 2 + 2, PallocChunkPages / 2 - 2}},
         .npages = 5,
         .hits = {PallocChunkPages / 2 - 3, (~0u), HIT_END},
         .after = {{0, PallocChunkPages}}},
        {.name = "ExactFit65",
         .before = {{0, PallocChunkPages / 2 - 31}, {PallocChunkPages / 2 + 34, PallocChunkPages / 2 - 34}},
         .npages = 65,
         .hits = {PallocChunkPages / 2 - 31, (~0u), HIT_END},
         .after = {{0, PallocChunkPages}}},
        {.name = "SomeFree161",
         .before = {{0, 185}, {331, 1}},
         .npages = 161,
         .hits = {332, HIT_END},
         .after = {{0, 185}, {331, 162}}}};

Test(pallocbits, Alloc)
{
	for (size_t t = 0; t < sizeof allocTests / sizeof allocTests[0]; t++) {
		const allocTest *v = &allocTests[t];
		pallocBits b, want;
		makePallocBits(&b, v->before, 4);
		for (int iter = 0; v->hits[iter] != HIT_END; iter++) {
			unsigned i = v->hits[iter];
			unsigned a = pallocBits_find(&b, v->npages, 0, NULL);
			cr_assert_eq(a, i, "%s: find #%d picked wrong index: want %u, got %u", v->name,
			             iter + 1, i, a);
			if (i != ~0u)
				pallocBits_allocRange(&b, a, (unsigned)v->npages);
		}
		makePallocBits(&want, v->after, 4);
		checkPallocBits(&b, &want, v->name);
	}
}

typedef struct freeTest {
	const char *name;
	BitRange beforeInv[4];
	BitRange afterInv[4];
	unsigned frees[8];
	uintptr_t npages;
} freeTest;

static const freeTest freeTests[] = {
        {.name = "SomeFree",
         .npages = 1,
         .beforeInv = {{0, 32}, {64, 32}, {100, 1}},
         .frees = {32, HIT_END},
         .afterInv = {{0, 33}, {64, 32}, {100, 1}}},
        {.name = "NoneFree1", .npages = 1, .frees = {0, 1, 2, 3, 4, 5, HIT_END}, .afterInv = {{0, 6}}},
        {.name = "NoneFree2", .npages = 2, .frees = {0, 2, 4, 6, 8, 10, HIT_END}, .afterInv = {{0, 12}}},
        {.name = "NoneFree5", .npages = 5, .frees = {0, 5, 10, 15, 20, HIT_END}, .afterInv = {{0, 25}}},
        {.name = "NoneFree64", .npages = 64, .frees = {0, 64, 128, HIT_END}, .afterInv = {{0, 192}}},
        {.name = "NoneFree65", .npages = 65, .frees = {0, 65, 130, HIT_END}, .afterInv = {{0, 195}}}};

Test(pallocbits, Free)
{
	for (size_t t = 0; t < sizeof freeTests / sizeof freeTests[0]; t++) {
		const freeTest *v = &freeTests[t];
		pallocBits b, want;
		makePallocBits(&b, v->beforeInv, 4);
		invertPallocBits(&b);
		for (int k = 0; v->frees[k] != HIT_END; k++)
			pallocBits_free(&b, v->frees[k], (unsigned)v->npages);
		makePallocBits(&want, v->afterInv, 4);
		invertPallocBits(&want);
		checkPallocBits(&b, &want, v->name);
	}
}

static void checkFindBitRange64(uint64_t x, unsigned n, unsigned result)
{
	unsigned i = findBitRange64(x, n);
	if (result == ~0u)
		cr_expect_geq(i, 64, "case (%016lx, %u): got %u, want failure", (unsigned long)x, n, i);
	else
		cr_expect_eq(i, result, "case (%016lx, %u): got %u, want %u", (unsigned long)x, n, i, result);
}

Test(pallocbits, FindBitRange64)
{
	for (unsigned i = 1; i <= 64; i++)
		checkFindBitRange64(~(uint64_t)0, i, 0);
	for (unsigned i = 1; i <= 64; i++)
		checkFindBitRange64(0, i, ~0u);
	checkFindBitRange64(0x8000000000000000ULL, 1, 63);
	checkFindBitRange64(0xc000010001010000ULL, 2, 62);
	checkFindBitRange64(0xc000010001030000ULL, 2, 16);
	checkFindBitRange64(0xe000030001030000ULL, 3, 61);
	checkFindBitRange64(0xe000030001070000ULL, 3, 16);
	checkFindBitRange64(0xffff03ff01070000ULL, 16, 48);
	checkFindBitRange64(0xffff03ff0107ffffULL, 16, 0);
	checkFindBitRange64(0x0fff03ff01079fffULL, 16, ~0u);
}
