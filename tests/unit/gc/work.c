/* The gray stack's work buffers on their own. */
#include <criterion/criterion.h>

#include "gc/gc.h"
#include "gc/mgcwork.h"
#include "mem/mstats.h"
#include "mem/runtime.h"

Test(work, lifo_across_many_buffers_and_back_to_the_heap)
{
	gcConfig cfg;
	gcConfigInit(&cfg);
	cfg.debug = "";
	runtime *rt = runtimeCreate(&cfg);
	cr_assert_not_null(rt);
	gcWork w = {0};
	cr_assert(gcWork_isEmpty(&w));
	cr_assert_null(gcWork_tryGet(&w));
	const uintptr_t n = 20 * workbufObjs + 7; /* spans two 32 KiB chunks */
	for (uintptr_t i = 1; i <= n; i++)
		cr_assert(gcWork_put(rt, &w, (void *)(i * 8)));
	cr_assert_not(gcWork_isEmpty(&w));
	cr_assert_eq(w.nchunks, 2);
	cr_assert_eq(rt->memstats.heapStats.inWorkBufs, (int64_t)(2 * workbufAlloc));
	readmemstats_check(rt);
	/* Interleave: pops see the most recent pushes first. */
	for (uintptr_t i = n; i > n - 300; i--)
		cr_assert_eq((uintptr_t)gcWork_tryGet(&w), i * 8);
	cr_assert(gcWork_put(rt, &w, (void *)8));
	cr_assert_eq((uintptr_t)gcWork_tryGet(&w), 8);
	uintptr_t seen = 0;
	void *p;
	while ((p = gcWork_tryGet(&w)) != NULL)
		seen++;
	cr_assert_eq(seen, n - 300);
	cr_assert(gcWork_isEmpty(&w));
	gcWork_dispose(rt, &w);
	cr_assert_eq(rt->memstats.heapStats.inWorkBufs, 0);
	cr_assert_eq(w.maxChunks, 2);
	readmemstats_check(rt);
	runtimeDestroy(rt);
}

Test(work, put_fails_cleanly_without_memory)
{
	gcConfig cfg;
	gcConfigInit(&cfg);
	cfg.debug = "";
	runtime *rt = runtimeCreate(&cfg);
	gcWork w = {.chunkLimit = 1};
	uintptr_t ok = 0;
	while (gcWork_put(rt, &w, (void *)((ok + 1) * 8)))
		ok++;
	cr_assert(w.overflow);
	/* One chunk: 16 buffers of workbufObjs pointers. */
	cr_assert_eq(ok, 16 * workbufObjs);
	for (uintptr_t i = ok; i > 0; i--)
		cr_assert_eq((uintptr_t)gcWork_tryGet(&w), i * 8);
	gcWork_dispose(rt, &w);
	cr_assert_not(w.overflow);
	runtimeDestroy(rt);
}
