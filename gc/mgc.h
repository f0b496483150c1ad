/*
 * mgc.h — the collector's private state and the functions its files share
 * (Go's mgc.go `work` struct, gcphase, finalizer queue and roots).
 *
 * A cycle runs entirely inside one pause (stop-the-world), in Go's order:
 *
 *   sweep termination  flush the mcache, scavenge a little, startCycle
 *   mark               roots, finalizer referents, drain the gray stack
 *   mark termination   weak hook, sweep every span, resetLive, commit
 *
 * Sweeping inside the pause keeps isSweepDone() true outside collections,
 * so sweepDistMinTrigger is 0 and mallocgc never meets an unswept span; the
 * sweepgen protocol is still followed so spans are checked as in Go.
 */
#ifndef GALE_GC_MGC_H
#define GALE_GC_MGC_H

#include <stdbool.h>
#include <stdint.h>

#include "gc/gc.h"
#include "gc/mgclimit.h"
#include "gc/mgcwork.h"
#include "mem/runtime.h"

/* Go's gcphase: marking is the only time gcMark does anything. */
typedef enum gcPhase { _GCoff, _GCmark, _GCmarktermination } gcPhase;

/* A registered root callback (registration order is scan order). */
typedef struct gcRoot {
	struct gcRoot *next;
	gcRootFn fn;
	void *ctx;
} gcRoot;

/* Objects whose finalizer is due: filled by the sweeper, drained after the
 * pause (Go's finblock; blocks are persistentalloc'd and reused). */
#define finBlockObjs 126
typedef struct finblock {
	struct finblock *next;
	uintptr_t cnt;
	void *obj[finBlockObjs];
} finblock;

typedef struct gcState {
	gcKind kinds[GC_MAX_KINDS];
	bool kindRegistered[GC_MAX_KINDS];

	gcRoot *roots;     /* in registration order */
	gcRoot *freeRoots; /* removed records, reused */
	gcRootFn weakFn;
	void *weakCtx;

	gcPhase phase;
	bool running; /* inside gcStart (or tearing down): no nested cycle */
	gcWork wbuf; /* the gray stack */

	/* this cycle (Go's work struct) */
	uint64_t bytesMarked;  /* heap bytes of marked objects */
	uint64_t heapScanWork; /* bytes of objects traced */
	uint64_t heap0, heap1, heap2;
	int64_t tSweepTerm, tMark, tMarkTerm, tEnd;
	bool userForced;
	uint32_t overflowRescans; /* full-heap rescans after failed pushes */

	finblock *finq;   /* objects waiting for their finalizer */
	finblock *finc;   /* empty blocks */
	bool runningFinalizers;

	/* time bookkeeping (nanotime clock) */
	int64_t runtimeInitTime;
	int64_t totalGCTime;       /* sum of pauses, for gc_cpu_fraction */
	int64_t lastGCEnd;
	gcCPULimiterState limiter;
	uint64_t limiterDeferred;  /* heap-triggered cycles skipped while limiting */
	int64_t lastPause;
} gcState;

static inline gcState *gcstateOf(runtime *rt) { return (gcState *)rt->gcstate; }

int64_t nanotime(void);

/* mgcmark.c */
void gcMarkRoots(runtime *rt);
void gcMarkFinalizerReferents(runtime *rt);
void gcDrain(runtime *rt);
/* The kind of a heap object: its first byte. */
static inline uint8_t gcObjectKind(const void *obj) { return *(const uint8_t *)obj; }

/* mgcsweep.c */
void gcSweep(runtime *rt);
/* Queue obj for finalization; false if no memory for the queue. */
bool queuefinalizer(runtime *rt, void *obj);
/* Run every queued finalizer (outside the pause). */
void runFinalizers(runtime *rt);

/* mgc.c */
/* One full stop-the-world collection. */
void gcStart(runtime *rt, int why, bool forced);
/* commit + trigger + scavenger goals (Go's gcControllerCommit). */
void gcControllerCommit(runtime *rt);

#endif
