/*
 * gc.h — the collector and heap as the object model sees them.
 *
 * This is the only header vm/ includes from below. It knows nothing about the
 * language: an object is a block returned by mallocgc whose first byte is its
 * kind, and each kind registers how to trace and finalize itself.
 *
 * Collection is stop-the-world and happens only inside mallocgc (or an
 * explicit GC call). Anything the VM holds in C locals across a call that may
 * allocate must be reachable from a registered root.
 */
#ifndef GALE_GC_H
#define GALE_GC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem/malloc.h" /* mallocgc, stackalloc */
#include "mem/mstats.h" /* MemStats, readMemStats, readMetrics */
#include "mem/runtime.h" /* debugVars */

typedef struct runtime runtime;

/* Runtime configuration; gcConfigInit fills the defaults. */
typedef struct gcConfig {
	int64_t gcPercent;   /* GOGC: default 100; -1 turns the percent goal off */
	int64_t memoryLimit; /* soft limit in bytes; default INT64_MAX (none) */
	int64_t maxHeap;     /* hard cap on heap bytes in use; 0 = none */
	const char *debug;   /* GALEDEBUG-style "gctrace=1,gcstress=1,..."; may be NULL */
} gcConfig;

void gcConfigInit(gcConfig *cfg);

/* A runtime with its own heap and collector. cfg NULL means the defaults; a
 * negative memoryLimit means none; debug NULL reads GALEDEBUG. NULL when the
 * OS refuses the initial mappings. */
runtime *runtimeCreate(const gcConfig *cfg);
/* Runs every pending finalizer, then returns all memory to the OS. */
void runtimeDestroy(runtime *rt);

/* ---- object kinds ---- */
#define GC_MAX_KINDS 64

typedef void (*gcTraceFn)(runtime *rt, void *obj);    /* calls gcMark on each reference */
typedef void (*gcFinalizeFn)(runtime *rt, void *obj); /* releases outside resources */

typedef struct gcKind {
	const char *name;
	gcTraceFn trace;       /* NULL: the object holds no references (noscan) */
	gcFinalizeFn finalize; /* run once, for objects given gcSetFinalizer */
} gcKind;

/* Register kind (< GC_MAX_KINDS; others are ignored) before allocating
 * objects of it: a kind without trace gets noscan spans at allocation. The
 * name is not copied. Objects of unregistered kinds are kept alive when
 * reached but not traced. */
void gcRegisterKind(runtime *rt, uint8_t kind, const gcKind *k);

/* mallocgc(rt, size, kind, needzero) and gcObjectSize: see mem/malloc.h. */

/* Mark obj reachable. obj must be an object's base pointer (as mallocgc
 * returned it). Ignores NULL, pointers outside the heap and pointers to free
 * slots. Safe to call only from trace and root callbacks; outside a
 * collection it does nothing. Never recurses: it only pushes obj onto the
 * gray stack, so any graph depth is fine. Trace and root callbacks must not
 * allocate. */
void gcMark(runtime *rt, void *obj);
/* During the weak hook: was obj marked this cycle? Non-heap pointers and
 * calls outside a collection answer true (keep). */
bool gcIsMarked(runtime *rt, void *obj);

typedef void (*gcRootFn)(runtime *rt, void *ctx);
/* Roots are scanned at every collection, in registration order. */
bool gcAddRoots(runtime *rt, gcRootFn fn, void *ctx);
void gcRemoveRoots(runtime *rt, gcRootFn fn, void *ctx);
/* Called after marking and before sweeping: where weak tables (the string
 * intern table) drop entries that gcIsMarked says are dead. One hook per
 * runtime (a second call replaces it); it must not allocate. */
void gcSetWeakHook(runtime *rt, gcRootFn fn, void *ctx);

/* The kind's finalize function will run once when obj becomes unreachable
 * (Go's finalizer special): after the collection that found it dead, with
 * everything obj references still intact; obj itself is freed by the next
 * collection. Objects still alive at runtimeDestroy are finalized there.
 * Setting it twice is harmless. Returns false on out of memory or when obj
 * is not the base of a heap object. Finalizers may allocate (no collection
 * starts while they run). */
bool gcSetFinalizer(runtime *rt, void *obj);

/* runtime.GC(): a full, forced collection. */
void GC(runtime *rt);
/* A point where the program waits or reads the clock: gives the background
 * scavenger its turn (it otherwise runs from allocation slow paths), so a
 * script that idles still returns free memory. Costs one load when idle. */
void gcIdlePoll(runtime *rt);
/* debug.FreeOSMemory(): a full collection, then every free page to the OS. */
void freeOSMemory(runtime *rt);
/* Both return the previous value and re-commit the pacer. A negative percent
 * means off (-1); a negative limit only reads it. */
int64_t setGCPercent(runtime *rt, int64_t percent);
int64_t setMemoryLimit(runtime *rt, int64_t limit);

/* readMemStats and readMetrics: see mem/mstats.h. */

/* stackalloc and stackfree: see mem/malloc.h. */

/* Debug switches parsed from gcConfig.debug, readable by the VM
 * (debugVars, mem/runtime.h: gctrace, scavtrace, gcpacertrace, gcstress,
 * dlog, failalloc). */
const debugVars *gcDebugFlags(runtime *rt);

#endif
