/*
 * memtest.h — code shared by the mem/ unit tests: a private runtime per
 * test, a sweeper that frees everything not kept (standing in for gc/),
 * and readers of the kernel's view of our mappings.
 */
#ifndef GALE_TEST_MEMTEST_H
#define GALE_TEST_MEMTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gc/gc.h"
#include "mem/mbitmap.h"
#include "mem/mcache.h"
#include "mem/mcentral.h"
#include "mem/mheap.h"
#include "mem/mstats.h"
#include "mem/runtime.h"

/* A fresh runtime with no debug variables (GALEDEBUG is ignored). */
runtime *mt_newRuntime(void);

/* Marks the objects in keep[0..n), then sweeps every span the way the
 * collector does: unmarked objects are freed, empty spans go back to the
 * heap, marked objects survive with their contents. Returns objects freed. */
uintptr_t mt_collect(runtime *rt, void **keep, size_t n);

/* Sum of the stats that make up MemStats.Sys, computed independently. */
uint64_t mt_totalMapped(runtime *rt);

/* Checks, with Criterion assertions, the MemStats identities: the six
 * internal checks (readMemStats aborts on those), Sys as the sum of its
 * parts, HeapIdle + HeapInuse == HeapSys, mappedReady == Sys - released. */
void mt_checkStats(runtime *rt);

/* Go's ReadMemStatsSlow: recompute HeapAlloc, HeapObjects, HeapInuse,
 * per-class live objects, and HeapReleased by walking allspans and the page
 * allocator's bitmaps, and assert they equal readMemStats' figures. Also
 * Go's TestPageAccounting: pagesInUse equals the in-use spans' pages. */
void mt_checkMemStatsSlow(runtime *rt);

/* Resident bytes the kernel reports in /proc/self/smaps for [lo, hi). */
uint64_t mt_residentBytes(uintptr_t lo, uintptr_t hi);
/* The protection string ("rw-p", "---p") of the mapping holding addr. */
bool mt_protOf(uintptr_t addr, char prot[5]);

#endif
