/*
 * mheap.c — the page heap (Go's mheap.go and the arena half of malloc.go).
 *
 * Address space arrives in 64 MiB arenas (Reserved), is mapped 4 MiB at a
 * time by grow (Prepared, charged to heapReleased: new memory counts as
 * released until a span uses it), and becomes Ready page run by page run in
 * allocSpan through sysUsed(base, nbytes, scav). Freed pages stay Ready
 * (heapFree) until the scavenger releases them.
 *
 * Stat moves (digest §4.6-4.7), with consistent stats c:
 *   allocSpan: heapReleased -= scav, heapFree -= nbytes-scav,
 *              heapInUse += nbytes (heap only),
 *              c.committed += scav, c.released -= scav, c.inX += nbytes
 *   freeSpan:  heapFree += nbytes, heapInUse -= nbytes (heap only),
 *              c.inX -= nbytes
 *   grow:      heapReleased += n (sysMap), c.released += n
 */
#include <stdio.h>
#include <string.h>

#include "mem/mbitmap.h"
#include "mem/mcentral.h"
#include "mem/mheap.h"
#include "mem/runtime.h"

/* ---- span lists ----
 * Doubly linked, with each span remembering its list so that removal can be
 * checked: a span is on at most one list at a time (mcentral partial/full,
 * swept/unswept), and on none while cached or being swept. */

void mSpanList_init(mSpanList *l) { l->first = l->last = NULL; }

bool mSpanList_isEmpty(const mSpanList *l) { return l->first == NULL; }

void mSpanList_insert(mSpanList *l, mspan *s)
{
	if (s->next != NULL || s->prev != NULL || s->list != NULL)
		mthrow("mSpanList.insert: span already on a list");
	s->next = l->first;
	if (l->first != NULL)
		l->first->prev = s;
	else
		l->last = s;
	l->first = s;
	s->list = l;
}

void mSpanList_insertBack(mSpanList *l, mspan *s)
{
	if (s->next != NULL || s->prev != NULL || s->list != NULL)
		mthrow("mSpanList.insertBack: span already on a list");
	s->prev = l->last;
	if (l->last != NULL)
		l->last->next = s;
	else
		l->first = s;
	l->last = s;
	s->list = l;
}

void mSpanList_remove(mSpanList *l, mspan *s)
{
	/* Removing from the wrong list would corrupt both. */
	if (s->list != l)
		mthrow("mSpanList.remove: span not on this list");
	/* Unlink from either end or the middle. */
	if (l->first == s)
		l->first = s->next;
	else
		s->prev->next = s->next;
	if (l->last == s)
		l->last = s->prev;
	else
		s->next->prev = s->prev;
	s->next = s->prev = NULL;
	s->list = NULL;
}

/* ---- the arena index ----
 * arenas[0][arenaIndex(p)] is the metadata of the arena holding p, or NULL
 * if p is not in this runtime's heap. Each runtime has its own index, so a
 * pointer from another runtime is never mistaken for one of ours. */

heapArena *heapArenaOf(runtime *rt, uintptr_t p)
{
	arenaIdx ri = arenaIndex(p);
	/* Addresses outside the 48-bit space wrap to huge indices. */
	if (ri >= ((uintptr_t)1 << arenaL2Bits))
		return NULL;
	heapArena **l2 = rt->mheap_.arenas[0];
	return l2 == NULL ? NULL : l2[ri];
}

bool inHeapArena(runtime *rt, uintptr_t p) { return heapArenaOf(rt, p) != NULL; }

mspan *spanOf(runtime *rt, uintptr_t p)
{
	/* Every page of a live span maps to it; free pages map to whatever
	 * span last held them, which callers filter by state. */
	heapArena *ha = heapArenaOf(rt, p);
	if (ha == NULL)
		return NULL;
	return ha->spans[(p / pageSize) % pagesPerArena];
}

mspan *spanOfHeap(runtime *rt, uintptr_t p)
{
	mspan *s = spanOf(rt, p);
	/* A dead struct may still be named by stale entries: check state and
	 * bounds, which also rejects the tail past the last object. */
	if (s == NULL || s->state != mSpanInUse || p < s->startAddr || p >= s->limit)
		return NULL;
	return s;
}

