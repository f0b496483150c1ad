/*
 * Address range tests: Go's mranges_test.go (TestAddrRangesAdd,
 * TestAddrRangesFindSucc) plus the other addrRanges operations.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "page/pagetest.h"

#define MAR(b, l)                                                                                            \
	{                                                                                                    \
		{(b)},                                                                                       \
		{                                                                                            \
			(l)                                                                                  \
		}                                                                                            \
	}

static addrRange mk(uintptr_t b, uintptr_t l)
{
	return makeAddrRange(b, l);
}

/* Go's validateAddrRanges: equal, sorted, coalesced, consistent total. */
static void validateAddrRanges(const addrRanges *a, const addrRange *want, int n)
{
	cr_assert_eq(a->len, n, "different lengths: got %d, want %d", a->len, n);
	uintptr_t gotTotal = 0, wantTotal = 0;
	for (int i = 0; i < n; i++) {
		const addrRange *r = &a->ranges[i];
		gotTotal += addrRange_size(*r);
		wantTotal += addrRange_size(want[i]);
		if (r->base.a >= r->limit.a)
			cr_assert_fail("empty range found");
		if (r->base.a != want[i].base.a || r->limit.a != want[i].limit.a)
			cr_assert_fail("range %d: got [%#lx, %#lx), want [%#lx, %#lx)", i,
			               (unsigned long)r->base.a, (unsigned long)r->limit.a,
			               (unsigned long)want[i].base.a, (unsigned long)want[i].limit.a);
		if (i != 0) {
			if (a->ranges[i - 1].base.a >= r->base.a)
				cr_assert_fail("ranges %d and %d are out of sorted order", i - 1, i);
			if (a->ranges[i - 1].limit.a == r->base.a)
				cr_assert_fail("ranges %d and %d should have coalesced", i - 1, i);
			if (a->ranges[i - 1].limit.a > r->base.a)
				cr_assert_fail("ranges %d and %d overlap", i - 1, i);
		}
	}
	cr_assert_eq(gotTotal, wantTotal, "expected %lu total bytes, got %lu", (unsigned long)wantTotal,
	             (unsigned long)gotTotal);
	cr_assert_eq(a->totalBytes, gotTotal, "inconsistent total bytes");
}

Test(ranges, Add)
{
	uint64_t stat0 = sysMemStat_load(testSysStat);
	addrRanges a;
	addrRanges_init(&a, &testRuntime, testSysStat);
	int initialCap = a.cap;

	addrRanges_add(&a, mk(512, 1024)); /* first range */
	validateAddrRanges(&a, (addrRange[]){mk(512, 1024)}, 1);
	addrRanges_add(&a, mk(1024, 2048)); /* coalesce up */
	validateAddrRanges(&a, (addrRange[]){mk(512, 2048)}, 1);
	addrRanges_add(&a, mk(4096, 8192)); /* new independent range */
	validateAddrRanges(&a, (addrRange[]){mk(512, 2048), mk(4096, 8192)}, 2);
	addrRanges_add(&a, mk(3776, 4096)); /* coalesce down */
	validateAddrRanges(&a, (addrRange[]){mk(512, 2048), mk(3776, 8192)}, 2);
	addrRanges_add(&a, mk(2048, 3776)); /* coalesce up and down */
	validateAddrRanges(&a, (addrRange[]){mk(512, 8192)}, 1);

	/* Independent ranges at the end, then at the beginning, until the
	 * array has grown twice (the first array holds one OS page of them). */
	static addrRange expected[4096];
	int n = 0;
	expected[n++] = mk(512, 8192);
	int top = initialCap + 8;
	for (uintptr_t i = 0; i < (uintptr_t)top; i++) {
		addrRange d = mk(8192 + (i + 1) * 2048, 8192 + (i + 1) * 2048 + 10);
		addrRanges_add(&a, d);
		expected[n++] = d;
		validateAddrRanges(&a, expected, n);
	}
	cr_assert_gt(a.cap, initialCap, "array did not grow");
	/* One-byte ranges two bytes apart below 512, enough to pass twice the
	 * first capacity (Go uses 63 ranges 8 bytes apart, as its first array
	 * holds 16). */
	int bottom = 2 * initialCap + 2 - n;
	cr_assert_lt(8 + 2 * bottom, 512);
	memmove(&expected[bottom], expected, (size_t)n * sizeof(addrRange));
	for (int i = 0; i < bottom; i++)
		expected[i] = mk(8 + (uintptr_t)i * 2, 8 + (uintptr_t)i * 2 + 1);
	/* validate as Go does, prefix of bottom ranges plus the rest */
	for (int i = 0; i < bottom; i++) {
		addrRanges_add(&a, expected[i]);
		static addrRange cur[4096];
		memcpy(cur, expected, (size_t)(i + 1) * sizeof(addrRange));
		memcpy(&cur[i + 1], &expected[bottom], (size_t)n * sizeof(addrRange));
		validateAddrRanges(&a, cur, i + 1 + n);
	}
	cr_assert_gt(a.cap, 2 * initialCap, "array did not grow twice");
	/* The array is charged to the stat, and released in full. */
	cr_assert_eq(sysMemStat_load(testSysStat) - stat0, (uint64_t)a.cap * sizeof(addrRange));
	addrRanges_release(&a);
	cr_assert_eq(sysMemStat_load(testSysStat), stat0);
}

