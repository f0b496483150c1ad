/*
 * memtest.c — see memtest.h.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "memtest.h"

runtime *mt_newRuntime(void)
{
	runtime *rt = mallocinit("");
	cr_assert_not_null(rt, "mallocinit failed");
	return rt;
}

static void sweepSpan(runtime *rt, mspan *s, uintptr_t *freed)
{
	mheap *h = &rt->mheap_;
	uint32_t sg = h->sweepgen;
	s->sweepgen = sg;
	/* Finalizer records of dead objects go with them. */
	for (special *sp = s->specials; sp != NULL;) {
		special *next = sp->next;
		void *obj = (void *)(s->startAddr + sp->offset);
		if (!isMarked(rt, obj)) {
			special *got = removespecial(rt, obj, sp->kind);
			cr_assert_eq(got, sp);
			freeSpecial(rt, got);
		}
		sp = next;
	}
	uintptr_t nalloc = (uintptr_t)mspan_countAlloc(s);
	uintptr_t nfreed = s->allocCount - nalloc;
	*freed += nfreed;
	s->allocCount = (uint16_t)nalloc;
	s->freeindex = 0;
	s->freeIndexForScan = 0;
	s->allocBits = s->gcmarkBits;
	s->gcmarkBits = newMarkBits(rt, s->nelems);
	cr_assert_not_null(s->gcmarkBits);
	mspan_refillAllocCache(s, 0);
	if (nfreed > 0)
		s->needzero = 1;
	int spc = s->spanclass;
	if (spanClass_sizeclass(s->spanclass) != 0) {
		mheap_recordSmallFree(rt, s, nfreed);
		if (nalloc == 0)
			mheap_freeSpan(rt, s);
		else if (nalloc == s->nelems)
			mSpanList_insert(mcentral_fullSwept(&h->central[spc], sg), s);
		else
			mSpanList_insert(mcentral_partialSwept(&h->central[spc], sg), s);
		return;
	}
	if (nfreed > 0) {
		mheap_recordLargeFree(rt, s);
		mheap_freeSpan(rt, s);
		return;
	}
	mSpanList_insert(mcentral_fullSwept(&h->central[spc], sg), s);
}

uintptr_t mt_collect(runtime *rt, void **keep, size_t n)
{
	mcache_releaseAll(rt, rt->mcache0);
	uint64_t marked = 0;
	for (size_t i = 0; i < n; i++)
		if (keep[i] != NULL && setMarked(rt, keep[i]))
			marked += gcObjectSize(rt, keep[i]);
	rt->mheap_.sweepgen += 2;
	uintptr_t freed = 0;
	mspan *s;
	while ((s = mheap_nextSpanForSweep(rt)) != NULL)
		sweepSpan(rt, s, &freed);
	nextMarkBitArenaEpoch(rt);
	rt->gcController.heapMarked = marked;
	rt->gcController.heapLive = marked;
	return freed;
}

uint64_t mt_totalMapped(runtime *rt)
{
	gcControllerState *g = &rt->gcController;
	mstats *m = &rt->memstats;
	heapStatsDelta *c = &m->heapStats;
	return g->heapInUse.bytes + g->heapFree.bytes + g->heapReleased.bytes + m->stacks_sys.bytes +
	       m->mspan_sys.bytes + m->mcache_sys.bytes + m->buckhash_sys.bytes + m->gcMiscSys.bytes +
	       m->other_sys.bytes + (uint64_t)c->inStacks + (uint64_t)c->inWorkBufs +
	       (uint64_t)c->inPtrScalarBits;
}

void mt_checkStats(runtime *rt)
{
	MemStats m;
	readMemStats(rt, &m); /* aborts on any of Go's six checks */
	cr_assert_eq(m.Sys, m.HeapSys + m.StackSys + m.MSpanSys + m.MCacheSys + m.BuckHashSys +
	                            m.GCSys + m.OtherSys);
	cr_assert_eq(m.HeapIdle + m.HeapInuse, m.HeapSys);
	cr_assert_eq(m.Sys, mt_totalMapped(rt));
	cr_assert_eq(m.MappedReady, m.Sys - m.HeapReleased);
	cr_assert_eq(m.HeapAlloc, m.Alloc);
	cr_assert_eq(m.TotalAlloc, rt->gcController.totalAlloc);
	cr_assert_eq(m.HeapAlloc, rt->gcController.totalAlloc - rt->gcController.totalFree);
	cr_assert_eq(m.HeapObjects, m.Mallocs - m.Frees);
	cr_assert(m.HeapAlloc <= m.HeapInuse, "HeapAlloc %lu > HeapInuse %lu",
	          (unsigned long)m.HeapAlloc, (unsigned long)m.HeapInuse);
}

