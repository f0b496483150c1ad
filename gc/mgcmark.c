/*
 * mgcmark.c — marking (Go's mgcmark.go, stop-the-world and precise).
 *
 * Tri-colour invariant while draining: a white object (mark bit clear) is
 * never referenced only by black objects (marked and traced). greyobject sets
 * the mark bit and pushes the object if it may hold references, so gray =
 * marked and on the work stack, black = marked and popped. Nothing recurses:
 * trace callbacks call gcMark, which only pushes.
 *
 * Objects are found through the heap's span map; the first byte of every
 * object names its kind, and the kind table says how to trace it.
 */
#include "gc/mgc.h"

#include "mem/mbitmap.h"
#include "mem/mheap.h"

/* The span holding obj if obj is an allocated slot of an in-use span; the
 * slot index goes to *idx. */
static mspan *findObject(runtime *rt, uintptr_t p, uintptr_t *idx)
{
	mspan *s = spanOfHeap(rt, p);
	if (s == NULL)
		return NULL;
	uintptr_t i = mspan_objIndex(s, p);
	/* A stale pointer into a free slot must not resurrect it. */
	if (i >= s->nelems || mspan_isFree(s, i))
		return NULL;
	*idx = i;
	return s;
}

/* Shade one object: mark it and, if it may hold references, make it gray. */
static void greyobject(runtime *rt, gcState *st, mspan *s, uintptr_t idx)
{
	markBits mb = mspan_markBitsForIndex(s, idx);
	if (markBits_isMarked(mb))
		return;
	markBits_setMarked(mb);
	st->bytesMarked += s->elemsize;
	/* noscan spans hold kinds without a trace function: already black. */
	if (spanClass_noscan(s->spanclass))
		return;
	st->heapScanWork += s->elemsize;
	/* If the push fails the object stays marked but untraced; the overflow
	 * rescan in gcDrain finds it again. */
	gcWork_put(rt, &st->wbuf, (void *)(s->startAddr + idx * s->elemsize));
}

/*
 * gcMark takes object base pointers, as mallocgc returned them. A pointer
 * inside an object marks the object that holds it (the containing slot),
 * which is harmless but not part of the contract; NULL, pointers outside the
 * heap and pointers to free slots are ignored. Outside marking it does
 * nothing.
 */
void gcMark(runtime *rt, void *obj)
{
	gcState *st = gcstateOf(rt);
	if (obj == NULL || st == NULL || st->phase != _GCmark)
		return;
	uintptr_t idx;
	mspan *s = findObject(rt, (uintptr_t)obj, &idx);
	if (s != NULL)
		greyobject(rt, st, s, idx);
}

bool gcIsMarked(runtime *rt, void *obj)
{
	gcState *st = gcstateOf(rt);
	/* Outside a collection, and for non-heap memory, everything is live. */
	if (obj == NULL || st == NULL || st->phase == _GCoff)
		return true;
	uintptr_t idx;
	mspan *s = findObject(rt, (uintptr_t)obj, &idx);
	if (s == NULL)
		return true;
	return markBits_isMarked(mspan_markBitsForIndex(s, idx));
}

/* Calls obj's trace function, which gcMarks each reference. */
static void scanobject(runtime *rt, gcState *st, void *obj)
{
	uint8_t kind = gcObjectKind(obj);
	if (kind < GC_MAX_KINDS && st->kinds[kind].trace != NULL)
		st->kinds[kind].trace(rt, obj);
}

/* After a failed push some marked objects were never traced. Tracing a
 * marked object again is harmless (its children are marked or get marked),
 * so rescan every marked object in scannable spans until a pass completes
 * without losing a push. Needs no memory. */
static void rescanMarked(runtime *rt, gcState *st)
{
	mheap *h = &rt->mheap_;
	for (uintptr_t i = 0; i < h->allspansLen; i++) {
		mspan *s = h->allspans[i];
		if (s->state != mSpanInUse || spanClass_noscan(s->spanclass))
			continue;
		markBits mb = mspan_markBitsForBase(s);
		for (uintptr_t j = 0; j < s->nelems; j++, markBits_advance(&mb)) {
			if (!markBits_isMarked(mb))
				continue;
			scanobject(rt, st, (void *)(s->startAddr + j * s->elemsize));
			/* Drain as we go so the stack stays short. */
			void *obj;
			while ((obj = gcWork_tryGet(&st->wbuf)) != NULL)
				scanobject(rt, st, obj);
		}
	}
}

void gcDrain(runtime *rt)
{
	gcState *st = gcstateOf(rt);
	for (;;) {
		void *obj;
		while ((obj = gcWork_tryGet(&st->wbuf)) != NULL)
			scanobject(rt, st, obj);
		if (!st->wbuf.overflow)
			return;
		st->wbuf.overflow = false;
		st->overflowRescans++;
		rescanMarked(rt, st);
	}
}

void gcMarkRoots(runtime *rt)
{
	gcState *st = gcstateOf(rt);
	/* Registered roots, in registration order. A callback may remove
	 * itself, so read next first. */
	for (gcRoot *r = st->roots, *next; r != NULL; r = next) {
		next = r->next;
		r->fn(rt, r->ctx);
	}
	/* Objects waiting for their finalizer stay alive until it has run. */
	for (finblock *b = st->finq; b != NULL; b = b->next)
		for (uintptr_t i = 0; i < b->cnt; i++)
			gcMark(rt, b->obj[i]);
}

/*
 * Go's markrootSpans: everything reachable from an object with a finalizer
 * is marked, but not the object itself, so the object can still die while
 * whatever its finalizer touches survives the sweep. (Like Go, a cycle
 * through such an object keeps it alive.)
 */
void gcMarkFinalizerReferents(runtime *rt)
{
	gcState *st = gcstateOf(rt);
	mheap *h = &rt->mheap_;
	for (uintptr_t i = 0; i < h->allspansLen; i++) {
		mspan *s = h->allspans[i];
		if (s->state != mSpanInUse || s->specials == NULL || spanClass_noscan(s->spanclass))
			continue;
		for (special *sp = s->specials; sp != NULL; sp = sp->next) {
			if (sp->kind != _KindSpecialFinalizer)
				continue;
			uintptr_t idx = sp->offset / s->elemsize;
			scanobject(rt, st, (void *)(s->startAddr + idx * s->elemsize));
		}
	}
}
