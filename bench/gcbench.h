/*
 * gcbench.h — what the collector measurements share (gcbench_*.c):
 * a root array, two object kinds, RSS and clocks. Each program is a plain C
 * program against gc/gc.h; bench/gcbench.sh builds and runs them.
 */
#ifndef GALE_GCBENCH_H
#define GALE_GCBENCH_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gc/gc.h"

#define MiB ((size_t)1 << 20)

enum { KIND_LEAF = 1, KIND_NODE = 2 };

/* A node: header, then one next pointer; leaves hold only bytes. */
typedef struct bnode {
	uint8_t kind;
	uint8_t pad[7];
	struct bnode *next;
} bnode;

static inline void bench_traceNode(runtime *rt, void *obj)
{
	gcMark(rt, ((bnode *)obj)->next);
}

/* The benchmark's root set. */
#define BENCH_ROOTS 4096
static void *bench_roots[BENCH_ROOTS];

static inline void bench_markRoots(runtime *rt, void *ctx)
{
	(void)ctx;
	for (size_t i = 0; i < BENCH_ROOTS; i++)
		if (bench_roots[i] != NULL)
			gcMark(rt, bench_roots[i]);
}

static inline runtime *bench_runtime(int64_t gcPercent, int64_t memoryLimit)
{
	gcConfig cfg;
	gcConfigInit(&cfg);
	cfg.gcPercent = gcPercent;
	cfg.memoryLimit = memoryLimit;
	runtime *rt = runtimeCreate(&cfg);
	if (rt == NULL) {
		fprintf(stderr, "runtimeCreate failed\n");
		exit(1);
	}
	gcRegisterKind(rt, KIND_LEAF, &(gcKind){"leaf", NULL, NULL});
	gcRegisterKind(rt, KIND_NODE, &(gcKind){"node", bench_traceNode, NULL});
	gcAddRoots(rt, bench_markRoots, NULL);
	return rt;
}

static inline void *bench_alloc(runtime *rt, size_t size, uint8_t kind)
{
	void *p = mallocgc(rt, size, kind, true);
	if (p == NULL) {
		fprintf(stderr, "out of memory at %zu bytes\n", size);
		exit(1);
	}
	return p;
}

/* Resident set size of the process, bytes. */
static inline uint64_t bench_rss(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	unsigned long size = 0, resident = 0;
	if (f != NULL) {
		if (fscanf(f, "%lu %lu", &size, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static inline double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* xorshift: deterministic sizes. */
static inline uint64_t bench_rand(void)
{
	static uint64_t x = 88172645463325252ull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

static inline double mb(uint64_t b) { return (double)b / (double)MiB; }

#endif
