/*
 * malloc.c — object allocation and the low-level off-heap allocators
 * (Go's malloc.go): mallocgc, persistentalloc, linearAlloc,
 * sysReserveAligned, and creating and releasing a runtime.
 *
 * Gale has no tiny allocator: every object starts with its own kind byte,
 * so two tiny objects cannot share a 16-byte block the way Go combines
 * pointer-free allocations (the collector could not tell them apart). The
 * smallest object is therefore 8 bytes, size class 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mem/malloc.h"
#include "mem/mcache.h"
#include "mem/mcentral.h"
#include "mem/runtime.h"

/* ---- persistentalloc ---- */

void *persistentalloc(runtime *rt, uintptr_t size, uintptr_t align, sysMemStat *stat)
{
	if (align != 0) {
		if ((align & (align - 1)) != 0)
			mthrow("persistentalloc: align is not a power of 2");
		if (align > pageSize)
			mthrow("persistentalloc: align is too large");
	} else {
		align = 8;
	}
	persistentAlloc *pa = &rt->persistent;

	if (size >= persistentMaxBlock) {
		/* Big blocks get their own mapping, rounded to whole pages so the
		 * stat matches what the kernel can make resident. A record lets the
		 * runtime's release unmap it. */
		persistentBlock *rec = persistentalloc(rt, sizeof *rec, 0, &rt->memstats.other_sys);
		if (rec == NULL)
			return NULL;
		uintptr_t n = alignUp(size, physPageSize);
		void *p = sysAlloc(rt, n, stat);
		if (p == NULL)
			return NULL;
		rec->base = (uintptr_t)p;
		rec->size = n;
		rec->next = pa->large;
		pa->large = rec;
		return p;
	}

	/* Bump inside the current chunk; a request that does not fit
	 * abandons the chunk's tail (it stays charged to other_sys). */
	uintptr_t off = alignUp(pa->off, align);
	if (pa->base == 0 || off + size > persistentChunkSize) {
		/* A new chunk, charged whole to other_sys; bytes move to the
		 * caller's stat as they are handed out. */
		void *chunk = sysAlloc(rt, persistentChunkSize, &rt->memstats.other_sys);
		if (chunk == NULL)
			return NULL;
		/* Chunks are linked through their first word for release. */
		*(uintptr_t *)chunk = pa->chunks;
		pa->chunks = (uintptr_t)chunk;
		pa->base = (uintptr_t)chunk;
		off = alignUp(sizeof(uintptr_t), align);
	}
	void *p = (void *)(pa->base + off);
	pa->off = off + size;
	/* Move the bytes from other_sys to the caller's stat: the sum of
	 * all stats is unchanged, so Sys still equals what was mapped. */
	if (stat != &rt->memstats.other_sys) {
		sysMemStat_add(stat, (int64_t)size);
		sysMemStat_add(&rt->memstats.other_sys, -(int64_t)size);
	}
	return p;
}

static void persistent_release(runtime *rt)
{
	persistentAlloc *pa = &rt->persistent;
	/* Records live in chunks: unmap the large blocks first. */
	for (persistentBlock *b = pa->large; b != NULL; b = b->next)
		sysFreeOS((void *)b->base, b->size);
	for (uintptr_t c = pa->chunks; c != 0;) {
		uintptr_t next = *(uintptr_t *)c;
		sysFreeOS((void *)c, persistentChunkSize);
		c = next;
	}
	memset(pa, 0, sizeof *pa);
}

/* ---- linearAlloc ---- */

void linearAlloc_init(linearAlloc *l, uintptr_t base, uintptr_t size, bool mapMemory)
{
	/* A region ending exactly at the top of the address space would make
	 * end wrap to 0: give up its last byte. */
	if (base + size < base)
		size--;
	l->next = l->mapped = base;
	l->end = base + size;
	l->mapMemory = mapMemory;
}

void *linearAlloc_alloc(runtime *rt, linearAlloc *l, uintptr_t size, uintptr_t align,
                        sysMemStat *stat)
{
	uintptr_t p = alignUp(l->next, align);
	/* Exhausted (or wrapped): the caller falls back elsewhere. */
	if (p + size < p || p + size > l->end)
		return NULL;
	/* Map every page the allocation touches. (Go rounds next-1, which
	 * leaves the first page of an allocation ending on a boundary
	 * unmapped in one corner case; rounding next covers it.) */
	uintptr_t pEnd = alignUp(p + size, physPageSize);
	if (pEnd > l->mapped) {
		if (l->mapMemory) {
			uintptr_t n = pEnd - l->mapped;
			/* Reserved -> Prepared -> Ready at once: metadata is used
			 * immediately. */
			if (!sysMap(rt, (void *)l->mapped, n, stat))
				return NULL;
			sysUsed(rt, (void *)l->mapped, n, n);
		}
		l->mapped = pEnd;
	}
	l->next = p + size;
	return (void *)p;
}

