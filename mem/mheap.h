/*
 * mheap.h — the heap (Go's mheap.go): arenas, spans, the page-to-span map,
 * span allocation and freeing, manual spans, specials.
 *
 * The heap is a set of 64 MiB arenas reserved from the OS. Pages (8 KiB) are
 * handed out by the page allocator (mem/mpagealloc.h) in runs that become
 * spans: in-use spans hold objects of one size class (or one large object);
 * manual spans hold the VM's stacks and the collector's work buffers. Free
 * pages belong to no span. Every page of a span maps back to it through its
 * arena's spans array, which is how an interior pointer finds its object.
 */
#ifndef GALE_MHEAP_H
#define GALE_MHEAP_H

#include <stdbool.h>
#include <stdint.h>

#include "mem/malloc.h"
#include "mem/mfixalloc.h"
#include "mem/mpagealloc.h"
#include "mem/msize.h"

typedef enum mSpanState {
	mSpanDead,   /* not in use; the struct is free or being set up */
	mSpanInUse,  /* heap objects, swept by the collector */
	mSpanManual, /* stacks or work buffers, freed explicitly */
} mSpanState;

/* What a span is for (Go's spanAllocType); every type but heap is manual. */
typedef enum spanAllocType {
	spanAllocHeap,
	spanAllocStack,
	spanAllocPtrScalarBits, /* unused: objects carry their kind, no bitmaps */
	spanAllocWorkBuf,
} spanAllocType;

static inline bool spanAllocType_manual(spanAllocType t) { return t != spanAllocHeap; }

/* Special records hang off a span, sorted by object offset then kind. */
enum { _KindSpecialFinalizer = 1 };

typedef struct special {
	struct special *next;
	uint16_t offset; /* object's offset from span start */
	uint8_t kind;
} special;

/* A finalizer record. The object's kind says what to run, so the record
 * carries nothing else. */
typedef struct specialfinalizer {
	special special;
} specialfinalizer;

typedef struct mspan mspan;
typedef struct mSpanList {
	mspan *first, *last;
} mSpanList;

struct mspan {
	mspan *next, *prev; /* in an mSpanList */
	mSpanList *list;    /* which list, for debugging */

	uintptr_t startAddr;
	uintptr_t npages;
	mlink *manualFreeList; /* unused: manual spans are one block */

	/* Slots below freeindex are all allocated; above it, allocBits says.
	 * allocCache holds the inverted allocBits from freeindex (rounded down
	 * to 64), shifted so bit 0 is freeindex: ctz finds the next free slot. */
	uintptr_t freeindex;
	uintptr_t nelems;
	uint64_t allocCache;
	uint8_t *allocBits;  /* 1 = allocated; in gcBits arenas */
	uint8_t *gcmarkBits; /* 1 = marked this cycle; becomes allocBits at sweep */

	/* h = mheap_.sweepgen: h-2 needs sweeping, h-1 being swept, h swept,
	 * h+1 cached before the sweep began, h+3 swept and cached. */
	uint32_t sweepgen;
	uint32_t divMul; /* class_to_divmagic: offset*divMul>>32 == offset/elemsize */
	uint16_t allocCount;
	spanClass spanclass;
	uint8_t state; /* mSpanState */
	uint8_t needzero; /* free slots may hold old data; the sweeper sets it
	                   * whenever it frees an object */
	uint16_t allocCountBeforeCache; /* allocCount when the mcache took it */
	uintptr_t elemsize;
	uintptr_t limit; /* end of the last object's data */
	special *specials;
	uintptr_t freeIndexForScan;
};

static inline uintptr_t mspan_base(const mspan *s) { return s->startAddr; }

void mSpanList_init(mSpanList *l);
bool mSpanList_isEmpty(const mSpanList *l);
void mSpanList_insert(mSpanList *l, mspan *s);     /* at the front */
void mSpanList_insertBack(mSpanList *l, mspan *s);
void mSpanList_remove(mSpanList *l, mspan *s);

/* Per-arena metadata (off heap, persistentalloc on gcMiscSys). Gale objects
 * carry their kind, so there is no pointer bitmap. */
typedef struct heapArena {
	mspan *spans[pagesPerArena];           /* page -> span, every page of allocated spans */
	uint8_t pageInUse[pagesPerArena / 8];  /* first page of each mSpanInUse span */
	uint8_t pageMarks[pagesPerArena / 8];  /* first page of spans with a marked object */
	uint8_t pageSpecials[pagesPerArena / 8]; /* first page of spans with specials */
	uintptr_t zeroedBase; /* arena offset below which memory was handed out before */
} heapArena;

/* Free lists of spans of one span class (Go's mcentral). partial/full are
 * indexed by sweepgen/2 % 2: one is "swept", the other "unswept". */
typedef struct mcentral {
	spanClass spanclass;
	mSpanList partial[2]; /* spans with a free slot */
	mSpanList full[2];    /* spans without one */
} mcentral;

