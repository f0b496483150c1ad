/*
 * msize.h — size classes (Go's msize.go and the generated sizeclasses.go).
 * The tables come from tools/mksizeclasses.c at build time.
 */
#ifndef GALE_MSIZE_H
#define GALE_MSIZE_H

#include <stdint.h>

#include "mem/malloc.h"
#include "sizeclasses.h"

/* A span class is a size class and a noscan bit: (sizeclass << 1) | noscan. */
typedef uint8_t spanClass;
#define numSpanClasses (_NumSizeClasses << 1)

static inline spanClass makeSpanClass(uint8_t sizeclass, bool noscan)
{
	return (spanClass)((sizeclass << 1) | (noscan ? 1 : 0));
}
static inline int spanClass_sizeclass(spanClass sc) { return sc >> 1; }
static inline bool spanClass_noscan(spanClass sc) { return (sc & 1) != 0; }

static inline uintptr_t divRoundUp(uintptr_t n, uintptr_t a) { return (n + a - 1) / a; }

/* The size class for a small size (1.._MaxSmallSize); 0 means large. */
static inline uint8_t sizeToClass(uintptr_t size)
{
	if (size <= smallSizeMax - 8)
		return size_to_class8[divRoundUp(size, smallSizeDiv)];
	if (size <= _MaxSmallSize)
		return size_to_class128[divRoundUp(size - smallSizeMax, largeSizeDiv)];
	return 0;
}

/* The size the allocator will actually hand out for size bytes. */
uintptr_t roundupsize(uintptr_t size);

#endif
