/*
 * mgclimit.h — the GC CPU limiter (mirrors Go 1.19's mgclimit.go).
 *
 * A leaky bucket of capacity nprocs × 1 s of CPU time. GC time fills it,
 * mutator time drains it, so over any window of about twice the capacity the
 * GC cannot take much more than half the CPU. When the bucket is full the
 * limiter is "limiting" and memory-limit-driven work may be skipped.
 *
 * With a stop-the-world collector GC time is the pause: a cycle is one
 * transition that starts when the world stops and finishes when it restarts,
 * so finishGCTransition charges nprocs × pause; mutator time is everything
 * between pauses. Assist and idle pools are kept so Go's tests port as is.
 * Times are nanoseconds from any monotonic clock; the struct never reads one.
 */
#ifndef GALE_GC_MGCLIMIT_H
#define GALE_GC_MGCLIMIT_H

#include <stdbool.h>
#include <stdint.h>

#define capacityPerProc ((int64_t)1000000000)      /* 1 s of CPU per proc */
#define gcCPULimiterUpdatePeriod ((int64_t)10000000) /* 10 ms */

typedef struct gcCPULimiterState {
	bool enabled; /* limiting(): the bucket is full */
	struct {
		uint64_t fill, capacity;
	} bucket;
	uint64_t overflow;      /* GC CPU time that did not fit: the cap was hit */
	bool gcEnabled;         /* a cycle is running (between transitions) */
	bool transitioning;     /* between start and finishGCTransition */
	int64_t assistTimePool; /* GC time outside the background share */
	int64_t idleTimePool;   /* time nobody wanted, removed from the window */
	int64_t lastUpdate;
	uint32_t lastEnabledCycle; /* numgc + 1 when limiting last began */
	int32_t nprocs;
} gcCPULimiterState;

/* Empties the bucket and sizes it for nprocs (Go: test limiter + resetCapacity). */
void gcCPULimiter_init(gcCPULimiterState *l, int64_t now, int32_t nprocs);
static inline bool gcCPULimiter_limiting(const gcCPULimiterState *l) { return l->enabled; }
/* Go's GC on/off transition; numgc feeds lastEnabledCycle. */
void gcCPULimiter_startGCTransition(gcCPULimiterState *l, bool enableGC, int64_t now, uint32_t numgc);
void gcCPULimiter_finishGCTransition(gcCPULimiterState *l, int64_t now, uint32_t numgc);
bool gcCPULimiter_needUpdate(const gcCPULimiterState *l, int64_t now);
void gcCPULimiter_addAssistTime(gcCPULimiterState *l, int64_t t);
void gcCPULimiter_addIdleTime(gcCPULimiterState *l, int64_t t);
/* Folds the time since the last update into the bucket. */
void gcCPULimiter_update(gcCPULimiterState *l, int64_t now, uint32_t numgc);
/* Adds mutatorTime and gcTime (CPU-ns) to the bucket. */
void gcCPULimiter_accumulate(gcCPULimiterState *l, int64_t mutatorTime, int64_t gcTime, uint32_t numgc);
void gcCPULimiter_resetCapacity(gcCPULimiterState *l, int64_t now, int32_t nprocs, uint32_t numgc);

#endif
