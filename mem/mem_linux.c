/*
 * mem_linux.c — the ...OS half of the memory layer (Go's mem_linux.go).
 *
 * These functions only make system calls: no statistics, no mappedReady.
 * The accounted wrappers live in mem.c; the three places that may call these
 * directly are listed in mem.h.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/mman.h>
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#endif
#endif
#ifndef VALGRIND_MAKE_MEM_DEFINED
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#endif

#include "mem/mem.h"

/* None -> Ready. NULL on any refusal: an ordinary out-of-memory must leave the
 * host running (Go exits on EACCES/EAGAIN; an embedded runtime may not). */
void *sysAllocOS(uintptr_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	if (p == MAP_FAILED) {
		if (errno == EACCES)
			fprintf(stderr, "runtime: mmap: access denied\n");
		else if (errno == EAGAIN)
			fprintf(stderr, "runtime: mmap: too much locked memory (check 'ulimit -l')\n");
		return NULL;
	}
	return p;
}

void sysFreeOS(void *v, uintptr_t n)
{
	munmap(v, n);
}

/* None -> Reserved. The address is only a hint: the kernel may place the
 * mapping elsewhere and the caller must compare. */
void *sysReserveOS(void *v, uintptr_t n)
{
	void *p = mmap(v, n, PROT_NONE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* Reserved -> Prepared: make the range read/write in place. False when the
 * kernel refuses (ENOMEM under overcommit limits); the range stays Reserved. */
bool sysMapOS(void *v, uintptr_t n)
{
	void *p = mmap(v, n, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_FIXED | MAP_PRIVATE, -1, 0);
	if (p == MAP_FAILED) {
		if (errno != ENOMEM)
			mthrow("cannot map pages in arena address space");
		return false;
	}
	if (p != v)
		mthrow("cannot map pages in arena address space");
	return true;
}

/* Prepared -> Ready. On Linux the mapping is already usable; only the huge
 * page hint remains (Go without harddecommit). */
void sysUsedOS(void *v, uintptr_t n)
{
	sysHugePageOS(v, n);
}

/* Ready -> Prepared: give the physical pages back. MADV_DONTNEED (Go 1.19's
 * Linux default) so released pages read as zero when touched again. */
void sysUnusedOS(void *v, uintptr_t n)
{
	uintptr_t p = (uintptr_t)v;
	if (physHugePageSize != 0) {
		/* A partial huge page would otherwise be kept whole by THP: ask the
		 * kernel not to collapse the huge pages around an unaligned edge. */
		uintptr_t beg = alignDown(p, physHugePageSize);
		uintptr_t end = alignUp(p + n, physHugePageSize);
		if (beg != p || end != p + n) {
			if (beg != p && end != p + n && end - beg == 2 * physHugePageSize)
				madvise((void *)beg, end - beg, MADV_NOHUGEPAGE);
			else {
				if (beg != p)
					madvise((void *)beg, physHugePageSize, MADV_NOHUGEPAGE);
				if (end != p + n)
					madvise((void *)(end - physHugePageSize), physHugePageSize,
					        MADV_NOHUGEPAGE);
			}
		}
	}
	if ((p & (physPageSize - 1)) != 0 || (n & (physPageSize - 1)) != 0)
		mthrow("unaligned sysUnused");
	madvise(v, n, MADV_DONTNEED);
	/* The kernel now reads these pages back as zeros, which the heap relies
	 * on to skip zeroing fully released spans. Memcheck does not model
	 * MADV_DONTNEED and would keep its old view of the bytes: tell it. */
	VALGRIND_MAKE_MEM_DEFINED(v, n);
}

/* Ready -> Reserved (debug only): any later access faults. */
void sysFaultOS(void *v, uintptr_t n)
{
	mmap(v, n, PROT_NONE, MAP_ANONYMOUS | MAP_PRIVATE | MAP_FIXED, -1, 0);
}

/* Ask for transparent huge pages on the whole huge pages inside [v, v+n). */
void sysHugePageOS(void *v, uintptr_t n)
{
	if (physHugePageSize == 0)
		return;
	uintptr_t beg = alignUp((uintptr_t)v, physHugePageSize);
	uintptr_t end = alignDown((uintptr_t)v + n, physHugePageSize);
	if (beg < end)
		madvise((void *)beg, end - beg, MADV_HUGEPAGE);
}
