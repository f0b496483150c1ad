/*
 * Collector correctness on synthetic object graphs built through the kind
 * table. A node is an 8-byte header (kind, child count, id) followed by child
 * pointers; a leaf holds bytes only (noscan); a "fin" node has a finalizer
 * that counts its runs per id. Every test checks the MemStats consistency
 * (readmemstats_check aborts on a mismatch) after each cycle.
 */
#include <criterion/criterion.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "gc/gc.h"
#include "gc/mgc.h"
#include "gc/mgcpacer.h"
#include "mem/mgcscavenge.h"
#include "mem/mheap.h"
#include "mem/mstats.h"
#include "mem/runtime.h"

#define MiB ((size_t)1 << 20)

enum { KIND_NODE = 1, KIND_LEAF = 2, KIND_FIN = 3 };

typedef struct node {
	uint8_t kind;
	uint8_t pad;
	uint16_t nchild;
	uint32_t id;
	struct node *child[];
} node;

static void traceNode(runtime *rt, void *obj)
{
	node *n = obj;
	for (uint16_t i = 0; i < n->nchild; i++)
		gcMark(rt, n->child[i]);
}

/* Finalizer bookkeeping: runs per id, and whether child 0 (if any) still
 * held its pattern when the finalizer ran. */
#define MAXFIN 4096
static int finRuns[MAXFIN];
static int finBadReferent;

static void finalizeNode(runtime *rt, void *obj)
{
	(void)rt;
	node *n = obj;
	if (n->id < MAXFIN)
		finRuns[n->id]++;
	if (n->nchild > 0 && n->child[0] != NULL && n->child[0]->id != n->id + 100000)
		finBadReferent++;
}

/* The test's root set: an array of pointers, scanned by one callback. */
#define MAXROOTS 100000
static node *roots[MAXROOTS];

static void markRoots(runtime *rt, void *ctx)
{
	(void)ctx;
	for (int i = 0; i < MAXROOTS; i++)
		if (roots[i] != NULL)
			gcMark(rt, roots[i]);
}

static runtime *newRuntime(const char *debug, int64_t maxHeap)
{
	gcConfig cfg;
	gcConfigInit(&cfg);
	cfg.debug = debug != NULL ? debug : "";
	cfg.maxHeap = maxHeap;
	runtime *rt = runtimeCreate(&cfg);
	cr_assert_not_null(rt);
	gcRegisterKind(rt, KIND_NODE, &(gcKind){"node", traceNode, NULL});
	gcRegisterKind(rt, KIND_LEAF, &(gcKind){"leaf", NULL, NULL});
	gcRegisterKind(rt, KIND_FIN, &(gcKind){"fin", traceNode, finalizeNode});
	memset(roots, 0, sizeof roots);
	memset(finRuns, 0, sizeof finRuns);
	finBadReferent = 0;
	cr_assert(gcAddRoots(rt, markRoots, NULL));
	return rt;
}

static node *newNode(runtime *rt, uint8_t kind, uint16_t nchild, uint32_t id)
{
	node *n = mallocgc(rt, sizeof(node) + nchild * sizeof(node *), kind, true);
	cr_assert_not_null(n);
	cr_assert_eq(n->kind, kind, "mallocgc sets the kind byte");
	n->nchild = nchild;
	n->id = id;
	return n;
}

static void gcAndCheck(runtime *rt)
{
	GC(rt);
	readmemstats_check(rt);
}

static MemStats stats(runtime *rt)
{
	static MemStats m;
	readMemStats(rt, &m);
	return m;
}

Test(collect, unreachable_objects_are_freed_and_roots_survive)
{
	runtime *rt = newRuntime(NULL, 0);
	for (uint32_t i = 0; i < 1000; i++) {
		node *n = newNode(rt, KIND_NODE, 1, i);
		if (i % 100 == 0)
			roots[i / 100] = n;
	}
	MemStats before = stats(rt);
	gcAndCheck(rt);
	MemStats after = stats(rt);
	cr_assert_eq(after.HeapObjects, 10, "only the 10 rooted nodes live, got %lu",
	             (unsigned long)after.HeapObjects);
	cr_assert_eq(after.Frees - before.Frees, 990);
	cr_assert_eq(after.NumGC, before.NumGC + 1);
	cr_assert_eq(after.NumForcedGC, before.NumForcedGC + 1);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(roots[i]->id, (uint32_t)i * 100, "rooted node kept its contents");
	/* Live bytes after the cycle are what was marked. */
	cr_assert_eq(rt->gcController.heapMarked, 10 * 16);
	/* Freed slots are reused: allocating again does not grow the heap. */
	uint64_t inuse = after.HeapInuse;
	for (uint32_t i = 0; i < 900; i++)
		newNode(rt, KIND_NODE, 1, i);
	cr_assert_leq(stats(rt).HeapInuse, inuse + 8192);
	runtimeDestroy(rt);
}

