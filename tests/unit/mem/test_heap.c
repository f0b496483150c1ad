/*
 * test_heap.c — size classes, mallocgc, spans, large objects, manual spans,
 * specials, the collector hooks, maxHeap and failalloc, several runtimes,
 * metrics, and a randomized workload that checks every MemStats identity
 * after each step.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "memtest.h"

#define KiB ((uintptr_t)1 << 10)
#define MiB ((uintptr_t)1 << 20)

/* ---- size classes ---- */

Test(sizeclass, tables_are_sane)
{
	cr_assert_eq(_NumSizeClasses, 68);
	cr_assert_eq(class_to_size[0], 0);
	cr_assert_eq(class_to_size[1], 8);
	cr_assert_eq(class_to_size[_NumSizeClasses - 1], _MaxSmallSize);
	for (int c = 1; c < _NumSizeClasses; c++) {
		cr_assert_gt(class_to_size[c], class_to_size[c - 1], "class %d not increasing", c);
		uintptr_t span = (uintptr_t)class_to_allocnpages[c] * pageSize;
		uintptr_t n = span / class_to_size[c];
		cr_assert_geq(n, 1);
		/* The generator's rule: tail waste at most 1/8 of the span. */
		cr_assert_leq(span - n * class_to_size[c], span / 8, "class %d wastes too much", c);
		/* The magic divides every offset in the span exactly. */
		for (uintptr_t off = 0; off < span; off += 8)
			cr_assert_eq(((uint64_t)off * class_to_divmagic[c]) >> 32, off / class_to_size[c],
			             "divmagic of class %d at %lu", c, (unsigned long)off);
	}
}

Test(sizeclass, every_small_size_roundtrips)
{
	for (uintptr_t size = 1; size <= _MaxSmallSize; size++) {
		uint8_t c = sizeToClass(size);
		cr_assert(c >= 1 && c < _NumSizeClasses, "size %lu", (unsigned long)size);
		cr_assert_geq(class_to_size[c], size, "size %lu fits class %d", (unsigned long)size, c);
		cr_assert_lt(class_to_size[c - 1], size, "size %lu: smaller class %d would fit",
		             (unsigned long)size, c - 1);
		cr_assert_eq(roundupsize(size), class_to_size[c]);
	}
	cr_assert_eq(sizeToClass(_MaxSmallSize + 1), 0);
	cr_assert_eq(roundupsize(_MaxSmallSize + 1), _MaxSmallSize + pageSize);
}

/* The generated tables equal Go 1.19's, when its source is installed. */
Test(sizeclass, matches_go_tables)
{
	FILE *f = fopen("/usr/lib/go-1.19/src/runtime/sizeclasses.go", "r");
	if (f == NULL)
		cr_skip_test("Go sources not installed");
	static char buf[64 << 10];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strstr(buf, "var class_to_size");
	cr_assert_not_null(p);
	p = strchr(p, '{') + 1;
	for (int c = 0; c < _NumSizeClasses; c++) {
		char *end;
		long v = strtol(p, &end, 10);
		cr_assert_eq(v, class_to_size[c], "class %d", c);
		p = end + 1;
	}
	p = strchr(strstr(buf, "var class_to_allocnpages"), '{') + 1;
	for (int c = 0; c < _NumSizeClasses; c++) {
		char *end;
		long v = strtol(p, &end, 10);
		cr_assert_eq(v, class_to_allocnpages[c], "class %d npages", c);
		p = end + 1;
	}
}

/* ---- mallocgc ---- */

Test(malloc, small_objects_have_kind_and_class)
{
	runtime *rt = mt_newRuntime();
	uint8_t *prev = NULL;
	for (int i = 0; i < 3000; i++) {
		uint8_t *p = mallocgc(rt, 24, 9, true);
		cr_assert_not_null(p);
		cr_assert_eq(p[0], 9, "kind byte");
		for (int j = 1; j < 24; j++)
			cr_assert_eq(p[j], 0, "zeroed");
		cr_assert_eq((uintptr_t)p % 8, 0);
		cr_assert_eq(gcObjectSize(rt, p), 24);
		cr_assert_eq(gcObjectSize(rt, p + 23), 24, "interior pointer finds the object");
		mspan *s = spanOfHeap(rt, (uintptr_t)p + 5);
		cr_assert_not_null(s);
		cr_assert_eq(spanClass_sizeclass(s->spanclass), sizeToClass(24));
		cr_assert_eq(s->startAddr + mspan_objIndex(s, (uintptr_t)p + 5) * 24, (uintptr_t)p);
		cr_assert_neq(p, prev);
		memset(p + 1, 0xee, 23);
		prev = p;
	}
	cr_assert_eq(gcObjectSize(rt, (void *)&rt), 0, "not a heap pointer");
	cr_assert_null(spanOfHeap(rt, 0));
	cr_assert_null(spanOfHeap(rt, ~(uintptr_t)0));
	mt_checkStats(rt);
	MemStats m;
	readMemStats(rt, &m);
	cr_assert_eq(m.Mallocs, 3000);
	cr_assert_eq(m.HeapAlloc, 3000 * 24);
	cr_assert_eq(m.BySize[sizeToClass(24)].Mallocs, 3000);
	runtimeRelease(rt);
}

