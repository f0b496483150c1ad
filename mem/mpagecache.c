/*
 * mpagecache.c — a small cache of free pages taken from the page allocator
 * in one 64-page aligned block (mirrors Go's mpagecache.go). Go keeps one per
 * P to avoid the heap lock; a runtime keeps one (one thread).
 *
 * Accounting: pages sitting in a cache are allocated in the chunk bitmaps
 * but still counted in heapFree/heapReleased; the cache carries their
 * scavenged bits until it hands them out or flushes them back.
 */
#include "mem/mpagealloc.h"

static inline unsigned ctz64(uint64_t x) { return x ? (unsigned)__builtin_ctzll(x) : 64; }

/* A run of npages free pages inside the cached block, lowest first. */
static uintptr_t pageCache_allocN(pageCache *c, uintptr_t npages, uintptr_t *scavOut)
{
	unsigned i = findBitRange64(c->cache, (unsigned)npages);
	if (i >= 64)
		return 0;
	uint64_t mask = (npages >= 64 ? ~(uint64_t)0 : (((uint64_t)1 << npages) - 1)) << i;
	unsigned scav = (unsigned)__builtin_popcountll(c->scav & mask);
	c->cache &= ~mask; /* in use */
	c->scav &= ~mask;  /* handed out: the caller makes them Ready */
	*scavOut = (uintptr_t)scav * pageSize;
	return c->base + (uintptr_t)i * pageSize;
}

uintptr_t pageCache_alloc(pageCache *c, uintptr_t npages, uintptr_t *scavOut)
{
	uintptr_t scavDummy;
	if (scavOut == NULL)
		scavOut = &scavDummy;
	*scavOut = 0;
	/* An empty cache, or a request no 64-page block can hold. */
	if (c->cache == 0 || npages == 0 || npages > pageCachePages)
		return 0;
	if (npages == 1) {
		/* lowest free page; its scavenged bit tells the caller to sysUsed it */
		unsigned i = ctz64(c->cache);
		uint64_t scav = (c->scav >> i) & 1;
		c->cache &= ~((uint64_t)1 << i);
		c->scav &= ~((uint64_t)1 << i);
		*scavOut = (uintptr_t)scav * pageSize;
		return c->base + (uintptr_t)i * pageSize;
	}
	return pageCache_allocN(c, npages, scavOut);
}

void pageCache_flush(pageCache *c, pageAlloc *p)
{
	if (pageCache_empty(c))
		return;
	/* The block is 64-aligned inside one chunk. */
	chunkIdx ci = chunkIndex(c->base);
	unsigned pi = chunkPageIndex(c->base);
	pallocData *chunk = pageAlloc_chunkOf(p, ci);
	/* Bit by bit: the cache is usually nearly empty when flushed. */
	for (unsigned i = 0; i < 64; i++) {
		if (c->cache & ((uint64_t)1 << i))
			pallocBits_free1(&chunk->pallocBits, pi + i);
		if (c->scav & ((uint64_t)1 << i))
			pageBits_setRange(&chunk->scavenged, pi + i, 1);
	}
	/* Pages came back below the hint: lower it to keep it a true bound. */
	if (offAddr_lessThan((offAddr){c->base}, p->searchAddr))
		p->searchAddr = (offAddr){c->base};
	pageAlloc_update(p, c->base, pageCachePages, false, false);
	*c = (pageCache){0};
}

pageCache pageAlloc_allocToCache(pageAlloc *p)
{
	/* searchAddr past the last chunk: nothing is free. */
	if (chunkIndex(p->searchAddr.a) >= p->end)
		return (pageCache){0};
	pageCache c = {0};
	chunkIdx ci = chunkIndex(p->searchAddr.a);
	pallocData *chunk;
	if (p->summary[summaryLevels - 1][ci] != 0) {
		/* searchAddr's chunk has a free page: take its block. */
		chunk = pageAlloc_chunkOf(p, ci);
		unsigned j = pallocBits_find(&chunk->pallocBits, 1, chunkPageIndex(p->searchAddr.a), NULL);
		if (j == ~0u)
			mthrow("bad summary data");
		c = (pageCache){
			.base = chunkBase(ci) + alignDown(j, 64) * pageSize,
			.cache = ~pallocBits_pages64(&chunk->pallocBits, j),
			.scav = pageBits_block64(&chunk->scavenged, j),
		};
	} else {
		/* Slow path: search the whole tree for one page. */
		offAddr ignored;
		uintptr_t addr = pageAlloc_find(p, 1, &ignored);
		if (addr == 0) {
			p->searchAddr = maxSearchAddr();
			return (pageCache){0};
		}
		chunk = pageAlloc_chunkOf(p, chunkIndex(addr));
		c = (pageCache){
			.base = alignDown(addr, 64 * pageSize),
			.cache = ~pallocBits_pages64(&chunk->pallocBits, chunkPageIndex(addr)),
			.scav = pageBits_block64(&chunk->scavenged, chunkPageIndex(addr)),
		};
	}
	/* The cache now owns its free pages and their scavenged bits. */
	unsigned cpi = chunkPageIndex(c.base);
	pallocBits_allocPages64(&chunk->pallocBits, cpi, c.cache);
	pageBits_clearBlock64(&chunk->scavenged, cpi, c.cache & c.scav);
	pageAlloc_update(p, c.base, pageCachePages, false, true);
	/* Everything up to the end of the block is now taken. */
	p->searchAddr = (offAddr){c.base + pageSize * (pageCachePages - 1)};
	return c;
}
