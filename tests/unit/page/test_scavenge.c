/*
 * Scavenger tests: Go's mgcscavenge_test.go (TestFillAligned,
 * TestPallocDataFindScavengeCandidate, TestPageAllocScavenge, TestScavenger
 * against a fake clock, TestScavengeIndex), the two goals of
 * gcPaceScavenger, scavtrace's format, and releasing real memory with the
 * statistics moving as Go's scavengeRangeLocked does.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "page/pagetest.h"

/* ---- TestFillAligned ---- */

static uint64_t fillAlignedSlow(uint64_t x, unsigned m)
{
	if (m == 1)
		return x;
	uint64_t out = 0;
	for (unsigned i = 0; i < 64; i += m) {
		for (unsigned j = 0; j < m; j++) {
			if (x & ((uint64_t)1 << (i + j))) {
				out |= (m == 64 ? ~(uint64_t)0 : (((uint64_t)1 << m) - 1)) << i;
				break;
			}
		}
	}
	return out;
}

static uint64_t rand64(void)
{
	uint64_t x = 0;
	for (int j = 0; j < 4; j++)
		x = (x << 16) ^ (uint64_t)(rand() & 0xffff);
	return x;
}

static void checkFill(uint64_t x, unsigned m)
{
	uint64_t want = fillAlignedSlow(x, m), got = fillAligned(x, m);
	if (got != want)
		cr_assert_fail("bad fillAligned(%016lx, %u): got %016lx, want %016lx", (unsigned long)x, m,
		               (unsigned long)got, (unsigned long)want);
}

Test(scavenge, FillAligned)
{
	srand(3);
	for (unsigned m = 1; m <= 64; m *= 2) {
		const uint64_t tests[] = {
			0x0000000000000000ULL, 0x00000000ffffffffULL, 0xffffffff00000000ULL,
			0x8000000000000001ULL, 0xf00000000000000fULL, 0xf00000010050000fULL,
			0xffffffffffffffffULL, 0x0000000000000001ULL, 0x0000000000000002ULL,
			0x0000000000000008ULL, (uint64_t)1 << (m - 1), m < 64 ? (uint64_t)1 << m : 0,
			0xb02b9effcf137016ULL, 0x3975a076a9fbff18ULL, 0x0f8c88ec3b81506eULL,
			0x60f14d80ef2fa0e6ULL,
		};
		for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++)
			checkFill(tests[i], m);
		for (int i = 0; i < 1000; i++) {
			checkFill(rand64(), m);
			if (m > 1) {
				/* each m-aligned group either zero or random */
				uint64_t val = 0;
				for (unsigned n = 0; n < 64; n += m)
					if (rand() % 2 == 0)
						val |= (rand64() & (m == 64 ? ~(uint64_t)0 : (((uint64_t)1 << m) - 1))) << n;
				checkFill(val, m);
			}
		}
	}
}

/* ---- TestPallocDataFindScavengeCandidate ---- */

static void candidateCase(const char *name, const BitRange *alloc, int nalloc, const BitRange *scav, int nscav,
                          uintptr_t min, uintptr_t max, BitRange want)
{
	pallocData b = {0};
	for (int i = 0; i < nalloc; i++)
		if (alloc[i].N != 0)
			pallocData_allocRange(&b, alloc[i].I, alloc[i].N);
	for (int i = 0; i < nscav; i++)
		if (scav[i].N != 0)
			pageBits_setRange(&b.scavenged, scav[i].I, scav[i].N);
	unsigned size;
	unsigned start = pallocData_findScavengeCandidate(&b, PallocChunkPages - 1, min, max, &size);
	if (size == 0 && want.N == 0)
		return;
	if (start != want.I || size != want.N)
		cr_assert_fail("%s (min %lu): candidate mismatch: got {%u, %u}, want {%u, %u}", name,
		               (unsigned long)min, start, size, want.I, want.N);
}

#define R(...) ((const BitRange[]){__VA_ARGS__}), (int)(sizeof((const BitRange[]){__VA_ARGS__}) / sizeof(BitRange))
#define NONE ((const BitRange[]){{0, 0}}), 0

