/*
 * mcache.h — the runtime's allocation cache (Go's mcache.go): one span per
 * span class from which small objects are bump-allocated without touching
 * the central lists. Gale has one per runtime (Go's mcache0 case).
 */
#ifndef GALE_MCACHE_H
#define GALE_MCACHE_H

#include "mem/mheap.h"

typedef struct mcache {
	uintptr_t scanAlloc; /* bytes of scannable heap allocated since the last flush */
	mspan *alloc[numSpanClasses]; /* the span to allocate from, per class */
	uint32_t flushGen;            /* sweepgen when last flushed */
} mcache;

/* The sentinel span of an empty cache slot: no free slots, never swept. */
extern mspan emptymspan;

mcache *allocmcache(runtime *rt);
void freemcache(runtime *rt, mcache *c);
/* Replace the span for spc with one that has a free slot. False on out of
 * memory. */
bool mcache_refill(runtime *rt, mcache *c, spanClass spc);
/* A span for one large object of size bytes. NULL on out of memory. */
mspan *mcache_allocLarge(runtime *rt, mcache *c, uintptr_t size, bool noscan);
/* Return every cached span to its mcentral (before a collection). */
void mcache_releaseAll(runtime *rt, mcache *c);
/* Flush the cache if it was filled before the current sweep generation. */
void mcache_prepareForSweep(runtime *rt, mcache *c);

#endif