Test(collect, cycles_die_when_unreachable_and_live_when_rooted)
{
	runtime *rt = newRuntime(NULL, 0);
	node *a = newNode(rt, KIND_NODE, 1, 1);
	roots[0] = a;
	node *b = newNode(rt, KIND_NODE, 1, 2);
	a->child[0] = b;
	b->child[0] = a;
	/* An unrooted three-cycle. */
	roots[1] = newNode(rt, KIND_NODE, 1, 3);
	roots[1]->child[0] = newNode(rt, KIND_NODE, 1, 4);
	roots[1]->child[0]->child[0] = newNode(rt, KIND_NODE, 1, 5);
	roots[1]->child[0]->child[0]->child[0] = roots[1];
	roots[1] = NULL;
	gcAndCheck(rt);
	cr_assert_eq(stats(rt).HeapObjects, 2);
	cr_assert_eq(a->child[0], b);
	cr_assert_eq(b->child[0], a);
	cr_assert_eq(b->id, 2);
	roots[0] = NULL;
	gcAndCheck(rt);
	cr_assert_eq(stats(rt).HeapObjects, 0);
	runtimeDestroy(rt);
}

/* Ten million nodes in one list: marking must not recurse. */
Test(collect, ten_million_node_list, .timeout = 120)
{
	runtime *rt = newRuntime(NULL, 0);
	const uint32_t n = 10000000;
	for (uint32_t i = 0; i < n; i++) {
		node *x = newNode(rt, KIND_NODE, 1, i);
		x->child[0] = roots[0];
		roots[0] = x;
	}
	gcAndCheck(rt);
	MemStats m = stats(rt);
	cr_assert_eq(m.HeapObjects, n);
	cr_assert_geq(m.NumGC, 2, "building the list collected along the way");
	uint32_t count = 0, expect = n;
	for (node *x = roots[0]; x != NULL; x = x->child[0]) {
		cr_assert_eq(x->id, --expect);
		count++;
	}
	cr_assert_eq(count, n);
	roots[0] = NULL;
	gcAndCheck(rt);
	cr_assert_eq(stats(rt).HeapObjects, 0);
	runtimeDestroy(rt);
}

/* One wide object fills many work buffers, which live on manual spans
 * counted in inWorkBufs (GCSys) during the cycle and are gone after it. */
static int64_t wbufBytesSeen;
static void weakSeesWorkBufs(runtime *rt, void *ctx)
{
	(void)ctx;
	wbufBytesSeen = rt->memstats.heapStats.inWorkBufs;
}

static int64_t wbufBytesInTrace;
static void traceWide(runtime *rt, void *obj)
{
	traceNode(rt, obj);
	int64_t b = rt->memstats.heapStats.inWorkBufs;
	if (b > wbufBytesInTrace)
		wbufBytesInTrace = b;
}

Test(collect, gray_stack_lives_in_work_buffers)
{
	runtime *rt = newRuntime(NULL, 0);
	gcRegisterKind(rt, 4, &(gcKind){"wide", traceWide, NULL});
	const uint16_t width = 60000;
	node *w = mallocgc(rt, sizeof(node) + width * sizeof(node *), 4, true);
	cr_assert_not_null(w);
	w->nchild = width;
	roots[0] = w;
	for (uint16_t i = 0; i < width; i++)
		w->child[i] = newNode(rt, KIND_NODE, 0, i);
	gcSetWeakHook(rt, weakSeesWorkBufs, NULL);
	wbufBytesInTrace = 0;
	GC(rt);
	/* 60000 gray pointers need at least 60000 / 253 buffers. */
	cr_assert_geq(wbufBytesInTrace, (int64_t)(60000 / workbufObjs) * _WorkbufSize);
	cr_assert_eq(wbufBytesInTrace % workbufAlloc, 0, "whole 32 KiB manual spans");
	cr_assert_gt(wbufBytesSeen, 0, "buffers are held until mark termination");
	cr_assert_eq(rt->memstats.heapStats.inWorkBufs, 0, "all given back after the cycle");
	readmemstats_check(rt);
	cr_assert_eq(stats(rt).HeapObjects, 60001);
	for (uint16_t i = 0; i < width; i++)
		cr_assert_eq(w->child[i]->id, i);
	runtimeDestroy(rt);
}