typedef struct mheap {
	bool locked; /* debug: catches re-entrant heap use (Go's h.lock) */
	pageAlloc pages;
	pageCache pcache; /* the one P's page cache */

	uint32_t sweepgen; /* grows by 2 per collection */

	/* Every span struct ever handed out by spanalloc (Go's allspans):
	 * dead spans stay listed and are skipped by state. */
	mspan **allspans;
	uintptr_t allspansLen, allspansCap;

	uint64_t pagesInUse; /* pages in mSpanInUse spans */
	uint64_t pagesSwept;
	uint64_t pagesSweptBasis;
	uint64_t reclaimIndex;
	uint64_t reclaimCredit;

	/* Arena index: arenas[0] is the L2 array of 1<<arenaL2Bits entries,
	 * mapped with sysAllocOS (exception 1). */
	heapArena **arenas[1 << arenaL1Bits];
	/* Indices of every arena, in no order (persistentalloc, gcMiscSys). */
	arenaIdx *allArenas;
	uintptr_t allArenasLen, allArenasCap;

	/* Reserved, not yet mapped part of the current arena region. */
	struct {
		uintptr_t base, end;
	} curArena;

	mcentral central[numSpanClasses];

	fixalloc spanalloc;             /* mspan, mspan_sys */
	fixalloc cachealloc;            /* mcache, mcache_sys */
	fixalloc specialfinalizeralloc; /* specialfinalizer, other_sys */
	fixalloc arenaHintAlloc;        /* arenaHint, other_sys */
	arenaHint *arenaHints;
} mheap;

/* Sets up the fixallocs, the central lists and the page allocator. */
void mheap_init(runtime *rt);
/* Tears down: arenas and the L2 map through sysFreeOS, the page allocator
 * through its release. Called by runtimeRelease only. */
void mheap_release(runtime *rt);

/* Reserve n bytes (rounded up to arenas) of new heap address space and set
 * up their heapArena metadata. Returns the Reserved base, 0 on failure. */
uintptr_t mheap_sysAlloc(runtime *rt, uintptr_t n, uintptr_t *size);
/* Add at least npage pages to the page allocator. Returns false when the OS
 * refuses; *growth gets the bytes added. */
bool mheap_grow(runtime *rt, uintptr_t npage, uintptr_t *growth);

/* An in-use span of npages for span class spc (0/1: one large object).
 * NULL on out of memory. */
mspan *mheap_alloc(runtime *rt, uintptr_t npages, spanClass spc);
/* A manual span (stacks, work buffers). NULL on out of memory. */
mspan *mheap_allocManual(runtime *rt, uintptr_t npages, spanAllocType typ);
/* Give an in-use span's pages back. allocCount must be 0 and the span swept
 * (sweepgen == mheap_.sweepgen). */
void mheap_freeSpan(runtime *rt, mspan *s);
void mheap_freeManual(runtime *rt, mspan *s, spanAllocType typ);

/* The span holding p, or NULL (any state, including dead). */
mspan *spanOf(runtime *rt, uintptr_t p);
/* The in-use span holding p within its objects, else NULL. */
mspan *spanOfHeap(runtime *rt, uintptr_t p);
/* The arena metadata for p, or NULL. */
heapArena *heapArenaOf(runtime *rt, uintptr_t p);
/* Does [p, p+n) lie in the heap's arenas? */
bool inHeapArena(runtime *rt, uintptr_t p);

/* Index of the object holding p in span s. */
static inline uintptr_t mspan_objIndex(const mspan *s, uintptr_t p)
{
	return (uintptr_t)(((uint64_t)(p - s->startAddr) * s->divMul) >> 32);
}

/* Specials. addspecial links s into the span of p (false if p already has a
 * special of that kind); removespecial unlinks and returns it, or NULL. */
bool addspecial(runtime *rt, void *p, special *s);
special *removespecial(runtime *rt, void *p, uint8_t kind);
/* Finalizer records: addfinalizer is false when p already has one or on out
 * of memory; removefinalizer is true if one was removed and freed. */
bool addfinalizer(runtime *rt, void *p);
bool removefinalizer(runtime *rt, void *p);
/* Return a special record unlinked by the sweeper to its allocator. */
void freeSpecial(runtime *rt, special *s);

/*
 * Sweeping protocol for gc/ (Go's mgcsweep.go, done inside the pause):
 * mcache_releaseAll first (cached spans back on mcentral lists), then
 * sweepgen += 2, which turns every swept list into an unswept one; pop each
 * span with mheap_nextSpanForSweep, sweep it (allocBits = gcmarkBits, fresh
 * gcmarkBits, refill allocCache, needzero if anything was freed, record the
 * frees), and either free it (mheap_freeSpan) or push it on its mcentral's
 * partialSwept/fullSwept list; finally nextMarkBitArenaEpoch.
 * tests/unit/mem/memtest.c has a minimal model of this.
 */

/* The next span the sweeper should look at (popping mcentral unswept
 * lists), or NULL when all are swept. */
mspan *mheap_nextSpanForSweep(runtime *rt);

/* Counter updates the sweeper makes when it frees objects. */
void mheap_recordSmallFree(runtime *rt, mspan *s, uintptr_t nfreed);
void mheap_recordLargeFree(runtime *rt, mspan *s);

#endif
