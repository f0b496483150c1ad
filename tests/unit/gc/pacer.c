/*
 * The pacer as pure functions: Go's TestGcPacer memory-limit cases replayed
 * against a stop-the-world collector (no assists, runway 0), plus the goal
 * and trigger formulas of digest §7.2–§7.4 on hand-built controllers.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "gc/mgcpacer.h"

#define MiB ((uint64_t)1 << 20)
#define KiB ((uint64_t)1 << 10)

/* Go's NewGCController: every heap statistic zero, so the memory-limit goal
 * is limit - 1 MiB until the live heap passes it. */
static void newController(gcControllerState *c, int64_t percent, int64_t limit)
{
	memset(c, 0, sizeof *c);
	gcControllerState_init(c, percent, limit);
}

Test(pacer, defaults_and_first_trigger)
{
	gcControllerState c;
	newController(&c, 100, INT64_MAX);
	cr_assert_eq(c.heapMinimum, 4 * MiB);
	cr_assert_eq(gcControllerState_heapGoal(&c), 4 * MiB);
	/* Empty heap, runway 0: 61/64 of 4 MiB (digest §7.4). */
	cr_assert_eq(gcControllerState_trigger(&c, NULL), 4 * MiB / 64 * 61);
	cr_assert_eq(c.runway, 0);
}

Test(pacer, gogc_goal_counts_stacks_and_globals)
{
	gcControllerState c;
	newController(&c, 100, INT64_MAX);
	gcControllerState_resetLive(&c, 10 * MiB, 10 * MiB, 2 * MiB);
	c.globalsScan = 1 * MiB;
	gcControllerState_commit(&c, true);
	cr_assert_eq(gcControllerState_heapGoal(&c), 10 * MiB + 13 * MiB);
	/* GOGC=50: half as much growth, and the minimum scales too. */
	cr_assert_eq(gcControllerState_setGCPercent(&c, 50), 100);
	gcControllerState_commit(&c, true);
	cr_assert_eq(c.heapMinimum, 2 * MiB);
	cr_assert_eq(gcControllerState_heapGoal(&c), 10 * MiB + 13 * MiB / 2);
}

Test(pacer, gogc_minimum_applies_to_small_heaps)
{
	gcControllerState c;
	newController(&c, 200, INT64_MAX);
	gcControllerState_resetLive(&c, 1 * MiB, 0, 0);
	gcControllerState_commit(&c, true);
	cr_assert_eq(gcControllerState_heapGoal(&c), 8 * MiB);
}

Test(pacer, gogc_off_leaves_only_the_limit)
{
	gcControllerState c;
	newController(&c, -1, INT64_MAX);
	cr_assert_eq(c.gcPercent, -1);
	cr_assert_eq(c.gcPercentHeapGoal, ~(uint64_t)0);
	cr_assert_eq(gcControllerState_setGCPercent(&c, -7), -1);
	cr_assert_eq(c.gcPercent, -1);
	cr_assert_eq(gcControllerState_setMemoryLimit(&c, 64 * MiB), INT64_MAX);
	gcControllerState_commit(&c, true);
	cr_assert_eq(gcControllerState_heapGoal(&c), 63 * MiB);
	/* A negative limit only reads. */
	cr_assert_eq(gcControllerState_setMemoryLimit(&c, -1), (int64_t)(64 * MiB));
	cr_assert_eq(c.memoryLimit, (int64_t)(64 * MiB));
}

Test(pacer, huge_gogc_saturates)
{
	gcControllerState c;
	newController(&c, INT64_MAX, INT64_MAX);
	cr_assert_eq(c.gcPercent, INT32_MAX);
	gcControllerState_resetLive(&c, (uint64_t)1 << 40, 0, 0);
	gcControllerState_commit(&c, true);
	cr_assert_geq(gcControllerState_heapGoal(&c), (uint64_t)1 << 40);
}

Test(pacer, memory_limit_goal_subtracts_overhead_and_overage)
{
	gcControllerState c;
	newController(&c, -1, 80 * MiB);
	/* 100 MiB Ready: 60 MiB objects, 10 MiB free heap, so 30 MiB overhead;
	 * 20 MiB over the limit. Goal = 80 - (30 + 20) - 1. */
	c.mappedReady = 100 * MiB;
	c.heapFree.bytes = 10 * MiB;
	c.totalAlloc = 90 * MiB;
	c.totalFree = 30 * MiB;
	cr_assert_eq(gcControllerState_memoryLimitHeapGoal(&c), 29 * MiB);
	/* Never below the live heap. */
	c.heapMarked = 40 * MiB;
	cr_assert_eq(gcControllerState_memoryLimitHeapGoal(&c), 40 * MiB);
	/* Overhead alone reaches the limit: the goal is the live heap. */
	c.heapMarked = 5 * MiB;
	c.memoryLimit = 40 * MiB;
	cr_assert_eq(gcControllerState_memoryLimitHeapGoal(&c), 5 * MiB);
}

