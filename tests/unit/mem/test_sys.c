/*
 * test_sys.c — the OS layer and the low-level allocators: every sys*
 * transition moves its stat and mappedReady as mem.h's table says,
 * linearAlloc, persistentalloc and fixalloc charge the right stats, a
 * randomized sequence keeps mappedReady == Sys - released, broken accounting
 * is caught, and the kernel agrees with mappedReady.
 */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "memtest.h"

#define MiB ((uintptr_t)1 << 20)

Test(sys, alloc_and_free_move_stat_and_ready)
{
	runtime *rt = mt_newRuntime();
	sysMemStat st = {0};
	uint64_t ready0 = rt->gcController.mappedReady;
	uint8_t *p = sysAlloc(rt, 3 * pageSize, &st);
	cr_assert_not_null(p);
	cr_assert_eq(st.bytes, 3 * pageSize);
	cr_assert_eq(rt->gcController.mappedReady, ready0 + 3 * pageSize);
	p[0] = 1;
	p[3 * pageSize - 1] = 2; /* Ready: usable at once */
	sysFree(rt, p, 3 * pageSize, &st);
	cr_assert_eq(st.bytes, 0);
	cr_assert_eq(rt->gcController.mappedReady, ready0);
	runtimeRelease(rt);
}

Test(sys, reserve_map_used_unused_fault)
{
	runtime *rt = mt_newRuntime();
	sysMemStat st = {0};
	uint64_t ready0 = rt->gcController.mappedReady;
	uintptr_t n = 16 * physPageSize;

	uint8_t *v = sysReserve(NULL, n);
	cr_assert_not_null(v);
	char prot[5];
	cr_assert(mt_protOf((uintptr_t)v, prot));
	cr_assert_str_eq(prot, "---p", "Reserved must fault on access");
	cr_assert_eq(rt->gcController.mappedReady, ready0, "sysReserve accounts nothing");

	cr_assert(sysMap(rt, v, n, &st));
	cr_assert_eq(st.bytes, n, "sysMap charges the stat");
	cr_assert_eq(rt->gcController.mappedReady, ready0, "Prepared is not Ready");
	cr_assert(mt_protOf((uintptr_t)v, prot));
	cr_assert_str_eq(prot, "rw-p");

	/* Only the prepared bytes the caller names are counted. */
	sysUsed(rt, v, n, n / 4);
	cr_assert_eq(rt->gcController.mappedReady, ready0 + n / 4);
	sysUsed(rt, v, n, n - n / 4);
	cr_assert_eq(rt->gcController.mappedReady, ready0 + n);
	cr_assert_eq(st.bytes, n, "sysUsed leaves the stat alone");
	memset(v, 0xab, n);

	sysUnused(rt, v + 4 * physPageSize, 4 * physPageSize);
	cr_assert_eq(rt->gcController.mappedReady, ready0 + n - 4 * physPageSize);
	cr_assert_eq(v[4 * physPageSize], 0, "MADV_DONTNEED pages read as zero");
	cr_assert_eq(v[0], 0xab, "the rest is untouched");
	sysUsed(rt, v + 4 * physPageSize, 4 * physPageSize, 4 * physPageSize);
	cr_assert_eq(rt->gcController.mappedReady, ready0 + n);

	sysFault(rt, v + 8 * physPageSize, 8 * physPageSize);
	cr_assert_eq(rt->gcController.mappedReady, ready0 + n - 8 * physPageSize);
	cr_assert(mt_protOf((uintptr_t)v + 8 * physPageSize, prot));
	cr_assert_str_eq(prot, "---p", "sysFault returns to Reserved");
	cr_assert_eq(st.bytes, n, "sysFault leaves the stat alone, as Go");

	/* Clean up both halves with their own accounting. */
	sysFree(rt, v, 8 * physPageSize, &st);
	sysMemStat_add(&st, -(int64_t)(8 * physPageSize));
	sysFreeOS(v + 8 * physPageSize, 8 * physPageSize);
	cr_assert_eq(st.bytes, 0);
	cr_assert_eq(rt->gcController.mappedReady, ready0);
	runtimeRelease(rt);
}

Test(sys, stat_underflow_aborts, .signal = SIGABRT, .init = cr_redirect_stderr)
{
	sysMemStat st = {10};
	sysMemStat_add(&st, -11);
}

