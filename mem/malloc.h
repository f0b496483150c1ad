/*
 * malloc.h — heap geometry and the low-level off-heap allocators
 * (Go's malloc.go): arena constants, arena hints, persistentalloc,
 * linearAlloc, and the runtime's creation and release.
 */
#ifndef GALE_MALLOC_H
#define GALE_MALLOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mem/geometry.h"
#include "mem/mem.h"
#include "sizeclasses.h" /* _PageShift, _MaxSmallSize, _NumSizeClasses */

_Static_assert(pageShift == _PageShift, "size classes generated for another page size");
#define pageMask (pageSize - 1)
#define maxAlloc ((uintptr_t)1 << heapAddrBits)
#define logHeapArenaBytes 26
#define heapArenaBytes ((uintptr_t)1 << logHeapArenaBytes) /* 64 MiB */
#define pagesPerArena (heapArenaBytes / pageSize)           /* 8192 */
#define arenaL1Bits 0
#define arenaL2Bits (heapAddrBits - logHeapArenaBytes - arenaL1Bits) /* 22 */
#define arenaBits (arenaL1Bits + arenaL2Bits)
/* arenaBaseOffset shifts user addresses [0, 2^47) to arena indices
 * [2^21, 2^22). */
#define _FixAllocChunk (16 << 10)
#define persistentChunkSize (256 << 10)
#define minLegalPointer 4096
/* persistentalloc requests at least this big go straight to sysAlloc. */
#define persistentMaxBlock (64 << 10)

typedef uintptr_t arenaIdx;

static inline arenaIdx arenaIndex(uintptr_t p) { return (p - arenaBaseOffset) / heapArenaBytes; }
static inline uintptr_t arenaBase(arenaIdx i) { return i * heapArenaBytes + arenaBaseOffset; }

/* Where the heap should try to reserve its next arenas. Up-hints grow from
 * addr; down-hints end at addr. */
typedef struct arenaHint {
	uintptr_t addr;
	bool down;
	struct arenaHint *next;
} arenaHint;

/* A bump allocator over one reserved region (Go's linearAlloc). With
 * mapMemory, it walks its region Reserved -> Prepared -> Ready page by page
 * as it grows; without, the region must already be Ready. */
typedef struct linearAlloc {
	uintptr_t next;   /* next free byte */
	uintptr_t mapped; /* one byte past the end of mapped space */
	uintptr_t end;    /* end of the reserved space */
	bool mapMemory;
} linearAlloc;

void linearAlloc_init(linearAlloc *l, uintptr_t base, uintptr_t size, bool mapMemory);
/* NULL when the region is exhausted or the kernel refuses to map it. */
void *linearAlloc_alloc(runtime *rt, linearAlloc *l, uintptr_t size, uintptr_t align,
                        sysMemStat *stat);

/* The current persistentalloc chunk and the records that let the runtime's
 * release give every chunk and large block back. */
typedef struct persistentBlock {
	struct persistentBlock *next;
	uintptr_t base, size;
} persistentBlock;

typedef struct persistentAlloc {
	uintptr_t base;           /* current chunk, 0 before the first */
	uintptr_t off;            /* bytes used in it */
	uintptr_t chunks;         /* list of all chunks, linked through their first word */
	persistentBlock *large;   /* blocks of persistentMaxBlock or more */
} persistentAlloc;

/*
 * Permanent off-heap memory: never freed before the runtime is released.
 * align 0 means 8. Bytes come from 256 KiB chunks charged to other_sys and
 * are moved to stat as they are handed out, so the unused tail of each chunk
 * stays in other_sys and the stats still sum to what was mapped. Returns
 * zeroed memory, or NULL when the OS refuses.
 */
void *persistentalloc(runtime *rt, uintptr_t size, uintptr_t align, sysMemStat *stat);

/* Reserve size bytes aligned to align. The unaligned head and tail of the
 * over-sized reservation go back with sysFreeOS (they were never accounted). */
void *sysReserveAligned(void *v, uintptr_t size, uintptr_t align, uintptr_t *outSize);

/*
 * mallocinit creates a runtime: its heap (no arenas yet), its mcache, its
 * statistics, GOGC 100, no memory limit, no hard cap. debug is a
 * "gctrace=1,gcstress=10" string; NULL means the GALEDEBUG environment
 * variable. The runtime struct itself lives in sysAlloc memory charged to
 * other_sys. NULL when the OS refuses the initial mappings.
 *
 * runtimeRelease returns every mapping (arenas, metadata, the struct itself)
 * to the OS. Teardown uses sysFreeOS: the runtime's statistics die with it.
 * With dlog set, the debug log is printed first.
 */
runtime *mallocinit(const char *debug);
void runtimeRelease(runtime *rt);


/* ---- the heap as the collector and the object model use it ---- */

/* Byte 0 of every object is its kind, written here; the kind's noscan flag
 * (rt->kindNoscan) picks the span class. */
/*
 * Allocate size bytes whose first byte is set to kind. Zeroed when needzero
 * (the rest of the block's contents are otherwise unspecified). May run a
 * collection first. Returns NULL when the allocation would exceed maxHeap even
 * after a full collection, when the OS refuses memory, or when fault injection
 * (GALEDEBUG=failalloc=N) says so; the runtime stays usable.
 */
void *mallocgc(runtime *rt, size_t size, uint8_t kind, bool needzero);

/* Usable size of a heap object (its size class), for growable buffers. */
size_t gcObjectSize(runtime *rt, void *obj);

/* Manually managed memory on heap pages (Go's stacks: StackInuse). The VM's
 * value stack and frames live here. NULL on out of memory. */
void *stackalloc(runtime *rt, size_t bytes);
void stackfree(runtime *rt, void *p, size_t bytes);

#endif
