/*
 * A randomized workload on a test page allocator, checked against a simple
 * model after every step: allocation is address-ordered first fit and
 * reports exactly the scavenged pages it takes; no page is ever both
 * allocated and scavenged (Go's TestScavengedBitsCleared); every summary
 * equals the one recomputed from the bitmaps or the children; every page
 * below searchAddr is allocated; scavenging releases only free pages.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "page/pagetest.h"

#define NCHUNKS 4
#define NPAGES (NCHUNKS * pallocChunkPages)

static bool modelAlloc[NPAGES], modelScav[NPAGES];

static pallocData *chunkOfPage(pageAlloc *p, unsigned i)
{
	return pageAlloc_chunkOf(p, BaseChunkIdx + i / pallocChunkPages);
}

/* Lowest run of n free pages in the model, or -1. */
static long modelFirstFit(unsigned n)
{
	unsigned run = 0;
	for (unsigned i = 0; i < NPAGES; i++) {
		run = modelAlloc[i] ? 0 : run + 1;
		if (run == n)
			return (long)(i + 1 - n);
	}
	return -1;
}

static void checkState(pageAlloc *p, int step)
{
	/* bitmaps match the model; no page allocated and scavenged */
	for (unsigned i = 0; i < NPAGES; i++) {
		pallocData *d = chunkOfPage(p, i);
		bool a = pageBits_get(&d->pallocBits, i % pallocChunkPages);
		bool s = pageBits_get(&d->scavenged, i % pallocChunkPages);
		if (a != modelAlloc[i] || s != modelScav[i])
			cr_assert_fail("step %d: page %u: alloc %d/%d scav %d/%d", step, i, a, modelAlloc[i], s,
			               modelScav[i]);
		if (a && s)
			cr_assert_fail("step %d: page %u allocated and scavenged", step, i);
	}
	/* leaves summarise their chunk, parents their 8 children */
	for (chunkIdx c = BaseChunkIdx; c < BaseChunkIdx + NCHUNKS; c++) {
		pallocSum want = pallocBits_summarize(&pageAlloc_chunkOf(p, c)->pallocBits);
		if (p->summary[summaryLevels - 1][c] != want)
			cr_assert_fail("step %d: stale leaf summary of chunk %lu", step, (unsigned long)(c - BaseChunkIdx));
	}
	for (int l = summaryLevels - 2; l >= 0; l--) {
		int lo, hi;
		addrsToSummaryRange(l, PageBase(BaseChunkIdx, 0), PageBase(BaseChunkIdx + NCHUNKS, 0), &lo, &hi);
		for (int i = lo; i < hi; i++) {
			const pallocSum *kids = &p->summary[l + 1][(uintptr_t)i << levelBits[l + 1]];
			pallocSum want = mergeSummaries(kids, 1 << levelBits[l + 1], levelLogPages[l + 1]);
			if (p->summary[l][i] != want)
				cr_assert_fail("step %d: stale summary at level %d index %d", step, l, i);
		}
	}
	/* searchAddr is a lower bound of the free pages */
	for (unsigned i = 0; i < NPAGES && PageBase(BaseChunkIdx, i) < p->searchAddr.a; i++)
		if (!modelAlloc[i])
			cr_assert_fail("step %d: free page %u below searchAddr", step, i);
}

/* Live allocations, to free later. */
static struct {
	unsigned page, n;
} live[4096];
static int nlive;