Test(scavenge, FindScavengeCandidate)
{
	memInit();
	const unsigned P = PallocChunkPages;
	candidateCase("MixedMin1", R({0, 40}, {42, P - 42}), R({0, 41}, {42, P - 42}), 1, P, (BitRange){41, 1});
	candidateCase("MultiMin1", R({0, 63}, {65, 20}, {87, P - 87}), R({86, 1}), 1, P, (BitRange){85, 1});
	for (unsigned m = 1; m <= 64; m *= 2) {
		candidateCase("AllFree", NONE, NONE, m, P, (BitRange){0, P});
		candidateCase("AllScavenged", NONE, R({0, P}), m, P, (BitRange){0, 0});
		candidateCase("NoneFree", R({0, P}), R({P / 2, P / 2}), m, P, (BitRange){0, 0});
		candidateCase("StartFree", R({m, P - m}), NONE, m, P, (BitRange){0, m});
		candidateCase("EndFree", R({0, P - m}), NONE, m, P, (BitRange){P - m, m});
		candidateCase("Straddle64", R({0, 64 - m}, {64 + m, P - (64 + m)}), NONE, m, 2 * m,
		              (BitRange){64 - m, 2 * m});
		candidateCase("BottomEdge64WithFull", R({64, 64}, {128 + 3 * m, P - (128 + 3 * m)}), R({1, 10}), m, 3 * m,
		              (BitRange){128, 3 * m});
		candidateCase("BottomEdge64WithPocket", R({64, 62}, {127, 1}, {128 + 3 * m, P - (128 + 3 * m)}),
		              R({1, 10}), m, 3 * m, (BitRange){128, 3 * m});
		candidateCase("Max0", NONE, R({0, P - m}), m, 0, (BitRange){P - m, m});
		if (m <= 8) {
			candidateCase("OneFree", R({0, 40}, {40 + m, P - (40 + m)}), NONE, m, P, (BitRange){40, m});
			candidateCase("OneScavenged", R({0, 40}, {40 + m, P - (40 + m)}), R({40, 1}), m, P,
			              (BitRange){0, 0});
		}
		if (m > 1) {
			candidateCase("MaxUnaligned", NONE, R({0, P - (m * 2 - 1)}), m, m - 2, (BitRange){P - m, m});
			candidateCase("SkipSmall", R({0, 64 - m}, {64, 5}, {70, 11}, {82, P - 82}), NONE, m, m,
			              (BitRange){64 - m, m});
			candidateCase("SkipMisaligned", R({0, 64 - m}, {64, 63}, {127 + m, P - (127 + m)}), NONE, m, m,
			              (BitRange){64 - m, m});
			candidateCase("MaxLessThan", NONE, R({0, P - m}), m, 1, (BitRange){P - m, m});
		}
	}
	/* Huge pages: a free, unscavenged huge page is released whole. */
	if (physHugePageSize > pageSize) {
		unsigned bits = (unsigned)(physHugePageSize / pageSize);
		if (bits < P) {
			candidateCase("PreserveHugePageBottom", R({bits + 2, P - (bits + 2)}), NONE, 1, 3,
			              (BitRange){0, bits + 2});
			if (3 * bits < P)
				candidateCase("PreserveHugePageMiddle", R({0, bits - 10}, {2 * bits + 10, P - (2 * bits + 10)}),
				              NONE, 1, 12, (BitRange){bits, bits + 10});
			candidateCase("PreserveHugePageTop", R({0, P - bits}), NONE, 1, 1, (BitRange){P - bits, bits});
		} else if (bits == P) {
			candidateCase("PreserveHugePageAll", NONE, NONE, 1, 1, (BitRange){0, P});
		} else {
			candidateCase("PreserveHugePageNone", NONE, NONE, 1, 1, (BitRange){P - 1, 1});
		}
	}
}

/* ---- TestPageAllocScavenge ---- */

/* Pages per physical page; 1 with 4 KiB OS pages (checked below). */
#define minPages 1u

typedef struct scavExpect {
	uintptr_t request, expect;
} scavExpect;

typedef struct scavTest {
	const char *name;
	chunkRanges beforeAlloc[MAXC];
	chunkRanges beforeScav[MAXC];
	scavExpect expect[8];
	chunkRanges afterScav[MAXC];
} scavTest;

