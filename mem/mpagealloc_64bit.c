/*
 * mpagealloc_64bit.c — summary and scavenge-index memory on 64-bit (mirrors
 * Go's mpagealloc_64bit.go).
 *
 * Each summary level is one array indexed by address: reserved whole at
 * init (~585 MiB of address space, no memory), then mapped piecewise as the
 * heap grows. Mapped pieces go straight to Ready (sysMap then sysUsed(n, n))
 * and are charged to the allocator's sysStat; summaryMappedReady remembers
 * the total because nothing else could recompute it at teardown.
 */
#include "mem/mpagealloc.h"
#include "mem/runtime.h"

void pageAlloc_sysInit(pageAlloc *p)
{
	for (int l = 0; l < summaryLevels; l++) {
		uintptr_t entries = (uintptr_t)1 << (heapAddrBits - levelShift[l]);
		uintptr_t b = alignUp(entries * pallocSumBytes, physPageSize);
		void *r = sysReserve(NULL, b);
		if (r == NULL)
			mthrow("failed to reserve page summary memory");
		p->summary[l] = r;
		p->summaryLen[l] = 0;
		p->summaryCap[l] = (int)entries;
	}
	/* One bit per chunk of the whole address space. */
	uintptr_t nbytes = ((uintptr_t)1 << heapAddrBits) / pallocChunkBytes / 8;
	void *r = sysReserve(NULL, nbytes);
	if (r == NULL)
		mthrow("failed to reserve scavenge index memory");
	p->scav.index.chunks = r;
	p->scav.index.nbytes = nbytes;
	p->scav.index.searchAddr = minOffAddr;
}

/* The summary indices at level l that [r.base, r.limit) needs, whole blocks. */
static void addrRangeToSummaryRange(int level, addrRange r, int *lo, int *hi)
{
	addrsToSummaryRange(level, r.base.a, r.limit.a, lo, hi);
	blockAlignSummaryRange(level, lo, hi);
}

/* The page-aligned bytes of the level-l array holding entries [lo, hi). */
static addrRange summaryRangeToSumAddrRange(pageAlloc *p, int level, int lo, int hi)
{
	uintptr_t baseOffset = alignDown((uintptr_t)lo * pallocSumBytes, physPageSize);
	uintptr_t limitOffset = alignUp((uintptr_t)hi * pallocSumBytes, physPageSize);
	uintptr_t base = (uintptr_t)p->summary[level];
	return (addrRange){{base + baseOffset}, {base + limitOffset}};
}

static addrRange addrRangeToSumAddrRange(pageAlloc *p, int level, addrRange r)
{
	int lo, hi;
	addrRangeToSummaryRange(level, r, &lo, &hi);
	return summaryRangeToSumAddrRange(p, level, lo, hi);
}

/*
 * Maps the summary memory for [base, limit), both chunk-aligned. Must run
 * before [base, limit) joins inUse: the neighbouring inUse ranges tell which
 * pages of each level are already mapped (page rounding makes them overlap),
 * and ranges in inUse never overlap, so only the two neighbours matter.
 */
void pageAlloc_sysGrow(pageAlloc *p, uintptr_t base, uintptr_t limit)
{
	if (base % pallocChunkBytes != 0 || limit % pallocChunkBytes != 0) {
		mthrow("sysGrow bounds not aligned to pallocChunkBytes");
	}
	int inUseIndex = addrRanges_findSucc(&p->inUse, base);
	for (int l = 0; l < summaryLevels; l++) {
		int needLo, needHi;
		addrRangeToSummaryRange(l, makeAddrRange(base, limit), &needLo, &needHi);
		if (needHi > p->summaryLen[l])
			p->summaryLen[l] = needHi;

		addrRange need = summaryRangeToSumAddrRange(p, l, needLo, needHi);
		if (inUseIndex > 0)
			need = addrRange_subtract(need, addrRangeToSumAddrRange(p, l, p->inUse.ranges[inUseIndex - 1]));
		if (inUseIndex < p->inUse.len)
			need = addrRange_subtract(need, addrRangeToSumAddrRange(p, l, p->inUse.ranges[inUseIndex]));
		uintptr_t n = addrRange_size(need);
		if (n == 0)
			continue;
		sysMap(p->rt, (void *)need.base.a, n, p->sysStat);
		sysUsed(p->rt, (void *)need.base.a, n, n);
		p->summaryMappedReady += n;
	}
	p->summaryMappedReady += scavengeIndex_grow(&p->scav.index, p->rt, base, limit, p->sysStat);
}

/*
 * Maps the index bytes covering chunks [base, limit). The mapped part stays
 * one contiguous range [min, max): a gap between the old and new ranges is
 * mapped too. Returns the bytes newly mapped Ready.
 */
uintptr_t scavengeIndex_grow(scavengeIndex *s, runtime *rt, uintptr_t base, uintptr_t limit,
                             sysMemStat *sysStat)
{
	if (base % pallocChunkBytes != 0 || limit % pallocChunkBytes != 0)
		mthrow("sysGrow bounds not aligned to pallocChunkBytes");
	int32_t haveMin = s->min, haveMax = s->max;
	int32_t needMin = (int32_t)alignDown(chunkIndex(base) / 8, physPageSize);
	int32_t needMax = (int32_t)alignUp((chunkIndex(limit) + 7) / 8, physPageSize);
	/* Stay contiguous with what is mapped. Go 1.19 also applies this on the
	 * first growth, when [min, max) is the empty [0, 0): that maps every
	 * index byte below the heap (4 MiB Ready for a heap at 0xc000000000) that
	 * is never touched. Gale skips the clamp while nothing is mapped. */
	if (haveMax > haveMin) {
		if (needMax < haveMin)
			needMax = haveMin;
		if (needMin > haveMax)
			needMin = haveMax;
	}
	uintptr_t base0 = (uintptr_t)s->chunks;
	addrRange have = makeAddrRange(base0 + (uintptr_t)haveMin, base0 + (uintptr_t)haveMax);
	addrRange need = makeAddrRange(base0 + (uintptr_t)needMin, base0 + (uintptr_t)needMax);
	need = addrRange_subtract(need, have);
	uintptr_t n = addrRange_size(need);
	if (n != 0) {
		sysMap(rt, (void *)need.base.a, n, sysStat);
		sysUsed(rt, (void *)need.base.a, n, n);
		if (haveMax == haveMin || needMin < haveMin)
			s->min = needMin;
		if (haveMax == haveMin || needMax > haveMax)
			s->max = needMax;
	}
	int32_t baseIdx = (int32_t)(chunkIndex(base) / 8);
	if (s->minHeapIdx == 0 || baseIdx < s->minHeapIdx)
		s->minHeapIdx = baseIdx;
	return n;
}
