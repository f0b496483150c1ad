/*
 * (c) Pause per MiB of live heap: lists of 64-byte nodes (pointer-rich, the
 * worst case for marking) and 64 KiB leaves (noscan), forced collections.
 */
#include "gcbench.h"

static void measure(const char *what, size_t liveMiB, bool pointers)
{
	runtime *rt = bench_runtime(100, INT64_MAX);
	memset(bench_roots, 0, sizeof bench_roots);
	if (pointers) {
		size_t n = liveMiB * MiB / 64;
		for (size_t i = 0; i < n; i++) {
			bnode *x = bench_alloc(rt, 64, KIND_NODE);
			x->next = bench_roots[0];
			bench_roots[0] = x;
		}
	} else {
		for (size_t i = 0; i < liveMiB * 16; i++)
			bench_roots[i] = bench_alloc(rt, 64 << 10, KIND_LEAF);
	}
	MemStats m;
	readMemStats(rt, &m);
	uint64_t before = m.PauseTotalNs;
	uint32_t gc0 = m.NumGC;
	const int rounds = 5;
	for (int i = 0; i < rounds; i++)
		GC(rt);
	readMemStats(rt, &m);
	double pause = (double)(m.PauseTotalNs - before) / (m.NumGC - gc0);
	printf("pause: %-8s %4zu MiB live: %8.2f ms per cycle, %6.3f ms per MiB\n", what, liveMiB,
	       pause / 1e6, pause / 1e6 / (double)liveMiB);
	memset(bench_roots, 0, sizeof bench_roots);
	runtimeDestroy(rt);
}

int main(void)
{
	size_t sizes[] = {16, 64, 256};
	for (int i = 0; i < 3; i++)
		measure("nodes", sizes[i], true);
	for (int i = 0; i < 3; i++)
		measure("leaves", sizes[i], false);
	return 0;
}