static const scavTest scavTests[] = {
        {.name = "AllFreeUnscavExhaust",
         .beforeAlloc = {{BaseChunkIdx, {}}, {BaseChunkIdx + 1, {}}, {BaseChunkIdx + 2, {}}},
         .beforeScav = {{BaseChunkIdx, {}}, {BaseChunkIdx + 1, {}}, {BaseChunkIdx + 2, {}}},
         .expect = {{(~(uintptr_t)0), 3 * PallocChunkPages * PageSize}},
         .afterScav = {{BaseChunkIdx, {{0, PallocChunkPages}}},
                       {BaseChunkIdx + 1, {{0, PallocChunkPages}}},
                       {BaseChunkIdx + 2, {{0, PallocChunkPages}}}}},
        {.name = "NoneFreeUnscavExhaust",
         .beforeAlloc = {{BaseChunkIdx, {{0, PallocChunkPages}}},
                         {BaseChunkIdx + 1, {}},
                         {BaseChunkIdx + 2, {{0, PallocChunkPages}}}},
         .beforeScav = {{BaseChunkIdx, {}},
                        {BaseChunkIdx + 1, {{0, PallocChunkPages}}},
                        {BaseChunkIdx + 2, {}}},
         .expect = {{(~(uintptr_t)0), 0}},
         .afterScav = {{BaseChunkIdx, {}},
                       {BaseChunkIdx + 1, {{0, PallocChunkPages}}},
                       {BaseChunkIdx + 2, {}}}},
        {.name = "ScavHighestPageFirst",
         .beforeAlloc = {{BaseChunkIdx, {}}},
         .beforeScav = {{BaseChunkIdx, {{minPages, PallocChunkPages - (2 * minPages)}}}},
         .expect = {{1, minPages * PageSize}},
         .afterScav = {{BaseChunkIdx, {{minPages, PallocChunkPages - minPages}}}}},
        {.name = "ScavMultiple",
         .beforeAlloc = {{BaseChunkIdx, {}}},
         .beforeScav = {{BaseChunkIdx, {{minPages, PallocChunkPages - (2 * minPages)}}}},
         .expect = {{minPages * PageSize, minPages * PageSize}, {minPages * PageSize, minPages * PageSize}},
         .afterScav = {{BaseChunkIdx, {{0, PallocChunkPages}}}}},
        {.name = "ScavMultiple2",
         .beforeAlloc = {{BaseChunkIdx, {}}, {BaseChunkIdx + 1, {}}},
         .beforeScav = {{BaseChunkIdx, {{minPages, PallocChunkPages - (2 * minPages)}}},
                        {BaseChunkIdx + 1, {{0, PallocChunkPages - (2 * minPages)}}}},
         .expect = {{2 * minPages * PageSize, 2 * minPages * PageSize},
                    {minPages * PageSize, minPages * PageSize},
                    {minPages * PageSize, minPages * PageSize}},
         .afterScav = {{BaseChunkIdx, {{0, PallocChunkPages}}}, {BaseChunkIdx + 1, {{0, PallocChunkPages}}}}},
        {.name = "ScavDiscontiguous",
         .beforeAlloc = {{BaseChunkIdx, {}}, {BaseChunkIdx + 0xe, {}}},
         .beforeScav = {{BaseChunkIdx, {{minPages, PallocChunkPages - (2 * minPages)}}},
                        {BaseChunkIdx + 0xe, {{(2 * minPages), PallocChunkPages - (2 * minPages)}}}},
         .expect = {{2 * minPages * PageSize, 2 * minPages * PageSize},
                    {(~(uintptr_t)0), 2 * minPages * PageSize},
                    {(~(uintptr_t)0), 0}},
         .afterScav = {{BaseChunkIdx, {{0, PallocChunkPages}}}, {BaseChunkIdx + 0xe, {{0, PallocChunkPages}}}}},
	{.name = "ScavAllVeryDiscontiguous",
	 .beforeAlloc = {{BaseChunkIdx, {}}, {BaseChunkIdx + 0x1000, {}}},
	 .beforeScav = {{BaseChunkIdx, {}}, {BaseChunkIdx + 0x1000, {}}},
	 .expect = {{~(uintptr_t)0, 2 * PallocChunkPages * PageSize}, {~(uintptr_t)0, 0}},
	 .afterScav = {{BaseChunkIdx, {{0, PallocChunkPages}}}, {BaseChunkIdx + 0x1000, {{0, PallocChunkPages}}}}},
};

