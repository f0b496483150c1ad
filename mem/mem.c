/*
 * mem.c — the accounted half of the memory layer (Go's mem.go).
 *
 * Each sysX moves its sysMemStat and the runtime's mappedReady exactly as the
 * table in mem.h says, then calls sysXOS for the system call. Keeping the
 * accounting here, below every allocator, is what makes
 * mappedReady == Sys - HeapReleased hold (checked by readMemStats).
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "mem/debuglog.h"
#include "mem/mem.h"
#include "mem/runtime.h"

/* Defaults until memInit runs, so the OS layer is usable from the start. */
uintptr_t physPageSize = 4096;
uintptr_t physHugePageSize = 0;

/* The most a single stat can hold before the add is treated as corruption:
 * 2^63 bytes is far beyond any address space. */
#define sysMemStatMax ((uint64_t)1 << 63)

void sysMemStat_add(sysMemStat *s, int64_t n)
{
	/* Every accounted mapping names its stat; unaccounted ones must use
	 * the ...OS functions, so they stay greppable. */
	if (s == NULL)
		mthrow("sysMemStat: nil stat (only the ...OS functions are unaccounted)");
	uint64_t v = s->bytes + (uint64_t)n;
	/* Negative n must not cross zero; positive n must not wrap. */
	if ((n < 0 && (uint64_t)(-n) > s->bytes) || (n > 0 && v >= sysMemStatMax)) {
		fprintf(stderr, "runtime: sysMemStat %p: value %llu, delta %lld\n", (void *)s,
		        (unsigned long long)s->bytes, (long long)n);
		mthrow("sysMemStat overflow");
	}
	s->bytes = v;
}

_Noreturn void mthrow(const char *msg)
{
	fprintf(stderr, "fatal error: %s\n", msg);
	fflush(stderr);
	/* The debug log (GALEDEBUG=dlog=1) is most useful right here. */
	dlog_dumpAll();
	abort();
}

/* Reads a small decimal file without stdio (stdio would allocate). */
static uintptr_t readUintFile(const char *path)
{
	char buf[32];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	uintptr_t v = 0;
	for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; i++)
		v = v * 10 + (uintptr_t)(buf[i] - '0');
	return v;
}

static void memInitOnce(void)
{
	long ps = sysconf(_SC_PAGESIZE);
	/* Go's bounds: a power of two between 4 KiB and 512 KiB. */
	if (ps >= 4096 && ps <= 512 * 1024 && (ps & (ps - 1)) == 0)
		physPageSize = (uintptr_t)ps;
	uintptr_t h = readUintFile("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size");
	/* Huge pages larger than a page-allocator chunk (4 MiB) are ignored. */
	if (h != 0 && (h & (h - 1)) == 0 && h <= 4u << 20)
		physHugePageSize = h;
}

/* Runtimes may be created on several threads at once: read the page sizes
 * exactly once, before any of them uses them. */
void memInit(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, memInitOnce);
}

/* None -> Ready: the stat and mappedReady both grow by n. */
void *sysAlloc(runtime *rt, uintptr_t n, sysMemStat *stat)
{
	void *p = sysAllocOS(n);
	if (p == NULL)
		return NULL;
	sysMemStat_add(stat, (int64_t)n);
	rt->gcController.mappedReady += n;
	return p;
}

/* any -> None. Assumes the range was Ready, as Go does: callers free only
 * memory they obtained with sysAlloc (or mapped and used in full). */
void sysFree(runtime *rt, void *v, uintptr_t n, sysMemStat *stat)
{
	sysMemStat_add(stat, -(int64_t)n);
	if (rt->gcController.mappedReady < n)
		mthrow("mappedReady underflow in sysFree");
	rt->gcController.mappedReady -= n;
	sysFreeOS(v, n);
}

/* None -> Reserved: no accounting, the range costs no memory. */
void *sysReserve(void *v, uintptr_t n)
{
	return sysReserveOS(v, n);
}

/* Reserved -> Prepared: charged to stat, not Ready yet. Returns false (and
 * charges nothing) when the kernel refuses. */
bool sysMap(runtime *rt, void *v, uintptr_t n, sysMemStat *stat)
{
	(void)rt;
	if (!sysMapOS(v, n))
		return false;
	sysMemStat_add(stat, (int64_t)n);
	return true;
}

/* Prepared -> Ready. Only the caller knows how much of [v, v+n) was
 * Prepared (the rest is already Ready), so it passes that amount. */
void sysUsed(runtime *rt, void *v, uintptr_t n, uintptr_t prepared)
{
	rt->gcController.mappedReady += prepared;
	sysUsedOS(v, n);
}

/* Ready -> Prepared: the physical pages go back to the OS. */
void sysUnused(runtime *rt, void *v, uintptr_t n)
{
	if (rt->gcController.mappedReady < n)
		mthrow("mappedReady underflow in sysUnused");
	rt->gcController.mappedReady -= n;
	sysUnusedOS(v, n);
}

/* Ready -> Reserved (debug only). Like Go, the owning stat is untouched, so
 * the mappedReady invariant does not hold after a fault. */
void sysFault(runtime *rt, void *v, uintptr_t n)
{
	if (rt->gcController.mappedReady < n)
		mthrow("mappedReady underflow in sysFault");
	rt->gcController.mappedReady -= n;
	sysFaultOS(v, n);
}

/* A hint only; no state change. */
void sysHugePage(void *v, uintptr_t n)
{
	sysHugePageOS(v, n);
}