Test(malloc, size_zero_gets_a_slot)
{
	runtime *rt = mt_newRuntime();
	uint8_t *p = mallocgc(rt, 0, 3, false);
	cr_assert_not_null(p);
	cr_assert_eq(*p, 3);
	cr_assert_eq(gcObjectSize(rt, p), 8);
	cr_assert_null(mallocgc(rt, (size_t)1 << 60, 3, false), "absurd sizes fail cleanly");
	cr_assert_not_null(mallocgc(rt, 10, 3, false), "and the runtime goes on");
	runtimeRelease(rt);
}

Test(malloc, noscan_kinds_use_noscan_spans)
{
	runtime *rt = mt_newRuntime();
	rt->kindNoscan[5] = 1;
	void *a = mallocgc(rt, 100, 5, false);
	void *b = mallocgc(rt, 100, 6, false);
	cr_assert(spanClass_noscan(spanOfHeap(rt, (uintptr_t)a)->spanclass));
	cr_assert(!spanClass_noscan(spanOfHeap(rt, (uintptr_t)b)->spanclass));
	cr_assert_neq(spanOfHeap(rt, (uintptr_t)a), spanOfHeap(rt, (uintptr_t)b));
	void *c = mallocgc(rt, 100 * KiB, 5, false);
	cr_assert(spanClass_noscan(spanOfHeap(rt, (uintptr_t)c)->spanclass));
	runtimeRelease(rt);
}

/* nextFreeFast and nextFreeIndex hand out every slot of a span exactly once,
 * across the 64-slot allocCache windows, and reuse freed slots. */
Test(malloc, every_slot_once_then_reuse)
{
	runtime *rt = mt_newRuntime();
	enum { N = 1024 }; /* one full span of class 1 */
	static uint8_t *objs[3 * N];
	for (int i = 0; i < 3 * N; i++) {
		objs[i] = mallocgc(rt, 8, 1, false);
		cr_assert_not_null(objs[i]);
	}
	mspan *s = spanOfHeap(rt, (uintptr_t)objs[0]);
	cr_assert_eq(s->nelems, N);
	/* The first span is filled in address order. */
	for (int i = 0; i < N; i++)
		cr_assert_eq((uintptr_t)objs[i], s->startAddr + (uintptr_t)i * 8);
	/* Keep every third object; the rest come back through the sweep. */
	static void *keep[3 * N];
	size_t nkeep = 0;
	for (int i = 0; i < 3 * N; i += 3)
		keep[nkeep++] = objs[i];
	for (size_t i = 0; i < nkeep; i++)
		*(uint8_t *)keep[i] = 0x42;
	uintptr_t freed = mt_collect(rt, keep, nkeep);
	cr_assert_eq(freed, 3 * N - nkeep);
	mt_checkStats(rt);
	/* New objects never land on a kept one. */
	for (int i = 0; i < 2 * N; i++) {
		uint8_t *p = mallocgc(rt, 8, 1, false);
		for (size_t k = 0; k < nkeep; k++)
			cr_assert_neq((void *)p, keep[k]);
	}
	for (size_t i = 0; i < nkeep; i++)
		cr_assert_eq(*(uint8_t *)keep[i], 0x42, "survivor intact");
	mt_checkStats(rt);
	runtimeRelease(rt);
}

Test(malloc, needzero_only_when_memory_was_used)
{
	runtime *rt = mt_newRuntime();
	uint8_t *p = mallocgc(rt, 256, 1, true);
	mspan *s = spanOfHeap(rt, (uintptr_t)p);
	cr_assert_eq(s->needzero, 0, "fresh pages need no zeroing");
	memset(p, 0xff, 256);
	mt_collect(rt, NULL, 0); /* frees it and the span */
	/* The same pages come back dirty: mallocgc must zero when asked. */
	uint8_t *q = mallocgc(rt, 256, 2, true);
	mspan *t = spanOfHeap(rt, (uintptr_t)q);
	cr_assert_eq(t->needzero, 1, "reused pages are marked dirty (zeroedBase)");
	cr_assert_eq(q[0], 2);
	for (int i = 1; i < 256; i++)
		cr_assert_eq(q[i], 0, "byte %d not zeroed", i);
	runtimeRelease(rt);
}

