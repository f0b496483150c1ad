/*
 * mbitmap.h — allocation and mark bits (the parts of Go's mbitmap.go and
 * mheap.go's gcBits arenas that a kind-tagged heap needs).
 *
 * Each span has one bit per object slot in allocBits and in gcmarkBits. The
 * bits live in 64 KiB gcBits arenas (sysAlloc on gcMiscSys) allocated per
 * collection cycle: at the end of a sweep a span's gcmarkBits become its
 * allocBits and it gets fresh zeroed gcmarkBits, and once every span has been
 * swept, arenas holding only the previous cycle's bits are recycled
 * (nextMarkBitArenaEpoch).
 */
#ifndef GALE_MBITMAP_H
#define GALE_MBITMAP_H

#include <stdbool.h>
#include <stdint.h>

#include "mem/mheap.h"

#define gcBitsChunkBytes ((uintptr_t)64 << 10)
#define gcBitsHeaderBytes (2 * sizeof(uintptr_t))

typedef struct gcBitsArena {
	uintptr_t free_; /* next free byte in bits */
	struct gcBitsArena *next;
	uint8_t bits[gcBitsChunkBytes - gcBitsHeaderBytes];
} gcBitsArena;

/* Go's gcBitsArenas: next is filled this cycle, current holds the bits in
 * use, previous those of the cycle before (freed at the next epoch). */
typedef struct gcBitsArenas_t {
	gcBitsArena *free_;
	gcBitsArena *next;
	gcBitsArena *current;
	gcBitsArena *previous;
} gcBitsArenas_t;

/* Zeroed bits for nelems objects (rounded up to 64), NULL on out of memory. */
uint8_t *newMarkBits(runtime *rt, uintptr_t nelems);
uint8_t *newAllocBits(runtime *rt, uintptr_t nelems);
/* Called once sweeping is done: previous -> free, current -> previous,
 * next -> current. */
void nextMarkBitArenaEpoch(runtime *rt);
/* Unmaps every gcBits arena (runtime release). */
void gcBits_release(runtime *rt);

/* One bit: a byte and a mask (Go's markBits). */
typedef struct markBits {
	uint8_t *bytep;
	uint8_t mask;
	uintptr_t index;
} markBits;

static inline markBits mspan_markBitsForIndex(const mspan *s, uintptr_t i)
{
	return (markBits){&s->gcmarkBits[i / 8], (uint8_t)(1u << (i % 8)), i};
}
static inline markBits mspan_allocBitsForIndex(const mspan *s, uintptr_t i)
{
	return (markBits){&s->allocBits[i / 8], (uint8_t)(1u << (i % 8)), i};
}
static inline markBits mspan_markBitsForBase(const mspan *s) { return mspan_markBitsForIndex(s, 0); }
static inline bool markBits_isMarked(markBits m) { return (*m.bytep & m.mask) != 0; }
static inline void markBits_setMarked(markBits m) { *m.bytep |= m.mask; }
static inline void markBits_clearMarked(markBits m) { *m.bytep &= (uint8_t)~m.mask; }
static inline void markBits_advance(markBits *m)
{
	if (m->mask == 0x80) {
		m->bytep++;
		m->mask = 1;
	} else {
		m->mask <<= 1;
	}
	m->index++;
}

/* Is slot i free (below freeindex everything is allocated)? */
static inline bool mspan_isFree(const mspan *s, uintptr_t i)
{
	if (i < s->freeindex)
		return false;
	return !markBits_isMarked(mspan_allocBitsForIndex(s, i));
}

/* The mark bits of the object at p (p must be in an in-use span). */
markBits markBitsForAddr(runtime *rt, uintptr_t p);
/* Object-level bit access for the collector: p is any address inside a heap
 * object; false/no-op for addresses outside the heap. */
bool isMarked(runtime *rt, void *p);
bool setMarked(runtime *rt, void *p); /* true if it was newly marked */

/* Load allocCache with the inverted allocBits of the 64 slots from byte
 * whichByte (a multiple of 8). */
void mspan_refillAllocCache(mspan *s, uintptr_t whichByte);
/* Index of the next free slot at or after freeindex, nelems if full;
 * advances freeindex and allocCache to it. */
uintptr_t mspan_nextFreeIndex(mspan *s);
/* Number of marked slots in gcmarkBits (objects surviving this cycle). */
int mspan_countAlloc(const mspan *s);

#endif
