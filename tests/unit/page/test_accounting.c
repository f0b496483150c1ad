/*
 * Accounting of the page allocator and the scavenger: summary memory goes
 * straight to Ready and is charged to the allocator's stat and mappedReady
 * together; teardown gives back exactly what was taken; scavenging real heap
 * memory releases it (sysUnused) and moves heapFree -> heapReleased and
 * committed -> released, keeping mappedReady == totalMapped - released.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "page/pagetest.h"

#define KiB ((uintptr_t)1 << 10)
#define MiB ((uintptr_t)1 << 20)

/* The bytes a pageAlloc itself maps: what the runtime's own stat and
 * mappedReady must both have gained. */
static uint64_t ready0, stat0;
static void snapshot(runtime *rt, sysMemStat *stat)
{
	ready0 = rt->gcController.mappedReady;
	stat0 = sysMemStat_load(stat);
}
static void expectDelta(runtime *rt, sysMemStat *stat, uint64_t want, const char *what)
{
	cr_assert_eq(rt->gcController.mappedReady - ready0, want, "%s: mappedReady moved %lu, want %lu", what,
	             (unsigned long)(rt->gcController.mappedReady - ready0), (unsigned long)want);
	cr_assert_eq(sysMemStat_load(stat) - stat0, want, "%s: stat moved %lu, want %lu", what,
	             (unsigned long)(sysMemStat_load(stat) - stat0), (unsigned long)want);
}

Test(accounting, SummaryMapping)
{
	static runtime rt;
	sysMemStat *stat = &rt.memstats.gcMiscSys;
	memInit();
	cr_assert_eq(physPageSize, 4096, "the sizes below assume 4 KiB OS pages");
	snapshot(&rt, stat);

	pageAlloc *p = calloc(1, sizeof *p);
	pageAlloc_init(p, &rt, stat, true);
	/* Reservations cost nothing; only the inUse array (one page) is Ready. */
	uintptr_t inUseBytes = (uintptr_t)p->inUse.cap * sizeof(addrRange);
	cr_assert_eq(inUseBytes, physPageSize);
	expectDelta(&rt, stat, inUseBytes, "init");
	cr_assert_eq(p->summaryMappedReady, 0);

	/* First chunk: all of level 0 (2^14 entries, 128 KiB), one page of each
	 * lower level, one page of the scavenge index, and a 1 MiB L2 array. */
	pageAlloc_grow(p, PageBase(BaseChunkIdx, 0), pallocChunkBytes);
	uintptr_t sums = 128 * KiB + 4 * 4 * KiB + 4 * KiB;
	cr_assert_eq(p->summaryMappedReady, sums);
	expectDelta(&rt, stat, inUseBytes + sums + MiB, "first growth");

	/* The next chunk's summaries share those pages: nothing new is mapped. */
	pageAlloc_grow(p, PageBase(BaseChunkIdx + 1, 0), pallocChunkBytes);
	cr_assert_eq(p->summaryMappedReady, sums);
	expectDelta(&rt, stat, inUseBytes + sums + MiB, "adjacent growth");

	/* 4 TiB higher: a new page at each of levels 1-4, a new L2 array, and
	 * the index bytes up to the new chunk (kept contiguous: 128 KiB). */
	pageAlloc_grow(p, PageBase(BaseChunkIdx + 0x100000, 0), pallocChunkBytes);
	sums += 4 * 4 * KiB + 128 * KiB;
	cr_assert_eq(p->summaryMappedReady, sums);
	expectDelta(&rt, stat, inUseBytes + sums + 2 * MiB, "distant growth");

	/* The mapped summaries are really usable memory. */
	uintptr_t a = pageAlloc_alloc(p, 3 * pallocChunkPages / 2, NULL);
	cr_assert_eq(a, PageBase(BaseChunkIdx, 0));

	pageAlloc_release(p);
	free(p);
	expectDelta(&rt, stat, 0, "release");
}

/*
 * A real heap for a private runtime: chunk-aligned memory mapped to
 * heapReleased (as mheap.grow), with the heap's span accounting done here
 * the way allocSpan and freeSpan do it.
 */
typedef struct testHeap {
	runtime *rt;
	pageAlloc *p;
	void *res;
	uintptr_t resSize, base, size;
} testHeap;

static void testHeap_init(testHeap *h, runtime *rt, pageAlloc *p, uintptr_t size)
{
	memInit();
	h->rt = rt;
	h->p = p;
	pageAlloc_init(p, rt, &rt->memstats.gcMiscSys, false);
	h->resSize = size + pallocChunkBytes;
	h->res = sysReserve(NULL, h->resSize);
	cr_assert_not_null(h->res);
	h->base = alignUp((uintptr_t)h->res, pallocChunkBytes);
	h->size = size;
	/* new heap memory is Prepared and counts as released until used */
	sysMap(rt, (void *)h->base, size, &rt->gcController.heapReleased);
	rt->memstats.heapStats.released += (int64_t)size;
	pageAlloc_grow(p, h->base, size);
}