Test(pacer, memory_limit_goal_headroom_floor)
{
	gcControllerState c;
	newController(&c, -1, 0);
	c.memoryLimit = (int64_t)(MiB + MiB / 2); /* room of 1.5 MiB: below 2 × headroom */
	cr_assert_eq(gcControllerState_memoryLimitHeapGoal(&c), memoryLimitHeapGoalHeadroom);
	c.memoryLimit = (int64_t)(3 * MiB);
	cr_assert_eq(gcControllerState_memoryLimitHeapGoal(&c), 2 * MiB);
}

Test(pacer, effective_goal_is_the_smaller)
{
	gcControllerState c;
	newController(&c, 100, 100 * MiB);
	gcControllerState_resetLive(&c, 30 * MiB, 0, 0);
	gcControllerState_commit(&c, true);
	cr_assert_eq(gcControllerState_heapGoal(&c), 60 * MiB);
	gcControllerState_resetLive(&c, 60 * MiB, 0, 0);
	gcControllerState_commit(&c, true);
	cr_assert_eq(gcControllerState_heapGoal(&c), 99 * MiB);
}

Test(pacer, trigger_bounds)
{
	gcControllerState c;
	newController(&c, 100, INT64_MAX);
	/* Large goal: 4 MiB short of it beats 61/64. */
	gcControllerState_resetLive(&c, 100 * MiB, 0, 0);
	gcControllerState_commit(&c, true);
	uint64_t goal;
	cr_assert_eq(gcControllerState_trigger(&c, &goal), 196 * MiB);
	cr_assert_eq(goal, 200 * MiB);
	/* A runway pushes the trigger down, but not below 45/64. */
	c.runway = 90 * MiB;
	cr_assert_eq(gcControllerState_trigger(&c, NULL), 100 * MiB + 100 * MiB / 64 * 45);
	c.runway = 20 * MiB;
	cr_assert_eq(gcControllerState_trigger(&c, NULL), 180 * MiB);
	c.runway = 0;
	/* Past the goal: trigger == goal. */
	c.memoryLimit = (int64_t)(50 * MiB);
	cr_assert_eq(gcControllerState_trigger(&c, &goal), 100 * MiB);
	cr_assert_eq(goal, 100 * MiB);
}

Test(pacer, sweep_distance_and_min_runway)
{
	gcControllerState c;
	newController(&c, 100, INT64_MAX);
	gcControllerState_resetLive(&c, 4 * MiB, 0, 0);
	c.heapLive = 20 * MiB;
	/* Unswept spans: the goal leaves the sweeper 1 MiB past heapLive. */
	gcControllerState_commit(&c, false);
	cr_assert_eq(gcControllerState_heapGoal(&c), 21 * MiB);
	gcControllerState_commit(&c, true);
	cr_assert_eq(gcControllerState_heapGoal(&c), 8 * MiB);
	/* Inside a cycle the goal stays 64 KiB past the trigger point. */
	gcControllerState_startCycle(&c);
	cr_assert_eq(gcControllerState_heapGoal(&c), 20 * MiB + 64 * KiB);
	gcControllerState_endCycle(&c);
	cr_assert_eq(c.lastHeapGoal, 20 * MiB + 64 * KiB);
	gcControllerState_resetLive(&c, 4 * MiB, 0, 0);
	cr_assert_eq(c.triggered, ~(uint64_t)0);
}

/* ---- TestGcPacer's memory-limit cases, replayed ---- */

typedef struct cycleResult {
	uint64_t heapLive, heapPeak, heapGoal, heapTrigger;
} cycleResult;

/* growth(i) = base + ramp(height, 12): Go's constant(base).sum(ramp(height, 12)). */
static double growth(double base, double height, int cycle)
{
	int k = cycle < 12 ? cycle : 12;
	return base + height * k / 12;
}

/* Runs 50 STW cycles: the heap grows from heapMarked to the trigger, the
 * whole heap is marked in the pause, live bytes follow the growth stream. */