/* Point every page of [base, base+npage pages) at s. */
static void setSpans(runtime *rt, uintptr_t base, uintptr_t npage, mspan *s)
{
	/* A span may cross arenas: look each page's arena up. */
	for (uintptr_t n = 0; n < npage; n++) {
		uintptr_t p = base + n * pageSize;
		heapArena *ha = heapArenaOf(rt, p);
		ha->spans[(p / pageSize) % pagesPerArena] = s;
	}
}

/* Set or clear the bit for the page holding p in a per-page arena bitmap. */
static void setPageBit(uint8_t *bits, uintptr_t p, bool on)
{
	/* One bit per page of the arena; only a span's first page is used. */
	uintptr_t pageIdx = (p / pageSize) % pagesPerArena;
	uint8_t mask = (uint8_t)(1u << (pageIdx % 8));
	if (on)
		bits[pageIdx / 8] |= mask;
	else
		bits[pageIdx / 8] &= (uint8_t)~mask;
}

/* ---- arenas ---- */

/* Append an arena index to allArenas, doubling the array (old arrays are
 * left in persistentalloc memory, as in Go). */
static bool appendArena(runtime *rt, arenaIdx ri)
{
	mheap *h = &rt->mheap_;
	if (h->allArenasLen == h->allArenasCap) {
		/* Double, starting from one physical page of indices. */
		uintptr_t size = 2 * h->allArenasCap * sizeof(arenaIdx);
		if (size == 0)
			size = physPageSize;
		arenaIdx *a = persistentalloc(rt, size, sizeof(void *), &rt->memstats.gcMiscSys);
		if (a == NULL)
			return false;
		if (h->allArenasLen)
			memcpy(a, h->allArenas, h->allArenasLen * sizeof(arenaIdx));
		h->allArenas = a;
		h->allArenasCap = size / sizeof(arenaIdx);
	}
	h->allArenas[h->allArenasLen++] = ri;
	return true;
}

uintptr_t mheap_sysAlloc(runtime *rt, uintptr_t n, uintptr_t *size)
{
	mheap *h = &rt->mheap_;
	n = alignUp(n, heapArenaBytes);
	if (n == 0)
		return 0;
	*size = 0;
	uintptr_t v = 0;

	/* Try the hints in order. The kernel treats the address as a hint too:
	 * if it put the reservation elsewhere, give it back and drop the hint. */
	while (h->arenaHints != NULL) {
		arenaHint *hint = h->arenaHints;
		uintptr_t p = hint->addr;
		if (hint->down)
			p -= n;
		void *got = NULL;
		if (p + n < p || arenaIndex(p + n - 1) >= ((uintptr_t)1 << arenaBits))
			got = NULL; /* outside the usable address space */
		else
			got = sysReserve((void *)p, n);
		if ((uintptr_t)got == p && got != NULL) {
			/* Success: the hint moves past (or below) what we took, so
			 * the next reservation lands right next to this one. */
			hint->addr = hint->down ? p : p + n;
			v = p;
			*size = n;
			break;
		}
		if (got != NULL)
			sysFreeOS(got, n); /* exception 2: never accounted */
		h->arenaHints = hint->next;
		fixalloc_free(&h->arenaHintAlloc, hint);
	}

	if (*size == 0) {
		/* All hints failed: take any aligned space and grow around it. */
		void *r = sysReserveAligned(NULL, n, heapArenaBytes, size);
		if (r == NULL)
			return 0;
		v = (uintptr_t)r;
		arenaHint *down = fixalloc_alloc(&h->arenaHintAlloc);
		arenaHint *up = fixalloc_alloc(&h->arenaHintAlloc);
		if (down != NULL) {
			*down = (arenaHint){.addr = v, .down = true, .next = h->arenaHints};
			h->arenaHints = down;
		}
		if (up != NULL) {
			*up = (arenaHint){.addr = v + *size, .down = false, .next = h->arenaHints};
			h->arenaHints = up;
		}
	}

	/* The arena index only covers heapAddrBits of address space. */
	if (v + *size < v || arenaIndex(v) >= ((uintptr_t)1 << arenaBits) ||
	    arenaIndex(v + *size - 1) >= ((uintptr_t)1 << arenaBits)) {
		fprintf(stderr, "runtime: memory allocated by OS [%#lx, %#lx) not in usable address space\n",
		        (unsigned long)v, (unsigned long)(v + *size));
		mthrow("memory reservation exceeds address space limit");
	}
	if ((v & (heapArenaBytes - 1)) != 0)
		mthrow("misrounded allocation in sysAlloc");

	/* Set up the metadata of every new arena. From here on an arena is
	 * "in the heap" for spanOf, though no page of it is mapped yet. */
	arenaIdx ri;
	for (ri = arenaIndex(v); ri <= arenaIndex(v + *size - 1); ri++) {
		if (h->arenas[0] == NULL) {
			/* Exception 1: the index covers the whole address space and is
			 * paged in only where arenas exist; counting it would look like
			 * 32 MiB of overhead. */
			h->arenas[0] = sysAllocOS(sizeof(heapArena *) << arenaL2Bits);
			if (h->arenas[0] == NULL)
				goto fail;
		}
		if (h->arenas[0][ri] != NULL)
			mthrow("arena already initialized");
		heapArena *r = persistentalloc(rt, sizeof(heapArena), sizeof(void *),
		                               &rt->memstats.gcMiscSys);
		if (r == NULL || !appendArena(rt, ri))
			goto fail;
		h->arenas[0][ri] = r;
	}
	return v;

fail:
	/* Out of metadata memory. Arenas already registered stay (unused,
	 * unmapped at release); the rest of the reservation goes back now
	 * (exception 2: Reserved memory was never accounted). */
	sysFreeOS((void *)arenaBase(ri), v + *size - arenaBase(ri));
	*size = 0;
	return 0;
}

