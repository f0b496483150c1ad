/*
 * mpagealloc.c — the page allocator (mirrors Go's mpagealloc.go).
 *
 * Free pages are found through a radix tree of packed summaries: level 0
 * entries each cover 16 GiB, level 4 (the leaves) one 4 MiB chunk. Each
 * entry records the free run at its start, the longest free run inside and
 * the free run at its end, so a walk from the root finds the lowest address
 * with npages free in O(levels) without touching bitmaps.
 *
 * Invariants: summaries are exact for every chunk in inUse; every page
 * below searchAddr is allocated; searchAddr always points into inUse (or is
 * maxSearchAddr when the heap is exhausted).
 *
 * A runtime has one thread, so Go's heap lock is implicit: callers hold it.
 */
#include <stdio.h>

#include "mem/mpagealloc.h"
#include "mem/runtime.h"

const unsigned levelBits[summaryLevels] = {
	summaryL0Bits, summaryLevelBits, summaryLevelBits, summaryLevelBits, summaryLevelBits,
};

/* Address bits below each level's index: 34, 31, 28, 25, 22. */
const unsigned levelShift[summaryLevels] = {
	heapAddrBits - summaryL0Bits,
	heapAddrBits - summaryL0Bits - 1 * summaryLevelBits,
	heapAddrBits - summaryL0Bits - 2 * summaryLevelBits,
	heapAddrBits - summaryL0Bits - 3 * summaryLevelBits,
	heapAddrBits - summaryL0Bits - 4 * summaryLevelBits,
};

/* log2 of the pages one entry covers: 21, 18, 15, 12, 9. */
const unsigned levelLogPages[summaryLevels] = {
	logPallocChunkPages + 4 * summaryLevelBits,
	logPallocChunkPages + 3 * summaryLevelBits,
	logPallocChunkPages + 2 * summaryLevelBits,
	logPallocChunkPages + 1 * summaryLevelBits,
	logPallocChunkPages,
};

/* Summary indices at a level covering [base, limit). */
void addrsToSummaryRange(int level, uintptr_t base, uintptr_t limit, int *lo, int *hi)
{
	*lo = (int)((base - arenaBaseOffset) >> levelShift[level]);
	*hi = (int)(((limit - 1) - arenaBaseOffset) >> levelShift[level]) + 1;
}

/* Widens [lo, hi) to whole blocks of siblings (the unit a parent merges). */
void blockAlignSummaryRange(int level, int *lo, int *hi)
{
	uintptr_t e = (uintptr_t)1 << levelBits[level];
	*lo = (int)alignDown((uintptr_t)*lo, e);
	*hi = (int)alignUp((uintptr_t)*hi, e);
}

/* A test allocator (test = true) never releases memory to the OS and never
 * touches the heap statistics: its chunks are address ranges only. */
void pageAlloc_init(pageAlloc *p, runtime *rt, sysMemStat *sysStat, bool test)
{
	/* A root entry's page count must fit a packed summary field. */
	if (levelLogPages[0] > logMaxPackedValue)
		mthrow("root level max pages doesn't fit in summary");
	memInit();
	*p = (pageAlloc){0};
	p->rt = rt;
	p->sysStat = sysStat;
	p->test = test;
	addrRanges_init(&p->inUse, rt, sysStat);
	pageAlloc_sysInit(p);
	/* nothing is known yet: the heap is "exhausted" until grow */
	p->searchAddr = maxSearchAddr();
}

void pageAlloc_release(pageAlloc *p)
{
	if (p->rt == NULL)
		return; /* never initialised */
	/* Whole reservations go, mapped or not. */
	for (int l = 0; l < summaryLevels; l++) {
		if (p->summary[l] != NULL)
			sysFreeOS(p->summary[l], alignUp((uintptr_t)p->summaryCap[l] * pallocSumBytes, physPageSize));
		p->summary[l] = NULL;
	}
	if (p->scav.index.chunks != NULL)
		sysFreeOS(p->scav.index.chunks, p->scav.index.nbytes);
	p->scav.index.chunks = NULL;
	/* sysFreeOS does no accounting: give back by hand exactly what sysGrow
	 * charged (summaries and index), as Go's FreePageAlloc. */
	p->rt->gcController.mappedReady -= p->summaryMappedReady;
	sysMemStat_add(p->sysStat, -(int64_t)p->summaryMappedReady);
	p->summaryMappedReady = 0;
	/* Chunk bitmaps came from sysAlloc on sysStat: accounted both ways. */
	for (unsigned i = 0; i < (1u << pallocChunksL1Bits); i++) {
		if (p->chunks[i] != NULL) {
			sysFree(p->rt, p->chunks[i], sizeof(pallocData) << pallocChunksL2Bits, p->sysStat);
			p->chunks[i] = NULL;
		}
	}
	addrRanges_release(&p->inUse);
}