/* ---- reservations ---- */

void *sysReserveAligned(void *v, uintptr_t size, uintptr_t align, uintptr_t *outSize)
{
	/* Over-reserve by align so an aligned block of size fits inside. */
	uintptr_t p = (uintptr_t)sysReserve(v, size + align);
	if (p == 0) {
		*outSize = 0;
		return NULL;
	}
	if ((p & (align - 1)) == 0) {
		/* Already aligned: keep the whole reservation. */
		*outSize = size + align;
		return (void *)p;
	}
	/* Exception 2: trim the head and tail. Reserved memory was never
	 * accounted, so it goes back with sysFreeOS. */
	uintptr_t pAligned = alignUp(p, align);
	sysFreeOS((void *)p, pAligned - p);
	uintptr_t end = pAligned + size;
	uintptr_t endLen = (p + size + align) - end;
	if (endLen > 0)
		sysFreeOS((void *)end, endLen);
	*outSize = size;
	return (void *)pAligned;
}

/* ---- debug variables ---- */

void parsedebugvars(runtime *rt, const char *s)
{
	if (s == NULL)
		return;
	/* Items are name=value separated by commas, as GODEBUG. */
	while (*s != '\0') {
		const char *end = strchr(s, ',');
		size_t len = end ? (size_t)(end - s) : strlen(s);
		const char *eq = memchr(s, '=', len);
		if (eq != NULL) {
			size_t nlen = (size_t)(eq - s);
			/* Decimal value; anything malformed leaves the variable alone. */
			const char *v = eq + 1;
			bool ok = v < s + len;
			int64_t val = 0;
			for (const char *q = v; q < s + len; q++) {
				if (*q < '0' || *q > '9' || val > (INT64_MAX - 9) / 10) {
					ok = false;
					break;
				}
				val = val * 10 + (*q - '0');
			}
			if (ok) {
#define DEBUGVAR(name, field)                                                      \
	if (nlen == sizeof(name) - 1 && memcmp(s, name, nlen) == 0)                \
		rt->debug.field = (__typeof__(rt->debug.field))(val > INT32_MAX && \
		                  sizeof(rt->debug.field) == 4 ? INT32_MAX : val);
				DEBUGVAR("gctrace", gctrace)
				DEBUGVAR("scavtrace", scavtrace)
				DEBUGVAR("gcpacertrace", gcpacertrace)
				DEBUGVAR("gcstress", gcstress)
				DEBUGVAR("dlog", dlog)
				DEBUGVAR("failalloc", failalloc)
#undef DEBUGVAR
			}
		}
		s += len;
		if (*s == ',')
			s++;
	}
}

/* ---- runtime creation and release ---- */

static uintptr_t runtimeStructBytes(void) { return alignUp(sizeof(runtime), physPageSize); }

runtime *mallocinit(const char *debug)
{
	memInit();
	/* The runtime struct is charged to its own other_sys: map it through a
	 * zeroed bootstrap runtime, then carry the two counters over. */
	runtime boot;
	memset(&boot, 0, sizeof boot);
	runtime *rt = sysAlloc(&boot, runtimeStructBytes(), &boot.memstats.other_sys);
	if (rt == NULL)
		return NULL;
	rt->gcController.mappedReady = boot.gcController.mappedReady;
	rt->memstats.other_sys = boot.memstats.other_sys;

	/* Go's defaults: GOGC 100, no limit, a 4 MiB minimum heap goal. */
	gcControllerState *gc = &rt->gcController;
	gc->gcPercent = 100;
	gc->memoryLimit = INT64_MAX;
	gc->heapMinimum = (uint64_t)4 << 20;
	gc->gcPercentHeapGoal = gc->heapMinimum;
	/* Without the pacer, start a cycle 61/64 of the way to the minimum goal. */
	gc->trigger = gc->heapMinimum / 64 * 61;
	gc->triggered = ~(uint64_t)0;
	rt->memstats.enablegc = 1;
	/* The library never reads the environment: the program or host passes
	 * its GALEDEBUG string (NULL means no switches). */
	parsedebugvars(rt, debug);

	mheap_init(rt);
	rt->scavenge.gcPercentGoal = ~(uint64_t)0;
	rt->scavenge.memoryLimitGoal = ~(uint64_t)0;
	/* Arena hints from 0x00c000000000 up, one every 2^40 bytes, as Go:
	 * pushed in reverse so the list starts at the lowest. */
	for (int i = 0x7f; i >= 0; i--) {
		arenaHint *hint = fixalloc_alloc(&rt->mheap_.arenaHintAlloc);
		if (hint == NULL)
			goto fail;
		hint->addr = (uintptr_t)i << 40 | (uintptr_t)0x00c0 << 32;
		hint->down = false;
		hint->next = rt->mheap_.arenaHints;
		rt->mheap_.arenaHints = hint;
	}
	/* Go's mcache0: the cache of the one (and only) P. */
	rt->mcache0 = allocmcache(rt);
	if (rt->mcache0 == NULL)
		goto fail;
	return rt;

fail:
	runtimeRelease(rt);
	return NULL;
}