Test(scavenge, PageAllocScavenge)
{
	memInit();
	cr_assert_leq(physPageSize, pageSize);
	for (size_t t = 0; t < sizeof scavTests / sizeof scavTests[0]; t++) {
		const scavTest *v = &scavTests[t];
		pageAlloc *b = NewPageAlloc(v->beforeAlloc, v->beforeScav);
		for (int iter = 0; v->expect[iter].request != 0; iter++) {
			uintptr_t got = pageAlloc_scavenge(b, v->expect[iter].request);
			cr_assert_eq(got, v->expect[iter].expect, "%s: bad scavenge #%d: want %lu, got %lu", v->name,
			             iter + 1, (unsigned long)v->expect[iter].expect, (unsigned long)got);
		}
		pageAlloc *want = NewPageAlloc(v->beforeAlloc, v->afterScav);
		checkPageAlloc(want, b);
		FreePageAlloc(want);
		FreePageAlloc(b);
	}
}

/* ---- TestScavengeIndex ---- */

static scavengeIndex *newScavengeIndex(void)
{
	scavengeIndex *s = calloc(1, sizeof *s);
	s->nbytes = ((uintptr_t)1 << heapAddrBits) / pallocChunkBytes / 8;
	s->chunks = calloc(1, s->nbytes);
	s->searchAddr = minOffAddr;
	/* Go's test leaves minHeapIdx 0: searches go down to the bottom. */
	return s;
}

static void freeScavengeIndex(scavengeIndex *s)
{
	free(s->chunks);
	free(s);
}

static void findIdx(scavengeIndex *s, chunkIdx want, unsigned wantOffset)
{
	unsigned gotOffset;
	chunkIdx got = scavengeIndex_find(s, &gotOffset);
	cr_assert_eq(got, want, "find: wanted chunk index %ld, got %ld", (long)(want - BaseChunkIdx),
	             (long)(got - BaseChunkIdx));
	cr_assert_eq(gotOffset, wantOffset, "find: wanted page offset %u, got %u", wantOffset, gotOffset);
	if (got != 0)
		scavengeIndex_clear(s, got);
}

#define IDX_TEST(name) Test(scavengeIndex, name)
#define SETUP scavengeIndex *si = newScavengeIndex()
#define MARK(b, l) scavengeIndex_mark(si, (b), (l))
#define FIND(c, o) findIdx(si, (c), (o))
#define DONE  \
	FIND(0, 0); \
	freeScavengeIndex(si)