/*
 * Adds [base, base+size) to the heap, rounded out to whole chunks. New
 * memory arrives Prepared (Go's mheap.grow charged it to heapReleased), so
 * every page of it is marked scavenged until an allocation uses it.
 */
void pageAlloc_grow(pageAlloc *p, uintptr_t base, uintptr_t size)
{
	uintptr_t limit = alignUp(base + size, pallocChunkBytes);
	base = alignDown(base, pallocChunkBytes);

	/* Summaries first: update() below writes them. */
	pageAlloc_sysGrow(p, base, limit);

	/* start == 0 means no growth yet (chunk 0 is never heap memory). */
	bool firstGrowth = p->start == 0;
	chunkIdx start = chunkIndex(base), end = chunkIndex(limit);
	if (firstGrowth || start < p->start)
		p->start = start;
	if (end > p->end)
		p->end = end;
	/* After sysGrow: it needs the ranges as they were to find what is mapped. */
	addrRanges_add(&p->inUse, makeAddrRange(base, limit));

	/* The new memory is free, so it may be below the current hint. */
	if (offAddr_lessThan((offAddr){base}, p->searchAddr))
		p->searchAddr = (offAddr){base};

	for (chunkIdx c = chunkIndex(base); c < chunkIndex(limit); c++) {
		if (p->chunks[chunkIdx_l1(c)] == NULL) {
			/* 1 MiB of bitmaps, zero (all free) from the OS */
			void *r = sysAlloc(p->rt, sizeof(pallocData) << pallocChunksL2Bits, p->sysStat);
			if (r == NULL)
				mthrow("pageAlloc: out of memory");
			p->chunks[chunkIdx_l1(c)] = r;
		}
		pageBits_setRange(&pageAlloc_chunkOf(p, c)->scavenged, 0, pallocChunkPages);
	}
	/* Summarise the whole rounded range (Go passes size/pageSize, which is
	 * the same for the chunk-multiple sizes its heap grows by). */
	pageAlloc_update(p, base, (limit - base) / pageSize, true, false);
}

/*
 * Leaves first, then each parent level while something below changed.
 * contig says the range's middle chunks are wholly allocated (alloc) or
 * wholly free, so their summaries are known without reading bitmaps.
 */
void pageAlloc_update(pageAlloc *p, uintptr_t base, uintptr_t npages, bool contig, bool alloc)
{
	uintptr_t limit = base + npages * pageSize - 1; /* inclusive */
	chunkIdx sc = chunkIndex(base), ec = chunkIndex(limit);
	pallocSum *leaves = p->summary[summaryLevels - 1];

	if (sc == ec) {
		/* One chunk: if its summary did not change, no parent can. */
		pallocSum y = pallocBits_summarize(&pageAlloc_chunkOf(p, sc)->pallocBits);
		if (leaves[sc] == y)
			return;
		leaves[sc] = y;
	} else if (contig) {
		leaves[sc] = pallocBits_summarize(&pageAlloc_chunkOf(p, sc)->pallocBits);
		for (chunkIdx c = sc + 1; c < ec; c++)
			leaves[c] = alloc ? 0 : freeChunkSum;
		leaves[ec] = pallocBits_summarize(&pageAlloc_chunkOf(p, ec)->pallocBits);
	} else {
		for (chunkIdx c = sc; c <= ec; c++)
			leaves[c] = pallocBits_summarize(&pageAlloc_chunkOf(p, c)->pallocBits);
	}

	/* Propagate up. A level whose entries did not change cannot change its
	 * parents, so the walk stops early. */
	bool changed = true;
	for (int l = summaryLevels - 2; l >= 0 && changed; l--) {
		changed = false;
		unsigned logEntriesPerBlock = levelBits[l + 1];
		unsigned logMaxPages = levelLogPages[l + 1];
		int lo, hi;
		addrsToSummaryRange(l, base, limit + 1, &lo, &hi);
		/* each parent summarises its whole block of 8 children */
		for (int i = lo; i < hi; i++) {
			const pallocSum *children = &p->summary[l + 1][(uintptr_t)i << logEntriesPerBlock];
			pallocSum sum = mergeSummaries(children, 1 << logEntriesPerBlock, logMaxPages);
			if (p->summary[l][i] != sum) {
				changed = true;
				p->summary[l][i] = sum;
			}
		}
	}
}