Test(malloc, released_pages_come_back_zeroed)
{
	runtime *rt = mt_newRuntime();
	uint8_t *p = mallocgc(rt, 256 * KiB, 1, true);
	uintptr_t base = (uintptr_t)p;
	memset(p, 0xff, 256 * KiB);
	mt_collect(rt, NULL, 0);
	/* Reused without release: dirty. */
	uint8_t *q = mallocgc(rt, 256 * KiB, 1, true);
	cr_assert_eq((uintptr_t)q, base, "same pages reused");
	cr_assert_eq(spanOfHeap(rt, (uintptr_t)q)->needzero, 1);
	memset(q, 0xff, 256 * KiB);
	mt_collect(rt, NULL, 0);
	/* Released to the OS first: MADV_DONTNEED pages need no zeroing. */
	pageAlloc_scavenge(&rt->mheap_.pages, ~(uintptr_t)0);
	uint8_t *r = mallocgc(rt, 256 * KiB, 2, true);
	cr_assert_eq((uintptr_t)r, base);
	cr_assert_eq(spanOfHeap(rt, (uintptr_t)r)->needzero, 0);
	cr_assert_eq(r[0], 2);
	for (uintptr_t i = 1; i < 256 * KiB; i++)
		cr_assert_eq(r[i], 0, "byte %lu", (unsigned long)i);
	mt_checkStats(rt);
	runtimeRelease(rt);
}

Test(malloc, large_objects_get_their_own_spans)
{
	runtime *rt = mt_newRuntime();
	MemStats m0, m1, m2;
	readMemStats(rt, &m0);
	uint8_t *a = mallocgc(rt, 64 * KiB, 4, true);
	uint8_t *b = mallocgc(rt, 1 * MiB + 1, 4, true);
	cr_assert_not_null(a);
	cr_assert_not_null(b);
	cr_assert_eq(a[0], 4);
	mspan *sa = spanOfHeap(rt, (uintptr_t)a), *sb = spanOfHeap(rt, (uintptr_t)b);
	cr_assert_eq(sa->startAddr, (uintptr_t)a);
	cr_assert_eq(spanClass_sizeclass(sa->spanclass), 0);
	cr_assert_eq(sa->npages, 8);
	cr_assert_eq(sb->npages, 129);
	cr_assert_eq(gcObjectSize(rt, b + MiB), 129 * pageSize);
	cr_assert_null(spanOfHeap(rt, (uintptr_t)b + MiB + 1), "past the object's end");
	b[MiB] = 1;
	readMemStats(rt, &m1);
	cr_assert_eq(m1.HeapInuse - m0.HeapInuse, (8 + 129) * pageSize);
	cr_assert_eq(m1.HeapAlloc, (8 + 129) * pageSize);
	cr_assert_eq(m1.Mallocs, 2);
	mt_checkStats(rt);

	void *keep[] = {b};
	mt_collect(rt, keep, 1);
	readMemStats(rt, &m2);
	cr_assert_eq(m2.HeapInuse - m0.HeapInuse, 129 * pageSize);
	cr_assert_eq(m2.Frees, 1);
	cr_assert_eq(m2.HeapAlloc, 129 * pageSize);
	cr_assert_eq(rt->memstats.heapStats.largeFree, 8 * pageSize);
	cr_assert_eq(b[MiB], 1);
	mt_checkStats(rt);
	runtimeRelease(rt);
}

Test(malloc, heap_live_follows_cached_spans)
{
	runtime *rt = mt_newRuntime();
	cr_assert_eq(rt->gcController.heapLive, 0);
	void *p = mallocgc(rt, 48, 1, false);
	/* Caching a span charges all its free bytes at once. */
	cr_assert_eq(rt->gcController.heapLive, pageSize);
	mspan *s = spanOfHeap(rt, (uintptr_t)p);
	flushallmcaches(rt);
	/* Unused slots are credited back; the span's tail waste stays. */
	uint64_t expect = 48 + (pageSize - s->nelems * 48);
	cr_assert_eq(rt->gcController.heapLive, expect, "heapLive %lu",
	             (unsigned long)rt->gcController.heapLive);
	mallocgc(rt, 40 * KiB, 1, false);
	cr_assert_eq(rt->gcController.heapLive, expect + 5 * pageSize);
	runtimeRelease(rt);
}

/* ---- manual spans ---- */

Test(manual, stacks_counted_as_stack_inuse)
{
	runtime *rt = mt_newRuntime();
	MemStats m0, m1, m2;
	readMemStats(rt, &m0);
	uint8_t *st = stackalloc(rt, 10000);
	cr_assert_not_null(st);
	memset(st, 1, 10000);
	readMemStats(rt, &m1);
	cr_assert_eq(m1.StackInuse - m0.StackInuse, 2 * pageSize);
	cr_assert_eq(m1.StackSys - m0.StackSys, 2 * pageSize);
	cr_assert_eq(m1.HeapInuse, m0.HeapInuse, "stacks are not heap in use");
	cr_assert_eq(m1.HeapAlloc, 0);
	mspan *s = spanOf(rt, (uintptr_t)st + 9999);
	cr_assert_eq(s->state, mSpanManual);
	cr_assert_null(spanOfHeap(rt, (uintptr_t)st), "manual spans hold no objects");
	mt_checkStats(rt);

	stackfree(rt, st, 10000);
	readMemStats(rt, &m2);
	cr_assert_eq(m2.StackInuse, m0.StackInuse);
	cr_assert_eq(m2.HeapIdle, m1.HeapIdle + 2 * pageSize, "the stack's pages are free heap again");
	cr_assert_eq(m2.Sys, m1.Sys, "freeing a stack unmaps nothing");
	mt_checkStats(rt);

	/* Work buffers are GC metadata. */
	uint64_t gcsys = m2.GCSys;
	mspan *wb = mheap_allocManual(rt, 4, spanAllocWorkBuf);
	cr_assert_not_null(wb);
	MemStats m3;
	readMemStats(rt, &m3);
	cr_assert_eq(m3.GCSys - gcsys, 4 * pageSize);
	mheap_freeManual(rt, wb, spanAllocWorkBuf);
	mt_checkStats(rt);
	runtimeRelease(rt);
}

