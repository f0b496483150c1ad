/*
 * mgcpacer.h — the GC pacer (mirrors Go 1.19's mgcpacer.go).
 *
 * Pure functions over a gcControllerState: they read the heap statistics that
 * mem/ maintains (heapFree, totalAlloc, totalFree, mappedReady) and the pacer
 * inputs, and compute the heap goal and the trigger. Nothing here touches the
 * heap, so tests drive a zeroed controller directly (Go's NewGCController).
 *
 * The collector is stop-the-world, so there are no assists and no background
 * workers: consMark stays 0, hence runway is 0 and the trigger is clamped to
 * its maximum, max(heapMarked + (goal-heapMarked)*61/64, goal - 4 MiB).
 */
#ifndef GALE_GC_MGCPACER_H
#define GALE_GC_MGCPACER_H

#include <stdbool.h>
#include <stdint.h>

#include "mem/runtime.h"

#define defaultHeapMinimum ((uint64_t)4 << 20)          /* GOGC=100 minimum goal */
#define memoryLimitHeapGoalHeadroom ((uint64_t)1 << 20) /* kept below the limit */
#define sweepMinHeapDistance ((uint64_t)1 << 20)
#define triggerRatioDen 64
#define minTriggerRatioNum 45 /* ~0.70 of the way from heapMarked to the goal */
#define maxTriggerRatioNum 61 /* ~0.95 */
#define gcGoalUtilization 0.25
#define gcBackgroundUtilization 0.25

/* Resets the pacer with the given GOGC and limit and commits (Go's init). */
void gcControllerState_init(gcControllerState *c, int64_t gcPercent, int64_t memoryLimit);
/* Recomputes gcPercentHeapGoal, sweepDistMinTrigger and runway. */
void gcControllerState_commit(gcControllerState *c, bool isSweepDone);
/* The heap goal the memory limit implies (digest §7.3). */
uint64_t gcControllerState_memoryLimitHeapGoal(const gcControllerState *c);
/* The effective goal and the lower bound on the trigger it implies. */
uint64_t gcControllerState_heapGoalInternal(const gcControllerState *c, uint64_t *minTrigger);
/* NextGC: the smaller of the GOGC and the memory-limit goal. */
uint64_t gcControllerState_heapGoal(const gcControllerState *c);
/* heapLive value at which the next cycle starts; *goal (if non-NULL) gets the goal. */
uint64_t gcControllerState_trigger(const gcControllerState *c, uint64_t *goal);
/* Both return the previous value; neither commits (gcControllerCommit does). */
int64_t gcControllerState_setGCPercent(gcControllerState *c, int64_t in);
int64_t gcControllerState_setMemoryLimit(gcControllerState *c, int64_t in);
/* At the start of a cycle: remember heapLive as the trigger point. */
void gcControllerState_startCycle(gcControllerState *c);
/* At mark termination, before resetLive: the goal this cycle ran against. */
void gcControllerState_endCycle(gcControllerState *c);
/* After marking: heapMarked = heapLive = bytesMarked, the scan work becomes
 * the next cycle's estimate, and the controller leaves the cycle. */
void gcControllerState_resetLive(gcControllerState *c, uint64_t bytesMarked,
				 uint64_t heapScanWork, uint64_t stackScanWork);

#endif