typedef struct findSuccTest {
	const char *name;
	uintptr_t base;
	int expect;
	addrRange ranges[8];
	bool large;
} findSuccTest;

static const findSuccTest findSuccTests[] = {
        {.name = "Empty", .base = 12, .expect = 0, .ranges = {}},
        {.name = "OneBefore", .base = 12, .expect = 0, .ranges = {MAR(14, 16)}},
        {.name = "OneWithin", .base = 14, .expect = 1, .ranges = {MAR(14, 16)}},
        {.name = "OneAfterLimit", .base = 16, .expect = 1, .ranges = {MAR(14, 16)}},
        {.name = "OneAfter", .base = 17, .expect = 1, .ranges = {MAR(14, 16)}},
        {.name = "ThreeBefore", .base = 3, .expect = 0, .ranges = {MAR(6, 10), MAR(12, 16), MAR(19, 22)}},
        {.name = "ThreeAfter", .base = 24, .expect = 3, .ranges = {MAR(6, 10), MAR(12, 16), MAR(19, 22)}},
        {.name = "ThreeBetween", .base = 11, .expect = 1, .ranges = {MAR(6, 10), MAR(12, 16), MAR(19, 22)}},
        {.name = "ThreeWithin", .base = 9, .expect = 1, .ranges = {MAR(6, 10), MAR(12, 16), MAR(19, 22)}},
        {.name = "Zero", .base = 0, .expect = 1, .ranges = {MAR(0, 10)}},
        {.name = "Max",
         .base = (~(uintptr_t)0),
         .expect = 1,
         .ranges = {MAR((~(uintptr_t)0) - 5, (~(uintptr_t)0))}},
        {.name = "LargeBefore", .base = 2, .expect = 0, .large = true},
        {.name = "LargeAfter", .base = 5 + (uintptr_t)(100) * 5 + 30, .expect = 100, .large = true},
        {.name = "LargeBetweenLow", .base = 14, .expect = 2, .large = true},
        {.name = "LargeBetweenHigh", .base = 249, .expect = 49, .large = true},
        {.name = "LargeWithinLow", .base = 25, .expect = 5, .large = true},
        {.name = "LargeWithinHigh", .base = 396, .expect = 79, .large = true},
        {.name = "LargeWithinMiddle", .base = 250, .expect = 50, .large = true}};

/* Go's MakeAddrRanges: an addrRanges over a given array. */
static addrRanges makeAddrRanges(addrRange *r, int n)
{
	addrRanges a = {.ranges = r, .len = n, .cap = n, .rt = &testRuntime, .sysStat = testSysStat};
	for (int i = 0; i < n; i++)
		a.totalBytes += addrRange_size(r[i]);
	return a;
}