Test(sys, stat_overflow_aborts, .signal = SIGABRT, .init = cr_redirect_stderr)
{
	sysMemStat st = {(uint64_t)1 << 62};
	sysMemStat_add(&st, INT64_MAX);
}

Test(sys, nil_stat_aborts, .signal = SIGABRT, .init = cr_redirect_stderr)
{
	runtime *rt = mt_newRuntime();
	sysAlloc(rt, pageSize, NULL);
}

Test(sys, stat_add_is_exact)
{
	sysMemStat st = {0};
	sysMemStat_add(&st, 100);
	sysMemStat_add(&st, -100);
	cr_assert_eq(sysMemStat_load(&st), 0);
	sysMemStat_add(&st, 5);
	cr_assert_eq(sysMemStat_load(&st), 5);
}

Test(sys, reserve_aligned_trims_to_alignment)
{
	uintptr_t size;
	uintptr_t align = 4 * MiB;
	uint8_t *p = sysReserveAligned(NULL, 8 * MiB, align, &size);
	cr_assert_not_null(p);
	cr_assert_eq((uintptr_t)p % align, 0);
	cr_assert(size == 8 * MiB || size == 8 * MiB + align);
	char prot[5];
	cr_assert(mt_protOf((uintptr_t)p, prot));
	cr_assert_str_eq(prot, "---p");
	/* The whole aligned block is one reservation, and goes away whole. */
	cr_assert(mt_protOf((uintptr_t)p + size - 1, prot));
	cr_assert_str_eq(prot, "---p");
	sysFreeOS(p, size);
	cr_assert(!mt_protOf((uintptr_t)p, prot), "still mapped after sysFreeOS");
}

Test(sys, linear_alloc_walks_reserved_prepared_ready)
{
	runtime *rt = mt_newRuntime();
	sysMemStat st = {0};
	uintptr_t size = 64 * physPageSize;
	uint8_t *base = sysReserve(NULL, size);
	cr_assert_not_null(base);
	linearAlloc l;
	linearAlloc_init(&l, (uintptr_t)base, size, true);
	uint64_t ready0 = rt->gcController.mappedReady;
	char prot[5];

	/* Nothing mapped yet: the region is Reserved. */
	cr_assert(mt_protOf((uintptr_t)base, prot));
	cr_assert_str_eq(prot, "---p");

	uint8_t *a = linearAlloc_alloc(rt, &l, 100, 8, &st);
	cr_assert_eq(a, base);
	cr_assert_eq(st.bytes, physPageSize, "one page mapped for 100 bytes");
	cr_assert_eq(rt->gcController.mappedReady, ready0 + physPageSize, "and made Ready");
	cr_assert(mt_protOf((uintptr_t)base, prot));
	cr_assert_str_eq(prot, "rw-p");
	cr_assert(mt_protOf((uintptr_t)base + physPageSize, prot));
	cr_assert_str_eq(prot, "---p", "the rest stays Reserved");
	memset(a, 1, 100);

	/* Crossing into the next pages maps exactly what is touched. */
	uint8_t *b = linearAlloc_alloc(rt, &l, 2 * physPageSize, 64, &st);
	cr_assert_eq((uintptr_t)b, alignUp((uintptr_t)base + 100, 64));
	cr_assert_eq(st.bytes, 3 * physPageSize);
	cr_assert_eq(rt->gcController.mappedReady, ready0 + 3 * physPageSize);
	memset(b, 2, 2 * physPageSize);

	/* Exhaustion is NULL, and maps nothing more. */
	cr_assert_null(linearAlloc_alloc(rt, &l, size, 8, &st));
	cr_assert_eq(st.bytes, 3 * physPageSize);
	/* Up to the very end: the last page gets mapped too. */
	uintptr_t rest = (uintptr_t)base + size - l.next;
	uint8_t *c = linearAlloc_alloc(rt, &l, rest, 1, &st);
	cr_assert_not_null(c);
	c[rest - 1] = 3;
	cr_assert_eq(st.bytes, size);
	cr_assert_eq(rt->gcController.mappedReady, ready0 + size);
	cr_assert_null(linearAlloc_alloc(rt, &l, 8, 8, &st));

	sysFree(rt, base, size, &st);
	cr_assert_eq(st.bytes, 0);
	cr_assert_eq(rt->gcController.mappedReady, ready0);
	runtimeRelease(rt);
}

