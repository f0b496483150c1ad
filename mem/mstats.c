/*
 * mstats.c — readMemStats with Go's consistency checks, and the metrics
 * table (Go's mstats.go and metrics.go).
 *
 * The invariant behind everything: every mapped byte entered a stat through
 * sysAlloc (stat and Ready together) or sysMap (stat only, Prepared), and
 * heap bytes move between Ready and Prepared only together with
 * heapReleased. Hence mappedReady == Sys - HeapReleased, checked on every
 * read.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "mem/mcache.h"
#include "mem/mstats.h"
#include "mem/runtime.h"

void flushallmcaches(runtime *rt)
{
	if (rt->mcache0 != NULL)
		mcache_releaseAll(rt, rt->mcache0);
}

uint64_t memstats_heapGoal(runtime *rt)
{
	if (rt->gcHook.heapGoal != NULL)
		return rt->gcHook.heapGoal(rt);
	return rt->gcController.gcPercentHeapGoal;
}

/* Totals derived from the consistent stats (digest §2.5 step 3). */
typedef struct heapTotals {
	uint64_t totalAlloc, totalFree, nMalloc, nFree;
	uint64_t totalMapped;
} heapTotals;

static heapTotals computeTotals(runtime *rt)
{
	const heapStatsDelta *c = &rt->memstats.heapStats;
	heapTotals t = {0};
	/* Small objects are counted per class; bytes follow from the class
	 * size (the slot, not the requested size, as in Go). */
	t.totalAlloc = c->largeAlloc;
	t.nMalloc = c->largeAllocCount;
	t.totalFree = c->largeFree;
	t.nFree = c->largeFreeCount;
	for (int i = 0; i < NUM_SIZE_CLASSES; i++) {
		t.totalAlloc += c->smallAllocCount[i] * class_to_size[i];
		t.nMalloc += c->smallAllocCount[i];
		t.totalFree += c->smallFreeCount[i] * class_to_size[i];
		t.nFree += c->smallFreeCount[i];
	}
	/* Tiny allocations count as both allocated and freed (none in Gale). */
	t.nMalloc += c->tinyAllocCount;
	t.nFree += c->tinyAllocCount;

	/* Everything ever mapped with a stat and not unmapped: the heap's
	 * three parts, the off-heap stats, and the manual spans carved from
	 * heap pages (not in heapInUse/heapFree/heapReleased). */
	const gcControllerState *g = &rt->gcController;
	const mstats *m = &rt->memstats;
	t.totalMapped = sysMemStat_load(&g->heapInUse) + sysMemStat_load(&g->heapFree) +
	                sysMemStat_load(&g->heapReleased) + sysMemStat_load(&m->stacks_sys) +
	                sysMemStat_load(&m->mspan_sys) + sysMemStat_load(&m->mcache_sys) +
	                sysMemStat_load(&m->buckhash_sys) + sysMemStat_load(&m->gcMiscSys) +
	                sysMemStat_load(&m->other_sys) + (uint64_t)c->inStacks +
	                (uint64_t)c->inWorkBufs + (uint64_t)c->inPtrScalarBits;
	return t;
}