Test(collect, every_size_class)
{
	runtime *rt = newRuntime(NULL, 0);
	int r = 0;
	uint64_t freedWant[_NumSizeClasses] = {0};
	MemStats before = stats(rt);
	uint64_t smallFree0[_NumSizeClasses];
	memcpy(smallFree0, rt->memstats.heapStats.smallFreeCount, sizeof smallFree0);
	for (int c = 1; c < _NumSizeClasses; c++) {
		size_t size = class_to_size[c];
		uint16_t nchild = (uint16_t)((size - sizeof(node)) / sizeof(node *));
		for (int k = 0; k < 6; k++) {
			node *x = mallocgc(rt, size, KIND_NODE, true);
			cr_assert_not_null(x);
			cr_assert_eq(gcObjectSize(rt, x), size);
			x->nchild = nchild;
			x->id = (uint32_t)(c * 10 + k);
			/* Fill the payload with a pattern the sweep must not touch. */
			for (uint16_t j = 0; j < nchild; j++)
				x->child[j] = NULL;
			if (k % 2 == 0)
				roots[r++] = x;
			else
				freedWant[c]++;
		}
	}
	gcAndCheck(rt);
	MemStats after = stats(rt);
	for (int c = 1; c < _NumSizeClasses; c++)
		cr_assert_eq(rt->memstats.heapStats.smallFreeCount[c] - smallFree0[c], freedWant[c],
		             "class %d", c);
	cr_assert_eq(after.HeapObjects, (uint64_t)r);
	cr_assert_eq(after.Frees - before.Frees, (uint64_t)(67 * 3));
	for (int i = 0; i < r; i++) {
		int c = (int)roots[i]->id / 10;
		cr_assert_eq(gcObjectSize(rt, roots[i]), class_to_size[c]);
		cr_assert_eq(roots[i]->id % 2, 0);
	}
	runtimeDestroy(rt);
}

Test(collect, large_objects)
{
	runtime *rt = newRuntime(NULL, 0);
	size_t sizes[] = {32769, 40000, 1 * MiB, 5 * MiB + 3};
	MemStats before = stats(rt);
	for (int i = 0; i < 4; i++) {
		node *x = mallocgc(rt, sizes[i], KIND_LEAF, false);
		cr_assert_not_null(x);
		x->id = (uint32_t)i;
		memset((char *)x + sizeof(node), 0xab, sizes[i] - sizeof(node));
		roots[i] = x;
		/* Garbage of the same size next to it. */
		cr_assert_not_null(mallocgc(rt, sizes[i], KIND_LEAF, false));
	}
	gcAndCheck(rt);
	MemStats after = stats(rt);
	cr_assert_eq(after.HeapObjects, 4);
	cr_assert_eq(rt->memstats.heapStats.largeFreeCount, 4);
	for (int i = 0; i < 4; i++) {
		unsigned char *p = (unsigned char *)roots[i] + sizeof(node);
		cr_assert_eq(roots[i]->id, (uint32_t)i);
		cr_assert_eq(p[0], 0xab);
		cr_assert_eq(p[sizes[i] - sizeof(node) - 1], 0xab);
	}
	uint64_t inuse = after.HeapInuse;
	memset(roots, 0, sizeof roots);
	gcAndCheck(rt);
	cr_assert_eq(rt->memstats.heapStats.largeFreeCount, 8);
	cr_assert_lt(stats(rt).HeapInuse, inuse - 6 * MiB, "large spans went back to the heap");
	cr_assert_eq(after.Frees - before.Frees, 4);
	runtimeDestroy(rt);
}

Test(collect, finalizers_run_exactly_once)
{
	runtime *rt = newRuntime(NULL, 0);
	for (uint32_t i = 0; i < 100; i++) {
		node *x = newNode(rt, KIND_FIN, 1, i);
		/* A referent the finalizer reads: it must survive with the object. */
		node *leaf = newNode(rt, KIND_LEAF, 0, i + 100000);
		x->child[0] = leaf;
		cr_assert(gcSetFinalizer(rt, x));
		cr_assert(gcSetFinalizer(rt, x), "setting twice is harmless");
		if (i % 2 == 0)
			roots[i] = x;
	}
	cr_assert_not(gcSetFinalizer(rt, NULL));
	int onStack = 0;
	cr_assert_not(gcSetFinalizer(rt, &onStack));

	gcAndCheck(rt);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(finRuns[i], i % 2 == 0 ? 0 : 1, "id %d after one cycle", i);
	cr_assert_eq(finBadReferent, 0);
	/* Finalized objects lived one more cycle (Go's semantics), then die. */
	cr_assert_eq(stats(rt).HeapObjects, 200);
	gcAndCheck(rt);
	cr_assert_eq(stats(rt).HeapObjects, 100);
	gcAndCheck(rt);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(finRuns[i], i % 2 == 0 ? 0 : 1, "id %d: no second run", i);

	/* Unroot half of the rest; the last 25 are finalized by destroy. */
	for (int i = 0; i < 50; i += 2)
		roots[i] = NULL;
	gcAndCheck(rt);
	gcAndCheck(rt);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(finRuns[i], (i % 2 == 1 || i < 50) ? 1 : 0, "id %d", i);
	runtimeDestroy(rt);
	for (int i = 0; i < 100; i++)
		cr_assert_eq(finRuns[i], 1, "id %d after destroy", i);
	cr_assert_eq(finBadReferent, 0);
}

