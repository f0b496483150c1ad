/*
 * mgcscavenge.c — the scavenger (mirrors Go's mgcscavenge.go).
 *
 * Free pages are Ready until scavenged: released with sysUnused (Prepared),
 * moving their bytes from heapFree to heapReleased and, in the consistent
 * stats, from committed to released. Allocation makes them Ready again
 * (allocSpan's sysUsed). The scavenger always takes the highest free pages
 * first, so the low addresses the allocator prefers stay Ready.
 *
 * Candidates are found through the scavenge index (one bit per chunk that
 * may hold free, unscavenged pages), then inside the chunk by
 * findScavengeCandidate, searching downward.
 */
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "mem/mgcscavenge.h"
#include "mem/runtime.h"

static int64_t scav_nanotime(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

uint64_t heapRetained(runtime *rt)
{
	return sysMemStat_load(&rt->gcController.heapInUse) + sysMemStat_load(&rt->gcController.heapFree);
}

static void scavengerState_ensure(scavengerState *s);

/*
 * Go's scavenger.wake readies the scavenger goroutine; with one P it runs
 * once the goroutine that woke it is preempted, a time slice later. So a
 * parked scavenger that a goal wakes first sleeps scavengeWakeDelay: a
 * collection does not also return its freed pages in the same breath
 * (runtime.gc() then memstats() sees them free, not yet released; that is
 * what runtime.freeOSMemory() is for).
 */
static void scavengerWake(runtime *rt, scavengerState *s)
{
	if (!s->awake)
		return;
	scavengerState_ensure(s);
	if (!s->parked)
		return;
	s->parked = false;
	s->sleepStart = s->nanotime(rt);
	s->wakeTime = s->sleepStart + scavengeWakeDelay;
}

void gcPaceScavenger(runtime *rt, int64_t memoryLimit, uint64_t heapGoal, uint64_t lastHeapGoal)
{
	scavengerState *s = &rt->scavenge;

	/*
	 * Memory-limit goal: keep mappedReady at 95 % of the limit, leaving room
	 * for the limit-based GC trigger to react before the limit itself.
	 * Go 1.19 multiplies by (100 - reduceExtraPercent), i.e. by 95 rather
	 * than 0.95, so its goal is never active (golang/go#62449, fixed in
	 * later releases). Gale uses the intended 95 %.
	 */
	uint64_t memoryLimitGoal;
	if (memoryLimit < 0)
		memoryLimitGoal = 0;
	else
		memoryLimitGoal = (uint64_t)((double)memoryLimit * ((100.0 - reduceExtraPercent) / 100.0));
	if (rt->gcController.mappedReady <= memoryLimitGoal)
		s->memoryLimitGoal = UINT64_MAX;
	else
		s->memoryLimitGoal = memoryLimitGoal;

	/* No cycle has finished: nothing to scale the retained heap by. */
	if (lastHeapGoal == 0) {
		s->gcPercentGoal = UINT64_MAX;
		s->awake = s->memoryLimitGoal != UINT64_MAX;
		scavengerWake(rt, s);
		return;
	}
	/*
	 * GOGC goal: the in-use heap at the last mark, scaled by how the heap
	 * goal changed, plus 10 % so that memory about to be reused is not
	 * released, rounded up to a physical page.
	 */
	double goalRatio = (double)heapGoal / (double)lastHeapGoal;
	uint64_t gcPercentGoal = (uint64_t)((double)rt->memstats.lastHeapInUse * goalRatio);
	gcPercentGoal += gcPercentGoal / (100 / retainExtraPercent);
	gcPercentGoal = (gcPercentGoal + (uint64_t)physPageSize - 1) & ~((uint64_t)physPageSize - 1);

	/* Less than a physical page over the goal is not worth waking for. */
	uint64_t retained = heapRetained(rt);
	if (retained <= gcPercentGoal || retained - gcPercentGoal < (uint64_t)physPageSize)
		s->gcPercentGoal = UINT64_MAX;
	else
		s->gcPercentGoal = gcPercentGoal;
	/* Go's scavenger.wake: an unmet goal lets polls run it again. */
	s->awake = s->gcPercentGoal != UINT64_MAX || s->memoryLimitGoal != UINT64_MAX;
	scavengerWake(rt, s);
}

bool scavengerShouldStop(runtime *rt)
{
	return heapRetained(rt) <= rt->scavenge.gcPercentGoal &&
	       rt->gcController.mappedReady <= rt->scavenge.memoryLimitGoal;
}

/* ---- the background scavenger ---- */

double scavengeFraction(void)
{
	/* Go's 1 % is of GOMAXPROCS (by default every CPU) times wall time. */
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	if (n > scavengeMaxProcs)
		n = scavengeMaxProcs;
	return (double)scavengePercent / 100.0 * (double)n;
}

/* CPU time of this thread, ns (0 if the clock is unavailable). */
static int64_t scav_cputime(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
		return 0;
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/*
 * One step on the runtime's own heap, timed in CPU time of the thread:
 * scavengePercent is a share of CPU, and on a loaded machine wall time
 * would also charge the scavenger for the time it was not running (Go's
 * scavenger, on its own thread, measures wall time). A step is tens to
 * hundreds of microseconds, so the two clock reads (~0.5 us each) are cheap.
 */
static uintptr_t scavengeDefault(runtime *rt, uintptr_t n, int64_t *duration)
{
	int64_t start = scav_cputime();
	uintptr_t r = pageAlloc_scavengeUntil(&rt->mheap_.pages, n, NULL);
	int64_t end = scav_cputime();
	/* A clock that did not move reports 0: the caller estimates instead. */
	*duration = end > start ? end - start : 0;
	return r;
}

static int64_t nanotimeDefault(runtime *rt)
{
	(void)rt;
	return scav_nanotime();
}

/* Set up on first use (a zero struct is valid until then). */
static void scavengerState_ensure(scavengerState *s)
{
	if (s->inited)
		return;
	memInit();
	/* A test may have fixed the fraction; otherwise Go's share. */
	if (s->fraction <= 0 || s->fraction >= 1)
		s->fraction = scavengeFraction();
	s->parked = true;
	if (s->nanotime == NULL)
		s->nanotime = nanotimeDefault;
	if (s->scavenge == NULL)
		s->scavenge = scavengeDefault;
	if (s->shouldStop == NULL)
		s->shouldStop = scavengerShouldStop;
	s->inited = true;
}

/* Go's scavengerState.run, bounded by budget instead of minScavWorkTime. */
static uintptr_t scavengerRun(runtime *rt, scavengerState *s, double budget, double *workedOut)
{
	uintptr_t released = 0;
	double worked = 0;
	while (worked < budget) {
		/* both goals met: leave the rest Ready */
		if (s->shouldStop(rt))
			break;
		int64_t duration;
		uintptr_t r = s->scavenge(rt, scavengeQuantum, &duration);
		if (duration == 0)
			worked += approxWorkedNSPerPhysicalPage * (double)(r / physPageSize);
		else
			worked += (double)duration;
		released += r;
		/* Less than asked: nothing left to release. */
		if (r < scavengeQuantum)
			break;
	}
	/* Scavenging works in whole physical pages; less means a broken step. */
	if (released > 0 && released < physPageSize)
		mthrow("released less than one physical page of memory");
	*workedOut = worked;
	return released;
}

uintptr_t bgscavenge(runtime *rt, int64_t budget_ns)
{
	scavengerState *s = &rt->scavenge;
	scavengerState_ensure(s);
	int64_t now = s->nanotime(rt);
	double budget = (double)minScavWorkTime;
	/* parked: the last run found nothing, so there is no sleep to finish
	 * and the run starts at once with the minimum work, as Go's wake-up. */
	if (!s->parked) {
		/* Still asleep: this call must not work. */
		if (now < s->wakeTime)
			return 0;
		int64_t slept = now - s->sleepStart;
		s->totalSlept += (double)slept;
		s->parked = true;
		/*
		 * Polls arrive when the mutator reaches a slow path, usually after
		 * wakeTime: give the run what the whole sleep earned, so work stays
		 * at the fraction of wall time however late the poll came. Go needs
		 * a PI controller here because it cannot see how long its timer
		 * really slept; this clock can.
		 */
		budget = (double)slept * s->fraction / (1.0 - s->fraction);
		if (budget < (double)minScavWorkTime)
			budget = (double)minScavWorkTime;
		if (budget > (double)maxScavWorkTime)
			budget = (double)maxScavWorkTime;
	}
	if (budget_ns > 0)
		budget = (double)budget_ns;

	double worked;
	uintptr_t released = scavengerRun(rt, s, budget, &worked);
	if (released == 0) {
		/* Nothing to do: park until the collector paces it again. */
		s->awake = false;
		return 0;
	}
	/* reported and reset by the next scavtrace line */
	rt->mheap_.pages.scav.released += released;

	/* Sleep in proportion to the work (at least minScavWorkTime, as Go
	 * counts), so work is the fraction of work + sleep. */
	if (worked < (double)minScavWorkTime)
		worked = (double)minScavWorkTime;
	worked *= 1 + scavengeCostRatio;
	int64_t end = s->nanotime(rt);
	s->sleepStart = end;
	s->wakeTime = end + (int64_t)(worked * (1.0 - s->fraction) / s->fraction);
	s->parked = false;
	s->totalWorked += worked;
	s->totalReleased += released;
	return released;
}

void scavengerPoll(runtime *rt)
{
	/* The common case, a heap within its goals, costs one load. Never from
	 * inside a heap operation (Go's scavenger takes the heap lock). */
	if (!rt->scavenge.awake || rt->mheap_.locked)
		return;
	bgscavenge(rt, 0);
}

/* Go's mheap.scavengeAll: no goal, no budget, no sleep. */
uintptr_t scavengeAll(runtime *rt)
{
	uintptr_t released = pageAlloc_scavengeUntil(&rt->mheap_.pages, ~(uintptr_t)0, NULL);
	if (rt->debug.scavtrace > 0)
		printScavTrace(rt, released, true);
	return released;
}

void scavengerReady(runtime *rt)
{
	if (rt->debug.scavtrace <= 0)
		return;
	uintptr_t released = rt->mheap_.pages.scav.released;
	printScavTrace(rt, released, false);
	rt->mheap_.pages.scav.released -= released;
}

void printScavTrace(runtime *rt, uintptr_t released, bool forced)
{
	uint64_t retained = heapRetained(rt);
	uint64_t inUse = sysMemStat_load(&rt->gcController.heapInUse);
	/* Go divides unguarded; an empty heap prints 0 % here. */
	uint64_t util = retained ? inUse * 100 / retained : 0;
	fprintf(stderr, "scav %lu KiB work, %lu KiB total, %lu%% util", (unsigned long)(released >> 10),
	        (unsigned long)(sysMemStat_load(&rt->gcController.heapReleased) >> 10), (unsigned long)util);
	if (forced)
		fprintf(stderr, " (forced)");
	fprintf(stderr, "\n");
}

/* ---- releasing pages ---- */

uintptr_t pageAlloc_scavengeUntil(pageAlloc *p, uintptr_t nbytes, bool (*shouldStop)(runtime *rt))
{
	/* Chunk by chunk, highest first, until enough is released or no chunk
	 * in the index has free, unscavenged pages left. */
	uintptr_t released = 0;
	while (released < nbytes) {
		unsigned pageIdx;
		chunkIdx ci = scavengeIndex_find(&p->scav.index, &pageIdx);
		if (ci == 0)
			break; /* no chunk has free, unscavenged pages */
		released += pageAlloc_scavengeOne(p, ci, pageIdx, nbytes - released);
		if (shouldStop != NULL && shouldStop(p->rt))
			break;
	}
	return released;
}

uintptr_t pageAlloc_scavenge(pageAlloc *p, uintptr_t nbytes)
{
	return pageAlloc_scavengeUntil(p, nbytes, NULL);
}

/*
 * Releases up to max bytes (rounded up to pages) from the top of chunk ci.
 * searchIdx is unused, as in Go 1.19: the chunk is searched from its top.
 * Go hides the candidate with allocRange while it drops the heap lock for
 * sysUnused; with one thread the scavenged bits are set directly (the
 * summaries, which only see allocation bits, do not change).
 */
uintptr_t pageAlloc_scavengeOne(pageAlloc *p, chunkIdx ci, unsigned searchIdx, uintptr_t max)
{
	(void)searchIdx;
	uintptr_t maxPages = max / pageSize;
	if (max % pageSize != 0)
		maxPages++;
	/* Release whole physical pages only. */
	uintptr_t minPages = physPageSize / pageSize;
	if (minPages < 1)
		minPages = 1;

	/* Free pages are a precondition: the leaf summary is a cheap filter. */
	if (pallocSum_max(p->summary[summaryLevels - 1][ci]) >= minPages) {
		pallocData *chunk = pageAlloc_chunkOf(p, ci);
		unsigned npages;
		unsigned base = pallocData_findScavengeCandidate(chunk, pallocChunkPages - 1, minPages, maxPages, &npages);
		if (npages != 0) {
			uintptr_t addr = chunkBase(ci) + (uintptr_t)base * pageSize;
			if (pageBits_popcntRange(&chunk->scavenged, base, npages) != 0)
				mthrow("double scavenge");
			/* Go's scavengeRangeLocked: Ready -> Prepared, and the bytes
			 * move from free to released in both sets of statistics. */
			if (!p->test) {
				runtime *rt = p->rt;
				int64_t nbytes = (int64_t)npages * (int64_t)pageSize;
				sysUnused(rt, (void *)addr, (uintptr_t)nbytes);
				sysMemStat_add(&rt->gcController.heapReleased, nbytes);
				sysMemStat_add(&rt->gcController.heapFree, -nbytes);
				rt->memstats.heapStats.committed -= nbytes;
				rt->memstats.heapStats.released += nbytes;
			}
			pageBits_setRange(&chunk->scavenged, base, npages);
			return (uintptr_t)npages * pageSize;
		}
	}
	/* Nothing left here: drop the chunk from the index. */
	scavengeIndex_clear(&p->scav.index, ci);
	return 0;
}

/* ---- candidate search ---- */

uint64_t fillAligned(uint64_t x, unsigned m)
{
	/*
	 * apply(x, c) leaves, per group, only the top bit set exactly when the
	 * group of x was all zero (the "has a zero byte" trick with c the group
	 * mask minus its top bit); the final step smears that top bit down the
	 * group, and the complement marks the groups that had a one.
	 */
#define APPLY(x, c) (~((((x) & (c)) + (c)) | (x) | (c)))
	switch (m) {
	case 1:
		return x;
	case 2:
		x = APPLY(x, 0x5555555555555555ULL);
		break;
	case 4:
		x = APPLY(x, 0x7777777777777777ULL);
		break;
	case 8:
		x = APPLY(x, 0x7f7f7f7f7f7f7f7fULL);
		break;
	case 16:
		x = APPLY(x, 0x7fff7fff7fff7fffULL);
		break;
	case 32:
		x = APPLY(x, 0x7fffffff7fffffffULL);
		break;
	case 64:
		x = APPLY(x, 0x7fffffffffffffffULL);
		break;
	default:
		mthrow("bad m value");
	}
#undef APPLY
	return ~((x - (x >> (m - 1))) | x);
}

static inline unsigned clz64(uint64_t x) { return x ? (unsigned)__builtin_clzll(x) : 64; }

unsigned pallocData_findScavengeCandidate(const pallocData *m, unsigned searchIdx, uintptr_t min,
                                          uintptr_t max, unsigned *npagesOut)
{
	if ((min & (min - 1)) != 0 || min == 0) {
		fprintf(stderr, "runtime: min = %lu\n", (unsigned long)min);
		mthrow("min must be a non-zero power of 2");
	} else if (min > maxPagesPerPhysPage) {
		fprintf(stderr, "runtime: min = %lu\n", (unsigned long)min);
		mthrow("min too large");
	}
	/* Candidates come in whole groups of min pages. */
	if (max == 0)
		max = min;
	else
		max = alignUp(max, min);

	/* A candidate page is free and unscavenged, in a whole aligned group of
	 * such pages: filled words have 0 bits only at candidates. */
	int i = (int)(searchIdx / 64);
	for (; i >= 0; i--) {
		uint64_t x = fillAligned(m->scavenged.b[i] | m->pallocBits.b[i], (unsigned)min);
		if (x != ~(uint64_t)0)
			break;
	}
	if (i < 0) {
		*npagesOut = 0;
		return 0;
	}
	/* The highest candidate run: it ends below the top ones of word i and
	 * may continue down into lower words. */
	uint64_t x = fillAligned(m->scavenged.b[i] | m->pallocBits.b[i], (unsigned)min);
	unsigned z1 = clz64(~x);
	unsigned run = 0, end = (unsigned)i * 64 + (64 - z1);
	if (z1 < 64 && (x << z1) != 0) {
		run = clz64(x << z1);
	} else {
		run = 64 - z1;
		for (int j = i - 1; j >= 0; j--) {
			uint64_t y = fillAligned(m->scavenged.b[j] | m->pallocBits.b[j], (unsigned)min);
			run += clz64(y);
			if (y != 0)
				break;
		}
	}

	/* Keep the top of the run: high addresses go first. */
	unsigned size = run;
	if (size > max)
		size = (unsigned)max;
	unsigned start = end - size;

	/*
	 * Do not break up a free, unscavenged huge page: if the candidate
	 * crosses a huge-page boundary and the whole huge page below that
	 * boundary is in the run, release from the huge page's start.
	 */
	if (physHugePageSize > pageSize && physHugePageSize > physPageSize) {
		uintptr_t pagesPerHugePage = physHugePageSize / pageSize;
		unsigned hugePageAbove = (unsigned)alignUp(start, pagesPerHugePage);
		if (hugePageAbove <= end) {
			unsigned hugePageBelow = (unsigned)alignDown(start, pagesPerHugePage);
			if (hugePageBelow >= end - run) {
				size = size + (start - hugePageBelow);
				start = hugePageBelow;
			}
		}
	}
	*npagesOut = size;
	return start;
}

/* ---- the scavenge index ---- */

/* Chunk 0 is never heap memory, so 0 means "none". */
chunkIdx scavengeIndex_find(scavengeIndex *s, unsigned *pageIdx)
{
	*pageIdx = 0;
	if (s->chunks == NULL || s->searchAddr.a == minOffAddr.a)
		return 0;
	chunkIdx searchChunk = chunkIndex(s->searchAddr.a);
	/* Scan bytes downward: no byte below minHeapIdx ever held heap chunks,
	 * and every byte in between is mapped. */
	int64_t start = (int64_t)(searchChunk / 8);
	for (int64_t i = start; i >= s->minHeapIdx; i--) {
		uint8_t chunks = s->chunks[i];
		if (chunks == 0)
			continue;
		/* the highest marked chunk in this byte */
		unsigned n = 31u - (unsigned)__builtin_clz((unsigned)chunks);
		chunkIdx ci = (chunkIdx)i * 8 + n;
		/* Still searchAddr's chunk: keep the hint, report its page. */
		if (searchChunk == ci) {
			*pageIdx = chunkPageIndex(s->searchAddr.a);
			return ci;
		}
		/* Nothing marked above ci: later searches start at its top. */
		s->searchAddr = (offAddr){chunkBase(ci) + pallocChunkBytes - pageSize};
		*pageIdx = pallocChunkPages - 1;
		return ci;
	}
	/* Nothing marked: the index is empty until the next mark. */
	s->searchAddr = minOffAddr;
	return 0;
}

/* Marks every chunk touching [base, limit) and raises searchAddr to cover
 * them. */
void scavengeIndex_mark(scavengeIndex *s, uintptr_t base, uintptr_t limit)
{
	chunkIdx start = chunkIndex(base), end = chunkIndex(limit - pageSize);
	if (start == end) {
		s->chunks[start / 8] |= (uint8_t)(1u << (start % 8));
	} else if (start / 8 == end / 8) {
		s->chunks[start / 8] |= (uint8_t)(((1u << (end - start + 1)) - 1) << (start % 8));
	} else {
		/* partial first byte, whole middle bytes, partial last byte */
		chunkIdx startAligned = alignUp(start, 8);
		chunkIdx endAligned = alignDown(end, 8);
		chunkIdx width = startAligned - start;
		if (width > 0)
			s->chunks[start / 8] |= (uint8_t)(((1u << width) - 1) << (start % 8));
		for (chunkIdx ci = startAligned; ci < endAligned; ci += 8)
			s->chunks[ci / 8] = 0xff;
		width = end - endAligned + 1;
		s->chunks[end / 8] |= (uint8_t)((1u << width) - 1);
	}
	offAddr newSearchAddr = {limit - pageSize};
	if (offAddr_lessThan(s->searchAddr, newSearchAddr))
		s->searchAddr = newSearchAddr;
}

/* Called when a chunk yields no candidate; a later free marks it again. */
void scavengeIndex_clear(scavengeIndex *s, chunkIdx ci)
{
	s->chunks[ci / 8] &= (uint8_t)~(1u << (ci % 8));
}
