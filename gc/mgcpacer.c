/*
 * mgcpacer.c — heap goal and trigger (Go 1.19's mgcpacer.go, STW subset).
 *
 * Equations (digest §7.2–§7.4):
 *   gcPercentHeapGoal = max(heapMarked + (heapMarked + stacks + globals) * GOGC/100,
 *                           heapMinimum)
 *   memoryLimitHeapGoal = max(limit - (nonHeap + overage) - 1 MiB, heapMarked)
 *   heapGoal = min of the two
 *   trigger in [heapMarked + 45/64 * runway, heapMarked + 61/64 * runway] where
 *   runway = goal - heapMarked, and at least goal - 4 MiB.
 */
#include "gc/mgcpacer.h"

#include "mem/mem.h"

/* a*b/100 without overflow, saturating at UINT64_MAX. */
static uint64_t mulPercent(uint64_t a, uint64_t percent)
{
	unsigned __int128 r = (unsigned __int128)a * percent / 100;
	return r > UINT64_MAX ? UINT64_MAX : (uint64_t)r;
}

void gcControllerState_init(gcControllerState *c, int64_t gcPercent, int64_t memoryLimit)
{
	c->heapMinimum = defaultHeapMinimum;
	c->triggered = ~(uint64_t)0; /* not inside a cycle */
	c->consMark = 0;             /* no concurrent mark: the runway stays 0 */
	gcControllerState_setGCPercent(c, gcPercent);
	gcControllerState_setMemoryLimit(c, memoryLimit);
	/* There is nothing to sweep before the first cycle. */
	gcControllerState_commit(c, true);
}

void gcControllerState_commit(gcControllerState *c, bool isSweepDone)
{
	/* With sweeping outstanding, leave the sweeper 1 MiB of allocation. */
	c->sweepDistMinTrigger = isSweepDone ? 0 : c->heapLive + sweepMinHeapDistance;

	/* GOGC goal: stacks and globals are scanned too, so they count. */
	uint64_t goal = ~(uint64_t)0;
	if (c->gcPercent >= 0) {
		uint64_t scan = c->heapMarked + c->lastStackScan + c->globalsScan;
		uint64_t extra = mulPercent(scan, (uint64_t)c->gcPercent);
		goal = c->heapMarked + extra < c->heapMarked ? ~(uint64_t)0 : c->heapMarked + extra;
	}
	if (goal < c->heapMinimum)
		goal = c->heapMinimum;
	c->gcPercentHeapGoal = goal;

	/* Runway: allocation expected during a concurrent mark; 0 when consMark is. */
	double work = (double)(c->lastHeapScan + c->lastStackScan + c->globalsScan);
	double runway = c->consMark * (1 - gcGoalUtilization) / gcGoalUtilization * work;
	c->runway = runway <= 0 ? 0 : runway >= 1.8e19 ? ~(uint64_t)0 : (uint64_t)runway;
}

uint64_t gcControllerState_memoryLimitHeapGoal(const gcControllerState *c)
{
	uint64_t heapFree = sysMemStat_load(&c->heapFree);   /* free, unscavenged */
	uint64_t heapAlloc = c->totalAlloc - c->totalFree;   /* object bytes in use */
	uint64_t mappedReady = c->mappedReady;               /* all Ready memory */
	uint64_t memoryLimit = (uint64_t)c->memoryLimit;

	/* Everything Ready that is neither an object nor reusable free heap is
	 * overhead. Single-threaded, the three are consistent; guard anyway. */
	uint64_t nonHeapMemory = 0;
	if (heapFree + heapAlloc <= mappedReady)
		nonHeapMemory = mappedReady - heapFree - heapAlloc;

	/* Being over the limit pushes the goal down by the excess. */
	uint64_t overage = mappedReady > memoryLimit ? mappedReady - memoryLimit : 0;
	if (nonHeapMemory + overage >= memoryLimit)
		return c->heapMarked;

	uint64_t goal = memoryLimit - (nonHeapMemory + overage);
	if (goal < memoryLimitHeapGoalHeadroom ||
	    goal - memoryLimitHeapGoalHeadroom < memoryLimitHeapGoalHeadroom)
		goal = memoryLimitHeapGoalHeadroom;
	else
		goal -= memoryLimitHeapGoalHeadroom;
	/* Never ask for less than what is already live. */
	return goal < c->heapMarked ? c->heapMarked : goal;
}