static uintptr_t testHeap_alloc(testHeap *h, uintptr_t npages, uintptr_t *scavOut)
{
	runtime *rt = h->rt;
	uintptr_t scav;
	uintptr_t a = pageAlloc_alloc(h->p, npages, &scav);
	cr_assert_neq(a, 0);
	int64_t n = (int64_t)(npages * pageSize);
	sysUsed(rt, (void *)a, (uintptr_t)n, scav);
	sysMemStat_add(&rt->gcController.heapReleased, -(int64_t)scav);
	sysMemStat_add(&rt->gcController.heapFree, -(n - (int64_t)scav));
	sysMemStat_add(&rt->gcController.heapInUse, n);
	rt->memstats.heapStats.released -= (int64_t)scav;
	rt->memstats.heapStats.committed += (int64_t)scav;
	rt->memstats.heapStats.inHeap += n;
	if (scavOut)
		*scavOut = scav;
	return a;
}

static void testHeap_free(testHeap *h, uintptr_t a, uintptr_t npages)
{
	runtime *rt = h->rt;
	int64_t n = (int64_t)(npages * pageSize);
	pageAlloc_free(h->p, a, npages);
	sysMemStat_add(&rt->gcController.heapInUse, -n);
	sysMemStat_add(&rt->gcController.heapFree, n);
	rt->memstats.heapStats.inHeap -= n;
}

static void testHeap_release(testHeap *h)
{
	pageAlloc_release(h->p);
	munmap(h->res, h->resSize);
}

/* Go's readmemstats_m checks that concern the heap and metadata. */
static void checkInvariant(runtime *rt, const char *when)
{
	gcControllerState *c = &rt->gcController;
	heapStatsDelta *s = &rt->memstats.heapStats;
	uint64_t totalMapped = sysMemStat_load(&c->heapInUse) + sysMemStat_load(&c->heapFree) +
	                       sysMemStat_load(&c->heapReleased) + sysMemStat_load(&rt->memstats.gcMiscSys) +
	                       sysMemStat_load(&rt->memstats.other_sys);
	cr_assert_eq(c->mappedReady, totalMapped - (uint64_t)s->released,
	             "%s: mappedReady %lu != totalMapped %lu - released %ld", when, (unsigned long)c->mappedReady,
	             (unsigned long)totalMapped, (long)s->released);
	cr_assert_eq(sysMemStat_load(&c->heapReleased), (uint64_t)s->released, "%s: heapReleased", when);
	cr_assert_eq(sysMemStat_load(&c->heapInUse), (uint64_t)s->inHeap, "%s: heapInUse", when);
	cr_assert_eq(sysMemStat_load(&c->heapInUse) + sysMemStat_load(&c->heapFree), (uint64_t)s->committed,
	             "%s: retained heap", when);
}

static bool resident(uintptr_t a)
{
	unsigned char v;
	cr_assert_eq(mincore((void *)alignDown(a, physPageSize), physPageSize, &v), 0);
	return v & 1;
}

Test(accounting, ScavengeRealMemory)
{
	static runtime rt;
	testHeap h;
	testHeap_init(&h, &rt, &rt.mheap_.pages, 2 * pallocChunkBytes);
	checkInvariant(&rt, "grown");

	/* Fresh memory comes back scavenged: the caller makes it Ready. */
	uintptr_t scav;
	uintptr_t a = testHeap_alloc(&h, 100, &scav);
	cr_assert_eq(a, h.base);
	cr_assert_eq(scav, 100 * pageSize);
	memset((void *)a, 0xab, 100 * pageSize);
	checkInvariant(&rt, "allocated");

	testHeap_free(&h, a, 100);
	checkInvariant(&rt, "freed");
	cr_assert_eq(heapRetained(&rt), 100 * pageSize);

	/* 64 KiB: the top 8 freed pages go, highest first. */
	uint64_t ready = rt.gcController.mappedReady;
	uintptr_t r = pageAlloc_scavenge(&rt.mheap_.pages, 64 * KiB);
	cr_assert_eq(r, 64 * KiB);
	cr_assert_eq(ready - rt.gcController.mappedReady, 64 * KiB);
	cr_assert_eq(sysMemStat_load(&rt.gcController.heapFree), 92 * pageSize);
	checkInvariant(&rt, "scavenged 64 KiB");
	cr_assert(!resident(a + 99 * pageSize), "released page still resident");
	cr_assert(!resident(a + 92 * pageSize), "released page still resident");
	cr_assert(resident(a + 91 * pageSize), "unreleased page lost");
	cr_assert_eq(((unsigned char *)a)[91 * pageSize], 0xab);
	cr_assert_eq(((unsigned char *)a)[92 * pageSize], 0, "MADV_DONTNEED pages read as zero");

	/* Everything else. */
	r = scavengeAll(&rt);
	cr_assert_eq(r, 92 * pageSize);
	cr_assert_eq(sysMemStat_load(&rt.gcController.heapFree), 0);
	checkInvariant(&rt, "scavenged all");
	cr_assert_eq(scavengeAll(&rt), 0, "nothing left to release");

	/* Reuse reports the scavenged bytes again. */
	a = testHeap_alloc(&h, 10, &scav);
	cr_assert_eq(a, h.base);
	cr_assert_eq(scav, 10 * pageSize);
	checkInvariant(&rt, "reallocated");

	/* A page cache takes a block; its pages stay counted free/released. */
	pageCache c = pageAlloc_allocToCache(h.p);
	cr_assert_eq(c.base, h.base);
	cr_assert_eq(c.cache, ~(uint64_t)0 << 10);
	cr_assert_eq(c.scav, ~(uint64_t)0 << 10);
	pageCache_flush(&c, h.p);

	testHeap_free(&h, a, 10);
	testHeap_release(&h);
	cr_assert_eq(sysMemStat_load(&rt.memstats.gcMiscSys), 0, "metadata not all returned");
}