/* *growth is the new heap memory (all of it released): allocSpan's
 * heap-growth scavenging compares it with the retained-heap goal. */
bool mheap_grow(runtime *rt, uintptr_t npage, uintptr_t *growth)
{
	mheap *h = &rt->mheap_;
	heapStatsDelta *stats = &rt->memstats.heapStats;
	/* Grow in whole page-allocator chunks (4 MiB). */
	uintptr_t ask = alignUp(npage, pallocChunkPages) * pageSize;
	uintptr_t totalGrowth = 0;
	*growth = 0;

	/* curArena is the Reserved tail of the last reservation; take from
	 * its front while it lasts (the second test catches wrap-around). */
	uintptr_t end = h->curArena.base + ask;
	uintptr_t nBase = alignUp(end, physPageSize);
	if (nBase > h->curArena.end || end < h->curArena.base) {
		/* Not enough room in the current region: reserve more. */
		uintptr_t asize;
		/* Whole arenas; usually right after the current region (the hint
		 * moved there), so the heap stays contiguous. */
		uintptr_t av = mheap_sysAlloc(rt, ask, &asize);
		if (av == 0) {
			fprintf(stderr, "runtime: out of memory: cannot allocate %lu-byte block (%llu in use)\n",
			        (unsigned long)ask,
			        (unsigned long long)sysMemStat_load(&rt->gcController.heapInUse));
			return false;
		}
		if (av == h->curArena.end) {
			h->curArena.end = av + asize; /* contiguous: just extend */
		} else {
			/* Discontiguous: hand the rest of the old region to the page
			 * allocator first so it is not lost. */
			uintptr_t size = h->curArena.end - h->curArena.base;
			if (size != 0) {
				if (!sysMap(rt, (void *)h->curArena.base, size, &rt->gcController.heapReleased))
					return false;
				stats->released += (int64_t)size;
				pageAlloc_grow(&h->pages, h->curArena.base, size);
				totalGrowth += size;
			}
			h->curArena.base = av;
			h->curArena.end = av + asize;
		}
		nBase = alignUp(h->curArena.base + ask, physPageSize);
	}

	/* Reserved -> Prepared; released until a span uses it. */
	uintptr_t v = h->curArena.base;
	/* The consistent stats move with heapReleased (checks 2 and 6). */
	if (!sysMap(rt, (void *)v, nBase - v, &rt->gcController.heapReleased)) {
		*growth = totalGrowth;
		return false;
	}
	h->curArena.base = nBase;
	stats->released += (int64_t)(nBase - v);
	/* The page allocator marks the new pages free and scavenged. */
	pageAlloc_grow(&h->pages, v, nBase - v);
	totalGrowth += nBase - v;
	*growth = totalGrowth;
	return true;
}