void runtimeRelease(runtime *rt)
{
	if (rt == NULL)
		return;
	if (rt->debug.dlog)
		dlog_dump(rt);
	dlog_release(rt);
	/* The heap first (it reads metadata held in persistent chunks), the
	 * chunks after. */
	mheap_release(rt);
	gcBits_release(rt);
	persistent_release(rt);
	/* The struct itself last: teardown, like every mapping above. */
	sysFreeOS(rt, runtimeStructBytes());
}

/* ---- mallocgc ---- */

/* Go's nextFreeFast: the next free slot from allocCache, or 0. */
static inline uintptr_t nextFreeFast(mspan *s)
{
	/* No free slot in the current 64-slot window: slow path. */
	if (s->allocCache == 0)
		return 0;
	unsigned theBit = (unsigned)__builtin_ctzll(s->allocCache);
	uintptr_t result = s->freeindex + theBit;
	if (result < s->nelems) {
		uintptr_t freeidx = result + 1;
		/* At a 64-slot boundary the cache needs a refill: slow path. */
		if (freeidx % 64 == 0 && freeidx != s->nelems)
			return 0;
		s->allocCache = theBit == 63 ? 0 : s->allocCache >> (theBit + 1);
		s->freeindex = freeidx;
		s->allocCount++;
		return s->startAddr + result * s->elemsize;
	}
	return 0;
}

/* Go's mcache.nextFree: a slot from the cached span, refilling it when
 * full. 0 on out of memory. */
static uintptr_t mcache_nextFree(runtime *rt, mcache *c, spanClass spc, mspan **sp)
{
	mspan *s = c->alloc[spc];
	uintptr_t freeIndex = mspan_nextFreeIndex(s);
	/* The cached span is full: swap it for one with room. */
	if (freeIndex == s->nelems) {
		if (s->allocCount != s->nelems)
			mthrow("s.allocCount != s.nelems && freeIndex == s.nelems");
		if (!mcache_refill(rt, c, spc))
			return 0;
		s = c->alloc[spc];
		freeIndex = mspan_nextFreeIndex(s);
	}
	if (freeIndex >= s->nelems)
		mthrow("freeIndex is not valid");
	s->allocCount++;
	if (s->allocCount > s->nelems)
		mthrow("s.allocCount > s.nelems");
	*sp = s;
	return s->startAddr + freeIndex * s->elemsize;
}

/* Bytes of new heap span this allocation would need (0 if a cached or
 * partial span has room): what maxHeap is checked against. */
static uintptr_t newSpanBytes(runtime *rt, uintptr_t size, bool noscan)
{
	if (size > _MaxSmallSize)
		return alignUp(size, pageSize);
	uint8_t sizeclass = sizeToClass(size);
	spanClass spc = makeSpanClass(sizeclass, noscan);
	mspan *s = rt->mcache0->alloc[spc];
	if (s->allocCount < s->nelems)
		return 0;
	/* A swept partial span would be taken before any new one. */
	mcentral *c = &rt->mheap_.central[spc];
	if (!mSpanList_isEmpty(mcentral_partialSwept(c, rt->mheap_.sweepgen)))
		return 0;
	return (uintptr_t)class_to_allocnpages[sizeclass] * pageSize;
}

/* The cap covers heap spans and stacks: what the program itself holds,
 * not metadata or free pages. */
static bool exceedsMaxHeap(runtime *rt, uintptr_t size, bool noscan)
{
	if (rt->maxHeap <= 0)
		return false;
	uint64_t used = sysMemStat_load(&rt->gcController.heapInUse) +
	                (uint64_t)rt->memstats.heapStats.inStacks;
	return used + newSpanBytes(rt, size, noscan) > (uint64_t)rt->maxHeap;
}

/* gcRunning brackets the hook so allocations made during the collection
 * (finalizers, work buffers) never start another. */