IDX_TEST(Uninitialized)
{
	SETUP;
	DONE;
}
IDX_TEST(OnePage)
{
	SETUP;
	MARK(PageBase(BaseChunkIdx, 3), PageBase(BaseChunkIdx, 4));
	FIND(BaseChunkIdx, 3);
	DONE;
}
IDX_TEST(FirstPage)
{
	SETUP;
	MARK(PageBase(BaseChunkIdx, 0), PageBase(BaseChunkIdx, 1));
	FIND(BaseChunkIdx, 0);
	DONE;
}
IDX_TEST(SeveralPages)
{
	SETUP;
	MARK(PageBase(BaseChunkIdx, 9), PageBase(BaseChunkIdx, 14));
	FIND(BaseChunkIdx, 13);
	DONE;
}
IDX_TEST(WholeChunk)
{
	SETUP;
	MARK(PageBase(BaseChunkIdx, 0), PageBase(BaseChunkIdx + 1, 0));
	FIND(BaseChunkIdx, PallocChunkPages - 1);
	DONE;
}
IDX_TEST(LastPage)
{
	SETUP;
	MARK(PageBase(BaseChunkIdx, PallocChunkPages - 1), PageBase(BaseChunkIdx + 1, 0));
	FIND(BaseChunkIdx, PallocChunkPages - 1);
	DONE;
}
IDX_TEST(TwoChunks)
{
	SETUP;
	MARK(PageBase(BaseChunkIdx, 128), PageBase(BaseChunkIdx + 1, 128));
	FIND(BaseChunkIdx + 1, 127);
	FIND(BaseChunkIdx, PallocChunkPages - 1);
	DONE;
}
IDX_TEST(TwoChunksOffset)
{
	SETUP;
	MARK(PageBase(BaseChunkIdx + 7, 128), PageBase(BaseChunkIdx + 8, 129));
	FIND(BaseChunkIdx + 8, 128);
	FIND(BaseChunkIdx + 7, PallocChunkPages - 1);
	DONE;
}
IDX_TEST(SevenChunksOffset)
{
	SETUP;
	MARK(PageBase(BaseChunkIdx + 6, 11), PageBase(BaseChunkIdx + 13, 15));
	FIND(BaseChunkIdx + 13, 14);
	for (chunkIdx i = BaseChunkIdx + 12; i >= BaseChunkIdx + 6; i--)
		FIND(i, PallocChunkPages - 1);
	DONE;
}
IDX_TEST(ThirtyTwoChunks)
{
	SETUP;
	MARK(PageBase(BaseChunkIdx, 0), PageBase(BaseChunkIdx + 32, 0));
	for (chunkIdx i = BaseChunkIdx + 31; i >= BaseChunkIdx; i--)
		FIND(i, PallocChunkPages - 1);
	DONE;
}
IDX_TEST(ThirtyTwoChunksOffset)
{
	SETUP;
	MARK(PageBase(BaseChunkIdx + 3, 0), PageBase(BaseChunkIdx + 35, 0));
	for (chunkIdx i = BaseChunkIdx + 34; i >= BaseChunkIdx + 3; i--)
		FIND(i, PallocChunkPages - 1);
	DONE;
}
IDX_TEST(Mark)
{
	SETUP;
	for (chunkIdx i = BaseChunkIdx; i < BaseChunkIdx + 32; i++)
		MARK(PageBase(i, 0), PageBase(i + 1, 0));
	for (chunkIdx i = BaseChunkIdx + 31; i >= BaseChunkIdx; i--)
		FIND(i, PallocChunkPages - 1);
	DONE;
}
IDX_TEST(MarkInterleaved)
{
	SETUP;
	for (chunkIdx i = BaseChunkIdx; i < BaseChunkIdx + 32; i++) {
		MARK(PageBase(i, 0), PageBase(i + 1, 0));
		FIND(i, PallocChunkPages - 1);
	}
	DONE;
}
IDX_TEST(MarkIdempotentOneChunk)
{
	SETUP;
	MARK(PageBase(BaseChunkIdx, 0), PageBase(BaseChunkIdx + 1, 0));
	MARK(PageBase(BaseChunkIdx, 0), PageBase(BaseChunkIdx + 1, 0));
	FIND(BaseChunkIdx, PallocChunkPages - 1);
	DONE;
}
IDX_TEST(MarkIdempotentThirtyTwoChunks)
{
	SETUP;
	MARK(PageBase(BaseChunkIdx, 0), PageBase(BaseChunkIdx + 32, 0));
	MARK(PageBase(BaseChunkIdx, 0), PageBase(BaseChunkIdx + 32, 0));
	for (chunkIdx i = BaseChunkIdx + 31; i >= BaseChunkIdx; i--)
		FIND(i, PallocChunkPages - 1);
	DONE;
}
IDX_TEST(MarkIdempotentThirtyTwoChunksOffset)
{
	SETUP;
	MARK(PageBase(BaseChunkIdx + 4, 0), PageBase(BaseChunkIdx + 31, 0));
	MARK(PageBase(BaseChunkIdx + 5, 0), PageBase(BaseChunkIdx + 36, 0));
	for (chunkIdx i = BaseChunkIdx + 35; i >= BaseChunkIdx + 4; i--)
		FIND(i, PallocChunkPages - 1);
	DONE;
}

/* ---- the goals (gcPaceScavenger) ---- */