/* ---- the background scavenger on a real heap ---- */

static int64_t fakeNow;
static int64_t fakeClock(runtime *rt)
{
	(void)rt;
	return fakeNow;
}

Test(accounting, BackgroundScavenger)
{
	static runtime rt;
	testHeap h;
	testHeap_init(&h, &rt, &rt.mheap_.pages, 2 * pallocChunkBytes);
	uintptr_t a = testHeap_alloc(&h, 2 * pallocChunkPages, NULL);
	testHeap_free(&h, a, 2 * pallocChunkPages);
	cr_assert_eq(heapRetained(&rt), 8 * MiB);

	/* Goals met: nothing to do. */
	rt.scavenge.gcPercentGoal = UINT64_MAX;
	rt.scavenge.memoryLimitGoal = UINT64_MAX;
	rt.scavenge.nanotime = fakeClock;
	fakeNow = 1000000000;
	cr_assert_eq(bgscavenge(&rt, 1000000000), 0);
	cr_assert(rt.scavenge.parked);

	/* Retain at most 5 MiB: at least 3 MiB goes, in 64 KiB steps that are
	 * widened to whole free huge pages. */
	rt.scavenge.gcPercentGoal = 5 * MiB;
	uintptr_t r = bgscavenge(&rt, 1000000000);
	uintptr_t step = physHugePageSize > scavengeQuantum ? physHugePageSize : scavengeQuantum;
	cr_assert_geq(r, 3 * MiB);
	cr_assert_lt(r, 3 * MiB + step);
	cr_assert_leq(heapRetained(&rt), 5 * MiB);
	cr_assert_eq(rt.mheap_.pages.scav.released, r);
	checkInvariant(&rt, "background");

	/* It now sleeps in proportion to its work: a lower goal waits. */
	rt.scavenge.gcPercentGoal = 2 * MiB;
	fakeNow += 1000000;
	cr_assert_eq(bgscavenge(&rt, 1000000000), 0, "worked while asleep");
	fakeNow = rt.scavenge.wakeTime;
	r = bgscavenge(&rt, 1000000000);
	cr_assert_geq(heapRetained(&rt) + r, 3 * MiB);
	cr_assert_leq(heapRetained(&rt), 2 * MiB);
	cr_assert_geq(heapRetained(&rt), 256 * KiB);

	/* The memory-limit goal alone also drives it (against mappedReady). */
	fakeNow = rt.scavenge.wakeTime;
	rt.scavenge.gcPercentGoal = UINT64_MAX;
	rt.scavenge.memoryLimitGoal = rt.gcController.mappedReady - 256 * KiB;
	uint64_t before = rt.gcController.mappedReady;
	r = bgscavenge(&rt, 1000000000);
	cr_assert_geq(before - rt.gcController.mappedReady, 256 * KiB);
	cr_assert_eq(before - rt.gcController.mappedReady, r);
	checkInvariant(&rt, "memory limit goal");

	testHeap_release(&h);
}

Test(accounting, ReleaseUngrown)
{
	static runtime rt;
	sysMemStat *stat = &rt.memstats.gcMiscSys;
	snapshot(&rt, stat);
	pageAlloc *p = calloc(1, sizeof *p);
	/* never initialised: release is a no-op */
	pageAlloc_release(p);
	pageAlloc_init(p, &rt, stat, false);
	cr_assert_eq(pageAlloc_alloc(p, 1, NULL), 0, "an empty allocator has no pages");
	cr_assert_eq(pageAlloc_allocToCache(p).base, 0);
	cr_assert_eq(pageAlloc_scavenge(p, ~(uintptr_t)0), 0);
	pageAlloc_release(p);
	free(p);
	expectDelta(&rt, stat, 0, "release");
}