/* Go's six checks from readmemstats_m; each throws with Go's message. */
static void checkTotals(runtime *rt, const heapTotals *t)
{
	const gcControllerState *g = &rt->gcController;
	const heapStatsDelta *c = &rt->memstats.heapStats;
	uint64_t heapInUse = sysMemStat_load(&g->heapInUse);
	uint64_t heapFree = sysMemStat_load(&g->heapFree);
	uint64_t heapReleased = sysMemStat_load(&g->heapReleased);

	/* 1. Both measures of in-use heap spans agree. */
	if ((int64_t)heapInUse != c->inHeap) {
		fprintf(stderr, "runtime: heapInUse=%" PRIu64 "\n", heapInUse);
		fprintf(stderr, "runtime: consistent value=%" PRId64 "\n", c->inHeap);
		mthrow("heapInUse and consistent stats are not equal");
	}
	/* 2. Both measures of released heap memory agree. */
	if ((int64_t)heapReleased != c->released) {
		fprintf(stderr, "runtime: heapReleased=%" PRIu64 "\n", heapReleased);
		fprintf(stderr, "runtime: consistent value=%" PRId64 "\n", c->released);
		mthrow("heapReleased and consistent stats are not equal");
	}
	/* 3. Retained heap (Ready heap pages outside manual spans). */
	int64_t heapRetained = (int64_t)(heapInUse + heapFree);
	int64_t consRetained = c->committed - c->inStacks - c->inWorkBufs - c->inPtrScalarBits;
	if (heapRetained != consRetained) {
		fprintf(stderr, "runtime: global value=%" PRId64 "\n", heapRetained);
		fprintf(stderr, "runtime: consistent value=%" PRId64 "\n", consRetained);
		mthrow("measures of the retained heap are not equal");
	}
	/* 4, 5. The fast byte counters match the per-class counts. */
	if (g->totalAlloc != t->totalAlloc) {
		fprintf(stderr, "runtime: totalAlloc=%" PRIu64 "\n", g->totalAlloc);
		fprintf(stderr, "runtime: consistent value=%" PRIu64 "\n", t->totalAlloc);
		mthrow("totalAlloc and consistent stats are not equal");
	}
	if (g->totalFree != t->totalFree) {
		fprintf(stderr, "runtime: totalFree=%" PRIu64 "\n", g->totalFree);
		fprintf(stderr, "runtime: consistent value=%" PRIu64 "\n", t->totalFree);
		mthrow("totalFree and consistent stats are not equal");
	}
	/* 6. The seed's invariant: Ready bytes are exactly the mapped bytes
	 * the heap has not released. */
	if (g->mappedReady != t->totalMapped - (uint64_t)c->released) {
		fprintf(stderr, "runtime: mappedReady=%" PRIu64 "\n", g->mappedReady);
		fprintf(stderr, "runtime: totalMapped=%" PRIu64 "\n", t->totalMapped);
		fprintf(stderr, "runtime: released=%" PRId64 "\n", c->released);
		fprintf(stderr, "runtime: totalMapped-released=%" PRIu64 "\n",
		        t->totalMapped - (uint64_t)c->released);
		mthrow("mappedReady and other memstats are not equal");
	}
}

void readmemstats_check(runtime *rt)
{
	flushallmcaches(rt);
	heapTotals t = computeTotals(rt);
	checkTotals(rt, &t);
}

void readMemStats(runtime *rt, MemStats *m)
{
	/* Cached spans hold uncounted allocations: flush first, as Go does
	 * with the world stopped. */
	flushallmcaches(rt);
	heapTotals t = computeTotals(rt);
	checkTotals(rt, &t);

	const gcControllerState *g = &rt->gcController;
	const mstats *ms = &rt->memstats;
	const heapStatsDelta *c = &ms->heapStats;
	uint64_t heapInUse = sysMemStat_load(&g->heapInUse);
	uint64_t heapFree = sysMemStat_load(&g->heapFree);
	uint64_t heapReleased = sysMemStat_load(&g->heapReleased);

	/* Field by field as Go's readmemstats_m. */
	memset(m, 0, sizeof *m);
	m->Alloc = t.totalAlloc - t.totalFree;
	m->TotalAlloc = t.totalAlloc;
	m->Sys = t.totalMapped;
	m->Mallocs = t.nMalloc;
	m->Frees = t.nFree;
	m->HeapAlloc = t.totalAlloc - t.totalFree;
	m->HeapSys = heapInUse + heapFree + heapReleased;
	m->HeapIdle = heapFree + heapReleased;
	m->HeapInuse = heapInUse;
	m->HeapReleased = heapReleased;
	m->HeapObjects = t.nMalloc - t.nFree;
	m->StackInuse = (uint64_t)c->inStacks;
	/* Stacks on heap pages plus stacks straight from the OS (none yet). */
	m->StackSys = (uint64_t)c->inStacks + sysMemStat_load(&ms->stacks_sys);
	m->MSpanInuse = rt->mheap_.spanalloc.inuse;
	m->MSpanSys = sysMemStat_load(&ms->mspan_sys);
	m->MCacheInuse = rt->mheap_.cachealloc.inuse;
	m->MCacheSys = sysMemStat_load(&ms->mcache_sys);
	m->BuckHashSys = sysMemStat_load(&ms->buckhash_sys);
	/* GC metadata: off-heap structures plus work buffers on heap pages. */
	m->GCSys = sysMemStat_load(&ms->gcMiscSys) + (uint64_t)c->inWorkBufs +
	           (uint64_t)c->inPtrScalarBits;
	m->OtherSys = sysMemStat_load(&ms->other_sys);
	m->NextGC = memstats_heapGoal(rt);
	m->LastGC = ms->last_gc_unix;
	m->PauseTotalNs = ms->pause_total_ns;
	memcpy(m->PauseNs, ms->pause_ns, sizeof m->PauseNs);
	memcpy(m->PauseEnd, ms->pause_end, sizeof m->PauseEnd);
	m->NumGC = ms->numgc;
	m->NumForcedGC = ms->numforcedgc;
	m->GCCPUFraction = ms->gc_cpu_fraction;
	m->EnableGC = true;
	m->DebugGC = false;
	/* Go reports only the first 61 classes here (a historical size). */
	for (int i = 0; i < 61; i++) {
		m->BySize[i].Size = class_to_size[i];
		m->BySize[i].Mallocs = c->smallAllocCount[i];
		m->BySize[i].Frees = c->smallFreeCount[i];
	}
	m->MappedReady = g->mappedReady;
	m->MemoryLimit = g->memoryLimit;
	m->GCPercent = g->gcPercent;
}