Test(scavenge, Goals)
{
	static runtime rt;
	memInit();
	const uint64_t M = 1 << 20;

	/* Before the first cycle ends there is no GOGC goal; no limit, no
	 * memory-limit goal. */
	gcPaceScavenger(&rt, INT64_MAX, 8 * M, 0);
	cr_assert_eq(rt.scavenge.gcPercentGoal, UINT64_MAX);
	cr_assert_eq(rt.scavenge.memoryLimitGoal, UINT64_MAX);
	cr_assert(scavengerShouldStop(&rt));

	/* GOGC goal: lastHeapInUse scaled by heapGoal/lastHeapGoal, plus 10 %,
	 * rounded up to a physical page; active only when retained exceeds it
	 * by at least a physical page. */
	rt.memstats.lastHeapInUse = 100 * M;
	sysMemStat_add(&rt.gcController.heapInUse, (int64_t)(150 * M));
	sysMemStat_add(&rt.gcController.heapFree, (int64_t)(150 * M));
	gcPaceScavenger(&rt, INT64_MAX, 200 * M, 100 * M);
	cr_assert_eq(rt.scavenge.gcPercentGoal, 220 * M);
	cr_assert(!scavengerShouldStop(&rt));

	gcPaceScavenger(&rt, INT64_MAX, 100 * M, 100 * M + 3); /* ratio just under 1 */
	uint64_t g = (uint64_t)((double)(100 * M) * ((double)(100 * M) / (double)(100 * M + 3)));
	g += g / 10;
	g = alignUp(g, physPageSize);
	cr_assert_eq(rt.scavenge.gcPercentGoal, g);

	/* Retained within a physical page of the goal: inactive. */
	sysMemStat_add(&rt.gcController.heapFree, -(int64_t)(300 * M - 220 * M) + 100);
	cr_assert_eq(heapRetained(&rt), 220 * M + 100);
	gcPaceScavenger(&rt, INT64_MAX, 200 * M, 100 * M);
	cr_assert_eq(rt.scavenge.gcPercentGoal, UINT64_MAX);

	/* Memory-limit goal: 95 % of the limit, compared with mappedReady
	 * (Go 1.19 computes limit x 95 and would leave it inactive). */
	rt.gcController.mappedReady = 96 * M;
	gcPaceScavenger(&rt, 100 * M, 200 * M, 100 * M);
	cr_assert_eq(rt.scavenge.memoryLimitGoal, 95 * M);
	cr_assert(!scavengerShouldStop(&rt));
	rt.gcController.mappedReady = 95 * M;
	gcPaceScavenger(&rt, 100 * M, 200 * M, 100 * M);
	cr_assert_eq(rt.scavenge.memoryLimitGoal, UINT64_MAX);
	cr_assert(scavengerShouldStop(&rt));
}

/* ---- TestScavenger, against a fake clock ---- */

static int64_t simNow;
static uint64_t availableWork, stopAt;
static int64_t stubWorked;

static int64_t simClock(runtime *rt)
{
	(void)rt;
	return simNow;
}

/* 10 us per 4 KiB, as Go's test. */
static int64_t workedTime(uintptr_t bytes) { return (int64_t)((bytes + 4095) / 4096) * 10000; }

static uintptr_t simScavenge(runtime *rt, uintptr_t bytes, int64_t *duration)
{
	(void)rt;
	if (bytes > availableWork)
		bytes = (uintptr_t)availableWork;
	int64_t t = workedTime(bytes);
	if (bytes != 0) {
		availableWork -= bytes;
		stubWorked += t;
		simNow += t;
	}
	*duration = t;
	return bytes;
}

static bool simShouldStop(runtime *rt)
{
	(void)rt;
	return availableWork <= stopAt;
}

/* Calls bgscavenge every millisecond (as allocation slow paths might) until
 * the work is done and the scavenger is parked again. */
static void runUntilParked(runtime *rt)
{
	for (int i = 0; i < 10000000; i++) {
		simNow += 1000000;
		bgscavenge(rt, minScavWorkTime);
		if (rt->scavenge.parked && (availableWork <= stopAt))
			return;
	}
	cr_assert_fail("scavenger never parked");
}

static void verifyScavengerState(runtime *rt, uint64_t expWork)
{
	cr_assert_eq(rt->scavenge.totalReleased, expWork, "want %lu bytes of work done, got %lu",
	             (unsigned long)expWork, (unsigned long)rt->scavenge.totalReleased);
	double idealFraction = rt->scavenge.fraction;
	double cpuFraction = (double)stubWorked / ((double)stubWorked + rt->scavenge.totalSlept);
	cr_assert(cpuFraction >= idealFraction - 0.005 && cpuFraction <= idealFraction + 0.005,
	          "want %f CPU fraction, got %f", idealFraction, cpuFraction);
}

/* rt's scavenger on the simulated clock, work and stop condition, all
 * counters at zero. */