/* ---- specials ---- */

Test(specials, finalizer_records)
{
	runtime *rt = mt_newRuntime();
	void *a = mallocgc(rt, 64, 1, true);
	void *b = mallocgc(rt, 64, 1, true);
	cr_assert(addfinalizer(rt, a));
	cr_assert(!addfinalizer(rt, a), "one finalizer per object");
	cr_assert(addfinalizer(rt, (uint8_t *)b + 10), "interior pointer names the object");
	mspan *s = spanOfHeap(rt, (uintptr_t)a);
	int n = 0;
	for (special *sp = s->specials; sp != NULL; sp = sp->next, n++)
		if (sp->next)
			cr_assert_lt(sp->offset, sp->next->offset, "sorted by offset");
	cr_assert_eq(n, 2);
	cr_assert(!addfinalizer(rt, &n), "not a heap object");
	cr_assert(removefinalizer(rt, a));
	cr_assert(!removefinalizer(rt, a));
	/* The sweeper drops records of dead objects. */
	void *keep[] = {a};
	mt_collect(rt, keep, 1);
	cr_assert_null(s->specials);
	cr_assert_eq(rt->mheap_.specialfinalizeralloc.inuse, 0);
	mt_checkStats(rt);
	runtimeRelease(rt);
}

/* ---- the collector hooks ---- */

static int collects[4];
static void **hookKeep;
static size_t hookNKeep;
static void countingCollect(runtime *rt, int why)
{
	cr_assert(rt->gcRunning, "mallocgc marks the collection as running");
	collects[why]++;
	/* A nested allocation must not collect again (under a full cap it
	 * may fail, but it must not recurse). */
	void *nested = mallocgc(rt, 16, 1, false);
	cr_assert(nested != NULL || rt->maxHeap > 0);
	mt_collect(rt, hookKeep, hookNKeep);
}

Test(hooks, heap_trigger_and_no_reentrance)
{
	runtime *rt = mt_newRuntime();
	memset(collects, 0, sizeof collects);
	hookKeep = NULL;
	hookNKeep = 0;
	rt->gcHook.collect = countingCollect;
	cr_assert_eq(rt->gcController.trigger, (uint64_t)(4 * MiB) / 64 * 61);
	int i = 0;
	while (collects[GC_TRIGGER_HEAP] == 0 && i < 100000) {
		cr_assert_not_null(mallocgc(rt, 1000, 1, false));
		i++;
	}
	cr_assert_eq(collects[GC_TRIGGER_HEAP], 1, "one collection once heapLive reached the trigger");
	cr_assert(i > 3000, "not before (after %d allocations)", i);
	cr_assert_eq(collects[GC_TRIGGER_STRESS], 0);
	cr_assert(!rt->gcRunning);
	mt_checkStats(rt);
	runtimeRelease(rt);
}

Test(hooks, gcstress_every_nth)
{
	runtime *rt = mallocinit("gcstress=3");
	memset(collects, 0, sizeof collects);
	hookKeep = NULL;
	hookNKeep = 0;
	rt->gcHook.collect = countingCollect;
	for (int i = 0; i < 30; i++)
		cr_assert_not_null(mallocgc(rt, 32, 1, false));
	/* 30 outer calls plus one nested call per collection. */
	cr_assert_geq(collects[GC_TRIGGER_STRESS], 9);
	cr_assert_leq(collects[GC_TRIGGER_STRESS], 14);
	runtimeRelease(rt);
}

Test(hooks, failalloc_fails_exactly_the_nth)
{
	runtime *rt = mallocinit("failalloc=5");
	for (int i = 1; i <= 10; i++) {
		void *p = mallocgc(rt, 100, 1, false);
		if (i == 5)
			cr_assert_null(p, "call %d", i);
		else
			cr_assert_not_null(p, "call %d", i);
	}
	mt_checkStats(rt);
	runtimeRelease(rt);
}

