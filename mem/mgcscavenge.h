/*
 * mgcscavenge.h — the scavenger: returning free heap pages to the OS
 * (mirrors Go's mgcscavenge.go).
 *
 * Two goals decide how much heap may stay Ready (see gcPaceScavenger):
 * a GOGC-based goal on heapRetained() and a memory-limit goal on
 * mappedReady. The background scavenger works towards them in 64 KiB
 * quanta. Go runs it in its own goroutine paced to 1 % of one CPU; a runtime
 * here has one thread, so bgscavenge runs synchronously with a time budget
 * at points the collector chooses (GC start, sweep completion, every so many
 * allocation slow paths), and Go's sleep controller decides whether a call
 * may work at all: after working w ns it "sleeps" w / sleepRatio ns, during
 * which calls return at once.
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
#define startingScavSleepRatio 0.001
/* The least work one background run accounts for, ns. */
#define minScavWorkTime 1000000
/* Bytes per step of the background scavenger. */
#define scavengeQuantum ((uintptr_t)64 << 10)
/* Work assumed for a page when the clock did not move, ns. */
#define approxWorkedNSPerPhysicalPage 10e3

/* A proportional-integral controller with anti-windup (Go's piController,
 * in mgcpacer.go; it lives here because mem/ cannot depend on gc/). */
typedef struct piController {
	double kp;       /* proportional constant */
	double ti;       /* integral time constant */
	double tt;       /* reset time */
	double min, max; /* output bounds */
	double errIntegral;
	bool errOverflow;   /* errIntegral overflowed at some point */
	bool inputOverflow; /* an input produced Inf or NaN */
} piController;

/* Next output for input against setpoint over period; false (output min)
 * when the state overflowed and was reset. */
bool piController_next(piController *c, double input, double setpoint, double period, double *out);
void piController_reset(piController *c);

typedef struct scavengerState {
	/* Go's `scavenge` goals, in bytes; UINT64_MAX = met / inactive. */
	uint64_t gcPercentGoal;   /* compared with heapRetained() */
	uint64_t memoryLimitGoal; /* compared with mappedReady */

	/* The background scavenger. A zero struct is valid: bgscavenge sets it
	 * up on first use. */
	bool inited;
	bool parked;             /* the last run found nothing: no sleep pending */
	double sleepRatio;       /* work time / sleep time */
	piController sleepController;
	int64_t controllerCooldown; /* ns left before the controller runs again */
	bool printControllerReset;
	int64_t sleepStart;      /* when the current sleep began */
	int64_t wakeTime;        /* calls before this return at once */
	double lastWorked;       /* ns charged for the run before the sleep */

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
 * a goal is unmet, for up to budget_ns of work (<= 0: 1 ms), then sleeps
 * long enough to keep the scavenger near scavengePercent of CPU. Returns the
 * bytes released.
 */
uintptr_t bgscavenge(runtime *rt, int64_t budget_ns);

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
