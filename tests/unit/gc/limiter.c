/* The GC CPU limiter bucket: Go's TestGCCPULimiter, case for case. */
#include <criterion/criterion.h>

#include "gc/mgclimit.h"
#include "gc/mgcpacer.h"

#define MS ((int64_t)1000000)
#define US ((int64_t)1000)
#define SEC ((int64_t)1000000000)
#define HOUR (3600 * SEC)

static const int32_t procs = 14;
static int64_t ticks;

static int64_t advance(int64_t d)
{
	ticks += d;
	return ticks;
}

/* CPU time of assists using frac of the procs over wall time d. */
static int64_t assistTime(int64_t d, double frac)
{
	return (int64_t)(frac * (double)d * procs);
}

Test(limiter, go_TestGCCPULimiter)
{
	gcCPULimiterState l;
	ticks = 0;
	gcCPULimiter_init(&l, ticks, procs);

	/* The whole sequence twice, so no state leaks from one pass to the next. */
	uint64_t baseOverflow = 0;
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(l.bucket.capacity, (uint64_t)procs * capacityPerProc);
		cr_assert_eq(l.bucket.fill, 0, "expected empty bucket to start");

		/* Only mutator time: stays empty. */
		gcCPULimiter_update(&l, advance(10 * MS), 0);
		gcCPULimiter_update(&l, advance(1 * SEC), 0);
		gcCPULimiter_update(&l, advance(HOUR), 0);
		cr_assert_eq(l.bucket.fill, 0);

		/* needUpdate only after more than one period. */
		cr_assert_not(gcCPULimiter_needUpdate(&l, advance(gcCPULimiterUpdatePeriod / 2)));
		cr_assert(gcCPULimiter_needUpdate(&l, advance(gcCPULimiterUpdatePeriod)));
		gcCPULimiter_update(&l, advance(0), 0);
		cr_assert_not(gcCPULimiter_needUpdate(&l, advance(0)));

		/* A STW transition charges duration × procs. */
		gcCPULimiter_startGCTransition(&l, true, advance(109 * MS), 0);
		gcCPULimiter_finishGCTransition(&l, advance(2 * MS + 1 * US), 0);
		cr_assert_eq(l.bucket.fill, (uint64_t)((2 * MS + 1 * US) * procs));

		/* GC on without assists drains at procs × (1 - 2 × 0.25) per ns:
		 * drain to exactly procs nanoseconds. */
		double factor = 1 / (1 - 2 * gcBackgroundUtilization);
		int64_t fill = (2 * MS + 1 * US) * procs;
		gcCPULimiter_update(&l, advance((int64_t)(factor * (double)(fill - procs) / procs)), 0);
		cr_assert_eq(l.bucket.fill, (uint64_t)procs);

		/* Drain to zero. */
		gcCPULimiter_update(&l, advance(2 * procs * capacityPerProc), 0);
		cr_assert_eq(l.bucket.fill, 0);

		/* 50 % GC work leaves the bucket where it is. */
		gcCPULimiter_addAssistTime(&l, assistTime(10 * MS, 0.5 - gcBackgroundUtilization));
		gcCPULimiter_update(&l, advance(10 * MS), 0);
		cr_assert_eq(l.bucket.fill, 0);

		/* 100 % GC work fills. */
		gcCPULimiter_addAssistTime(&l, assistTime(1 * MS, 1.0 - gcBackgroundUtilization));
		gcCPULimiter_update(&l, advance(1 * MS), 0);
		cr_assert_eq(l.bucket.fill, (uint64_t)(procs * MS));
		cr_assert_not(gcCPULimiter_limiting(&l));

		/* Exactly full: limiting, no overflow. */
		gcCPULimiter_addAssistTime(&l, assistTime(capacityPerProc - MS, 1.0 - gcBackgroundUtilization));
		gcCPULimiter_update(&l, advance(capacityPerProc - MS), 0);
		cr_assert_eq(l.bucket.fill, l.bucket.capacity);
		cr_assert(gcCPULimiter_limiting(&l));
		cr_assert_eq(l.overflow, baseOverflow);

		/* A delta of exactly zero keeps it on without overflow. */
		gcCPULimiter_addAssistTime(&l, assistTime(1 * SEC, 0.5 - gcBackgroundUtilization));
		gcCPULimiter_update(&l, advance(1 * SEC), 0);
		cr_assert_eq(l.bucket.fill, l.bucket.capacity);
		cr_assert(gcCPULimiter_limiting(&l));
		cr_assert_eq(l.overflow, baseOverflow);

		/* Drain by half: off again. */
		gcCPULimiter_addAssistTime(&l, assistTime(capacityPerProc, 0));
		gcCPULimiter_update(&l, advance(capacityPerProc), 0);
		cr_assert_eq(l.bucket.fill, l.bucket.capacity / 2);
		cr_assert_not(gcCPULimiter_limiting(&l));

		/* Overfill: what does not fit goes to overflow. */
		gcCPULimiter_addAssistTime(&l, assistTime(capacityPerProc, 1.0 - gcBackgroundUtilization));
		gcCPULimiter_update(&l, advance(capacityPerProc), 0);
		cr_assert_eq(l.bucket.fill, l.bucket.capacity);
		cr_assert(gcCPULimiter_limiting(&l));
		cr_assert_eq(l.overflow, (uint64_t)(capacityPerProc * procs / 2) + baseOverflow);

		/* Assist time left over at the end of the cycle is still counted. */
		gcCPULimiter_addAssistTime(&l, assistTime(1 * MS, 1.0 - gcBackgroundUtilization));
		gcCPULimiter_startGCTransition(&l, false, advance(1 * MS), 0);
		cr_assert_eq(l.bucket.fill, l.bucket.capacity);
		cr_assert(gcCPULimiter_limiting(&l));
		cr_assert_eq(l.overflow, (uint64_t)((capacityPerProc / 2 + MS) * procs) + baseOverflow);

		/* The STW part adds to the bucket. */
		gcCPULimiter_finishGCTransition(&l, advance(5 * MS), 0);
		cr_assert_eq(l.bucket.fill, l.bucket.capacity);
		cr_assert(gcCPULimiter_limiting(&l));
		cr_assert_eq(l.overflow, (uint64_t)((capacityPerProc / 2 + 6 * MS) * procs) + baseOverflow);

		/* More procs: a bigger bucket, not full, so not limiting. */
		uint64_t expectFill = l.bucket.capacity;
		gcCPULimiter_resetCapacity(&l, advance(0), procs + 10, 0);
		cr_assert_eq(l.bucket.fill, expectFill);
		cr_assert_not(gcCPULimiter_limiting(&l));
		cr_assert_eq(l.overflow, (uint64_t)((capacityPerProc / 2 + 6 * MS) * procs) + baseOverflow);

		/* Fewer procs: clamped to the new capacity and limiting, no new overflow. */
		gcCPULimiter_resetCapacity(&l, advance(0), procs - 10, 0);
		cr_assert_eq(l.bucket.fill, l.bucket.capacity);
		cr_assert(gcCPULimiter_limiting(&l));
		cr_assert_eq(l.overflow, (uint64_t)((capacityPerProc / 2 + 6 * MS) * procs) + baseOverflow);

		/* Back to an empty bucket of the original size. */
		gcCPULimiter_resetCapacity(&l, advance(capacityPerProc * procs), procs, 0);
		baseOverflow += (uint64_t)((capacityPerProc / 2 + 6 * MS) * procs);
	}
}