static int weakCalls;
static node *weakProbeLive, *weakProbeDead;
static bool weakLiveMarked, weakDeadMarked;
static void weakHook(runtime *rt, void *ctx)
{
	(void)ctx;
	weakCalls++;
	weakLiveMarked = gcIsMarked(rt, weakProbeLive);
	weakDeadMarked = gcIsMarked(rt, weakProbeDead);
}

Test(collect, weak_hook_sees_marks_before_sweep)
{
	runtime *rt = newRuntime(NULL, 0);
	gcSetWeakHook(rt, weakHook, NULL);
	weakProbeLive = roots[0] = newNode(rt, KIND_LEAF, 0, 1);
	weakProbeDead = newNode(rt, KIND_LEAF, 0, 2);
	weakCalls = 0;
	gcAndCheck(rt);
	cr_assert_eq(weakCalls, 1);
	cr_assert(weakLiveMarked);
	cr_assert_not(weakDeadMarked);
	int local;
	cr_assert(gcIsMarked(rt, &local), "non-heap memory counts as live");
	runtimeDestroy(rt);
}

static int rootOrder[4], rootCalls;
static void rootA(runtime *rt, void *ctx)
{
	(void)rt;
	rootOrder[rootCalls++] = (int)(intptr_t)ctx;
}

Test(collect, roots_in_registration_order_and_removable)
{
	runtime *rt = newRuntime(NULL, 0);
	node *keep = newNode(rt, KIND_LEAF, 0, 7);
	roots[0] = keep;
	cr_assert(gcAddRoots(rt, rootA, (void *)1));
	cr_assert(gcAddRoots(rt, rootA, (void *)2));
	cr_assert(gcAddRoots(rt, rootA, (void *)3));
	rootCalls = 0;
	GC(rt);
	cr_assert_eq(rootCalls, 3);
	cr_assert_eq(rootOrder[0], 1);
	cr_assert_eq(rootOrder[1], 2);
	cr_assert_eq(rootOrder[2], 3);
	gcRemoveRoots(rt, rootA, (void *)2);
	rootCalls = 0;
	GC(rt);
	cr_assert_eq(rootCalls, 2);
	cr_assert_eq(rootOrder[1], 3);
	/* Without the test's root set, the rooted node dies. */
	gcRemoveRoots(rt, markRoots, NULL);
	gcAndCheck(rt);
	cr_assert_eq(stats(rt).HeapObjects, 0);
	runtimeDestroy(rt);
}

Test(collect, gcMark_ignores_what_is_not_a_live_object)
{
	runtime *rt = newRuntime(NULL, 0);
	node *a = newNode(rt, KIND_NODE, 3, 1);
	roots[0] = a;
	int local = 5;
	a->child[0] = (node *)&local;           /* not heap */
	a->child[1] = (node *)(uintptr_t)0x1000; /* not mapped at all */
	node *dead = newNode(rt, KIND_LEAF, 0, 2);
	gcAndCheck(rt);
	/* A stale pointer to a freed slot must not bring it back. */
	a->child[2] = dead;
	gcAndCheck(rt);
	cr_assert_eq(stats(rt).HeapObjects, 1);
	gcMark(rt, a); /* outside a cycle: no effect, no crash */
	runtimeDestroy(rt);
}

Test(collect, gcstress_collects_at_every_allocation)
{
	runtime *rt = newRuntime("gcstress=1", 0);
	cr_assert_eq(gcDebugFlags(rt)->gcstress, 1);
	uint32_t gc0 = rt->memstats.numgc;
	for (uint32_t i = 0; i < 2000; i++) {
		node *x = newNode(rt, KIND_NODE, 1, i);
		x->child[0] = roots[0];
		roots[0] = x;
		newNode(rt, KIND_LEAF, 0, i); /* garbage */
	}
	cr_assert_geq(rt->memstats.numgc - gc0, 4000);
	readmemstats_check(rt);
	uint32_t expect = 2000;
	for (node *x = roots[0]; x != NULL; x = x->child[0])
		cr_assert_eq(x->id, --expect);
	cr_assert_eq(expect, 0);
	cr_assert_leq(stats(rt).HeapObjects, 2001);
	runtimeDestroy(rt);
}

