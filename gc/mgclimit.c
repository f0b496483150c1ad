/*
 * mgclimit.c — the GC CPU limiter bucket (Go 1.19's mgclimit.go).
 *
 * Invariant: 0 <= fill <= capacity, and enabled == (fill == capacity) after
 * every accumulate that changed the fill. One thread drives it, so Go's lock
 * becomes the "transitioning" assertion.
 */
#include "gc/mgclimit.h"

#include "gc/mgcpacer.h" /* gcBackgroundUtilization */
#include "mem/mem.h"

void gcCPULimiter_init(gcCPULimiterState *l, int64_t now, int32_t nprocs)
{
	*l = (gcCPULimiterState){0};
	l->lastUpdate = now;
	gcCPULimiter_resetCapacity(l, now, nprocs, 0);
}

void gcCPULimiter_accumulate(gcCPULimiterState *l, int64_t mutatorTime, int64_t gcTime, uint32_t numgc)
{
	uint64_t headroom = l->bucket.capacity - l->bucket.fill;
	bool enabled = headroom == 0;

	/* GC time fills, mutator time drains: only the difference matters. */
	int64_t change = gcTime - mutatorTime;

	/* Filled (or over-filled): clamp and remember what did not fit. */
	if (change > 0 && headroom <= (uint64_t)change) {
		l->overflow += (uint64_t)change - headroom;
		l->bucket.fill = l->bucket.capacity;
		if (!enabled) {
			l->enabled = true;
			l->lastEnabledCycle = numgc + 1;
		}
		return;
	}

	/* Otherwise move the fill, stopping at empty. */
	if (change < 0 && l->bucket.fill <= (uint64_t)-change)
		l->bucket.fill = 0;
	else
		l->bucket.fill -= (uint64_t)-change; /* unsigned wrap adds when change > 0 */
	/* Any movement off the full mark turns limiting off. */
	if (change != 0 && enabled)
		l->enabled = false;
}

/* Charges the window since lastUpdate: background share while GC is on plus
 * assists as GC time, minus idle time, the rest mutator time. */
static void updateLocked(gcCPULimiterState *l, int64_t now, uint32_t numgc)
{
	if (now < l->lastUpdate)
		return; /* a clock that went back: skip rather than go negative */
	/* CPU time available in the window: wall time on every proc. */
	int64_t windowTotalTime = (now - l->lastUpdate) * l->nprocs;
	l->lastUpdate = now;

	/* Drain the pools: their time is charged to this window only. */
	int64_t assistTime = l->assistTimePool;
	l->assistTimePool = 0;
	int64_t idleTime = l->idleTimePool;
	l->idleTimePool = 0;

	/* While a cycle runs, the background workers' 25 % share is GC time. */
	int64_t windowGCTime = assistTime;
	if (l->gcEnabled)
		windowGCTime += (int64_t)((double)windowTotalTime * gcBackgroundUtilization);
	/* Idle time is neither: nobody wanted the CPU. */
	windowTotalTime -= idleTime;
	gcCPULimiter_accumulate(l, windowTotalTime - windowGCTime, windowGCTime, numgc);
}

void gcCPULimiter_startGCTransition(gcCPULimiterState *l, bool enableGC, int64_t now, uint32_t numgc)
{
	if (l->transitioning)
		mthrow("failed to acquire lock to start a GC transition");
	if (l->gcEnabled == enableGC)
		mthrow("transitioning GC to the same state as before?");
	/* Close the window under the old state before switching. */
	updateLocked(l, now, numgc);
	l->gcEnabled = enableGC;
	l->transitioning = true;
}

void gcCPULimiter_finishGCTransition(gcCPULimiterState *l, int64_t now, uint32_t numgc)
{
	if (!l->transitioning)
		mthrow("finishGCTransition called without starting one?");
	/* The world was stopped: every proc spent the whole time on the GC. */
	if (now >= l->lastUpdate)
		gcCPULimiter_accumulate(l, 0, (now - l->lastUpdate) * l->nprocs, numgc);
	l->lastUpdate = now;
	l->transitioning = false;
}

bool gcCPULimiter_needUpdate(const gcCPULimiterState *l, int64_t now)
{
	return now - l->lastUpdate > gcCPULimiterUpdatePeriod;
}

void gcCPULimiter_addAssistTime(gcCPULimiterState *l, int64_t t)
{
	l->assistTimePool += t;
}

void gcCPULimiter_addIdleTime(gcCPULimiterState *l, int64_t t)
{
	l->idleTimePool += t;
}

void gcCPULimiter_update(gcCPULimiterState *l, int64_t now, uint32_t numgc)
{
	if (l->transitioning)
		mthrow("update during transition");
	updateLocked(l, now, numgc);
}

void gcCPULimiter_resetCapacity(gcCPULimiterState *l, int64_t now, int32_t nprocs, uint32_t numgc)
{
	if (l->transitioning)
		mthrow("failed to acquire lock to reset capacity");
	updateLocked(l, now, numgc);
	/* The window so far was measured with the old proc count. */
	l->nprocs = nprocs;
	l->bucket.capacity = (uint64_t)nprocs * (uint64_t)capacityPerProc;
	/* A smaller bucket may now be over-full: that is limiting, not overflow. */
	if (l->bucket.fill > l->bucket.capacity) {
		l->bucket.fill = l->bucket.capacity;
		l->enabled = true;
		l->lastEnabledCycle = numgc + 1;
	} else if (l->bucket.fill < l->bucket.capacity) {
		l->enabled = false;
	}
}
