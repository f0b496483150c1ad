/*
 * runtime.h — one runtime per VM: what Go keeps in package globals
 * (mheap_, memstats, gcController, scavenger state) gathered in one struct so
 * several runtimes live in one process and each test can build its own.
 *
 * A runtime is single-threaded: no P's, no atomics, one mcache.
 * Create one with mallocinit and give it back with runtimeRelease
 * (mem/malloc.h); gc/'s runtimeCreate/runtimeDestroy wrap these.
 */
#ifndef GALE_RUNTIME_H
#define GALE_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

#include "mem/debuglog.h"
#include "mem/malloc.h"
#include "mem/mbitmap.h"
#include "mem/mcache.h"
#include "mem/mem.h"
#include "mem/mfixalloc.h"
#include "mem/mgcscavenge.h"
#include "mem/mheap.h"

/* The heap-side statistics and pacer state (Go 1.19's gcControllerState).
 * mem/ maintains the statistics; gc/mgcpacer.c computes the goals. */
typedef struct gcControllerState {
	/* statistics */
	/* The heap's pages are in exactly one of these three (manual spans
	 * aside, counted in heapStats.inStacks/inWorkBufs). The seed commit
	 * had memstats.heap_inuse, heap_released and an implicit free part of
	 * heap_sys; Go 1.19 made them these sysMemStats. */
	sysMemStat heapInUse;    /* bytes in mSpanInUse spans */
	sysMemStat heapFree;     /* heap bytes in no span, not released */
	sysMemStat heapReleased; /* heap bytes in no span, released (Prepared);
	                          * sysMap of new heap memory charges it */
	uint64_t totalAlloc;     /* cumulative heap object bytes allocated */
	uint64_t totalFree;      /* cumulative heap object bytes freed */
	/* Bytes in the Ready state, moved only by mem.c (the seed's
	 * memstats.mappedReady). Invariant: == Sys - heapReleased. */
	uint64_t mappedReady;

	/* pacer inputs and outputs */
	int64_t gcPercent;    /* GOGC; -1 = off */
	int64_t memoryLimit;  /* bytes; INT64_MAX = none */
	uint64_t heapMinimum; /* 4 MiB * gcPercent / 100 */
	uint64_t heapMarked;  /* live bytes after the last mark */
	uint64_t heapLive;    /* heapMarked + bytes allocated since */
	uint64_t heapScan;
	uint64_t lastHeapScan;
	uint64_t lastStackScan;
	uint64_t maxStackScan;
	uint64_t globalsScan;
	uint64_t triggered;   /* heapLive when the cycle started; ~0 outside one */
	uint64_t trigger;     /* heapLive at which mallocgc starts a cycle (set by
	                       * gc/'s pacer; 4 MiB*61/64 until it runs) */
	uint64_t lastHeapGoal;
	uint64_t gcPercentHeapGoal;
	uint64_t sweepDistMinTrigger;
	uint64_t runway;
	double consMark;
} gcControllerState;

/* Go's heapStatsDelta. With one thread there is no sharding: the "consistent"
 * stats are a single struct updated in place (Go's unsafeRead is exact). */
#define NUM_SIZE_CLASSES 68
_Static_assert(NUM_SIZE_CLASSES == _NumSizeClasses, "size class count");
typedef struct heapStatsDelta {
	int64_t committed;  /* heap bytes backing spans or free-unscavenged */
	int64_t released;   /* heap bytes released to the OS (== heapReleased) */
	int64_t inHeap;     /* bytes in mSpanInUse spans */
	int64_t inStacks;   /* bytes in stack spans (allocManual) */
	int64_t inWorkBufs; /* bytes in GC work-buffer spans (allocManual) */
	int64_t inPtrScalarBits;
	uint64_t tinyAllocCount;
	uint64_t largeAlloc, largeAllocCount;
	uint64_t smallAllocCount[NUM_SIZE_CLASSES];
	uint64_t largeFree, largeFreeCount;
	uint64_t smallFreeCount[NUM_SIZE_CLASSES];
} heapStatsDelta;

/* memstats: the off-heap stats and GC counters (Go's mstats). */
typedef struct mstats {
	heapStatsDelta heapStats;
	sysMemStat stacks_sys;
	sysMemStat mspan_sys;
	sysMemStat mcache_sys;
	sysMemStat buckhash_sys;
	sysMemStat gcMiscSys;
	sysMemStat other_sys;

	uint64_t last_gc_unix;
	uint64_t last_gc_nanotime;
	uint64_t pause_total_ns;
	uint64_t pause_ns[256];
	uint64_t pause_end[256];
	uint32_t numgc;
	uint32_t numforcedgc;
	double gc_cpu_fraction;
	uint64_t lastHeapInUse;
	int enablegc;
} mstats;

/* Go's debug (GODEBUG) variables, from a "name=value,..." string. */
typedef struct debugVars {
	int32_t gctrace;      /* 1: one line per collection */
	int32_t scavtrace;    /* 1: scavenger summary lines */
	int32_t gcpacertrace; /* 1: pacer inputs and goals each cycle */
	int32_t gcstress;     /* N: collect at every N-th mallocgc */
	int32_t dlog;         /* 1: keep the debug log and print it at release */
	int64_t failalloc;    /* N: the N-th mallocgc returns NULL (testing) */
} debugVars;

/* Unknown names and malformed values are ignored; NULL is allowed. */
void parsedebugvars(runtime *rt, const char *s);

/* Reasons mallocgc passes to gcHook.collect. */
#define GC_TRIGGER_HEAP 1   /* heapLive reached the trigger */
#define GC_TRIGGER_STRESS 2 /* gcstress */
#define GC_TRIGGER_OOM 3    /* the allocation would exceed maxHeap */

struct runtime {
	gcControllerState gcController;
	mstats memstats;
	mheap mheap_;
	mcache *mcache0; /* the one allocation cache (cachealloc, mcache_sys) */
	gcBitsArenas_t gcBitsArenas;
	persistentAlloc persistent;
	scavengerState scavenge;
	debugVars debug;
	dlogger *dlog; /* NULL until the first record with dlog set */

	/* How mem/ reaches the collector (set by gc/; each may be NULL).
	 * collect runs a full collection; heapGoal reports NextGC; limiting is
	 * Go's gcCPULimiter.limiting(): while true, allocSpan skips the
	 * memory-limit scavenge assist and stops its heap-growth scavenging
	 * early, as Go does. */
	struct {
		void (*collect)(runtime *rt, int why);
		uint64_t (*heapGoal)(runtime *rt);
		bool (*limiting)(runtime *rt);
	} gcHook;
	bool gcRunning;  /* set while a collection runs: no nested collection */
	/* Go's m.locks: while nonzero, mallocgc starts no collection (the
	 * trigger fires at the first allocation after). For allocations whose
	 * result is stored into an object that may not be rooted yet. */
	int32_t locks;
	int64_t maxHeap; /* hard cap on heapInUse + stacks; 0 = none */
	/* Per object kind: objects hold no references (gc/ fills it from the
	 * kind table); chooses the noscan span class. */
	uint8_t kindNoscan[64];
	uint64_t mallocCount; /* mallocgc calls, for gcstress and failalloc */
	void *gcstate;        /* the collector's private state */
};

#endif