Test(collect, max_heap_returns_null_then_recovers)
{
	runtime *rt = newRuntime(NULL, (int64_t)(16 * MiB));
	int i = 0;
	node *x;
	while ((x = mallocgc(rt, MiB, KIND_LEAF, false)) != NULL) {
		roots[i++] = x;
		cr_assert_lt(i, 64, "the hard cap never stopped allocation");
	}
	cr_assert_geq(i, 8);
	cr_assert_leq(sysMemStat_load(&rt->gcController.heapInUse), 16 * MiB);
	readmemstats_check(rt);
	/* Small allocations fail too only if they do not fit; drop the roots
	 * and everything works again. */
	memset(roots, 0, sizeof roots);
	for (int k = 0; k < 40; k++)
		cr_assert_not_null(mallocgc(rt, MiB, KIND_LEAF, false), "allocation %d", k);
	readmemstats_check(rt);
	runtimeDestroy(rt);
}

Test(collect, scavengeAll_lowers_mappedReady_by_what_it_released)
{
	runtime *rt = newRuntime(NULL, 0);
	/* 64 MiB live, then all of it garbage: the heap keeps the pages. */
	for (int i = 0; i < 64; i++)
		cr_assert_not_null(roots[i] = mallocgc(rt, MiB, KIND_LEAF, false));
	memset(roots, 0, sizeof roots);
	GC(rt);
	readmemstats_check(rt);
	uint64_t ready = rt->gcController.mappedReady;
	uint64_t freeBefore = sysMemStat_load(&rt->gcController.heapFree);
	uintptr_t released = scavengeAll(rt);
	/* Every free page went back, and mappedReady fell by exactly that. */
	cr_assert_eq(released, freeBefore);
	cr_assert_eq(sysMemStat_load(&rt->gcController.heapFree), 0);
	cr_assert_eq(ready - rt->gcController.mappedReady, released);
	cr_assert_geq(sysMemStat_load(&rt->gcController.heapReleased), 60 * MiB);
	readmemstats_check(rt);
	/* freeOSMemory = GC + scavengeAll: nothing idle stays Ready. */
	roots[0] = mallocgc(rt, 8 * MiB, KIND_LEAF, false);
	roots[0] = NULL;
	freeOSMemory(rt);
	MemStats m = stats(rt);
	cr_assert_eq(m.HeapIdle, m.HeapReleased);
	runtimeDestroy(rt);
}

Test(collect, pacer_settings_commit_the_trigger)
{
	runtime *rt = newRuntime(NULL, 0);
	cr_assert_eq(rt->gcController.trigger, 4 * MiB / 64 * 61);
	cr_assert_eq(setGCPercent(rt, 200), 100);
	cr_assert_eq(rt->gcController.trigger, 8 * MiB / 64 * 61);
	cr_assert_eq(setGCPercent(rt, -1), 200);
	cr_assert_eq(rt->gcController.gcPercentHeapGoal, ~(uint64_t)0);
	cr_assert_eq(setMemoryLimit(rt, -1), INT64_MAX);
	cr_assert_eq(setMemoryLimit(rt, (int64_t)(64 * MiB)), INT64_MAX);
	uint64_t goal = gcControllerState_heapGoal(&rt->gcController);
	cr_assert_lt(goal, 64 * MiB);
	cr_assert_leq(rt->gcController.trigger, goal);
	MemStats m = stats(rt);
	cr_assert_eq(m.NextGC, goal);
	/* GOGC off and a limit: collections follow the limit. */
	for (int i = 0; i < 200; i++)
		cr_assert_not_null(mallocgc(rt, MiB, KIND_LEAF, false));
	cr_assert_geq(rt->memstats.numgc, 2);
	cr_assert_leq(rt->gcController.heapLive, 64 * MiB);
	runtimeDestroy(rt);
}

Test(collect, limiter_defers_memory_limit_cycles_when_full)
{
	runtime *rt = newRuntime(NULL, 0);
	setGCPercent(rt, 100);
	/* 24 MiB live under a 16 MiB limit: every allocation is over the goal. */
	for (int i = 0; i < 24; i++)
		roots[i] = mallocgc(rt, MiB, KIND_LEAF, false);
	setMemoryLimit(rt, (int64_t)(16 * MiB));
	GC(rt);
	gcState *st = gcstateOf(rt);
	/* A full bucket and a pause longer than any mutator run in this test:
	 * limit-driven cycles must wait. */
	st->limiter.bucket.fill = st->limiter.bucket.capacity;
	st->limiter.enabled = true;
	st->lastPause = 100 * (int64_t)1000000000;
	uint32_t gc0 = rt->memstats.numgc;
	for (int i = 0; i < 16; i++)
		cr_assert_not_null(mallocgc(rt, MiB, KIND_LEAF, false));
	cr_assert_eq(rt->memstats.numgc, gc0, "no cycle while the limiter is full");
	cr_assert_gt(st->limiterDeferred, 0);
	/* Past the GOGC goal (48 MiB) the cycle runs regardless. */
	for (int i = 0; i < 40; i++)
		cr_assert_not_null(mallocgc(rt, MiB, KIND_LEAF, false));
	cr_assert_gt(rt->memstats.numgc, gc0);
	/* Forced cycles always run. */
	uint32_t gc1 = rt->memstats.numgc;
	GC(rt);
	cr_assert_eq(rt->memstats.numgc, gc1 + 1);
	readmemstats_check(rt);
	runtimeDestroy(rt);
}