Test(hooks, max_heap_collects_then_fails_then_recovers)
{
	runtime *rt = mt_newRuntime();
	memset(collects, 0, sizeof collects);
	rt->maxHeap = 8 * MiB;
	static void *live[64];
	size_t n = 0;
	hookKeep = live;
	rt->gcHook.collect = countingCollect;
	rt->gcController.trigger = ~(uint64_t)0; /* only the cap collects */
	for (;;) {
		hookNKeep = n;
		void *p = mallocgc(rt, MiB, 1, false);
		if (p == NULL)
			break;
		cr_assert_lt(n, 64);
		live[n++] = p;
	}
	cr_assert(n >= 6 && n <= 8, "%zu MiB objects fit under 8 MiB", n);
	cr_assert_geq(collects[GC_TRIGGER_OOM], 1, "a collection was tried first");
	MemStats m;
	readMemStats(rt, &m);
	cr_assert_leq(m.HeapInuse, 8 * MiB);
	mt_checkStats(rt);

	/* Dropping the live set makes room: the next collection frees it. */
	hookNKeep = 0;
	void *p = mallocgc(rt, MiB, 1, false);
	cr_assert_not_null(p, "usable again after the collection");
	cr_assert_not_null(mallocgc(rt, 100, 1, false));
	/* Stacks count against the cap, without collecting. */
	cr_assert_null(stackalloc(rt, 16 * MiB));
	mt_checkStats(rt);
	runtimeRelease(rt);
}

/* ---- several runtimes ---- */

Test(runtimes, independent_heaps_and_stats)
{
	runtime *a = mt_newRuntime();
	runtime *b = mt_newRuntime();
	MemStats mb0, mb1;
	readMemStats(b, &mb0);
	void *pa[100];
	for (int i = 0; i < 100; i++)
		pa[i] = mallocgc(a, 5000, 1, true);
	void *big = mallocgc(a, 3 * MiB, 1, true);
	readMemStats(b, &mb1);
	cr_assert_eq(mb1.HeapAlloc, mb0.HeapAlloc);
	cr_assert_eq(mb1.Sys, mb0.Sys);
	cr_assert_eq(mb1.MappedReady, mb0.MappedReady);
	/* Each heap knows only its own objects. */
	cr_assert_null(spanOfHeap(b, (uintptr_t)pa[0]));
	cr_assert_null(spanOfHeap(b, (uintptr_t)big));
	cr_assert_not_null(spanOfHeap(a, (uintptr_t)big));
	void *pb = mallocgc(b, 5000, 2, true);
	cr_assert_null(spanOfHeap(a, (uintptr_t)pb));
	cr_assert_eq(*(uint8_t *)pb, 2);
	MemStats ma;
	readMemStats(a, &ma);
	cr_assert_eq(ma.Mallocs, 101);
	mt_checkStats(a);
	mt_checkStats(b);
	runtimeRelease(a);
	/* b survives a's release. */
	cr_assert_not_null(mallocgc(b, 100, 1, true));
	mt_checkStats(b);
	runtimeRelease(b);
}

Test(runtimes, create_and_release_many)
{
	for (int i = 0; i < 20; i++) {
		runtime *rt = mt_newRuntime();
		cr_assert_not_null(mallocgc(rt, 100, 1, true));
		cr_assert_not_null(mallocgc(rt, 100 * KiB, 1, true));
		runtimeRelease(rt);
	}
}

/* ---- metrics ---- */

static uint64_t metric(const gcMetric *ms, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(ms[i].name, name) == 0)
			return ms[i].value;
	cr_assert_fail("no metric %s", name);
	return 0;
}

Test(metrics, classes_partition_total)
{
	runtime *rt = mt_newRuntime();
	for (int i = 0; i < 500; i++)
		mallocgc(rt, (size_t)(i * 37 % 9000 + 1), 1, true);
	void *st = stackalloc(rt, 20000);
	gcMetric ms[64];
	int n = readMetrics(rt, ms, 64);
	cr_assert(n > 20 && n <= 64);
	cr_assert_eq(readMetrics(rt, ms, 3), n, "the count is independent of max");
	n = readMetrics(rt, ms, 64);
	MemStats m;
	readMemStats(rt, &m);
	uint64_t sum = 0;
	for (int i = 0; i < n; i++)
		if (strncmp(ms[i].name, "/memory/classes/", 16) == 0 &&
		    strcmp(ms[i].name, "/memory/classes/total:bytes") != 0)
			sum += ms[i].value;
	uint64_t total = metric(ms, n, "/memory/classes/total:bytes");
	cr_assert_eq(sum, total, "classes sum to total");
	cr_assert_eq(total, m.Sys);
	cr_assert_eq(metric(ms, n, "/memory/classes/heap/free:bytes"), m.HeapIdle - m.HeapReleased);
	cr_assert_eq(metric(ms, n, "/memory/classes/heap/released:bytes"), m.HeapReleased);
	cr_assert_eq(metric(ms, n, "/memory/classes/heap/objects:bytes"), m.HeapAlloc);
	cr_assert_eq(metric(ms, n, "/memory/classes/heap/stacks:bytes"), m.StackInuse);
	cr_assert_eq(metric(ms, n, "/memory/classes/metadata/other:bytes"), m.GCSys);
	cr_assert_eq(metric(ms, n, "/memory/classes/os-stacks:bytes"), m.StackSys - m.StackInuse);
	cr_assert_eq(metric(ms, n, "/gc/heap/allocs:objects"), m.Mallocs);
	cr_assert_eq(metric(ms, n, "/gc/heap/goal:bytes"), m.NextGC);
	cr_assert_eq(metric(ms, n, "/memory/mapped-ready:bytes"), m.MappedReady);
	stackfree(rt, st, 20000);
	runtimeRelease(rt);
}