Test(limiter, last_enabled_cycle_records_the_next_cycle)
{
	gcCPULimiterState l;
	gcCPULimiter_init(&l, 0, 1);
	/* A 1 s pause on one proc fills the 1 s bucket exactly. */
	gcCPULimiter_startGCTransition(&l, true, 0, 6);
	gcCPULimiter_finishGCTransition(&l, SEC, 6);
	cr_assert(gcCPULimiter_limiting(&l));
	cr_assert_eq(l.lastEnabledCycle, 7);
	cr_assert_eq(l.overflow, 0);
}

Test(limiter, stw_cycles_at_half_cpu_hold_the_fill)
{
	gcCPULimiterState l;
	int64_t now = 0;
	gcCPULimiter_init(&l, now, 1);
	/* Pause 10 ms, then run 10 ms: 50 % GC keeps the bucket level. The
	 * GC-off transition right after the pause charges nothing. */
	for (int i = 0; i < 100; i++) {
		gcCPULimiter_startGCTransition(&l, true, now, (uint32_t)i);
		now += 10 * MS;
		gcCPULimiter_finishGCTransition(&l, now, (uint32_t)i);
		cr_assert_eq(l.bucket.fill, (uint64_t)(10 * MS));
		gcCPULimiter_startGCTransition(&l, false, now, (uint32_t)i);
		gcCPULimiter_finishGCTransition(&l, now, (uint32_t)i);
		now += 10 * MS;
		gcCPULimiter_update(&l, now, (uint32_t)i);
		cr_assert_eq(l.bucket.fill, 0);
	}
	cr_assert_not(gcCPULimiter_limiting(&l));
}