/* ---- span structs ---- */

/* spanalloc's first-use callback: every struct ever handed out is listed. */
static void recordspan(void *arg, void *p)
{
	runtime *rt = arg;
	mheap *h = &rt->mheap_;
	/* allocMSpan grew the array beforehand, so this cannot fail. */
	if (h->allspansLen >= h->allspansCap)
		mthrow("recordspan: allspans not grown");
	h->allspans[h->allspansLen++] = p;
}

/* Make room for one more allspans entry (sysAlloc on other_sys, 1.5x). */
static bool growAllspans(runtime *rt)
{
	mheap *h = &rt->mheap_;
	uintptr_t n = 64 * 1024 / sizeof(mspan *);
	if (n < h->allspansCap * 3 / 2)
		n = h->allspansCap * 3 / 2;
	/* Go's allspans is a slice in off-heap memory: copy and free the old
	 * array, charging other_sys both ways. */
	mspan **a = sysAlloc(rt, n * sizeof(mspan *), &rt->memstats.other_sys);
	if (a == NULL)
		return false;
	if (h->allspans != NULL) {
		memcpy(a, h->allspans, h->allspansLen * sizeof(mspan *));
		sysFree(rt, h->allspans, h->allspansCap * sizeof(mspan *), &rt->memstats.other_sys);
	}
	h->allspans = a;
	h->allspansCap = n;
	return true;
}

static mspan *allocMSpan(runtime *rt)
{
	mheap *h = &rt->mheap_;
	/* recordspan cannot report failure, so make room before a struct
	 * that has never been handed out (none on the free list) is taken. */
	/* A fresh struct (not from the free list) will be recorded. */
	if (h->spanalloc.list == NULL && h->allspansLen == h->allspansCap && !growAllspans(rt))
		return NULL;
	return fixalloc_alloc(&h->spanalloc);
}

/* The struct goes back to spanalloc but stays in allspans (state dead). */
static void freeMSpan(runtime *rt, mspan *s) { fixalloc_free(&rt->mheap_.spanalloc, s); }

static void mspan_init(mspan *s, uintptr_t base, uintptr_t npages)
{
	uint32_t sweepgen = s->sweepgen; /* survives reuse, as in Go */
	memset(s, 0, sizeof *s);
	s->sweepgen = sweepgen;
	s->startAddr = base;
	s->npages = npages;
	s->state = mSpanDead;
}

/* Does [base, base+npage pages) need zeroing before use? Each arena's
 * zeroedBase marks how far memory has ever been handed out; above it pages
 * are still as fresh from mmap. Advances zeroedBase. */
static bool allocNeedsZero(runtime *rt, uintptr_t base, uintptr_t npage)
{
	bool needZero = false;
	/* Arenas are handed out low to high, so each keeps one watermark. */
	while (npage > 0) {
		heapArena *ha = heapArenaOf(rt, base);
		uintptr_t arenaOff = base % heapArenaBytes;
		/* Any part below the watermark may hold old data. */
		if (arenaOff < ha->zeroedBase)
			needZero = true;
		/* Clip to this arena; the loop continues in the next one. */
		uintptr_t arenaLimit = arenaOff + npage * pageSize;
		if (arenaLimit > heapArenaBytes)
			arenaLimit = heapArenaBytes;
		if (arenaLimit > ha->zeroedBase)
			ha->zeroedBase = arenaLimit;
		base += arenaLimit - arenaOff;
		npage -= (arenaLimit - arenaOff) / pageSize;
	}
	return needZero;
}

