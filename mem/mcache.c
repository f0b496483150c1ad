/*
 * mcache.c — the allocation cache (Go's mcache.go; one per runtime).
 *
 * Cached spans have sweepgen == mheap_.sweepgen + 3. heapLive is charged a
 * span's free bytes when the span is cached (an overestimate on purpose, so
 * the trigger is never late) and the unused part is subtracted when the span
 * goes back. totalAlloc and smallAllocCount are credited for the slots used
 * while cached at the same two points.
 */
#include "mem/mcache.h"
#include "mem/mcentral.h"
#include "mem/runtime.h"

/* The placeholder in empty cache slots: no free slots, so the first use of
 * a class always refills. Never written. */
mspan emptymspan;

/* Go's gcController.update: only heapLive and heapScan, no assists here. */
static void gcController_update(runtime *rt, int64_t dHeapLive, int64_t dHeapScan)
{
	gcControllerState *c = &rt->gcController;
	if (dHeapLive < 0 && (uint64_t)(-dHeapLive) > c->heapLive)
		c->heapLive = 0; /* a collection reset heapLive below the credit */
	else
		c->heapLive += (uint64_t)dHeapLive;
	if (dHeapScan < 0 && (uint64_t)(-dHeapScan) > c->heapScan)
		c->heapScan = 0;
	else
		c->heapScan += (uint64_t)dHeapScan;
}

mcache *allocmcache(runtime *rt)
{
	mcache *c = fixalloc_alloc(&rt->mheap_.cachealloc);
	if (c == NULL)
		return NULL;
	for (int i = 0; i < numSpanClasses; i++)
		c->alloc[i] = &emptymspan;
	c->flushGen = rt->mheap_.sweepgen;
	return c;
}

void freemcache(runtime *rt, mcache *c)
{
	mcache_releaseAll(rt, c);
	fixalloc_free(&rt->mheap_.cachealloc, c);
}

/* Credit the slots allocated from s since it was cached. */
static void creditSlots(runtime *rt, mspan *s)
{
	uintptr_t slotsUsed = (uintptr_t)s->allocCount - s->allocCountBeforeCache;
	s->allocCountBeforeCache = 0;
	rt->memstats.heapStats.smallAllocCount[spanClass_sizeclass(s->spanclass)] += slotsUsed;
	rt->gcController.totalAlloc += slotsUsed * s->elemsize;
}

bool mcache_refill(runtime *rt, mcache *c, spanClass spc)
{
	mheap *h = &rt->mheap_;
	mspan *s = c->alloc[spc];
	/* Only a full span is replaced (mallocgc checked). */
	if (s->allocCount != s->nelems)
		mthrow("refill of span with free space remaining");
	if (s != &emptymspan) {
		if (s->sweepgen != h->sweepgen + 3)
			mthrow("bad sweepgen in refill");
		creditSlots(rt, s);
		mcentral_uncacheSpan(rt, &h->central[spc], s);
		c->alloc[spc] = &emptymspan;
	}

	/* The slot stays on emptymspan if no span can be had. */
	s = mcentral_cacheSpan(rt, &h->central[spc]);
	if (s == NULL)
		return false;
	if (s->allocCount == s->nelems)
		mthrow("span has no free space");
	/* h+3: swept and cached. allocCountBeforeCache marks where this
	 * stay's allocations start. */
	s->sweepgen = h->sweepgen + 3;
	s->allocCountBeforeCache = s->allocCount;

	/* Assume every free slot will be used before the span comes back. */
	uintptr_t usedBytes = (uintptr_t)s->allocCount * s->elemsize;
	gcController_update(rt, (int64_t)(s->npages * pageSize) - (int64_t)usedBytes,
	                    (int64_t)c->scanAlloc);
	c->scanAlloc = 0;
	c->alloc[spc] = s;
	/* An allocation slow path: the background scavenger's turn. */
	scavengerPoll(rt);
	return true;
}

mspan *mcache_allocLarge(runtime *rt, mcache *c, uintptr_t size, bool noscan)
{
	(void)c;
	mheap *h = &rt->mheap_;
	if (size + pageSize < size)
		return NULL; /* would overflow */
	/* Round up to whole pages; the tail past size is never used. */
	uintptr_t npages = size >> pageShift;
	if ((size & pageMask) != 0)
		npages++;
	spanClass spc = makeSpanClass(0, noscan);
	mspan *s = mheap_alloc(rt, npages, spc);
	if (s == NULL)
		return NULL;
	/* Large objects are counted at once (no cache to flush later). */
	heapStatsDelta *stats = &rt->memstats.heapStats;
	stats->largeAlloc += npages * pageSize;
	stats->largeAllocCount++;
	rt->gcController.totalAlloc += npages * pageSize;
	gcController_update(rt, (int64_t)(npages * pageSize), 0);
	/* On the full list so the sweeper finds it. */
	mSpanList_insert(mcentral_fullSwept(&h->central[spc], h->sweepgen), s);
	s->limit = s->startAddr + size;
	/* An allocation slow path: the background scavenger's turn. */
	scavengerPoll(rt);
	return s;
}

void mcache_releaseAll(runtime *rt, mcache *c)
{
	mheap *h = &rt->mheap_;
	int64_t scanAlloc = (int64_t)c->scanAlloc;
	c->scanAlloc = 0;
	uint32_t sg = h->sweepgen;
	int64_t dHeapLive = 0;
	for (int i = 0; i < numSpanClasses; i++) {
		mspan *s = c->alloc[i];
		if (s == &emptymspan)
			continue;
		creditSlots(rt, s);
		/* refill counted the free slots in heapLive; take back the unused
		 * ones (unless heapLive was already reset by a collection). */
		if (s->sweepgen != sg + 1)
			dHeapLive -= (int64_t)((s->nelems - s->allocCount) * s->elemsize);
		mcentral_uncacheSpan(rt, &h->central[i], s);
		c->alloc[i] = &emptymspan;
	}
	gcController_update(rt, dHeapLive, scanAlloc);
	c->flushGen = sg;
}

void mcache_prepareForSweep(runtime *rt, mcache *c)
{
	/* Go flushes lazily per P; with one cache, flush whenever the sweep
	 * generation moved on. */
	if (c->flushGen == rt->mheap_.sweepgen)
		return;
	mcache_releaseAll(rt, c);
}