Test(random, Workload)
{
	srand(42);
	pageAlloc *p = calloc(1, sizeof *p);
	pageAlloc_init(p, &testRuntime, testSysStat, true);
	pageAlloc_grow(p, PageBase(BaseChunkIdx, 0), NCHUNKS * pallocChunkBytes);
	for (unsigned i = 0; i < NPAGES; i++) {
		modelAlloc[i] = false;
		modelScav[i] = true; /* new memory counts as released */
	}
	nlive = 0;
	checkState(p, 0);

	for (int step = 1; step <= 3000; step++) {
		int op = rand() % 10;
		if (op < 5 && nlive < 4096) {
			/* alloc: mostly small, sometimes spanning chunks */
			unsigned n = rand() % 8 == 0 ? 1 + rand() % 1100 : 1 + rand() % 70;
			long want = modelFirstFit(n);
			uintptr_t scav;
			uintptr_t a = pageAlloc_alloc(p, n, &scav);
			if (want < 0) {
				cr_assert_eq(a, 0, "step %d: alloc(%u) should fail", step, n);
			} else {
				cr_assert_eq(a, PageBase(BaseChunkIdx, want), "step %d: alloc(%u) at %#lx, want page %ld", step,
				             n, (unsigned long)a, want);
				unsigned wantScav = 0;
				for (unsigned i = (unsigned)want; i < (unsigned)want + n; i++) {
					wantScav += modelScav[i];
					modelAlloc[i] = true;
					modelScav[i] = false;
				}
				cr_assert_eq(scav, (uintptr_t)wantScav * pageSize, "step %d: scav", step);
				live[nlive].page = (unsigned)want;
				live[nlive].n = n;
				nlive++;
			}
		} else if (op < 8 && nlive > 0) {
			/* free a random live run (its pages become Ready and free) */
			int k = rand() % nlive;
			pageAlloc_free(p, PageBase(BaseChunkIdx, live[k].page), live[k].n);
			for (unsigned i = live[k].page; i < live[k].page + live[k].n; i++)
				modelAlloc[i] = false;
			live[k] = live[--nlive];
		} else if (op < 9) {
			/* scavenge: only free, unscavenged pages may flip */
			uintptr_t req = (uintptr_t)(1 + rand() % 64) * pageSize;
			uintptr_t r = pageAlloc_scavenge(p, req);
			unsigned flipped = 0;
			for (unsigned i = 0; i < NPAGES; i++) {
				pallocData *d = chunkOfPage(p, i);
				bool s = pageBits_get(&d->scavenged, i % pallocChunkPages);
				if (s && !modelScav[i]) {
					if (modelAlloc[i])
						cr_assert_fail("step %d: allocated page %u scavenged", step, i);
					modelScav[i] = true;
					flipped++;
				} else if (!s && modelScav[i]) {
					cr_assert_fail("step %d: page %u lost its scavenged bit", step, i);
				}
			}
			cr_assert_eq(r, (uintptr_t)flipped * pageSize, "step %d: scavenge reported %lu", step,
			             (unsigned long)r);
		} else {
			/* a page cache takes the first free page's block and gives back
			 * what it did not hand out */
			pageCache c = pageAlloc_allocToCache(p);
			if (c.base != 0) {
				unsigned b = (unsigned)((c.base - PageBase(BaseChunkIdx, 0)) / pageSize);
				cr_assert_eq(b % 64, 0);
				cr_assert_geq(modelFirstFit(1), (long)b, "cache block above the first free page");
				for (unsigned i = 0; i < 64; i++) {
					cr_assert_eq((c.cache >> i) & 1, !modelAlloc[b + i], "step %d: cache bit %u", step, i);
					cr_assert_eq((c.scav >> i) & 1, !modelAlloc[b + i] && modelScav[b + i]);
				}
				uintptr_t scav;
				uintptr_t a = nlive < 4096 ? pageCache_alloc(&c, 1, &scav) : 0;
				if (a != 0) {
					unsigned i = (unsigned)((a - PageBase(BaseChunkIdx, 0)) / pageSize);
					cr_assert_eq(scav, modelScav[i] ? pageSize : 0);
					modelAlloc[i] = true;
					modelScav[i] = false;
					live[nlive].page = i;
					live[nlive].n = 1;
					nlive++;
				}
				pageCache_flush(&c, p);
			}
		}
		checkState(p, step);
	}
	FreePageAlloc(p);
}