/* gctrace=1 prints Go's line, field for field. */
Test(collect, gctrace_line_format)
{
	runtime *rt = newRuntime("gctrace=1", 0);
	roots[0] = newNode(rt, KIND_LEAF, 0, 1);
	char path[] = "/tmp/galegctraceXXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	fflush(stderr);
	int saved = dup(2);
	dup2(fd, 2);
	GC(rt);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	char buf[1024] = {0};
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	close(fd);
	unlink(path);
	cr_assert_gt(n, 0);
	regex_t re;
	cr_assert_eq(regcomp(&re,
	                     "^gc 1 @[0-9]+\\.[0-9]{3}s [0-9]+%: "
	                     "[0-9.]+\\+[0-9.]+\\+[0-9.]+ ms clock, "
	                     "[0-9.]+\\+0/[0-9.]+/0\\+[0-9.]+ ms cpu, "
	                     "[0-9]+->[0-9]+->0 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 1 P \\(forced\\)\n",
	                     REG_EXTENDED),
	             0);
	cr_assert_eq(regexec(&re, buf, 0, NULL, 0), 0, "got: %s", buf);
	regfree(&re);
	runtimeDestroy(rt);
}

/* When no work buffer can be had, marking still finishes: objects whose
 * push failed are found again by rescanning marked objects. */
Test(collect, mark_survives_work_buffer_exhaustion)
{
	runtime *rt = newRuntime(NULL, 0);
	gcState *st = gcstateOf(rt);
	const uint16_t width = 60000;
	node *w = mallocgc(rt, sizeof(node) + width * sizeof(node *), KIND_NODE, true);
	cr_assert_not_null(w);
	w->nchild = width;
	roots[0] = w;
	/* Each child heads a short chain, so rescans must go several levels. */
	for (uint16_t i = 0; i < width; i++) {
		node *a = newNode(rt, KIND_NODE, 1, i);
		a->child[0] = newNode(rt, KIND_NODE, 1, 100000u + i);
		a->child[0]->child[0] = newNode(rt, KIND_LEAF, 0, 200000u + i);
		w->child[i] = a;
	}
	st->wbuf.chunkLimit = 1; /* 16 buffers: about 4000 gray objects */
	uint32_t rescans0 = st->overflowRescans;
	gcAndCheck(rt);
	cr_assert_gt(st->overflowRescans, rescans0, "the overflow path ran");
	cr_assert_eq(stats(rt).HeapObjects, 1 + 3 * (uint64_t)width);
	for (uint16_t i = 0; i < width; i++) {
		cr_assert_eq(w->child[i]->id, i);
		cr_assert_eq(w->child[i]->child[0]->child[0]->id, 200000u + i);
	}
	/* And garbage is still found. */
	w->nchild = 10;
	gcAndCheck(rt);
	cr_assert_eq(stats(rt).HeapObjects, 1 + 30);
	st->wbuf.chunkLimit = 0;
	runtimeDestroy(rt);
}

Test(collect, pause_bookkeeping)
{
	runtime *rt = newRuntime(NULL, 0);
	for (int i = 0; i < 5; i++)
		gcAndCheck(rt);
	MemStats m = stats(rt);
	cr_assert_eq(m.NumGC, 5);
	cr_assert_eq(m.NumForcedGC, 5);
	uint64_t sum = 0;
	for (int i = 0; i < 5; i++) {
		cr_assert_gt(m.PauseEnd[i], 0);
		if (i > 0)
			cr_assert_geq(m.PauseEnd[i], m.PauseEnd[i - 1]);
		sum += m.PauseNs[i];
	}
	cr_assert_eq(m.PauseNs[5], 0);
	cr_assert_eq(sum, m.PauseTotalNs);
	cr_assert_eq(m.LastGC, m.PauseEnd[4], "LastGC is the last PauseEnd");
	cr_assert(m.GCCPUFraction >= 0 && m.GCCPUFraction <= 1);
	cr_assert_eq(rt->memstats.lastHeapInUse, sysMemStat_load(&rt->gcController.heapInUse));
	runtimeDestroy(rt);
}