/* ---- allocSpan / freeSpan ---- */

static mspan *allocSpan(runtime *rt, uintptr_t npages, spanAllocType typ, spanClass spanclass)
{
	mheap *h = &rt->mheap_;
	heapStatsDelta *stats = &rt->memstats.heapStats;
	/* Single-threaded, so Go's heap lock becomes a re-entrance check:
	 * nothing below may allocate a span. */
	if (h->locked)
		mthrow("allocSpan: heap re-entered");
	if (npages == 0 || npages > maxAlloc / pageSize)
		return NULL;
	h->locked = true;

	uintptr_t nbytes = npages * pageSize;
	uintptr_t base = 0, scav = 0, growth = 0;
	mspan *s = allocMSpan(rt);
	uint8_t *markBits = NULL, *allocBits = NULL;
	uintptr_t nelems = 0, elemsize = 0;
	if (s == NULL)
		goto oom;
	/* The bits are allocated before any page is taken, so running out of
	 * metadata never has to give pages back. */
	if (!spanAllocType_manual(typ)) {
		int sizeclass = spanClass_sizeclass(spanclass);
		if (sizeclass == 0) {
			elemsize = nbytes;
			nelems = 1;
		} else {
			elemsize = class_to_size[sizeclass];
			nelems = nbytes / elemsize;
		}
		markBits = newMarkBits(rt, nelems);
		allocBits = newAllocBits(rt, nelems);
		if (markBits == NULL || allocBits == NULL)
			goto oomSpan;
	}

	/* Small requests go through the page cache (Go's per-P pcache). */
	if (npages < pageCachePages / 4) {
		if (pageCache_empty(&h->pcache))
			h->pcache = pageAlloc_allocToCache(&h->pages);
		base = pageCache_alloc(&h->pcache, npages, &scav);
	}
	/* Otherwise the page allocator; growing the heap if it has no run of
	 * npages. scav is how many of the pages are Prepared (released). */
	if (base == 0) {
		base = pageAlloc_alloc(&h->pages, npages, &scav);
		if (base == 0) {
			if (!mheap_grow(rt, npages, &growth))
				goto oomSpan;
			base = pageAlloc_alloc(&h->pages, npages, &scav);
			if (base == 0)
				mthrow("grew heap, but no adequate free space found");
		}
	}

	mspan_init(s, base, npages);
	/* Pages released with MADV_DONTNEED (or never touched) read as zero
	 * when faulted back in, so a span made only of them is clean whatever
	 * zeroedBase says. (Go cannot assume this: it may release with
	 * MADV_FREE.) */
	if (allocNeedsZero(rt, base, npages) && scav != nbytes)
		s->needzero = 1;
	/* Manual spans are one block; heap spans are sliced into nelems
	 * objects of elemsize, all free (allocCache all ones). */
	if (spanAllocType_manual(typ)) {
		s->manualFreeList = NULL;
		s->nelems = 0;
		s->limit = base + nbytes;
		s->state = mSpanManual;
	} else {
		s->spanclass = spanclass;
		s->elemsize = elemsize;
		s->nelems = nelems;
		s->divMul = spanClass_sizeclass(spanclass) == 0 ? 0
		                                                : class_to_divmagic[spanClass_sizeclass(spanclass)];
		s->limit = base + nelems * elemsize;
		s->freeindex = 0;
		s->freeIndexForScan = 0;
		s->allocCache = ~(uint64_t)0;
		s->gcmarkBits = markBits;
		s->allocBits = allocBits;
		s->sweepgen = h->sweepgen;
		s->state = mSpanInUse;
	}

	/*
	 * Allocation-time scavenging (digest §6.4), before the new span's pages
	 * are committed: release what this span would page in beyond the memory
	 * limit, and what heap growth adds beyond the GOGC-based retained goal.
	 */
	{
		uintptr_t bytesToScavenge = 0;
		bool (*limiting)(runtime *) = rt->gcHook.limiting;
		int64_t limit = rt->gcController.memoryLimit;
		uint64_t inuse = rt->gcController.mappedReady;
		/* Not while the GC CPU limiter is on: scavenging costs CPU the
		 * limiter is trying to give back to the program. */
		if ((limiting == NULL || !limiting(rt)) && limit >= 0 &&
		    (uint64_t)scav + inuse > (uint64_t)limit)
			bytesToScavenge = (uintptr_t)((uint64_t)scav + inuse - (uint64_t)limit);
		uint64_t goal = rt->scavenge.gcPercentGoal;
		if (goal != ~(uint64_t)0 && growth > 0) {
			uint64_t retained = sysMemStat_load(&rt->gcController.heapInUse) +
			                    sysMemStat_load(&rt->gcController.heapFree);
			if (retained + growth > goal) {
				uintptr_t todo = growth;
				uint64_t overage = retained + growth - goal;
				if (todo > overage)
					todo = (uintptr_t)overage;
				if (todo > bytesToScavenge)
					bytesToScavenge = todo;
			}
		}
		if (bytesToScavenge > 0)
			pageAlloc_scavengeUntil(&h->pages, bytesToScavenge, limiting);
	}

	/* Commit: the scavenged part becomes Ready again. */
	if (scav != 0) {
		sysUsed(rt, (void *)base, nbytes, scav);
		sysMemStat_add(&rt->gcController.heapReleased, -(int64_t)scav);
	}
	sysMemStat_add(&rt->gcController.heapFree, -(int64_t)(nbytes - scav));
	if (typ == spanAllocHeap)
		sysMemStat_add(&rt->gcController.heapInUse, (int64_t)nbytes);
	stats->committed += (int64_t)scav;
	stats->released -= (int64_t)scav;
	switch (typ) {
	case spanAllocHeap: stats->inHeap += (int64_t)nbytes; break;
	case spanAllocStack: stats->inStacks += (int64_t)nbytes; break;
	case spanAllocWorkBuf: stats->inWorkBufs += (int64_t)nbytes; break;
	case spanAllocPtrScalarBits: stats->inPtrScalarBits += (int64_t)nbytes; break;
	}

	/* Publish: interior pointers now find the span. */
	setSpans(rt, base, npages, s);
	if (!spanAllocType_manual(typ)) {
		setPageBit(heapArenaOf(rt, base)->pageInUse, base, true);
		h->pagesInUse += npages;
	}
	h->locked = false;
	if (rt->debug.dlog)
		dlogf(rt, "allocSpan %#lx npages=%lu typ=%d spc=%d scav=%lu", (unsigned long)base,
		      (unsigned long)npages, (int)typ, (int)spanclass, (unsigned long)scav);
	return s;

oomSpan:
	freeMSpan(rt, s);
oom:
	h->locked = false;
	return NULL;
}