Test(sys, persistentalloc_moves_bytes_from_other_sys)
{
	runtime *rt = mt_newRuntime();
	mstats *m = &rt->memstats;
	uint64_t mapped0 = mt_totalMapped(rt);
	uint64_t other0 = m->other_sys.bytes, misc0 = m->gcMiscSys.bytes;
	uint64_t ready0 = rt->gcController.mappedReady;

	/* Fill the current chunk until a new one is needed, then measure one. */
	uint8_t *p = persistentalloc(rt, 100, 0, &m->gcMiscSys);
	cr_assert_not_null(p);
	cr_assert_eq((uintptr_t)p % 8, 0);
	uint64_t chunkCharged = (m->other_sys.bytes + m->gcMiscSys.bytes) - (other0 + misc0);
	cr_assert(chunkCharged == 0 || chunkCharged == persistentChunkSize);
	cr_assert_eq(m->gcMiscSys.bytes, misc0 + 100, "the bytes moved to the named stat");
	cr_assert_eq(mt_totalMapped(rt) - mapped0, chunkCharged, "stats sum to what was mapped");
	cr_assert_eq(rt->gcController.mappedReady - ready0, chunkCharged);

	/* Alignment is honoured. */
	uint8_t *q = persistentalloc(rt, 10, 4096, &m->gcMiscSys);
	cr_assert_eq((uintptr_t)q % 4096, 0);
	cr_assert_eq(m->gcMiscSys.bytes, misc0 + 110);

	/* Allocations to other_sys itself move nothing. */
	uint64_t o = m->other_sys.bytes;
	uint8_t *r = persistentalloc(rt, 24, 0, &m->other_sys);
	cr_assert_not_null(r);
	cr_assert(m->other_sys.bytes == o || m->other_sys.bytes == o + persistentChunkSize);

	/* Large blocks go straight to the stat. */
	uint64_t misc1 = m->gcMiscSys.bytes, other1 = m->other_sys.bytes;
	uint64_t mapped1 = mt_totalMapped(rt);
	uint8_t *big = persistentalloc(rt, 100 << 10, 0, &m->gcMiscSys);
	cr_assert_not_null(big);
	big[(100 << 10) - 1] = 1;
	cr_assert_eq(m->gcMiscSys.bytes, misc1 + alignUp(100 << 10, physPageSize));
	cr_assert(m->other_sys.bytes == other1 || m->other_sys.bytes == other1 + persistentChunkSize,
	          "only the bookkeeping record comes from a chunk");
	cr_assert_eq(mt_totalMapped(rt) - mapped1,
	             (m->gcMiscSys.bytes - misc1) + (m->other_sys.bytes - other1));

	/* Many small allocations: the sum still matches, the tail stays in
	 * other_sys. */
	for (int i = 0; i < 5000; i++)
		cr_assert_not_null(persistentalloc(rt, 200, 0, &m->buckhash_sys));
	cr_assert_eq(m->buckhash_sys.bytes, 5000 * 200);
	mt_checkStats(rt);
	runtimeRelease(rt);
}

Test(sys, fixalloc_reuses_and_charges_per_chunk)
{
	runtime *rt = mt_newRuntime();
	sysMemStat *st = &rt->memstats.buckhash_sys;
	fixalloc f;
	fixalloc_init(&f, rt, 48, NULL, NULL, st);
	cr_assert_eq(st->bytes, 0);

	void *a = fixalloc_alloc(&f);
	cr_assert_not_null(a);
	uint64_t chunk = (_FixAllocChunk / 48) * 48;
	cr_assert_eq(st->bytes, chunk, "one chunk charged at the first allocation");
	cr_assert_eq(f.inuse, 48);
	memset(a, 0x5a, 48);

	/* The rest of the chunk costs nothing more. */
	void *objs[400];
	uintptr_t per = _FixAllocChunk / 48;
	for (uintptr_t i = 0; i < per - 1; i++) {
		objs[i] = fixalloc_alloc(&f);
		cr_assert_not_null(objs[i]);
	}
	cr_assert_eq(st->bytes, chunk);
	void *next = fixalloc_alloc(&f);
	cr_assert_not_null(next);
	cr_assert_eq(st->bytes, 2 * chunk, "the next chunk is charged once");

	/* Freed blocks come back first, zeroed. */
	fixalloc_free(&f, a);
	cr_assert_eq(f.inuse, per * 48);
	void *b = fixalloc_alloc(&f);
	cr_assert_eq(b, a);
	for (int i = 0; i < 48; i++)
		cr_assert_eq(((uint8_t *)b)[i], 0);
	cr_assert_eq(st->bytes, 2 * chunk);

	mt_checkStats(rt);
	runtimeRelease(rt);
}