/* GOGC off, a 48 MiB limit, 8 MiB live and 400 MiB of garbage: the heap
 * follows the limit (mappedReady stays near it), and never runs away. */
Test(collect, memory_limit_bounds_mapped_memory)
{
	runtime *rt = newRuntime(NULL, 0);
	setGCPercent(rt, -1);
	setMemoryLimit(rt, (int64_t)(48 * MiB));
	for (int i = 0; i < 8; i++)
		roots[i] = mallocgc(rt, MiB, KIND_LEAF, false);
	uint64_t peak = 0;
	for (int i = 0; i < 400 * 16; i++) {
		cr_assert_not_null(mallocgc(rt, 64 << 10, KIND_LEAF, false));
		if (rt->gcController.mappedReady > peak)
			peak = rt->gcController.mappedReady;
	}
	cr_assert_geq(rt->memstats.numgc, 5);
	cr_assert_leq(peak, 48 * MiB + 48 * MiB / 20, "peak mappedReady %lu", (unsigned long)peak);
	readmemstats_check(rt);
	runtimeDestroy(rt);
}

Test(collect, gcpacertrace_prints_goals_and_inputs)
{
	runtime *rt = newRuntime("gcpacertrace=1", 0);
	setMemoryLimit(rt, (int64_t)(100 * MiB));
	char path[] = "/tmp/galepacertraceXXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	fflush(stderr);
	int saved = dup(2);
	dup2(fd, 2);
	GC(rt);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	char buf[1024] = {0};
	ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
	close(fd);
	unlink(path);
	cr_assert_gt(n, 0);
	cr_assert_not_null(strstr(buf, "pacer: gc 1 gcPercentHeapGoal=4194304 "), "got: %s", buf);
	cr_assert_not_null(strstr(buf, " memoryLimitHeapGoal="));
	cr_assert_not_null(strstr(buf, " heapMarked=0 "));
	cr_assert_not_null(strstr(buf, " heapLive=0 "));
	cr_assert_not_null(strstr(buf, " mappedReady="));
	cr_assert_not_null(strstr(buf, " memoryLimit=104857600 "));
	runtimeDestroy(rt);
}

/* Random graphs: after each cycle exactly the nodes the test itself finds
 * reachable from the roots are alive, with their edges intact. */
static uint64_t rngState = 0x9e3779b97f4a7c15ull;
static uint64_t rng(void)
{
	rngState ^= rngState << 13;
	rngState ^= rngState >> 7;
	rngState ^= rngState << 17;
	return rngState;
}

#define GN 20000
static node *all[GN];
static bool reach[GN];
static node *stackBuf[GN];

static uint64_t countReachable(void)
{
	memset(reach, 0, sizeof reach);
	int sp = 0;
	uint64_t n = 0;
	for (int i = 0; i < MAXROOTS; i++)
		if (roots[i] != NULL && !reach[roots[i]->id]) {
			reach[roots[i]->id] = true;
			stackBuf[sp++] = roots[i];
		}
	while (sp > 0) {
		node *x = stackBuf[--sp];
		n++;
		for (int j = 0; j < x->nchild; j++) {
			node *c = x->child[j];
			if (c != NULL && !reach[c->id]) {
				reach[c->id] = true;
				stackBuf[sp++] = c;
			}
		}
	}
	return n;
}