mspan *mheap_alloc(runtime *rt, uintptr_t npages, spanClass spc)
{
	return allocSpan(rt, npages, spanAllocHeap, spc);
}

mspan *mheap_allocManual(runtime *rt, uintptr_t npages, spanAllocType typ)
{
	if (!spanAllocType_manual(typ))
		mthrow("allocManual called with non-manual type");
	return allocSpan(rt, npages, typ, 0);
}

static void freeSpanLocked(runtime *rt, mspan *s, spanAllocType typ)
{
	mheap *h = &rt->mheap_;
	heapStatsDelta *stats = &rt->memstats.heapStats;
	/* A heap span may only be freed empty and swept this cycle; a manual
	 * span only as a whole. */
	switch (s->state) {
	case mSpanManual:
		if (s->allocCount != 0)
			mthrow("mheap.freeSpanLocked - invalid stack free");
		break;
	case mSpanInUse:
		if (s->allocCount != 0 || s->sweepgen != h->sweepgen) {
			fprintf(stderr, "mheap.freeSpanLocked - span %p ptr %#lx allocCount %u sweepgen %u/%u\n",
			        (void *)s, (unsigned long)s->startAddr, s->allocCount, s->sweepgen,
			        h->sweepgen);
			mthrow("mheap.freeSpanLocked - invalid free");
		}
		h->pagesInUse -= s->npages;
		setPageBit(heapArenaOf(rt, s->startAddr)->pageInUse, s->startAddr, false);
		break;
	default:
		mthrow("mheap.freeSpanLocked - invalid span state");
	}

	/* The mirror image of allocSpan's accounting; committed is unchanged
	 * because free, unreleased pages still count as committed. */
	uintptr_t nbytes = s->npages * pageSize;
	sysMemStat_add(&rt->gcController.heapFree, (int64_t)nbytes);
	if (typ == spanAllocHeap)
		sysMemStat_add(&rt->gcController.heapInUse, -(int64_t)nbytes);
	switch (typ) {
	case spanAllocHeap: stats->inHeap -= (int64_t)nbytes; break;
	case spanAllocStack: stats->inStacks -= (int64_t)nbytes; break;
	case spanAllocWorkBuf: stats->inWorkBufs -= (int64_t)nbytes; break;
	case spanAllocPtrScalarBits: stats->inPtrScalarBits -= (int64_t)nbytes; break;
	}

	/* The pages stay Ready (heapFree) until the scavenger takes them. */
	pageAlloc_free(&h->pages, s->startAddr, s->npages);
	s->state = mSpanDead;
	freeMSpan(rt, s);
}