/* ---- runtime/metrics ---- */

/* The memory classes partition /memory/classes/total (== MemStats.Sys);
 * names and formulas are Go's metrics.go. */
int readMetrics(runtime *rt, gcMetric *out, int max)
{
	flushallmcaches(rt);
	heapTotals t = computeTotals(rt);
	const gcControllerState *g = &rt->gcController;
	const mstats *ms = &rt->memstats;
	const heapStatsDelta *c = &ms->heapStats;
	uint64_t objects = t.totalAlloc - t.totalFree;
	uint64_t mspanInuse = rt->mheap_.spanalloc.inuse;
	uint64_t mcacheInuse = rt->mheap_.cachealloc.inuse;
	uint64_t tinyAllocs = c->tinyAllocCount;

	const gcMetric all[] = {
		{"/gc/cycles/automatic:gc-cycles", (uint64_t)(ms->numgc - ms->numforcedgc)},
		{"/gc/cycles/forced:gc-cycles", ms->numforcedgc},
		{"/gc/cycles/total:gc-cycles", ms->numgc},
		{"/gc/heap/allocs:bytes", t.totalAlloc},
		{"/gc/heap/allocs:objects", t.nMalloc - tinyAllocs},
		{"/gc/heap/frees:bytes", t.totalFree},
		{"/gc/heap/frees:objects", t.nFree - tinyAllocs},
		{"/gc/heap/goal:bytes", memstats_heapGoal(rt)},
		{"/gc/heap/objects:objects", t.nMalloc - t.nFree},
		{"/gc/heap/tiny/allocs:objects", tinyAllocs},
		{"/memory/classes/heap/free:bytes",
		 (uint64_t)(c->committed - c->inHeap - c->inStacks - c->inWorkBufs - c->inPtrScalarBits)},
		{"/memory/classes/heap/objects:bytes", objects},
		{"/memory/classes/heap/released:bytes", (uint64_t)c->released},
		{"/memory/classes/heap/stacks:bytes", (uint64_t)c->inStacks},
		{"/memory/classes/heap/unused:bytes", (uint64_t)c->inHeap - objects},
		{"/memory/classes/metadata/mcache/free:bytes", sysMemStat_load(&ms->mcache_sys) - mcacheInuse},
		{"/memory/classes/metadata/mcache/inuse:bytes", mcacheInuse},
		{"/memory/classes/metadata/mspan/free:bytes", sysMemStat_load(&ms->mspan_sys) - mspanInuse},
		{"/memory/classes/metadata/mspan/inuse:bytes", mspanInuse},
		{"/memory/classes/metadata/other:bytes",
		 (uint64_t)(c->inWorkBufs + c->inPtrScalarBits) + sysMemStat_load(&ms->gcMiscSys)},
		{"/memory/classes/os-stacks:bytes", sysMemStat_load(&ms->stacks_sys)},
		{"/memory/classes/other:bytes", sysMemStat_load(&ms->other_sys)},
		{"/memory/classes/profiling/buckets:bytes", sysMemStat_load(&ms->buckhash_sys)},
		{"/memory/classes/total:bytes",
		 (uint64_t)(c->committed + c->released) + sysMemStat_load(&ms->stacks_sys) +
		         sysMemStat_load(&ms->mspan_sys) + sysMemStat_load(&ms->mcache_sys) +
		         sysMemStat_load(&ms->buckhash_sys) + sysMemStat_load(&ms->gcMiscSys) +
		         sysMemStat_load(&ms->other_sys)},
		/* Gale: the Ready bytes the memory limit is measured against. */
		{"/memory/mapped-ready:bytes", g->mappedReady},
		{"/gc/gogc:percent", (uint64_t)g->gcPercent},
		{"/gc/gomemlimit:bytes", (uint64_t)g->memoryLimit},
	};
	/* The count is returned even when out has room for fewer. */
	int n = (int)(sizeof all / sizeof all[0]);
	for (int i = 0; i < n && i < max; i++)
		out[i] = all[i];
	return n;
}