uint64_t mt_residentBytes(uintptr_t lo, uintptr_t hi)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	cr_assert_not_null(f);
	char line[512];
	uint64_t total = 0;
	bool inRange = false;
	while (fgets(line, sizeof line, f) != NULL) {
		unsigned long a, b, kb;
		/* A mapping header; the kernel may have merged our range with a
		 * neighbour, so every mapping overlapping it counts. */
		if (sscanf(line, "%lx-%lx ", &a, &b) == 2) {
			inRange = a < hi && b > lo;
			continue;
		}
		if (inRange && sscanf(line, "Rss: %lu kB", &kb) == 1)
			total += (uint64_t)kb * 1024;
	}
	fclose(f);
	return total;
}

bool mt_protOf(uintptr_t addr, char prot[5])
{
	FILE *f = fopen("/proc/self/maps", "r");
	cr_assert_not_null(f);
	char line[512];
	bool found = false;
	while (fgets(line, sizeof line, f) != NULL) {
		unsigned long a, b;
		char p[5];
		if (sscanf(line, "%lx-%lx %4s", &a, &b, p) == 3 && a <= addr && addr < b) {
			memcpy(prot, p, 5);
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}

void mt_checkMemStatsSlow(runtime *rt)
{
	MemStats m;
	readMemStats(rt, &m); /* flushes the mcache first */
	mheap *h = &rt->mheap_;
	uint64_t heapAlloc = 0, objects = 0, inuse = 0, pages = 0, manual = 0;
	uint64_t liveByClass[_NumSizeClasses] = {0};
	for (uintptr_t i = 0; i < h->allspansLen; i++) {
		mspan *s = h->allspans[i];
		if (s->state == mSpanInUse) {
			/* Recount allocated slots from the bitmap, not allocCount. */
			uintptr_t n = 0;
			for (uintptr_t j = 0; j < s->nelems; j++)
				if (!mspan_isFree(s, j))
					n++;
			cr_assert_eq(n, s->allocCount, "span %#lx: bitmap %lu vs allocCount %u",
			             (unsigned long)s->startAddr, (unsigned long)n, s->allocCount);
			heapAlloc += n * s->elemsize;
			objects += n;
			liveByClass[spanClass_sizeclass(s->spanclass)] += n;
			inuse += s->npages * pageSize;
			pages += s->npages;
		} else if (s->state == mSpanManual) {
			manual += s->npages * pageSize;
		}
	}
	cr_assert_eq(heapAlloc, m.HeapAlloc, "slow HeapAlloc %lu vs %lu", (unsigned long)heapAlloc,
	             (unsigned long)m.HeapAlloc);
	cr_assert_eq(objects, m.HeapObjects);
	cr_assert_eq(inuse, m.HeapInuse);
	cr_assert_eq(pages, h->pagesInUse, "pagesInUse");
	cr_assert_eq(manual, m.StackInuse + (m.GCSys - rt->memstats.gcMiscSys.bytes));
	for (int c = 1; c < 61; c++)
		cr_assert_eq(liveByClass[c], m.BySize[c].Mallocs - m.BySize[c].Frees, "class %d", c);

	/* Released pages: scavenged bits plus the page cache's. */
	pageAlloc *p = &h->pages;
	uint64_t released = 0;
	for (chunkIdx ci = p->start; ci < p->end; ci++) {
		pallocData *c = pageAlloc_tryChunkOf(p, ci);
		if (c == NULL)
			continue;
		for (unsigned w = 0; w < pallocChunkPages / 64; w++)
			released += (uint64_t)__builtin_popcountll(c->scavenged.b[w]) * pageSize;
	}
	released += (uint64_t)__builtin_popcountll(h->pcache.cache & h->pcache.scav) * pageSize;
	cr_assert_eq(released, m.HeapReleased, "slow HeapReleased %lu vs %lu",
	             (unsigned long)released, (unsigned long)m.HeapReleased);
}