void mheap_freeSpan(runtime *rt, mspan *s)
{
	mheap *h = &rt->mheap_;
	if (h->locked)
		mthrow("freeSpan: heap re-entered");
	/* Large spans sit on their mcentral's full list; leave it first. */
	if (s->list != NULL)
		mSpanList_remove(s->list, s);
	if (s->specials != NULL)
		mthrow("freeSpan: span still has specials");
	h->locked = true;
	freeSpanLocked(rt, s, spanAllocHeap);
	h->locked = false;
}

void mheap_freeManual(runtime *rt, mspan *s, spanAllocType typ)
{
	mheap *h = &rt->mheap_;
	if (h->locked)
		mthrow("freeManual: heap re-entered");
	h->locked = true;
	s->needzero = 1;
	freeSpanLocked(rt, s, typ);
	h->locked = false;
}

/* ---- setup and teardown ---- */

void mheap_init(runtime *rt)
{
	mheap *h = &rt->mheap_;
	mstats *ms = &rt->memstats;
	fixalloc_init(&h->spanalloc, rt, sizeof(mspan), recordspan, rt, &ms->mspan_sys);
	fixalloc_init(&h->cachealloc, rt, sizeof(mcache), NULL, NULL, &ms->mcache_sys);
	fixalloc_init(&h->specialfinalizeralloc, rt, sizeof(specialfinalizer), NULL, NULL,
	              &ms->other_sys);
	fixalloc_init(&h->arenaHintAlloc, rt, sizeof(arenaHint), NULL, NULL, &ms->other_sys);
	/* A reused span struct keeps its sweepgen (Go's reasoning: a stale
	 * reader must never see a span as freshly swept). */
	h->spanalloc.zero = false;
	for (int i = 0; i < numSpanClasses; i++)
		mcentral_init(&h->central[i], (spanClass)i);
	pageAlloc_init(&h->pages, rt, &ms->gcMiscSys, false);
}

void mheap_release(runtime *rt)
{
	mheap *h = &rt->mheap_;
	/* Teardown goes straight to the OS: the statistics die with the
	 * runtime, and charging them back would only risk underflow. */
	pageAlloc_release(&h->pages);
	for (uintptr_t i = 0; i < h->allArenasLen; i++)
		sysFreeOS((void *)arenaBase(h->allArenas[i]), heapArenaBytes);
	if (h->arenas[0] != NULL)
		sysFreeOS(h->arenas[0], sizeof(heapArena *) << arenaL2Bits);
	if (h->allspans != NULL)
		sysFreeOS(h->allspans, h->allspansCap * sizeof(mspan *));
	h->arenas[0] = NULL;
	h->allspans = NULL;
}

/* ---- specials ---- */

static void spanSetSpecials(runtime *rt, mspan *s, bool on)
{
	setPageBit(heapArenaOf(rt, s->startAddr)->pageSpecials, s->startAddr, on);
}