/* ---- scavenging through the heap ---- */

Test(scavenge, release_and_reuse_keep_invariant)
{
	runtime *rt = mt_newRuntime();
	static void *objs[400];
	for (int i = 0; i < 400; i++)
		objs[i] = mallocgc(rt, 20 * KiB, 1, true);
	mt_collect(rt, objs, 100); /* keep the first quarter */
	MemStats m0, m1;
	readMemStats(rt, &m0);
	uintptr_t got = pageAlloc_scavenge(&rt->mheap_.pages, 4 * MiB);
	cr_assert_geq(got, 4 * MiB);
	readMemStats(rt, &m1);
	cr_assert_eq(m1.HeapReleased - m0.HeapReleased, got);
	cr_assert_eq(m0.MappedReady - m1.MappedReady, got);
	cr_assert_eq(m1.HeapSys, m0.HeapSys);
	/* Reusing released pages makes them Ready again through sysUsed. */
	for (int i = 100; i < 400; i++)
		cr_assert_not_null(mallocgc(rt, 20 * KiB, 1, true));
	mt_checkStats(rt);
	runtimeRelease(rt);
}

Test(scavenge, memory_limit_assist_in_alloc_span)
{
	runtime *rt = mt_newRuntime();
	for (int i = 0; i < 300; i++)
		cr_assert_not_null(mallocgc(rt, 64 * KiB, 1, true));
	mt_collect(rt, NULL, 0);
	MemStats m0;
	readMemStats(rt, &m0);
	cr_assert_gt(m0.HeapIdle - m0.HeapReleased, 10 * MiB, "lots of free Ready memory");
	/* With the limit below what is Ready, each new span releases as much
	 * as it pages in beyond the limit. */
	rt->gcController.memoryLimit = (int64_t)(m0.MappedReady - 8 * MiB);
	for (int i = 0; i < 20; i++)
		cr_assert_not_null(mallocgc(rt, 64 * KiB, 1, true));
	MemStats m1;
	readMemStats(rt, &m1);
	cr_assert_leq(m1.MappedReady, (uint64_t)rt->gcController.memoryLimit + 64 * KiB,
	              "mappedReady %lu limit %ld", (unsigned long)m1.MappedReady,
	              (long)rt->gcController.memoryLimit);
	cr_assert_gt(m1.HeapReleased, m0.HeapReleased);
	mt_checkStats(rt);
	runtimeRelease(rt);
}

static bool alwaysLimiting(runtime *rt)
{
	(void)rt;
	return true;
}

Test(scavenge, no_limit_assist_while_limiter_is_on)
{
	runtime *rt = mt_newRuntime();
	for (int i = 0; i < 300; i++)
		cr_assert_not_null(mallocgc(rt, 64 * KiB, 1, true));
	mt_collect(rt, NULL, 0);
	MemStats m0, m1;
	readMemStats(rt, &m0);
	rt->gcController.memoryLimit = (int64_t)(m0.MappedReady - 8 * MiB);
	rt->gcHook.limiting = alwaysLimiting;
	for (int i = 0; i < 20; i++)
		cr_assert_not_null(mallocgc(rt, 64 * KiB, 1, true));
	readMemStats(rt, &m1);
	/* Reuse may take released pages back; nothing new is released. */
	cr_assert_leq(m1.HeapReleased, m0.HeapReleased, "released while limiting: %lu -> %lu",
	              (unsigned long)m0.HeapReleased, (unsigned long)m1.HeapReleased);
	cr_assert_gt(m1.MappedReady, (uint64_t)rt->gcController.memoryLimit);
	mt_checkStats(rt);
	runtimeRelease(rt);
}

/* ---- the randomized workload ---- */

Test(workload, random_sizes_and_frees_check_every_step)
{
	runtime *rt = mt_newRuntime();
	srand(777);
	enum { slots = 256 };
	static void *live[slots];
	static uintptr_t sizes[slots];
	uint64_t allocated = 0;
	for (int step = 0; step < 2500; step++) {
		int i = rand() % slots;
		int r = rand() % 100;
		uintptr_t size;
		if (r < 70)
			size = 8 + (uintptr_t)(rand() % 512);
		else if (r < 92)
			size = 512 + (uintptr_t)(rand() % (32 * 1024));
		else
			size = 32 * KiB + (uintptr_t)(rand() % (int)(MiB - 32 * KiB));
		uint8_t *p = mallocgc(rt, size, (uint8_t)(1 + i % 60), true);
		cr_assert_not_null(p);
		cr_assert_eq(p[0], (uint8_t)(1 + i % 60));
		cr_assert_geq(gcObjectSize(rt, p), size);
		/* Fill the object so overlaps would show up as corruption. */
		memset(p + 1, (int)(i & 0xff), size - 1 < 64 ? size - 1 : 64);
		live[i] = p;
		sizes[i] = size;
		allocated += size;
		if (step % 97 == 96) {
			/* Drop a random half, then verify the survivors. */
			for (int k = 0; k < slots; k++)
				if (rand() % 2)
					live[k] = NULL;
			mt_collect(rt, live, slots);
			for (int k = 0; k < slots; k++) {
				if (live[k] == NULL)
					continue;
				uint8_t *q = live[k];
				uintptr_t n = sizes[k] - 1 < 64 ? sizes[k] - 1 : 64;
				for (uintptr_t j = 1; j <= n; j++)
					cr_assert_eq(q[j], (uint8_t)(k & 0xff), "object %d corrupted", k);
			}
		}
		if (step % 500 == 499)
			pageAlloc_scavenge(&rt->mheap_.pages, 16 * MiB);
		mt_checkStats(rt);
		if (step % 25 == 0)
			mt_checkMemStatsSlow(rt);
	}
	MemStats m;
	readMemStats(rt, &m);
	cr_assert_geq(m.TotalAlloc, allocated);
	cr_assert_gt(m.Frees, 0);
	runtimeRelease(rt);
}

