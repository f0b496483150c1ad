/*
 * allocbench.c — allocation throughput of mallocgc beside glibc malloc, in
 * the same run: small (16, 64, 256 B) and large (64 KiB) objects.
 *
 * Each run keeps a window of the most recent objects alive (a ring the
 * collector sees as a root; for malloc the object falling out of the ring is
 * freed), so mallocgc's figure includes the collections that reclaim the
 * rest, and malloc's includes its free.
 *
 *   build/allocbench [iterations-scale]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gc/gc.h"
#include "mem/mstats.h"

enum { KIND_BLOB = 1, RING = 1024 };

static void *ring[RING];

static void markRing(runtime *rt, void *ctx)
{
	(void)ctx;
	for (int i = 0; i < RING; i++)
		gcMark(rt, ring[i]);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Touch the first and last byte like a real user of the memory would. */
static inline void touch(void *p, size_t size)
{
	((volatile uint8_t *)p)[size - 1] = 1;
}

static double benchGale(runtime *rt, size_t size, long n)
{
	memset(ring, 0, sizeof ring);
	double t0 = now();
	for (long i = 0; i < n; i++) {
		void *p = mallocgc(rt, size, KIND_BLOB, true);
		if (p == NULL) {
			fprintf(stderr, "allocbench: mallocgc(%zu) failed\n", size);
			exit(1);
		}
		touch(p, size);
		ring[i % RING] = p;
	}
	return (now() - t0) / (double)n;
}

static double benchMalloc(size_t size, long n)
{
	memset(ring, 0, sizeof ring);
	double t0 = now();
	for (long i = 0; i < n; i++) {
		/* calloc: mallocgc is asked for zeroed memory too. */
		void *p = calloc(1, size);
		if (p == NULL) {
			fprintf(stderr, "allocbench: calloc(%zu) failed\n", size);
			exit(1);
		}
		touch(p, size);
		free(ring[i % RING]);
		ring[i % RING] = p;
	}
	for (int i = 0; i < RING; i++)
		free(ring[i]);
	memset(ring, 0, sizeof ring);
	return (now() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	double scale = argc > 1 ? atof(argv[1]) : 1.0;
	if (scale <= 0)
		scale = 1.0;
	gcConfig cfg;
	gcConfigInit(&cfg);
	runtime *rt = runtimeCreate(&cfg);
	if (rt == NULL) {
		fprintf(stderr, "allocbench: cannot create a runtime\n");
		return 1;
	}
	gcKind blob = {"blob", NULL, NULL};
	gcRegisterKind(rt, KIND_BLOB, &blob);
	gcAddRoots(rt, markRing, NULL);

	static const struct {
		size_t size;
		long n;
	} cases[] = {{16, 4000000}, {64, 4000000}, {256, 2000000}, {64 << 10, 100000}};
	printf("%-10s %14s %14s %8s\n", "size", "mallocgc ns/op", "malloc ns/op", "ratio");
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		long n = (long)((double)cases[i].n * scale);
		if (n < RING)
			n = RING;
		/* A short warm-up so neither side pays for first mappings. */
		benchGale(rt, cases[i].size, n / 10 + 1);
		benchMalloc(cases[i].size, n / 10 + 1);
		double g = benchGale(rt, cases[i].size, n);
		double m = benchMalloc(cases[i].size, n);
		printf("%-10zu %14.1f %14.1f %8.2f\n", cases[i].size, g, m, g / m);
	}
	MemStats ms;
	readMemStats(rt, &ms);
	printf("collections: %u, heap in use %.1f MiB, Sys %.1f MiB\n", ms.NumGC,
	       (double)ms.HeapInuse / (1 << 20), (double)ms.Sys / (1 << 20));
	runtimeDestroy(rt);
	return 0;
}
