/*
 * mcentral.c — per-span-class span lists (Go's mcentral.go, with intrusive
 * lists in place of lock-free spanSets).
 *
 * partial[sweepgen/2 % 2] holds swept spans with free slots and
 * partial[1 - sweepgen/2 % 2] unswept ones; the same for full. When the
 * collector advances sweepgen by 2 every swept list becomes the unswept list
 * of the new cycle at once, which is how the sweeper finds all spans.
 */
#include "mem/mbitmap.h"
#include "mem/mcentral.h"
#include "mem/runtime.h"

void mcentral_init(mcentral *c, spanClass spc)
{
	c->spanclass = spc;
	for (int i = 0; i < 2; i++) {
		mSpanList_init(&c->partial[i]);
		mSpanList_init(&c->full[i]);
	}
}

mSpanList *mcentral_partialSwept(mcentral *c, uint32_t sweepgen) { return &c->partial[sweepgen / 2 % 2]; }
mSpanList *mcentral_partialUnswept(mcentral *c, uint32_t sweepgen) { return &c->partial[1 - sweepgen / 2 % 2]; }
mSpanList *mcentral_fullSwept(mcentral *c, uint32_t sweepgen) { return &c->full[sweepgen / 2 % 2]; }
mSpanList *mcentral_fullUnswept(mcentral *c, uint32_t sweepgen) { return &c->full[1 - sweepgen / 2 % 2]; }

mspan *mcentral_grow(runtime *rt, mcentral *c)
{
	int sizeclass = spanClass_sizeclass(c->spanclass);
	uintptr_t npages = class_to_allocnpages[sizeclass];
	mspan *s = mheap_alloc(rt, npages, c->spanclass);
	if (s == NULL)
		return NULL;
	/* allocSpan set nelems and limit from the class size. */
	return s;
}

mspan *mcentral_cacheSpan(runtime *rt, mcentral *c)
{
	uint32_t sg = rt->mheap_.sweepgen;
	/* Sweeping happens inside the collector's pause, so outside it every
	 * span on a list is swept: take a partial one, or grow. Unswept spans
	 * (if a sweep was left unfinished) are not reused until swept. */
	mSpanList *partial = mcentral_partialSwept(c, sg);
	mspan *s = partial->first;
	if (s != NULL)
		mSpanList_remove(partial, s);
	else if ((s = mcentral_grow(rt, c)) == NULL)
		return NULL;

	if (s->allocCount == s->nelems)
		mthrow("span has no free objects");
	/* Point allocCache at freeindex's 64-slot window. */
	uintptr_t freeByteBase = s->freeindex & ~(uintptr_t)63;
	mspan_refillAllocCache(s, freeByteBase / 8);
	s->allocCache >>= s->freeindex % 64;
	return s;
}

void mcentral_uncacheSpan(runtime *rt, mcentral *c, mspan *s)
{
	uint32_t sg = rt->mheap_.sweepgen;
	/* Cached before the current sweep began (h+1): it still needs
	 * sweeping, which only the collector can do; queue it as unswept. */
	bool stale = s->sweepgen == sg + 1;
	if (stale) {
		s->sweepgen = sg - 2;
		if (s->nelems - s->allocCount > 0)
			mSpanList_insert(mcentral_partialUnswept(c, sg), s);
		else
			mSpanList_insert(mcentral_fullUnswept(c, sg), s);
		return;
	}
	s->sweepgen = sg;
	if (s->nelems - s->allocCount > 0)
		mSpanList_insert(mcentral_partialSwept(c, sg), s);
	else
		mSpanList_insert(mcentral_fullSwept(c, sg), s);
}