/* ---- arena hints (Go's TestArenaCollision) ---- */

#include <sys/mman.h>

/* Occupy [addr, addr+n) ourselves; false if the kernel would not place it. */
static bool occupy(uintptr_t addr, uintptr_t n)
{
	void *p = mmap((void *)addr, n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
	               -1, 0);
	if (p == MAP_FAILED)
		return false;
	if ((uintptr_t)p != addr) {
		munmap(p, n);
		return false;
	}
	return true;
}

Test(arena, hints_then_collisions_then_fallback)
{
	runtime *rt = mt_newRuntime();
	mheap *h = &rt->mheap_;
	/* Go's layout: 128 up-hints from 0x00c000000000, 2^40 apart. */
	int nh = 0;
	for (arenaHint *x = h->arenaHints; x != NULL; x = x->next, nh++) {
		cr_assert_eq(x->addr, (uintptr_t)nh << 40 | (uintptr_t)0x00c0 << 32);
		cr_assert(!x->down);
	}
	cr_assert_eq(nh, 128);

	/* Start the heap, then occupy the next two places it would grow to. */
	cr_assert_not_null(mallocgc(rt, 100, 1, false));
	arenaHint *first = h->arenaHints, *second = first->next;
	cr_assert_not_null(second);
	second->next = NULL;
	uintptr_t r0 = first->down ? first->addr - heapArenaBytes : first->addr;
	uintptr_t r1 = second->down ? second->addr - heapArenaBytes : second->addr;
	uintptr_t h0 = first->addr, h1 = second->addr;
	if (!occupy(r0, heapArenaBytes) || !occupy(r1, heapArenaBytes))
		cr_skip_test("hint addresses already in use in this process");

	/* More than an arena's worth forces new reservations. */
	static void *objs[100];
	for (int i = 0; i < 100; i++) {
		objs[i] = mallocgc(rt, MiB, 1, true);
		cr_assert_not_null(objs[i]);
		uintptr_t p = (uintptr_t)objs[i];
		cr_assert(!(p >= r0 && p < r0 + heapArenaBytes), "object inside our mapping");
		cr_assert(!(p >= r1 && p < r1 + heapArenaBytes), "object inside our mapping");
		memset(objs[i], 1, 4096);
	}
	/* Both hints were dropped; the fallback left hints of its own. */
	cr_assert_not_null(h->arenaHints);
	for (arenaHint *x = h->arenaHints; x != NULL; x = x->next)
		cr_assert(x->addr != h0 && x->addr != h1, "a failed hint survived");
	cr_assert(h->allArenasLen >= 2);
	for (uintptr_t i = 0; i < h->allArenasLen; i++) {
		uintptr_t b = arenaBase(h->allArenas[i]);
		cr_assert_eq(b % heapArenaBytes, 0);
		cr_assert(b != r0 && b != r1);
	}
	mt_checkStats(rt);
	runtimeRelease(rt);
	munmap((void *)r0, heapArenaBytes);
	munmap((void *)r1, heapArenaBytes);
}

Test(arena, heap_grows_in_chunks_and_counts_released_until_used)
{
	runtime *rt = mt_newRuntime();
	MemStats m0, m1;
	readMemStats(rt, &m0);
	cr_assert_eq(m0.HeapSys, 0, "no heap before the first allocation");
	void *p = mallocgc(rt, 100, 1, false);
	cr_assert_not_null(p);
	readMemStats(rt, &m1);
	/* One 4 MiB chunk mapped, one page of it Ready, the rest released. */
	cr_assert_eq(m1.HeapSys, 4 * MiB);
	cr_assert_eq(m1.HeapInuse, pageSize);
	cr_assert_eq(m1.HeapReleased, 4 * MiB - pageSize - (m1.HeapIdle - m1.HeapReleased));
	cr_assert_eq(m1.MappedReady - m0.MappedReady,
	             (m1.Sys - m0.Sys) - (m1.HeapReleased - m0.HeapReleased));
	cr_assert_eq(rt->mheap_.pagesInUse, 1);
	runtimeRelease(rt);
}

