/*
 * mgcscavenge.h — the scavenger: returning free heap pages to the OS
 * (mirrors Go's mgcscavenge.go).
 *
 * Two goals decide how much heap may stay Ready (see gcPaceScavenger):
 * a GOGC-based goal on heapRetained() and a memory-limit goal on
 * mappedReady. The background scavenger works towards them in 64 KiB
 * quanta.
 *
 * Go runs it in its own goroutine at 1 % of total CPU (GOMAXPROCS procs),
 * sleeping between runs and steering the sleep with a PI controller because
 * timers overshoot. A runtime here has one thread, so the scavenger runs
 * synchronously: the collector wakes it (gcPaceScavenger, with a goal
 * unmet); allocation slow paths (mcache refills, large objects) and the
 * collector's pauses poll it (scavengerPoll), as may idle points. While
 * awake it alternates work and "sleep" so that work is scavengeFraction of
 * wall time; a poll that comes late is given the work the elapsed time has
 * earned (budget from wall time, capped), which makes the controller
 * unnecessary.
 */
#ifndef GALE_MGCSCAVENGE_H
#define GALE_MGCSCAVENGE_H

#include <stdbool.h>
#include <stdint.h>

#include "mem/mem.h"
#include "mem/mpagealloc.h"

/* Percent of total CPU the background scavenger aims for. */
#define scavengePercent 1
/* The GOGC goal keeps 10 % above the next heap goal's in-use estimate. */
#define retainExtraPercent 10
/* The memory-limit goal is 5 % below the limit. */
#define reduceExtraPercent 5
/* Extra cost of released memory faulting back in (0 on Linux). */
#define scavengeCostRatio 0.0
/* The least work one background run accounts for, ns. */
#define minScavWorkTime 1000000
/* The most work one paced run may do, ns: a long quiet period must not turn
 * into a long stall of the one thread. */
#define maxScavWorkTime 10000000

/* How long a woken scavenger waits for its first turn: Go's forcePreemptNS,
 * the time slice after which, on one P, the running goroutine yields to it. */
#define scavengeWakeDelay 10000000
/* Go's GOMAXPROCS is the CPU count; a runtime here counts at most this many
 * procs for scavengePercent, since its scavenger shares the mutator's
 * thread. */
#define scavengeMaxProcs 4
/* Bytes per step of the background scavenger. */
#define scavengeQuantum ((uintptr_t)64 << 10)
/* Work assumed for a page when the clock did not move, ns. */
#define approxWorkedNSPerPhysicalPage 10e3

typedef struct scavengerState {
	/* Go's `scavenge` goals, in bytes; UINT64_MAX = met / inactive. */
	uint64_t gcPercentGoal;   /* compared with heapRetained() */
	uint64_t memoryLimitGoal; /* compared with mappedReady */

	/* The background scavenger. A zero struct is valid: bgscavenge sets it
	 * up on first use. */
	bool inited;
	bool awake;      /* a goal was unmet when last paced: polls may run it */
	bool parked;     /* the last run found nothing: no sleep pending */
	double fraction; /* share of wall time for background work */
	int64_t sleepStart; /* when the current sleep began */
	int64_t wakeTime;   /* calls before this return at once */

	/* Totals of background runs: work time charged and sleep time, in ns,
	 * and bytes released. */
	double totalWorked;
	double totalSlept;
	uint64_t totalReleased;

	/* Replaceable for tests (NULL = real): the clock, one scavenge step
	 * (returns bytes, sets *duration in ns), the stop condition. */
	int64_t (*nanotime)(runtime *rt);
	uintptr_t (*scavenge)(runtime *rt, uintptr_t n, int64_t *duration);
	bool (*shouldStop)(runtime *rt);
} scavengerState;

/* An RSS estimate for the heap: heapInUse + heapFree. */
uint64_t heapRetained(runtime *rt);

/*
 * Recomputes both goals (called at the end of every cycle and after GOGC or
 * the memory limit change). heapGoal is the next GOGC heap goal,
 * lastHeapGoal the previous cycle's (0 before the first cycle ends).
 */
void gcPaceScavenger(runtime *rt, int64_t memoryLimit, uint64_t heapGoal, uint64_t lastHeapGoal);

/* True when both goals are met: background scavenging stops. */
bool scavengerShouldStop(runtime *rt);

/*
 * One background step: unless asleep, releases memory in 64 KiB quanta while
 * a goal is unmet, for up to budget_ns of work, then sleeps long enough to
 * keep the scavenger at its fraction of wall time. budget_ns <= 0 paces the
 * run itself: minScavWorkTime on waking, else what the time since the sleep
 * began has earned, at most maxScavWorkTime. Returns the bytes released.
 */
uintptr_t bgscavenge(runtime *rt, int64_t budget_ns);

/*
 * The cheap call for allocation slow paths and idle points: returns at once
 * unless the scavenger is awake, then runs a paced bgscavenge step (which
 * itself returns at once while asleep).
 */
void scavengerPoll(runtime *rt);

/* The share of wall time background scavenging aims for:
 * scavengePercent of each CPU, counting at most scavengeMaxProcs. */
double scavengeFraction(void);

/* Releases every free page (debug.FreeOSMemory after its GC); prints a
 * "(forced)" scavtrace line. Returns the bytes released. */
uintptr_t scavengeAll(runtime *rt);

/* Go's sweep-completion hook: with scavtrace, prints what the background
 * scavenger released since the last line and resets that count. */
void scavengerReady(runtime *rt);

/* "scav <work> KiB work, <released> KiB total, <util>% util" to stderr. */
void printScavTrace(runtime *rt, uintptr_t released, bool forced);

/* fillAligned(x, m): every m-aligned group of bits of x that has any bit
 * set becomes all ones; m is a power of two up to 64. */
uint64_t fillAligned(uint64_t x, unsigned m);

#endif