Test(ranges, FindSucc)
{
	addrRange large[100];
	for (int i = 0; i < 100; i++)
		large[i] = mk(5 + (uintptr_t)i * 5, 5 + (uintptr_t)i * 5 + 3);
	for (size_t t = 0; t < sizeof findSuccTests / sizeof findSuccTests[0]; t++) {
		const findSuccTest *v = &findSuccTests[t];
		addrRange small[8];
		int n = 0;
		while (n < 8 && addrRange_size(v->ranges[n]) != 0) {
			small[n] = v->ranges[n];
			n++;
		}
		addrRanges a = v->large ? makeAddrRanges(large, 100) : makeAddrRanges(small, n);
		int i = addrRanges_findSucc(&a, v->base);
		cr_expect_eq(i, v->expect, "%s: expected %d, got %d", v->name, v->expect, i);
	}
}

Test(ranges, Queries)
{
	addrRange r[3] = {mk(0x1000, 0x2000), mk(0x4000, 0x5000), mk(0x8000, 0x9000)};
	addrRanges a = makeAddrRanges(r, 3);
	uintptr_t v;
	cr_assert(addrRanges_contains(&a, 0x1000));
	cr_assert(addrRanges_contains(&a, 0x1fff));
	cr_assert(!addrRanges_contains(&a, 0x2000));
	cr_assert(!addrRanges_contains(&a, 0x0fff));
	cr_assert(addrRanges_findAddrGreaterEqual(&a, 0x10, &v) && v == 0x1000);
	cr_assert(addrRanges_findAddrGreaterEqual(&a, 0x1800, &v) && v == 0x1800);
	cr_assert(addrRanges_findAddrGreaterEqual(&a, 0x2000, &v) && v == 0x4000);
	cr_assert(!addrRanges_findAddrGreaterEqual(&a, 0x9000, &v));

	/* subtract trims either end; a range inside b vanishes */
	addrRange s = addrRange_subtract(mk(0x1000, 0x3000), mk(0x2000, 0x4000));
	cr_assert(s.base.a == 0x1000 && s.limit.a == 0x2000);
	s = addrRange_subtract(mk(0x1000, 0x3000), mk(0x0, 0x2000));
	cr_assert(s.base.a == 0x2000 && s.limit.a == 0x3000);
	cr_assert_eq(addrRange_size(addrRange_subtract(mk(0x1000, 0x3000), mk(0x0, 0x4000))), 0);

	/* removeLast takes from the top; removeGreaterEqual cuts */
	addrRange cut = addrRanges_removeLast(&a, 0x800);
	cr_assert(cut.base.a == 0x8800 && cut.limit.a == 0x9000);
	cr_assert_eq(a.totalBytes, 0x2800);
	cut = addrRanges_removeLast(&a, 0x10000);
	cr_assert(cut.base.a == 0x8000 && cut.limit.a == 0x8800);
	cr_assert_eq(a.len, 2);
	addrRanges_removeGreaterEqual(&a, 0x1800);
	cr_assert_eq(a.len, 1);
	cr_assert(a.ranges[0].limit.a == 0x1800);
	cr_assert_eq(a.totalBytes, 0x800);
	addrRanges_removeGreaterEqual(&a, 0x1000);
	cr_assert_eq(a.len, 0);
	cr_assert_eq(a.totalBytes, 0);

	/* cloneInto copies into a fresh set charged to its own stat */
	addrRange r2[3] = {mk(0x1000, 0x2000), mk(0x4000, 0x5000), mk(0x8000, 0x9000)};
	addrRanges src = makeAddrRanges(r2, 3), dst;
	addrRanges_init(&dst, &testRuntime, testSysStat);
	addrRanges_cloneInto(&src, &dst);
	validateAddrRanges(&dst, r2, 3);
	addrRanges_release(&dst);
}