static void collect(runtime *rt, int why)
{
	rt->gcRunning = true;
	rt->gcHook.collect(rt, why);
	rt->gcRunning = false;
}

/* Everything mallocgc may have to do: collect first, check the hard cap,
 * refill the span, allocate a large object, inject a fault. */
static __attribute__((noinline)) void *mallocgc_slow(runtime *rt, size_t size, uint8_t kind,
                                                     bool needzero)
{
	/* Fault injection: exactly the N-th call fails. */
	if (rt->debug.failalloc > 0 && rt->mallocCount == (uint64_t)rt->debug.failalloc)
		return NULL;
	/* Collect before allocating, so the new (not yet rooted) object cannot
	 * be swept by the collection its own allocation triggers. */
	bool canCollect = rt->gcHook.collect != NULL && !rt->gcRunning && !rt->mheap_.locked &&
	                  rt->locks == 0;
	bool collected = false;
	if (canCollect) {
		if (rt->debug.gcstress > 0 && rt->mallocCount % (uint64_t)rt->debug.gcstress == 0) {
			collect(rt, GC_TRIGGER_STRESS);
			collected = true;
		} else if (rt->gcController.heapLive >= rt->gcController.trigger) {
			collect(rt, GC_TRIGGER_HEAP);
			collected = true;
		}
	}
	/* Go returns &zerobase for size 0; here every object needs its kind
	 * byte, so it gets the smallest slot. */
	if (size == 0)
		size = 1;
	if (size > maxAlloc)
		return NULL;
	bool noscan = kind < 64 && rt->kindNoscan[kind];
	/* Hard cap: one full collection (unless one just ran), then give up
	 * with NULL. */
	if (exceedsMaxHeap(rt, size, noscan)) {
		if (canCollect && !collected)
			collect(rt, GC_TRIGGER_OOM);
		if (exceedsMaxHeap(rt, size, noscan))
			return NULL;
	}

	mcache *c = rt->mcache0;
	mspan *span;
	uintptr_t x;
	uintptr_t elemsize;
	if (size <= _MaxSmallSize) {
		uint8_t sizeclass = sizeToClass(size);
		spanClass spc = makeSpanClass(sizeclass, noscan);
		span = c->alloc[spc];
		x = nextFreeFast(span);
		if (x == 0 && (x = mcache_nextFree(rt, c, spc, &span)) == 0)
			return NULL;
		elemsize = span->elemsize;
		/* Slots that were never handed out since the pages were fresh
		 * are still zero. */
		if (needzero && span->needzero)
			memset((void *)x, 0, elemsize);
	} else {
		/* Large: a class-0 span of whole pages holding one object. */
		span = mcache_allocLarge(rt, c, size, noscan);
		if (span == NULL)
			return NULL;
		span->freeindex = 1;
		span->allocCount = 1;
		x = span->startAddr;
		elemsize = span->elemsize;
		if (needzero && span->needzero)
			memset((void *)x, 0, size);
	}
	/* Scannable bytes feed the pacer's heapScan at the next refill. */
	if (!noscan)
		c->scanAlloc += elemsize;
	*(uint8_t *)x = kind;
	return (void *)x;
}

/* Go's mallocgc fast path, kept small so that it saves no registers: no
 * collection due, no debug setting or hard cap, a small object, and a free
 * slot in the span cached for its class. */
void *mallocgc(runtime *rt, size_t size, uint8_t kind, bool needzero)
{
	rt->mallocCount++;
	if (__builtin_expect(rt->gcController.heapLive < rt->gcController.trigger &&
	                             (rt->debug.gcstress | rt->debug.failalloc) == 0 && rt->maxHeap <= 0 &&
	                             size - 1 < _MaxSmallSize && kind < 64,
	                     1)) {
		bool noscan = rt->kindNoscan[kind];
		mcache *c = rt->mcache0;
		mspan *span = c->alloc[makeSpanClass(sizeToClass(size), noscan)];
		uintptr_t x = nextFreeFast(span);
		if (__builtin_expect(x != 0, 1)) {
			uintptr_t elemsize = span->elemsize;
			if (needzero && span->needzero)
				memset((void *)x, 0, elemsize);
			if (!noscan)
				c->scanAlloc += elemsize;
			*(uint8_t *)x = kind;
			return (void *)x;
		}
	}
	return mallocgc_slow(rt, size, kind, needzero);
}

size_t gcObjectSize(runtime *rt, void *obj)
{
	mspan *s = spanOfHeap(rt, (uintptr_t)obj);
	return s == NULL ? 0 : s->elemsize;
}
