/*
 * runtime.h — one runtime per VM: what Go keeps in package globals
 * (mheap_, memstats, gcController, scavenger state) gathered in one struct so
 * several runtimes live in one process and each test can build its own.
 *
 * A runtime is single-threaded: no P's, no atomics, one mcache.
 */
#ifndef GALE_RUNTIME_H
#define GALE_RUNTIME_H

#include <stdint.h>

#include "mem/mem.h"

/* The heap-side statistics and pacer state (Go 1.19's gcControllerState).
 * mem/ maintains the statistics; gc/mgcpacer.c computes the goals. */
typedef struct gcControllerState {
	/* statistics */
	sysMemStat heapInUse;    /* bytes in mSpanInUse spans */
	sysMemStat heapFree;     /* heap bytes in no span, not released */
	sysMemStat heapReleased; /* heap bytes in no span, released (Prepared) */
	uint64_t totalAlloc;     /* cumulative heap object bytes allocated */
	uint64_t totalFree;      /* cumulative heap object bytes freed */
	uint64_t mappedReady;    /* bytes in the Ready state (three exceptions aside) */

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
	uint64_t lastHeapGoal;
	uint64_t gcPercentHeapGoal;
	uint64_t sweepDistMinTrigger;
	uint64_t runway;
	double consMark;
} gcControllerState;

/* Go's heapStatsDelta. With one thread there is no sharding: the "consistent"
 * stats are a single struct updated in place (Go's unsafeRead is exact). */
#define NUM_SIZE_CLASSES 68
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

struct runtime {
	gcControllerState gcController;
	mstats memstats;
	/* the heap, the scavenger and the collector's state follow */
};

#endif
