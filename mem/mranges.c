/*
 * mranges.c — address ranges in offset space and sorted sets of them
 * (mirrors Go's mranges.go). The page allocator keeps the ranges it has grown
 * over in an addrRanges: it tells which summaries are mapped and where the
 * next free address after a hole lies.
 */
#include <string.h>

#include "mem/mpagealloc.h"

addrRange makeAddrRange(uintptr_t base, uintptr_t limit)
{
	/* Both ends must sit on the same side of the offset's wrap-around. */
	if ((base - arenaBaseOffset >= base) != (limit - arenaBaseOffset >= limit))
		mthrow("addr range base and limit are not in the same memory segment");
	return (addrRange){{base}, {limit}};
}

/* Empty (0) when limit does not lie above base in offset order. */
uintptr_t addrRange_size(addrRange a)
{
	if (!offAddr_lessThan(a.base, a.limit))
		return 0;
	return offAddr_diff(a.limit, a.base);
}

/* Half-open: base is inside, limit is not. */
bool addrRange_contains(addrRange a, uintptr_t addr)
{
	return offAddr_lessEqual(a.base, (offAddr){addr}) && offAddr_lessThan((offAddr){addr}, a.limit);
}

/* a minus b; b may not split a in two. */
addrRange addrRange_subtract(addrRange a, addrRange b)
{
	if (offAddr_lessEqual(b.base, a.base) && offAddr_lessEqual(a.limit, b.limit)) {
		/* b covers a */
		return (addrRange){{0}, {0}};
	} else if (offAddr_lessThan(a.base, b.base) && offAddr_lessThan(b.limit, a.limit)) {
		/* b strictly inside a would leave two pieces */
		mthrow("bad prune");
	} else if (offAddr_lessThan(b.limit, a.limit) && offAddr_lessThan(a.base, b.limit)) {
		/* b overlaps a's bottom */
		a.base = b.limit;
	} else if (offAddr_lessThan(a.base, b.base) && offAddr_lessThan(b.base, a.limit)) {
		/* b overlaps a's top */
		a.limit = b.base;
	}
	/* otherwise disjoint: a is unchanged */
	return a;
}

/* The part of a below addr. */
addrRange addrRange_removeGreaterEqual(addrRange a, uintptr_t addr)
{
	if (offAddr_lessEqual((offAddr){addr}, a.base))
		return (addrRange){{0}, {0}};
	if (offAddr_lessEqual(a.limit, (offAddr){addr}))
		return a;
	return makeAddrRange(a.base.a, addr);
}

/* Capacity of the first array: one OS page worth of ranges, since sysAlloc
 * maps whole pages anyway. */
static int addrRanges_initialCap(void)
{
	memInit();
	return (int)(physPageSize / sizeof(addrRange));
}

static addrRange *addrRanges_newArray(addrRanges *a, int cap)
{
	addrRange *r = sysAlloc(a->rt, (uintptr_t)cap * sizeof(addrRange), a->sysStat);
	if (r == NULL)
		mthrow("addrRanges: out of memory");
	return r;
}

void addrRanges_init(addrRanges *a, runtime *rt, sysMemStat *sysStat)
{
	a->rt = rt;
	a->sysStat = sysStat;
	a->len = 0;
	a->cap = addrRanges_initialCap();
	a->ranges = addrRanges_newArray(a, a->cap);
	a->totalBytes = 0;
}

void addrRanges_release(addrRanges *a)
{
	if (a->ranges != NULL)
		sysFree(a->rt, a->ranges, (uintptr_t)a->cap * sizeof(addrRange), a->sysStat);
	a->ranges = NULL;
	a->len = a->cap = 0;
	a->totalBytes = 0;
}

/*
 * Index of the first range whose base is above addr; if addr lies inside
 * range i, that is i+1. Binary search narrows to a few entries, then a
 * linear scan finishes (cheaper for short sets).
 */
int addrRanges_findSucc(const addrRanges *a, uintptr_t addr)
{
	offAddr base = {addr};
	const int iterMax = 8;
	int bot = 0, top = a->len;
	while (top - bot > iterMax) {
		int i = (top - bot) / 2 + bot;
		if (addrRange_contains(a->ranges[i], addr))
			return i + 1;
		if (offAddr_lessThan(base, a->ranges[i].base))
			top = i;
		else
			bot = i + 1;
	}
	for (int i = bot; i < top; i++) {
		if (offAddr_lessThan(base, a->ranges[i].base))
			return i;
	}
	return top;
}

/* Smallest address >= addr inside some range; false if there is none. */
bool addrRanges_findAddrGreaterEqual(const addrRanges *a, uintptr_t addr, uintptr_t *out)
{
	int i = addrRanges_findSucc(a, addr);
	if (i == 0) {
		/* addr is below every range: the lowest base, if any */
		if (a->len == 0)
			return false;
		*out = a->ranges[0].base.a;
		return true;
	}
	/* ranges[i-1] is the last range starting at or below addr */
	if (addrRange_contains(a->ranges[i - 1], addr)) {
		*out = addr;
		return true;
	}
	/* in a gap: the next range up */
	if (i < a->len) {
		*out = a->ranges[i].base.a;
		return true;
	}
	return false;
}

