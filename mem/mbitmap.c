/*
 * mbitmap.c — allocation and mark bits, and the gcBits arenas that hold
 * them (Go's mbitmap.go and the gcBits part of mheap.go).
 */
#include <string.h>

#include "mem/mbitmap.h"
#include "mem/runtime.h"

/* Go's sys.TrailingZeros64: 64 for zero (the builtin is undefined there). */
static inline int ctz64(uint64_t x) { return x ? __builtin_ctzll(x) : 64; }

/* Bump-allocate bytes from an arena; NULL when it is full. */
static uint8_t *gcBitsArena_tryAlloc(gcBitsArena *b, uintptr_t bytes)
{
	if (b == NULL || b->free_ + bytes > sizeof b->bits)
		return NULL;
	uint8_t *p = &b->bits[b->free_];
	b->free_ += bytes;
	return p;
}

/* A zeroed arena: recycled from the free list, else mapped on gcMiscSys. */
static gcBitsArena *newArena(runtime *rt)
{
	gcBitsArenas_t *a = &rt->gcBitsArenas;
	gcBitsArena *r;
	if (a->free_ != NULL) {
		/* Recycled arenas hold two-cycle-old bits: clear them, since fresh
		 * mark bits must start unmarked. */
		r = a->free_;
		a->free_ = r->next;
		memset(r->bits, 0, sizeof r->bits);
	} else {
		r = sysAlloc(rt, gcBitsChunkBytes, &rt->memstats.gcMiscSys);
		if (r == NULL)
			return NULL;
	}
	r->next = NULL;
	r->free_ = 0;
	return r;
}

uint8_t *newMarkBits(runtime *rt, uintptr_t nelems)
{
	/* Whole 64-bit words, so allocCache refills may read 8 bytes at a time. */
	uintptr_t bytesNeeded = (nelems + 63) / 64 * 8;
	gcBitsArenas_t *a = &rt->gcBitsArenas;
	/* Only the head of next has room; older arenas on the list are full. */
	uint8_t *p = gcBitsArena_tryAlloc(a->next, bytesNeeded);
	if (p != NULL)
		return p;
	gcBitsArena *fresh = newArena(rt);
	if (fresh == NULL)
		return NULL;
	/* The full arena stays on the list: its bits are still in use. Only
	 * the head is ever allocated from. */
	fresh->next = a->next;
	a->next = fresh;
	return gcBitsArena_tryAlloc(fresh, bytesNeeded);
}

uint8_t *newAllocBits(runtime *rt, uintptr_t nelems) { return newMarkBits(rt, nelems); }

void nextMarkBitArenaEpoch(runtime *rt)
{
	gcBitsArenas_t *a = &rt->gcBitsArenas;
	/* Every span's allocBits and gcmarkBits were replaced during the
	 * sweep that just ended, so arenas two epochs old are unreferenced:
	 * splice previous onto the free list. */
	if (a->previous != NULL) {
		gcBitsArena *last = a->previous;
		while (last->next != NULL)
			last = last->next;
		last->next = a->free_;
		a->free_ = a->previous;
	}
	a->previous = a->current;
	a->current = a->next;
	a->next = NULL;
}

void gcBits_release(runtime *rt)
{
	gcBitsArenas_t *a = &rt->gcBitsArenas;
	gcBitsArena *lists[4] = {a->free_, a->next, a->current, a->previous};
	for (int i = 0; i < 4; i++) {
		for (gcBitsArena *b = lists[i]; b != NULL;) {
			gcBitsArena *next = b->next;
			/* Teardown: statistics die with the runtime. */
			sysFreeOS(b, gcBitsChunkBytes);
			b = next;
		}
	}
	memset(a, 0, sizeof *a);
}

/* objIndex rounds an interior pointer down to its object's slot. */
markBits markBitsForAddr(runtime *rt, uintptr_t p)
{
	mspan *s = spanOf(rt, p);
	return mspan_markBitsForIndex(s, mspan_objIndex(s, p));
}

bool isMarked(runtime *rt, void *p)
{
	/* spanOfHeap rejects non-heap, free and manual memory. */
	mspan *s = spanOfHeap(rt, (uintptr_t)p);
	if (s == NULL)
		return false;
	return markBits_isMarked(mspan_markBitsForIndex(s, mspan_objIndex(s, (uintptr_t)p)));
}

bool setMarked(runtime *rt, void *p)
{
	mspan *s = spanOfHeap(rt, (uintptr_t)p);
	if (s == NULL)
		return false;
	markBits m = mspan_markBitsForIndex(s, mspan_objIndex(s, (uintptr_t)p));
	if (markBits_isMarked(m))
		return false;
	markBits_setMarked(m);
	return true;
}

void mspan_refillAllocCache(mspan *s, uintptr_t whichByte)
{
	/* Little-endian assembly of 8 bytes: bit i of the result is slot
	 * whichByte*8 + i. The bits were allocated in whole words, so the read
	 * never leaves the span's bitmap. */
	const uint8_t *b = &s->allocBits[whichByte];
	uint64_t aCache = 0;
	for (int i = 0; i < 8; i++)
		aCache |= (uint64_t)b[i] << (8 * i);
	/* Inverted: a 1 bit means a free slot, so ctz finds it. */
	s->allocCache = ~aCache;
}

uintptr_t mspan_nextFreeIndex(mspan *s)
{
	uintptr_t sfreeindex = s->freeindex;
	uintptr_t snelems = s->nelems;
	if (sfreeindex == snelems)
		return sfreeindex;
	if (sfreeindex > snelems)
		mthrow("s.freeindex > s.nelems");

	uint64_t aCache = s->allocCache;
	int bitIndex = ctz64(aCache);
	while (bitIndex == 64) {
		/* The cache is exhausted: move to the next 64-slot window. */
		sfreeindex = (sfreeindex + 64) & ~(uintptr_t)63;
		if (sfreeindex >= snelems) {
			s->freeindex = snelems;
			return snelems;
		}
		mspan_refillAllocCache(s, sfreeindex / 8);
		aCache = s->allocCache;
		bitIndex = ctz64(aCache);
	}
	/* Bits past nelems read as free (zero allocBits): stop at nelems. */
	uintptr_t result = sfreeindex + (uintptr_t)bitIndex;
	if (result >= snelems) {
		s->freeindex = snelems;
		return snelems;
	}
	/* Consume the slot: bit 0 of the cache is again freeindex. Go defines a
	 * shift by 64 as 0; C does not, so the last bit of the window is special. */
	s->allocCache = bitIndex == 63 ? 0 : s->allocCache >> (unsigned)(bitIndex + 1);
	sfreeindex = result + 1;
	/* The shift emptied the window exactly at its end: load the next. */
	if (sfreeindex % 64 == 0 && sfreeindex != snelems)
		mspan_refillAllocCache(s, sfreeindex / 8);
	s->freeindex = sfreeindex;
	return result;
}

/* The sweeper's nalloc: slots that survive this cycle. */
int mspan_countAlloc(const mspan *s)
{
	int count = 0;
	uintptr_t bytes = (s->nelems + 7) / 8;
	/* Bits past nelems are never set, so whole bytes can be counted. */
	for (uintptr_t i = 0; i < bytes; i++)
		count += __builtin_popcount(s->gcmarkBits[i]);
	return count;
}