static void useSimScavenger(runtime *rt)
{
	memInit();
	rt->scavenge.nanotime = simClock;
	rt->scavenge.scavenge = simScavenge;
	rt->scavenge.shouldStop = simShouldStop;
	simNow = 1000000000;
	stubWorked = 0;
	stopAt = 0;
}

Test(scavenge, Scavenger)
{
	static runtime rt;
	useSimScavenger(&rt);
	const uint64_t totalWork = (64 << 20) - 3 * physPageSize;

	/* Run to completion: exactly the available work, near 1 % CPU. */
	availableWork = totalWork;
	runUntilParked(&rt);
	verifyScavengerState(&rt, totalWork);

	/* Nothing to do: straight back to parked. */
	runUntilParked(&rt);
	verifyScavengerState(&rt, totalWork);

	/* The same again resumes. */
	availableWork = totalWork;
	runUntilParked(&rt);
	verifyScavengerState(&rt, 2 * totalWork);

	/* Stop once only stopAt remains. */
	availableWork = totalWork;
	uint64_t stoppingPoint = (1 << 20) - 3 * physPageSize;
	stopAt = stoppingPoint;
	runUntilParked(&rt);
	verifyScavengerState(&rt, 2 * totalWork + (totalWork - stoppingPoint));
}

/* ---- scavtrace ---- */

static void redirectStderr(void) { cr_redirect_stderr(); }

Test(scavenge, Trace, .init = redirectStderr)
{
	static runtime rt;
	sysMemStat_add(&rt.gcController.heapInUse, 512 << 10);
	sysMemStat_add(&rt.gcController.heapFree, 512 << 10);
	sysMemStat_add(&rt.gcController.heapReleased, 2 << 20);
	printScavTrace(&rt, 64 << 10, false);
	printScavTrace(&rt, 1 << 20, true);
	printScavTrace(&rt, 0, false);

	/* The sweep-completion hook prints and resets the background count,
	 * only with scavtrace set. */
	rt.mheap_.pages.scav.released = 8 << 10;
	scavengerReady(&rt);
	cr_assert_eq(rt.mheap_.pages.scav.released, 8 << 10);
	rt.debug.scavtrace = 1;
	scavengerReady(&rt);
	cr_assert_eq(rt.mheap_.pages.scav.released, 0);
	fflush(stderr);
	cr_assert_stderr_eq_str("scav 64 KiB work, 2048 KiB total, 50% util\n"
	                        "scav 1024 KiB work, 2048 KiB total, 50% util (forced)\n"
	                        "scav 0 KiB work, 2048 KiB total, 50% util\n"
	                        "scav 8 KiB work, 2048 KiB total, 50% util\n");
}

/* ---- pacing from wall time ---- */

/* Go's share: 1 % of each CPU, at most scavengeMaxProcs of them. */
Test(scavenge, Fraction)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > scavengeMaxProcs)
		n = scavengeMaxProcs;
	cr_assert_float_eq(scavengeFraction(), (double)n * scavengePercent / 100.0, 1e-12);
	cr_assert_leq(scavengeFraction(), 0.04);
}

/* Polls at irregular times, as allocation slow paths make them: each run
 * gets what its sleep earned, so work stays at the fraction of wall time
 * even though no poll comes exactly at the end of a sleep. */
static void pollIrregularly(runtime *rt, int64_t maxGap)
{
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < 1000000 && availableWork > stopAt; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		simNow += 1000000 + (int64_t)(x % (uint64_t)maxGap);
		scavengerPoll(rt);
	}
	cr_assert_leq(availableWork, stopAt, "work left after a million polls");
}

Test(scavenge, PacedFromWallTime)
{
	static runtime rt;
	useSimScavenger(&rt);
	rt.scavenge.fraction = 0.02;

	/* Not awake: a poll does nothing, however much work there is. */
	availableWork = 64 << 20;
	scavengerPoll(&rt);
	cr_assert_eq(availableWork, 64 << 20);
	cr_assert_eq(rt.scavenge.totalReleased, 0);

	/* Gaps of 1 to 250 ms: each run's budget stays under the cap. */
	rt.scavenge.awake = true;
	pollIrregularly(&rt, 250000000);
	verifyScavengerState(&rt, 64 << 20);
	/* The first run of a wake-up does minScavWorkTime at once. */
	cr_assert_geq(stubWorked, minScavWorkTime);

	/* Out of work: the next poll parks it and it stays asleep. */
	scavengerPoll(&rt);
	simNow += 1000000000;
	scavengerPoll(&rt);
	cr_assert(!rt.scavenge.awake);
	cr_assert(rt.scavenge.parked);
}