/* Marks the range allocated and returns how many of its bytes were
 * scavenged (the caller must make them Ready). */
uintptr_t pageAlloc_allocRange(pageAlloc *p, uintptr_t base, uintptr_t npages)
{
	uintptr_t limit = base + npages * pageSize - 1;
	chunkIdx sc = chunkIndex(base), ec = chunkIndex(limit);
	unsigned si = chunkPageIndex(base), ei = chunkPageIndex(limit);

	/* Count scavenged pages before allocRange clears their bits. */
	unsigned scav = 0;
	if (sc == ec) {
		pallocData *chunk = pageAlloc_chunkOf(p, sc);
		scav += pageBits_popcntRange(&chunk->scavenged, si, ei + 1 - si);
		pallocData_allocRange(chunk, si, ei + 1 - si);
	} else {
		pallocData *chunk = pageAlloc_chunkOf(p, sc);
		scav += pageBits_popcntRange(&chunk->scavenged, si, pallocChunkPages - si);
		pallocData_allocRange(chunk, si, pallocChunkPages - si);
		/* middle chunks are wholly inside the range */
		for (chunkIdx c = sc + 1; c < ec; c++) {
			chunk = pageAlloc_chunkOf(p, c);
			scav += pageBits_popcntRange(&chunk->scavenged, 0, pallocChunkPages);
			pallocData_allocAll(chunk);
		}
		chunk = pageAlloc_chunkOf(p, ec);
		scav += pageBits_popcntRange(&chunk->scavenged, 0, ei + 1);
		pallocData_allocRange(chunk, 0, ei + 1);
	}
	pageAlloc_update(p, base, npages, true, true);
	return (uintptr_t)scav * pageSize;
}

/*
 * Clamps a candidate search address into memory the allocator knows. Go
 * skips the lookup when addr lies in a mapped heap arena; here inUse is
 * always consulted: it is exact and the call is off the fast path.
 */
static offAddr pageAlloc_findMappedAddr(pageAlloc *p, offAddr addr)
{
	uintptr_t v;
	if (addrRanges_findAddrGreaterEqual(&p->inUse, addr.a, &v))
		return (offAddr){v};
	return maxOffAddr;
}

/* The window of address space known to hold the first free page seen. */
typedef struct findFirstFree {
	offAddr base, bound;
} findFirstFree;

/* Narrows the window to [addr, addr+size) when it lies inside; a range
 * straddling the window means the summaries are corrupt. */
static void foundFree(findFirstFree *ff, offAddr addr, uintptr_t size)
{
	if (offAddr_lessEqual(ff->base, addr) && offAddr_lessEqual(offAddr_add(addr, size - 1), ff->bound)) {
		ff->base = addr;
		ff->bound = offAddr_add(addr, size - 1);
	} else if (!(offAddr_lessThan(offAddr_add(addr, size - 1), ff->base) ||
	             offAddr_lessThan(ff->bound, addr))) {
		fprintf(stderr, "runtime: addr = %#lx, size = %lu\n", (unsigned long)addr.a, (unsigned long)size);
		fprintf(stderr, "runtime: base = %#lx, bound = %#lx\n", (unsigned long)ff->base.a,
		        (unsigned long)ff->bound.a);
		mthrow("range partially overlaps");
	}
}

static _Noreturn void badSummary(pageAlloc *p, int l, int i, pallocSum lastSum, int lastSumIdx,
                                 uintptr_t npages)
{
	fprintf(stderr, "runtime: summary[%d][%d] = %u, %u, %u\n", l - 1, lastSumIdx,
	        pallocSum_start(lastSum), pallocSum_max(lastSum), pallocSum_end(lastSum));
	fprintf(stderr, "runtime: level = %d, npages = %lu\n", l, (unsigned long)npages);
	fprintf(stderr, "runtime: p.searchAddr = %#lx, i = %d\n", (unsigned long)p->searchAddr.a, i);
	mthrow("bad summary data");
}

