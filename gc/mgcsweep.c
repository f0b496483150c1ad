/*
 * mgcsweep.c — sweeping (Go's mgcsweep.go), done entirely inside the pause.
 *
 * sweepgen protocol: at mark termination mheap_.sweepgen grows by 2, which
 * turns every "swept" mcentral list into the "unswept" one. Each span is
 * popped (sweepgen h-2), claimed (h-1), swept and published (h) onto the
 * swept lists or given back to the heap. The mcache was flushed before
 * marking, so no span is cached (h+1/h+3) while this runs.
 *
 * Sweeping a span: unmarked objects with a finalizer are resurrected and
 * queued; then gcmarkBits become allocBits (marked = allocated), the span
 * gets fresh mark bits, and freeindex/allocCache restart at slot 0.
 */
#include "gc/mgc.h"
#include "mem/mbitmap.h"
#include "mem/mcentral.h"
#include "mem/mheap.h"

bool queuefinalizer(runtime *rt, void *obj)
{
	gcState *st = gcstateOf(rt);
	finblock *b = st->finq;
	if (b == NULL || b->cnt == finBlockObjs) {
		/* Blocks are reused; new ones are permanent GC metadata, as in Go. */
		finblock *nb = st->finc;
		if (nb != NULL) {
			st->finc = nb->next;
		} else {
			nb = persistentalloc(rt, sizeof(finblock), 0, &rt->memstats.gcMiscSys);
			if (nb == NULL)
				return false;
		}
		nb->cnt = 0;
		nb->next = st->finq;
		st->finq = b = nb;
	}
	b->obj[b->cnt++] = obj;
	return true;
}

void runFinalizers(runtime *rt)
{
	gcState *st = gcstateOf(rt);
	/* A finalizer may allocate; rt->gcRunning (held by the caller) keeps
	 * that from starting a nested cycle while the queue is live. */
	while (st->finq != NULL) {
		finblock *b = st->finq;
		while (b->cnt > 0) {
			void *obj = b->obj[--b->cnt];
			uint8_t kind = gcObjectKind(obj);
			if (kind < GC_MAX_KINDS && st->kinds[kind].finalize != NULL)
				st->kinds[kind].finalize(rt, obj);
		}
		st->finq = b->next;
		b->next = st->finc;
		st->finc = b;
	}
}

/* Handle the specials of one span: unmarked objects with a finalizer are
 * marked again (they live one more cycle) and queued; the record goes. */
static void sweepSpecials(runtime *rt, mspan *s)
{
	for (special *sp = s->specials, *next; sp != NULL; sp = next) {
		next = sp->next;
		uintptr_t idx = sp->offset / s->elemsize;
		markBits mb = mspan_markBitsForIndex(s, idx);
		if (markBits_isMarked(mb) || sp->kind != _KindSpecialFinalizer)
			continue;
		void *obj = (void *)(s->startAddr + idx * s->elemsize);
		/* Resurrect first: whether or not the queue has room, the object
		 * must not be freed while it still needs its finalizer. */
		markBits_setMarked(mb);
		if (!queuefinalizer(rt, obj))
			continue; /* keep the record: retried next cycle */
		special *got = removespecial(rt, obj, _KindSpecialFinalizer);
		if (got != NULL)
			freeSpecial(rt, got);
	}
}

/* Go's sweepLocked.sweep with preserve == false. True if the span was freed. */
static bool sweepSpan(runtime *rt, mspan *s)
{
	mheap *h = &rt->mheap_;
	uint32_t sweepgen = h->sweepgen;
	if (s->state != mSpanInUse || s->sweepgen != sweepgen - 1)
		mthrow("mspan.sweep: bad span state");
	h->pagesSwept += s->npages;
	spanClass spc = s->spanclass;

	if (s->specials != NULL)
		sweepSpecials(rt, s);

	/* Objects still marked are the ones allocated after the sweep. */
	uintptr_t nalloc = (uintptr_t)mspan_countAlloc(s);
	if (nalloc > s->allocCount)
		mthrow("sweep increased allocation count");
	uintptr_t nfreed = s->allocCount - nalloc;
	s->allocCount = (uint16_t)nalloc;
	s->freeindex = 0;
	s->freeIndexForScan = 0;

	/* Marked becomes allocated; the next cycle marks into fresh bits. */
	uint8_t *fresh = newMarkBits(rt, s->nelems);
	if (fresh == NULL)
		mthrow("out of memory allocating mark bits");
	s->allocBits = s->gcmarkBits;
	s->gcmarkBits = fresh;
	mspan_refillAllocCache(s, 0);
	s->sweepgen = sweepgen;

	if (spanClass_sizeclass(spc) != 0) {
		if (nfreed > 0) {
			/* Freed slots hold old data: allocation must zero them. */
			s->needzero = 1;
			mheap_recordSmallFree(rt, s, nfreed);
		}
		if (nalloc == 0) {
			mheap_freeSpan(rt, s);
			return true;
		}
		mcentral *c = &h->central[spc];
		if (nalloc == s->nelems)
			mSpanList_insert(mcentral_fullSwept(c, sweepgen), s);
		else
			mSpanList_insert(mcentral_partialSwept(c, sweepgen), s);
		return false;
	}
	/* A large object: its span dies with it. */
	if (nfreed != 0) {
		mheap_recordLargeFree(rt, s);
		mheap_freeSpan(rt, s);
		return true;
	}
	mSpanList_insert(mcentral_fullSwept(&h->central[spc], sweepgen), s);
	return false;
}

void gcSweep(runtime *rt)
{
	mheap *h = &rt->mheap_;
	/* Every swept list becomes the unswept one. */
	h->sweepgen += 2;
	h->pagesSwept = 0;
	mspan *s;
	while ((s = mheap_nextSpanForSweep(rt)) != NULL) {
		if (s->sweepgen != h->sweepgen - 2)
			mthrow("gcSweep: span on an unswept list is not unswept");
		s->sweepgen = h->sweepgen - 1;
		sweepSpan(rt, s);
	}
	/* Every in-use span must have been reachable from the lists. */
	for (uintptr_t i = 0; i < h->allspansLen; i++) {
		mspan *t = h->allspans[i];
		if (t->state == mSpanInUse && t->sweepgen != h->sweepgen)
			mthrow("gcSweep: in-use span missed by the sweep");
	}
	/* The previous cycle's bit arenas are now unused. */
	nextMarkBitArenaEpoch(rt);
}
