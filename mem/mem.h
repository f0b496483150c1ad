/*
 * mem.h — the OS memory layer (mirrors Go's runtime/mem.go).
 *
 * Every byte of address space the runtime touches is in one of four states:
 *
 *   None      not owned by the runtime (unmapped).
 *   Reserved  address space claimed, any access faults, costs no memory
 *             (mmap PROT_NONE).
 *   Prepared  mapped read/write but intended to be backed by nothing; may read
 *             as zeros or hold stale data. On Linux the same mapping as Ready:
 *             the difference is only accounting (and madvise hints).
 *   Ready     safe to use; counted in mappedReady.
 *
 *   sysAlloc:   None     -> Ready      stat += n, mappedReady += n
 *   sysFree:    any      -> None       stat -= n, mappedReady -= n
 *   sysReserve: None     -> Reserved   (no accounting)
 *   sysMap:     Reserved -> Prepared   stat += n
 *   sysUsed:    Prepared -> Ready      mappedReady += prepared
 *   sysUnused:  Ready    -> Prepared   mappedReady -= n
 *   sysFault:   Ready    -> Reserved   mappedReady -= n (debug only)
 *
 * Each accounted function takes a non-NULL runtime (whose mappedReady it
 * moves) and, where Go does, a non-NULL sysMemStat. The ...OS twins in
 * mem_linux.c only make system calls. Outside mem_linux.c (and the wrappers
 * in mem.c) they are called only for the three documented exceptions:
 *   1. the arena index L2 map (sysAllocOS in mheap.c): tens of MiB of
 *      address space that is paged in only where arenas exist;
 *   2. discarding Reserved or dead mappings (sysFreeOS): reservation
 *      trimming, failed arena hints, and tearing a runtime down, whose
 *      statistics die with it;
 *   3. the debug log (debuglog.c), so debugging never shifts pacing.
 * tests/check_os_calls.sh enforces the list.
 */
#ifndef GALE_MEM_H
#define GALE_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct runtime runtime;

/* A count of mapped bytes charged to one purpose. Changed only through
 * sysMemStat_add, which aborts on underflow or overflow. */
typedef struct sysMemStat {
	uint64_t bytes;
} sysMemStat;

void sysMemStat_add(sysMemStat *s, int64_t n);
static inline uint64_t sysMemStat_load(const sysMemStat *s) { return s->bytes; }

extern uintptr_t physPageSize;     /* OS page size, set by memInit */
extern uintptr_t physHugePageSize; /* transparent huge page size, or 0 */
void memInit(void);                /* idempotent; reads page sizes */

void *sysAlloc(runtime *rt, uintptr_t n, sysMemStat *stat);
void sysFree(runtime *rt, void *v, uintptr_t n, sysMemStat *stat);
void *sysReserve(void *v, uintptr_t n);
/* false (nothing charged, range still Reserved) when the kernel refuses */
bool sysMap(runtime *rt, void *v, uintptr_t n, sysMemStat *stat);
void sysUsed(runtime *rt, void *v, uintptr_t n, uintptr_t prepared);
void sysUnused(runtime *rt, void *v, uintptr_t n);
void sysFault(runtime *rt, void *v, uintptr_t n);
void sysHugePage(void *v, uintptr_t n);
void *sysReserveAligned(void *v, uintptr_t size, uintptr_t align, uintptr_t *outSize);

/* The OS twins: system calls only, no accounting. */
void *sysAllocOS(uintptr_t n);
void sysFreeOS(void *v, uintptr_t n);
void *sysReserveOS(void *v, uintptr_t n);
bool sysMapOS(void *v, uintptr_t n);
void sysUsedOS(void *v, uintptr_t n);
void sysUnusedOS(void *v, uintptr_t n);
void sysFaultOS(void *v, uintptr_t n);
void sysHugePageOS(void *v, uintptr_t n);

/* Fatal runtime error: prints "fatal error: msg" and aborts. */
_Noreturn void mthrow(const char *msg);

static inline uintptr_t alignUp(uintptr_t n, uintptr_t a) { return (n + a - 1) & ~(a - 1); }
static inline uintptr_t alignDown(uintptr_t n, uintptr_t a) { return n & ~(a - 1); }

#endif