/* A poll after a long quiet period does at most maxScavWorkTime. */
Test(scavenge, PacedRunIsCapped)
{
	static runtime rt;
	useSimScavenger(&rt);
	rt.scavenge.fraction = 0.02;
	availableWork = 1 << 30;
	rt.scavenge.awake = true;
	scavengerPoll(&rt);
	/* Work is checked between 64 KiB steps: one step may overshoot. */
	cr_assert_geq(stubWorked, minScavWorkTime);
	cr_assert_lt(stubWorked, minScavWorkTime + workedTime(scavengeQuantum), "wake-up run: %ld ns",
	             (long)stubWorked);
	simNow += 60000000000LL; /* a minute without a poll */
	int64_t before = stubWorked;
	scavengerPoll(&rt);
	cr_assert_geq(stubWorked - before, maxScavWorkTime);
	cr_assert_lt(stubWorked - before, maxScavWorkTime + workedTime(scavengeQuantum) + 1);
	/* And it then sleeps in proportion: 49 x the work at 2 %. */
	int64_t worked = stubWorked - before;
	cr_assert_eq(rt.scavenge.wakeTime - simNow, (int64_t)((double)worked * 0.98 / 0.02));
}

/* gcPaceScavenger wakes the scavenger exactly when a goal is unmet. */
Test(scavenge, PaceWakes)
{
	static runtime rt;
	const uint64_t M = 1 << 20;
	rt.gcController.mappedReady = 96 * M;
	gcPaceScavenger(&rt, 100 * M, 200 * M, 100 * M);
	cr_assert(rt.scavenge.awake);
	rt.gcController.mappedReady = 50 * M;
	gcPaceScavenger(&rt, 100 * M, 200 * M, 100 * M);
	cr_assert(!rt.scavenge.awake);
	/* The GOGC goal: 10 MiB in use at the last mark, the heap goal halved:
	 * retain 5.5 MiB; 64 MiB retained is over it. */
	rt.memstats.lastHeapInUse = 10 * M;
	sysMemStat_add(&rt.gcController.heapInUse, 10 * M);
	sysMemStat_add(&rt.gcController.heapFree, 54 * M);
	gcPaceScavenger(&rt, INT64_MAX, 100 * M, 200 * M);
	cr_assert(rt.scavenge.awake);
	cr_assert_eq(rt.scavenge.gcPercentGoal, alignUp(5 * M + M / 2, physPageSize));
}

/* A goal that wakes a parked scavenger gives it its first turn a time slice
 * later (scavengeWakeDelay), not inside the collection that woke it. */
Test(scavenge, WakeWaitsATimeSlice)
{
	static runtime rt;
	useSimScavenger(&rt);
	availableWork = 64 << 20;

	const uint64_t M = 1 << 20;
	rt.memstats.lastHeapInUse = 4 * M;
	sysMemStat_add(&rt.gcController.heapInUse, 4 * M);
	sysMemStat_add(&rt.gcController.heapFree, 60 * M);
	gcPaceScavenger(&rt, INT64_MAX, 8 * M, 8 * M);
	cr_assert(rt.scavenge.awake);
	cr_assert_not(rt.scavenge.parked, "woken: asleep until its turn");

	scavengerPoll(&rt);
	simNow += scavengeWakeDelay - 1;
	scavengerPoll(&rt);
	cr_assert_eq(rt.scavenge.totalReleased, 0, "ran before its time slice");

	simNow += 1;
	scavengerPoll(&rt);
	cr_assert_gt(rt.scavenge.totalReleased, 0, "did not run once the slice was over");
	cr_assert_geq(stubWorked, minScavWorkTime, "the first run does at least the minimum");

	/* Pacing again while it is awake and sleeping changes nothing. */
	int64_t wake = rt.scavenge.wakeTime;
	gcPaceScavenger(&rt, INT64_MAX, 8 * M, 8 * M);
	cr_assert_eq(rt.scavenge.wakeTime, wake);
}