/* Only the range starting at or below addr can hold it. */
bool addrRanges_contains(const addrRanges *a, uintptr_t addr)
{
	int i = addrRanges_findSucc(a, addr);
	if (i == 0)
		return false;
	return addrRange_contains(a->ranges[i - 1], addr);
}

/* Inserts r, which must not overlap any range, coalescing with neighbours. */
void addrRanges_add(addrRanges *a, addrRange r)
{
	if (addrRange_size(r) == 0)
		mthrow("attempted to add zero-sized address range");
	/* r goes at i: every range below i starts at or below r.base. */
	int i = addrRanges_findSucc(a, r.base.a);
	bool coalescesDown = i > 0 && offAddr_equal(a->ranges[i - 1].limit, r.base);
	bool coalescesUp = i < a->len && offAddr_equal(r.limit, a->ranges[i].base);
	if (coalescesUp && coalescesDown) {
		/* r fills the hole between two ranges: merge all three */
		a->ranges[i - 1].limit = a->ranges[i].limit;
		memmove(&a->ranges[i], &a->ranges[i + 1], (size_t)(a->len - i - 1) * sizeof(addrRange));
		a->len--;
	} else if (coalescesDown) {
		a->ranges[i - 1].limit = r.limit;
	} else if (coalescesUp) {
		a->ranges[i].base = r.base;
	} else {
		if (a->len + 1 > a->cap) {
			/* double the array, leaving a gap at i */
			addrRange *old = a->ranges;
			int oldCap = a->cap;
			a->cap = oldCap * 2;
			a->ranges = addrRanges_newArray(a, a->cap);
			memcpy(a->ranges, old, (size_t)i * sizeof(addrRange));
			memcpy(&a->ranges[i + 1], &old[i], (size_t)(a->len - i) * sizeof(addrRange));
			sysFree(a->rt, old, (uintptr_t)oldCap * sizeof(addrRange), a->sysStat);
		} else {
			/* shift the ranges above i up by one */
			memmove(&a->ranges[i + 1], &a->ranges[i], (size_t)(a->len - i) * sizeof(addrRange));
		}
		a->len++;
		a->ranges[i] = r;
	}
	a->totalBytes += addrRange_size(r);
}

/* Removes up to nBytes from the top of the highest range; returns what went. */
addrRange addrRanges_removeLast(addrRanges *a, uintptr_t nBytes)
{
	if (a->len == 0)
		return (addrRange){{0}, {0}};
	addrRange r = a->ranges[a->len - 1];
	uintptr_t size = addrRange_size(r);
	if (size > nBytes) {
		/* shrink the top range in place */
		offAddr newEnd = offAddr_sub(r.limit, nBytes);
		a->ranges[a->len - 1].limit = newEnd;
		a->totalBytes -= nBytes;
		return (addrRange){newEnd, r.limit};
	}
	/* the whole top range goes (at most nBytes are removed) */
	a->len--;
	a->totalBytes -= size;
	return r;
}

/* Drops every address >= addr. */
void addrRanges_removeGreaterEqual(addrRanges *a, uintptr_t addr)
{
	int pivot = addrRanges_findSucc(a, addr);
	if (pivot == 0) {
		a->totalBytes = 0;
		a->len = 0;
		return;
	}
	/* everything from pivot up starts above addr */
	uintptr_t removed = 0;
	for (int i = pivot; i < a->len; i++)
		removed += addrRange_size(a->ranges[i]);
	addrRange r = a->ranges[pivot - 1];
	if (addrRange_contains(r, addr)) {
		/* the range holding addr is cut, or vanishes if it started there */
		removed += addrRange_size(r);
		r = addrRange_removeGreaterEqual(r, addr);
		if (addrRange_size(r) == 0) {
			pivot--;
		} else {
			removed -= addrRange_size(r);
			a->ranges[pivot - 1] = r;
		}
	}
	a->len = pivot;
	a->totalBytes -= removed;
}

/* Makes b a copy of a, growing b's array (on b's stat) if needed. */
void addrRanges_cloneInto(const addrRanges *a, addrRanges *b)
{
	if (a->len > b->cap) {
		if (b->ranges != NULL)
			sysFree(b->rt, b->ranges, (uintptr_t)b->cap * sizeof(addrRange), b->sysStat);
		b->cap = a->cap;
		b->ranges = addrRanges_newArray(b, b->cap);
	}
	b->len = a->len;
	b->totalBytes = a->totalBytes;
	memcpy(b->ranges, a->ranges, (size_t)a->len * sizeof(addrRange));
}