static int firstCalls;
static void countFirst(void *arg, void *p)
{
	(void)arg;
	(void)p;
	firstCalls++;
}

Test(sys, fixalloc_first_callback_only_for_fresh_objects)
{
	runtime *rt = mt_newRuntime();
	fixalloc f;
	firstCalls = 0;
	fixalloc_init(&f, rt, 32, countFirst, NULL, &rt->memstats.other_sys);
	void *a = fixalloc_alloc(&f);
	void *b = fixalloc_alloc(&f);
	cr_assert_eq(firstCalls, 2);
	fixalloc_free(&f, a);
	cr_assert_eq(fixalloc_alloc(&f), a);
	cr_assert_eq(firstCalls, 2);
	(void)b;
	runtimeRelease(rt);
}

/*
 * A few thousand random steps over every accounted path: sysAlloc/sysFree
 * on other_sys, persistentalloc, linearAlloc, heap spans, manual spans,
 * scavenging, and mallocgc. After each: mappedReady == Sys - released.
 */
Test(sys, randomized_transitions_keep_mapped_ready)
{
	runtime *rt = mt_newRuntime();
	srand(12345);
	enum { maxLive = 64 };
	struct {
		void *p;
		uintptr_t n;
	} raw[maxLive] = {{0}};
	mspan *spans[maxLive] = {0};
	mspan *stacks[maxLive] = {0};
	uint8_t *region = sysReserve(NULL, 256 * physPageSize);
	linearAlloc la;
	linearAlloc_init(&la, (uintptr_t)region, 256 * physPageSize, true);
	uintptr_t laMapped = 0;

	for (int step = 0; step < 3000; step++) {
		int i = rand() % maxLive;
		switch (rand() % 8) {
		case 0: /* raw sysAlloc / sysFree */
			if (raw[i].p) {
				sysFree(rt, raw[i].p, raw[i].n, &rt->memstats.other_sys);
				raw[i].p = NULL;
			} else {
				raw[i].n = (uintptr_t)(1 + rand() % 8) * physPageSize;
				raw[i].p = sysAlloc(rt, raw[i].n, &rt->memstats.other_sys);
				cr_assert_not_null(raw[i].p);
			}
			break;
		case 1:
			cr_assert_not_null(persistentalloc(rt, (uintptr_t)(1 + rand() % 3000), 0,
			                                   &rt->memstats.gcMiscSys));
			break;
		case 2:
			if (linearAlloc_alloc(rt, &la, (uintptr_t)(1 + rand() % 2000), 8,
			                      &rt->memstats.other_sys) != NULL)
				laMapped = la.mapped - (uintptr_t)region;
			break;
		case 3: /* heap span */
			if (spans[i]) {
				mheap_freeSpan(rt, spans[i]);
				spans[i] = NULL;
			} else {
				spans[i] = mheap_alloc(rt, (uintptr_t)(1 + rand() % 40), makeSpanClass(0, true));
				cr_assert_not_null(spans[i]);
			}
			break;
		case 4: /* stack or work-buffer span */
			if (stacks[i]) {
				mheap_freeManual(rt, stacks[i], i % 2 ? spanAllocStack : spanAllocWorkBuf);
				stacks[i] = NULL;
			} else {
				stacks[i] = mheap_allocManual(rt, (uintptr_t)(1 + rand() % 8),
				                              i % 2 ? spanAllocStack : spanAllocWorkBuf);
				cr_assert_not_null(stacks[i]);
			}
			break;
		case 5: /* release free pages (Ready -> Prepared) */
			pageAlloc_scavenge(&rt->mheap_.pages, (uintptr_t)(1 + rand() % 64) * pageSize);
			break;
		case 6:
			cr_assert_not_null(mallocgc(rt, (size_t)(1 + rand() % 5000), 1, rand() % 2));
			break;
		case 7:
			cr_assert_not_null(mallocgc(rt, (size_t)(33000 + rand() % 100000), 2, true));
			break;
		}
		readmemstats_check(rt);
		cr_assert_eq(rt->gcController.mappedReady,
		             mt_totalMapped(rt) - (uint64_t)rt->memstats.heapStats.released,
		             "step %d", step);
	}
	(void)laMapped;
	mt_checkStats(rt);
	runtimeRelease(rt);
}

