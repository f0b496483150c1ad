/*
 * mstats.h — MemStats as Go's runtime.MemStats reports them (mstats.go),
 * plus Gale's additions (MappedReady, MemoryLimit, GCPercent).
 */
#ifndef GALE_MSTATS_H
#define GALE_MSTATS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct runtime runtime;

typedef struct MemStats {
	/* general */
	uint64_t Alloc;      /* bytes of live heap objects (== HeapAlloc) */
	uint64_t TotalAlloc; /* cumulative bytes allocated */
	uint64_t Sys;        /* total bytes mapped from the OS */
	uint64_t Lookups;    /* always 0 */
	uint64_t Mallocs;    /* cumulative objects allocated */
	uint64_t Frees;      /* cumulative objects freed */

	/* heap */
	uint64_t HeapAlloc;
	uint64_t HeapSys;      /* heapInUse + heapFree + heapReleased */
	uint64_t HeapIdle;     /* heapFree + heapReleased */
	uint64_t HeapInuse;    /* bytes in in-use spans */
	uint64_t HeapReleased; /* bytes returned to the OS */
	uint64_t HeapObjects;

	/* off-heap */
	uint64_t StackInuse; /* bytes in stack spans */
	uint64_t StackSys;
	uint64_t MSpanInuse;
	uint64_t MSpanSys;
	uint64_t MCacheInuse;
	uint64_t MCacheSys;
	uint64_t BuckHashSys;
	uint64_t GCSys;
	uint64_t OtherSys;

	/* collector */
	uint64_t NextGC; /* heap goal */
	uint64_t LastGC; /* end of the last collection, ns since the Unix epoch */
	uint64_t PauseTotalNs;
	uint64_t PauseNs[256];
	uint64_t PauseEnd[256];
	uint32_t NumGC;
	uint32_t NumForcedGC;
	double GCCPUFraction;
	bool EnableGC;
	bool DebugGC;

	/* size classes 0..60, like Go's array */
	struct {
		uint32_t Size;
		uint64_t Mallocs;
		uint64_t Frees;
	} BySize[61];

	/* Gale additions */
	uint64_t MappedReady; /* bytes in the Ready state */
	int64_t MemoryLimit;  /* INT64_MAX = none */
	int64_t GCPercent;    /* -1 = off */
} MemStats;

/* Empty the mcache into the mcentrals so the counters are complete (Go's
 * flushallmcaches; readMemStats does it itself). */
void flushallmcaches(runtime *rt);

/* The consistency checks of readMemStats alone; aborts with Go's figures on
 * a mismatch. Cheap enough to call after every step of a test. */
void readmemstats_check(runtime *rt);

/* Heap goal as MemStats.NextGC reports it. */
uint64_t memstats_heapGoal(runtime *rt);


void readMemStats(runtime *rt, MemStats *m);

/* runtime/metrics: fills up to max samples; returns how many exist. */
typedef struct gcMetric {
	const char *name;
	uint64_t value;
} gcMetric;
int readMetrics(runtime *rt, gcMetric *out, int max);

#endif