/*
 * The walk descends into the first entry whose max fits npages, or stops at
 * a level when a run spanning adjacent entries fits (the run's start is then
 * exact: a fitting run must begin at an entry's end or start). firstFree
 * narrows to the first free region seen, which becomes the new search hint:
 * nothing below it is free.
 */
uintptr_t pageAlloc_find(pageAlloc *p, uintptr_t npages, offAddr *searchAddrOut)
{
	/* i: index of the first entry of the block examined at this level. */
	int i = 0;
	findFirstFree ff = {minOffAddr, maxOffAddr};
	pallocSum lastSum = packPallocSum(0, 0, 0);
	int lastSumIdx = -1;

	for (int l = 0; l < summaryLevels; l++) {
		int entriesPerBlock = 1 << levelBits[l];
		unsigned logMaxPages = levelLogPages[l];

		/* Descend: the block is the children of the entry chosen above. */
		i <<= levelBits[l];
		const pallocSum *entries = &p->summary[l][i];

		/* Start at searchAddr when it lies in this block: nothing free below it. */
		int j0 = 0;
		int searchIdx = offAddrToLevelIndex(l, p->searchAddr);
		if ((searchIdx & ~(entriesPerBlock - 1)) == i)
			j0 = searchIdx & (entriesPerBlock - 1);

		/* A free run (base, size) in pages relative to the block, which may
		 * span several entries. */
		uintptr_t base = 0, size = 0;
		bool descend = false;
		for (int j = j0; j < entriesPerBlock; j++) {
			pallocSum sum = entries[j];
			if (sum == 0) {
				size = 0;
				continue;
			}
			foundFree(&ff, levelIndexToOffAddr(l, i + j), ((uintptr_t)1 << logMaxPages) * pageSize);

			uintptr_t s = pallocSum_start(sum);
			if (size + s >= npages) {
				/* The run so far plus this entry's start suffices. */
				if (size == 0)
					base = (uintptr_t)j << logMaxPages;
				size += s;
				break;
			}
			if (pallocSum_max(sum) >= npages) {
				/* It fits inside this entry: look at its children. */
				i += j;
				lastSumIdx = i;
				lastSum = sum;
				descend = true;
				break;
			}
			if (size == 0 || s < ((uintptr_t)1 << logMaxPages)) {
				/* The run restarts with this entry's end. */
				size = pallocSum_end(sum);
				base = ((uintptr_t)(j + 1) << logMaxPages) - size;
				continue;
			}
			/* Entirely free entry: the run goes on. */
			size += (uintptr_t)1 << logMaxPages;
		}
		if (descend)
			continue;
		if (size >= npages) {
			uintptr_t addr = offAddr_add(levelIndexToOffAddr(l, i), (uintptr_t)base * pageSize).a;
			*searchAddrOut = pageAlloc_findMappedAddr(p, ff.base);
			return addr;
		}
		if (l == 0) {
			/* Nothing anywhere. */
			*searchAddrOut = maxSearchAddr();
			return 0;
		}
		/* The parent promised a fit that its children do not have. */
		badSummary(p, l, i, lastSum, lastSumIdx, npages);
	}

	/* At the leaves i is a chunk index whose max fits: search its bitmap
	 * from the start (searchAddr only bounds the tree walk). */
	chunkIdx ci = (chunkIdx)i;
	unsigned searchIdx;
	unsigned j = pallocBits_find(&pageAlloc_chunkOf(p, ci)->pallocBits, npages, 0, &searchIdx);
	if (j == ~0u) {
		pallocSum sum = p->summary[summaryLevels - 1][i];
		fprintf(stderr, "runtime: summary[%d][%d] = (%u, %u, %u)\n", summaryLevels - 1, i,
		        pallocSum_start(sum), pallocSum_max(sum), pallocSum_end(sum));
		fprintf(stderr, "runtime: npages = %lu\n", (unsigned long)npages);
		mthrow("bad summary data");
	}
	uintptr_t addr = chunkBase(ci) + (uintptr_t)j * pageSize;
	/* the chunk's first free page narrows the hint window further */
	uintptr_t searchAddr = chunkBase(ci) + (uintptr_t)searchIdx * pageSize;
	foundFree(&ff, (offAddr){searchAddr}, chunkBase(ci + 1) - searchAddr);
	*searchAddrOut = pageAlloc_findMappedAddr(p, ff.base);
	return addr;
}