/* Runs fn in a child process with stderr captured into out; returns the
 * wait status. Lets a test check that the runtime aborted and why. */
static int runCaptured(void (*fn)(void), char *out, size_t cap)
{
	int fds[2];
	cr_assert_eq(pipe(fds), 0);
	fflush(NULL);
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		fn();
		_exit(0);
	}
	close(fds[1]);
	size_t got = 0;
	ssize_t n;
	while (got < cap - 1 && (n = read(fds[0], out + got, cap - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(fds[0]);
	int status;
	waitpid(pid, &status, 0);
	return status;
}

/* Counting Prepared bytes twice is exactly the kind of slip the check
 * exists for. */
static void doubleCountedUse(void)
{
	runtime *rt = mallocinit("");
	mspan *s = mheap_alloc(rt, 4, makeSpanClass(0, true));
	readmemstats_check(rt);
	/* The span is already Ready: saying it was Prepared over-counts. */
	sysUsed(rt, (void *)s->startAddr, 4 * pageSize, 4 * pageSize);
	MemStats m;
	readMemStats(rt, &m);
}

Test(sys, broken_accounting_is_caught)
{
	static char out[8192];
	int status = runCaptured(doubleCountedUse, out, sizeof out);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %#x: %s", status, out);
	cr_assert_not_null(strstr(out, "fatal error: mappedReady and other memstats are not equal"),
	                   "%s", out);
	/* Go's figures are printed before the throw. */
	cr_assert_not_null(strstr(out, "runtime: mappedReady="));
	cr_assert_not_null(strstr(out, "runtime: totalMapped-released="));
}

static void skewedInHeap(void)
{
	runtime *rt = mallocinit("");
	mallocgc(rt, 100, 1, true);
	readmemstats_check(rt);
	rt->memstats.heapStats.inHeap += (int64_t)pageSize;
	readmemstats_check(rt);
}

Test(sys, broken_heap_stat_is_caught)
{
	static char out[8192];
	int status = runCaptured(skewedInHeap, out, sizeof out);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT, "status %#x: %s", status, out);
	cr_assert_not_null(strstr(out, "fatal error: heapInUse and consistent stats are not equal"),
	                   "%s", out);
}

/* The same through Criterion's own expectation of the signal. */
Test(sys, broken_accounting_aborts, .signal = SIGABRT, .init = cr_redirect_stderr)
{
	doubleCountedUse();
}

/* The kernel's resident bytes for memory we mapped never exceed what
 * mappedReady gained for it, and fall after sysUnused. */
Test(sys, smaps_resident_bounded_by_mapped_ready)
{
	runtime *rt = mt_newRuntime();
	sysMemStat st = {0};
	uintptr_t n = 4 * MiB;

	/* sysAlloc path. */
	uint64_t ready0 = rt->gcController.mappedReady;
	uint8_t *a = sysAlloc(rt, n, &st);
	cr_assert_not_null(a);
	uint64_t rss0 = mt_residentBytes((uintptr_t)a, (uintptr_t)a + n);
	memset(a, 1, n);
	uint64_t rss1 = mt_residentBytes((uintptr_t)a, (uintptr_t)a + n);
	uint64_t gained = rt->gcController.mappedReady - ready0;
	cr_assert_eq(gained, n);
	cr_assert(rss1 - rss0 <= gained, "resident grew %lu > mappedReady %lu",
	          (unsigned long)(rss1 - rss0), (unsigned long)gained);
	cr_assert(rss1 - rss0 >= n / 2, "touching should have paged in memory");

	/* sysReserve + sysMap + sysUsed path, in its own mapping. */
	uintptr_t size;
	uint8_t *r = sysReserveAligned(NULL, n, 2 * MiB, &size);
	cr_assert_not_null(r);
	uint64_t ready1 = rt->gcController.mappedReady;
	cr_assert(sysMap(rt, r, n, &st));
	cr_assert_eq(mt_residentBytes((uintptr_t)r, (uintptr_t)r + n), 0,
	             "Prepared memory is not resident");
	sysUsed(rt, r, n, n);
	memset(r, 2, n);
	uint64_t rssR = mt_residentBytes((uintptr_t)r, (uintptr_t)r + n);
	cr_assert(rssR <= rt->gcController.mappedReady - ready1);
	cr_assert(rssR >= n / 2);

	/* sysUnused gives the pages back. */
	sysUnused(rt, r, n);
	uint64_t rssAfter = mt_residentBytes((uintptr_t)r, (uintptr_t)r + n);
	cr_assert(rssAfter < rssR / 8, "resident %lu after sysUnused", (unsigned long)rssAfter);
	cr_assert_eq(rt->gcController.mappedReady, ready1);

	sysFreeOS(r, size);
	sysMemStat_add(&st, -(int64_t)n);
	sysFree(rt, a, n, &st);
	runtimeRelease(rt);
}

/* The heap's arenas: what the kernel holds resident never exceeds the Ready
 * heap bytes (in-use + free + manual), and scavenging brings it down. */
Test(sys, smaps_heap_arenas_match_mapped_ready)
{
	runtime *rt = mt_newRuntime();
	void *objs[2000];
	for (int i = 0; i < 2000; i++) {
		objs[i] = mallocgc(rt, 4000, 1, true);
		cr_assert_not_null(objs[i]);
		memset(objs[i], 7, 4000);
	}
	mheap *h = &rt->mheap_;
	cr_assert(h->allArenasLen >= 1);
	uint64_t rss = 0;
	for (uintptr_t i = 0; i < h->allArenasLen; i++) {
		uintptr_t b = arenaBase(h->allArenas[i]);
		rss += mt_residentBytes(b, b + heapArenaBytes);
	}
	MemStats m;
	readMemStats(rt, &m);
	uint64_t heapReady = m.HeapInuse + (m.HeapIdle - m.HeapReleased) + m.StackInuse;
	cr_assert(rss <= heapReady + 2 * MiB, "arena rss %lu > ready heap %lu", (unsigned long)rss,
	          (unsigned long)heapReady);
	cr_assert(rss >= m.HeapAlloc * 9 / 10, "arena rss %lu vs heap alloc %lu",
	          (unsigned long)rss, (unsigned long)m.HeapAlloc);

	/* Free everything and release it all. */
	mt_collect(rt, NULL, 0);
	pageAlloc_scavenge(&h->pages, ~(uintptr_t)0);
	mt_checkStats(rt);
	uint64_t rss2 = 0;
	for (uintptr_t i = 0; i < h->allArenasLen; i++) {
		uintptr_t b = arenaBase(h->allArenas[i]);
		rss2 += mt_residentBytes(b, b + heapArenaBytes);
	}
	readMemStats(rt, &m);
	cr_assert(rss2 <= m.HeapInuse + (m.HeapIdle - m.HeapReleased) + 2 * MiB,
	          "after scavenging: rss %lu", (unsigned long)rss2);
	cr_assert(rss2 < rss / 4);
	runtimeRelease(rt);
}

/* Outside mem_linux.c (and mem.c's accounted twins), the ...OS functions
 * appear only at the documented exceptions. */
Test(sys, os_calls_only_at_documented_exceptions)
{
	/* __FILE__ is tests/unit/mem/test_sys.c relative to the project root. */
	char root[1024];
	snprintf(root, sizeof root, "%.1000s", __FILE__);
	char *cut = strstr(root, "tests/unit/mem/");
	cr_assert_not_null(cut);
	*cut = '\0';
	char cmd[4300];
	snprintf(cmd, sizeof cmd, "sh %s./tests/check_os_calls.sh %s. 2>&1", root, root);
	FILE *f = popen(cmd, "r");
	cr_assert_not_null(f);
	char out[4096] = "";
	size_t n = fread(out, 1, sizeof out - 1, f);
	out[n] = '\0';
	int status = pclose(f);
	cr_assert_eq(status, 0, "check_os_calls.sh failed:\n%s", out);
}

Test(sys, parsedebugvars_reads_known_names)
{
	runtime *rt = mt_newRuntime();
	parsedebugvars(rt, "gctrace=1,bogus=7,gcstress=25,scavtrace=1,failalloc=12345678901,"
	                   "gcpacertrace=x,dlog=1");
	cr_assert_eq(rt->debug.gctrace, 1);
	cr_assert_eq(rt->debug.gcstress, 25);
	cr_assert_eq(rt->debug.scavtrace, 1);
	cr_assert_eq(rt->debug.failalloc, 12345678901LL);
	cr_assert_eq(rt->debug.gcpacertrace, 0, "malformed value ignored");
	cr_assert_eq(rt->debug.dlog, 1);
	parsedebugvars(rt, NULL);
	parsedebugvars(rt, "");
	parsedebugvars(rt, ",,=,gctrace=,gctrace");
	cr_assert_eq(rt->debug.gctrace, 1);
	parsedebugvars(rt, "gctrace=0");
	cr_assert_eq(rt->debug.gctrace, 0);
	rt->debug.dlog = 0;
	runtimeRelease(rt);
}

Test(sys, mallocinit_ignores_the_environment)
{
	setenv("GALEDEBUG", "gcstress=7", 1);
	runtime *rt = mallocinit(NULL);
	cr_assert_not_null(rt);
	cr_assert_eq(rt->debug.gcstress, 0, "only the string passed in counts");
	runtimeRelease(rt);
	rt = mallocinit("gcstress=7");
	cr_assert_eq(rt->debug.gcstress, 7);
	runtimeRelease(rt);
	unsetenv("GALEDEBUG");
}

Test(sys, dlog_ring_is_unaccounted_and_dumps)
{
	runtime *rt = mallocinit("dlog=1");
	cr_assert_not_null(rt);
	uint64_t ready0 = rt->gcController.mappedReady;
	uint64_t sys0 = mt_totalMapped(rt);
	for (int i = 0; i < 2000; i++)
		dlogf(rt, "record %d", i);
	cr_assert_not_null(rt->dlog);
	cr_assert_eq(rt->gcController.mappedReady, ready0, "exception 3: not counted");
	cr_assert_eq(mt_totalMapped(rt), sys0);

	/* Dump into a file in place of stderr. */
	char path[] = "/tmp/gale-dlog-XXXXXX";
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	int saved = dup(2);
	dup2(fd, 2);
	dlog_dump(rt);
	dup2(saved, 2);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	static char buf[64 << 10];
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	unlink(path);
	cr_assert(n > 0);
	buf[n] = '\0';
	cr_assert_not_null(strstr(buf, "record 1999\n"), "newest record kept");
	cr_assert_null(strstr(buf, "record 0\n"), "oldest record overwritten");
	cr_assert_not_null(strstr(buf, ">> begin debug log"));
	rt->debug.dlog = 0; /* no dump at release */
	runtimeRelease(rt);
}


/* A fatal error prints the live debug logs before aborting. */
static void throwWithLog(void)
{
	runtime *rt = mallocinit("dlog=1");
	dlogf(rt, "last words %d", 42);
	mthrow("deliberate");
}

Test(sys, throw_dumps_debug_log)
{
	static char out[32 << 10];
	int status = runCaptured(throwWithLog, out, sizeof out);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	cr_assert_not_null(strstr(out, "fatal error: deliberate"));
	cr_assert_not_null(strstr(out, "last words 42"), "log printed: %s", out);
}

Test(sys, huge_page_hint_accounts_nothing)
{
	runtime *rt = mt_newRuntime();
	sysMemStat st = {0};
	uint8_t *p = sysAlloc(rt, 4 * MiB, &st);
	cr_assert_not_null(p);
	uint64_t ready = rt->gcController.mappedReady;
	sysHugePage(p, 4 * MiB);
	cr_assert_eq(rt->gcController.mappedReady, ready);
	cr_assert_eq(st.bytes, 4 * MiB);
	p[0] = 1;
	sysFree(rt, p, 4 * MiB, &st);
	runtimeRelease(rt);
}

/*
 * mappedReady is the truth (RUNTIME.md §4.2): over every mapping the runtime
 * accounts for (arenas and all metadata, the three exceptions excluded), the
 * pages the kernel holds resident never exceed mappedReady by more than a
 * few pages, and once a large heap is in use mappedReady stays within 10 %
 * of them. Residency is read page by page with mincore, so neighbouring
 * mappings the kernel merged with ours do not blur the figure.
 */
#include <sys/mman.h>

static uint64_t residentOf(uintptr_t base, uintptr_t len)
{
	static unsigned char vec[4096];
	uint64_t total = 0;
	uintptr_t chunk = sizeof vec * physPageSize;
	for (uintptr_t off = 0; off < len; off += chunk) {
		uintptr_t n = len - off < chunk ? len - off : chunk;
		cr_assert_eq(mincore((void *)(base + off), n, vec), 0, "mincore %#lx",
		             (unsigned long)(base + off));
		for (uintptr_t i = 0; i < divRoundUp(n, physPageSize); i++)
			total += (vec[i] & 1) ? physPageSize : 0;
	}
	return total;
}

/* Resident bytes of every accounted mapping of rt. */
static uint64_t runtimeResident(runtime *rt)
{
	mheap *h = &rt->mheap_;
	uint64_t r = residentOf((uintptr_t)rt, alignUp(sizeof(runtime), physPageSize));
	for (uintptr_t c = rt->persistent.chunks; c != 0; c = *(uintptr_t *)c)
		r += residentOf(c, persistentChunkSize);
	for (persistentBlock *b = rt->persistent.large; b != NULL; b = b->next)
		r += residentOf(b->base, b->size);
	gcBitsArenas_t *g = &rt->gcBitsArenas;
	gcBitsArena *lists[4] = {g->free_, g->next, g->current, g->previous};
	for (int i = 0; i < 4; i++)
		for (gcBitsArena *b = lists[i]; b != NULL; b = b->next)
			r += residentOf((uintptr_t)b, gcBitsChunkBytes);
	if (h->allspans != NULL)
		r += residentOf((uintptr_t)h->allspans, h->allspansCap * sizeof(mspan *));
	for (uintptr_t i = 0; i < h->allArenasLen; i++)
		r += residentOf(arenaBase(h->allArenas[i]), heapArenaBytes);
	/* The page allocator's metadata. */
	pageAlloc *p = &h->pages;
	for (int l = 0; l < summaryLevels; l++)
		if (p->summary[l] != NULL)
			r += residentOf((uintptr_t)p->summary[l],
			                alignUp((uintptr_t)p->summaryCap[l] * pallocSumBytes, physPageSize));
	for (int i = 0; i < (1 << pallocChunksL1Bits); i++)
		if (p->chunks[i] != NULL)
			r += residentOf((uintptr_t)p->chunks[i], sizeof(pallocData) << pallocChunksL2Bits);
	if (p->scav.index.chunks != NULL)
		r += residentOf((uintptr_t)p->scav.index.chunks, p->scav.index.nbytes);
	if (p->inUse.ranges != NULL)
		r += residentOf((uintptr_t)p->inUse.ranges, (uintptr_t)p->inUse.cap * sizeof(addrRange));
	return r;
}

Test(sys, mapped_ready_is_the_truth)
{
	runtime *rt = mt_newRuntime();
	uint64_t slack = 16 * physPageSize;
	cr_assert_leq(runtimeResident(rt), rt->gcController.mappedReady + slack);

	/* A 64 MiB heap of mixed objects, every byte touched. */
	static void *objs[20000];
	int n = 0;
	uint64_t bytes = 0;
	while (bytes < 64 * MiB && n < 20000) {
		size_t size = n % 10 == 0 ? 100000 : (size_t)(16 + (n * 7919) % 8000);
		objs[n] = mallocgc(rt, size, 1, true);
		cr_assert_not_null(objs[n]);
		memset(objs[n], 0x5c, size);
		bytes += size;
		n++;
		if (n % 2000 == 0) {
			uint64_t res = runtimeResident(rt);
			cr_assert_leq(res, rt->gcController.mappedReady + slack, "resident %lu ready %lu",
			              (unsigned long)res, (unsigned long)rt->gcController.mappedReady);
		}
	}
	mt_checkStats(rt);
	uint64_t res = runtimeResident(rt);
	uint64_t ready = rt->gcController.mappedReady;
	cr_log_info("heap of %lu bytes: resident %lu, mappedReady %lu", (unsigned long)bytes,
	            (unsigned long)res, (unsigned long)ready);
	cr_assert_leq(res, ready + slack);
	cr_assert_leq(ready, res + res / 10, "mappedReady %lu more than 10%% above resident %lu",
	              (unsigned long)ready, (unsigned long)res);

	/* Free three quarters and release it: both fall together. */
	mt_collect(rt, objs, (size_t)n / 4);
	pageAlloc_scavenge(&rt->mheap_.pages, ~(uintptr_t)0);
	mt_checkStats(rt);
	uint64_t res2 = runtimeResident(rt);
	uint64_t ready2 = rt->gcController.mappedReady;
	cr_assert_leq(res2, ready2 + slack);
	cr_assert_lt(ready2, ready / 2, "released memory leaves mappedReady");
	cr_assert_lt(res2, res / 2, "and the kernel takes it back");
	runtimeRelease(rt);
}