bool addspecial(runtime *rt, void *p, special *s)
{
	mspan *span = spanOfHeap(rt, (uintptr_t)p);
	if (span == NULL)
		return false;
	/* Records are kept per object, so key them by the object's start. */
	uintptr_t offset = mspan_objIndex(span, (uintptr_t)p) * span->elemsize;
	special **t = &span->specials;
	for (;;) {
		special *x = *t;
		if (x == NULL)
			break;
		if (x->offset == offset && x->kind == s->kind)
			return false; /* already present */
		if (x->offset > offset || (x->offset == offset && x->kind > s->kind))
			break;
		t = &x->next;
	}
	/* Insert before the first larger (offset, kind): the list stays sorted
	 * so the sweeper can walk objects and records together. */
	s->offset = (uint16_t)offset;
	s->next = *t;
	*t = s;
	spanSetSpecials(rt, span, true);
	return true;
}

special *removespecial(runtime *rt, void *p, uint8_t kind)
{
	mspan *span = spanOfHeap(rt, (uintptr_t)p);
	if (span == NULL)
		return NULL;
	uintptr_t offset = mspan_objIndex(span, (uintptr_t)p) * span->elemsize;
	special *result = NULL;
	/* Unlink through the pointer that points at the record. */
	for (special **t = &span->specials; *t != NULL; t = &(*t)->next) {
		special *s = *t;
		if (s->offset == offset && s->kind == kind) {
			*t = s->next;
			result = s;
			break;
		}
	}
	/* Keep pageSpecials exact: set iff the span has records. */
	if (span->specials == NULL)
		spanSetSpecials(rt, span, false);
	return result;
}

bool addfinalizer(runtime *rt, void *p)
{
	if (spanOfHeap(rt, (uintptr_t)p) == NULL)
		return false;
	specialfinalizer *s = fixalloc_alloc(&rt->mheap_.specialfinalizeralloc);
	if (s == NULL)
		return false;
	s->special.kind = _KindSpecialFinalizer;
	if (addspecial(rt, p, &s->special))
		return true;
	fixalloc_free(&rt->mheap_.specialfinalizeralloc, s);
	return false;
}

bool removefinalizer(runtime *rt, void *p)
{
	special *s = removespecial(rt, p, _KindSpecialFinalizer);
	if (s == NULL)
		return false;
	freeSpecial(rt, s);
	return true;
}

void freeSpecial(runtime *rt, special *s)
{
	switch (s->kind) {
	case _KindSpecialFinalizer:
		fixalloc_free(&rt->mheap_.specialfinalizeralloc, s);
		break;
	default:
		mthrow("bad special kind");
	}
}

/* ---- sweeper support ---- */

mspan *mheap_nextSpanForSweep(runtime *rt)
{
	mheap *h = &rt->mheap_;
	uint32_t sg = h->sweepgen;
	/* After sweepgen += 2 every span is on an unswept list; sweeping moves
	 * it to a swept one (or frees it), so this scan ends. Classes are few
	 * (136), so no resume index is kept. */
	for (int spc = 0; spc < numSpanClasses; spc++) {
		mcentral *c = &h->central[spc];
		mSpanList *lists[2] = {mcentral_partialUnswept(c, sg), mcentral_fullUnswept(c, sg)};
		for (int i = 0; i < 2; i++) {
			mspan *s = lists[i]->first;
			if (s != NULL) {
				mSpanList_remove(lists[i], s);
				return s;
			}
		}
	}
	return NULL;
}

/* Frees are counted per class here and per byte in totalFree, so that
 * readMemStats' totalFree check holds (Go does this in sweep). */
void mheap_recordSmallFree(runtime *rt, mspan *s, uintptr_t nfreed)
{
	rt->memstats.heapStats.smallFreeCount[spanClass_sizeclass(s->spanclass)] += nfreed;
	rt->gcController.totalFree += nfreed * s->elemsize;
}

void mheap_recordLargeFree(runtime *rt, mspan *s)
{
	rt->memstats.heapStats.largeFree += s->elemsize;
	rt->memstats.heapStats.largeFreeCount++;
	rt->gcController.totalFree += s->elemsize;
}