static void randomGraphRounds(const char *debug)
{
	runtime *rt = newRuntime(debug, 0);
	/* Build with every node rooted, so collections during the build (under
	 * gcstress) keep them. */
	for (uint32_t i = 0; i < GN; i++) {
		all[i] = newNode(rt, KIND_NODE, (uint16_t)(1 + rng() % 4), i);
		roots[i] = all[i];
	}
	for (uint32_t i = 0; i < GN; i++)
		for (int j = 0; j < all[i]->nchild; j++)
			all[i]->child[j] = rng() % 3 == 0 ? NULL : all[rng() % GN];
	for (int round = 0; round < 6; round++) {
		/* Keep a few roots, then collect. */
		memset(roots, 0, sizeof roots);
		for (int i = 0; i < 15; i++) {
			node *r = all[rng() % GN];
			if (round == 0 || reach[r->id])
				roots[i] = r;
		}
		uint64_t want = countReachable();
		uint64_t edges[GN] = {0};
		for (int i = 0; i < GN; i++)
			if (reach[i])
				for (int j = 0; j < all[i]->nchild; j++)
					edges[i] = edges[i] * 31 + (uintptr_t)all[i]->child[j];
		gcAndCheck(rt);
		cr_assert_eq(stats(rt).HeapObjects, want, "round %d", round);
		for (int i = 0; i < GN; i++) {
			if (!reach[i])
				continue;
			cr_assert_eq(all[i]->id, (uint32_t)i);
			uint64_t e = 0;
			for (int j = 0; j < all[i]->nchild; j++)
				e = e * 31 + (uintptr_t)all[i]->child[j];
			cr_assert_eq(e, edges[i], "edges of %d intact", i);
		}
		/* Rewire the survivors, and replace dead nodes with fresh ones
		 * hung off survivors (allocation may collect under gcstress, so
		 * each new node is linked before the next allocation). */
		int live[GN], nl = 0;
		for (int i = 0; i < GN; i++)
			if (reach[i])
				live[nl++] = i;
		/* Root every survivor while rewiring: an edge removed below must
		 * not free a node that a later edge points to. */
		for (int k = 0; k < nl; k++)
			roots[MAXROOTS - 1 - k] = all[live[k]];
		for (int i = 0; i < GN && nl > 0; i++) {
			if (reach[i])
				continue;
			node *parent = all[live[rng() % nl]];
			node *x = newNode(rt, KIND_NODE, (uint16_t)(1 + rng() % 4), (uint32_t)i);
			roots[MAXROOTS - 1 - nl] = x;
			for (int j = 0; j < x->nchild; j++)
				x->child[j] = NULL;
			parent->child[rng() % parent->nchild] = x;
			all[i] = x;
			reach[i] = true;
			live[nl++] = i;
		}
		for (int k = 0; k < nl; k++) {
			node *x = all[live[k]];
			if (rng() % 4 == 0)
				x->child[rng() % x->nchild] = rng() % 5 == 0 ? NULL : all[live[rng() % nl]];
		}
		/* Keep the tree roots alive across the rewiring above. */
		for (int i = 0; i < 15; i++)
			if (roots[i] != NULL)
				reach[roots[i]->id] = true;
	}
	runtimeDestroy(rt);
}

Test(collect, random_graphs)
{
	randomGraphRounds(NULL);
}

Test(collect, random_graphs_under_gcstress)
{
	randomGraphRounds("gcstress=97");
}

/* The background scavenger between cycles: after the heap shrinks, the
 * collection wakes it, and allocation slow paths (mcache refills) give it
 * its share of wall time, so memory goes back without an explicit call.
 * Its clock is replaced so that wall time passes as the test says. */
static int64_t scavClockNow;
static int64_t scavClock(runtime *rt)
{
	(void)rt;
	return scavClockNow;
}

Test(collect, background_scavenger_runs_from_allocation_slow_paths)
{
	runtime *rt = newRuntime(NULL, 0);
	rt->scavenge.nanotime = scavClock;
	scavClockNow = 1000000000;
	/* Touched, so that releasing costs what it does in a real program. */
	for (int i = 0; i < 64; i++) {
		cr_assert_not_null(roots[i] = mallocgc(rt, MiB, KIND_LEAF, false));
		memset((char *)roots[i] + 8, 1, MiB - 8);
	}
	gcAndCheck(rt);
	for (int i = 1; i < 64; i++)
		roots[i] = NULL;
	gcAndCheck(rt);
	/* ~63 MiB free against a goal of a few MiB: awake. */
	cr_assert(rt->scavenge.awake);
	int64_t start = scavClockNow;

	/* 10 ms of "work" per round: a few small allocations, several refills. */
	bool releasedBetweenCycles = false;
	for (int round = 0; round < 2000 && rt->scavenge.awake; round++) {
		scavClockNow += 10000000;
		uint32_t gcs = rt->memstats.numgc;
		uint64_t before = sysMemStat_load(&rt->gcController.heapReleased);
		for (int k = 0; k < 64; k++)
			roots[1 + k % 8] = mallocgc(rt, 512, KIND_LEAF, false);
		if (rt->memstats.numgc == gcs && sysMemStat_load(&rt->gcController.heapReleased) > before)
			releasedBetweenCycles = true;
	}
	/* Back to what is in use, all of it released by the slow paths: the
	 * collection only woke the scavenger, whose first turn comes a time
	 * slice later. */
	cr_assert(!rt->scavenge.awake, "still awake after 20 s");
	cr_assert_leq(heapRetained(rt), 4 * MiB, "retained %lu bytes", (unsigned long)heapRetained(rt));
	cr_assert_geq(sysMemStat_load(&rt->gcController.heapReleased), 60 * MiB);
	cr_assert(releasedBetweenCycles, "no allocation slow path ran the scavenger");
	/* It kept to its share of the (fake) wall time, give or take one
	 * run's overshoot. */
	double elapsed = (double)(scavClockNow - start);
	cr_assert_leq(rt->scavenge.totalWorked, elapsed * rt->scavenge.fraction + 2 * maxScavWorkTime,
	              "worked %.0f ns in %.0f ns", rt->scavenge.totalWorked, elapsed);
	readmemstats_check(rt);
	runtimeDestroy(rt);
}