uint64_t gcControllerState_heapGoalInternal(const gcControllerState *c, uint64_t *minTrigger)
{
	uint64_t goal = c->gcPercentHeapGoal;
	uint64_t minT = 0;
	uint64_t limitGoal = gcControllerState_memoryLimitHeapGoal(c);
	if (limitGoal < goal) {
		/* The limit wins: no sweep distance or runway adjustments. */
		goal = limitGoal;
	} else {
		/* Leave the sweeper its distance; it also bounds the trigger. */
		if (c->sweepDistMinTrigger > goal)
			goal = c->sweepDistMinTrigger;
		minT = c->sweepDistMinTrigger;
		/* Inside a cycle, keep at least 64 KiB past the trigger point. */
		const uint64_t minRunway = 64 << 10;
		if (c->triggered != ~(uint64_t)0 && goal < c->triggered + minRunway)
			goal = c->triggered + minRunway;
	}
	if (minTrigger)
		*minTrigger = minT;
	return goal;
}

uint64_t gcControllerState_heapGoal(const gcControllerState *c)
{
	return gcControllerState_heapGoalInternal(c, NULL);
}

uint64_t gcControllerState_trigger(const gcControllerState *c, uint64_t *goalOut)
{
	uint64_t minTrigger;
	uint64_t goal = gcControllerState_heapGoalInternal(c, &minTrigger);
	if (goalOut)
		*goalOut = goal;

	/* Already past the goal: collect as soon as possible. */
	if (c->heapMarked >= goal)
		return goal;

	/* Lower bound: at least 45/64 of the way from the live heap to the goal. */
	if (minTrigger < c->heapMarked)
		minTrigger = c->heapMarked;
	uint64_t span = goal - c->heapMarked;
	uint64_t lower = span / triggerRatioDen * minTriggerRatioNum + c->heapMarked;
	if (minTrigger < lower)
		minTrigger = lower;

	/* Upper bound: 61/64 of the way, or 4 MiB short of the goal if that is later. */
	uint64_t maxTrigger = span / triggerRatioDen * maxTriggerRatioNum + c->heapMarked;
	if (goal > defaultHeapMinimum && goal - defaultHeapMinimum > maxTrigger)
		maxTrigger = goal - defaultHeapMinimum;
	if (maxTrigger < minTrigger)
		maxTrigger = minTrigger;

	/* Start runway bytes before the goal, within the bounds. */
	uint64_t trigger = c->runway > goal ? minTrigger : goal - c->runway;
	if (trigger < minTrigger)
		trigger = minTrigger;
	if (trigger > maxTrigger)
		trigger = maxTrigger;
	if (trigger > goal)
		mthrow("produced a trigger greater than the heap goal");
	return trigger;
}

int64_t gcControllerState_setGCPercent(gcControllerState *c, int64_t in)
{
	int64_t out = c->gcPercent;
	/* Any negative value means off; Go's GOGC is an int32. */
	if (in < 0)
		in = -1;
	if (in > INT32_MAX)
		in = INT32_MAX;
	/* The minimum goal scales with GOGC; irrelevant when off. */
	c->heapMinimum = in < 0 ? 0 : mulPercent(defaultHeapMinimum, (uint64_t)in);
	c->gcPercent = in;
	return out;
}

int64_t gcControllerState_setMemoryLimit(gcControllerState *c, int64_t in)
{
	int64_t out = c->memoryLimit;
	/* A negative input only reads the current limit. */
	if (in >= 0)
		c->memoryLimit = in;
	return out;
}

void gcControllerState_startCycle(gcControllerState *c)
{
	/* The STW collector starts exactly where heapLive crossed the trigger. */
	c->triggered = c->heapLive;
}

void gcControllerState_endCycle(gcControllerState *c)
{
	/* The goal this cycle was paced against, for gctrace and the scavenger. */
	c->lastHeapGoal = gcControllerState_heapGoal(c);
}

void gcControllerState_resetLive(gcControllerState *c, uint64_t bytesMarked,
				 uint64_t heapScanWork, uint64_t stackScanWork)
{
	c->heapMarked = bytesMarked;
	c->heapLive = bytesMarked;
	/* What was scanned this cycle predicts the next cycle's work. */
	c->heapScan = heapScanWork;
	c->lastHeapScan = heapScanWork;
	c->lastStackScan = stackScanWork;
	c->triggered = ~(uint64_t)0;
}