/* Go's TestScavengedBitsCleared: no page of the live heap is both
 * allocated and scavenged, and heapReleased equals the scavenged pages the
 * bitmaps and the page cache hold (Go's ReadMemStatsSlow). */
static void checkScavengedBits(runtime *rt)
{
	pageAlloc *p = &rt->mheap_.pages;
	uint64_t scavenged = 0;
	for (chunkIdx ci = p->start; ci < p->end; ci++) {
		pallocData *c = pageAlloc_tryChunkOf(p, ci);
		if (c == NULL)
			continue;
		for (unsigned w = 0; w < pallocChunkPages / 64; w++) {
			uint64_t both = c->pallocBits.b[w] & c->scavenged.b[w];
			cr_assert_eq(both, 0, "chunk %lu word %u: allocated and scavenged %#lx",
			             (unsigned long)ci, w, (unsigned long)both);
			scavenged += (uint64_t)__builtin_popcountll(c->scavenged.b[w]) * pageSize;
		}
	}
	const pageCache *pc = &rt->mheap_.pcache;
	scavenged += (uint64_t)__builtin_popcountll(pc->cache & pc->scav) * pageSize;
	cr_assert_eq(scavenged, rt->gcController.heapReleased.bytes,
	             "scavenged pages %lu vs heapReleased %lu", (unsigned long)scavenged,
	             (unsigned long)rt->gcController.heapReleased.bytes);
}

Test(scavenge, scavenged_bits_match_heap_released)
{
	runtime *rt = mt_newRuntime();
	srand(99);
	static void *live[512];
	for (int round = 0; round < 30; round++) {
		for (int i = 0; i < 512; i++) {
			size_t size = rand() % 4 ? (size_t)(16 + rand() % 2000) : (size_t)(40000 + rand() % 300000);
			live[i] = mallocgc(rt, size, 1, false);
			cr_assert_not_null(live[i]);
			checkScavengedBits(rt);
		}
		for (int i = 0; i < 512; i++)
			if (rand() % 3)
				live[i] = NULL;
		mt_collect(rt, live, 512);
		checkScavengedBits(rt);
		pageAlloc_scavenge(&rt->mheap_.pages, (uintptr_t)(rand() % 64) * pageSize * 4);
		checkScavengedBits(rt);
		/* The background scavenger's path, with goals below the heap. */
		gcPaceScavenger(rt, INT64_MAX, 1 * MiB, 1 * MiB);
		bgscavenge(rt, 1000000);
		checkScavengedBits(rt);
		mt_checkStats(rt);
		mt_checkMemStatsSlow(rt);
	}
	runtimeRelease(rt);
}

/* Go's TestPageAccounting: grow the heap in 64 KiB steps. */
Test(arena, page_accounting)
{
	runtime *rt = mt_newRuntime();
	for (int i = 0; i < 1000; i++) {
		cr_assert_not_null(mallocgc(rt, 64 * KiB, 1, false));
		if (i % 100 == 0)
			mt_checkMemStatsSlow(rt);
	}
	cr_assert_eq(rt->mheap_.pagesInUse, 1000 * 8);
	mt_checkMemStatsSlow(rt);
	runtimeRelease(rt);
}

/* ---- the OS saying no ---- */

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* In a child with its address space capped just above what it uses:
 * allocations that need new address space get NULL, the runtime stays
 * consistent and keeps serving what fits. Exit status 0 means all held. */
static int osRefusalChild(void)
{
	runtime *rt = mallocinit("");
	void *small = mallocgc(rt, 100, 1, true);
	if (small == NULL)
		return 1;
	unsigned long vmPages = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f == NULL || fscanf(f, "%lu", &vmPages) != 1)
		return 2;
	fclose(f);
	struct rlimit rl = {vmPages * (unsigned long)sysconf(_SC_PAGESIZE) + 32 * MiB, RLIM_INFINITY};
	rl.rlim_max = rl.rlim_cur;
	if (setrlimit(RLIMIT_AS, &rl) != 0)
		return 3;
	if (mallocgc(rt, 1024 * MiB, 1, true) != NULL)
		return 4; /* a gigabyte cannot fit under the cap */
	if (stackalloc(rt, 1024 * MiB) != NULL)
		return 5;
	for (int i = 0; i < 1000; i++)
		if (mallocgc(rt, 100, 1, true) == NULL)
			return 6; /* the current arena still has room */
	readmemstats_check(rt); /* aborts on any inconsistency */
	return 0;
}

Test(oom, os_refusal_returns_null, .init = cr_redirect_stderr)
{
#if defined(__SANITIZE_ADDRESS__)
	cr_skip_test("an address-space cap starves the sanitizer's own mappings");
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
	cr_skip_test("an address-space cap starves the sanitizer's own mappings");
#endif
#endif
	fflush(NULL);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0)
		_exit(osRefusalChild());
	int status;
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status), "child died: %#x", status);
	cr_assert_eq(WEXITSTATUS(status), 0, "step %d failed", WEXITSTATUS(status));
}