static void replay(int64_t percent, double base, double height, cycleResult *out, int n)
{
	const uint64_t initialHeapBytes = 256 * KiB, stackBytes = 8192, globalsBytes = 32 * KiB;
	gcControllerState c;
	newController(&c, percent, 512 * MiB);
	for (int i = 0; i < n; i++) {
		double g = growth(base, height, i);
		uint64_t trigger = gcControllerState_trigger(&c, NULL);
		if (c.heapMarked > trigger)
			trigger = c.heapMarked;
		c.maxStackScan = stackBytes;
		c.globalsScan = globalsBytes;
		c.heapLive = trigger;
		gcControllerState_startCycle(&c);
		out[i] = (cycleResult){
			.heapLive = c.heapMarked,
			.heapPeak = c.heapLive,
			.heapGoal = gcControllerState_heapGoal(&c),
			.heapTrigger = c.triggered,
		};
		uint64_t next = i == 0 ? initialHeapBytes : (uint64_t)((double)c.heapMarked * g);
		gcControllerState_endCycle(&c);
		gcControllerState_resetLive(&c, next, next, stackBytes);
		gcControllerState_commit(&c, true);
	}
}

#define NCYCLES 50

Test(pacer, go_SteadyMemoryLimit)
{
	cycleResult r[NCYCLES];
	replay(100, 2.0, -1.0, r, NCYCLES);
	for (int n = 1; n <= NCYCLES; n++) {
		cr_assert_lt(r[n - 1].heapPeak, 512 * MiB - memoryLimitHeapGoalHeadroom);
		/* With no runway the peak is the trigger: 95–100 % of the goal. */
		if (n >= 25) {
			double ratio = (double)r[n - 1].heapPeak / (double)r[n - 1].heapGoal;
			cr_assert(ratio >= 0.95 && ratio <= 1.0, "goal ratio %f", ratio);
		}
	}
}

Test(pacer, go_SteadyMemoryLimitNoGCPercent)
{
	cycleResult r[NCYCLES];
	replay(-1, 2.0, -1.0, r, NCYCLES);
	for (int n = 1; n <= NCYCLES; n++) {
		cr_assert_eq(r[n - 1].heapGoal, 512 * MiB - memoryLimitHeapGoalHeadroom, "cycle %d", n);
		cr_assert_leq(r[n - 1].heapPeak, r[n - 1].heapGoal);
	}
}

Test(pacer, go_ExceedMemoryLimit)
{
	cycleResult r[NCYCLES];
	replay(100, 3.5, -2.5, r, NCYCLES);
	for (int n = 13; n <= NCYCLES; n++)
		cr_assert_eq(r[n - 1].heapGoal, r[n - 1].heapLive, "cycle %d", n);
	/* Over the limit, the STW collector runs as soon as it can. */
	cr_assert_eq(r[NCYCLES - 1].heapTrigger, r[NCYCLES - 1].heapLive);
}

Test(pacer, go_ExceedMemoryLimitNoGCPercent)
{
	cycleResult r[NCYCLES];
	replay(-1, 3.5, -2.5, r, NCYCLES);
	for (int n = 1; n < 10; n++)
		cr_assert_eq(r[n - 1].heapGoal, 512 * MiB - memoryLimitHeapGoalHeadroom, "cycle %d", n);
	for (int n = 13; n <= NCYCLES; n++)
		cr_assert_eq(r[n - 1].heapGoal, r[n - 1].heapLive, "cycle %d", n);
}

Test(pacer, go_MaintainMemoryLimit)
{
	cycleResult r[NCYCLES];
	replay(100, 3.0, -2.0, r, NCYCLES);
	for (int n = 13; n <= NCYCLES; n++) {
		cr_assert_eq(r[n - 1].heapGoal, 512 * MiB - memoryLimitHeapGoalHeadroom, "cycle %d", n);
		double ratio = (double)r[n - 1].heapPeak / (double)r[n - 1].heapGoal;
		cr_assert(ratio >= 0.95 && ratio <= 1.0, "goal ratio %f", ratio);
	}
}

Test(pacer, go_MaintainMemoryLimitNoGCPercent)
{
	cycleResult r[NCYCLES];
	replay(-1, 3.0, -2.0, r, NCYCLES);
	for (int n = 1; n <= NCYCLES; n++)
		cr_assert_eq(r[n - 1].heapGoal, 512 * MiB - memoryLimitHeapGoalHeadroom, "cycle %d", n);
	double ratio = (double)r[NCYCLES - 1].heapPeak / (double)r[NCYCLES - 1].heapGoal;
	cr_assert(ratio >= 0.95 && ratio <= 1.0, "goal ratio %f", ratio);
}