uintptr_t pageAlloc_alloc(pageAlloc *p, uintptr_t npages, uintptr_t *scavOut)
{
	uintptr_t addr;
	offAddr searchAddr = minOffAddr;
	if (scavOut)
		*scavOut = 0;

	/* searchAddr beyond the last chunk: the heap is full. */
	if (chunkIndex(p->searchAddr.a) >= p->end)
		return 0;

	/* Fast path: the run may be in searchAddr's own chunk. */
	if (pallocChunkPages - chunkPageIndex(p->searchAddr.a) >= npages) {
		chunkIdx i = chunkIndex(p->searchAddr.a);
		unsigned max = pallocSum_max(p->summary[summaryLevels - 1][i]);
		if (max >= npages) {
			unsigned searchIdx;
			unsigned j = pallocBits_find(&pageAlloc_chunkOf(p, i)->pallocBits, npages,
			                             chunkPageIndex(p->searchAddr.a), &searchIdx);
			if (j == ~0u) {
				fprintf(stderr, "runtime: max = %u, npages = %lu\n", max, (unsigned long)npages);
				fprintf(stderr, "runtime: searchIdx = %u, p.searchAddr = %#lx\n",
				        chunkPageIndex(p->searchAddr.a), (unsigned long)p->searchAddr.a);
				mthrow("bad summary data");
			}
			addr = chunkBase(i) + (uintptr_t)j * pageSize;
			searchAddr = (offAddr){chunkBase(i) + (uintptr_t)searchIdx * pageSize};
			goto found;
		}
	}
	addr = pageAlloc_find(p, npages, &searchAddr);
	if (addr == 0) {
		/* No single page free means the whole heap is in use. */
		if (npages == 1)
			p->searchAddr = maxSearchAddr();
		return 0;
	}
found:;
	uintptr_t scav = pageAlloc_allocRange(p, addr, npages);
	/* Only ever raise the hint: a lower one is still correct, just slower. */
	if (offAddr_lessThan(p->searchAddr, searchAddr))
		p->searchAddr = searchAddr;
	if (scavOut)
		*scavOut = scav;
	return addr;
}

void pageAlloc_freeScav(pageAlloc *p, uintptr_t base, uintptr_t npages, bool scavenged)
{
	/* Keep searchAddr a lower bound of the free pages. */
	if (offAddr_lessThan((offAddr){base}, p->searchAddr))
		p->searchAddr = (offAddr){base};
	uintptr_t limit = base + npages * pageSize - 1;
	/* Free Ready pages are what the scavenger looks for. */
	if (!scavenged)
		scavengeIndex_mark(&p->scav.index, base, limit + 1);
	/* Scavenged bits are left alone: freed pages are Ready (or the caller
	 * sets the bits after releasing them). */
	if (npages == 1) {
		pallocBits_free1(&pageAlloc_chunkOf(p, chunkIndex(base))->pallocBits, chunkPageIndex(base));
	} else {
		chunkIdx sc = chunkIndex(base), ec = chunkIndex(limit);
		unsigned si = chunkPageIndex(base), ei = chunkPageIndex(limit);
		if (sc == ec) {
			pallocBits_free(&pageAlloc_chunkOf(p, sc)->pallocBits, si, ei + 1 - si);
		} else {
			pallocBits_free(&pageAlloc_chunkOf(p, sc)->pallocBits, si, pallocChunkPages - si);
			for (chunkIdx c = sc + 1; c < ec; c++)
				pallocBits_freeAll(&pageAlloc_chunkOf(p, c)->pallocBits);
			pallocBits_free(&pageAlloc_chunkOf(p, ec)->pallocBits, 0, ei + 1);
		}
	}
	pageAlloc_update(p, base, npages, true, false);
}

/* The heap's frees: its spans' pages are always Ready. */
void pageAlloc_free(pageAlloc *p, uintptr_t base, uintptr_t npages)
{
	pageAlloc_freeScav(p, base, npages, false);
}
